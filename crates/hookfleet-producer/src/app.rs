//! The producer's HTTP app: every route group (the native API and the source documents'
//! dialects) merged with the probes (`probes`) and the API's description (`/openapi.json`), answers for
//! unknown routes and methods, and the request counter.
use crate::{AppState, error::ApiError};
use axum::{
    Router,
    extract::{MatchedPath, Request},
    http::StatusCode,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use std::sync::Arc;

pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .merge(crate::native::routes(&state))
        .merge(crate::partner::routes(&state))
        .merge(crate::lifecycle::routes(&state))
        .merge(crate::webhooks::routes(&state))
        .merge(crate::keycloak::routes())
        .merge(crate::console::routes())
        .route("/healthz", get(crate::probes::healthz))
        .route("/readyz", get(crate::probes::readyz))
        .route("/openapi.json", get(crate::openapi::openapi_json))
        .fallback(|| async { ApiError::not_found("route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::audit::log_change,
        ))
        .layer(middleware::from_fn(count_requests))
        .layer(middleware::from_fn(limit_uri))
        .with_state(state)
}

/// The longest request target the API reads (a request line's usual limit). Over it the
/// answer is 414 with the error envelope; over 64 KiB the HTTP layer itself answers 414 (with
/// no body) before any route sees the request.
const MAX_URI: usize = 8 * 1024;

async fn limit_uri(req: Request, next: Next) -> Response {
    let len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if len > MAX_URI {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            "the request's path and query are longer than 8 KiB",
        )
        .into_response();
    }
    next.run(req).await
}

async fn count_requests(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let res = next.run(req).await;
    let class = format!("{}xx", res.status().as_u16() / 100);
    metrics::counter!("hookfleet_http_requests_total", "route" => route, "status" => class)
        .increment(1);
    res
}
