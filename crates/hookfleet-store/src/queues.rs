//! Deleted subscriptions' queues as the record tracks them: which are due for removal after
//! the grace, which are gone, and every id a namespace ever had (for clean-up).
use crate::{Result, Store, row::Columns};
use hookfleet_core::SubscriptionId;

impl Store {
    /// Deleted subscriptions whose queue may still exist and whose grace has passed: no worker
    /// consumes them any more (each stops at the control notice or its next reconcile).
    pub async fn queues_due_for_deletion(
        &self,
        grace: std::time::Duration,
    ) -> Result<Vec<SubscriptionId>> {
        let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id FROM subscriptions
                 WHERE state = 'deleted' AND queue_deleted_at IS NULL
                   AND deleted_at < now() - make_interval(secs => $1::bigint / 1000.0)
                 ORDER BY deleted_at LIMIT 100",
                &[&grace_ms],
            )
            .await?;
        rows.iter().map(|r| r.id("id")).collect()
    }

    /// Notes that a deleted subscription's queue is gone.
    pub async fn mark_queue_deleted(&self, id: &SubscriptionId) -> Result<()> {
        self.client()
            .await?
            .execute(
                "UPDATE subscriptions SET queue_deleted_at = now() WHERE id = $1",
                &[&id.as_str()],
            )
            .await?;
        Ok(())
    }

    /// Every subscription id ever recorded, deleted ones included (for tearing down queues).
    pub async fn all_subscription_ids(&self) -> Result<Vec<SubscriptionId>> {
        let rows = self
            .client()
            .await?
            .query("SELECT id FROM subscriptions", &[])
            .await?;
        rows.iter().map(|r| r.id("id")).collect()
    }
}
