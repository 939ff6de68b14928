//! The shared tier, as the router sees it: which subscriptions get a copy made by the router
//! (they have no binding on `hookfleet.events`) and where each copy goes. The index is loaded
//! from the record again whenever the record's routing version moved, which the router checks
//! before each batch: a subscription answered 201 gets every event accepted after that, as a
//! binding made at creation would. Notices and a periodic pass reload it too.
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

/// Subscriptions read per query while the index is built.
const PAGE: i64 = 5_000;

pub(crate) struct SharedTier {
    index: Index<Target>,
    /// The routing version the index was loaded at (read before loading).
    version: Option<i64>,
}

impl SharedTier {
    pub(crate) fn empty() -> Self {
        Self {
            index: Index::default(),
            version: None,
        }
    }

    /// Reloads unless the record's routing version is the one loaded. An error is the
    /// record's being away: the batch waits for it, as its write would.
    pub(crate) async fn refresh(
        &mut self,
        store: &Store,
    ) -> Result<(), hookfleet_store::StoreError> {
        let version = store.routing_version().await?;
        if self.version != Some(version) {
            self.load(store, version).await?;
        }
        Ok(())
    }

    /// Reads the shared tier from the record; on failure keeps the one it has (the version
    /// check before the next batch tries again).
    pub(crate) async fn reload(&mut self, store: &Store) {
        let loaded = match store.routing_version().await {
            Ok(version) => self.load(store, version).await,
            Err(e) => Err(e),
        };
        if let Err(e) = loaded {
            tracing::warn!(error = %e, "Failed to load the shared tier's subscriptions; routing with the last ones loaded");
        }
    }

    /// Builds the index a page of subscriptions at a time (what loading holds at once is a
    /// page beside the index), then puts it in place of the old one.
    async fn load(
        &mut self,
        store: &Store,
        version: i64,
    ) -> Result<(), hookfleet_store::StoreError> {
        let mut index = Index::default();
        let mut after = None;
        loop {
            let page = store
                .routed_subscriptions_page(after.as_ref(), PAGE)
                .await?;
            let done = page.len() < PAGE as usize;
            after = page.last().map(|r| r.id.clone());
            for r in page {
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
                index.insert(target, &r.filter);
            }
            if done {
                break;
            }
        }
        self.index = index;
        self.version = Some(version);
        metrics::gauge!("hookfleet_router_shared_subscriptions").set(self.index.len() as f64);
        Ok(())
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
