//! A subscription's signing secrets: shown (`GET /v1/subscriptions/{id}/secret`) and rotated
//! with a grace during which the replaced one still signs.
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
use serde_json::{Value, json};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/subscriptions/{id}/secret", get(get_secret))
        .route("/v1/subscriptions/{id}/secret/rotate", post(rotate_secret))
}

async fn get_secret(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(secret_view(&state.subscription(&id).await?)))
}

/// `POST /v1/subscriptions/{id}/secret/rotate`: a new signing secret at once; deliveries carry
/// a signature from each valid secret, so receivers switch without rejecting anything.
async fn rotate_secret(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
    ApiJsonOrDefault(body): ApiJsonOrDefault<super::Rotate>,
) -> AppResult<Json<Value>> {
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

fn secret_view(row: &SubscriptionRow) -> Value {
    json!({
        "key": row.secrets.first(),
        "keys": row.secrets,
        "previous_keys_expire_at": row
            .previous_secrets_expire_at
            .and_then(|t| t.format(&Rfc3339).ok()),
    })
}
