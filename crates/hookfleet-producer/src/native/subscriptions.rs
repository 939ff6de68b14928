//! `/v1/subscriptions`: create, list, read and delete subscriptions (changing one is
//! `changes`). Each is a queue bound to `hookfleet.events` with its filters; delivery workers
//! hear of every change by a control notice.
use super::{pull::PullAccess, tags::SUBSCRIPTIONS};
use crate::{
    AppState,
    error::{ApiError, AppResult, ErrorAnswer},
    extract::{ApiJson, ApiPath, ApiQuery, page_limit},
    pages::Page,
};
use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    routing::{get, post},
};
use hookfleet_core::{
    Secret, SubscriptionId,
    render::Profile,
    subscription::{self as sub, NewSubscription},
};
use hookfleet_store::{SubscriptionRow, SubscriptionState};
use serde::Serialize;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/v1/subscriptions",
            post(create_subscription).get(list_subscriptions),
        )
        .route(
            "/v1/subscriptions/{id}",
            get(get_subscription).delete(delete_subscription),
        )
        .merge(super::secrets::routes())
}

/// A subscription, without its secret unless it was just made.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Subscription {
    id: String,
    /// `null` for a pull subscription.
    url: Option<String>,
    delivery: sub::Delivery,
    description: Option<String>,
    event_types: Vec<String>,
    organizations: Option<Vec<String>>,
    partitions: Option<Vec<String>>,
    state: SubscriptionState,
    disabled_reason: Option<String>,
    /// Its own ladder in milliseconds (`null`: the fleet's).
    retry_ladder: Option<Vec<String>>,
    // The description says int64, as it did before it was derived from this type.
    #[schema(format = Int64)]
    max_in_flight: i32,
    #[schema(format = Int64)]
    rate_limit_per_s: Option<i32>,
    ordering: sub::Ordering,
    profile: Profile,
    /// Where its copies wait: `own` (a queue of its own), `shared` (one of the fleet's shard
    /// queues) or `hot` (a shared one given its own queue for a while).
    tier: sub::Tier,
    /// Why it is on that tier.
    tier_reason: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
    /// `GET` of one: copies waiting for it: messages ready in its own queue (`null` if the
    /// broker cannot say), or on the shared tier the copies routed to it not yet attempted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<u32>, format = Int64)]
    backlog: Option<Option<u32>>,
    /// `GET` of one: its deliveries given up and parked.
    #[serde(skip_serializing_if = "Option::is_none")]
    parked: Option<i64>,
    /// Only in the answer that made it: the signing secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    /// Only in the answer that made a pull subscription: what its owner reads with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pull: Option<PullAccess>,
}

impl Subscription {
    /// The row as every answer shows it (no secret, no backlog).
    pub(crate) fn of(row: &SubscriptionRow) -> Self {
        Self {
            id: row.id.to_string(),
            url: (row.delivery == sub::Delivery::Push).then(|| row.url.clone()),
            delivery: row.delivery,
            description: row.description.clone(),
            event_types: row.event_types.clone(),
            organizations: row.organizations.clone(),
            partitions: row.partitions.clone(),
            state: row.state,
            disabled_reason: row.disabled_reason.clone(),
            retry_ladder: row
                .retry_ladder
                .as_ref()
                .map(hookfleet_core::Ladder::display),
            max_in_flight: row.max_in_flight,
            rate_limit_per_s: row.rate_limit_per_s,
            ordering: row.ordering,
            profile: row.profile,
            tier: row.tier,
            tier_reason: row.tier_reason.clone(),
            created_at: row.created_at.format(&Rfc3339).unwrap_or_default(),
            backlog: None,
            parked: None,
            secret: None,
            pull: None,
        }
    }
}

#[derive(Debug, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// 1 to 1,000 (100)
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page
    cursor: Option<String>,
}

/// Every subscription not deleted, newest first, without secrets.
// `next_cursor` until the last page.
#[utoipa::path(get, path = "/v1/subscriptions", tag = SUBSCRIPTIONS,
    security(("admin_token" = [])),
    params(ListQuery),
    responses((status = 200, description = "A page of subscriptions",
        body = Page<Subscription>)))]
pub(crate) async fn list_subscriptions(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> AppResult<Json<Page<Subscription>>> {
    let limit = page_limit(q.limit)?;
    // The cursor is the last id of the previous page; ids sort by creation time.
    let after = crate::extract::cursor(q.cursor.as_deref(), SubscriptionId::parse)?;
    let mut rows = state
        .store
        .list_subscriptions(limit + 1, after.as_ref())
        .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more
        .then(|| rows.last().map(|r| r.id.to_string()))
        .flatten();
    Ok(Json(Page {
        data: rows.iter().map(Subscription::of).collect(),
        next_cursor,
    }))
}

/// Makes a subscription; the answer carries its signing secret (and, for a pull
/// subscription, its broker access) this once.
#[utoipa::path(post, path = "/v1/subscriptions", tag = SUBSCRIPTIONS,
    security(("admin_token" = [])),
    request_body = NewSubscription,
    responses(
        (status = 201, description = "Made", body = Subscription),
        (status = 422, description = "`validation_failed`, or `private_target`: the URL \
            resolves to an address the fleet does not deliver to", body = ErrorAnswer),
    ))]
pub(crate) async fn create_subscription(
    State(state): State<Arc<AppState>>,
    ApiJson(new): ApiJson<NewSubscription>,
) -> AppResult<(StatusCode, Json<Subscription>)> {
    let spec = new.validate().map_err(ApiError::invalid)?;
    let created = create(&state, spec).await?;
    let view = Subscription {
        secret: Some(created.secret.expose()),
        pull: created.pull,
        ..Subscription::of(&created.row)
    };
    Ok((StatusCode::CREATED, Json(view)))
}

/// A subscription just made: its row, its first secret, and for a pull subscription the
/// access its owner reads with (shown once).
pub(crate) struct Created {
    pub row: SubscriptionRow,
    pub secret: Secret,
    pub pull: Option<PullAccess>,
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
    let (tier, shard, tier_reason) = place(state, &spec, &id)?;
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
        own_queue: tier == sub::Tier::Own,
        tier,
        shard,
        tier_reason: Some(tier_reason.to_owned()),
        id,
    };
    let fifo = spec.ordering == sub::Ordering::Fifo;
    let keys = spec.filters.binding_keys();
    let bus = state.bus()?;
    let declare = async {
        // The shared tier needs no queue: the router learns of it from the notice below.
        if tier == sub::Tier::Own {
            bus.admin
                .declare_subscription(&state.topology, row.id.as_str(), &keys, fifo)
                .await?;
        }
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

/// Which tier a new subscription goes on, its shard there, and why: FIFO and pull
/// subscriptions, and those that ask, get a queue of their own; the rest share the fleet's
/// shard queues, unless the fleet has none.
fn place(
    state: &AppState,
    spec: &hookfleet_core::subscription::SubscriptionSpec,
    id: &SubscriptionId,
) -> AppResult<(sub::Tier, Option<u16>, &'static str)> {
    let shard = state.topology.shard_of(id.as_str());
    Ok(match (spec.tier, shard) {
        (Some(sub::Tier::Own), _) => (sub::Tier::Own, None, "asked for"),
        _ if spec.ordering == sub::Ordering::Fifo => (sub::Tier::Own, None, "FIFO"),
        _ if spec.delivery == sub::Delivery::Pull => (sub::Tier::Own, None, "pull"),
        (_, Some(n)) => (
            sub::Tier::Shared,
            Some(n),
            "the long tail shares shard queues",
        ),
        (Some(_), None) => {
            return Err(ApiError::invalid(hookfleet_core::Invalid::new(
                "tier",
                "this fleet has no shard queues (HOOKFLEET_SHARDS=0): `own` only",
            )));
        }
        (None, None) => (sub::Tier::Own, None, "the fleet has no shard queues"),
    })
}

/// Where a copy for this subscription is put from outside the router (a replay, a recovery, a
/// test send): its own queue, or on the shared tier its shard, hot or not (a shard always
/// exists; a hot queue may be on its way out, and the shard's workers take the copy either way).
pub(crate) fn lane(row: &SubscriptionRow) -> hookfleet_bus::Lane {
    match (row.tier, row.shard) {
        (sub::Tier::Own, _) | (_, None) => hookfleet_bus::Lane::Own,
        (_, Some(n)) => hookfleet_bus::Lane::Shard(n),
    }
}

/// The binding keys of a subscription's filters.
pub(super) fn binding_keys(row: &SubscriptionRow) -> Vec<String> {
    hookfleet_core::routing::binding_keys(
        &row.event_types,
        row.partitions.as_deref(),
        row.organizations.as_deref(),
    )
}

/// One subscription, with what waits for it (`backlog`, `parked`).
#[utoipa::path(get, path = "/v1/subscriptions/{id}", tag = SUBSCRIPTIONS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "The subscription", body = Subscription)))]
pub(crate) async fn get_subscription(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Subscription>> {
    let row = state.subscription(&id).await?;
    // What waits: messages ready in its queue (null if the broker cannot say), and deliveries
    // given up and parked (listed by `GET …/deliveries?status=exhausted`).
    let backlog = if row.tier == sub::Tier::Own {
        match state.bus_session() {
            Some(bus) => {
                bus.queue_depth(&state.topology.subscription_queue(row.id.as_str()))
                    .await
            }
            None => None,
        }
    } else {
        // A shard holds many subscriptions' copies: the record counts this one's.
        let waiting = state.store.waiting_count(&row.id).await?;
        Some(u32::try_from(waiting).unwrap_or(u32::MAX))
    };
    Ok(Json(Subscription {
        backlog: Some(backlog),
        parked: Some(state.store.parked_count(&row.id).await?),
        ..Subscription::of(&row)
    }))
}

/// Deletes a subscription: unbound at once, its queue removed after the grace.
#[utoipa::path(delete, path = "/v1/subscriptions/{id}", tag = SUBSCRIPTIONS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    responses((status = 204, description = "Deleted")))]
pub(crate) async fn delete_subscription(
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
    // that is just starting to consume it. Unbinding now means it receives nothing more. A
    // shared-tier subscription has no binding: the router drops it at the notice above, and
    // the workers drop what was already on its shard.
    if row.tier != sub::Tier::Own {
        return Ok(());
    }
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
