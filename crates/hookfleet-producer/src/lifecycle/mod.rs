//! The event-lifecycle dialect (source document 001): `POST /event/create`, `/event/update` and
//! `/event/close` on a channel. Its group: the optional gateway token (`HOOKFLEET_GATEWAY_TOKEN`,
//! or an API key scoped to the channel) as Bearer, the channel's password in the body, a 32 KB
//! body limit, and the document's envelope `{success, data: {channel_id, op_id, event_id,
//! accepted}, error, error_code}` on every answer, errors included. Each call moves the event's
//! state in the record and goes through the one intake as `event.created|updated|closed`, the
//! channel as `organization_id`; the state is committed only once the broker confirmed the
//! message (see `call`).
use crate::{
    AppState,
    auth::{self, Principal},
    extract::{self, BodyError, Envelope},
};
use axum::{
    Json, Router,
    extract::{FromRequest, Request, State},
    http::StatusCode,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{any, post},
};
use hookfleet_core::{
    api_key::Scope,
    lifecycle::{self, Call, Refusal, Route},
};
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

mod call;
pub(crate) mod passwords;

const LIFECYCLE: &str = "event lifecycle (document 001)";

pub(crate) fn routes(state: &Arc<AppState>) -> Router<Arc<AppState>> {
    let group = Router::new()
        .route("/event/create", post(lifecycle_create).fallback(use_post))
        .route("/event/update", post(lifecycle_update).fallback(use_post))
        .route("/event/close", post(lifecycle_close).fallback(use_post))
        .route(
            "/event/{*rest}",
            any(|| async { Answer::error(StatusCode::NOT_FOUND, "not_found", "no such route") }),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), gate));
    extract::with_body_limit::<_, Answer>(group, lifecycle::BODY_LIMIT)
}

/// Opens a lifecycle event on a channel: needs `channel_id`, `password`, `title`, `status`,
/// `message`, `severity`, `event_time`; refuses `event_id` and `ended_at`.
#[utoipa::path(post, path = "/event/create", tag = LIFECYCLE,
    security((), ("gateway_token" = [])),
    request_body = Call,
    responses((status = 200, description = "Accepted: committed and confirmed into the bus",
        body = Body)))]
pub(crate) async fn lifecycle_create(
    State(state): State<Arc<AppState>>,
    gate: Gate,
    body: LifecycleJson,
) -> Answer {
    call::run(state, gate, Route::Create, body).await
}

/// Moves an open event: needs `event_id` besides the fields of create (not `title`);
/// refuses `started_at` and `ended_at`.
#[utoipa::path(post, path = "/event/update", tag = LIFECYCLE,
    security((), ("gateway_token" = [])),
    request_body = Call,
    responses(
        (status = 200, description = "Accepted", body = Body),
        (status = 409, description = "`event_closed`", body = Body),
    ))]
pub(crate) async fn lifecycle_update(
    State(state): State<Arc<AppState>>,
    gate: Gate,
    body: LifecycleJson,
) -> Answer {
    call::run(state, gate, Route::Update, body).await
}

/// Closes an event (`ended_at` defaults to `event_time`); refuses `started_at`.
#[utoipa::path(post, path = "/event/close", tag = LIFECYCLE,
    security((), ("gateway_token" = [])),
    request_body = Call,
    responses(
        (status = 200, description = "Accepted", body = Body),
        (status = 409, description = "`event_closed`", body = Body),
    ))]
pub(crate) async fn lifecycle_close(
    State(state): State<Arc<AppState>>,
    gate: Gate,
    body: LifecycleJson,
) -> Answer {
    call::run(state, gate, Route::Close, body).await
}

/// Another method on a lifecycle route.
async fn use_post() -> Answer {
    Answer::error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "use POST",
    )
}

/// What was known of the call when it was answered.
// `data` of the envelope.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[schema(as = LifecycleData)]
pub(crate) struct Data {
    pub channel_id: Option<String>,
    pub op_id: Option<String>,
    pub event_id: Option<String>,
    pub accepted: bool,
}

/// Every answer of the dialect, success or error.
#[derive(Debug)]
pub(crate) struct Answer {
    status: StatusCode,
    data: Data,
    error: Option<(&'static str, String)>,
    /// `Retry-After` in seconds (429).
    retry_after: Option<u64>,
}

impl Answer {
    pub(crate) fn accepted(data: Data) -> Self {
        Self {
            status: StatusCode::OK,
            data: Data {
                accepted: true,
                ..data
            },
            error: None,
            retry_after: None,
        }
    }

    pub(crate) fn error(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            data: Data::default(),
            error: Some((code, message.into())),
            retry_after: None,
        }
    }

    /// 429 `too_many_attempts`: the channel's password checks are refused for now (its queue
    /// is full, or it is locked after repeated wrong passwords), with when to try again.
    pub(crate) fn too_many_attempts(refusal: passwords::Refusal) -> Self {
        let secs = refusal.retry_after.as_secs().max(1);
        let message = match refusal.reason {
            passwords::Reason::Busy => format!(
                "too many password checks are waiting on this channel; retry after {secs} s"
            ),
            passwords::Reason::Locked => format!(
                "this channel is locked after repeated wrong passwords; retry after {secs} s"
            ),
        };
        Self {
            retry_after: Some(secs),
            ..Self::error(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", message)
        }
    }

    pub(crate) fn refused(r: Refusal) -> Self {
        let status = match r.code {
            "event_closed" => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::error(status, r.code, r.message)
    }

    /// The same answer, saying what is known of the call.
    pub(crate) fn with(mut self, data: &Data) -> Self {
        self.data = Data {
            accepted: self.data.accepted,
            ..data.clone()
        };
        self
    }
}

/// Every answer of the lifecycle dialect, errors included.
// The envelope's fields, in the document's order.
#[derive(Serialize, ToSchema)]
#[schema(as = LifecycleAnswer)]
pub(crate) struct Body {
    success: bool,
    data: Data,
    error: Option<String>,
    error_code: Option<&'static str>,
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let (error_code, error) = self.error.unzip();
        let body = Body {
            success: error_code.is_none(),
            data: self.data,
            error,
            error_code,
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

impl Envelope for Answer {
    fn from_body(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge(limit) => Self::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body exceeds {limit} bytes"),
            ),
            BodyError::Timeout(d) => Self::error(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!("the body did not arrive within {} ms", d.as_millis()),
            ),
            BodyError::NotJson => Self::error(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "send the body as JSON with `Content-Type: application/json`",
            ),
            BodyError::Invalid(m) => Self::error(StatusCode::BAD_REQUEST, "invalid_json", m),
        }
    }
}

/// Who passed the gateway.
#[derive(Debug, Clone)]
pub(crate) enum Gate {
    /// No gateway token is configured, or the request carried it.
    Open,
    /// An API key (or the admin token): it may post only for the channels its scopes name.
    Key(Principal),
}

impl Gate {
    pub(crate) fn allows(&self, channel_id: &str) -> bool {
        match self {
            Self::Open => true,
            Self::Key(p) => {
                p.is_admin()
                    || matches!(p, Principal::Key { scopes, .. }
                        if scopes.iter().any(|s| matches!(s, Scope::Channel(c) if c == channel_id)))
            }
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Gate {
    type Rejection = Answer;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Gate>().cloned().ok_or_else(|| {
            Answer::error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the gateway was not passed",
            )
        })
    }
}

/// When `HOOKFLEET_GATEWAY_TOKEN` is set: 401 unless the Bearer credential is that token or an
/// API key. Without it the routes are open, as the document's public gateway is, and any
/// `Authorization` header is ignored: the channel password is the credential.
async fn gate(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let tokens = &state.settings.gateway_tokens;
    let gate = if tokens.is_empty() {
        Some(Gate::Open)
    } else {
        let presented = auth::bearer(&req);
        if presented.is_some_and(|p| {
            tokens
                .iter()
                .any(|t| auth::tokens_equal(p.as_bytes(), t.as_bytes()))
        }) {
            Some(Gate::Open)
        } else {
            auth::principal(&state, &req).map(Gate::Key)
        }
    };
    match gate {
        Some(g) => {
            req.extensions_mut().insert(g);
            next.run(req).await
        }
        None => Answer::error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this gateway requires `Authorization: Bearer <token>`",
        )
        .into_response(),
    }
}

/// The body as [`Call`]: JSON storable by every later stage (no NUL, no lone surrogate, numbers
/// in range, not too deep), then the document's fields and no others (`lifecycle::read_call`
/// names what is wrong: `unknown_field`, `invalid_field` or `invalid_json`).
pub(crate) struct LifecycleJson(pub Call);

impl<S: Send + Sync> FromRequest<S> for LifecycleJson {
    type Rejection = Answer;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let raw: Box<serde_json::value::RawValue> = extract::read_json(req, state, None)
            .await
            .map_err(Answer::from_body)?;
        hookfleet_core::storable::check_json("body", raw.get())
            .map_err(|i| Answer::error(StatusCode::BAD_REQUEST, "invalid_json", i.to_string()))?;
        // Which fields are unknown or of the wrong type is decided by the call's rules.
        lifecycle::read_call(raw.get())
            .map(Self)
            .map_err(|r| Answer::error(StatusCode::BAD_REQUEST, r.code, r.message))
    }
}
