//! The delivery log: per subscription, across subscriptions, and one delivery with every
//! attempt (sending again is `replays`).
use super::tags::DELIVERIES;
use crate::{
    AppState,
    error::{ApiError, AppResult},
    extract::{ApiPath, ApiQuery, page_limit},
    pages::Page,
};
use axum::{Json, Router, extract::State, routing::get};
use hookfleet_core::{DeliveryId, Invalid, SubscriptionId};
use hookfleet_store::{Cursor, DeliveryStatus, DeliveryView, LogFilter};
use serde::Deserialize;
use std::sync::Arc;
use utoipa::IntoParams;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/v1/subscriptions/{id}/deliveries",
            get(subscription_deliveries),
        )
        .route("/v1/deliveries", get(all_deliveries))
        .route("/v1/deliveries/{id}", get(get_delivery))
}

/// The delivery log's filters and page, as `GET /v1/deliveries`, a subscription's and a
/// webhook's log take them.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogQuery {
    /// Only this subscription's deliveries (on a subscription's or webhook's own log, the
    /// path's wins).
    subscription_id: Option<String>,
    // Read as text so a wrong one is a 422 naming the field, not a 400.
    #[param(value_type = Option<DeliveryStatus>)]
    status: Option<String>,
    /// Only copies of this event type.
    #[serde(rename = "type")]
    event_type: Option<String>,
    /// Only copies for this organization.
    organization_id: Option<String>,
    /// RFC 3339.
    #[param(format = DateTime)]
    since: Option<String>,
    /// RFC 3339.
    #[param(format = DateTime)]
    until: Option<String>,
    /// 1 to 1,000 (100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A subscription's deliveries, newest first, with their attempts.
// `next_cursor` until the last page.
#[utoipa::path(get, path = "/v1/subscriptions/{id}/deliveries", tag = DELIVERIES,
    security(("admin_token" = [])),
    params(("id" = String, Path), LogQuery),
    responses((status = 200, description = "A page of deliveries", body = Page<DeliveryView>)))]
pub(crate) async fn subscription_deliveries(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> AppResult<Json<Page<DeliveryView>>> {
    let sub = state.subscription(&id).await?;
    let page = log_page(&state, Some(sub.id), q).await?;
    Ok(Json(Page {
        data: page.data,
        next_cursor: page.next_cursor,
    }))
}

/// The delivery log across subscriptions, newest first, with their attempts.
// The same filters (and `subscription_id`) and cursor pages.
#[utoipa::path(get, path = "/v1/deliveries", tag = DELIVERIES, security(("admin_token" = [])),
    params(LogQuery),
    responses((status = 200, description = "A page of deliveries", body = Page<DeliveryView>)))]
pub(crate) async fn all_deliveries(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> AppResult<Json<Page<DeliveryView>>> {
    let page = log_page(&state, None, q).await?;
    Ok(Json(Page {
        data: page.data,
        next_cursor: page.next_cursor,
    }))
}

/// One page of the delivery log, as `q` asks; `subscription_id` (from the path) wins over
/// the query's.
pub(crate) async fn log_page(
    state: &AppState,
    subscription_id: Option<SubscriptionId>,
    q: LogQuery,
) -> AppResult<hookfleet_store::LogPage> {
    let status = q
        .status
        .as_deref()
        .map(|s| {
            DeliveryStatus::parse(s).ok_or_else(|| {
                ApiError::invalid(Invalid::new(
                    "status",
                    "must be pending, delivered, failed or exhausted",
                ))
            })
        })
        .transpose()?;
    let (event_type, organization_id) = super::filters::type_and_organization(
        q.event_type.as_deref(),
        q.organization_id.as_deref(),
    )?;
    let filter = LogFilter {
        subscription_id: match subscription_id {
            Some(id) => Some(id),
            None => q
                .subscription_id
                .as_deref()
                .map(super::filters::subscription)
                .transpose()?,
        },
        status,
        event_type,
        organization_id,
        since: q
            .since
            .as_deref()
            .map(|s| super::filters::parse_time("since", s))
            .transpose()?,
        until: q
            .until
            .as_deref()
            .map(|s| super::filters::parse_time("until", s))
            .transpose()?,
    };
    let limit = page_limit(q.limit)?;
    let cursor = crate::extract::cursor(q.cursor.as_deref(), Cursor::decode)?;
    Ok(state
        .store
        .deliveries(&filter, limit, cursor.as_ref())
        .await?)
}

/// One delivery with every attempt and the first 1 KiB of each answer.
#[utoipa::path(get, path = "/v1/deliveries/{id}", tag = DELIVERIES,
    security(("admin_token" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "The delivery", body = DeliveryView)))]
pub(crate) async fn get_delivery(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<DeliveryView>> {
    let id = DeliveryId::parse(&id).ok_or_else(|| ApiError::not_found("delivery"))?;
    let d = state
        .store
        .delivery(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    Ok(Json(d))
}
