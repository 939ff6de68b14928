//! hookfleet-delivery is the worker fleet: identical processes consuming every subscription's
//! queue as competing consumers. Each message becomes one HTTP POST, rendered for the
//! subscription's profile (`hookfleet_core::render`); the outcome is
//! recorded in a batch that commits before the message is acked (delivered) or parked in
//! `hookfleet.dead` (failed). Workers follow subscriptions being added and removed while they
//! run: a notice on `hookfleet.control` triggers a reconcile from PostgreSQL, and a periodic
//! reconcile is the safety net, so a restart is never needed.
#![forbid(unsafe_code)]

mod attempt;
mod batcher;
mod config;
mod consumer;
mod decide;
mod guard;
mod handle;
#[cfg(test)]
mod hostile_tests;
mod reconcile;
mod worker;

pub use attempt::{AttemptResult, deliver_one};
pub use worker::run;

/// Tells every delivery worker to reconcile its subscriptions now (they also do periodically).
pub(crate) async fn notify_workers(
    publisher: &hookfleet_bus::Publisher,
    topology: &hookfleet_bus::Topology,
) {
    if let Err(e) = hookfleet_bus::notify_reconcile(publisher, topology).await {
        tracing::warn!(error = %e, "Failed to notify delivery workers; they reconcile periodically anyway");
    }
}

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Give up on one HTTP attempt after this long (a timeout counts as a failure).
    pub timeout: Duration,
    /// Unacked messages per subscription queue, including those whose outcome waits for its
    /// batch to commit. 256 covers a subscription's in-flight cap plus a batch's worth of
    /// commits. FIFO subscriptions always take one.
    pub prefetch: u16,
    /// Prefetched (unacked) messages this worker may hold across all its subscriptions. Each
    /// unordered subscription's prefetch is this shared out (at most `prefetch`, at least 2),
    /// so a worker's buffered messages stay near this bound however many subscriptions it
    /// consumes, rather than growing with subscriptions × prefetch.
    pub prefetch_budget: usize,
    /// HTTP requests in flight in this worker across all subscriptions (each subscription is
    /// also held to its own `max_in_flight`). Sized for a 256 MiB worker.
    pub max_in_flight_total: usize,
    /// Idle keep-alive connections kept per receiving host, and how long one is kept.
    pub idle_per_host: usize,
    pub idle_timeout: Duration,
    /// Outcomes per database transaction; 500 amortises a commit over many deliveries.
    pub batch_size: usize,
    /// How long a partial outcome batch waits for more; adds at most this to ack latency.
    pub batch_linger: Duration,
    /// Safety-net reconcile of subscriptions from PostgreSQL, in case a notice was missed.
    pub reconcile_interval: Duration,
    /// Subscription consumers (one channel each) per broker connection; more subscriptions
    /// than this spread over further connections, as one connection allows 2,047 channels.
    pub consumers_per_connection: usize,
    /// Waits before attempts 2, 3, … for subscriptions without a ladder of their own.
    pub ladder: hookfleet_core::Ladder,
    /// A subscription whose deliveries have all been exhausted this long is disabled.
    pub disable_after: Duration,
    /// Deliver to loopback, private and link-local addresses (tests, local demos). Off, such
    /// an attempt fails without a request being sent.
    pub allow_private_targets: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(15),
            prefetch: 256,
            prefetch_budget: 8_192,
            max_in_flight_total: 1_024,
            // As many as may be in flight: a lower cap closes connections to a busy host after
            // each request (the profile showed a TCP connect and shutdown per delivery).
            idle_per_host: 1_024,
            idle_timeout: Duration::from_secs(30),
            batch_size: 500,
            batch_linger: Duration::from_millis(5),
            reconcile_interval: Duration::from_secs(5),
            consumers_per_connection: 1_000,
            ladder: hookfleet_core::Ladder::default(),
            disable_after: Duration::from_secs(5 * 86_400),
            allow_private_targets: false,
        }
    }
}

/// Shows the counters an alert takes `increase()` of at 0 from a worker's start. A counter
/// that first appears at 3 has no earlier sample, so Prometheus would see no increase: the
/// first deliveries a worker exhausts would never fire HookfleetDeliveriesExhausted
/// (deploy/prometheus/alerts.yml). Registering again on a new session changes nothing.
pub(crate) fn register_alerted_counters() {
    metrics::counter!("hookfleet_deliveries_exhausted_total").increment(0);
    metrics::counter!("hookfleet_messages_parked_total").increment(0);
}

pub fn describe_metrics() {
    metrics::describe_counter!(
        "hookfleet_deliveries_total",
        "Delivery attempts by outcome (delivered, failed)."
    );
    metrics::describe_histogram!(
        "hookfleet_delivery_duration_seconds",
        metrics::Unit::Seconds,
        "Time from sending a delivery's request to its response or failure."
    );
    metrics::describe_histogram!(
        "hookfleet_outcome_batch_size",
        "Outcomes written per database transaction."
    );
    metrics::describe_counter!(
        "hookfleet_messages_parked_total",
        "Messages moved to hookfleet.dead after their last failed attempt."
    );
    metrics::describe_counter!(
        "hookfleet_retries_scheduled_total",
        "Failed deliveries put on a rung of the retry ladder, by rung (1 = first retry)."
    );
    metrics::describe_counter!(
        "hookfleet_deliveries_exhausted_total",
        "Deliveries that failed their last attempt and were given up."
    );
    metrics::describe_counter!(
        "hookfleet_subscriptions_disabled_total",
        "Subscriptions disabled (410 Gone, or every delivery exhausted for the configured span)."
    );
    metrics::describe_gauge!(
        "hookfleet_oldest_waiting_retry_seconds",
        metrics::Unit::Seconds,
        "Age of the last attempt of the oldest delivery waiting on the retry ladder."
    );
    metrics::describe_gauge!(
        "hookfleet_subscriptions_consumed",
        "Subscription queues this worker is consuming."
    );
}
