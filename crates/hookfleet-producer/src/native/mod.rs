//! hookfleet's own API, `/v1/…`, split by resource. Its group: the admin token (or, later, an
//! API key) required on every route, a 256 KiB body limit, and the `{"error": {code,
//! message}}` envelope of [`crate::error::ApiError`]. A dialect is a sibling of this module with
//! a group of its own, merged into the app by [`crate::app`].
use crate::{AppState, auth, extract};
use axum::{Router, middleware};
use std::sync::Arc;

mod deliveries;
mod events;
mod subscriptions;

/// Largest request body the native API accepts.
pub const BODY_LIMIT: usize = 256 * 1024;

pub(crate) fn routes(state: &Arc<AppState>) -> Router<Arc<AppState>> {
    let group = Router::new()
        .merge(events::routes())
        .merge(subscriptions::routes())
        .merge(deliveries::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require));
    extract::with_body_limit(group, BODY_LIMIT)
}
