//! What changed among the subscriptions since a reader last looked, so a worker or router of
//! 100,000 subscriptions reads the few rows a creation or deletion touched instead of all of
//! them at every notice.
//!
//! A row's `xmin` names the transaction that wrote its current version. A [`ChangeMark`] is
//! the oldest transaction still running when it was taken: every transaction older than it had
//! ended, so its writes were visible to any read after the mark. A reader that takes a mark
//! before each read and asks next time for the rows written by transactions not older than the
//! previous mark misses nothing: a write is either older than that mark (and was seen by the
//! read that followed it, or one before) or is asked for now. Rows rewritten without a change a
//! reader cares about (a subscription's `failing_since`) come back too; that costs a re-read,
//! never a miss. A read that would return more than its limit says so, and the reader reads
//! everything instead. Comparing transaction ids through `age` keeps the comparison right
//! across the 32-bit counter's wraparound; a row older than 2^31 transactions can look new,
//! which again costs only a re-read.
use crate::{
    Result, Store,
    row::Columns,
    subscriptions::{ActiveSubscriptions, COLUMNS},
    tiers::{RoutedRow, read_routed},
};
use time::OffsetDateTime;

/// Where a read of the subscriptions' changes starts from: taken before a read, it is passed
/// to the next one.
#[derive(Debug, Clone)]
pub struct ChangeMark {
    /// The oldest transaction running when the mark was taken (a 32-bit xid, as text).
    xmin: String,
    /// The record's clock then: a previous secret whose grace ended after it is read again.
    at: OffsetDateTime,
}

/// The subscriptions a worker must look at again.
#[derive(Debug, Default)]
pub struct ChangedSubscriptions {
    /// Active now, with their configuration.
    pub active: ActiveSubscriptions,
    /// No longer active (disabled or deleted): a worker stops serving them.
    pub inactive: Vec<hookfleet_core::SubscriptionId>,
}

/// The subscriptions a router must look at again.
#[derive(Debug, Default)]
pub struct ChangedRoutes {
    /// On the shared tier (shared or hot) and not deleted, as a full read would give them.
    pub routed: Vec<RoutedRow>,
    /// Deleted, or not on the shared tier: the router makes them no copy.
    pub unrouted: Vec<hookfleet_core::SubscriptionId>,
}

impl Store {
    /// A mark to take before reading, for the next read of changes to start from.
    pub async fn change_mark(&self) -> Result<ChangeMark> {
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT xid(pg_snapshot_xmin(pg_current_snapshot()))::text AS xmin, now() AS at",
                &[],
            )
            .await?;
        Ok(ChangeMark {
            xmin: row.try_get("xmin")?,
            at: row.try_get("at")?,
        })
    }

    /// The subscriptions written since `since`, and those whose previous secret's grace ended
    /// since then; `None` if there are more than `limit` (read them all instead).
    pub async fn changed_subscriptions(
        &self,
        since: &ChangeMark,
        limit: i64,
    ) -> Result<Option<ChangedSubscriptions>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {COLUMNS}, state = 'active' AS active FROM subscriptions
                     WHERE age(xmin) BETWEEN 0 AND age($1::text::xid)
                        OR (previous_secrets_expire_at > $2 AND previous_secrets_expire_at <= now())
                     LIMIT $3"
                ),
                &[&since.xmin, &since.at, &(limit + 1)],
            )
            .await?;
        if rows.len() as i64 > limit {
            return Ok(None);
        }
        let mut changed = ChangedSubscriptions::default();
        let mut active = Vec::new();
        for r in rows {
            if r.try_get("active")? {
                active.push(r);
            } else if let Ok(id) = r.id("id") {
                // An id this version cannot read was never served: nothing to stop.
                changed.inactive.push(id);
            }
        }
        changed.active = self.read_active(&active);
        Ok(Some(changed))
    }

    /// The subscriptions written since `since`, as the router's index needs them; `None` if
    /// there are more than `limit` (read them all instead).
    pub async fn changed_routes(
        &self,
        since: &ChangeMark,
        limit: i64,
    ) -> Result<Option<ChangedRoutes>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, event_types, organizations, partitions, tier, shard,
                        state <> 'deleted' AND tier <> 'own' AS routed
                 FROM subscriptions
                 WHERE age(xmin) BETWEEN 0 AND age($1::text::xid)
                 LIMIT $2",
                &[&since.xmin, &(limit + 1)],
            )
            .await?;
        if rows.len() as i64 > limit {
            return Ok(None);
        }
        let mut changed = ChangedRoutes::default();
        for r in &rows {
            if r.try_get("routed")? {
                changed.routed.push(read_routed(r)?);
            } else if let Ok(id) = r.id("id") {
                changed.unrouted.push(id);
            }
        }
        Ok(Some(changed))
    }
}
