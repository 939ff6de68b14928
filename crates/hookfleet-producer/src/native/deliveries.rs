//! The delivery log (per subscription and per delivery), replay of one delivery, recovery of a
//! window of failed deliveries, and test sends. Replays go straight to the subscription's
//! queue, so only that subscription sees them.
use crate::{
    AppState,
    error::{ApiError, AppResult},
    extract::{ApiJson, ApiPath, ApiQuery, page_limit},
};
use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use hookfleet_bus::BusError;
use hookfleet_core::{DeliveryId, EventId, Invalid, SubscriptionId};
use hookfleet_store::{Cursor, DeliveryStatus, LogFilter, ReplayRow};
use serde::Deserialize;
use serde_json::{Value, json};
use std::{collections::HashSet, sync::Arc};

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/subscriptions/{id}/test", post(test_send))
        .route("/v1/subscriptions/{id}/recover", post(recover))
        .route(
            "/v1/subscriptions/{id}/deliveries",
            get(subscription_deliveries),
        )
        .route("/v1/deliveries", get(all_deliveries))
        .route("/v1/deliveries/{id}", get(get_delivery))
        .route("/v1/deliveries/{id}/retry", post(retry_delivery))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogQuery {
    subscription_id: Option<String>,
    status: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    organization_id: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `GET /v1/subscriptions/{id}/deliveries`: newest first, `next_cursor` until the last page.
pub(crate) async fn subscription_deliveries(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> AppResult<Json<Value>> {
    let sub = state.subscription(&id).await?;
    let page = log_page(&state, Some(sub.id), q).await?;
    Ok(Json(
        json!({"data": page.data, "next_cursor": page.next_cursor}),
    ))
}

/// `GET /v1/deliveries`: the log across subscriptions, newest first, with the same filters
/// (and `subscription_id`) and cursor pages.
pub(crate) async fn all_deliveries(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> AppResult<Json<Value>> {
    let page = log_page(&state, None, q).await?;
    Ok(Json(
        json!({"data": page.data, "next_cursor": page.next_cursor}),
    ))
}

/// One page of the delivery log, as `q` asks; `subscription_id` (from the path) wins over
/// the query's.
pub(crate) async fn log_page(
    state: &AppState,
    subscription_id: Option<SubscriptionId>,
    q: LogQuery,
) -> AppResult<hookfleet_store::LogPage> {
    let status = q
        .status
        .as_deref()
        .map(|s| {
            DeliveryStatus::parse(s).ok_or_else(|| {
                ApiError::invalid(Invalid::new(
                    "status",
                    "must be pending, delivered, failed or exhausted",
                ))
            })
        })
        .transpose()?;
    let (event_type, organization_id) = super::filters::type_and_organization(
        q.event_type.as_deref(),
        q.organization_id.as_deref(),
    )?;
    let filter = LogFilter {
        subscription_id: match subscription_id {
            Some(id) => Some(id),
            None => q
                .subscription_id
                .as_deref()
                .map(super::filters::subscription)
                .transpose()?,
        },
        status,
        event_type,
        organization_id,
        since: q
            .since
            .as_deref()
            .map(|s| super::filters::parse_time("since", s))
            .transpose()?,
        until: q
            .until
            .as_deref()
            .map(|s| super::filters::parse_time("until", s))
            .transpose()?,
    };
    let limit = page_limit(q.limit)?;
    let cursor = crate::extract::cursor(q.cursor.as_deref(), Cursor::decode)?;
    Ok(state
        .store
        .deliveries(&filter, limit, cursor.as_ref())
        .await?)
}

/// `GET /v1/deliveries/{id}`: one delivery, every attempt with its response excerpt.
pub(crate) async fn get_delivery(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Value>> {
    let id = DeliveryId::parse(&id).ok_or_else(|| ApiError::not_found("delivery"))?;
    let d = state
        .store
        .delivery(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    Ok(Json(serde_json::to_value(d).unwrap_or_default()))
}

/// Puts a recorded delivery back on its subscription's queue as its next attempt.
async fn enqueue(state: &AppState, row: &ReplayRow) -> AppResult<()> {
    enqueue_all(&*state.bus()?, std::slice::from_ref(row))
        .await
        .map_err(|e| ApiError::unavailable("Failed to enqueue a replay", &e))
}

/// `POST /v1/deliveries/{id}/retry`: one more attempt now, on the same `webhook-id`.
pub(crate) async fn retry_delivery(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let id = DeliveryId::parse(&id).ok_or_else(|| ApiError::not_found("delivery"))?;
    let row = state
        .store
        .replay_row(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    state.subscription(row.subscription_id.as_str()).await?;
    let exhausted = state
        .store
        .delivery(&id)
        .await?
        .is_some_and(|d| d.status == hookfleet_store::DeliveryStatus::Exhausted);
    enqueue(&state, &row).await?;
    // An exhausted delivery's message is parked in `hookfleet.dead`: once the retry is on its
    // queue, take that copy out, so a later recovery cannot send it again.
    let removed = if exhausted {
        remove_parked_copy(&state, &row).await
    } else {
        0
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "delivery_id": row.delivery_id,
            "attempt": row.attempts + 1,
            "removed_from_dead": removed,
        })),
    ))
}

/// Walks the dead queue for `row`'s parked copy (one walk at a time per producer, as
/// recoveries do). A failure leaves the copy as an archive entry and is logged: the retry
/// itself is done.
async fn remove_parked_copy(state: &AppState, row: &ReplayRow) -> u32 {
    let _guard = state.recover_lock.lock().await;
    let Ok(bus) = state.bus() else { return 0 };
    let wanted: HashSet<&str> = std::iter::once(row.delivery_id.as_str()).collect();
    match bus
        .admin
        .remove_parked(
            &bus.publisher,
            &state.topology,
            row.subscription_id.as_str(),
            &wanted,
        )
        .await
    {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %crate::error::error_chain(&e), delivery = %row.delivery_id, "Retried an exhausted delivery, but failed to take its parked copy out of the dead queue");
            0
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecoverRequest {
    since: String,
    #[serde(default)]
    until: Option<String>,
    /// At most this many, the oldest first (1–100,000); absent, every one in the window.
    #[serde(default)]
    limit: Option<i64>,
    /// The previous step's `next_cursor`.
    #[serde(default)]
    cursor: Option<String>,
}

/// The most deliveries one recovery call claims. Each is held in memory with its event's data
/// until the broker confirms its replay, so a window of a million failures is recovered in
/// calls of this size (`next_cursor`), never read whole.
const MAX_RECOVER_STEP: i64 = 10_000;

/// `POST /v1/subscriptions/{id}/recover {since, until?, limit?, cursor?}`: re-enqueues the
/// oldest failed or exhausted deliveries created in the window (at most `limit`), once, and
/// takes their parked copies out of `hookfleet.dead` so the recovery itself delivers nothing
/// twice; `next_cursor` continues after them.
pub(crate) async fn recover(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<RecoverRequest>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let sub = state.subscription(&id).await?;
    let since = super::filters::parse_time("since", &req.since)?;
    let until = req
        .until
        .as_deref()
        .map(|s| super::filters::parse_time("until", s))
        .transpose()?;
    if req
        .limit
        .is_some_and(|l| !(1..=MAX_RECOVER_STEP).contains(&l))
    {
        return Err(ApiError::invalid(Invalid::new(
            "limit",
            "must be 1 to 10000 (left out: 10000)",
        )));
    }
    let window = hookfleet_store::RecoverWindow {
        subscription_id: &sub.id,
        since,
        until,
        limit: Some(req.limit.unwrap_or(MAX_RECOVER_STEP)),
        after: crate::extract::cursor(req.cursor.as_deref(), Cursor::decode)?,
    };
    // One recovery at a time per producer: each walks the whole dead queue.
    let _guard = state.recover_lock.lock().await;
    let bus = state.bus()?;
    // The replays are confirmed on the subscription's queue before the claim commits, and the
    // parked copies are removed only after that: a failure at any point loses nothing.
    let hookfleet_store::Claimed {
        rows: claimed,
        remaining,
        next_cursor,
    } = state
        .store
        .claim_recoverable(&window, |rows| async {
            enqueue_all(&bus, &rows).await?;
            Ok::<_, BusError>(rows)
        })
        .await?
        .map_err(|e| ApiError::unavailable("Failed to enqueue the recovered deliveries", &e))?;
    let wanted: HashSet<&str> = claimed.iter().map(|r| r.delivery_id.as_str()).collect();
    let removed = if wanted.is_empty() {
        0
    } else {
        match bus
            .admin
            .remove_parked(&bus.publisher, &state.topology, sub.id.as_str(), &wanted)
            .await
        {
            Ok(n) => n,
            Err(e) => {
                // The recovery happened; a parked copy left behind is an archive entry that
                // nothing delivers on its own. Say so rather than answer 503 for a done job.
                tracing::warn!(error = %crate::error::error_chain(&e), subscription = %sub.id, "Recovered deliveries, but failed to take every parked copy out of the dead queue");
                0
            }
        }
    };
    state.notify_workers().await;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "recovered": claimed.len(),
            "removed_from_dead": removed,
            "remaining": remaining,
            "next_cursor": next_cursor,
        })),
    ))
}

/// Publishes every row's next attempt to its subscription's queue and waits for the broker
/// to confirm them all (sent together, confirmed together).
async fn enqueue_all(bus: &crate::Bus, rows: &[ReplayRow]) -> Result<(), BusError> {
    let mut pending = Vec::with_capacity(rows.len());
    for row in rows {
        pending.push(
            bus.publisher
                .enqueue_attempt(
                    &row.subscription_id,
                    row.attempts + 1,
                    row.is_test,
                    &row.body(),
                )
                .await?,
        );
    }
    for confirm in pending {
        confirm.wait().await?;
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestRequest {
    event_type: String,
    #[serde(default)]
    data: Option<Box<serde_json::value::RawValue>>,
}

/// `POST /v1/subscriptions/{id}/test {event_type}`: a sample event delivered to this
/// subscription only, through its queue and workers, marked as a test in the log.
pub(crate) async fn test_send(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<TestRequest>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let sub = state.subscription(&id).await?;
    let data = req.data.map_or_else(
        || r#"{"message":"A test event from hookfleet"}"#.to_owned(),
        |d| d.get().to_owned(),
    );
    let row = send_test(&state, &sub, req.event_type, data).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"event_id": row.event_id, "delivery_id": row.delivery_id})),
    ))
}

/// A test event of `event_type` with `data` (JSON text), through the subscription's queue
/// and workers to it alone, marked as a test in the log.
pub(crate) async fn send_test(
    state: &AppState,
    sub: &hookfleet_store::SubscriptionRow,
    event_type: String,
    data: String,
) -> AppResult<ReplayRow> {
    hookfleet_core::event::validate_event_type(&event_type).map_err(ApiError::invalid)?;
    if !data.trim_start().starts_with('{') {
        return Err(ApiError::invalid(Invalid::new(
            "data",
            "must be a JSON object",
        )));
    }
    hookfleet_core::storable::check_json("data", &data).map_err(ApiError::invalid)?;
    let event_id = EventId::random();
    let timestamp = hookfleet_core::now_millis();
    state
        .store
        .insert_test_event(&event_id, &event_type, &timestamp, &data)
        .await?;
    let row = ReplayRow {
        delivery_id: DeliveryId::derive(&event_id, None, None, &sub.id),
        subscription_id: sub.id.clone(),
        event_id: event_id.clone(),
        event_type,
        timestamp,
        organization_id: None,
        service_partition: None,
        data,
        attempts: 0,
        is_test: true,
        source: None,
    };
    enqueue(state, &row).await?;
    Ok(row)
}
