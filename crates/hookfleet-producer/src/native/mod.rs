//! hookfleet's own API, `/v1/…`, split by resource. Its group: the admin token (or, later, an
//! API key) required on every route, a 256 KiB body limit, and the `{"error": {code,
//! message}}` envelope of [`crate::error::ApiError`]. A dialect is a sibling of this module with
//! a group of its own, merged into the app by [`crate::app`].
use crate::{
    AppState, auth,
    error::{ApiError, AppResult},
    extract,
};
use axum::{Router, middleware};
use std::sync::Arc;

pub(crate) mod api_keys;
pub(crate) mod changes;
pub(crate) mod channels;
pub(crate) mod deliveries;
pub(crate) mod events;
mod filters;
pub(crate) mod installations;
pub(crate) mod pull;
pub(crate) mod replays;
pub(crate) mod secrets;
pub(crate) mod subscriptions;

/// The description's groups of operations (`tag`), one per resource.
pub(crate) mod tags {
    pub(crate) const EVENTS: &str = "events";
    pub(crate) const SUBSCRIPTIONS: &str = "subscriptions";
    pub(crate) const DELIVERIES: &str = "deliveries";
    pub(crate) const KEYS: &str = "api-keys";
    pub(crate) const INSTALLATIONS: &str = "installations";
    pub(crate) const CHANNELS: &str = "channels";
}

/// Largest request body the native API accepts.
pub const BODY_LIMIT: usize = 256 * 1024;
/// Largest body of `POST /v1/events/batch` (up to 1,000 events).
pub const BATCH_BODY_LIMIT: usize = 8 * 1024 * 1024;

pub(crate) fn routes(state: &Arc<AppState>) -> Router<Arc<AppState>> {
    let group = Router::new()
        .merge(events::routes())
        .merge(subscriptions::routes())
        .merge(changes::routes())
        .merge(api_keys::routes())
        .merge(installations::routes())
        .merge(channels::routes())
        .merge(pull::routes())
        .merge(deliveries::routes())
        .merge(replays::routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_admin,
        ));
    let batch = events::batch_routes().route_layer(middleware::from_fn_with_state(
        state.clone(),
        auth::require_admin,
    ));
    extract::with_body_limit::<_, ApiError>(group, BODY_LIMIT).merge(extract::with_body_limit::<
        _,
        ApiError,
    >(batch, BATCH_BODY_LIMIT))
}

/// Every producer's directory (keys, installations, channels) learns of a change: this one at
/// once, the others by the control notice.
async fn directory_changed(state: &AppState) {
    state.reload_directory().await;
    state.notify_workers().await;
}

/// How long the replaced secret or key keeps working after a rotation, unless the request says.
const DEFAULT_ROTATION_GRACE: &str = "24h";
/// Longest grace a rotation may give the replaced secret or key.
const MAX_ROTATION_GRACE: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

/// A rotation's body (a subscription's secret, a pull user, an API key); may be empty.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rotate {
    /// How long the replaced one keeps working (default `24h`, at most `7d`, `0s`: stop now).
    #[schema(example = "24h")]
    previous_valid_for: Option<String>,
}

impl Rotate {
    fn grace(&self) -> AppResult<std::time::Duration> {
        let grace = self
            .previous_valid_for
            .as_deref()
            .unwrap_or(DEFAULT_ROTATION_GRACE);
        let invalid =
            |m: String| ApiError::invalid(hookfleet_core::Invalid::new("previous_valid_for", m));
        let grace = hookfleet_core::parse_duration(grace).map_err(invalid)?;
        if grace > MAX_ROTATION_GRACE {
            return Err(invalid("must be at most 7d".into()));
        }
        Ok(grace)
    }
}
