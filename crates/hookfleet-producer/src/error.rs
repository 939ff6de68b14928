//! The API's error envelope `{"error": {"code", "message"}}` and its status codes. Internal
//! causes are logged here and never sent to the client.
use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;

pub type AppResult<T> = Result<T, ApiError>;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400: the body is not JSON of the expected shape (syntax, unknown or missing field).
    pub fn invalid_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_json", message)
    }

    /// 422: well-formed JSON whose values break a rule.
    pub fn invalid(e: hookfleet_core::Invalid) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            e.to_string(),
        )
    }

    /// 409: the idempotency key names a recorded event that differs from this one.
    pub fn key_reused() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "idempotency_key_reused",
            "this idempotency key was used for a different event; send a new event with a new key",
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid `Authorization: Bearer <token>` header is required",
        )
    }

    /// 403: authenticated, but not allowed this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body exceeds {limit} bytes"),
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// 503 for a dependency that failed; the cause is logged, not returned.
    pub fn unavailable(context: &str, cause: &dyn std::error::Error) -> Self {
        tracing::warn!(error = %error_chain(cause), "{context}");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "a dependency is unavailable; nothing was changed, retry later",
        )
    }
}

/// "outer: inner: root" — the whole cause chain in one log field.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The native API's error envelope (also the partner route's and the webhooks').
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorAnswer {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A stable code (`invalid_json`, `validation_failed`, `not_found`, …): match on it.
    pub code: &'static str,
    /// For people; for `validation_failed` it starts with the field's name.
    pub message: String,
}

impl ApiError {
    /// What the envelope says of this error (alone, or as a batch item's `error`).
    pub fn body(self) -> ErrorBody {
        ErrorBody {
            code: self.code,
            message: self.message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let answer = ErrorAnswer { error: self.body() };
        (status, Json(answer)).into_response()
    }
}

impl From<hookfleet_store::StoreError> for ApiError {
    fn from(e: hookfleet_store::StoreError) -> Self {
        Self::unavailable("The database failed a request", &e)
    }
}
