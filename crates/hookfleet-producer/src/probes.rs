//! The probes: `/healthz` (the process is up) and `/readyz` (it reaches its broker and
//! database), answered in plain text without a credential.
use crate::AppState;
use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use std::sync::Arc;

/// The description's group of the probes and the description itself.
pub(crate) const PROBES: &str = "probes";

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = PROBES, security(()),
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain")))]
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// The producer reaches its broker and database.
#[utoipa::path(get, path = "/readyz", tag = PROBES, security(()),
    responses(
        (status = 200, description = "`ready`", body = String, content_type = "text/plain"),
        (status = 503, description = "`not ready`", body = String, content_type = "text/plain"),
    ))]
pub(crate) async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if crate::ready(&state.store, std::slice::from_ref(&state.link)).await {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
    }
}
