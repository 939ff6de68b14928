//! A subscription's signing secrets: shown (`GET /v1/subscriptions/{id}/secret`) and rotated
//! with a grace during which the replaced one still signs.
use super::{Rotate, tags::SUBSCRIPTIONS};
use crate::{
    AppState,
    error::{ApiError, AppResult},
    extract::{ApiJsonOrDefault, ApiPath},
};
use axum::{
    Json, Router,
    extract::State,
    routing::{get, post},
};
use hookfleet_core::Secret;
use hookfleet_store::SubscriptionRow;
use serde::Serialize;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/subscriptions/{id}/secret", get(get_secret))
        .route("/v1/subscriptions/{id}/secret/rotate", post(rotate_secret))
}

/// A subscription's signing secrets.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Secrets {
    key: Option<String>,
    keys: Vec<String>,
    #[schema(format = DateTime)]
    previous_keys_expire_at: Option<String>,
}

/// The secrets that sign now, the current one first.
#[utoipa::path(get, path = "/v1/subscriptions/{id}/secret", tag = SUBSCRIPTIONS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "Its secrets", body = Secrets)))]
pub(crate) async fn get_secret(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Secrets>> {
    Ok(Json(secret_view(&state.subscription(&id).await?)))
}

/// A new secret at once; the replaced one keeps signing for `previous_valid_for`.
// Deliveries carry a signature from each valid secret, so receivers switch without rejecting
// anything.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/secret/rotate", tag = SUBSCRIPTIONS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    request_body(content = Option<Rotate>, description = "May be empty"),
    responses((status = 200, description = "Rotated", body = Secrets)))]
pub(crate) async fn rotate_secret(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
    ApiJsonOrDefault(body): ApiJsonOrDefault<Rotate>,
) -> AppResult<Json<Secrets>> {
    let grace = body.grace()?;
    let row = state.subscription(&id).await?;
    let secret = Secret::generate();
    let rotated = state
        .store
        .rotate_secret(&row.id, &secret.expose(), grace)
        .await?
        .ok_or_else(|| ApiError::not_found("subscription"))?;
    state.notify_workers().await;
    Ok(Json(secret_view(&rotated)))
}

fn secret_view(row: &SubscriptionRow) -> Secrets {
    Secrets {
        key: row.secrets.first().cloned(),
        keys: row.secrets.clone(),
        previous_keys_expire_at: row
            .previous_secrets_expire_at
            .and_then(|t| t.format(&Rfc3339).ok()),
    }
}
