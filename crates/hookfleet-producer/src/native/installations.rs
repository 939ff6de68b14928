//! `/v1/installations`: the installations partners post events for (`partner` dialect). An id
//! is the partner's `integrationConfigurationId`, given on creation (or made up when absent).
use crate::{
    AppState,
    error::{ApiError, AppResult},
    extract::{ApiJson, ApiPath},
};
use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use hookfleet_core::Invalid;
use serde_json::{Value, json};
use std::sync::Arc;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/v1/installations",
            axum::routing::post(create_installation).get(list_installations),
        )
        .route(
            "/v1/installations/{id}",
            get(get_installation).delete(delete_installation),
        )
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewInstallation {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// An installation id: 1 to 64 letters, digits, `_`, `-` or `.`.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

async fn create_installation(
    State(state): State<Arc<AppState>>,
    ApiJson(new): ApiJson<NewInstallation>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let id = new
        .id
        .unwrap_or_else(|| format!("icfg_{}", &hookfleet_core::EventId::random().as_str()[4..]));
    if !valid_id(&id) {
        return Err(ApiError::invalid(Invalid::new(
            "id",
            "must be 1 to 64 letters, digits, `_`, `-` or `.`",
        )));
    }
    if let Some(name) = &new.name {
        hookfleet_core::storable::check_text("name", name, 128).map_err(ApiError::invalid)?;
    }
    let row = state
        .store
        .create_installation(&id, new.name.as_deref())
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("the installation `{id}` exists already"),
            )
        })?;
    super::directory_changed(&state).await;
    Ok((StatusCode::CREATED, Json(json!(row))))
}

async fn list_installations(State(state): State<Arc<AppState>>) -> AppResult<Json<Value>> {
    Ok(Json(json!({ "data": state.store.installations().await? })))
}

async fn get_installation(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Value>> {
    let row = state
        .store
        .installation(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("installation"))?;
    Ok(Json(json!(row)))
}

async fn delete_installation(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<StatusCode> {
    if !state.store.delete_installation(&id).await? {
        return Err(ApiError::not_found("installation"));
    }
    super::directory_changed(&state).await;
    Ok(StatusCode::NO_CONTENT)
}
