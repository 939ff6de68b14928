//! `/v1/channels`: the channels the event-lifecycle dialect (document 001) posts to. A channel
//! is created with a password of 8 to 128 characters, kept only as an argon2id hash (made on
//! the password check threads, see `lifecycle::passwords`: it is slow on purpose, and those
//! threads bound its memory); neither is ever shown back.
use super::tags::CHANNELS;
use crate::pages::List;
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
use hookfleet_store::{ChannelRow, LifecycleRow};
use std::sync::Arc;
use utoipa::ToSchema;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/channels", post(create_channel).get(list_channels))
        .route("/v1/channels/{id}", get(get_channel).delete(delete_channel))
        .route("/v1/channels/{id}/events/{event_id}", get(get_event))
}

/// `POST /v1/channels`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewChannel {
    #[schema(example = "deploys", min_length = 1)]
    name: String,
    /// 8 to 128 characters; stored only as an argon2id hash.
    #[schema(example = "correct-horse-battery", min_length = 8, max_length = 128)]
    password: String,
}

/// Makes a lifecycle channel (document 001) with its password (kept as an argon2id hash).
#[utoipa::path(post, path = "/v1/channels", tag = CHANNELS, security(("admin_token" = [])),
    request_body = NewChannel,
    responses((status = 201, description = "Made", body = ChannelRow)))]
pub(crate) async fn create_channel(
    State(state): State<Arc<AppState>>,
    ApiJson(new): ApiJson<NewChannel>,
) -> AppResult<(StatusCode, Json<ChannelRow>)> {
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
    Ok((StatusCode::CREATED, Json(row)))
}

#[utoipa::path(get, path = "/v1/channels", tag = CHANNELS, security(("admin_token" = [])),
    responses((status = 200, description = "Every live channel", body = List<ChannelRow>)))]
pub(crate) async fn list_channels(
    State(state): State<Arc<AppState>>,
) -> AppResult<Json<List<ChannelRow>>> {
    Ok(Json(List {
        data: state.store.channels().await?,
    }))
}

#[utoipa::path(get, path = "/v1/channels/{id}", tag = CHANNELS, security(("admin_token" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The channel", body = ChannelRow)))]
pub(crate) async fn get_channel(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<ChannelRow>> {
    let id = ChannelId::parse(&id).ok_or_else(|| ApiError::not_found("channel"))?;
    let row = state
        .store
        .channel(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("channel"))?;
    Ok(Json(row))
}

#[utoipa::path(delete, path = "/v1/channels/{id}", tag = CHANNELS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    responses((status = 204, description = "Deleted")))]
pub(crate) async fn delete_channel(
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

/// A lifecycle event's state, as its last accepted call left it.
#[utoipa::path(get, path = "/v1/channels/{id}/events/{event_id}", tag = CHANNELS,
    security(("admin_token" = [])),
    params(("id" = String, Path), ("event_id" = String, Path)),
    responses((status = 200, description = "The event's state", body = LifecycleRow)))]
pub(crate) async fn get_event(
    State(state): State<Arc<AppState>>,
    ApiPath((id, event_id)): ApiPath<(String, String)>,
) -> AppResult<Json<LifecycleRow>> {
    let id = ChannelId::parse(&id).ok_or_else(|| ApiError::not_found("event"))?;
    let row = state
        .store
        .lifecycle_event(&id, &event_id)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    Ok(Json(row))
}
