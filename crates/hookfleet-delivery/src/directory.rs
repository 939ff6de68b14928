//! Every active subscription a worker delivers, as all its consumers share it: the live
//! configuration, the in-flight slots and pace that hold whichever queue a copy comes from (its
//! own queue, or a shard of the shared tier), and how many copies wait in this worker for them.
//! Brought in line with the record at every reconcile; an entry whose limits changed is
//! replaced, so its consumers restart with the new limits.
use crate::config::SubConfig;
use hookfleet_core::SubscriptionId;
use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, RwLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// One subscription as a worker delivers it.
pub(crate) struct Entry {
    config: RwLock<Arc<SubConfig>>,
    /// Requests in flight for it in this worker, at most its `max_in_flight`.
    pub slots: Arc<Semaphore>,
    /// Spaces its requests at its `rate_limit_per_s`.
    pub pacer: Option<tokio::sync::Mutex<Pacer>>,
    /// Copies taken from a shard that wait here for a slot or their turn at the pace.
    pub waiting: AtomicUsize,
    /// Cancelled when it answered 410 Gone or is no longer active: its consumers stop, and
    /// its copies on a shard are kept on its own queue instead of delivered.
    pub stop: CancellationToken,
}

impl Entry {
    pub(crate) fn new(config: SubConfig) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(config.max_in_flight)),
            pacer: config
                .rate_limit_per_s
                .map(|r| tokio::sync::Mutex::new(Pacer::new(r))),
            waiting: AtomicUsize::new(0),
            stop: CancellationToken::new(),
            config: RwLock::new(Arc::new(config)),
        }
    }

    pub(crate) fn config(&self) -> Arc<SubConfig> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn replace_config(&self, config: SubConfig) {
        let mut slot = self.config.write().unwrap_or_else(|p| p.into_inner());
        if **slot != config {
            *slot = Arc::new(config);
        }
    }

    /// Counts one copy waiting here until the guard is dropped.
    pub(crate) fn wait_here(self: &Arc<Self>) -> Waiting {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        Waiting(self.clone())
    }

    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }
}

/// One copy counted as waiting in an [`Entry`].
pub(crate) struct Waiting(Arc<Entry>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The subscriptions of one worker, by id.
#[derive(Default)]
pub(crate) struct Directory {
    entries: RwLock<HashMap<SubscriptionId, Arc<Entry>>>,
}

impl Directory {
    pub(crate) fn get(&self, id: &SubscriptionId) -> Option<Arc<Entry>> {
        self.entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// Adds a subscription the record has and this worker has not loaded yet (it was made
    /// after the last reconcile); an entry already there wins.
    pub(crate) fn add(&self, config: SubConfig) -> Arc<Entry> {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries
            .entry(config.id.clone())
            .or_insert_with(|| Arc::new(Entry::new(config)))
            .clone()
    }

    /// Brings one subscription's entry in line with its configuration: one a consumer can
    /// take in place is replaced in place, one that changes its limits or mode (or whose
    /// subscription was stopped) gets a new entry.
    pub(crate) fn upsert(&self, config: SubConfig) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        match entries.get(&config.id) {
            Some(e) if !config.needs_restart(&e.config()) && !e.stop.is_cancelled() => {
                e.replace_config(config)
            }
            Some(e) => {
                e.stop.cancel();
                entries.insert(config.id.clone(), Arc::new(Entry::new(config)));
            }
            None => {
                entries.insert(config.id.clone(), Arc::new(Entry::new(config)));
            }
        }
    }

    /// Stops and removes the entries of `ids`.
    pub(crate) fn remove(&self, ids: &[SubscriptionId]) {
        if ids.is_empty() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        for id in ids {
            if let Some(e) = entries.remove(id) {
                e.stop.cancel();
            }
        }
    }

    /// Stops and removes every entry not in `wanted`.
    pub(crate) fn retain(&self, wanted: &HashSet<SubscriptionId>) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        entries.retain(|id, e| {
            let keep = wanted.contains(id);
            if !keep {
                e.stop.cancel();
            }
            keep
        });
    }

    /// The entries of the subscriptions with a queue of their own the workers consume.
    pub(crate) fn own_queues(&self) -> Vec<(SubscriptionId, Arc<Entry>)> {
        self.entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(_, e)| e.config().own_queue)
            .map(|(id, e)| (id.clone(), e.clone()))
            .collect()
    }

    /// The highest shard any subscription is on.
    pub(crate) fn highest_shard(&self) -> Option<u16> {
        self.entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter_map(|e| match e.config().lane {
                hookfleet_bus::Lane::Shard(n) => Some(n),
                hookfleet_bus::Lane::Own => None,
            })
            .max()
    }
}

/// Spaces requests at most `rate` per second in this worker.
pub(crate) struct Pacer {
    interval: Duration,
    next: Instant,
}

impl Pacer {
    pub(crate) fn new(rate: u32) -> Self {
        Self {
            interval: Duration::from_secs_f64(1.0 / f64::from(rate)),
            next: Instant::now(),
        }
    }

    pub(crate) async fn wait(&mut self) {
        let now = Instant::now();
        if self.next > now {
            tokio::time::sleep_until(self.next.into()).await;
        }
        self.next = self.next.max(now) + self.interval;
    }
}
