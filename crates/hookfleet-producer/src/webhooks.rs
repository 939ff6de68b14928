//! The webhook dialect (source document 002): `/v1/webhooks`, where a product's customers
//! register endpoints with an API key. A webhook is a subscription with the `innervoice`
//! profile and the document's ladder (5 s, 30 s, 5 min, 30 min, then given up and logged);
//! the profile makes every non-2xx answer a failure to retry, 410 included. Its group: any API
//! key (or the admin token); a key scoped to organizations registers webhooks limited to those
//! organizations, and sees, tests, disables, enables and deletes only webhooks limited to
//! organizations it holds; an admin sees all. Errors come in the native envelope. Ids are
//! `wh_…`: the subscription's own id under the document's prefix.
use crate::{
    AppState,
    auth::{self, Principal},
    error::{ApiError, AppResult},
    extract::{self, ApiJson, ApiPath, ApiQuery, page_limit},
    native::{deliveries, subscriptions},
};
use axum::{
    Extension, Json, Router,
    extract::{Request, State},
    http::StatusCode,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use hookfleet_core::{
    SubscriptionId, api_key::Scope, render::Profile, subscription::NewSubscription,
};
use hookfleet_store::SubscriptionRow;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;

/// Largest body these routes accept.
pub const BODY_LIMIT: usize = 64 * 1024;
/// The document's retry policy.
const LADDER: [&str; 4] = ["5s", "30s", "5m", "30m"];
const PREFIX: &str = "wh_";

pub(crate) fn routes(state: &Arc<AppState>) -> Router<Arc<AppState>> {
    let group = Router::new()
        .route("/v1/webhooks", post(create).get(list))
        .route("/v1/webhooks/test", post(test))
        .route("/v1/webhooks/{id}", get(get_one).delete(delete))
        .route("/v1/webhooks/{id}/enable", post(enable))
        .route("/v1/webhooks/{id}/disable", post(disable))
        .route("/v1/webhooks/{id}/deliveries", get(log))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_key));
    extract::with_body_limit::<_, ApiError>(group, BODY_LIMIT)
}

/// Whose webhooks a caller manages.
#[derive(Debug, Clone)]
enum Owner {
    All,
    Organizations(Vec<String>),
}

impl Owner {
    fn of(p: &Principal) -> Result<Self, ApiError> {
        if p.is_admin() {
            return Ok(Self::All);
        }
        let Principal::Key { scopes, .. } = p else {
            return Ok(Self::All);
        };
        let mut orgs: Vec<String> = scopes
            .iter()
            .filter_map(|s| match s {
                Scope::Organization(o) => Some(o.clone()),
                _ => None,
            })
            .collect();
        orgs.sort();
        orgs.dedup();
        if orgs.is_empty() {
            return Err(ApiError::forbidden(
                "this key's scopes name no organization (nor `admin`)",
            ));
        }
        Ok(Self::Organizations(orgs))
    }

    fn owns(&self, row: &SubscriptionRow) -> bool {
        match self {
            Self::All => true,
            Self::Organizations(mine) => row
                .organizations
                .as_ref()
                .is_some_and(|o| !o.is_empty() && o.iter().all(|x| mine.contains(x))),
        }
    }

    fn within(&self) -> Option<&[String]> {
        match self {
            Self::All => None,
            Self::Organizations(o) => Some(o),
        }
    }
}

/// 401 unless the request carries a key (or the admin token); 403 for a key that may own no
/// webhook. The owner goes in the request's extensions.
async fn require_key(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let Some(principal) = auth::principal(&state, &req) else {
        return ApiError::unauthorized().into_response();
    };
    match Owner::of(&principal) {
        Ok(owner) => {
            req.extensions_mut().insert(owner);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

fn public_id(id: &SubscriptionId) -> String {
    format!("{PREFIX}{}", id.as_str().trim_start_matches("sub_"))
}

/// The webhook `id` names, if the caller owns it; 404 otherwise (another's is not revealed).
async fn owned(state: &AppState, owner: &Owner, id: &str) -> AppResult<SubscriptionRow> {
    let not_found = || ApiError::not_found("webhook");
    let sub_id = id
        .strip_prefix(PREFIX)
        .and_then(|hex| SubscriptionId::parse(&format!("sub_{hex}")))
        .ok_or_else(not_found)?;
    // A record that cannot be read is a 503, not a webhook that does not exist.
    let row = state
        .store
        .subscription(&sub_id)
        .await?
        .ok_or_else(not_found)?;
    if row.profile != Profile::InnerVoice || !owner.owns(&row) {
        return Err(not_found());
    }
    Ok(row)
}

fn view(row: &SubscriptionRow) -> Value {
    json!({
        "id": public_id(&row.id),
        "url": row.url,
        "events": row.event_types,
        "organizations": row.organizations,
        "state": row.state,
        "disabled_reason": row.disabled_reason,
        "created_at": row.created_at.format(&Rfc3339).unwrap_or_default(),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewWebhook {
    url: String,
    events: Vec<String>,
    #[serde(default)]
    description: Option<String>,
}

async fn create(
    State(state): State<Arc<AppState>>,
    Extension(owner): Extension<Owner>,
    ApiJson(new): ApiJson<NewWebhook>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let spec = NewSubscription {
        url: Some(new.url),
        event_types: new.events,
        organizations: owner.within().map(<[String]>::to_vec),
        partitions: None,
        description: new.description,
        retry_ladder: Some(LADDER.map(str::to_owned).to_vec()),
        max_in_flight: None,
        rate_limit_per_s: None,
        ordering: None,
        profile: Some(Profile::InnerVoice),
        delivery: None,
    }
    .validate()
    .map_err(|mut i| {
        if i.field == "event_types" {
            i.field = "events";
        }
        ApiError::invalid(i)
    })?;
    let created = subscriptions::create(&state, spec).await?;
    let mut v = view(&created.row);
    v["secret"] = json!(created.secret.expose());
    Ok((StatusCode::CREATED, Json(v)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

async fn list(
    State(state): State<Arc<AppState>>,
    Extension(owner): Extension<Owner>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Json<Value>> {
    let limit = page_limit(q.limit)?;
    let after = extract::cursor(q.cursor.as_deref(), |c| {
        SubscriptionId::parse(&format!("sub_{}", c.strip_prefix(PREFIX)?))
    })?;
    let mut rows = state
        .store
        .list_webhooks(
            Some(Profile::InnerVoice),
            owner.within(),
            limit + 1,
            after.as_ref(),
        )
        .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more
        .then(|| rows.last().map(|r| public_id(&r.id)))
        .flatten();
    let data: Vec<Value> = rows.iter().map(view).collect();
    Ok(Json(json!({"data": data, "next_cursor": next_cursor})))
}

async fn get_one(
    State(state): State<Arc<AppState>>,
    Extension(owner): Extension<Owner>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Value>> {
    Ok(Json(view(&owned(&state, &owner, &id).await?)))
}

async fn delete(
    State(state): State<Arc<AppState>>,
    Extension(owner): Extension<Owner>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<StatusCode> {
    let row = owned(&state, &owner, &id).await?;
    subscriptions::delete(&state, &row).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/webhooks/{id}/enable`: a disabled webhook delivers again, what queued meanwhile
/// first; an active one is answered as it is.
async fn enable(
    State(state): State<Arc<AppState>>,
    Extension(owner): Extension<Owner>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Value>> {
    let row = owned(&state, &owner, &id).await?;
    subscriptions::enable(&state, &row).await?;
    Ok(Json(view(&owned(&state, &owner, &id).await?)))
}

/// `POST /v1/webhooks/{id}/disable`: nothing more is sent until it is enabled; what arrives
/// meanwhile waits. A disabled one is answered as it is.
async fn disable(
    State(state): State<Arc<AppState>>,
    Extension(owner): Extension<Owner>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Value>> {
    let row = owned(&state, &owner, &id).await?;
    subscriptions::disable(&state, &row).await?;
    Ok(Json(view(&owned(&state, &owner, &id).await?)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestRequest {
    webhook_id: String,
    event: String,
}

/// `POST /v1/webhooks/test {webhook_id, event}`: the document's sample payload of that event
/// type (a short message for other types) to that webhook only.
async fn test(
    State(state): State<Arc<AppState>>,
    Extension(owner): Extension<Owner>,
    ApiJson(req): ApiJson<TestRequest>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let row = owned(&state, &owner, &req.webhook_id).await?;
    let data = sample(&req.event).to_string();
    let sent = deliveries::send_test(&state, &row, req.event.clone(), data).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "webhook_id": public_id(&row.id),
            "event": req.event,
            "delivery_id": sent.delivery_id,
        })),
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

/// `GET /v1/webhooks/{id}/deliveries`: the document's log, newest delivery first; per
/// attempt the time sent, the status code, the response time and the retry count.
async fn log(
    State(state): State<Arc<AppState>>,
    Extension(owner): Extension<Owner>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<deliveries::LogQuery>,
) -> AppResult<Json<Value>> {
    let row = owned(&state, &owner, &id).await?;
    let page = deliveries::log_page(&state, Some(row.id), q).await?;
    let data: Vec<Value> = page
        .data
        .iter()
        .map(|d| {
            let attempts: Vec<Value> = d
                .attempts
                .iter()
                .map(|a| {
                    json!({
                        "sent_at": a.sent_at.format(&Rfc3339).unwrap_or_default(),
                        "status_code": a.status_code,
                        "response_time_ms": a.duration_ms,
                        "retry_count": a.attempt - 1,
                        "error": a.error,
                    })
                })
                .collect();
            json!({"delivery_id": d.id, "event_id": d.event_id, "status": d.status,
                   "is_test": d.is_test, "attempts": attempts})
        })
        .collect();
    Ok(Json(json!({"data": data, "next_cursor": page.next_cursor})))
}
