//! Pruning the record: deliveries that are finished (delivered or exhausted) and older than
//! the retention age, with their attempts; events older than it that no delivery refers to any
//! more; old poison notes; and the event lifecycle's closed events (by their last change) and
//! op ids (by their call), so a repeated `op_id` is answered as the first for the retention age. Each call deletes at most one small batch, oldest first, so
//! it holds row locks briefly and never competes long with the workers' outcome writes. Rows
//! another producer is pruning at the same moment are skipped (`SKIP LOCKED`), so several
//! producers prune side by side without waiting on each other.
use crate::{Result, Store};
use time::OffsetDateTime;

/// What one batch removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub deliveries: u64,
    pub events: u64,
    pub poison: u64,
    /// Closed lifecycle events.
    pub lifecycle_events: u64,
    /// Lifecycle op ids (and the first answers they return).
    pub lifecycle_ops: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.deliveries + self.events + self.poison + self.lifecycle_events + self.lifecycle_ops
    }

    /// Rows per table, as `hookfleet_pruned_rows_total{table}` counts them.
    pub fn by_table(&self) -> [(&'static str, u64); 5] {
        [
            ("deliveries", self.deliveries),
            ("events", self.events),
            ("poison_messages", self.poison),
            ("lifecycle_events", self.lifecycle_events),
            ("lifecycle_ops", self.lifecycle_ops),
        ]
    }
}

impl Store {
    /// Deletes up to `batch` rows of each kind created before `cutoff`. A delivery still
    /// pending or failed (a retry waits) is kept whatever its age, and so is its event.
    pub async fn prune(&self, cutoff: OffsetDateTime, batch: i64) -> Result<Pruned> {
        let client = self.client().await?;
        // A delivery's attempts go with it (the record has no foreign key to cascade).
        let deliveries: i64 = client
            .query_one(
                "WITH doomed AS (
                     SELECT id FROM deliveries
                     WHERE created_at < $1 AND status IN ('delivered', 'exhausted')
                     ORDER BY created_at, id
                     LIMIT $2
                     FOR UPDATE SKIP LOCKED),
                 gone AS (DELETE FROM deliveries d USING doomed WHERE d.id = doomed.id
                          RETURNING d.id),
                 attempts AS (DELETE FROM delivery_attempts a USING gone
                              WHERE a.delivery_id = gone.id)
                 SELECT count(*) FROM gone",
                &[&cutoff, &batch],
            )
            .await?
            .try_get(0)?;
        // An event goes once no delivery of it is left: its log is gone, and a retry or
        // recovery of it could no longer be asked for.
        let events = client
            .execute(
                "WITH doomed AS (
                     SELECT e.id FROM events e
                     WHERE e.received_at < $1 AND e.routed_at IS NOT NULL
                       AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)
                     ORDER BY e.received_at, e.id
                     LIMIT $2
                     FOR UPDATE SKIP LOCKED)
                 DELETE FROM events e USING doomed WHERE e.id = doomed.id",
                &[&cutoff, &batch],
            )
            .await?;
        let poison = client
            .execute(
                "DELETE FROM poison_messages WHERE id IN (
                     SELECT id FROM poison_messages WHERE received_at < $1
                     ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)",
                &[&cutoff, &batch],
            )
            .await?;
        // An open lifecycle event is kept whatever its age: it may still be updated or closed.
        let lifecycle_events = client
            .execute(
                "DELETE FROM lifecycle_events WHERE (channel_id, event_id) IN (
                     SELECT channel_id, event_id FROM lifecycle_events
                     WHERE closed AND updated_at < $1
                     ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
                &[&cutoff, &batch],
            )
            .await?;
        let lifecycle_ops = client
            .execute(
                "DELETE FROM lifecycle_ops WHERE (channel_id, op_id) IN (
                     SELECT channel_id, op_id FROM lifecycle_ops WHERE created_at < $1
                     ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
                &[&cutoff, &batch],
            )
            .await?;
        Ok(Pruned {
            deliveries: u64::try_from(deliveries).unwrap_or(0),
            events,
            poison,
            lifecycle_events,
            lifecycle_ops,
        })
    }
}
