//! hookfleet-delivery is the worker fleet: identical processes consuming, as competing
//! consumers, every subscription's own queue and every shard queue of the shared tier (where
//! the long tail of subscriptions share a few queues, each copy naming its subscription). Each message becomes one HTTP POST, rendered for the
//! subscription's profile (`hookfleet_core::render`); the outcome is
//! recorded in a batch that commits before the message is acked (delivered) or parked in
//! `hookfleet.dead` (failed). Workers follow subscriptions being added and removed while they
//! run: a notice on `hookfleet.control` triggers a reconcile from PostgreSQL, and a periodic
//! reconcile is the safety net, so a restart is never needed.
//!
//! The files, each importing only the ones after it: `worker` (the role's loop) → `moves` (hot
//! subscriptions back to their shard) → `reconcile` (which queues are consumed) → `consumer`
//! (one own queue, in its mode) and `shards` (one shard queue) → `handle` (one message) →
//! `shared` (what every consumer shares) → `directory` (each subscription's live config,
//! slots and pace) → `batcher` (outcomes committed, then messages settled) → `decide` (what an
//! answer means, pure) → `config` (the settings and each subscription's configuration), with
//! `attempt` (one HTTP POST) and `guard` (private addresses) beside them.
#![forbid(unsafe_code)]

mod attempt;
mod batcher;
mod config;
mod consumer;
mod decide;
mod directory;
mod guard;
mod handle;
#[cfg(test)]
mod hostile_tests;
mod moves;
mod reconcile;
mod shards;
mod shared;
mod worker;

pub use attempt::{AttemptResult, deliver_one};
pub use config::Settings;
pub use worker::run;

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
        "Own subscription queues (own tier, and hot ones) this worker is consuming."
    );
    metrics::describe_gauge!(
        "hookfleet_shards_consumed",
        "Shard queues of the shared tier this worker is consuming."
    );
    metrics::describe_counter!(
        "hookfleet_tier_moves_total",
        "Shared-tier subscriptions moved to a queue of their own (to=hot) or back to their shard (to=shared)."
    );
    metrics::describe_counter!(
        "hookfleet_copies_dropped_total",
        "Copies on a shard whose subscription was deleted: acked without delivery, by reason."
    );
    metrics::describe_gauge!(
        "hookfleet_subscriptions_unreadable",
        "Active subscriptions whose row the worker could not read at its last reconcile (a \
        secret sealed with a key HOOKFLEET_SECRET_KEYS no longer holds): not delivered until \
        they can be; the rest are."
    );
    metrics::describe_counter!(
        "hookfleet_reconciles_total",
        "Reconciles of a delivery worker's consumers with the subscriptions in the record that \
        completed (at a control notice or the periodic pass); a change committed before one \
        began is in force once it is counted."
    );
}
