//! The partner dialect (source document 000): `POST /v1/installations/{id}/events`, a partner
//! telling the fleet that an installation or one of its resources changed. Its group: a Bearer
//! API key scoped to the installation (or `admin`), a 64 KiB body limit, and the document's
//! status codes: 201 with no body; 400 for any bad body or path; 401, 403, 404. Errors come in
//! the `{"error": {code, message}}` shape partner SDKs read. Events go through the one intake:
//! the installation as `organization_id`, the document's fields in `data`, and an optional
//! `Idempotency-Key` header making a client's retry safe.
use crate::{
    AppState,
    auth::{self, Principal},
    error::{ErrorAnswer, ErrorBody},
    extract::{self, BodyError, Envelope},
    intake::{self, IntakeError},
};
use axum::{
    Extension, Json, Router,
    extract::{FromRequest, Path, Request, State, rejection::PathRejection},
    http::{HeaderMap, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::post,
};
use hookfleet_core::{KeySpace, NewEvent, api_key::Scope};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use utoipa::ToSchema;

const PARTNER: &str = "partner (document 000)";

/// Largest body the partner route accepts.
pub const BODY_LIMIT: usize = 64 * 1024;
/// Longest string a partner field may hold.
const MAX_FIELD_LEN: usize = 256;

pub(crate) fn routes(state: &Arc<AppState>) -> Router<Arc<AppState>> {
    let group = Router::new()
        .route("/v1/installations/{id}/events", post(partner_event))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_key));
    extract::with_body_limit::<_, PartnerError>(group, BODY_LIMIT)
}

/// The dialect's errors, with the document's status codes.
#[derive(Debug)]
pub(crate) struct PartnerError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl PartnerError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

impl IntoResponse for PartnerError {
    fn into_response(self) -> Response {
        let body = ErrorAnswer {
            error: ErrorBody {
                code: self.code,
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl Envelope for PartnerError {
    fn from_body(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge(limit) => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body exceeds {limit} bytes"),
            ),
            BodyError::Timeout(d) => Self::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!("the body did not arrive within {} ms", d.as_millis()),
            ),
            BodyError::NotJson => {
                Self::bad_request("send the body as JSON with `Content-Type: application/json`")
            }
            BodyError::Invalid(m) => Self::bad_request(m),
        }
    }
}

impl From<IntakeError> for PartnerError {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Invalid(i) => Self::bad_request(i.to_string()),
            IntakeError::KeyReused => Self::new(
                StatusCode::CONFLICT,
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different event; send a new event with a new key",
            ),
            IntakeError::Unavailable { context, cause } => {
                tracing::warn!(error = %crate::error::error_chain(cause.as_ref()), "{context}");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "a dependency is unavailable; nothing was accepted, retry later",
                )
            }
        }
    }
}

/// 401 unless the request carries a key (or the admin token).
async fn require_key(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    match auth::principal(&state, &req) {
        Some(p) => {
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        None => PartnerError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid `Authorization: Bearer <key>` header is required",
        )
        .into_response(),
    }
}

/// `POST /v1/installations/{id}/events` (document 000).
// `{"event": {...}}`, exactly as the document gives it; anything else is a 400.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = PartnerCall)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateEvent {
    event: PartnerEvent,
}

/// The partner's event, by `type`; its fields in camelCase, 1 to 256 printable characters.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "type", deny_unknown_fields)]
pub(crate) enum PartnerEvent {
    #[serde(rename = "installation.updated", rename_all = "camelCase")]
    InstallationUpdated {
        #[serde(default)]
        billing_plan_id: Option<String>,
    },
    #[serde(rename = "resource.updated", rename_all = "camelCase")]
    ResourceUpdated {
        resource_id: String,
        #[serde(default)]
        product_id: Option<String>,
    },
}

pub(crate) struct PartnerJson(CreateEvent);

impl<S: Send + Sync> FromRequest<S> for PartnerJson {
    type Rejection = PartnerError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        extract::read_json(req, state, None)
            .await
            .map(Self)
            .map_err(PartnerError::from_body)
    }
}

impl PartnerEvent {
    /// The event type and the `data` subscribers receive (the document's own field names).
    fn into_parts(self) -> Result<(&'static str, serde_json::Value), PartnerError> {
        let (event_type, fields) = match self {
            Self::InstallationUpdated { billing_plan_id } => (
                "installation.updated",
                vec![("billingPlanId", billing_plan_id)],
            ),
            Self::ResourceUpdated {
                resource_id,
                product_id,
            } => (
                "resource.updated",
                vec![("resourceId", Some(resource_id)), ("productId", product_id)],
            ),
        };
        let mut data = serde_json::Map::new();
        for (name, value) in fields {
            let Some(v) = value else { continue };
            if v.is_empty() || v.chars().count() > MAX_FIELD_LEN || v.chars().any(char::is_control)
            {
                return Err(PartnerError::bad_request(format!(
                    "event.{name}: must be 1 to {MAX_FIELD_LEN} printable characters"
                )));
            }
            data.insert(name.to_owned(), json!(v));
        }
        Ok((event_type, serde_json::Value::Object(data)))
    }
}

fn may_post_for(principal: &Principal, installation: &str) -> bool {
    match principal {
        Principal::Admin => true,
        Principal::Key { scopes, .. } => scopes.iter().any(|s| match s {
            Scope::Admin => true,
            Scope::Installation(id) => id == installation,
            _ => false,
        }),
    }
}

/// A partner's event for its installation, as `installation.updated` or `resource.updated`
/// with the installation as organization. Needs a key scoped to the installation (or admin).
#[utoipa::path(post, path = "/v1/installations/{id}/events", tag = PARTNER,
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The installation"),
        ("Idempotency-Key" = Option<String>, Header)),
    request_body = CreateEvent,
    responses(
        (status = 201, description = "Accepted: the broker has it"),
        (status = 409, description = "`idempotency_key_reused`", body = ErrorAnswer),
    ))]
pub(crate) async fn partner_event(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    PartnerJson(body): PartnerJson,
) -> Result<StatusCode, PartnerError> {
    let Path(installation) = path.map_err(|e| PartnerError::bad_request(e.body_text()))?;
    if !may_post_for(&principal, &installation) {
        return Err(PartnerError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this key may not post events for that installation",
        ));
    }
    if !state.installations.contains(&installation) {
        return Err(PartnerError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "installation not found",
        ));
    }
    let key = headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map_err(|_| PartnerError::bad_request("the Idempotency-Key header is not text"))
        })
        .transpose()?;
    let (event_type, data) = body.event.into_parts()?;
    let data = serde_json::value::to_raw_value(&data)
        .map_err(|e| PartnerError::bad_request(e.to_string()))?;
    // The installation's own key space: another installation's keys never name its events.
    let space = KeySpace::Installation(installation.clone());
    let new = NewEvent {
        event_type: event_type.to_owned(),
        organization_ids: Some(vec![installation]),
        service_partitions: None,
        data,
        idempotency_key: None,
        source: None,
    };
    intake::submit(&state, new, &space, key, intake::Repeats::Compare).await?;
    Ok(StatusCode::CREATED)
}
