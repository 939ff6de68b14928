//! The webhook dialect's test sends and delivery log (document 002): a sample payload of an
//! event type to one webhook, and the log in the document's words.
use super::{Owner, WEBHOOKS, owned, public_id};
use crate::{
    AppState,
    error::{AppResult, ErrorAnswer},
    extract::{ApiJson, ApiPath, ApiQuery},
    native::{
        deliveries::{self, LogQuery},
        replays,
    },
    pages::Page,
};
use axum::{
    Extension, Json, Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use hookfleet_store::{AttemptView, DeliveryStatus, DeliveryView};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/webhooks/test", post(webhook_test))
        .route("/v1/webhooks/{id}/deliveries", get(webhook_log))
}

/// `POST /v1/webhooks/test`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = WebhookTest)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestRequest {
    webhook_id: String,
    #[schema(example = "action.executed")]
    event: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookTestSent {
    webhook_id: String,
    event: String,
    delivery_id: String,
}

/// Sends the document's sample payload of an event type to one webhook.
// A short message for other types.
#[utoipa::path(post, path = "/v1/webhooks/test", tag = WEBHOOKS, security(("api_key" = [])),
    request_body = TestRequest,
    responses(
        (status = 202, description = "Queued", body = WebhookTestSent),
        (status = 404, description = "`not_found`: no webhook of that id the key may see",
            body = ErrorAnswer),
    ))]
pub(crate) async fn webhook_test(
    State(state): State<Arc<AppState>>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<TestRequest>,
) -> AppResult<(StatusCode, Json<WebhookTestSent>)> {
    let row = owned(&state, &owner, &req.webhook_id).await?;
    let data = sample(&req.event).to_string();
    let sent = replays::send_test(&state, &row, req.event.clone(), data).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(WebhookTestSent {
            webhook_id: public_id(&row.id),
            event: req.event,
            delivery_id: sent.delivery_id.to_string(),
        }),
    ))
}

/// The document's payloads, as its event list gives them.
fn sample(event: &str) -> Value {
    match event {
        "action.executed" => json!({"execution_id": "exec_abc", "plan_id": "pl_xyz",
            "action": "calendar.create", "status": "ok", "id": "evt_123", "latency_ms": 342}),
        "minutes_back.added" => json!({"execution_id": "exec_abc", "plan_id": "pl_xyz",
            "minutes": 18, "source": "plan_execution", "user_id": "user_001"}),
        "execution.completed" => json!({"execution_id": "exec_abc", "plan_id": "pl_xyz",
            "status": "completed", "total_actions": 3, "successful_actions": 3,
            "failed_actions": 0, "minutes_back": 18}),
        "execution.failed" => json!({"execution_id": "exec_abc", "plan_id": "pl_xyz",
            "error": "Calendar API timeout", "failed_action": "calendar.create"}),
        _ => json!({"message": "A test event from hookfleet"}),
    }
}

/// A webhook's delivery, in the document's words.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookDelivery {
    delivery_id: String,
    event_id: String,
    status: DeliveryStatus,
    is_test: bool,
    attempts: Vec<WebhookAttempt>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookAttempt {
    #[schema(format = DateTime)]
    sent_at: String,
    // int64 in the description, as before it was derived from this type.
    #[schema(format = Int64)]
    status_code: Option<i32>,
    #[schema(format = Int64)]
    response_time_ms: i32,
    #[schema(format = Int64)]
    retry_count: i32,
    error: Option<String>,
}

impl WebhookDelivery {
    fn of(d: &DeliveryView) -> Self {
        Self {
            delivery_id: d.id.to_string(),
            event_id: d.event_id.to_string(),
            status: d.status,
            is_test: d.is_test,
            attempts: d.attempts.iter().map(WebhookAttempt::of).collect(),
        }
    }
}

impl WebhookAttempt {
    fn of(a: &AttemptView) -> Self {
        Self {
            sent_at: a.sent_at.format(&Rfc3339).unwrap_or_default(),
            status_code: a.status_code,
            response_time_ms: a.duration_ms,
            retry_count: a.attempt - 1,
            error: a.error.clone(),
        }
    }
}

/// A webhook's deliveries, newest first.
// Per attempt the time sent, the status code, the response time and the retry count.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = WEBHOOKS,
    security(("api_key" = [])),
    params(("id" = String, Path), LogQuery),
    responses((status = 200, description = "A page of deliveries",
        body = Page<WebhookDelivery>)))]
pub(crate) async fn webhook_log(
    State(state): State<Arc<AppState>>,
    Extension(owner): Extension<Owner>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> AppResult<Json<Page<WebhookDelivery>>> {
    let row = owned(&state, &owner, &id).await?;
    let page = deliveries::log_page(&state, Some(row.id), q).await?;
    Ok(Json(Page {
        data: page.data.iter().map(WebhookDelivery::of).collect(),
        next_cursor: page.next_cursor,
    }))
}
