//! `/v1/events`: posting events, reading the record of events, and one event's deliveries.
use super::tags::EVENTS;
use crate::{
    AppState,
    error::{ApiError, AppResult},
    error::{ErrorAnswer, ErrorBody},
    extract::{ApiJson, ApiPath, ApiQuery, page_limit},
    intake,
    pages::{List, Page},
};
use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use hookfleet_core::{EventId, IngestEvent, KeySpace, NewEvent};
use hookfleet_store::{DeliveryView, EventRecord};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

/// Whose keys the native API's are: only admin credentials may call it, and they share one
/// space, so a retry sent with a rotated admin key is still the same event.
const NATIVE: KeySpace = KeySpace::Native;

/// Most events one `POST /v1/events/batch` may carry.
pub const MAX_BATCH: usize = 1_000;

/// `POST /v1/events/batch`, in a group of its own for its larger body limit.
pub(super) fn batch_routes() -> Router<Arc<AppState>> {
    Router::new().route("/v1/events/batch", post(create_batch))
}

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/events", post(create_event).get(list_events))
        .route("/v1/events/{id}", get(show_event))
        .route("/v1/events/{id}/deliveries", get(event_deliveries))
}

/// Sends one event; `202` once the broker has confirmed it into a durable queue.
#[utoipa::path(post, path = "/v1/events", tag = EVENTS, security(("admin_token" = [])),
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Same as `idempotency_key` in the body")),
    request_body = NewEvent,
    responses(
        (status = 202, description = "Accepted: the broker has it", body = AcceptedEvent),
        (status = 409, description = "`idempotency_key_reused`: the key names a recorded event \
            with another type, data, organizations or partitions", body = ErrorAnswer),
    ))]
pub(crate) async fn create_event(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiJson(new): ApiJson<NewEvent>,
) -> AppResult<(StatusCode, Json<AcceptedEvent>)> {
    let header_key = headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str().map_err(|_| {
                ApiError::invalid(hookfleet_core::Invalid::new(
                    "idempotency_key",
                    "the header is not text",
                ))
            })
        })
        .transpose()?;
    let event = intake::submit(&state, new, &NATIVE, header_key, intake::Repeats::Compare).await?;
    Ok((StatusCode::ACCEPTED, Json(accepted(&event))))
}

/// What `202` says of an accepted event: the broker has it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AcceptedEvent {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    #[schema(format = DateTime)]
    timestamp: String,
    organization_ids: Vec<String>,
    service_partitions: Vec<String>,
    idempotency_key: Option<String>,
}

/// What an accepted event's answer says of it (alone, or as a batch item).
fn accepted(event: &IngestEvent) -> AcceptedEvent {
    AcceptedEvent {
        id: event.id.to_string(),
        event_type: event.event_type.clone(),
        timestamp: event.timestamp.format(&Rfc3339).unwrap_or_default(),
        organization_ids: event.organization_ids.clone(),
        service_partitions: event.service_partitions.clone(),
        idempotency_key: event.idempotency_key.clone(),
    }
}

/// `POST /v1/events/batch`.
#[derive(serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Batch {
    /// 1 to 1,000 events, each a `NewEvent` read on its own: an item that is not one (even
    /// `null`) refuses only itself, in the answer's `data`.
    #[schema(min_items = 1, max_items = 1000)]
    events: Vec<Value>,
}

/// The answer to a batch: one result per item, in order.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BatchResult {
    accepted: u64,
    refused: u64,
    data: Vec<BatchItem>,
}

/// `{"status": 202, "event": …}` or `{"status": 400|413|422|503, "error": …}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BatchItem {
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<AcceptedEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorBody>,
}

/// Sends up to 1,000 events in one call (body up to 8 MiB); one result per item, in order.
//
// Up to [`MAX_BATCH`] events in one call. The answer is 200 with one result per item, in
// order: `{"status": 202, "event": {…}}` for an accepted event (stored by the broker, as with
// `POST /v1/events`), or `{"status": 400|413|422|503, "error": {code, message}}` for one that
// was not. Each item's `idempotency_key` works as on the single route.
#[utoipa::path(post, path = "/v1/events/batch", tag = EVENTS, security(("admin_token" = [])),
    request_body = Batch,
    responses((status = 200, description = "One result per item", body = BatchResult)))]
pub(crate) async fn create_batch(
    State(state): State<Arc<AppState>>,
    ApiJson(batch): ApiJson<Batch>,
) -> AppResult<Json<BatchResult>> {
    let n = batch.events.len();
    if n == 0 || n > MAX_BATCH {
        return Err(ApiError::invalid(hookfleet_core::Invalid::new(
            "events",
            format!("must hold 1 to {MAX_BATCH} events, not {n}"),
        )));
    }
    // Malformed items are answered here; the readable ones go to the intake together.
    let mut answers: Vec<Option<BatchItem>> = Vec::with_capacity(n);
    let mut readable = Vec::with_capacity(n);
    for v in batch.events {
        // An item is held to the single route's body limit, so a batch cannot carry an event
        // that `POST /v1/events` would refuse as too large.
        if encoded_len(&v) > super::BODY_LIMIT {
            answers.push(Some(item_error(ApiError::too_large(super::BODY_LIMIT))));
            continue;
        }
        match serde_json::from_value::<NewEvent>(v) {
            Ok(new) => {
                answers.push(None);
                readable.push(new);
            }
            Err(e) => answers.push(Some(item_error(ApiError::invalid_json(format!(
                "invalid event: {e}"
            ))))),
        }
    }
    let mut results = intake::submit_batch(&state, &NATIVE, readable)
        .await
        .into_iter();
    let mut accepted_count = 0;
    let data: Vec<BatchItem> = answers
        .into_iter()
        .map(|answer| match answer {
            Some(refused) => refused,
            None => match results.next() {
                Some(Ok(event)) => {
                    accepted_count += 1;
                    BatchItem {
                        status: StatusCode::ACCEPTED.as_u16(),
                        event: Some(accepted(&event)),
                        error: None,
                    }
                }
                Some(Err(e)) => item_error(ApiError::from(e)),
                None => item_error(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "no result for this item",
                )),
            },
        })
        .collect();
    Ok(Json(BatchResult {
        accepted: accepted_count,
        refused: n as u64 - accepted_count,
        data,
    }))
}

/// The length of `v` as JSON, counted without building the text.
fn encoded_len(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a Value to a counter cannot fail.
    let _ = serde_json::to_writer(&mut count, v);
    count.0
}

fn item_error(e: ApiError) -> BatchItem {
    BatchItem {
        status: e.status().as_u16(),
        event: None,
        error: Some(e.body()),
    }
}

#[derive(Debug, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// 1 to 1,000 (100)
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page
    cursor: Option<String>,
    /// Only events of this type
    #[serde(rename = "type")]
    event_type: Option<String>,
    /// Only events carrying this organization
    organization_id: Option<String>,
}

/// The record of events, newest first; test sends are not listed.
//
// Newest first by when they were recorded, optionally of one type or carrying one
// organization; `next_cursor` until the last page. An accepted event appears once the router
// has recorded it, moments after its `202`.
#[utoipa::path(get, path = "/v1/events", tag = EVENTS, security(("admin_token" = [])),
    params(ListQuery),
    responses((status = 200, description = "A page of events", body = Page<EventRecord>)))]
pub(crate) async fn list_events(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Json<Page<EventRecord>>> {
    let limit = page_limit(q.limit)?;
    let after = crate::extract::cursor(q.cursor.as_deref(), EventId::parse)?;
    let (event_type, organization_id) = super::filters::type_and_organization(
        q.event_type.as_deref(),
        q.organization_id.as_deref(),
    )?;
    let filter = hookfleet_store::EventFilter {
        event_type,
        organization_id,
    };
    let mut rows = state
        .store
        .list_events(&filter, limit + 1, after.as_ref())
        .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more
        .then(|| rows.last().map(|r| r.id.to_string()))
        .flatten();
    Ok(Json(Page {
        data: rows,
        next_cursor,
    }))
}

/// One event as recorded (`404` until the router has recorded it, moments after its `202`).
// With when it was received and fanned out.
#[utoipa::path(get, path = "/v1/events/{id}", tag = EVENTS, security(("admin_token" = [])),
    params(("id" = String, Path, description = "The event's id (`evt_…`)")),
    responses((status = 200, description = "The event", body = EventRecord)))]
pub(crate) async fn show_event(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<hookfleet_store::EventRecord>> {
    let id = EventId::parse(&id).ok_or_else(|| ApiError::not_found("event"))?;
    let event = state
        .store
        .event(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    Ok(Json(event))
}

/// Every delivery of one event, with their attempts.
#[utoipa::path(get, path = "/v1/events/{id}/deliveries", tag = EVENTS,
    security(("admin_token" = [])),
    params(("id" = String, Path, description = "The event's id (`evt_…`)")),
    responses((status = 200, description = "Its deliveries", body = List<DeliveryView>)))]
pub(crate) async fn event_deliveries(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<List<DeliveryView>>> {
    let id = EventId::parse(&id).ok_or_else(|| ApiError::not_found("event"))?;
    let deliveries = state
        .store
        .event_deliveries(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    Ok(Json(List { data: deliveries }))
}
