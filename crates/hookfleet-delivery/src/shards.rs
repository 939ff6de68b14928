//! Consuming one shard queue of the shared tier, where the copies of many subscriptions wait,
//! each naming its subscription in a header. Every copy is dispatched on its own task, so the
//! consumer never waits for any one subscription: a copy whose subscription has no free slot
//! (its `max_in_flight`, its rate) waits in this worker, counted; once more than
//! `hot_after_waiting` of one subscription wait, the subscription turns hot and the rest of its
//! copies move to a queue of its own (published with a confirm, then acked), where they wait
//! without holding anyone's shard. Copies are acked one by one as their outcomes commit, so a
//! slow delivery holds back no ack but its own.
use crate::{
    batcher::{Completion, Pending, Settle, Verdict},
    config::SubConfig,
    directory::Entry,
    handle::{Job, Slots},
    shared::Shared,
};
use anyhow::Context;
use hookfleet_bus::{BusError, Lane, Message};
use hookfleet_core::{SubscriptionId, subscription::Tier};
use hookfleet_store::{PoisonRow, SubscriptionState};
use std::{sync::Arc, time::Duration};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Deleted subscriptions remembered, so a backlog of their copies costs one lookup, not one
/// each (ids are never reused), and hot ones whose queue this worker declared; each set is
/// forgotten all at once past this many.
const GONE_REMEMBERED: usize = 10_000;

/// Consumes shard `n` until stopped, then waits for every copy it took to be settled.
pub(crate) async fn consume_shard(shared: Arc<Shared>, n: u16, stop: CancellationToken) {
    let queue: Arc<str> = shared.topology.shard_queue(n).into();
    let mut consumer = match shared
        .session
        .consume(&queue, shared.settings.shard_prefetch)
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(%queue, error = %e, "Failed to consume a shard queue; retrying at the next reconcile");
            return;
        }
    };
    let acker = consumer.acker();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Completion>();
    let mut in_hand = 0usize;
    let mut consuming = true;
    loop {
        tokio::select! {
            _ = stop.cancelled(), if consuming => consuming = false,
            next = consumer.next(), if consuming => match next {
                Some(Ok(message)) => {
                    in_hand += 1;
                    let copy = Copy { shared: shared.clone(), queue: queue.clone(), done: done_tx.clone(), stop: stop.clone() };
                    tokio::spawn(copy.dispatch(message));
                }
                Some(Err(e)) => {
                    tracing::warn!(%queue, error = %e, "Shard consumer failed");
                    consuming = false;
                }
                None => consuming = false,
            },
            Some(c) = done_rx.recv() => {
                in_hand = in_hand.saturating_sub(1);
                // A failed ack or requeue means the channel went: the broker redelivers.
                let _ = match c.verdict {
                    Verdict::Ack => acker.ack(c.tag).await,
                    Verdict::Requeue | Verdict::Hold => acker.requeue(c.tag).await,
                };
            }
        }
        if !consuming && in_hand == 0 {
            break;
        }
    }
    acker.close("shard stopped").await;
}

/// What one copy taken from a shard is handled with.
struct Copy {
    shared: Arc<Shared>,
    /// The shard's name, shared by every copy taken from it.
    queue: Arc<str>,
    done: mpsc::UnboundedSender<Completion>,
    stop: CancellationToken,
}

/// What the record says of a subscription this worker has no live entry for.
enum Found {
    Active(Arc<Entry>),
    /// Deleted (or never made): its copies need nothing.
    Gone,
    /// Disabled, stopped after a 410 Gone, or unreadable: its copies wait on its own queue.
    Held(&'static str),
    /// Shutting down before the record answered.
    Stopping,
}

impl Copy {
    fn complete(&self, tag: u64, verdict: Verdict) {
        let _ = self.done.send(Completion { tag, verdict });
    }

    async fn dispatch(self, message: Message) {
        let id = message
            .headers
            .subscription
            .as_deref()
            .and_then(SubscriptionId::parse);
        let Some(id) = id else {
            return self
                .poison(message, "no subscription named (x-hookfleet-subscription)")
                .await;
        };
        let entry = match self.shared.directory.get(&id) {
            Some(e) if !e.stop.is_cancelled() => e,
            _ => match self.find(&id).await {
                Found::Active(e) => e,
                Found::Gone => {
                    metrics::counter!("hookfleet_copies_dropped_total", "reason" => "subscription_deleted")
                        .increment(1);
                    return self.complete(message.tag, Verdict::Ack);
                }
                Found::Held(reason) => {
                    return self
                        .move_to_own_queue(&id, message, Some((reason, true)))
                        .await;
                }
                Found::Stopping => return self.complete(message.tag, Verdict::Requeue),
            },
        };
        let config = entry.config();
        if config.tier == Tier::Own {
            // Its copies belong on its own queue (a replay made before it was placed there).
            return self.move_to_own_queue(&id, message, None).await;
        }
        if entry.waiting() >= self.shared.settings.hot_after_waiting {
            // Turned hot (again) unless this worker's record already says it is: once it went
            // back to its shard its queue is on its way out, and only a new move may feed it.
            let hot = config.tier == Tier::Hot;
            let reason = "its backlog outgrew its share of its shard";
            return self
                .move_to_own_queue(&id, message, Some((reason, hot)))
                .await;
        }
        let waiting = entry.wait_here();
        let slots = tokio::select! {
            _ = self.stop.cancelled() => None,
            s = acquire(&self.shared, &entry) => s,
        };
        drop(waiting);
        let Some(slots) = slots else {
            return self.complete(message.tag, Verdict::Requeue);
        };
        let job = Job {
            shared: self.shared.clone(),
            cfg: config,
            done: self.done.clone(),
            stop: entry.stop.clone(),
        };
        job.handle(message, slots, None).await;
    }

    /// Looks a subscription up in the record, waiting out an outage.
    async fn find(&self, id: &SubscriptionId) -> Found {
        if self.gone().contains(id) {
            return Found::Gone;
        }
        let mut failures = 0u32;
        let row = loop {
            match self.shared.store.subscription(id).await {
                Ok(row) => break row,
                Err(e) => {
                    failures += 1;
                    tracing::warn!(subscription = %id, error = %e, failures, "Failed to look up a shard copy's subscription; retrying");
                    tokio::select! {
                        _ = self.stop.cancelled() => return Found::Stopping,
                        _ = tokio::time::sleep(Duration::from_millis(100u64 << failures.min(6))) => {}
                    }
                }
            }
        };
        let Some(row) = row else {
            let mut gone = self.gone();
            if gone.len() >= GONE_REMEMBERED {
                gone.clear();
            }
            gone.insert(id.clone());
            return Found::Gone;
        };
        if row.state != SubscriptionState::Active {
            return Found::Held("disabled: its copies wait on its own queue until it is enabled");
        }
        if let Some(e) = self.shared.directory.get(id) {
            // Stopped by a 410 Gone whose disabling is not committed yet.
            return if e.stop.is_cancelled() {
                Found::Held("disabled: its copies wait on its own queue until it is enabled")
            } else {
                Found::Active(e)
            };
        }
        match SubConfig::from_row(&row, &self.shared.settings) {
            Some(config) => Found::Active(self.shared.directory.add(config)),
            None => Found::Held("its secret cannot be read: its copies wait on its own queue"),
        }
    }

    fn gone(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<SubscriptionId>> {
        self.shared.gone.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves a copy to its subscription's own queue, then acks it. A failed move is tried
    /// again with backoff while the channels live, never requeued (each requeue counts toward
    /// a quorum queue's delivery limit); once they are gone, or at shutdown, the broker gets
    /// it back once.
    async fn move_to_own_queue(
        &self,
        id: &SubscriptionId,
        message: Message,
        hot: Option<(&str, bool)>,
    ) {
        let mut failures = 0u32;
        loop {
            let Err(e) = self.try_move(id, &message, hot).await else {
                return self.complete(message.tag, Verdict::Ack);
            };
            let returned = e
                .downcast_ref::<BusError>()
                .is_some_and(|b| matches!(b, BusError::Returned));
            if returned && hot.is_none() {
                // An own queue that is gone went with its subscription: nothing to deliver.
                metrics::counter!("hookfleet_copies_dropped_total", "reason" => "subscription_deleted")
                    .increment(1);
                return self.complete(message.tag, Verdict::Ack);
            }
            if returned {
                // The queue went (removed as the subscription went back to its shard): it is
                // declared again at the next try.
                self.shared
                    .hot_queues
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(id);
            }
            failures = failures.saturating_add(1);
            if failures == 1 || failures.is_multiple_of(10) {
                tracing::warn!(subscription = %id, failures, error = format!("{e:#}"), "Failed to move a shard copy to its subscription's own queue; trying again");
            }
            if self.stop.is_cancelled() || !self.shared.publisher.is_connected() {
                return self.complete(message.tag, Verdict::Requeue);
            }
            let wait = Duration::from_millis(100u64 << failures.min(6));
            tokio::select! {
                _ = self.stop.cancelled() => return self.complete(message.tag, Verdict::Requeue),
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One try of [`Self::move_to_own_queue`]. A shared-tier subscription is turned hot
    /// (`reason`) unless this worker did so already and `still_hot` says the record agrees:
    /// the queue is declared, the move recorded and announced, so routers send its next copies
    /// there directly. `None`: an own-tier subscription, whose queue exists.
    async fn try_move(
        &self,
        id: &SubscriptionId,
        message: &Message,
        hot: Option<(&str, bool)>,
    ) -> anyhow::Result<()> {
        if let Some((reason, still_hot)) = hot {
            // Turned hot by this worker less than `hot_idle` ago, it cannot have gone back
            // yet (going back needs that long hot); after that, the record must agree.
            let idle = self.shared.settings.hot_idle;
            let known = || {
                self.shared
                    .hot_queues
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(id)
                    .is_some_and(|at| still_hot || at.elapsed() < idle)
            };
            if !known() {
                // One at a time; the copies that waited find it done.
                let _turning = self.shared.turning_hot.lock().await;
                if !known() {
                    self.turn_hot(id, reason).await?;
                }
            }
        }
        let headers = &message.headers;
        self.shared
            .publisher
            .schedule_retry(
                id,
                Lane::Own,
                Duration::ZERO,
                headers.attempt_number(),
                headers.test,
                &message.body,
            )
            .await?
            .wait()
            .await
            .context("Failed to move a copy to its subscription's own queue")
    }

    async fn turn_hot(&self, id: &SubscriptionId, reason: &str) -> anyhow::Result<()> {
        self.shared
            .session
            .declare_unbound(&self.shared.topology, id.as_str())
            .await
            .context("Failed to declare a hot subscription's queue")?;
        let turned = self
            .shared
            .store
            .make_hot(id, reason)
            .await
            .context("Failed to record a subscription turning hot")?;
        {
            let mut hot = self
                .shared
                .hot_queues
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            // Forgetting costs only a declare and a no-op record write at the next move.
            if hot.len() >= GONE_REMEMBERED {
                hot.clear();
            }
            hot.insert(id.clone(), std::time::Instant::now());
        }
        if turned {
            tracing::info!(subscription = %id, %reason, "A subscription turned hot: its copies wait on a queue of its own");
            metrics::counter!("hookfleet_tier_moves_total", "to" => "hot").increment(1);
            crate::batcher::notify_workers(&self.shared.publisher).await;
        }
        Ok(())
    }

    async fn poison(&self, message: Message, reason: &str) {
        tracing::warn!(queue = %self.queue, %reason, "Parking an undecodable shard message");
        metrics::counter!("hookfleet_poison_messages_total", "queue" => "shard").increment(1);
        let reason = format!("undecodable: {reason}");
        let pending = Pending {
            outcome: None,
            poison: Some(PoisonRow::new(&self.queue, &reason, &message.body)),
            settle: Settle::Poison {
                queue: self.queue.to_string(),
                reason,
            },
            tag: message.tag,
            data: message.body,
            done: self.done.clone(),
        };
        self.shared.submit(pending).await;
    }
}

/// A copy's turn: its subscription's pace, one of its slots, then one of the worker's.
async fn acquire(shared: &Shared, entry: &Entry) -> Option<Slots> {
    if let Some(p) = &entry.pacer {
        p.lock().await.wait().await;
    }
    let own = entry.slots.clone().acquire_owned().await.ok()?;
    let worker = shared.in_flight.clone().acquire_owned().await.ok()?;
    Some(Slots::new(Some(own), worker))
}
