//! The outcome batcher: collects attempt outcomes from every subscription consumer, writes
//! them in one transaction, and only then settles each message: acked when delivered, sent up
//! the retry ladder or parked in `hookfleet.dead` (then acked) when failed or poison. Verdicts
//! go back to the consumer owning the message's channel, which settles them with the broker.
//!
//! An outcome is carried by three types, each for one reader: a [`Decision`] (`decide`, pure:
//! what the answer means), a [`Settle`] (what this batcher does with the message once the
//! outcome is committed; poison and replayed outcomes have no decision), and a [`Verdict`]
//! (what the consumer tells the broker). [`Pending`] is the batch's item that carries them.
use crate::{config::Mode, decide::Decision};
use futures_util::future::join_all;
use hookfleet_bus::{Confirm, Lane, Publisher, Topology};
use hookfleet_core::{DeliveryId, SubscriptionId};
use hookfleet_store::{OutcomeRow, PoisonRow, Store};
use std::{sync::Arc, time::Duration};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How a message is to be settled once its outcome is committed.
#[derive(Debug)]
pub(crate) enum Settle {
    Ack,
    /// Publish it again as attempt `attempt`, after `delay` on the ladder (zero: at once, to
    /// the back of its queue), then ack.
    Retry {
        subscription: SubscriptionId,
        lane: Lane,
        delay: Duration,
        attempt: i32,
        rung: usize,
        is_test: bool,
    },
    /// Exhausted: park it in `hookfleet.dead`, marked with its delivery, then ack.
    Park {
        subscription: SubscriptionId,
        delivery: DeliveryId,
        reason: String,
    },
    /// Park it in `hookfleet.dead` with where it came from and why, then ack.
    Poison {
        queue: String,
        reason: String,
    },
    /// FIFO: the attempt is recorded; the consumer keeps the message and retries it in place.
    Hold,
}

/// The delivery a settle is for.
pub(crate) struct Of<'a> {
    pub subscription: &'a SubscriptionId,
    /// Where its retries go.
    pub lane: Lane,
    pub delivery: &'a DeliveryId,
    pub is_test: bool,
}

impl Settle {
    /// How to settle a message whose attempt got `decision` (parked with `reason` should it be
    /// exhausted), and for a FIFO hold the attempt and wait to send it again in place.
    pub(crate) fn of(
        decision: Decision,
        mode: Mode,
        of: &Of<'_>,
        reason: &str,
    ) -> (Self, Option<(i32, Duration)>) {
        let retry = |delay: Duration, attempt: i32, rung: usize| Self::Retry {
            subscription: of.subscription.clone(),
            lane: of.lane,
            delay,
            attempt,
            rung,
            is_test: of.is_test,
        };
        match (decision, mode) {
            (Decision::Delivered, _) => (Self::Ack, None),
            (Decision::Retry { rung, wait, next }, _) => (retry(wait, next, rung), None),
            (Decision::Hold { wait, next }, _) => (Self::Hold, Some((next, wait))),
            // Unordered: back on the queue as the next attempt, to be delivered once the
            // subscription is enabled. FIFO: left at the head (its consumer stops).
            (Decision::Gone { next }, Mode::Unordered) => (retry(Duration::ZERO, next, 0), None),
            (Decision::Gone { .. }, Mode::Fifo) => (Self::Hold, None),
            (Decision::Exhausted, _) => (Self::park(of, reason), None),
        }
    }

    /// Parks an exhausted delivery with `reason`.
    pub(crate) fn park(of: &Of<'_>, reason: &str) -> Self {
        Self::Park {
            subscription: of.subscription.clone(),
            delivery: of.delivery.clone(),
            reason: reason.to_owned(),
        }
    }
}

/// A message parked or rescheduled (confirmed): acked.
fn moved(p: Pending) {
    if matches!(p.settle, Settle::Park { .. }) {
        metrics::counter!("hookfleet_messages_parked_total").increment(1);
    }
    p.complete(Verdict::Ack);
}

/// Tells every delivery worker to reconcile its subscriptions now (they also do periodically).
pub(crate) async fn notify_workers(publisher: &Publisher) {
    if let Err(e) = publisher.notify_subscriptions_changed().await {
        tracing::warn!(error = %e, "Failed to notify delivery workers; they reconcile periodically anyway");
    }
}

/// What the consumer is to tell the broker about one delivery tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Ack,
    /// Give it back to the queue, to be delivered again (nothing was committed or parked).
    Requeue,
    /// FIFO: its attempt is recorded; keep it, unacked, at the head of the queue.
    Hold,
}

#[derive(Debug)]
pub(crate) struct Completion {
    pub tag: u64,
    pub verdict: Verdict,
}

pub(crate) struct Pending {
    pub outcome: Option<OutcomeRow>,
    pub poison: Option<PoisonRow>,
    pub settle: Settle,
    pub tag: u64,
    /// The message body, kept to park a copy in `hookfleet.dead`.
    pub data: Vec<u8>,
    /// Where the verdict goes: the consumer owning the channel this message came on.
    pub done: mpsc::UnboundedSender<Completion>,
}

impl Pending {
    pub(crate) fn complete(&self, verdict: Verdict) {
        // The consumer is gone only if its channel is; the broker then redelivers anyway.
        let _ = self.done.send(Completion {
            tag: self.tag,
            verdict,
        });
    }
}

pub(crate) struct Batcher {
    pub store: Store,
    pub publisher: Arc<Publisher>,
    pub topology: Topology,
    pub batch_size: usize,
    pub linger: Duration,
    pub shutdown: CancellationToken,
}

impl Batcher {
    /// Runs until every sender is dropped and the last batch is settled.
    pub(crate) async fn run(self, mut rx: mpsc::Receiver<Pending>) {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            let deadline = tokio::time::Instant::now() + self.linger;
            while batch.len() < self.batch_size {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(p)) => batch.push(p),
                    _ => break,
                }
            }
            self.flush(batch).await;
        }
    }

    async fn flush(&self, mut batch: Vec<Pending>) {
        if !self.record(&mut batch).await {
            // Shutting down with the database away: hand the messages back to the broker
            // unrecorded, to be delivered again later. Nothing is lost.
            for p in batch {
                p.complete(Verdict::Requeue);
            }
            return;
        }
        let outcomes: Vec<&OutcomeRow> = batch.iter().filter_map(|p| p.outcome.as_ref()).collect();
        metrics::histogram!("hookfleet_outcome_batch_size").record(batch.len() as f64);
        let disabled = outcomes
            .iter()
            .filter(|o| o.disable_reason.is_some())
            .count();
        if disabled > 0 {
            metrics::counter!("hookfleet_subscriptions_disabled_total").increment(disabled as u64);
            notify_workers(&self.publisher).await;
        }
        self.settle(batch).await;
    }

    /// Commits the batch's outcomes and poison notes. An outage is waited out. A row PostgreSQL
    /// refuses for what it carries is isolated (the batch is split until it stands alone), and
    /// its message is parked as poison instead, so one bad outcome never stops the others.
    /// False only when shutting down with the database still away.
    async fn record(&self, batch: &mut [Pending]) -> bool {
        let isolated = self
            .through_outage(|| {
                let batch = &*batch;
                hookfleet_store::isolate_refused(batch.len(), move |range| {
                    let part = &batch[range];
                    let outcomes: Vec<OutcomeRow> =
                        part.iter().filter_map(|p| p.outcome.clone()).collect();
                    let poison: Vec<PoisonRow> =
                        part.iter().filter_map(|p| p.poison.clone()).collect();
                    async move { self.store.record_outcomes(&outcomes, &poison).await }
                })
            })
            .await;
        let Some((_, refused)) = isolated else {
            return false;
        };
        if refused.is_empty() {
            return true;
        }
        let mut notes = Vec::with_capacity(refused.len());
        for (i, e) in refused {
            let p = &mut batch[i];
            let queue = p.outcome.as_ref().map_or_else(
                || "unknown".to_owned(),
                |o| self.topology.subscription_queue(o.subscription_id.as_str()),
            );
            let reason = format!("unstorable outcome: {e}");
            tracing::warn!(%queue, %reason, "Parking a message whose outcome the record refused");
            metrics::counter!("hookfleet_poison_messages_total", "queue" => "subscription")
                .increment(1);
            let note = PoisonRow::new(&queue, &reason, &p.data);
            p.outcome = None;
            p.poison = Some(note.clone());
            p.settle = Settle::Poison { queue, reason };
            notes.push(note);
        }
        self.through_outage(|| self.store.record_outcomes(&[], &notes))
            .await
            .is_some()
    }

    /// Runs a database write until it passes, backing off while the database is away. `None`
    /// when shutting down and it failed three times.
    async fn through_outage<T, F, Fut>(&self, mut write: F) -> Option<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = hookfleet_store::Result<T>>,
    {
        let mut failures = 0u32;
        loop {
            match write().await {
                Ok(t) => return Some(t),
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, failures, "Failed to record an outcome batch; retrying");
                    if self.shutdown.is_cancelled() && failures >= 3 {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(100u64 << failures.min(6))).await;
                }
            }
        }
    }

    async fn settle(&self, batch: Vec<Pending>) {
        // Send every parked or rescheduled copy first, then await their confirms together.
        let mut parked = Vec::new();
        for p in batch {
            match &p.settle {
                Settle::Ack => p.complete(Verdict::Ack),
                Settle::Hold => p.complete(Verdict::Hold),
                _ => {
                    let sent = self.move_message(&p).await;
                    parked.push((p, sent));
                }
            }
        }
        let confirms = join_all(parked.into_iter().map(|(p, sent)| async move {
            let ok = match sent {
                Ok(c) => c.wait().await,
                Err(e) => Err(e),
            };
            (p, ok)
        }))
        .await;
        let mut failed = Vec::new();
        for (p, ok) in confirms {
            match ok {
                Ok(()) => moved(p),
                Err(e) => failed.push((p, e)),
            }
        }
        self.move_again(failed).await;
    }

    /// Moves again, with backoff, what the broker did not take, rather than requeue it: each
    /// requeue counts toward a quorum queue's delivery limit (20 by default on RabbitMQ 4),
    /// past which the broker dead-letters the message. Requeued only when that cannot help or
    /// is bounded: shutting down (once per shutdown), the publisher's channels gone (the broker
    /// returns the messages with their channels anyway, once per lost session), or the
    /// destination queue gone (the subscription was deleted, and its queue with it).
    async fn move_again(&self, mut failed: Vec<(Pending, hookfleet_bus::BusError)>) {
        let mut failures = 0u32;
        while let Some((_, e)) = failed.first() {
            failures = failures.saturating_add(1);
            let give_back = self.shutdown.is_cancelled() || !self.publisher.is_connected();
            if give_back || failures == 1 {
                tracing::warn!(error = %e, messages = failed.len(), give_back, "Failed to park or reschedule messages");
            }
            let (gone, retry): (Vec<_>, Vec<_>) = failed
                .into_iter()
                .partition(|(_, e)| give_back || matches!(e, hookfleet_bus::BusError::Returned));
            for (p, _) in gone {
                p.complete(Verdict::Requeue);
            }
            failed = retry;
            if failed.is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100u64 << failures.min(6))).await;
            let again = join_all(failed.into_iter().map(|(p, _)| async move {
                let ok = match self.move_message(&p).await {
                    Ok(c) => c.wait().await,
                    Err(e) => Err(e),
                };
                (p, ok)
            }))
            .await;
            failed = Vec::new();
            for (p, ok) in again {
                match ok {
                    Ok(()) => moved(p),
                    Err(e) => failed.push((p, e)),
                }
            }
        }
    }

    /// Publishes a message that moves on (parked, poison, or rescheduled on the ladder).
    async fn move_message(&self, p: &Pending) -> hookfleet_bus::Result<Confirm> {
        let publisher = &self.publisher;
        match &p.settle {
            Settle::Poison { queue, reason } => publisher.park_poison(queue, reason, &p.data).await,
            Settle::Park {
                subscription,
                delivery,
                reason,
            } => {
                publisher
                    .park_exhausted(subscription, delivery, reason, &p.data)
                    .await
            }
            Settle::Retry {
                subscription,
                lane,
                delay,
                attempt,
                rung,
                is_test,
            } => {
                metrics::counter!("hookfleet_retries_scheduled_total", "rung" => rung.to_string())
                    .increment(1);
                publisher
                    .schedule_retry(subscription, *lane, *delay, *attempt, *is_test, &p.data)
                    .await
            }
            Settle::Ack | Settle::Hold => unreachable!("settled without moving"),
        }
    }
}
