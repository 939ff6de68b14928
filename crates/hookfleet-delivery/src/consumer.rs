//! Consuming one subscription's queue, in its mode: unordered (many in flight, acks batched up
//! to the oldest message still in flight) or FIFO (one at a time, a failure retried in place).
//! A consumer runs until stopped (the subscription changed or went) or cancelled by the broker,
//! then waits for every message it took to be settled before closing its channel.
use crate::{
    batcher::{Completion, Verdict},
    config::{Mode, Settings},
    directory::Entry,
    handle::{Held, Job, Slots},
    shared::Shared,
};
use hookfleet_bus::{Consumer, TrackedAcker};
use hookfleet_core::subscription::Tier;
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Each unordered subscription's share of the worker's prefetch budget.
pub(crate) fn prefetch_share(settings: &Settings, subscriptions: usize) -> u16 {
    let share = settings.prefetch_budget / subscriptions.max(1);
    u16::try_from(share)
        .unwrap_or(u16::MAX)
        .clamp(2, settings.prefetch.max(2))
}

/// Whether a consumer started with `running` should restart with `share`: it holds more than
/// twice its share (the worker took on many subscriptions since, and the budget would not hold),
/// or less than half (many went, and it would crawl at a few messages at a time). Within that
/// band it keeps going, so a few subscriptions coming and going restart nothing.
pub(crate) fn prefetch_stale(running: u16, share: u16) -> bool {
    let (running, share) = (u32::from(running), u32::from(share));
    running > 2 * share || 2 * running < share
}

/// Consumes one subscription's own queue until stopped; `prefetch` is its share of the budget
/// (a FIFO subscription always takes one). `took` is set at each message taken.
pub(crate) async fn consume(
    shared: Arc<Shared>,
    config: Arc<Entry>,
    prefetch: u16,
    took: Arc<AtomicBool>,
    stop: CancellationToken,
) {
    let first = config.config();
    // A FIFO subscription takes one message at a time: the next is not even fetched until the
    // current one is delivered or exhausted.
    let prefetch = match first.mode {
        Mode::Fifo => 1,
        Mode::Unordered => prefetch,
    };
    let queue = shared.topology.subscription_queue(first.id.as_str());
    // A shared-tier subscription's own queue is made by the worker that turned it hot; one
    // that finds it gone (removed as it went back to its shard just as it turned hot again)
    // makes it again.
    if first.tier != Tier::Own
        && let Err(e) = shared
            .session
            .declare_unbound(&shared.topology, first.id.as_str())
            .await
    {
        tracing::warn!(subscription = %first.id, error = %e, "Failed to declare a hot subscription's queue; retrying at the next reconcile");
        return;
    }
    let consumer = match shared.session.consume(&queue, prefetch).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(subscription = %first.id, error = %e, "Failed to consume a subscription queue; retrying at the next reconcile");
            return;
        }
    };
    tracing::debug!(subscription = %first.id, mode = ?first.mode, "Consuming subscription queue");
    match first.mode {
        Mode::Unordered => unordered(shared, &config, consumer, &took, &stop).await,
        Mode::Fifo => fifo(shared, &config, consumer, &stop).await,
    }
    tracing::debug!(subscription = %first.id, "Stopped consuming subscription queue");
}

async fn unordered(
    shared: Arc<Shared>,
    config: &Arc<Entry>,
    mut consumer: Consumer,
    took: &AtomicBool,
    stop: &CancellationToken,
) {
    let first = config.config();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Completion>();
    let mut acks = TrackedAcker::new(consumer.acker());
    let mut consuming = true;
    loop {
        tokio::select! {
            // Stop reading; whatever the broker pushed meanwhile goes back to the queue when
            // the channel closes below (see `Acker::close` for why not basic.cancel).
            _ = stop.cancelled(), if consuming => consuming = false,
            next = consumer.next(), if consuming => match next {
                Some(Ok(message)) => {
                    took.store(true, Ordering::Relaxed);
                    acks.taken(message.tag);
                    if let Some(p) = &config.pacer {
                        p.lock().await.wait().await;
                    }
                    let Ok(own) = config.slots.clone().acquire_owned().await else { break };
                    let Ok(worker) = shared.in_flight.clone().acquire_owned().await else { break };
                    let slots = Slots::new(Some(own), worker);
                    let job = Job { shared: shared.clone(), cfg: config.config(), done: done_tx.clone(), stop: config.stop.clone() };
                    tokio::spawn(async move { job.handle(message, slots, None).await });
                }
                Some(Err(e)) => {
                    tracing::warn!(subscription = %first.id, error = %e, "Subscription consumer failed");
                    consuming = false;
                }
                None => consuming = false,
            },
            Some(c) = done_rx.recv() => {
                let mut next = Some(c);
                while let Some(c) = next {
                    // A failed requeue or ack means the channel went away (queue deleted,
                    // connection lost): the broker redelivers.
                    let _ = acks.finished(c.tag, c.verdict == Verdict::Ack).await;
                    next = done_rx.try_recv().ok();
                }
                let _ = acks.flush().await;
            }
        }
        if !consuming && acks.in_flight() == 0 {
            break;
        }
    }
    // Every message taken is now settled; closing returns nothing half-done to the queue.
    // (A quorum queue may still requeue a few messages acked just before a close,
    // rabbitmq-server#10327; their redelivery is settled from the record without re-sending.)
    acks.close("subscription stopped").await;
}

/// One message at a time. A failed message is retried in place after its ladder wait (it stays
/// unacked, so nothing behind it moves); if this worker dies meanwhile, the message returns to
/// the head of the queue and the next worker resumes from the recorded attempts.
async fn fifo(
    shared: Arc<Shared>,
    config: &Arc<Entry>,
    mut consumer: Consumer,
    stop: &CancellationToken,
) {
    let acker = consumer.acker();
    'messages: loop {
        let message = tokio::select! {
            _ = stop.cancelled() => break,
            next = consumer.next() => match next {
                Some(Ok(m)) => m,
                _ => break,
            },
        };
        let tag = message.tag;
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Completion>();
        let mut next = Some((message, None));
        while let Some((message, attempt)) = next.take() {
            let job = Job {
                shared: shared.clone(),
                cfg: config.config(),
                done: done_tx.clone(),
                stop: config.stop.clone(),
            };
            let Ok(worker) = shared.in_flight.clone().acquire_owned().await else {
                break 'messages;
            };
            let slots = Slots::new(None, worker);
            let held = job.handle(message, slots, attempt).await;
            let Some(c) = done_rx.recv().await else {
                break 'messages;
            };
            match (c.verdict, held) {
                (Verdict::Ack, _) => {
                    let _ = acker.ack(tag).await;
                }
                (
                    Verdict::Hold,
                    Some(Held {
                        next: n,
                        wait,
                        message,
                    }),
                ) => {
                    // Stopping mid-wait returns it to the head of the queue (the channel
                    // closes with it unacked).
                    tokio::select! {
                        _ = stop.cancelled() => break 'messages,
                        _ = tokio::time::sleep(wait) => {}
                    }
                    next = Some((message, Some(n)));
                }
                // Held without a retry (410 Gone: the subscription is disabled), or handed back
                // unrecorded (shutting down with the database away): stop here; closing the
                // channel leaves the message at the head of the queue.
                (Verdict::Hold, None) | (Verdict::Requeue, _) => break 'messages,
            }
        }
    }
    acker.close("subscription stopped").await;
}

#[cfg(test)]
mod tests {
    use super::{prefetch_share, prefetch_stale};
    use crate::config::Settings;

    #[test]
    fn the_prefetch_budget_is_shared_so_the_total_stays_bounded() {
        let s = Settings::default();
        assert_eq!(
            prefetch_share(&s, 1),
            256,
            "one subscription gets the full prefetch"
        );
        assert_eq!(prefetch_share(&s, 8), 256);
        assert_eq!(prefetch_share(&s, 1_000), 8);
        assert_eq!(prefetch_share(&s, 100_000), 2, "never below 2");
        // 1 → 1,000 subscriptions: the first consumer's 256 is far over its new share of 8.
        assert!(prefetch_stale(256, 8));
        // 1,000 → 8: a consumer left at 8 would crawl; it restarts with 256.
        assert!(prefetch_stale(8, 256));
        // A few more or fewer subscriptions restart nothing.
        assert!(!prefetch_stale(8, 9) && !prefetch_stale(8, 7) && !prefetch_stale(256, 256));
        // The busy get the budget shared among them, the idle keep the even share: what is
        // prefetched stays within twice the budget, plus the floor of 2 each.
        for (n, busy) in [
            (10_000usize, 100usize),
            (1_000, 8),
            (1_000, 1_000),
            (41, 1),
            (8, 8),
        ] {
            let busy_share = prefetch_share(&s, busy).max(prefetch_share(&s, n));
            let total =
                usize::from(busy_share) * busy + usize::from(prefetch_share(&s, n)) * (n - busy);
            assert!(
                total <= 2 * s.prefetch_budget + 2 * n,
                "{busy} busy of {n} hold {total}"
            );
        }
        assert_eq!(prefetch_share(&s, 100), 81, "a hot 1 % of 10,000");
        for n in [1usize, 7, 32, 33, 100, 1_000, 4_096] {
            let total = usize::from(prefetch_share(&s, n)) * n;
            assert!(
                total <= s.prefetch_budget.max(2 * n),
                "{n} subscriptions hold {total}"
            );
        }
    }
}
