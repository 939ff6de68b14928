//! `/v1/api-keys`: create (the key shown once), list, read, rotate (two generations valid for a
//! grace) and revoke API keys. Only a hash of each key is stored. Every change reloads this
//! producer's key ring at once and tells the others by a control notice.
use super::{Rotate, tags::KEYS};
use crate::pages::List;
use crate::{
    AppState,
    error::{ApiError, AppResult},
    extract::{ApiJson, ApiJsonOrDefault, ApiPath},
};
use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use hookfleet_core::{
    ApiKeyId,
    api_key::{self, Key},
};
use hookfleet_store::ApiKeyRow;
use serde::Serialize;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/api-keys", post(create_key).get(list_keys))
        .route("/v1/api-keys/{id}", get(get_key).delete(revoke_key))
        .route("/v1/api-keys/{id}/rotate", post(rotate_key))
}

/// `POST /v1/api-keys`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[schema(as = NewApiKey)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewKey {
    #[schema(example = "ci", min_length = 1, max_length = 128)]
    name: String,
    /// `admin`, `installation:<id>`, `channel:<id>` or `organization:<id>`.
    #[schema(min_items = 1, max_items = 100, example = json!(["organization:acme"]),
        value_type = Vec<hookfleet_core::openapi::ScopeName>)]
    scopes: Vec<String>,
}

/// An API key; `key` only in the answers that made or rotated it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApiKey {
    id: String,
    name: String,
    scopes: Vec<String>,
    #[schema(format = DateTime)]
    created_at: String,
    /// Until when the key it replaced still works.
    #[schema(format = DateTime)]
    previous_valid_until: Option<String>,
    #[schema(format = DateTime)]
    revoked_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

/// The row as shown, with the key itself (only when it was just made).
fn view(row: &ApiKeyRow, key: Option<&Key>) -> ApiKey {
    let time = |t: time::OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    ApiKey {
        id: row.id.to_string(),
        name: row.name.clone(),
        scopes: row.scopes.clone(),
        created_at: time(row.created_at),
        previous_valid_until: row.previous_valid_until.map(time),
        revoked_at: row.revoked_at.map(time),
        key: key.map(|k| k.expose().to_owned()),
    }
}

/// Makes an API key; the answer shows the key this once.
#[utoipa::path(post, path = "/v1/api-keys", tag = KEYS, security(("admin_token" = [])),
    request_body = NewKey,
    responses((status = 201, description = "Made", body = ApiKey)))]
pub(crate) async fn create_key(
    State(state): State<Arc<AppState>>,
    ApiJson(new): ApiJson<NewKey>,
) -> AppResult<(StatusCode, Json<ApiKey>)> {
    let scopes = api_key::validate(&new.name, &new.scopes).map_err(ApiError::invalid)?;
    let scopes: Vec<String> = scopes.iter().map(api_key::Scope::as_string).collect();
    let key = Key::generate();
    let row = state
        .store
        .create_api_key(&ApiKeyId::random(), new.name.trim(), &scopes, &key.hash())
        .await?;
    super::directory_changed(&state).await;
    Ok((StatusCode::CREATED, Json(view(&row, Some(&key)))))
}

/// Every API key (revoked ones too), without the keys.
#[utoipa::path(get, path = "/v1/api-keys", tag = KEYS, security(("admin_token" = [])),
    responses((status = 200, description = "The keys", body = List<ApiKey>)))]
pub(crate) async fn list_keys(State(state): State<Arc<AppState>>) -> AppResult<Json<List<ApiKey>>> {
    let rows = state.store.api_keys().await?;
    let data = rows.iter().map(|r| view(r, None)).collect();
    Ok(Json(List { data }))
}

async fn load(state: &AppState, id: &str) -> AppResult<ApiKeyRow> {
    let id = ApiKeyId::parse(id).ok_or_else(|| ApiError::not_found("API key"))?;
    state
        .store
        .api_key(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))
}

#[utoipa::path(get, path = "/v1/api-keys/{id}", tag = KEYS, security(("admin_token" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The key, without the key", body = ApiKey)))]
pub(crate) async fn get_key(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<ApiKey>> {
    Ok(Json(view(&load(&state, &id).await?, None)))
}

/// Revokes a key: every producer refuses it within `HOOKFLEET_KEY_RELOAD_INTERVAL`.
// Both generations of the key at once.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = KEYS, security(("admin_token" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "Revoked")))]
pub(crate) async fn revoke_key(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<StatusCode> {
    let row = load(&state, &id).await?;
    if !state.store.revoke_api_key(&row.id).await? {
        return Err(ApiError::not_found("API key"));
    }
    super::directory_changed(&state).await;
    Ok(StatusCode::NO_CONTENT)
}

/// A new key at once; the replaced one keeps working for `previous_valid_for`.
// Default 24h, at most 7d, `0s` to stop it now.
#[utoipa::path(post, path = "/v1/api-keys/{id}/rotate", tag = KEYS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    request_body(content = Option<Rotate>, description = "May be empty"),
    responses((status = 200, description = "Rotated; shows the new key", body = ApiKey)))]
pub(crate) async fn rotate_key(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
    ApiJsonOrDefault(body): ApiJsonOrDefault<Rotate>,
) -> AppResult<Json<ApiKey>> {
    let grace = body.grace()?;
    let row = load(&state, &id).await?;
    let key = Key::generate();
    let rotated = state
        .store
        .rotate_api_key(&row.id, &key.hash(), grace)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))?;
    super::directory_changed(&state).await;
    Ok(Json(view(&rotated, Some(&key))))
}
