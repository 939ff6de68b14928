//! The tiers of subscriptions: what the router needs to make the shared tier's copies itself,
//! and the moves of a shared-tier subscription to a queue of its own (hot) and back.
use crate::{Result, Store, row::Columns, subscriptions::read_tier};
use hookfleet_core::{SubscriptionId, routing::Filter, subscription::Tier};

/// A subscription the router copies events to itself: its filters and where it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutedRow {
    pub id: SubscriptionId,
    pub filter: Filter,
    /// `Shared` or `Hot`.
    pub tier: Tier,
    pub shard: Option<u16>,
}

/// A row read with the columns of [`RoutedRow`].
pub(crate) fn read_routed(r: &tokio_postgres::Row) -> Result<RoutedRow> {
    Ok(RoutedRow {
        id: r.id("id")?,
        filter: Filter {
            event_types: r.col("event_types")?,
            partitions: r.col("partitions")?,
            organizations: r.col("organizations")?,
        },
        tier: read_tier(r.col("tier")?)?,
        shard: r
            .col::<Option<i16>>("shard")?
            .and_then(|n| u16::try_from(n).ok()),
    })
}

impl Store {
    /// Every subscription of the shared tier, hot or not, disabled ones included (their copies
    /// are kept for when they are enabled, as an own queue keeps them).
    pub async fn routed_subscriptions(&self) -> Result<Vec<RoutedRow>> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .routed_subscriptions_page(after.as_ref(), 5_000)
                .await?;
            let done = page.len() < 5_000;
            after = page.last().map(|r| r.id.clone());
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }

    /// One page of [`Self::routed_subscriptions`], by id after `after`, at most `limit`.
    pub async fn routed_subscriptions_page(
        &self,
        after: Option<&SubscriptionId>,
        limit: i64,
    ) -> Result<Vec<RoutedRow>> {
        let after = after.map(SubscriptionId::as_str);
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, event_types, organizations, partitions, tier, shard
                 FROM subscriptions
                 WHERE state <> 'deleted' AND tier <> 'own' AND ($1::text IS NULL OR id > $1)
                 ORDER BY id LIMIT $2",
                &[&after, &limit],
            )
            .await?;
        rows.iter().map(read_routed).collect()
    }

    /// The version of the shared tier's routing: it changes with every change a router must
    /// see, in the changing transaction.
    pub async fn routing_version(&self) -> Result<i64> {
        let client = self.client().await?;
        // Asked before every ingest batch: prepared once per connection.
        let version = client
            .prepare_cached("SELECT sum(version)::bigint AS version FROM routing_stripes")
            .await?;
        client.query_one(&version, &[]).await?.col("version")
    }

    /// Gives a shared-tier subscription a queue of its own, fed by the router from now on;
    /// false if it was not on its shard (already hot, deleted, or never shared).
    pub async fn make_hot(&self, id: &SubscriptionId, reason: &str) -> Result<bool> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE subscriptions
                 SET tier = 'hot', own_queue = 'consumed', tier_reason = $2, tier_changed_at = now(),
                     updated_at = now()
                 WHERE id = $1 AND tier = 'shared' AND state <> 'deleted'",
                &[&id.as_str(), &reason],
            )
            .await?;
        Ok(n == 1)
    }

    /// Sends a hot subscription back to its shard, if it has been hot for at least `min_hot`;
    /// its queue stays (and is consumed) until it is emptied and removed.
    pub async fn make_shared_again(
        &self,
        id: &SubscriptionId,
        reason: &str,
        min_hot: std::time::Duration,
    ) -> Result<bool> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE subscriptions
                 SET tier = 'shared', tier_reason = $2, tier_changed_at = now(), updated_at = now()
                 WHERE id = $1 AND tier = 'hot' AND state = 'active'
                   AND tier_changed_at < now() - make_interval(secs => $3)",
                &[&id.as_str(), &reason, &min_hot.as_secs_f64()],
            )
            .await?;
        Ok(n == 1)
    }

    /// Stops the consumption of the own queues of subscriptions back on their shard for at
    /// least `grace` (no router still feeds them): they are `closing`, to be removed once
    /// empty. Returns them.
    pub async fn close_leftover_queues(
        &self,
        grace: std::time::Duration,
    ) -> Result<Vec<SubscriptionId>> {
        let rows = self
            .client()
            .await?
            .query(
                "UPDATE subscriptions SET own_queue = 'closing', tier_changed_at = now()
                 WHERE tier = 'shared' AND own_queue = 'consumed' AND state <> 'deleted'
                   AND tier_changed_at < now() - make_interval(secs => $1)
                 RETURNING id",
                &[&grace.as_secs_f64()],
            )
            .await?;
        rows.iter().map(|r| r.id("id")).collect()
    }

    /// Own queues closing for at least `grace` (no worker consumes them any more).
    pub async fn closing_queues(&self, grace: std::time::Duration) -> Result<Vec<SubscriptionId>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id FROM subscriptions
                 WHERE tier = 'shared' AND own_queue = 'closing'
                   AND tier_changed_at < now() - make_interval(secs => $1)",
                &[&grace.as_secs_f64()],
            )
            .await?;
        rows.iter().map(|r| r.id("id")).collect()
    }

    /// What became of a closing queue: removed (`none`), or not empty after all and consumed
    /// again until the next try.
    pub async fn closed_own_queue(&self, id: &SubscriptionId, removed: bool) -> Result<()> {
        self.client()
            .await?
            .execute(
                "UPDATE subscriptions
                 SET own_queue = $2, tier_changed_at = now(), updated_at = now()
                 WHERE id = $1 AND own_queue = 'closing'",
                &[&id.as_str(), &if removed { "none" } else { "consumed" }],
            )
            .await?;
        Ok(())
    }
}
