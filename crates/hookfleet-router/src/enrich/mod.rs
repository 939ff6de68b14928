//! The enricher (source document 003's "fetch the entity"): consumes the identity provider's
//! buffered hook events, maps each by the document's table, fetches the user or organization
//! from the provider's admin API, and puts the event in the document's shape on
//! `hookfleet.ingest`, fanned out by the record's organizations and service partitions.
//!
//! Promise 8: a hook message is acked only once its event is confirmed into ingest, once it is
//! found to need nothing (an event outside the document's table; the private passkey event,
//! handled), or once it is parked like ingest poison (in `hookfleet.dead`, noted in
//! `poison_messages` with its reason, logged and counted) because it never will publish: it
//! cannot be decoded, its entity is gone, the admin API's answer for it cannot be read, or the
//! event it makes breaks a rule of the intake. Each path has its own
//! `hookfleet_hook_events_total` outcome. While the admin API is down, slow or failing for one
//! entity (or the record cannot take a poison note), the event goes back to the bus through a
//! retry rung (1 s, 5 s, then every 30 s) and its slot goes to the next one: events wait in the
//! bus, none dropped, none published half-filled, and neither other hook events nor native ones
//! are held up. Ingest event ids derive from the hook event's id, so the plugin's retries of
//! one event are delivered once.
use anyhow::Context;
use hookfleet_bus::{Acker, Consumer, Message, Publisher, Topology};
use hookfleet_core::{KeySpace, NewEvent, keycloak::HookEvent, source::Source};
use hookfleet_store::Store;
use std::{sync::Arc, time::Duration};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

mod admin;
mod mapping;

pub use admin::KeycloakAdmin;
use admin::{Admin, FetchError};
use mapping::Action;

/// Hook events enriched at once (each waits on the admin API).
const CONCURRENCY: usize = 32;
/// Unacked hook messages the broker may push to the enricher.
pub const PREFETCH: u16 = 64;
/// Waits before an event is tried again: after its first failure, its second, then each.
pub const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
];
/// At most one warning per this long while events wait (an outage would otherwise log once
/// per event per try).
const WARN_EVERY_SECS: u64 = 10;
/// The hook queue's name on `hookfleet_poison_messages_total`.
const POISON_LABEL: &str = "hooks";

/// Why an event is not published now.
enum Hold {
    /// An outage (admin API, broker): it waits in the bus and is tried again.
    Wait(String),
    /// It never will be: parked with this reason, counted under this outcome.
    Park {
        outcome: &'static str,
        reason: String,
    },
}

impl Hold {
    fn park(outcome: &'static str, why: impl std::fmt::Display) -> Self {
        Self::Park {
            outcome,
            reason: format!("{outcome}: {why}"),
        }
    }
}

impl From<FetchError> for Hold {
    fn from(e: FetchError) -> Self {
        match e {
            FetchError::Unavailable(why) => Self::Wait(why),
            FetchError::Gone(what) => Self::park("entity_gone", what),
            FetchError::Unreadable(why) => Self::park("unreadable", why),
        }
    }
}

struct Enricher {
    admin: Admin,
    /// Where parked events are noted (`poison_messages`).
    store: Store,
    publisher: Publisher,
    topology: Topology,
    acker: Acker,
    /// Unix seconds of the last "events wait" warning, and how many waited since.
    last_warning: std::sync::atomic::AtomicU64,
    waited: std::sync::atomic::AtomicU64,
}

/// Opens the enricher's consumer and publisher on the router's session and runs it.
pub(crate) async fn start(
    session: &hookfleet_bus::Session,
    store: &Store,
    topology: &Topology,
    settings: &KeycloakAdmin,
    shutdown: &CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<()>>> {
    let hooks = session
        .consume(&topology.hooks(), PREFETCH)
        .await
        .context("Failed to consume the hook queue")?;
    let publisher = session
        .publisher(topology, 1)
        .await
        .context("Failed to open the enricher's publisher channel")?;
    Ok(tokio::spawn(run(
        hooks,
        publisher,
        store.clone(),
        topology.clone(),
        settings.clone(),
        shutdown.clone(),
    )))
}

/// Runs until `shutdown`; an error means the broker session is gone (the role restarts).
pub async fn run(
    mut consumer: Consumer,
    publisher: Publisher,
    store: Store,
    topology: Topology,
    settings: KeycloakAdmin,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let enricher = Arc::new(Enricher {
        admin: Admin::new(settings)?,
        store,
        publisher,
        topology,
        acker: consumer.acker(),
        last_warning: std::sync::atomic::AtomicU64::new(0),
        waited: std::sync::atomic::AtomicU64::new(0),
    });
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    tracing::info!(queue = %enricher.topology.hooks(), "Enricher consuming");
    loop {
        let message = tokio::select! {
            _ = shutdown.cancelled() => break,
            next = consumer.next() => match next {
                Some(Ok(m)) => m,
                Some(Err(e)) => return Err(e).context("The hook consumer failed"),
                None => anyhow::bail!("The broker cancelled the hook consumer"),
            },
        };
        let permit = slots.clone().acquire_owned().await?;
        let e = enricher.clone();
        tokio::spawn(async move {
            e.handle(message).await;
            drop(permit);
        });
    }
    // Messages in hand are settled by their tasks, or returned by the broker when the channel
    // closes (once per shutdown or lost session).
    Ok(())
}

impl Enricher {
    /// One hook message to its end: published or handled (acked), parked, or sent back to wait.
    async fn handle(&self, message: Message) {
        // The hook refuses at the edge what this decoder refuses, so only a message put on the
        // queue some other way (by hand, by an older version) gets here undecodable.
        let decided = match HookEvent::decode(&message.body) {
            Ok(event) => self.enrich(&event).await,
            Err(invalid) => Err(Hold::park("undecodable", invalid)),
        };
        match decided {
            Ok(outcome) => self.finish(&message, outcome).await,
            Err(Hold::Wait(why)) => self.later(&message, &why).await,
            Err(Hold::Park { outcome, reason }) => self.park(&message, outcome, &reason).await,
        }
    }

    /// Parks an event that will never publish the way the ingest loop parks poison. Should the
    /// broker or the record not take it, it waits like an outage instead: never acked away.
    async fn park(&self, message: &Message, outcome: &'static str, reason: &str) {
        let ctx = crate::park::Ctx {
            store: &self.store,
            publisher: &self.publisher,
            topology: &self.topology,
            acker: &self.acker,
        };
        let queue = self.topology.hooks();
        match crate::park::park(&ctx, &queue, POISON_LABEL, &[(message, reason)]).await {
            Ok(()) => {
                metrics::counter!("hookfleet_hook_events_total", "outcome" => outcome).increment(1);
            }
            Err(e) => {
                self.later(message, &format!("parking it failed: {e:#}"))
                    .await;
            }
        }
    }

    /// Sends the event back to the buffer through a retry rung, then acks this copy. Should
    /// the broker not take it, the send is tried again here, never requeued: a requeue counts
    /// toward the hook queue's delivery limit (20 by default on RabbitMQ 4), past which the
    /// broker dead-letters it. Once the channels are gone, the broker returns this copy.
    async fn later(&self, message: &Message, why: &str) {
        use std::sync::atomic::Ordering::Relaxed;
        metrics::counter!("hookfleet_hook_enrich_retries_total").increment(1);
        let waited = self.waited.fetch_add(1, Relaxed) + 1;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.last_warning.load(Relaxed);
        if now >= last + WARN_EVERY_SECS
            && self
                .last_warning
                .compare_exchange(last, now, Relaxed, Relaxed)
                .is_ok()
        {
            self.waited.store(0, Relaxed);
            tracing::warn!(error = %why, waited, "Identity-provider events cannot be enriched yet; they wait in the bus");
        }
        let attempt = message.headers.attempt_number();
        let delay = RETRY_DELAYS[(attempt as usize - 1).min(RETRY_DELAYS.len() - 1)];
        let mut failures = 0u32;
        loop {
            let scheduled = async {
                self.publisher
                    .delay_hook(&message.body, delay, attempt.saturating_add(1))
                    .await?
                    .wait()
                    .await
            };
            let Err(e) = scheduled.await else {
                if let Err(e) = self.acker.ack(message.tag).await {
                    tracing::warn!(error = %e, "Failed to ack a hook event sent back to wait");
                }
                return;
            };
            if !self.publisher.is_connected() || !self.acker.is_open() {
                // Left unacked: the broker returns it with the channel (once per lost session).
                tracing::warn!(error = %e, "Failed to send a hook event back to wait; the broker returns it");
                return;
            }
            failures = failures.saturating_add(1);
            if failures == 1 {
                tracing::warn!(error = %e, "Failed to send a hook event back to wait; trying again");
            }
            // Its slot stays taken meanwhile: the prefetch bounds what the enricher holds.
            tokio::time::sleep(Duration::from_millis(500u64 << failures.min(6))).await;
        }
    }

    async fn finish(&self, message: &Message, outcome: &'static str) {
        metrics::counter!("hookfleet_hook_events_total", "outcome" => outcome).increment(1);
        if let Err(e) = self.acker.ack(message.tag).await {
            // The broker redelivers it; the derived event id keeps that from publishing twice.
            tracing::warn!(error = %e, "Failed to ack an enriched hook event");
        }
    }

    /// One event to its outcome: `published`, `unmapped` or `passkey_preferred`, or why not.
    async fn enrich(&self, event: &HookEvent) -> Result<&'static str, Hold> {
        let (event_type, data, orgs, partitions) = match mapping::action(event) {
            Action::Unmapped => return Ok("unmapped"),
            Action::PreferPasskey { user_id } => {
                self.admin.prefer_passkey(&user_id).await?;
                return Ok("passkey_preferred");
            }
            Action::User {
                event_type,
                user_id,
            } => {
                let (user, orgs) = self.admin.user(&user_id).await?;
                let parts = mapping::attribute_values(&user, "service_partition");
                (event_type, mapping::user_body(&user), orgs, parts)
            }
            Action::Organization { group_id } => {
                let group = self.admin.group(&group_id).await?;
                let parts = mapping::attribute_values(&group, "service_partition");
                let id = group["id"].as_str().unwrap_or(&group_id).to_owned();
                (
                    "organization.created",
                    mapping::organization_body(&group),
                    vec![id],
                    parts,
                )
            }
        };
        let client = event
            .auth_details
            .as_ref()
            .and_then(|a| a.client_id.clone())
            .filter(|c| Source::text_fits(c));
        let new = NewEvent {
            event_type: event_type.to_owned(),
            organization_ids: (!orgs.is_empty()).then_some(orgs),
            service_partitions: (!partitions.is_empty()).then_some(partitions),
            data: serde_json::value::to_raw_value(&data)
                .map_err(|e| FetchError::Unavailable(e.to_string()))?,
            idempotency_key: Some(event.id.clone()),
            source: Some(Source {
                sender: Some(event.sender()),
                client,
                ..Source::default()
            }),
        };
        // The provider's own key space, per realm: its retries of one event are one event,
        // and no client key can name it.
        let space = KeySpace::Keycloak {
            realm: event.realm_name.clone(),
        };
        let ingest = match new.accept(&space, None) {
            Ok(i) => i,
            Err(invalid) => {
                // The provider's record breaks a rule of the intake (an id too long to route):
                // waiting will not change it.
                return Err(Hold::park(
                    "refused",
                    format_args!("the event made from it breaks a rule of the intake: {invalid}"),
                ));
            }
        };
        let confirmed = async { self.publisher.publish_ingest(&ingest).await?.wait().await };
        confirmed
            .await
            .map_err(|e| FetchError::Unavailable(format!("ingest did not confirm: {e}")))?;
        Ok("published")
    }
}
