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
    error::{ApiError, AppResult, ErrorAnswer},
    extract::{self, ApiJson, ApiPath, ApiQuery, page_limit},
    native::{changes, subscriptions},
    pages::Page,
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
use hookfleet_store::{SubscriptionRow, SubscriptionState};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

pub(crate) mod log;

const WEBHOOKS: &str = "webhooks (document 002)";

/// Largest body these routes accept.
pub const BODY_LIMIT: usize = 64 * 1024;
/// The document's retry policy.
const LADDER: [&str; 4] = ["5s", "30s", "5m", "30m"];
const PREFIX: &str = "wh_";

pub(crate) fn routes(state: &Arc<AppState>) -> Router<Arc<AppState>> {
    let group = Router::new()
        .route("/v1/webhooks", post(webhook_create).get(webhook_list))
        .route("/v1/webhooks/{id}", get(webhook_get).delete(webhook_delete))
        .route("/v1/webhooks/{id}/enable", post(webhook_enable))
        .route("/v1/webhooks/{id}/disable", post(webhook_disable))
        .merge(log::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), require_key));
    extract::with_body_limit::<_, ApiError>(group, BODY_LIMIT)
}

/// Whose webhooks a caller manages.
#[derive(Debug, Clone)]
pub(crate) enum Owner {
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

/// A webhook (a subscription with the `innervoice` profile); `secret` only when just made.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Webhook {
    id: String,
    url: String,
    events: Vec<String>,
    organizations: Option<Vec<String>>,
    state: SubscriptionState,
    /// Why it is disabled (`null` while active): disabled through the API, or every delivery
    /// exhausted for `HOOKFLEET_DISABLE_AFTER`.
    disabled_reason: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

fn view(row: &SubscriptionRow) -> Webhook {
    Webhook {
        id: public_id(&row.id),
        url: row.url.clone(),
        events: row.event_types.clone(),
        organizations: row.organizations.clone(),
        state: row.state,
        disabled_reason: row.disabled_reason.clone(),
        created_at: row.created_at.format(&Rfc3339).unwrap_or_default(),
        secret: None,
    }
}

/// `POST /v1/webhooks` (document 002).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWebhook {
    #[schema(
        example = "http://127.0.0.1:9/webhooks/innervoice",
        max_length = 2048,
        pattern = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$"
    )]
    url: String,
    #[schema(min_items = 1, max_items = 50, example = json!(["action.executed"]),
        value_type = Vec<hookfleet_core::openapi::TypePattern>)]
    events: Vec<String>,
    #[serde(default)]
    description: Option<String>,
}

/// Registers a webhook for the key's organizations (an admin key: for every one).
#[utoipa::path(post, path = "/v1/webhooks", tag = WEBHOOKS, security(("api_key" = [])),
    request_body = NewWebhook,
    responses(
        (status = 201, description = "Made; the secret is shown this once", body = Webhook),
        (status = 422, description = "`validation_failed`, or `private_target`",
            body = ErrorAnswer),
    ))]
pub(crate) async fn webhook_create(
    State(state): State<Arc<AppState>>,
    Extension(owner): Extension<Owner>,
    ApiJson(new): ApiJson<NewWebhook>,
) -> AppResult<(StatusCode, Json<Webhook>)> {
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
        tier: None,
    }
    .validate()
    .map_err(|mut i| {
        if i.field == "event_types" {
            i.field = "events";
        }
        ApiError::invalid(i)
    })?;
    let created = subscriptions::create(&state, spec).await?;
    let v = Webhook {
        secret: Some(created.secret.expose()),
        ..view(&created.row)
    };
    Ok((StatusCode::CREATED, Json(v)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// 1 to 1,000 (100)
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page
    cursor: Option<String>,
}

/// The webhooks the key may see, newest first.
#[utoipa::path(get, path = "/v1/webhooks", tag = WEBHOOKS, security(("api_key" = [])),
    params(ListQuery),
    responses((status = 200, description = "A page of webhooks", body = Page<Webhook>)))]
pub(crate) async fn webhook_list(
    State(state): State<Arc<AppState>>,
    Extension(owner): Extension<Owner>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Json<Page<Webhook>>> {
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
    Ok(Json(Page {
        data: rows.iter().map(view).collect(),
        next_cursor,
    }))
}

/// One webhook (another organization's answers 404).
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = WEBHOOKS, security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The webhook", body = Webhook)))]
pub(crate) async fn webhook_get(
    State(state): State<Arc<AppState>>,
    Extension(owner): Extension<Owner>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Webhook>> {
    Ok(Json(view(&owned(&state, &owner, &id).await?)))
}

#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = WEBHOOKS, security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted")))]
pub(crate) async fn webhook_delete(
    State(state): State<Arc<AppState>>,
    Extension(owner): Extension<Owner>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<StatusCode> {
    let row = owned(&state, &owner, &id).await?;
    subscriptions::delete(&state, &row).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Re-enables a disabled webhook: what queued meanwhile is delivered; an active one is
/// answered as it is (another organization's answers 404).
#[utoipa::path(post, path = "/v1/webhooks/{id}/enable", tag = WEBHOOKS,
    security(("api_key" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "Active", body = Webhook)))]
pub(crate) async fn webhook_enable(
    State(state): State<Arc<AppState>>,
    Extension(owner): Extension<Owner>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Webhook>> {
    let row = owned(&state, &owner, &id).await?;
    changes::enable(&state, &row).await?;
    Ok(Json(view(&owned(&state, &owner, &id).await?)))
}

/// Disables a webhook by hand: nothing more is sent until it is enabled, and what arrives
/// meanwhile waits; a disabled one is answered as it is (another organization's answers 404).
#[utoipa::path(post, path = "/v1/webhooks/{id}/disable", tag = WEBHOOKS,
    security(("api_key" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "Disabled", body = Webhook)))]
pub(crate) async fn webhook_disable(
    State(state): State<Arc<AppState>>,
    Extension(owner): Extension<Owner>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Webhook>> {
    let row = owned(&state, &owner, &id).await?;
    changes::disable(&state, &row).await?;
    Ok(Json(view(&owned(&state, &owner, &id).await?)))
}
