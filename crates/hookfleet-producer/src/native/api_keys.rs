//! `/v1/api-keys`: create (the key shown once), list, read, rotate (two generations valid for a
//! grace) and revoke API keys. Only a hash of each key is stored. Every change reloads this
//! producer's key ring at once and tells the others by a control notice.
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
use serde_json::{Value, json};
use std::sync::Arc;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/api-keys", post(create_key).get(list_keys))
        .route("/v1/api-keys/{id}", get(get_key).delete(revoke_key))
        .route("/v1/api-keys/{id}/rotate", post(rotate_key))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    name: String,
    scopes: Vec<String>,
}

/// The row as shown, with the key itself (only when it was just made).
fn view(row: &ApiKeyRow, key: Option<&Key>) -> Value {
    let mut v = serde_json::to_value(row).unwrap_or_default();
    if let Some(k) = key {
        v["key"] = json!(k.expose());
    }
    v
}

async fn create_key(
    State(state): State<Arc<AppState>>,
    ApiJson(new): ApiJson<NewKey>,
) -> AppResult<(StatusCode, Json<Value>)> {
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

async fn list_keys(State(state): State<Arc<AppState>>) -> AppResult<Json<Value>> {
    let rows = state.store.api_keys().await?;
    let data: Vec<Value> = rows.iter().map(|r| view(r, None)).collect();
    Ok(Json(json!({ "data": data })))
}

async fn load(state: &AppState, id: &str) -> AppResult<ApiKeyRow> {
    let id = ApiKeyId::parse(id).ok_or_else(|| ApiError::not_found("API key"))?;
    state
        .store
        .api_key(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("API key"))
}

async fn get_key(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(view(&load(&state, &id).await?, None)))
}

/// `DELETE /v1/api-keys/{id}`: revokes both generations of the key at once.
async fn revoke_key(
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

/// `POST /v1/api-keys/{id}/rotate {previous_valid_for?}`: a new key at once; the one it
/// replaces keeps working for the grace (default 24h, at most 7d, `0s` to stop it now).
async fn rotate_key(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
    ApiJsonOrDefault(body): ApiJsonOrDefault<super::Rotate>,
) -> AppResult<Json<Value>> {
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
