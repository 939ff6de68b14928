//! Which queues this worker consumes: brought in line with the active subscriptions in
//! PostgreSQL at every control notice and periodically. The [`Directory`] of subscriptions is
//! updated first; then every subscription with a queue of its own has a consumer (one whose
//! subscription changed in a way it can take in place gets the new configuration; one that
//! cannot, because its limits or mode changed, is restarted; one whose subscription went is
//! stopped), and every shard queue of the shared tier has one.
//!
//! The prefetch budget goes to the subscriptions that have work: one that took a message in
//! the last [`BUSY_WINDOW`] gets the budget shared among the busy ones, the others the budget
//! shared among all (a hot 1 % of 10,000 subscriptions then prefetches 81 each, not 2). Idle
//! queues hold nothing, so what is prefetched stays within twice the budget (plus a floor of 2
//! per subscription).
use crate::{
    config::SubConfig,
    consumer::{consume, prefetch_share, prefetch_stale},
    directory::Entry,
    shards::consume_shard,
    shared::Shared,
};
use hookfleet_core::SubscriptionId;
use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub(crate) struct Running {
    entry: Arc<Entry>,
    /// The prefetch it was started with (its share of the budget then).
    prefetch: u16,
    /// Set by the consumer when it takes a message; read and cleared here.
    took: Arc<AtomicBool>,
    /// It counts as busy until then (it took a message less than [`BUSY_WINDOW`] before).
    busy_until: Option<Instant>,
    /// When it last took a message (or started).
    last_took: Instant,
    pub stop: CancellationToken,
    pub task: JoinHandle<()>,
}

/// The consumers of one worker: of own queues, by subscription id, and of each shard.
#[derive(Default)]
pub(crate) struct Consumers {
    own: HashMap<SubscriptionId, Running>,
    shards: Vec<(CancellationToken, JoinHandle<()>)>,
    loaded: Loaded,
}

impl Consumers {
    /// Own queues consumed.
    pub(crate) fn len(&self) -> usize {
        self.own.len()
    }

    /// Stops every consumer and waits for each to settle what it took.
    pub(crate) async fn stop_all(&mut self) {
        for r in self.own.values() {
            r.stop.cancel();
        }
        for (stop, _) in &self.shards {
            stop.cancel();
        }
        for (_, r) in self.own.drain() {
            let _ = r.task.await;
        }
        for (_, task) in self.shards.drain(..) {
            let _ = task.await;
        }
    }

    /// Hot subscriptions whose own queue this worker consumes and that took nothing for
    /// `idle` and have nothing waiting here.
    pub(crate) fn idle_hot(&self, idle: Duration) -> Vec<SubscriptionId> {
        let now = Instant::now();
        self.own
            .iter()
            .filter(|(_, r)| {
                r.entry.config().tier == hookfleet_core::subscription::Tier::Hot
                    && !r.took.load(Ordering::Relaxed)
                    && now.duration_since(r.last_took) >= idle
                    && r.entry.waiting() == 0
            })
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// How long after its last message a subscription still counts as busy: longer than the
/// periodic reconcile, so a steady stream never looks idle between two of them.
pub(crate) const BUSY_WINDOW: Duration = Duration::from_secs(15);

/// Marks who took a message since the last look, and counts the busy.
fn count_busy(running: &mut HashMap<SubscriptionId, Running>, now: Instant) -> usize {
    let mut busy = 0;
    for r in running.values_mut() {
        if r.took.swap(false, Ordering::Relaxed) {
            r.busy_until = Some(now + BUSY_WINDOW);
            r.last_took = now;
        }
        if r.busy_until.is_some_and(|t| now < t) {
            busy += 1;
        }
    }
    busy
}

/// Each consumer's prefetch target this round: the busy share or the even share.
struct Shares {
    now: Instant,
    even: u16,
    busy: u16,
}

impl Shares {
    fn of(&self, busy_until: Option<Instant>) -> u16 {
        if busy_until.is_some_and(|t| self.now < t) {
            self.busy
        } else {
            self.even
        }
    }
}

/// What a stopped consumer leaves: whether it was busy, and its task, which its successor
/// waits for, so the subscription's in-flight cap and rate hold across the hand-over.
type Stopped = HashMap<SubscriptionId, (Option<Instant>, JoinHandle<()>)>;

/// Active subscriptions read per query: what a reconcile holds at once besides the directory.
const PAGE: i64 = 2_000;

/// Changed rows a pass takes in place; past that it reads everything, a page at a time.
const CHANGES: i64 = 2_000;

/// Every this many periodic passes one reads everything (the others read what changed): what
/// a change the record's marks cannot show (none is known) would wait for.
const FULL_EVERY: u32 = 12;

/// Where the last pass left off: the mark to read changes from, and how many passes since the
/// last full one.
#[derive(Default)]
pub(crate) struct Loaded {
    mark: Option<hookfleet_store::ChangeMark>,
    passes: u32,
    /// The rows that could not be read, as stored: the gauge counts them.
    unreadable: HashSet<String>,
}

/// Brings the directory in line with the record: the rows changed since the last pass, or all
/// of them (at the first pass, every [`FULL_EVERY`] periodic ones, or when too much changed).
/// False if the record could not be read (the directory is kept as it was).
async fn load_directory(shared: &Shared, loaded: &mut Loaded, periodic: bool) -> bool {
    if periodic {
        loaded.passes += 1;
    }
    let mark = match shared.store.change_mark().await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "Failed to load subscriptions; keeping the current set");
            return false;
        }
    };
    let since = loaded.mark.take().filter(|_| loaded.passes < FULL_EVERY);
    let done = match since {
        Some(since) => match shared.store.changed_subscriptions(&since, CHANGES).await {
            Ok(Some(changed)) => {
                apply_changes(shared, changed, &mut loaded.unreadable);
                true
            }
            Ok(None) => load_everything(shared, &mut loaded.unreadable).await,
            Err(e) => {
                tracing::warn!(error = %e, "Failed to load subscriptions; keeping the current set");
                loaded.mark = Some(since);
                return false;
            }
        },
        None => {
            loaded.passes = 0;
            load_everything(shared, &mut loaded.unreadable).await
        }
    };
    if done {
        loaded.mark = Some(mark);
    }
    done
}

/// Takes the changed rows into the directory: active ones in, the others out.
fn apply_changes(
    shared: &Shared,
    changed: hookfleet_store::ChangedSubscriptions,
    unreadable: &mut HashSet<String>,
) {
    let mut gone = changed.inactive;
    for row in &changed.active.readable {
        unreadable.remove(row.id.as_str());
        match SubConfig::from_row(row, &shared.settings) {
            Some(c) => shared.directory.upsert(c),
            None => gone.push(row.id.clone()),
        }
    }
    for id in &gone {
        unreadable.remove(id.as_str());
    }
    for (id, _) in &changed.active.unreadable {
        unreadable.insert(id.clone());
        gone.extend(id.parse::<SubscriptionId>().ok());
    }
    note_unreadable(&changed.active.unreadable, unreadable.len());
    shared.directory.remove(&gone);
}

/// Reads every active subscription a page at a time into the directory, then drops what is
/// no longer active. False if the record could not be read (the directory is kept as it was,
/// apart from the pages already read).
async fn load_everything(shared: &Shared, unreadable_ids: &mut HashSet<String>) -> bool {
    let mut wanted = HashSet::new();
    let mut unreadable = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = shared
            .store
            .active_subscriptions_page(after.as_deref(), PAGE)
            .await;
        let (subs, rows, last) = match page {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "Failed to load subscriptions; keeping the current set");
                return false;
            }
        };
        unreadable.extend(subs.unreadable);
        for row in &subs.readable {
            if let Some(c) = SubConfig::from_row(row, &shared.settings) {
                wanted.insert(row.id.clone());
                shared.directory.upsert(c);
            }
        }
        if rows < PAGE as usize || last.is_none() {
            break;
        }
        after = last;
    }
    *unreadable_ids = unreadable.iter().map(|(id, _)| id.clone()).collect();
    note_unreadable(&unreadable, unreadable_ids.len());
    shared.directory.retain(&wanted);
    true
}

/// Brings the consumers in line with the record; `periodic` for the timed passes (a notice's
/// pass reads only what changed).
pub(crate) async fn reconcile(shared: &Arc<Shared>, consumers: &mut Consumers, periodic: bool) {
    if consumers.shards.is_empty() {
        // A fresh worker serves the shards at once: a copy whose subscription is not loaded
        // yet is looked up on its own, so the first full read (seconds at 100,000) delays
        // nothing.
        start_shards(shared, &mut consumers.shards);
    }
    if !load_directory(shared, &mut consumers.loaded, periodic).await {
        return;
    }
    start_shards(shared, &mut consumers.shards);
    let wanted: HashMap<SubscriptionId, Arc<Entry>> =
        shared.directory.own_queues().into_iter().collect();
    let running = &mut consumers.own;
    let now = Instant::now();
    let busy = count_busy(running, now);
    let even = prefetch_share(&shared.settings, wanted.len());
    let shares = Shares {
        now,
        even,
        busy: prefetch_share(&shared.settings, busy).max(even),
    };
    let mut stopped = stop_stale(running, &wanted, &shares);
    for (id, entry) in wanted {
        if running.contains_key(&id) {
            continue;
        }
        let r = start(shared, entry, stopped.remove(&id), &shares);
        running.insert(id, r);
    }
    metrics::gauge!("hookfleet_subscriptions_consumed").set(running.len() as f64);
    metrics::gauge!("hookfleet_shards_consumed").set(consumers.shards.len() as f64);
    // Counted once the consumers match what was read: a change committed before a pass began
    // is in force once that pass is counted (what tests and operators wait on).
    metrics::counter!("hookfleet_reconciles_total").increment(1);
}

/// Says which subscriptions of a read cannot be read: one ERROR line a pass that met any (an
/// operator must act, and a key removed too early makes every row unreadable at once), and
/// the gauge of how many this worker knows of.
fn note_unreadable(unreadable: &[(String, hookfleet_store::StoreError)], known: usize) {
    metrics::gauge!("hookfleet_subscriptions_unreadable").set(known as f64);
    let Some((first, why)) = unreadable.first() else {
        return;
    };
    tracing::error!(
        count = unreadable.len(),
        first = %first,
        error = %why,
        "Subscriptions cannot be read and are not delivered until they can (is a key of \
         HOOKFLEET_SECRET_KEYS missing?); their queues keep what arrives, the others deliver"
    );
}

/// Consumes every shard queue: the fleet's count, and any higher shard a subscription is on
/// (made while the fleet had more). A shard consumer that ended is started again.
fn start_shards(shared: &Arc<Shared>, shards: &mut Vec<(CancellationToken, JoinHandle<()>)>) {
    let count = shared
        .directory
        .highest_shard()
        .map_or(0, |n| usize::from(n) + 1)
        .max(usize::from(shared.topology.shards()));
    for n in 0..count {
        if shards.get(n).is_some_and(|(_, t)| !t.is_finished()) {
            continue;
        }
        let stop = CancellationToken::new();
        let Ok(shard) = u16::try_from(n) else { break };
        let task = tokio::spawn(consume_shard(shared.clone(), shard, stop.clone()));
        if n < shards.len() {
            shards[n] = (stop, task);
        } else {
            shards.push((stop, task));
        }
    }
}

/// Stops the consumers that ended, whose subscription went or changed past what it can take in
/// place (its entry was replaced), or whose prefetch is far from its target.
fn stop_stale(
    running: &mut HashMap<SubscriptionId, Running>,
    wanted: &HashMap<SubscriptionId, Arc<Entry>>,
    shares: &Shares,
) -> Stopped {
    let stale: Vec<SubscriptionId> = running
        .iter()
        .filter(|(id, r)| {
            r.task.is_finished()
                || prefetch_stale(r.prefetch, shares.of(r.busy_until))
                || wanted.get(*id).is_none_or(|w| !Arc::ptr_eq(w, &r.entry))
        })
        .map(|(id, _)| id.clone())
        .collect();
    let mut stopped = HashMap::with_capacity(stale.len());
    for id in stale {
        if let Some(r) = running.remove(&id) {
            r.stop.cancel();
            stopped.insert(id, (r.busy_until, r.task));
        }
    }
    stopped
}

/// Starts consuming a subscription, after its previous consumer (if any) has finished; one
/// restarted while busy keeps its busy share.
fn start(
    shared: &Arc<Shared>,
    entry: Arc<Entry>,
    before: Option<(Option<Instant>, JoinHandle<()>)>,
    shares: &Shares,
) -> Running {
    let (busy_until, before) = match before {
        Some((until, task)) => (until.filter(|t| shares.now < *t), Some(task)),
        None => (None, None),
    };
    let prefetch = shares.of(busy_until);
    // Stopped with its subscription (a 410 Gone, or no longer active), or on its own (a new
    // prefetch share).
    let stop = entry.stop.child_token();
    let took = Arc::new(AtomicBool::new(false));
    let next = consume(
        shared.clone(),
        entry.clone(),
        prefetch,
        took.clone(),
        stop.clone(),
    );
    let task = match before {
        None => tokio::spawn(next),
        Some(before) => {
            let stop = stop.clone();
            tokio::spawn(async move {
                let _ = before.await;
                if !stop.is_cancelled() {
                    next.await;
                }
            })
        }
    };
    Running {
        entry,
        prefetch,
        took,
        busy_until,
        last_took: shares.now,
        stop,
        task,
    }
}
