//! The operator's record of changes made through the API: one INFO line for each request that
//! changed something the fleet is configured with (subscriptions, webhooks, API keys,
//! installations, channels, test sends, retries, recoveries), saying who (`admin token` or the
//! API key's id), what (the method and the route's template) and which ids (the path's, and
//! the id of what a create made). Never a body, a header, a secret or a URL: the ids are the
//! only values taken from the request or the answer. Events themselves (every dialect's intake)
//! are data, not changes, and are counted by metrics instead.
use crate::{
    AppState,
    auth::{self, Principal},
};
use axum::{
    body::{Body, HttpBody},
    extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State},
    http::Method,
    middleware::Next,
    response::Response,
};
use std::sync::Arc;

/// Routes that change nothing an operator configures: events posted into the fleet.
const INTAKE: &[&str] = &[
    "/v1/events",
    "/v1/events/batch",
    "/v1/installations/{id}/events",
    "/v1/hooks/keycloak",
];

/// The largest answer read for the id of what a create made (answers of changes are small).
const MAX_ANSWER: u64 = 64 * 1024;

/// Whether a request to `route` with `method` is a change this module logs.
fn is_change(method: &Method, route: &str) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        && route.starts_with("/v1/")
        && !INTAKE.contains(&route)
}

/// Who made a change, as the log says it.
fn who(principal: Option<&Principal>) -> String {
    match principal {
        Some(Principal::Admin) => "admin token".to_owned(),
        Some(Principal::Key { id, .. }) => id.to_string(),
        None => "anonymous".to_owned(),
    }
}

/// The middleware: runs the request, then logs it if it was a change that succeeded.
pub(crate) async fn log_change(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let route = match req.extensions().get::<MatchedPath>() {
        Some(p) if is_change(req.method(), p.as_str()) => p.as_str().to_owned(),
        _ => return next.run(req).await,
    };
    let method = req.method().clone();
    let who = who(auth::principal(&state, &req).as_ref());
    let (mut parts, body) = req.into_parts();
    let params: Vec<(String, String)> = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .map(|p| {
            p.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let res = next.run(Request::from_parts(parts, body)).await;
    if !res.status().is_success() {
        return res;
    }
    let (res, made) = made_ids(res).await;
    let mut ids: Vec<String> = params
        .into_iter()
        .map(|(k, v)| {
            if plain(&v) {
                format!("{k}={v}")
            } else {
                format!("{k}=?")
            }
        })
        .collect();
    ids.extend(made);
    tracing::info!(
        who,
        what = format_args!("{method} {route}"),
        ids = ids.join(" "),
        status = res.status().as_u16(),
        "API change"
    );
    res
}

/// The ids a change's answer names (`id`, `delivery_id`), read from a JSON answer of known,
/// small length; the answer goes on unchanged.
async fn made_ids(res: Response) -> (Response, Vec<String>) {
    let is_json = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let small = res
        .body()
        .size_hint()
        .exact()
        .is_some_and(|n| n > 0 && n <= MAX_ANSWER);
    if !is_json || !small {
        return (res, Vec::new());
    }
    let (parts, body) = res.into_parts();
    // A body of exact, known length is whole in memory already: reading it cannot fail midway.
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ANSWER as usize).await else {
        return (Response::from_parts(parts, Body::empty()), Vec::new());
    };
    let ids = ids_in(&bytes);
    (Response::from_parts(parts, Body::from(bytes)), ids)
}

/// `id=…` and `delivery_id=…` of a JSON object, when they are ids (short, plain text).
fn ids_in(bytes: &[u8]) -> Vec<String> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(bytes) else {
        return Vec::new();
    };
    ["id", "delivery_id"]
        .into_iter()
        .filter_map(|k| {
            let v = map.get(k)?.as_str()?;
            plain(v).then(|| format!("{k}={v}"))
        })
        .collect()
}

/// Whether a value has an id's shape (1 to 64 letters, digits, `_`, `-`, `.`): only such values
/// reach the log.
fn plain(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_writes_to_the_configuration_not_events() {
        assert!(is_change(&Method::POST, "/v1/subscriptions"));
        assert!(is_change(&Method::DELETE, "/v1/api-keys/{id}"));
        assert!(is_change(&Method::PATCH, "/v1/subscriptions/{id}"));
        assert!(!is_change(&Method::GET, "/v1/subscriptions"));
        assert!(!is_change(&Method::POST, "/v1/events"));
        assert!(!is_change(&Method::POST, "/v1/installations/{id}/events"));
        assert!(!is_change(&Method::POST, "/event/create"));
    }

    #[test]
    fn only_plain_ids_are_taken_from_an_answer() {
        let ids = ids_in(br#"{"id":"key_01","key":"hfk_secret","delivery_id":"dlv_2"}"#);
        assert_eq!(ids, ["id=key_01", "delivery_id=dlv_2"]);
        assert!(ids_in(br#"{"id":"a b\n"}"#).is_empty());
        assert!(ids_in(b"[1]").is_empty());
    }
}
