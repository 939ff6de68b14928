//! Sending deliveries again: one delivery as its next attempt, recovery of a window of failed
//! deliveries, and test sends. Replays go straight to the subscription's lane (its own queue,
//! or on the shared tier its shard, naming it), so only that subscription sees them.
use super::subscriptions::lane;
use super::tags::DELIVERIES;
use crate::{
    AppState,
    error::{ApiError, AppResult},
    extract::{ApiJson, ApiPath},
};
use axum::{Json, Router, extract::State, http::StatusCode, routing::post};
use hookfleet_bus::{BusError, Lane};
use hookfleet_core::{DeliveryId, EventId, Invalid};
use hookfleet_store::{Cursor, ReplayRow};
use serde::{Deserialize, Serialize};
use std::{collections::HashSet, sync::Arc};
use utoipa::ToSchema;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/subscriptions/{id}/test", post(test_send))
        .route("/v1/subscriptions/{id}/recover", post(recover))
        .route("/v1/deliveries/{id}/retry", post(retry_delivery))
}

/// Puts a recorded delivery back on its subscription's queue as its next attempt.
async fn enqueue(state: &AppState, lane: Lane, row: &ReplayRow) -> AppResult<()> {
    enqueue_all(&*state.bus()?, lane, std::slice::from_ref(row))
        .await
        .map_err(|e| ApiError::unavailable("Failed to enqueue a replay", &e))
}

/// `POST /v1/deliveries/{id}/retry`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Retried {
    delivery_id: String,
    /// The number the new attempt will carry.
    #[schema(format = Int64)]
    attempt: i32,
    #[schema(format = Int64)]
    removed_from_dead: u32,
}

/// Sends a delivery again now, as a new attempt on the same `webhook-id`.
#[utoipa::path(post, path = "/v1/deliveries/{id}/retry", tag = DELIVERIES,
    security(("admin_token" = [])), params(("id" = String, Path)),
    responses((status = 202, description = "Queued", body = Retried)))]
pub(crate) async fn retry_delivery(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<(StatusCode, Json<Retried>)> {
    let id = DeliveryId::parse(&id).ok_or_else(|| ApiError::not_found("delivery"))?;
    let row = state
        .store
        .replay_row(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    let sub = state.subscription(row.subscription_id.as_str()).await?;
    let exhausted = state
        .store
        .delivery(&id)
        .await?
        .is_some_and(|d| d.status == hookfleet_store::DeliveryStatus::Exhausted);
    enqueue(&state, lane(&sub), &row).await?;
    // An exhausted delivery's message is parked in `hookfleet.dead`: once the retry is on its
    // queue, take that copy out, so a later recovery cannot send it again.
    let removed = if exhausted {
        remove_parked_copy(&state, &row).await
    } else {
        0
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(Retried {
            delivery_id: row.delivery_id.to_string(),
            attempt: row.attempts + 1,
            removed_from_dead: removed,
        }),
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

/// `POST /v1/subscriptions/{id}/recover`: the window of creation times, RFC 3339.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = Recover)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecoverRequest {
    #[schema(format = DateTime)]
    since: String,
    #[serde(default)]
    #[schema(format = DateTime)]
    until: Option<String>,
    /// At most this many, oldest first (absent: 10,000); `next_cursor` continues.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10000)]
    limit: Option<i64>,
    /// The previous step's `next_cursor`.
    #[serde(default)]
    cursor: Option<String>,
}

/// The most deliveries one recovery call claims. Each is held in memory with its event's data
/// until the broker confirms its replay, so a window of a million failures is recovered in
/// calls of this size (`next_cursor`), never read whole.
const MAX_RECOVER_STEP: i64 = 10_000;

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Recovered {
    recovered: u64,
    #[schema(format = Int64)]
    removed_from_dead: u32,
    /// How many in the window are left for later steps.
    remaining: i64,
    /// `null` when nothing remains.
    next_cursor: Option<String>,
}

/// Re-enqueues the `failed` or `exhausted` deliveries created in the window, once (at most
/// `limit`, oldest first; pass `next_cursor` back as `cursor` for the next step).
//
// Their parked copies are taken out of `hookfleet.dead`, so the recovery itself delivers
// nothing twice.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/recover", tag = DELIVERIES,
    security(("admin_token" = [])), params(("id" = String, Path)),
    request_body = RecoverRequest,
    responses((status = 202, description = "Re-enqueued", body = Recovered)))]
pub(crate) async fn recover(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<RecoverRequest>,
) -> AppResult<(StatusCode, Json<Recovered>)> {
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
            enqueue_all(&bus, lane(&sub), &rows).await?;
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
        Json(Recovered {
            recovered: claimed.len() as u64,
            removed_from_dead: removed,
            remaining,
            next_cursor,
        }),
    ))
}

/// Publishes every row's next attempt to its subscription's queue and waits for the broker
/// to confirm them all (sent together, confirmed together).
async fn enqueue_all(bus: &crate::Bus, lane: Lane, rows: &[ReplayRow]) -> Result<(), BusError> {
    let mut pending = Vec::with_capacity(rows.len());
    for row in rows {
        pending.push(
            bus.publisher
                .enqueue_attempt(
                    &row.subscription_id,
                    lane,
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

/// `POST /v1/subscriptions/{id}/test`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = TestSend)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestRequest {
    #[schema(example = "order.paid")]
    event_type: String,
    /// A JSON object (default: a sample message).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    data: Option<Box<serde_json::value::RawValue>>,
}

/// What a test send queued.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TestSent {
    event_id: String,
    delivery_id: String,
}

/// Delivers a sample event to this subscription only, marked `is_test` in the log.
// Through its queue and workers.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/test", tag = DELIVERIES,
    security(("admin_token" = [])), params(("id" = String, Path)),
    request_body = TestRequest,
    responses((status = 202, description = "Queued", body = TestSent)))]
pub(crate) async fn test_send(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<TestRequest>,
) -> AppResult<(StatusCode, Json<TestSent>)> {
    let sub = state.subscription(&id).await?;
    let data = req.data.map_or_else(
        || r#"{"message":"A test event from hookfleet"}"#.to_owned(),
        |d| d.get().to_owned(),
    );
    let row = send_test(&state, &sub, req.event_type, data).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(TestSent {
            event_id: row.event_id.to_string(),
            delivery_id: row.delivery_id.to_string(),
        }),
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
    enqueue(state, lane(sub), &row).await?;
    Ok(row)
}
