//! Retention: every producer prunes the record of what is older than the retention age
//! (`HOOKFLEET_RETENTION`, 30 days), a small batch at a time with a rest after each batch
//! three times as long as the batch took, so the record stops growing without bound and a
//! prune of millions of rows never starves the workers' outcome writes. See `hookfleet_store::retention` for what is kept.
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
    /// The shortest rest between two batches; the rest is also at least [`REST_PER_WORK`]
    /// times the batch's own time, which leaves the database (and, on a small machine, the
    /// CPU) mostly to the workers.
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

/// The pruner rests this many times as long as its last batch took: it works at most a
/// quarter of the time, so a first prune of millions of rows slows deliveries little (see
/// BENCHMARKS.md, "Retention") and catches up at a few thousand rows a second.
pub const REST_PER_WORK: u32 = 3;

pub(crate) async fn run(store: Store, retention: Retention, shutdown: CancellationToken) {
    let Some(keep) = retention.keep else { return };
    loop {
        let done = prune_until_caught_up(&store, keep, &retention, &shutdown).await;
        if done.total() > 0 {
            tracing::info!(
                deliveries = done.deliveries,
                events = done.events,
                poison = done.poison,
                lifecycle_events = done.lifecycle_events,
                lifecycle_ops = done.lifecycle_ops,
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
        let started = std::time::Instant::now();
        let batch = match store.prune(cutoff, retention.batch).await {
            Ok(b) => b,
            Err(e) => {
                tracing::debug!(error = %e, "Failed to prune the record; trying later");
                break;
            }
        };
        for (table, n) in batch.by_table() {
            metrics::counter!("hookfleet_pruned_rows_total", "table" => table).increment(n);
        }
        done.deliveries += batch.deliveries;
        done.events += batch.events;
        done.poison += batch.poison;
        done.lifecycle_events += batch.lifecycle_events;
        done.lifecycle_ops += batch.lifecycle_ops;
        let full = batch
            .by_table()
            .iter()
            .any(|&(_, n)| n >= retention.batch as u64);
        if !full {
            break;
        }
        let rest = retention.pause.max(started.elapsed() * REST_PER_WORK);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(rest) => {}
        }
    }
    done
}
