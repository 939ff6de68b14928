//! `/v1/installations`: the installations partners post events for (`partner` dialect). An id
//! is the partner's `integrationConfigurationId`, given on creation (or made up when absent).
use super::tags::INSTALLATIONS;
use crate::{
    AppState,
    error::{ApiError, AppResult},
    extract::{ApiJson, ApiPath},
};
use crate::{error::ErrorAnswer, pages::List};
use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use hookfleet_core::Invalid;
use hookfleet_store::InstallationRow;
use std::sync::Arc;
use utoipa::ToSchema;

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

/// `POST /v1/installations`.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewInstallation {
    /// 1 to 64 letters, digits, `_`, `-` or `.` (default: generated).
    #[serde(default)]
    #[schema(pattern = r"^[A-Za-z0-9_.-]{1,64}$")]
    id: Option<String>,
    #[serde(default)]
    #[schema(max_length = 128)]
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

/// Registers a partner installation (document 000).
#[utoipa::path(post, path = "/v1/installations", tag = INSTALLATIONS,
    security(("admin_token" = [])), request_body = NewInstallation,
    responses(
        (status = 201, description = "Made", body = InstallationRow),
        (status = 409, description = "`conflict`: that id exists already", body = ErrorAnswer),
    ))]
pub(crate) async fn create_installation(
    State(state): State<Arc<AppState>>,
    ApiJson(new): ApiJson<NewInstallation>,
) -> AppResult<(StatusCode, Json<InstallationRow>)> {
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
    Ok((StatusCode::CREATED, Json(row)))
}

#[utoipa::path(get, path = "/v1/installations", tag = INSTALLATIONS,
    security(("admin_token" = [])),
    responses((status = 200, description = "Every installation", body = List<InstallationRow>)))]
pub(crate) async fn list_installations(
    State(state): State<Arc<AppState>>,
) -> AppResult<Json<List<InstallationRow>>> {
    Ok(Json(List {
        data: state.store.installations().await?,
    }))
}

#[utoipa::path(get, path = "/v1/installations/{id}", tag = INSTALLATIONS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "The installation", body = InstallationRow)))]
pub(crate) async fn get_installation(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<InstallationRow>> {
    let row = state
        .store
        .installation(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("installation"))?;
    Ok(Json(row))
}

#[utoipa::path(delete, path = "/v1/installations/{id}", tag = INSTALLATIONS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    responses((status = 204, description = "Deleted")))]
pub(crate) async fn delete_installation(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<StatusCode> {
    if !state.store.delete_installation(&id).await? {
        return Err(ApiError::not_found("installation"));
    }
    super::directory_changed(&state).await;
    Ok(StatusCode::NO_CONTENT)
}
