//! `/v1/subscriptions`: create, list, read, change, rotate the secret of, enable and delete
//! subscriptions. Each is a queue bound to `hookfleet.events` with its filters; a change of
//! filters rebinds it, and delivery workers hear of every change by a control notice.
use crate::{
    AppState,
    error::{ApiError, AppResult},
    extract::{ApiJson, ApiPath, ApiQuery, page_limit},
};
use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use hookfleet_core::{
    Secret, SubscriptionId,
    subscription::{self as sub, NewSubscription, SubscriptionUpdate},
};
use hookfleet_store::{SubscriptionRow, SubscriptionState};
use serde_json::{Value, json};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/v1/subscriptions",
            post(create_subscription).get(list_subscriptions),
        )
        .route(
            "/v1/subscriptions/{id}",
            get(get_subscription)
                .delete(delete_subscription)
                .patch(update_subscription),
        )
        .merge(super::secrets::routes())
        .route("/v1/subscriptions/{id}/enable", post(enable_subscription))
        .route("/v1/subscriptions/{id}/disable", post(disable_subscription))
}

fn subscription_view(row: &SubscriptionRow) -> Value {
    let ladder = row
        .retry_ladder
        .as_ref()
        .map(hookfleet_core::Ladder::display);
    json!({
        "id": row.id,
        "url": (row.delivery == sub::Delivery::Push).then_some(&row.url),
        "delivery": row.delivery,
        "description": row.description,
        "event_types": row.event_types,
        "organizations": row.organizations,
        "partitions": row.partitions,
        "state": row.state,
        "disabled_reason": row.disabled_reason,
        "retry_ladder": ladder,
        "max_in_flight": row.max_in_flight,
        "rate_limit_per_s": row.rate_limit_per_s,
        "ordering": row.ordering,
        "profile": row.profile,
        "created_at": row.created_at.format(&Rfc3339).unwrap_or_default(),
    })
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `GET /v1/subscriptions`: every subscription not deleted, newest first, without secrets;
/// `next_cursor` until the last page.
async fn list_subscriptions(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Json<Value>> {
    let limit = page_limit(q.limit)?;
    // The cursor is the last id of the previous page; ids sort by creation time.
    let after = crate::extract::cursor(q.cursor.as_deref(), SubscriptionId::parse)?;
    let mut rows = state
        .store
        .list_subscriptions(limit + 1, after.as_ref())
        .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more.then(|| rows.last().map(|r| r.id.clone())).flatten();
    let data: Vec<Value> = rows.iter().map(subscription_view).collect();
    Ok(Json(json!({ "data": data, "next_cursor": next_cursor })))
}

async fn create_subscription(
    State(state): State<Arc<AppState>>,
    ApiJson(new): ApiJson<NewSubscription>,
) -> AppResult<(StatusCode, Json<Value>)> {
    let spec = new.validate().map_err(ApiError::invalid)?;
    let created = create(&state, spec).await?;
    let mut view = subscription_view(&created.row);
    view["secret"] = json!(created.secret.expose());
    if let Some(p) = created.pull {
        view["pull"] = json!(p);
    }
    Ok((StatusCode::CREATED, Json(view)))
}

/// A subscription just made: its row, its first secret, and for a pull subscription the
/// access its owner reads with (shown once).
pub(crate) struct Created {
    pub row: SubscriptionRow,
    pub secret: Secret,
    pub pull: Option<super::pull::PullAccess>,
}

/// Records a subscription and declares its queue and bindings (for a pull subscription also
/// its outbox and reader), all or nothing, and tells the workers.
pub(crate) async fn create(
    state: &AppState,
    spec: hookfleet_core::subscription::SubscriptionSpec,
) -> AppResult<Created> {
    if let Some(url) = &spec.url
        && !state.settings.allow_private_targets
    {
        crate::targets::check_public(url)
            .await
            .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "private_target", m))?;
    }
    let secret = Secret::generate();
    let id = SubscriptionId::random();
    let pull = (spec.delivery == sub::Delivery::Pull)
        .then(|| super::pull::access(state, &id))
        .transpose()?;
    let row = SubscriptionRow {
        url: spec
            .url
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        description: spec.description.clone(),
        event_types: spec.filters.event_types.clone(),
        organizations: spec.filters.organizations.clone(),
        partitions: spec.filters.partitions.clone(),
        secrets: vec![secret.expose()],
        state: SubscriptionState::Active,
        created_at: hookfleet_core::now_utc(),
        retry_ladder: spec.retry_ladder.clone(),
        max_in_flight: spec.max_in_flight as i32,
        rate_limit_per_s: spec.rate_limit_per_s.map(|r| r as i32),
        ordering: spec.ordering,
        disabled_reason: None,
        previous_secrets_expire_at: None,
        profile: spec.profile,
        delivery: spec.delivery,
        pull_user: pull.as_ref().map(|p| p.username.clone()),
        id,
    };
    let fifo = spec.ordering == sub::Ordering::Fifo;
    let keys = spec.filters.binding_keys();
    let bus = state.bus()?;
    let declare = async {
        bus.admin
            .declare_subscription(&state.topology, row.id.as_str(), &keys, fifo)
            .await?;
        if let Some(p) = &pull {
            super::pull::provision(state, &bus, &row.id, p).await?;
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    };
    let declared = state.store.create_subscription(&row, declare).await?;
    if let Err(e) = declared {
        // The row was rolled back; remove half-made queues and user so nothing is left behind.
        let _ = bus
            .admin
            .delete_subscription(&state.topology, row.id.as_str())
            .await;
        if let Some(p) = &pull {
            let _ = state.management.delete_user(&p.username).await;
        }
        return Err(ApiError::unavailable(
            "Failed to declare a subscription's queues",
            e.as_ref(),
        ));
    }
    state.notify_workers().await;
    Ok(Created { row, secret, pull })
}

async fn update_subscription(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
    ApiJson(update): ApiJson<SubscriptionUpdate>,
) -> AppResult<Json<Value>> {
    let row = state.subscription(&id).await?;
    let changes = changes_from(update, &row).map_err(ApiError::invalid)?;
    if let Some(url) = &changes.url
        && !state.settings.allow_private_targets
    {
        let url = url::Url::parse(url)
            .map_err(|e| ApiError::invalid(hookfleet_core::Invalid::new("url", e.to_string())))?;
        crate::targets::check_public(&url)
            .await
            .map_err(|m| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "private_target", m))?;
    }
    // Only a filter change touches the broker; then the session is needed up front.
    let bus = if changes.event_types.is_some() {
        Some(state.bus()?)
    } else {
        None
    };
    let updated = state
        .store
        .update_subscription(&row.id, &changes, |before, after| {
            rebind(bus, &state.topology, before, after)
        })
        .await?
        .map_err(|e| ApiError::unavailable("Failed to change a subscription's bindings", &e))?
        .ok_or_else(|| ApiError::not_found("subscription"))?;
    state.notify_workers().await;
    Ok(Json(subscription_view(&updated)))
}

/// Checks a PATCH against the rules and turns it into the record's changes. Filters are checked
/// as they will be after the change (the binding limit spans all three).
fn changes_from(
    update: SubscriptionUpdate,
    row: &SubscriptionRow,
) -> Result<hookfleet_store::SubscriptionChanges, hookfleet_core::Invalid> {
    let filters = update
        .changes_filters()
        .then(|| {
            sub::Filters::new(
                update
                    .event_types
                    .unwrap_or_else(|| row.event_types.clone()),
                update
                    .organizations
                    .unwrap_or_else(|| row.organizations.clone()),
                update.partitions.unwrap_or_else(|| row.partitions.clone()),
            )
        })
        .transpose()?;
    Ok(hookfleet_store::SubscriptionChanges {
        url: update
            .url
            .as_deref()
            .map(sub::validate_url)
            .transpose()?
            .map(|u| u.to_string()),
        description: update
            .description
            .map(|d| sub::validate_description(&d).map(|()| d))
            .transpose()?,
        retry_ladder: update
            .retry_ladder
            .map(|l| l.as_deref().map(sub::validate_ladder).transpose())
            .transpose()?,
        max_in_flight: update
            .max_in_flight
            .map(sub::validate_max_in_flight)
            .transpose()?
            .map(|n| n as i32),
        rate_limit_per_s: update
            .rate_limit_per_s
            .map(|r| {
                r.map(|r| sub::validate_rate_limit(r).map(|r| r as i32))
                    .transpose()
            })
            .transpose()?,
        event_types: filters.as_ref().map(|f| f.event_types.clone()),
        organizations: filters.as_ref().map(|f| f.organizations.clone()),
        partitions: filters.map(|f| f.partitions),
        profile: update.profile,
    })
}

fn binding_keys(row: &SubscriptionRow) -> Vec<String> {
    hookfleet_core::routing::binding_keys(
        &row.event_types,
        row.partitions.as_deref(),
        row.organizations.as_deref(),
    )
}

/// Moves a subscription's bindings from `before`'s filters to `after`'s: new keys are bound
/// first, so a type kept across the change never misses a copy, then stale ones are removed.
/// On failure it puts back what it can and reports the error (the row change rolls back).
async fn rebind(
    bus: Option<Arc<crate::Bus>>,
    topology: &hookfleet_bus::Topology,
    before: SubscriptionRow,
    after: SubscriptionRow,
) -> Result<(), hookfleet_bus::BusError> {
    let (old, new) = (binding_keys(&before), binding_keys(&after));
    let added: Vec<String> = new.iter().filter(|k| !old.contains(k)).cloned().collect();
    let removed: Vec<String> = old.iter().filter(|k| !new.contains(k)).cloned().collect();
    let Some(bus) = bus.filter(|_| !added.is_empty() || !removed.is_empty()) else {
        return Ok(());
    };
    let admin = &bus.admin;
    let id = after.id.as_str();
    let moved = async {
        admin.bind(topology, id, &added).await?;
        admin.unbind(topology, id, &removed).await
    }
    .await;
    if moved.is_err() {
        let _ = admin.bind(topology, id, &removed).await;
        let _ = admin.unbind(topology, id, &added).await;
    }
    moved
}

async fn enable_subscription(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Value>> {
    enable(&state, &state.subscription(&id).await?).await?;
    Ok(Json(subscription_view(&state.subscription(&id).await?)))
}

/// Re-enables a disabled subscription: workers take it up again, and what queued meanwhile
/// is delivered. An active one is left as it is. (The webhook dialect's `…/enable` too.)
pub(crate) async fn enable(state: &AppState, row: &SubscriptionRow) -> AppResult<()> {
    if row.state != SubscriptionState::Active {
        state.store.enable_subscription(&row.id).await?;
        state.notify_workers().await;
    }
    Ok(())
}

/// What a subscription disabled through the API says about why.
const DISABLED_BY_OPERATOR: &str = "disabled through the API";

/// `POST /v1/subscriptions/{id}/disable`: nothing more is sent to it until it is enabled;
/// its queue keeps what arrives meanwhile.
async fn disable_subscription(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Value>> {
    disable(&state, &state.subscription(&id).await?).await?;
    Ok(Json(subscription_view(&state.subscription(&id).await?)))
}

/// Disables an active subscription by hand; a disabled one is left as it is (keeping the
/// reason it was disabled for). (The webhook dialect's `…/disable` too.)
pub(crate) async fn disable(state: &AppState, row: &SubscriptionRow) -> AppResult<()> {
    if row.state == SubscriptionState::Active {
        state
            .store
            .disable_subscription(&row.id, DISABLED_BY_OPERATOR)
            .await?;
        state.notify_workers().await;
    }
    Ok(())
}

async fn get_subscription(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Value>> {
    let row = state.subscription(&id).await?;
    let mut view = subscription_view(&row);
    // What waits: messages ready in its queue (null if the broker cannot say), and deliveries
    // given up and parked (listed by `GET …/deliveries?status=exhausted`).
    let backlog = match state.bus_session() {
        Some(bus) => {
            bus.queue_depth(&state.topology.subscription_queue(row.id.as_str()))
                .await
        }
        None => None,
    };
    view["backlog"] = json!(backlog);
    view["parked"] = json!(state.store.parked_count(&row.id).await?);
    Ok(Json(view))
}

async fn delete_subscription(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<StatusCode> {
    let row = state.subscription(&id).await?;
    delete(&state, &row).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a subscription: no more copies reach its queue, workers stop; the queue goes after
/// the grace.
pub(crate) async fn delete(state: &AppState, row: &SubscriptionRow) -> AppResult<()> {
    let bus = state.bus()?;
    if row.delivery == sub::Delivery::Pull {
        super::pull::remove_readers(state, &row.id).await?;
    }
    if !state.store.delete_subscription(&row.id).await? {
        return Err(ApiError::not_found("subscription"));
    }
    state.notify_workers().await;
    // The queue itself goes later (see `crate::janitor`): deleting it now could race a worker
    // that is just starting to consume it. Unbinding now means it receives nothing more.
    if let Err(e) = bus
        .admin
        .unbind(&state.topology, row.id.as_str(), &binding_keys(row))
        .await
    {
        // Not fatal: the queue and its bindings are removed together after the grace.
        tracing::warn!(subscription = %row.id, error = %crate::error::error_chain(&e), "Failed to unbind a deleted subscription's queue");
    }
    Ok(())
}
