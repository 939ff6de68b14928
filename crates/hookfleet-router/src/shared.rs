//! The shared tier, as the router sees it: which subscriptions get a copy made by the router
//! (they have no binding on `hookfleet.events`) and where each copy goes. The index is loaded
//! from the record again whenever the record's routing version moved, which the router checks
//! before each batch: a subscription answered 201 gets every event accepted after that, as a
//! binding made at creation would. Notices and a periodic pass bring it up to date too. Each
//! of these reads only the subscriptions changed since the last (`Store::changed_routes`), so
//! creating a thousand subscriptions a second does not rebuild an index of 100,000 each time;
//! a periodic pass now and then reads everything.
use hookfleet_bus::Lane;
use hookfleet_core::{SubscriptionId, routing::Index, subscription::Tier};
use hookfleet_store::{ChangeMark, Store, StoreError};
use std::collections::HashMap;

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

/// Changed rows taken into the index in place; past that it is built again.
const CHANGES: i64 = 5_000;

pub(crate) struct SharedTier {
    index: Index<Target>,
    /// Each subscription's slot in the index.
    slots: HashMap<SubscriptionId, u32>,
    /// The routing version the index was loaded at (read before loading).
    version: Option<i64>,
    /// Where the next read of changes starts (taken before the last read).
    mark: Option<ChangeMark>,
}

impl SharedTier {
    pub(crate) fn empty() -> Self {
        Self {
            index: Index::default(),
            slots: HashMap::new(),
            version: None,
            mark: None,
        }
    }

    /// Brings the index up to date unless the record's routing version is the one loaded.
    /// An error is the record's being away: the batch waits for it, as its write would.
    pub(crate) async fn refresh(&mut self, store: &Store) -> Result<(), StoreError> {
        let version = store.routing_version().await?;
        if self.version != Some(version) {
            self.update(store, version).await?;
        }
        Ok(())
    }

    /// Brings the index up to date (`everything`: reads the whole shared tier); on failure
    /// keeps the one it has (the version check before the next batch tries again).
    pub(crate) async fn reload(&mut self, store: &Store, everything: bool) {
        if everything {
            self.mark = None;
        }
        let loaded = match store.routing_version().await {
            Ok(version) => self.update(store, version).await,
            Err(e) => Err(e),
        };
        if let Err(e) = loaded {
            tracing::warn!(error = %e, "Failed to load the shared tier's subscriptions; routing with the last ones loaded");
        }
    }

    /// Takes in the rows changed since the last read, or reads them all (the first time, when
    /// too many changed, or when removed entries outnumber the live ones).
    async fn update(&mut self, store: &Store, version: i64) -> Result<(), StoreError> {
        let mark = store.change_mark().await?;
        let changed = match &self.mark {
            Some(since) if self.index.removed() <= self.index.len().max(1_024) => {
                store.changed_routes(since, CHANGES).await?
            }
            _ => None,
        };
        match changed {
            Some(changed) => self.apply(changed),
            None => self.load(store).await?,
        }
        self.mark = Some(mark);
        self.version = Some(version);
        metrics::gauge!("hookfleet_router_shared_subscriptions").set(self.index.len() as f64);
        Ok(())
    }

    fn apply(&mut self, changed: hookfleet_store::ChangedRoutes) {
        for id in &changed.unrouted {
            if let Some(slot) = self.slots.remove(id) {
                self.index.remove(slot);
            }
        }
        for r in changed.routed {
            if let Some(slot) = self.slots.remove(&r.id) {
                self.index.remove(slot);
            }
            self.insert(r);
        }
    }

    fn insert(&mut self, r: hookfleet_store::RoutedRow) {
        let shard = Lane::Shard(r.shard.unwrap_or(0));
        let lane = if r.tier == Tier::Hot {
            Lane::Own
        } else {
            shard
        };
        let id = r.id.clone();
        let target = Target {
            id: r.id,
            lane,
            shard,
        };
        if let Some(slot) = self.index.insert(target, &r.filter) {
            self.slots.insert(id, slot);
        }
    }

    /// Builds the index a page of subscriptions at a time (what loading holds at once is a
    /// page beside the index), then puts it in place of the old one.
    async fn load(&mut self, store: &Store) -> Result<(), StoreError> {
        let mut fresh = Self::empty();
        let mut after = None;
        loop {
            let page = store
                .routed_subscriptions_page(after.as_ref(), PAGE)
                .await?;
            let done = page.len() < PAGE as usize;
            after = page.last().map(|r| r.id.clone());
            for r in page {
                fresh.insert(r);
            }
            if done {
                break;
            }
        }
        self.index = fresh.index;
        self.slots = fresh.slots;
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
