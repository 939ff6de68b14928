//! Changing a subscription: `PATCH /v1/subscriptions/{id}` (a filter change rebinds its
//! queue, new bindings first), and enabling or disabling it by hand. Delivery workers hear of
//! every change by a control notice.
use super::{
    subscriptions::{Subscription, binding_keys},
    tags::SUBSCRIPTIONS,
};
use crate::{
    AppState,
    error::{ApiError, AppResult, ErrorAnswer},
    extract::{ApiJson, ApiPath},
};
use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{patch, post},
};
use hookfleet_core::subscription::{self as sub, SubscriptionUpdate};
use hookfleet_store::{SubscriptionRow, SubscriptionState};
use std::sync::Arc;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/subscriptions/{id}", patch(update_subscription))
        .route("/v1/subscriptions/{id}/enable", post(enable_subscription))
        .route("/v1/subscriptions/{id}/disable", post(disable_subscription))
}

/// Changes a subscription; a filter change rebinds its queue (new bindings first).
#[utoipa::path(patch, path = "/v1/subscriptions/{id}", tag = SUBSCRIPTIONS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    request_body = SubscriptionUpdate,
    responses(
        (status = 200, description = "Changed", body = Subscription),
        (status = 422, description = "`validation_failed`, or `private_target`", body = ErrorAnswer),
    ))]
pub(crate) async fn update_subscription(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
    ApiJson(update): ApiJson<SubscriptionUpdate>,
) -> AppResult<Json<Subscription>> {
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
    Ok(Json(Subscription::of(&updated)))
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

/// Moves a subscription's bindings from `before`'s filters to `after`'s: new keys are bound
/// first, so a type kept across the change never misses a copy, then stale ones are removed.
/// On failure it puts back what it can and reports the error (the row change rolls back).
async fn rebind(
    bus: Option<Arc<crate::Bus>>,
    topology: &hookfleet_bus::Topology,
    before: SubscriptionRow,
    after: SubscriptionRow,
) -> Result<(), hookfleet_bus::BusError> {
    // Only a bound queue has bindings; the router reads the shared tier's filters afresh at
    // the notice that follows the change.
    if after.tier != hookfleet_core::subscription::Tier::Own {
        return Ok(());
    }
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

/// Re-enables a disabled subscription; what queued meanwhile is delivered.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/enable", tag = SUBSCRIPTIONS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "Active", body = Subscription)))]
pub(crate) async fn enable_subscription(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Subscription>> {
    enable(&state, &state.subscription(&id).await?).await?;
    Ok(Json(Subscription::of(&state.subscription(&id).await?)))
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

/// Disables a subscription by hand: workers stop at once, its queue keeps what arrives.
// Nothing more is sent to it until it is enabled.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/disable", tag = SUBSCRIPTIONS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "Disabled", body = Subscription)))]
pub(crate) async fn disable_subscription(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Subscription>> {
    disable(&state, &state.subscription(&id).await?).await?;
    Ok(Json(Subscription::of(&state.subscription(&id).await?)))
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
