//! The shared tier, as the router sees it: which subscriptions get a copy made by the router
//! (they have no binding on `hookfleet.events`) and where each copy goes. The index is loaded
//! from the record at start, again at every control notice (a subscription made, changed,
//! deleted, turned hot or back) and periodically, in case a notice was lost.
use hookfleet_bus::Lane;
use hookfleet_core::{SubscriptionId, routing::Index, subscription::Tier};
use hookfleet_store::Store;

/// Where one shared-tier subscription's copies go: its lane now, and its shard (where a copy
/// goes if its hot queue is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub id: SubscriptionId,
    pub lane: Lane,
    pub shard: Lane,
}

pub(crate) struct SharedTier {
    index: Index<Target>,
}

impl SharedTier {
    pub(crate) fn empty() -> Self {
        Self {
            index: Index::default(),
        }
    }

    /// Reads the shared tier from the record; on failure keeps the one it has (a subscription
    /// made meanwhile then gets its copies from the next successful load on).
    pub(crate) async fn reload(&mut self, store: &Store) {
        match store.routed_subscriptions().await {
            Ok(rows) => {
                let entries = rows.into_iter().map(|r| {
                    let shard = Lane::Shard(r.shard.unwrap_or(0));
                    let lane = if r.tier == Tier::Hot {
                        Lane::Own
                    } else {
                        shard
                    };
                    let target = Target {
                        id: r.id,
                        lane,
                        shard,
                    };
                    (target, r.filter)
                });
                self.index = Index::new(entries);
                metrics::gauge!("hookfleet_router_shared_subscriptions")
                    .set(self.index.len() as f64);
            }
            Err(e) => {
                tracing::warn!(error = %e, "Failed to load the shared tier's subscriptions; routing with the last ones loaded");
            }
        }
    }

    /// The shared-tier subscriptions a copy goes to.
    pub(crate) fn targets(
        &self,
        copy: &hookfleet_core::EventCopy,
        event_type: &str,
    ) -> Vec<&Target> {
        if self.index.is_empty() {
            return Vec::new();
        }
        self.index.matches(
            copy.partition.as_deref(),
            copy.organization.as_deref(),
            event_type,
        )
    }
}
