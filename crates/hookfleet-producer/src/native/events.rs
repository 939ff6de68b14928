//! `/v1/events`: posting an event, and one event's deliveries.
use crate::{
    AppState,
    error::{ApiError, AppResult},
    extract::{ApiJson, ApiPath},
    intake,
};
use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::{get, post},
};
use hookfleet_core::{EventId, NewEvent};
use serde_json::{Value, json};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/events", post(create_event))
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
    let event = intake::submit(&state, new, header_key).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "id": event.id,
            "type": event.event_type,
            "timestamp": event.timestamp.format(&Rfc3339).unwrap_or_default(),
            "organization_ids": event.organization_ids,
            "service_partitions": event.service_partitions,
            "idempotency_key": event.idempotency_key,
        })),
    ))
}

async fn event_deliveries(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Value>> {
    let id = EventId::parse(&id).ok_or_else(|| ApiError::not_found("event"))?;
    let deliveries = state
        .store
        .event_deliveries(id.as_str())
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    Ok(Json(json!({ "data": deliveries })))
}
