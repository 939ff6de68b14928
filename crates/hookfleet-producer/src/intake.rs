//! The one way an event enters the fleet, whatever route or dialect it came by: validated
//! (`hookfleet_core`, with the id derived from the idempotency key when there is one),
//! published to `hookfleet.ingest`, and confirmed by the broker before anyone answers success.
//! A dialect maps its body to a [`NewEvent`] and an [`IntakeError`] to its own envelope.
use crate::AppState;
use hookfleet_bus::Outgoing;
use hookfleet_core::{IngestEvent, Invalid, NewEvent};

#[derive(Debug, thiserror::Error)]
pub(crate) enum IntakeError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The broker is away or did not confirm: nothing was accepted.
    #[error("{context}")]
    Unavailable {
        context: &'static str,
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Validates `new`, publishes it, and returns the accepted event once the broker confirmed it.
/// `header_key` is an idempotency key sent beside the body (`Idempotency-Key`).
pub(crate) async fn submit(
    state: &AppState,
    new: NewEvent,
    header_key: Option<&str>,
) -> Result<IngestEvent, IntakeError> {
    let event = new.accept(header_key)?;
    let unavailable = |context: &'static str| {
        move |cause: Box<dyn std::error::Error + Send + Sync>| IntakeError::Unavailable {
            context,
            cause,
        }
    };
    let body = serde_json::to_vec(&event)
        .map_err(|e| unavailable("Failed to encode an event")(Box::new(e)))?;
    let bus = state
        .bus_session()
        .ok_or_else(|| unavailable("The broker is unreachable")("no broker session".into()))?;
    // mandatory: if the ingest queue is missing the broker returns the message and we say 503
    // rather than answering success for an event nobody will route.
    let outgoing = Outgoing::with_message_id(event.id.as_str());
    let published = async {
        let ingest = state.topology.ingest();
        bus.publisher
            .send("", &ingest, true, &body, &outgoing)
            .await?
            .wait()
            .await
    };
    published
        .await
        .map_err(|e| unavailable("Failed to publish an event to the ingest queue")(Box::new(e)))?;
    metrics::counter!("hookfleet_events_ingested_total").increment(1);
    Ok(event)
}
