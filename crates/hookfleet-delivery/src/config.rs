//! The worker's settings, and what a consumer needs to know of its subscription, read from its
//! row and those settings (its ladder: its own, or the fleet's); replaced in place when the
//! subscription changes, or the consumer restarted when the change needs it.
use hookfleet_bus::Lane;
use hookfleet_core::{
    Ladder, Secret, SubscriptionId,
    render::{OnGone, Profile},
    subscription::{Delivery, Ordering, Tier},
};
use hookfleet_store::SubscriptionRow;
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
    pub ladder: Ladder,
    /// A subscription whose deliveries have all been exhausted this long is disabled.
    pub disable_after: Duration,
    /// Deliver to loopback, private and link-local addresses (tests, local demos). Off, such
    /// an attempt fails without a request being sent.
    pub allow_private_targets: bool,
    /// Unacked messages per shard queue of the shared tier.
    pub shard_prefetch: u16,
    /// A shared-tier subscription with more than this many copies waiting in a worker for a
    /// free slot (its in-flight cap or rate is reached) turns hot: it gets a queue of its own,
    /// where its copies wait without holding a shard's consumer.
    pub hot_after_waiting: usize,
    /// A hot subscription whose own queue has been empty and idle this long goes back to its
    /// shard; its emptied queue is removed after as long again.
    pub hot_idle: Duration,
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
            ladder: Ladder::default(),
            disable_after: Duration::from_secs(5 * 86_400),
            allow_private_targets: false,
            shard_prefetch: 1_000,
            hot_after_waiting: 64,
            hot_idle: Duration::from_secs(60),
        }
    }
}

/// How a subscription's messages are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Many at once; a failed message waits on the ladder while later ones go on.
    Unordered,
    /// One at a time in queue order; a failed message is retried in place, holding the rest.
    Fifo,
}

#[derive(Debug, PartialEq)]
pub(crate) struct SubConfig {
    pub id: SubscriptionId,
    pub url: String,
    pub secrets: Vec<Secret>,
    pub profile: Profile,
    /// Pull: rendered copies go on the subscription's outbox queue, not to a URL.
    pub delivery: Delivery,
    /// Waits before attempts 2, 3, … (the subscription's or the fleet's).
    pub ladder: Ladder,
    pub max_in_flight: usize,
    pub rate_limit_per_s: Option<u32>,
    pub mode: Mode,
    /// What a 410 Gone means (the profile's: see `Profile::on_gone`).
    pub on_gone: OnGone,
    /// Why sending to `url` is refused (a literal private IP while those are not allowed).
    pub refused: Option<String>,
    pub tier: Tier,
    /// Where its retries, and copies it hands back, go: its own queue, or its shard (on the
    /// shared tier, hot or not: a shard always exists, a hot queue may be on its way out).
    pub lane: Lane,
    /// Whether it has a queue of its own the workers consume.
    pub own_queue: bool,
}

impl SubConfig {
    pub fn from_row(row: &SubscriptionRow, settings: &Settings) -> Option<Self> {
        let secrets: Vec<Secret> = row
            .secrets
            .iter()
            .filter_map(|s| Secret::parse(s))
            .collect();
        if secrets.is_empty() {
            tracing::error!(subscription = %row.id, "Subscription has no usable secret; not delivering it");
            return None;
        }
        let ladder = row
            .retry_ladder
            .clone()
            .unwrap_or_else(|| settings.ladder.clone());
        Some(Self {
            id: row.id.clone(),
            url: row.url.clone(),
            secrets,
            profile: row.profile,
            delivery: row.delivery,
            ladder,
            max_in_flight: usize::try_from(row.max_in_flight).unwrap_or(1).max(1),
            rate_limit_per_s: row.rate_limit_per_s.and_then(|r| u32::try_from(r).ok()),
            mode: match row.ordering {
                Ordering::Fifo => Mode::Fifo,
                Ordering::Unordered => Mode::Unordered,
            },
            on_gone: row.profile.on_gone(),
            refused: if settings.allow_private_targets || row.delivery == Delivery::Pull {
                None
            } else {
                crate::guard::literal_private(&row.url)
            },
            tier: row.tier,
            lane: match (row.tier, row.shard) {
                (Tier::Own, _) | (_, None) => Lane::Own,
                (_, Some(n)) => Lane::Shard(n),
            },
            own_queue: row.own_queue,
        })
    }

    /// Changes a running consumer cannot take in place (its channel and limits are set up
    /// from them), so the consumer is restarted.
    pub fn needs_restart(&self, other: &Self) -> bool {
        self.max_in_flight != other.max_in_flight
            || self.rate_limit_per_s != other.rate_limit_per_s
            || self.mode != other.mode
    }
}
