//! `/v1/channels`: the channels the event-lifecycle dialect (document 001) posts to. A channel
//! is created with a password of 8 to 128 characters, kept only as an argon2id hash (made on
//! the password check threads, see `lifecycle::passwords`: it is slow on purpose, and those
//! threads bound its memory); neither is ever shown back.
use crate::{
    AppState,
    error::{ApiError, AppResult},
    extract::{ApiJson, ApiPath},
};
use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use hookfleet_core::{ChannelId, Invalid, channel};
use serde_json::{Value, json};
use std::sync::Arc;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/channels", post(create_channel).get(list_channels))
        .route("/v1/channels/{id}", get(get_channel).delete(delete_channel))
        .route("/v1/channels/{id}/events/{event_id}", get(get_event))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewChannel {
    name: String,
    password: String,
}

async fn create_channel(
    State(state): State<Arc<AppState>>,
    ApiJson(new): ApiJson<NewChannel>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let name = new.name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid(Invalid::new("name", "must not be blank")));
    }
    hookfleet_core::storable::check_text("name", name, channel::MAX_NAME_LEN)
        .map_err(ApiError::invalid)?;
    channel::validate_password(&new.password).map_err(ApiError::invalid)?;
    let hash = state.passwords.hash(&new.password).await.map_err(|e| {
        ApiError::unavailable(
            "Failed to hash a channel password",
            &std::io::Error::other(e),
        )
    })?;
    let row = state
        .store
        .create_channel(&ChannelId::random(), name, &hash)
        .await?;
    super::directory_changed(&state).await;
    Ok((StatusCode::CREATED, Json(json!(row))))
}

async fn list_channels(State(state): State<Arc<AppState>>) -> AppResult<Json<Value>> {
    Ok(Json(json!({ "data": state.store.channels().await? })))
}

async fn get_channel(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Value>> {
    let id = ChannelId::parse(&id).ok_or_else(|| ApiError::not_found("channel"))?;
    let row = state
        .store
        .channel(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("channel"))?;
    Ok(Json(json!(row)))
}

async fn delete_channel(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<StatusCode> {
    let id = ChannelId::parse(&id).ok_or_else(|| ApiError::not_found("channel"))?;
    if !state.store.delete_channel(&id).await? {
        return Err(ApiError::not_found("channel"));
    }
    super::directory_changed(&state).await;
    Ok(StatusCode::NO_CONTENT)
}

/// A lifecycle event's current state.
async fn get_event(
    State(state): State<Arc<AppState>>,
    ApiPath((id, event_id)): ApiPath<(String, String)>,
) -> AppResult<Json<Value>> {
    let id = ChannelId::parse(&id).ok_or_else(|| ApiError::not_found("event"))?;
    let row = state
        .store
        .lifecycle_event(&id, &event_id)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    Ok(Json(json!(row)))
}
