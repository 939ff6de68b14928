//! The one way an event enters the fleet, whatever route or dialect it came by: validated
//! (`hookfleet_core`, with the id derived from the idempotency key and its [`KeySpace`], the
//! dialect and tenant it came from, when there is one),
//! published to `hookfleet.ingest`, and confirmed by the broker before anyone answers success.
//! A dialect maps its body to a [`NewEvent`] and an [`IntakeError`] to its own envelope.
use crate::AppState;
use crate::Bus;
use hookfleet_bus::Confirm;
use hookfleet_core::{EventId, IngestEvent, Invalid, KeySpace, NewEvent};
use hookfleet_store::KeyedRecord;

#[derive(Debug, thiserror::Error)]
pub(crate) enum IntakeError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The idempotency key's event is recorded with another type, data or scope.
    #[error("this idempotency key was already used for a different event")]
    KeyReused,
    /// The broker is away or did not confirm: nothing was accepted.
    #[error("{context}")]
    Unavailable {
        context: &'static str,
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// What a repeated idempotency key is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeats {
    /// The same event again (answered as the first, fanned out once), or refused (409).
    Compare,
    /// Taken as the same event: the dialect's key names one call, whose body it rebuilds.
    Trust,
}

/// Validates `new`, publishes it, and returns the accepted event once the broker confirmed it.
/// `header_key` is an idempotency key sent beside the body (`Idempotency-Key`); `space` is
/// whose keys it is among (the caller's dialect and tenant).
pub(crate) async fn submit(
    state: &AppState,
    new: NewEvent,
    space: &KeySpace,
    header_key: Option<&str>,
    repeats: Repeats,
) -> Result<IngestEvent, IntakeError> {
    let mut event = new.accept(space, header_key)?;
    refuse_reused_key(state, &mut event, repeats).await?;
    let bus = state.bus_session().ok_or_else(no_session)?;
    let confirm = publish(&bus, &event).await?;
    confirm
        .wait()
        .await
        .map_err(|e| unavailable(PUBLISH_FAILED, Box::new(e)))?;
    metrics::counter!("hookfleet_events_ingested_total").increment(1);
    Ok(event)
}

/// A batch's events: each item validated and published on its own, then every confirm awaited
/// together, so the batch pays one confirm round trip rather than one per event. An invalid or
/// unconfirmed item fails alone; the rest are accepted.
pub(crate) async fn submit_batch(
    state: &AppState,
    space: &KeySpace,
    items: Vec<NewEvent>,
) -> Vec<Result<IngestEvent, IntakeError>> {
    let bus = state.bus_session();
    let mut pending = Vec::with_capacity(items.len());
    for item in items {
        let sent = async {
            let mut event = item.accept(space, None)?;
            refuse_reused_key(state, &mut event, Repeats::Compare).await?;
            let Some(bus) = bus.as_ref() else {
                return Err(no_session());
            };
            let confirm = publish(bus, &event).await?;
            Ok::<_, IntakeError>((event, confirm))
        };
        pending.push(sent.await);
    }
    let confirmed = futures_util::future::join_all(pending.into_iter().map(|p| async {
        let (event, confirm) = p?;
        confirm
            .wait()
            .await
            .map_err(|e| unavailable(PUBLISH_FAILED, Box::new(e)))?;
        Ok(event)
    }))
    .await;
    let accepted = confirmed.iter().filter(|r| r.is_ok()).count();
    metrics::counter!("hookfleet_events_ingested_total").increment(accepted as u64);
    confirmed
}

/// Refuses a keyed event whose key the record already holds, in the same space, for a
/// different event. The record is the router's, written after the bus: a repeat arriving before
/// the first is recorded, or while the database is away, is accepted, and the router keeps the
/// first (as before). A retry of an event recorded before keys had spaces takes that event's id,
/// so it is still delivered once.
async fn refuse_reused_key(
    state: &AppState,
    event: &mut IngestEvent,
    repeats: Repeats,
) -> Result<(), IntakeError> {
    let Some(key) = event.idempotency_key.as_deref() else {
        return Ok(());
    };
    if repeats == Repeats::Trust {
        return Ok(());
    }
    let legacy = EventId::legacy_for_key(key);
    match state.store.keyed_event(event, &legacy).await {
        Ok(KeyedRecord::Different) => Err(IntakeError::KeyReused),
        Ok(KeyedRecord::SameAsLegacy) => {
            event.id = legacy;
            Ok(())
        }
        Ok(KeyedRecord::Same | KeyedRecord::Nothing) => Ok(()),
        Err(e) => {
            tracing::debug!(error = %e, "Could not compare a repeated idempotency key with the record; accepting");
            Ok(())
        }
    }
}

fn unavailable(
    context: &'static str,
    cause: Box<dyn std::error::Error + Send + Sync>,
) -> IntakeError {
    IntakeError::Unavailable { context, cause }
}

const PUBLISH_FAILED: &str = "Failed to publish an event to the ingest queue";

fn no_session() -> IntakeError {
    unavailable("The broker is unreachable", "no broker session".into())
}

/// Publishes one accepted event to the ingest queue and returns its pending confirm.
async fn publish(bus: &Bus, event: &IngestEvent) -> Result<Confirm, IntakeError> {
    bus.publisher
        .publish_ingest(event)
        .await
        .map_err(|e| unavailable(PUBLISH_FAILED, Box::new(e)))
}

impl From<IntakeError> for crate::error::ApiError {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Invalid(i) => Self::invalid(i),
            IntakeError::KeyReused => Self::key_reused(),
            IntakeError::Unavailable { context, cause } => {
                Self::unavailable(context, cause.as_ref())
            }
        }
    }
}
