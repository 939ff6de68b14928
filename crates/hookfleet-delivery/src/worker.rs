//! The worker: one consumer per active subscription, started, restarted and stopped as
//! subscriptions come, change and go, all feeding one outcome batcher.
use crate::{
    Settings,
    attempt::{AttemptResult, deliver_one},
    batcher::{Batcher, Completion, Pending, Settle, Verdict},
};
use anyhow::Context;
use hookfleet_bus::{Acker, Consumer, Message as Delivery, Publisher, Session, Topology};
use hookfleet_core::{DeliveredBody, DeliveryId, EventId, Secret, SubscriptionId};
use hookfleet_store::{DeliveryStatus, OutcomeRow, PoisonRow, Store, SubscriptionRow};
use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};
use tokio::{
    sync::{Semaphore, mpsc},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

/// What a consumer needs to know of its subscription; replaced in place when it changes.
#[derive(Debug, PartialEq)]
struct SubConfig {
    id: SubscriptionId,
    url: String,
    secrets: Vec<Secret>,
    /// Waits before attempts 2, 3, … in milliseconds (the subscription's or the fleet's).
    ladder_ms: Vec<u64>,
    max_in_flight: usize,
    rate_limit_per_s: Option<u32>,
    fifo: bool,
    /// Why sending to `url` is refused (a literal private IP while those are not allowed).
    refused: Option<String>,
}

impl SubConfig {
    fn from_row(row: &SubscriptionRow, settings: &Settings) -> Option<Self> {
        let fleet_ladder = &settings.ladder;
        let secrets: Vec<Secret> = row
            .secrets
            .iter()
            .filter_map(|s| Secret::parse(s))
            .collect();
        if secrets.is_empty() {
            tracing::error!(subscription = %row.id, "Subscription has no usable secret; not delivering it");
            return None;
        }
        let ladder_ms = match &row.retry_ladder_ms {
            Some(l) => l.iter().map(|ms| u64::try_from(*ms).unwrap_or(0)).collect(),
            None => fleet_ladder.iter().map(|d| d.as_millis() as u64).collect(),
        };
        Some(Self {
            id: SubscriptionId::from_trusted(row.id.clone()),
            url: row.url.clone(),
            secrets,
            ladder_ms,
            max_in_flight: usize::try_from(row.max_in_flight).unwrap_or(1).max(1),
            rate_limit_per_s: row.rate_limit_per_s.and_then(|r| u32::try_from(r).ok()),
            fifo: row.ordering == "fifo",
            refused: if settings.allow_private_targets {
                None
            } else {
                crate::guard::literal_private(&row.url)
            },
        })
    }

    /// Changes a running consumer cannot take in place (its channel and limits are set up
    /// from them), so the consumer is restarted.
    fn needs_restart(&self, other: &Self) -> bool {
        self.max_in_flight != other.max_in_flight
            || self.rate_limit_per_s != other.rate_limit_per_s
            || self.fifo != other.fifo
    }
}

struct Running {
    config: Arc<RwLock<Arc<SubConfig>>>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// Shared by every consumer task of one worker.
struct Shared {
    session: Session,
    store: Store,
    topology: Topology,
    settings: Settings,
    client: reqwest::Client,
    outcomes: mpsc::Sender<Pending>,
    publisher: Arc<Publisher>,
}

/// Tells every delivery worker to reconcile its subscriptions now.
pub(crate) async fn notify_workers(publisher: &Publisher, topology: &Topology) {
    if let Err(e) = hookfleet_bus::notify_reconcile(publisher, topology).await {
        tracing::warn!(error = %e, "Failed to notify delivery workers; they reconcile periodically anyway");
    }
}

/// Runs the worker until `shutdown`: stops consuming, finishes in-flight deliveries, flushes
/// their outcomes, settles their messages, then returns.
pub async fn run(
    session: Session,
    store: Store,
    topology: Topology,
    settings: Settings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    session
        .admin()
        .await
        .context("Failed to open the worker's admin channel")?
        .declare_topology(&topology)
        .await
        .context("Failed to declare the broker topology")?;
    let publisher = Arc::new(
        session
            .publisher(1)
            .await
            .context("Failed to open the worker's publisher")?,
    );
    let mut client = reqwest::Client::builder()
        // Webhook receivers answer; they do not redirect. Following would re-POST elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("hookfleet/", env!("CARGO_PKG_VERSION")))
        // No idle cap: one client serves every subscription, and a cap below the in-flight
        // count closes connections after each request, paying a TCP handshake per delivery.
        .tcp_nodelay(true);
    if !settings.allow_private_targets {
        client = client.dns_resolver(crate::guard::PublicOnly);
    }
    let client = client.build().context("Failed to build the HTTP client")?;
    let (tx, rx) = mpsc::channel(settings.batch_size * 2);
    let batcher = tokio::spawn(
        Batcher {
            store: store.clone(),
            publisher: publisher.clone(),
            rungs: session
                .rungs()
                .await
                .context("Failed to open the rung channel")?,
            topology: topology.clone(),
            batch_size: settings.batch_size,
            linger: settings.batch_linger,
            shutdown: shutdown.clone(),
        }
        .run(rx),
    );
    // Every worker hears every notice (a private queue on the control fanout).
    let mut notices = session
        .notices(&topology)
        .await
        .context("Failed to listen for control notices")?;

    let shared = Arc::new(Shared {
        session,
        store,
        topology,
        settings,
        client,
        outcomes: tx,
        publisher,
    });
    let mut running: HashMap<String, Running> = HashMap::new();
    let mut tick = tokio::time::interval(shared.settings.reconcile_interval);
    tracing::info!("Delivery worker started");
    // A lost control consumer means a lost connection (or channel): drain what is in hand the
    // same way as on shutdown, then report it so the role reconnects.
    let result = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            _ = tick.tick() => {
                sweep_health(&shared).await;
                reconcile(&shared, &mut running).await;
            }
            notice = notices.next() => match notice {
                Some(Ok(())) => reconcile(&shared, &mut running).await,
                Some(Err(e)) => break Err(anyhow::Error::new(e).context("The control consumer failed")),
                None => break Err(anyhow::anyhow!("The broker cancelled the control consumer")),
            },
        }
    };
    tracing::info!(subscriptions = running.len(), "Delivery worker draining");
    for r in running.values() {
        r.stop.cancel();
    }
    for (_, r) in running.drain() {
        let _ = r.task.await;
    }
    drop(shared);
    let _ = batcher.await;
    notices.close().await;
    tracing::info!("Delivery worker stopped");
    result
}

/// Disables subscriptions failing for too long and reports the age of the oldest waiting retry.
async fn sweep_health(shared: &Shared) {
    match shared
        .store
        .disable_failing(shared.settings.disable_after)
        .await
    {
        Ok(ids) if !ids.is_empty() => {
            tracing::warn!(subscriptions = ?ids, "Disabled subscriptions whose deliveries have all been exhausted");
            metrics::counter!("hookfleet_subscriptions_disabled_total").increment(ids.len() as u64);
            notify_workers(&shared.publisher, &shared.topology).await;
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "Failed to check subscription health"),
    }
    if let Ok(oldest) = shared.store.oldest_waiting_retry().await {
        let age = oldest.map_or(0.0, |t| {
            (hookfleet_core::now_utc() - t).as_seconds_f64().max(0.0)
        });
        metrics::gauge!("hookfleet_oldest_waiting_retry_seconds").set(age);
    }
}

/// Brings the running consumers in line with the active subscriptions in PostgreSQL.
async fn reconcile(shared: &Arc<Shared>, running: &mut HashMap<String, Running>) {
    let subs = match shared.store.active_subscriptions().await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "Failed to load subscriptions; keeping the current set");
            return;
        }
    };
    let mut wanted = HashMap::with_capacity(subs.len());
    for row in &subs {
        if let Some(c) = SubConfig::from_row(row, &shared.settings) {
            wanted.insert(row.id.clone(), c);
        }
    }
    running.retain(|id, r| {
        let current = r.config.read().unwrap_or_else(|p| p.into_inner()).clone();
        let keep =
            !r.task.is_finished() && wanted.get(id).is_some_and(|w| !w.needs_restart(&current));
        if !keep {
            r.stop.cancel();
        }
        keep
    });
    for (id, config) in wanted {
        if let Some(r) = running.get(&id) {
            let mut slot = r.config.write().unwrap_or_else(|p| p.into_inner());
            if **slot != config {
                *slot = Arc::new(config);
            }
            continue;
        }
        let config = Arc::new(RwLock::new(Arc::new(config)));
        let stop = CancellationToken::new();
        let task = tokio::spawn(consume_loop(shared.clone(), config.clone(), stop.clone()));
        running.insert(id, Running { config, stop, task });
    }
    metrics::gauge!("hookfleet_subscriptions_consumed").set(running.len() as f64);
}

/// Spaces requests at most `rate` per second in this worker.
struct Pacer {
    interval: Duration,
    next: Instant,
}

impl Pacer {
    fn new(rate: u32) -> Self {
        Self {
            interval: Duration::from_secs_f64(1.0 / f64::from(rate)),
            next: Instant::now(),
        }
    }

    async fn wait(&mut self) {
        let now = Instant::now();
        if self.next > now {
            tokio::time::sleep_until(self.next.into()).await;
        }
        self.next = self.next.max(now) + self.interval;
    }
}

/// Which delivery tags of one channel are still being worked on and which are ready to ack,
/// so acks go out as one `multiple` ack up to the oldest message still in flight.
#[derive(Debug, Default)]
struct AckTracker {
    in_flight: BTreeSet<u64>,
    ready: BTreeSet<u64>,
}

impl AckTracker {
    fn received(&mut self, tag: u64) {
        self.in_flight.insert(tag);
    }

    fn settled(&mut self, c: &Completion) {
        self.in_flight.remove(&c.tag);
        if c.verdict == Verdict::Ack {
            self.ready.insert(c.tag);
        }
    }

    /// The highest ready tag below every tag still in flight: acking it with `multiple`
    /// acks exactly the ready ones (rejected and requeued tags were settled individually).
    fn take_ack_point(&mut self) -> Option<u64> {
        let limit = self.in_flight.first().copied().unwrap_or(u64::MAX);
        let point = self.ready.range(..limit).next_back().copied()?;
        self.ready = self.ready.split_off(&(point + 1));
        Some(point)
    }

    fn idle(&self) -> bool {
        self.in_flight.is_empty() && self.ready.is_empty()
    }
}

/// Consumes one subscription's queue until stopped or cancelled by the broker (queue deleted),
/// then waits for every message it took to be settled before closing its channel.
async fn consume_loop(
    shared: Arc<Shared>,
    config: Arc<RwLock<Arc<SubConfig>>>,
    stop: CancellationToken,
) {
    let first = config.read().unwrap_or_else(|p| p.into_inner()).clone();
    let sub_id = first.id.clone();
    // A FIFO subscription takes one message at a time: the next is not even fetched until the
    // current one is delivered or exhausted.
    let prefetch = if first.fifo {
        1
    } else {
        shared.settings.prefetch
    };
    let queue = shared.topology.subscription_queue(sub_id.as_str());
    let mut consumer = match shared.session.consume(&queue, prefetch).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(subscription = %sub_id, error = %e, "Failed to consume a subscription queue; retrying at the next reconcile");
            return;
        }
    };
    let acker = consumer.acker();
    tracing::debug!(subscription = %sub_id, fifo = first.fifo, "Consuming subscription queue");
    if first.fifo {
        fifo_loop(&shared, &config, &acker, &mut consumer, &stop).await;
        acker.close("subscription stopped").await;
        return;
    }
    let http_slots = Arc::new(Semaphore::new(first.max_in_flight));
    let mut pacer = first.rate_limit_per_s.map(Pacer::new);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Completion>();
    let mut acks = AckTracker::default();
    let mut consuming = true;
    loop {
        tokio::select! {
            _ = stop.cancelled(), if consuming => {
                // Stop reading; whatever the broker pushed meanwhile goes back to the queue
                // when the channel closes below (see `Acker::close` for why not basic.cancel).
                consuming = false;
            }
            next = consumer.next(), if consuming => match next {
                Some(Ok(delivery)) => {
                    acks.received(delivery.tag);
                    if let Some(p) = pacer.as_mut() {
                        p.wait().await;
                    }
                    let Ok(slot) = http_slots.clone().acquire_owned().await else { break };
                    let cfg = config.read().unwrap_or_else(|p| p.into_inner()).clone();
                    let (shared, done, stop) = (shared.clone(), done_tx.clone(), stop.clone());
                    tokio::spawn(async move { handle_delivery(&shared, &cfg, delivery, slot, done, &stop).await });
                }
                Some(Err(e)) => {
                    tracing::warn!(subscription = %sub_id, error = %e, "Subscription consumer failed");
                    consuming = false;
                }
                None => consuming = false,
            },
            Some(first) = done_rx.recv() => {
                let mut next = Some(first);
                while let Some(c) = next {
                    acks.settled(&c);
                    settle_one(&acker, &c).await;
                    next = done_rx.try_recv().ok();
                }
                if let Some(point) = acks.take_ack_point()
                    && let Err(e) = acker.ack_up_to(point).await
                {
                    // The channel went away (queue deleted, connection lost): the broker redelivers.
                    tracing::debug!(error = %e, "Failed to ack messages");
                }
            }
        }
        if !consuming && acks.in_flight.is_empty() {
            break;
        }
    }
    debug_assert!(acks.idle(), "every ready tag was acked");
    // Every message taken is now settled; closing returns nothing half-done to the queue.
    // (A quorum queue may still requeue a few messages acked just before a close,
    // rabbitmq-server#10327; their redelivery is settled from the record without re-sending.)
    acker.close("subscription stopped").await;
    tracing::debug!(subscription = %sub_id, "Stopped consuming subscription queue");
}

/// Sends a requeue at once; acks wait to be sent together.
async fn settle_one(acker: &Acker, c: &Completion) {
    let sent = match c.verdict {
        Verdict::Ack => Ok(()),
        Verdict::Requeue => acker.requeue(c.tag).await,
    };
    if let Err(e) = sent {
        tracing::debug!(error = %e, "Failed to settle a message; the broker will redeliver it");
    }
}

/// FIFO: one message at a time. A failed message is retried in place after its ladder wait
/// (it stays unacked, so nothing behind it moves); if this worker dies meanwhile, the message
/// returns to the head of the queue and the next worker resumes from the recorded attempts.
async fn fifo_loop(
    shared: &Arc<Shared>,
    config: &Arc<RwLock<Arc<SubConfig>>>,
    acker: &Acker,
    consumer: &mut Consumer,
    stop: &CancellationToken,
) {
    loop {
        let delivery = tokio::select! {
            _ = stop.cancelled() => return,
            next = consumer.next() => match next {
                Some(Ok(d)) => d,
                _ => return,
            },
        };
        let tag = delivery.tag;
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Completion>();
        let mut delivery = Some(delivery);
        let mut attempt_override = None;
        loop {
            let cfg = config.read().unwrap_or_else(|p| p.into_inner()).clone();
            let Some(d) = delivery.take() else { return };
            let slot = Arc::new(Semaphore::new(1))
                .acquire_owned()
                .await
                .expect("a fresh semaphore has a permit");
            let wait =
                handle_fifo_attempt(shared, &cfg, d, slot, done_tx.clone(), attempt_override).await;
            let Some(c) = done_rx.recv().await else {
                return;
            };
            match (c.verdict, wait) {
                (Verdict::Ack, _) => {
                    let _ = acker.ack(tag).await;
                    break;
                }
                (Verdict::Requeue, Some((next_attempt, wait, retained))) => {
                    // Hold the message and try it again after its rung; stopping mid-wait
                    // returns it to the head of the queue (the channel closes unacked).
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(wait) => {}
                    }
                    attempt_override = Some(next_attempt);
                    delivery = Some(retained);
                }
                (Verdict::Requeue, None) => return,
            }
        }
    }
}

/// The decoded identity of one message.
struct Incoming {
    event_id: EventId,
    organization_id: Option<String>,
    service_partition: Option<String>,
    delivery_id: DeliveryId,
    attempt: i32,
    is_test: bool,
}

fn decode(delivery: &Delivery, sub: &SubscriptionId) -> Result<Incoming, String> {
    let body =
        serde_json::from_slice::<DeliveredBody>(&delivery.body).map_err(|e| e.to_string())?;
    let event_id =
        EventId::parse(&body.id).ok_or_else(|| "the body's `id` is not an event id".to_owned())?;
    let organization_id = body.organization_id.map(std::borrow::Cow::into_owned);
    let service_partition = body.service_partition.map(std::borrow::Cow::into_owned);
    let delivery_id = DeliveryId::derive(
        &event_id,
        organization_id.as_deref(),
        service_partition.as_deref(),
        sub,
    );
    Ok(Incoming {
        event_id,
        organization_id,
        service_partition,
        delivery_id,
        attempt: delivery.headers.attempt_number(),
        is_test: delivery.headers.test,
    })
}

/// Settles a message whose outcome needs no new attempt (already recorded, or recorded
/// before a restart), through the batcher like every other.
async fn settle_unsent(
    shared: &Shared,
    settle: Settle,
    tag: u64,
    data: Vec<u8>,
    done: mpsc::UnboundedSender<Completion>,
) {
    let pending = Pending {
        outcome: None,
        poison: None,
        settle,
        tag,
        data,
        done,
    };
    submit(shared, pending).await;
}

/// Hands a message's outcome to the batcher; if the batcher is gone, requeues the message.
async fn submit(shared: &Shared, pending: Pending) {
    if let Err(mpsc::error::SendError(p)) = shared.outcomes.send(pending).await {
        p.complete(Verdict::Requeue);
    }
}

/// How an attempt ends: the delivery's new status, how its message is settled, when the next
/// attempt is due, and whether it disables the subscription.
fn decide(
    cfg: &SubConfig,
    msg: &Incoming,
    result: &AttemptResult,
) -> (DeliveryStatus, Settle, Option<Duration>, Option<String>) {
    // Retry settles leave `queue` empty; the caller fills in the subscription's queue name.
    if result.delivered {
        return (DeliveryStatus::Delivered, Settle::Ack, None, None);
    }
    if result.status_code == Some(410) {
        // Gone: disable the subscription, and put the message back (as the next attempt) so
        // it is delivered when the subscription is enabled again. Nothing is lost.
        let settle = Settle::Retry {
            queue: String::new(),
            delay_ms: 0,
            attempt: msg.attempt + 1,
            rung: 0,
            is_test: msg.is_test,
        };
        return (
            DeliveryStatus::Failed,
            settle,
            None,
            Some("the endpoint answered 410 Gone".into()),
        );
    }
    let index = usize::try_from(msg.attempt - 1).unwrap_or(usize::MAX);
    match cfg.ladder_ms.get(index) {
        Some(&delay_ms) => {
            let settle = Settle::Retry {
                queue: String::new(),
                delay_ms,
                attempt: msg.attempt + 1,
                rung: index + 1,
                is_test: msg.is_test,
            };
            (
                DeliveryStatus::Failed,
                settle,
                Some(Duration::from_millis(delay_ms)),
                None,
            )
        }
        None => {
            metrics::counter!("hookfleet_deliveries_exhausted_total").increment(1);
            let settle = Settle::Park {
                subscription_id: cfg.id.to_string(),
                delivery_id: msg.delivery_id.to_string(),
                reason: result.error.clone().unwrap_or_default(),
            };
            (DeliveryStatus::Exhausted, settle, None, None)
        }
    }
}

/// If this attempt's outcome is already recorded, how to settle the message without sending
/// it again: a duplicate copy (a recovery racing a retry) is dropped, and a redelivery after a
/// crash between commit and settle finishes the settling.
async fn already_recorded(
    shared: &Shared,
    cfg: &SubConfig,
    msg: &Incoming,
    redelivered: bool,
) -> Option<Settle> {
    if msg.attempt == 1 && !redelivered {
        return None;
    }
    let progress = shared
        .store
        .delivery_progress(&[msg.delivery_id.as_str()])
        .await
        .ok()?;
    let p = progress.get(msg.delivery_id.as_str())?;
    if p.attempts < msg.attempt {
        return None;
    }
    if !redelivered {
        return Some(Settle::Ack);
    }
    let recorded = AttemptResult {
        delivered: p.status == DeliveryStatus::Delivered,
        status_code: None,
        duration: Duration::ZERO,
        error: Some("recorded before a restart".into()),
        response_excerpt: None,
    };
    let (_, settle, _, _) = decide(cfg, msg, &recorded);
    Some(settle)
}

fn fill_queue(settle: &mut Settle, queue: String) {
    if let Settle::Retry { queue: q, .. } = settle {
        *q = queue;
    }
}

/// One attempt of one message, its outcome handed to the batcher. Returns what a FIFO
/// consumer needs to retry in place: the next attempt number, the wait, and the message.
async fn attempt_and_submit(
    shared: &Shared,
    cfg: &SubConfig,
    delivery: Delivery,
    http_slot: tokio::sync::OwnedSemaphorePermit,
    done: mpsc::UnboundedSender<Completion>,
    stop: Option<&CancellationToken>,
    attempt_override: Option<i32>,
) -> Option<(i32, Duration, Delivery)> {
    let tag = delivery.tag;
    let queue = shared.topology.subscription_queue(cfg.id.as_str());
    let mut msg = match decode(&delivery, &cfg.id) {
        Ok(m) => m,
        Err(reason) => {
            tracing::warn!(subscription = %cfg.id, %reason, "Parking an undecodable message");
            metrics::counter!("hookfleet_poison_messages_total", "queue" => "subscription")
                .increment(1);
            let reason = format!("undecodable: {reason}");
            let poison = Some(PoisonRow::new(&queue, &reason, &delivery.body));
            submit(
                shared,
                Pending {
                    outcome: None,
                    poison,
                    settle: Settle::Poison { queue, reason },
                    tag,
                    data: delivery.body,
                    done,
                },
            )
            .await;
            return None;
        }
    };
    if let Some(a) = attempt_override {
        msg.attempt = a;
    }
    // A FIFO consumer is called without a stop token: it retries in place and never moves a
    // message behind the ones after it.
    let fifo = stop.is_none();
    if fifo && delivery.redelivered && attempt_override.is_none() {
        // Back at the head after a worker stopped: resume from what the record says.
        if let Ok(progress) = shared
            .store
            .delivery_progress(&[msg.delivery_id.as_str()])
            .await
            && let Some(p) = progress.get(msg.delivery_id.as_str())
        {
            let settle = match p.status {
                DeliveryStatus::Delivered => Some(Settle::Ack),
                DeliveryStatus::Exhausted => Some(Settle::Park {
                    subscription_id: cfg.id.to_string(),
                    delivery_id: msg.delivery_id.to_string(),
                    reason: "exhausted before a restart".into(),
                }),
                _ => {
                    msg.attempt = msg.attempt.max(p.attempts + 1);
                    None
                }
            };
            if let Some(settle) = settle {
                settle_unsent(shared, settle, tag, delivery.body, done).await;
                return None;
            }
        }
    } else if let Some(mut settle) = already_recorded(
        shared,
        cfg,
        &msg,
        delivery.redelivered && attempt_override.is_none(),
    )
    .await
    {
        fill_queue(&mut settle, queue);
        settle_unsent(shared, settle, tag, delivery.body, done).await;
        return None;
    }

    let result = match cfg.refused.clone() {
        Some(reason) => AttemptResult {
            delivered: false,
            status_code: None,
            duration: Duration::ZERO,
            error: Some(reason),
            response_excerpt: None,
        },
        None => {
            deliver_one(
                &shared.client,
                &cfg.url,
                &cfg.secrets,
                msg.delivery_id.as_str(),
                delivery.body.clone(),
                shared.settings.timeout,
            )
            .await
        }
    };
    drop(http_slot);
    let outcome_label = if result.delivered {
        "delivered"
    } else {
        "failed"
    };
    metrics::counter!("hookfleet_deliveries_total", "outcome" => outcome_label).increment(1);
    metrics::histogram!("hookfleet_delivery_duration_seconds")
        .record(result.duration.as_secs_f64());
    let now = hookfleet_core::now_utc();
    let (status, mut settle, wait, disable_reason) = decide(cfg, &msg, &result);
    if disable_reason.is_some()
        && let Some(stop) = stop
    {
        // Stop taking this subscription's messages at once; other workers hear of it after
        // the batch commits.
        stop.cancel();
    }
    fill_queue(&mut settle, queue);
    let outcome = OutcomeRow {
        delivery_id: msg.delivery_id.to_string(),
        event_id: msg.event_id.to_string(),
        subscription_id: cfg.id.to_string(),
        organization_id: msg.organization_id.clone(),
        service_partition: msg.service_partition.clone(),
        attempt: msg.attempt,
        status,
        sent_at: now - result.duration,
        status_code: result.status_code.map(i32::from),
        duration_ms: i32::try_from(result.duration.as_millis()).unwrap_or(i32::MAX),
        error: result.error,
        response_excerpt: result.response_excerpt,
        next_attempt_at: wait.map(|w| now + w),
        is_test: msg.is_test,
        disable_reason: disable_reason.clone(),
    };
    // FIFO never lets a message fall behind later ones: a retry waits here, in place, and a
    // 410 leaves the message at the head of the queue (the FIFO loop stops and closes its
    // channel) to wait for the subscription to be enabled.
    let retry_in_place = match (&settle, fifo, wait, &disable_reason) {
        (Settle::Retry { attempt, .. }, true, Some(w), None) => Some((*attempt, w)),
        _ => None,
    };
    let settle = if fifo && (retry_in_place.is_some() || disable_reason.is_some()) {
        Settle::Hold
    } else {
        settle
    };
    // A FIFO retry keeps the message to send again in place; otherwise the body moves on.
    let (data, kept) = match retry_in_place {
        Some((next_attempt, w)) => (delivery.body.clone(), Some((next_attempt, w, delivery))),
        None => (delivery.body, None),
    };
    submit(
        shared,
        Pending {
            outcome: Some(outcome),
            poison: None,
            settle,
            tag,
            data,
            done,
        },
    )
    .await;
    kept
}

/// Unordered delivery of one message.
async fn handle_delivery(
    shared: &Shared,
    cfg: &SubConfig,
    delivery: Delivery,
    http_slot: tokio::sync::OwnedSemaphorePermit,
    done: mpsc::UnboundedSender<Completion>,
    stop: &CancellationToken,
) {
    attempt_and_submit(shared, cfg, delivery, http_slot, done, Some(stop), None).await;
}

/// FIFO delivery of one attempt; `Some` when the message is to be held and retried in place.
async fn handle_fifo_attempt(
    shared: &Shared,
    cfg: &SubConfig,
    delivery: Delivery,
    http_slot: tokio::sync::OwnedSemaphorePermit,
    done: mpsc::UnboundedSender<Completion>,
    attempt_override: Option<i32>,
) -> Option<(i32, Duration, Delivery)> {
    attempt_and_submit(
        shared,
        cfg,
        delivery,
        http_slot,
        done,
        None,
        attempt_override,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(tag: u64, verdict: Verdict) -> Completion {
        Completion { tag, verdict }
    }

    #[test]
    fn acks_only_up_to_the_oldest_message_still_in_flight() {
        let mut t = AckTracker::default();
        for tag in 1..=5 {
            t.received(tag);
        }
        t.settled(&done(2, Verdict::Ack));
        t.settled(&done(3, Verdict::Requeue));
        assert_eq!(t.take_ack_point(), None, "tag 1 is still in flight");
        t.settled(&done(1, Verdict::Ack));
        assert_eq!(
            t.take_ack_point(),
            Some(2),
            "1 and 2 ready; 3 was requeued on its own"
        );
        t.settled(&done(5, Verdict::Ack));
        assert_eq!(t.take_ack_point(), None, "4 is in flight");
        t.settled(&done(4, Verdict::Requeue));
        assert_eq!(t.take_ack_point(), Some(5));
        assert!(t.idle());
        assert_eq!(t.take_ack_point(), None);
    }
}
