//! `/v1/events`: posting events, reading the record of events, and one event's deliveries.
use crate::{
    AppState,
    error::{ApiError, AppResult},
    extract::{ApiJson, ApiPath, ApiQuery, page_limit},
    intake,
};
use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use hookfleet_core::{EventId, IngestEvent, KeySpace, NewEvent};
use serde_json::{Value, json};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;

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

async fn create_event(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiJson(new): ApiJson<NewEvent>,
) -> AppResult<(StatusCode, Json<Value>)> {
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

/// What an accepted event's answer says of it (alone, or as a batch item).
fn accepted(event: &IngestEvent) -> Value {
    json!({
        "id": event.id,
        "type": event.event_type,
        "timestamp": event.timestamp.format(&Rfc3339).unwrap_or_default(),
        "organization_ids": event.organization_ids,
        "service_partitions": event.service_partitions,
        "idempotency_key": event.idempotency_key,
    })
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    /// Each item is read on its own, so a malformed one refuses only itself.
    events: Vec<Value>,
}

/// Up to [`MAX_BATCH`] events in one call. The answer is 200 with one result per item, in
/// order: `{"status": 202, "event": {…}}` for an accepted event (stored by the broker, as with
/// `POST /v1/events`), or `{"status": 400|413|422|503, "error": {code, message}}` for one that
/// was not. Each item's `idempotency_key` works as on the single route.
async fn create_batch(
    State(state): State<Arc<AppState>>,
    ApiJson(batch): ApiJson<Batch>,
) -> AppResult<Json<Value>> {
    let n = batch.events.len();
    if n == 0 || n > MAX_BATCH {
        return Err(ApiError::invalid(hookfleet_core::Invalid::new(
            "events",
            format!("must hold 1 to {MAX_BATCH} events, not {n}"),
        )));
    }
    // Malformed items are answered here; the readable ones go to the intake together.
    let mut answers: Vec<Option<Value>> = Vec::with_capacity(n);
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
    let data: Vec<Value> = answers
        .into_iter()
        .map(|answer| match answer {
            Some(refused) => refused,
            None => match results.next() {
                Some(Ok(event)) => {
                    accepted_count += 1;
                    json!({"status": 202, "event": accepted(&event)})
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
    Ok(Json(json!({
        "accepted": accepted_count,
        "refused": n - accepted_count,
        "data": data,
    })))
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

fn item_error(e: ApiError) -> Value {
    json!({"status": e.status().as_u16(), "error": {"code": e.code(), "message": e.message()}})
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    organization_id: Option<String>,
}

/// `GET /v1/events`: the recorded events, newest first (by when they were recorded), optionally
/// of one type or carrying one organization; `next_cursor` until the last page. An accepted
/// event appears once the router has recorded it, moments after its `202`.
async fn list_events(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Json<Value>> {
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
    let next_cursor = more.then(|| rows.last().map(|r| r.id.clone())).flatten();
    Ok(Json(json!({ "data": rows, "next_cursor": next_cursor })))
}

/// `GET /v1/events/{id}`: the event as recorded, with when it was received and fanned out.
async fn show_event(
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

async fn event_deliveries(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Value>> {
    let id = EventId::parse(&id).ok_or_else(|| ApiError::not_found("event"))?;
    let deliveries = state
        .store
        .event_deliveries(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    Ok(Json(json!({ "data": deliveries })))
}
