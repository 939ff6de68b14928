//! Extractors that answer in the API's envelope: 413 over the body limit (at once when the
//! declared length says so), 408 for a body not sent in time, 415 for a body that is not
//! declared JSON, 400 for bodies that are not a JSON object of the expected shape (unknown
//! fields included), 400 for query strings with unknown parameters or values of the wrong
//! type, and 400 for a path segment that is not text.
use crate::{
    error::ApiError,
    serve::{BodyReadTimeout, Timeouts},
};
use axum::{
    Router,
    body::Bytes,
    extract::{
        DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, RawPathParams, Request,
    },
    http::{HeaderMap, StatusCode, header, request::Parts},
    middleware::{self, Next},
    response::IntoResponse,
};
use serde::de::DeserializeOwned;

/// A route group's body limit, as the extractors see it (for the 413's message).
#[derive(Debug, Clone, Copy)]
struct BodyLimit(usize);

/// What can go wrong reading a JSON body, before any dialect's own rules. Each dialect turns it
/// into its own envelope ([`Envelope`]).
#[derive(Debug)]
pub enum BodyError {
    /// Over the group's limit (declared or read).
    TooLarge(usize),
    /// Not all sent within the body deadline.
    Timeout(std::time::Duration),
    /// Not declared as JSON.
    NotJson,
    /// Not a JSON object of the expected shape (syntax, unknown or missing field…).
    Invalid(String),
}

/// A dialect's error envelope, as the shared body handling needs it.
pub trait Envelope: IntoResponse {
    fn from_body(e: BodyError) -> Self;
}

/// The native envelope's answers to a body it cannot read.
impl Envelope for ApiError {
    fn from_body(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge(limit) => Self::too_large(limit),
            BodyError::Timeout(d) => Self::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!("the body did not arrive within {} ms", d.as_millis()),
            ),
            BodyError::NotJson => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ),
            BodyError::Invalid(m) => Self::invalid_json(m),
        }
    }
}

/// Applies a body limit to a route group: over it, 413 in the group's envelope `E` (at once
/// when `Content-Length` says so).
pub fn with_body_limit<S: Clone + Send + Sync + 'static, E: Envelope + 'static>(
    group: Router<S>,
    limit: usize,
) -> Router<S> {
    group
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn(
            move |req: Request, next: Next| async move {
                // A client is not made to send (nor the server to hold) a body refused anyway.
                if declared_length(&req).is_some_and(|n| n > limit as u64) {
                    return E::from_body(BodyError::TooLarge(limit)).into_response();
                }
                next.run(req).await
            },
        ))
        .layer(axum::Extension(BodyLimit(limit)))
}

fn declared_length(req: &Request) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Reads a JSON object into `T`: declared JSON, within the body deadline and the group's limit.
/// `empty` is what an empty body stands for (`None`: an empty body is invalid).
pub async fn read_json<S: Send + Sync, T: DeserializeOwned>(
    req: Request,
    state: &S,
    empty: Option<fn() -> T>,
) -> Result<T, BodyError> {
    let json = declares_json(req.headers());
    let bytes = body(req, state).await?;
    if let Some(empty) = empty
        && bytes.iter().all(u8::is_ascii_whitespace)
    {
        return Ok(empty());
    }
    if !json {
        return Err(BodyError::NotJson);
    }
    parse(&bytes)
}

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        read_json(req, state, None)
            .await
            .map(ApiJson)
            .map_err(ApiError::from_body)
    }
}

/// The body's exact bytes, within the body deadline and the group's limit: for a route that
/// checks a signature over them before reading anything.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        body(req, state)
            .await
            .map(Self)
            .map_err(ApiError::from_body)
    }
}

/// Whether the request says its body is JSON (`application/json` or any `+json` type).
fn declares_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence.to_ascii_lowercase().ends_with("+json")
}

/// The body, read within the server's body deadline and the group's limit.
async fn body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, BodyError> {
    let deadline = req
        .extensions()
        .get::<BodyReadTimeout>()
        .map_or(Timeouts::default().body_read, |t| t.0);
    let limit = req.extensions().get::<BodyLimit>().map_or(0, |l| l.0);
    let read = tokio::time::timeout(deadline, Bytes::from_request(req, state))
        .await
        .map_err(|_| BodyError::Timeout(deadline))?;
    read.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            BodyError::TooLarge(limit)
        } else {
            BodyError::Invalid(e.body_text())
        }
    })
}

/// Parses a JSON object into `T`. serde would also fill a struct from an array, taking fields
/// by position; the API documents objects, so anything else is refused first.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(BodyError::Invalid("the body must be a JSON object".into()));
    }
    serde_json::from_slice(bytes).map_err(|e| BodyError::Invalid(with_path::<T>(bytes, e)))
}

/// The refusal's text, naming the field a value is wrong in (`event_types: invalid type: …`):
/// serde's own message says only what it expected. The body is read again with its path
/// tracked only once it failed, so an accepted body costs nothing more.
fn with_path<T: DeserializeOwned>(bytes: &[u8], plain: serde_json::Error) -> String {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Err(e) if e.path().to_string() != "." => format!("{}: {}", e.path(), e.inner()),
        _ => plain.to_string(),
    }
}

/// Like [`ApiJson`], but an empty body stands for `T::default()`: for endpoints whose every
/// field is optional, so `curl -X POST` without a body works.
pub struct ApiJsonOrDefault<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for ApiJsonOrDefault<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        read_json(req, state, Some(T::default))
            .await
            .map(Self)
            .map_err(ApiError::from_body)
    }
}

/// Query parameters; a parameter the endpoint does not know, or a value of the wrong type, is
/// a 400 `invalid_query` in the envelope.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| Self(q))
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))
    }
}

/// A path parameter; a segment that does not decode to text (`%ff`) is a 400 in the envelope
/// rather than axum's plain-text answer.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(p) = Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", e.body_text()))?;
        // No id holds a control character (NUL would even be refused by PostgreSQL, turning a
        // lookup into an error) or runs past 256 bytes: such a path names nothing.
        let raw = RawPathParams::from_request_parts(parts, state).await;
        let unnameable = raw.is_ok_and(|params| {
            params
                .iter()
                .any(|(_, v)| v.len() > 256 || v.chars().any(char::is_control))
        });
        if unnameable {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no resource has this id".to_owned(),
            ));
        }
        Ok(Self(p))
    }
}

/// A listing's `cursor`, read by `parse`; one it cannot read is a 400.
pub fn cursor<T>(
    raw: Option<&str>,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<Option<T>, ApiError> {
    raw.map(|c| {
        parse(c).ok_or_else(|| {
            ApiError::invalid(hookfleet_core::Invalid::new(
                "cursor",
                "is not a cursor this API issued",
            ))
        })
    })
    .transpose()
}

const DEFAULT_PAGE: i64 = 100;
const MAX_PAGE: i64 = 1_000;

/// A listing's `limit`: 1 to 1,000, 100 when absent.
pub fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid(hookfleet_core::Invalid::new(
            "limit",
            format!("must be 1 to {MAX_PAGE}"),
        )));
    }
    Ok(limit)
}
