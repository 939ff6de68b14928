//! Retention: every producer prunes the record of what is older than the retention age
//! (`HOOKFLEET_RETENTION`, 30 days), a small batch at a time with a pause between batches, so
//! the record stops growing without bound and a prune of millions of rows never starves the
//! workers' outcome writes. See `hookfleet_store::retention` for what is kept.
use hookfleet_store::{Pruned, Store};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How the record is pruned.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Records older than this go; `None` keeps everything.
    pub keep: Option<Duration>,
    /// Rows of each kind per batch.
    pub batch: i64,
    /// The rest between two batches, which leaves the database to the workers.
    pub pause: Duration,
    /// How often to look for rows past the age once a prune has caught up.
    pub every: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            keep: Some(Duration::from_secs(30 * 86_400)),
            batch: 1000,
            pause: Duration::from_millis(20),
            every: Duration::from_secs(60),
        }
    }
}

pub(crate) async fn run(store: Store, retention: Retention, shutdown: CancellationToken) {
    let Some(keep) = retention.keep else { return };
    loop {
        let done = prune_until_caught_up(&store, keep, &retention, &shutdown).await;
        if done.total() > 0 {
            tracing::info!(
                deliveries = done.deliveries,
                events = done.events,
                poison = done.poison,
                "Pruned records older than the retention age"
            );
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(retention.every) => {}
        }
    }
}

/// Prunes batch after batch until one comes back short; returns what went.
async fn prune_until_caught_up(
    store: &Store,
    keep: Duration,
    retention: &Retention,
    shutdown: &CancellationToken,
) -> Pruned {
    let mut done = Pruned::default();
    let cutoff = time::OffsetDateTime::now_utc() - keep;
    while !shutdown.is_cancelled() {
        let batch = match store.prune(cutoff, retention.batch).await {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!(error = %e, "Failed to prune the record; trying later");
                break;
            }
        };
        for (table, n) in [
            ("deliveries", batch.deliveries),
            ("events", batch.events),
            ("poison_messages", batch.poison),
        ] {
            metrics::counter!("hookfleet_pruned_rows_total", "table" => table).increment(n);
        }
        done.deliveries += batch.deliveries;
        done.events += batch.events;
        done.poison += batch.poison;
        let full = [batch.deliveries, batch.events, batch.poison]
            .iter()
            .any(|&n| n >= retention.batch as u64);
        if !full {
            break;
        }
        tokio::time::sleep(retention.pause).await;
    }
    done
}
