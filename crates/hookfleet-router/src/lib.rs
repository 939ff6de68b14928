//! hookfleet-router consumes `hookfleet.ingest`, records each batch of events in PostgreSQL
//! (`ON CONFLICT DO NOTHING`, so an idempotent repeat fans out nothing), expands each new event
//! into one copy per (organization × service partition), publishes the copies to the topic
//! exchange `hookfleet.events` and acks the batch only once every copy is confirmed and the
//! events are marked routed. RabbitMQ's bindings then do the per-subscription fan-out for the
//! subscriptions with a bound queue of their own; for the shared tier (`shared`), whose
//! subscriptions share a few shard queues, the router matches each copy against its index of
//! their filters and puts one copy per subscription on its lane, naming it.
#![forbid(unsafe_code)]

use anyhow::Context;
use futures_util::future::try_join_all;
use hookfleet_bus::{Acker, Message, Publisher, Session, Topology};
use hookfleet_core::{EventId, IngestEvent, SubscriptionId, routing::MAX_KEY_LEN};
use hookfleet_store::{Store, StoreError};
use std::collections::HashMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub mod enrich;
mod park;
mod shared;
pub use enrich::KeycloakAdmin;
use park::{Ctx, park};
use shared::SharedTier;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Unacked ingest messages the broker may push: two batches, so one fills while one writes.
    pub prefetch: u16,
    /// Events per database write and per confirm wait; 500 amortises a commit over many events.
    pub batch_size: usize,
    /// How long a partial batch waits for more events; bounds the latency a quiet period adds.
    pub batch_linger: Duration,
    /// The identity provider's admin API; with it the router also enriches hook events.
    pub keycloak: Option<KeycloakAdmin>,
    /// Safety-net reload of the shared tier's subscriptions, in case a notice was missed.
    pub reload_interval: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            prefetch: 1000,
            batch_size: 500,
            batch_linger: Duration::from_millis(5),
            keycloak: None,
            reload_interval: Duration::from_secs(5),
        }
    }
}

pub fn describe_metrics() {
    metrics::describe_counter!(
        "hookfleet_messages_routed_total",
        "Event copies confirmed onto hookfleet.events."
    );
    metrics::describe_counter!(
        "hookfleet_events_routed_total",
        "Events recorded and fanned out by the router."
    );
    metrics::describe_gauge!(
        "hookfleet_router_shared_subscriptions",
        "Subscriptions of the shared tier (hot ones included) the router copies events to."
    );
    metrics::describe_counter!(
        "hookfleet_events_duplicate_total",
        "Events skipped because their id (idempotency key) was already routed."
    );
    metrics::describe_counter!(
        "hookfleet_poison_messages_total",
        "Messages a stage could not decode, store, route or enrich, parked in hookfleet.dead with their reason, by the queue they came from."
    );
    metrics::describe_counter!(
        "hookfleet_hook_events_total",
        "Identity-provider hook events by outcome: accepted (buffered by the hook); published, unmapped, passkey_preferred (handled by the enricher); entity_gone, refused, undecodable, unreadable (parked in hookfleet.dead)."
    );
    metrics::describe_counter!(
        "hookfleet_hook_enrich_retries_total",
        "Identity-provider hook events sent back to wait because the admin API, the broker or the database was unavailable."
    );
}

/// Shared-tier copies are awaited in chunks of this many: one event may match 100,000
/// subscriptions, and what waits for its confirm is bounded here, not by the match count.
const CONFIRM_CHUNK: usize = 2_000;

/// Chunks published and not yet confirmed, at most: past this the router waits for the oldest
/// chunk's confirms before publishing more. Waiting for all of them every chunk left the
/// pipeline empty during each wait (an event matching 100,000 went out at ~5,000 copies/s with
/// the router mostly idle); a window keeps it full, within 10,000 unconfirmed copies.
const CONFIRM_WINDOW: usize = 4;

/// Every this many periodic reloads of the shared tier, one reads all of it (the others read
/// what changed since the last).
const FULL_RELOAD_EVERY: u32 = 12;

/// What happened to one batch.
#[derive(Debug)]
pub enum BatchOutcome {
    /// Recorded and fanned out; acked.
    Routed {
        events: usize,
        copies: usize,
        duplicates: usize,
    },
    /// A dependency failed: these messages of the batch (all but any poison already parked
    /// and acked) are handed back unsettled, for the caller to try again.
    Held(Vec<Message>),
}

/// Consumes `hookfleet.ingest` until `shutdown`, then finishes the batch in hand and returns.
pub async fn run(
    session: Session,
    store: Store,
    topology: Topology,
    settings: Settings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let publisher = session
        .publisher(&topology, 1)
        .await
        .context("Failed to open the router's publisher channel")?;
    let enricher = match &settings.keycloak {
        Some(kc) => Some(enrich::start(&session, &store, &topology, kc, &shutdown).await?),
        None => None,
    };
    let routing = route(
        &session, &store, &publisher, &topology, &settings, &shutdown,
    );
    let Some(mut enricher) = enricher else {
        return routing.await;
    };
    tokio::pin!(routing);
    // Either loop failing ends the role, so the supervisor starts both again on a new session.
    tokio::select! {
        r = &mut routing => {
            enricher.abort();
            r
        }
        e = &mut enricher => match e {
            Ok(Ok(())) => routing.await,
            Ok(Err(e)) => Err(e),
            Err(panic) => Err(anyhow::anyhow!("the enricher task failed: {panic}")),
        },
    }
}

/// The ingest loop of [`run`].
async fn route(
    session: &Session,
    store: &Store,
    publisher: &Publisher,
    topology: &Topology,
    settings: &Settings,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let mut consumer = session
        .consume(&topology.ingest(), settings.prefetch)
        .await
        .context("Failed to consume the ingest queue")?;
    let acker = consumer.acker();
    // Listening before the first load, so no change made in between goes unheard.
    let mut notices = session
        .notices(topology)
        .await
        .context("Failed to listen for control notices")?;
    let mut shared = SharedTier::empty();
    shared.reload(store, true).await;
    let mut reload = tokio::time::interval(settings.reload_interval);
    let mut reloads = 0u32;
    tracing::info!(queue = %topology.ingest(), "Router consuming");
    let mut failures = 0u32;
    'consume: loop {
        let first = tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = reload.tick() => {
                reloads = reloads.wrapping_add(1);
                shared.reload(store, reloads.is_multiple_of(FULL_RELOAD_EVERY)).await;
                continue;
            }
            notice = notices.next() => match notice {
                Some(Ok(())) => {
                    notices.skip_ready();
                    shared.reload(store, false).await;
                    continue;
                }
                Some(Err(e)) => return Err(e).context("The control listener failed"),
                None => anyhow::bail!("The broker cancelled the control listener"),
            },
            next = consumer.next() => match next {
                Some(Ok(m)) => m,
                Some(Err(e)) => return Err(e).context("The ingest consumer failed"),
                None => anyhow::bail!("The broker cancelled the ingest consumer"),
            },
        };
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + settings.batch_linger;
        while batch.len() < settings.batch_size {
            match tokio::time::timeout_at(deadline, consumer.next()).await {
                Ok(Some(Ok(m))) => batch.push(m),
                Ok(Some(Err(e))) => return Err(e).context("The ingest consumer failed"),
                Ok(None) | Err(_) => break,
            }
        }
        // An outage is waited out with the batch in hand, never requeued: each requeue counts
        // toward a quorum queue's delivery limit (20 by default on RabbitMQ 4), past which the
        // broker dead-letters the message. Memory stays bounded by the prefetch.
        loop {
            match route_batch(store, publisher, topology, &mut shared, &acker, batch).await {
                BatchOutcome::Routed { .. } => {
                    failures = 0;
                    break;
                }
                BatchOutcome::Held(held) => {
                    batch = held;
                    if batch.is_empty() {
                        break;
                    }
                    // Back off so a database or broker outage is not hammered; nothing is lost.
                    failures = failures.saturating_add(1);
                    let wait = Duration::from_millis(100u64 << failures.min(6));
                    tokio::select! {
                        // Closing the channel below returns the batch to the queue: one return
                        // per shutdown, not one per retry.
                        _ = shutdown.cancelled() => break 'consume,
                        // The broker returns the batch with the lost channel; the supervisor
                        // starts the role again on a new session.
                        _ = session.closed() => anyhow::bail!(
                            "The broker session ended while an ingest batch waited to be retried"
                        ),
                        _ = tokio::time::sleep(wait) => {}
                    }
                    anyhow::ensure!(
                        acker.is_open(),
                        "The ingest channel closed while a batch waited to be retried"
                    );
                }
            }
        }
    }
    tracing::info!("Router stopped consuming");
    acker.close("shutdown").await;
    notices.close().await;
    Ok(())
}

/// One ingest message the router cannot process, and why.
struct Poison {
    index: usize,
    reason: String,
}

/// Records, fans out and acks one batch. The unit of work of the router, callable on its own.
///
/// A message that cannot be decoded, stored or fanned out is poison: it is parked in
/// `hookfleet.dead` with its reason, noted in `poison_messages`, and acked, and the rest of
/// the batch goes on. Only an outage (database or broker away) holds the batch: its messages
/// not settled yet come back unacked in [`BatchOutcome::Held`].
async fn route_batch(
    store: &Store,
    publisher: &Publisher,
    topology: &Topology,
    shared: &mut SharedTier,
    acker: &Acker,
    batch: Vec<Message>,
) -> BatchOutcome {
    let ctx = Ctx {
        store,
        publisher,
        topology,
        acker,
    };
    let mut parked = Vec::new();
    match ctx.route(&batch, shared, &mut parked).await {
        Ok(outcome) => outcome,
        Err(e) => {
            tracing::warn!(
                error = format!("{e:#}"),
                "Holding an ingest batch to try it again"
            );
            // Parked poison is acked already: settling it again would close the channel.
            let held = batch
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !parked.contains(i))
                .map(|(_, m)| m)
                .collect();
            BatchOutcome::Held(held)
        }
    }
}

/// Decodes a batch; the same id twice in one batch counts once (the first copy stands for both).
fn decode(batch: &[Message]) -> (Vec<(IngestEvent, usize)>, Vec<Poison>) {
    let mut events: Vec<(IngestEvent, usize)> = Vec::with_capacity(batch.len());
    let mut poison = Vec::new();
    for (index, d) in batch.iter().enumerate() {
        match serde_json::from_slice::<IngestEvent>(&d.body) {
            Ok(ev) if events.iter().all(|(e, _)| e.id != ev.id) => events.push((ev, index)),
            Ok(_) => {}
            Err(e) => poison.push(Poison {
                index,
                reason: format!("undecodable: {e}"),
            }),
        }
    }
    (events, poison)
}

/// The copies of every event still to route; an event whose copies cannot be made is poison.
fn copies_of<'e>(
    events: &'e [(IngestEvent, usize)],
    to_route: &[EventId],
    poison: &mut Vec<Poison>,
) -> Vec<(&'e IngestEvent, Vec<hookfleet_core::EventCopy>)> {
    let mut out = Vec::new();
    for (event, index) in events.iter().filter(|(e, _)| to_route.contains(&e.id)) {
        let reason = match event.fan_out() {
            Ok(copies) if copies.iter().all(|c| c.routing_key.len() <= MAX_KEY_LEN) => {
                out.push((event, copies));
                continue;
            }
            Ok(_) => "a routing key is longer than AMQP allows".to_owned(),
            Err(e) => format!("cannot encode its copies: {e}"),
        };
        poison.push(Poison {
            index: *index,
            reason,
        });
    }
    out
}

impl Ctx<'_> {
    /// Routes `batch` with the shared tier as the record has it now; `parked` gets the indices
    /// of the poison it parked and acked, which a failure after the parking leaves settled.
    async fn route(
        &self,
        batch: &[Message],
        shared: &mut SharedTier,
        parked: &mut Vec<usize>,
    ) -> anyhow::Result<BatchOutcome> {
        shared
            .refresh(self.store)
            .await
            .context("Failed to read the shared tier's routing version")?;
        let shared = &*shared;
        let (events, mut poison) = decode(batch);
        let (to_route, refused) = record_isolating(self.store, &events)
            .await
            .context("Failed to record an event batch")?;
        poison.extend(refused);
        let out = copies_of(&events, &to_route, &mut poison);
        let to_park: Vec<(&Message, &str)> = poison
            .iter()
            .map(|p| (&batch[p.index], p.reason.as_str()))
            .collect();
        park(self, &self.topology.ingest(), "ingest", &to_park)
            .await
            .context("Failed to park poison ingest messages")?;
        parked.extend(poison.iter().map(|p| p.index));
        let (copies, waiting) = self.publish(&out, shared).await?;
        let routed: Vec<&EventId> = out.iter().map(|(e, _)| &e.id).collect();
        // If this fails the copies are out; trying again publishes them again (at-least-once).
        self.store
            .mark_routed_counting(&routed, &waiting)
            .await
            .context("Failed to mark events routed")?;
        let last_good = batch
            .iter()
            .enumerate()
            .rev()
            .find(|(i, _)| !poison.iter().any(|p| p.index == *i));
        if let Some((_, d)) = last_good
            // Parked poison messages are already acked, so `multiple` acks exactly the rest.
            && let Err(e) = self.acker.ack_up_to(d.tag).await
        {
            tracing::warn!(error = %e, "Failed to ack an ingest batch; it will be redelivered");
        }
        // Recorded before (an idempotent repeat), so not routed again; refused ones are poison.
        let duplicates = events
            .iter()
            .filter(|(e, i)| !to_route.contains(&e.id) && !poison.iter().any(|p| p.index == *i))
            .count();
        metrics::counter!("hookfleet_messages_routed_total").increment(copies as u64);
        metrics::counter!("hookfleet_events_routed_total").increment(routed.len() as u64);
        metrics::counter!("hookfleet_events_duplicate_total").increment(duplicates as u64);
        Ok(BatchOutcome::Routed {
            events: routed.len(),
            copies,
            duplicates,
        })
    }

    /// Publishes every copy: once to the events exchange for the bound queues, and once per
    /// matching shared-tier subscription onto its lane; then waits for the broker to confirm
    /// them all. Returns how many were published, and how many went to each shared-tier
    /// subscription (the record counts what waits for each).
    async fn publish(
        &self,
        out: &[(&IngestEvent, Vec<hookfleet_core::EventCopy>)],
        shared: &SharedTier,
    ) -> anyhow::Result<(usize, HashMap<SubscriptionId, i64>)> {
        let mut bound = Vec::new();
        let mut direct = Vec::new();
        let mut unconfirmed = std::collections::VecDeque::new();
        let mut waiting: HashMap<SubscriptionId, i64> = HashMap::new();
        let mut published = 0;
        for (event, copies) in out {
            for copy in copies {
                let confirm = self
                    .publisher
                    .publish_copy(&event.id, copy)
                    .await
                    .context("Failed to publish an event copy")?;
                bound.push(confirm.wait());
                for target in shared.targets(copy, &event.event_type) {
                    let confirm = self
                        .publisher
                        .publish_for(&event.id, &target.id, target.lane, &copy.body)
                        .await
                        .context("Failed to publish a shared-tier copy")?;
                    direct.push(self.landed(confirm, &event.id, target, &copy.body));
                    *waiting.entry(target.id.clone()).or_default() += 1;
                    published += 1;
                    if direct.len() >= CONFIRM_CHUNK {
                        unconfirmed.push_back(std::mem::take(&mut direct));
                        if unconfirmed.len() > CONFIRM_WINDOW
                            && let Some(oldest) = unconfirmed.pop_front()
                        {
                            try_join_all(oldest)
                                .await
                                .context("The broker did not confirm every shared-tier copy")?;
                        }
                    }
                }
            }
        }
        let n = bound.len() + published;
        try_join_all(bound)
            .await
            .context("The broker did not confirm every copy")?;
        unconfirmed.push_back(direct);
        for chunk in unconfirmed {
            try_join_all(chunk)
                .await
                .context("The broker did not confirm every shared-tier copy")?;
        }
        Ok((n, waiting))
    }

    /// Waits for a shared-tier copy's confirm. A hot subscription's queue may be gone (it went
    /// back to its shard and the queue was removed before this router heard): the copy is
    /// returned, and goes to its shard instead, which always exists.
    async fn landed(
        &self,
        confirm: hookfleet_bus::Confirm,
        event_id: &EventId,
        target: &shared::Target,
        body: &[u8],
    ) -> hookfleet_bus::Result<()> {
        match confirm.wait().await {
            Err(hookfleet_bus::BusError::Returned) if target.lane != target.shard => {
                self.publisher
                    .publish_for(event_id, &target.id, target.shard, body)
                    .await?
                    .wait()
                    .await
            }
            other => other,
        }
    }
}

/// Inserts the decoded events and returns the ids still to fan out, with the events PostgreSQL
/// refused as poison (the rest of the batch is recorded). Any other error is an outage.
async fn record_isolating(
    store: &Store,
    events: &[(IngestEvent, usize)],
) -> Result<(Vec<EventId>, Vec<Poison>), StoreError> {
    let (accepted, refused) = hookfleet_store::isolate_refused(events.len(), |range| {
        let part: Vec<&IngestEvent> = events[range].iter().map(|(e, _)| e).collect();
        async move { store.insert_events(&part).await }
    })
    .await?;
    let poison = refused
        .into_iter()
        .map(|(i, e)| Poison {
            index: events[i].1,
            reason: format!("unstorable: {e}"),
        })
        .collect();
    Ok((accepted.into_iter().flatten().collect(), poison))
}
