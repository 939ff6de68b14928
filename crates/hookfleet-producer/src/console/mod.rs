//! The web console at `/console`: a small front end of plain HTML, CSS and JavaScript (no build
//! step, nothing fetched from elsewhere at run time) compiled into the binary and served
//! without credentials. The pages hold no data: the script asks the user for the admin token or
//! an API key with the `admin` scope, keeps it in the tab's `sessionStorage`, and reads and acts
//! through the native JSON API with it, so the API's own authentication guards every datum.
//! Every answer carries a strict Content-Security-Policy (same origin only, no inline script or
//! style), and the script renders outside data as text, never as markup.
use crate::extract::ApiPath;
use axum::{
    Router,
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use std::sync::{Arc, OnceLock};

/// Same origin only; no inline script or style, no frames, no form posts elsewhere. Images
/// only from the console itself (it has none today).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// The assets under `/console/`, by file name: content type and text.
const ASSETS: &[(&str, &str, &str)] = &[
    ("style.css", CSS, include_str!("assets/style.css")),
    ("favicon.svg", SVG, include_str!("assets/favicon.svg")),
    ("app.js", JS, include_str!("assets/app.js")),
    ("api.js", JS, include_str!("assets/api.js")),
    ("dom.js", JS, include_str!("assets/dom.js")),
    ("health.js", JS, include_str!("assets/health.js")),
    (
        "subscriptions.js",
        JS,
        include_str!("assets/subscriptions.js"),
    ),
    (
        "subscription.js",
        JS,
        include_str!("assets/subscription.js"),
    ),
    ("log.js", JS, include_str!("assets/log.js")),
    ("delivery.js", JS, include_str!("assets/delivery.js")),
];

pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/console", get(index))
        .route("/console/", get(index))
        .route("/console/{file}", get(asset))
}

/// The page, with the fleet's version filled in (the delivery page shows the `user-agent`
/// the workers send).
async fn index() -> Response {
    static PAGE: OnceLock<Arc<str>> = OnceLock::new();
    let page = PAGE.get_or_init(|| {
        include_str!("assets/index.html")
            .replace("%VERSION%", env!("CARGO_PKG_VERSION"))
            .into()
    });
    with_headers(HTML, page.to_string())
}

async fn asset(ApiPath(file): ApiPath<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, body)) => with_headers(content_type, *body),
        None => crate::error::ApiError::not_found("console asset").into_response(),
    }
}

fn with_headers(content_type: &'static str, body: impl IntoResponse) -> Response {
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    let set = [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Small and compiled in: always ask again, so a new binary's console is used at once.
        (header::CACHE_CONTROL, "no-cache"),
    ];
    for (name, value) in set {
        h.insert::<HeaderName>(name, HeaderValue::from_static(value));
    }
    res
}
