//! Pull subscriptions (source document 003: a subscriber "polls its queue itself"). Workers put
//! each rendered copy on the subscription's own outbox queue instead of POSTing it; its owner
//! reads that queue with any AMQP 0-9-1 client, as a broker user made here through RabbitMQ's
//! management API with permission to read that one queue and nothing else. Deleting the
//! subscription removes the user. A rotation makes a new user; the replaced one keeps reading
//! until its grace ends, when the janitor deletes it.
use super::{Rotate, tags::SUBSCRIPTIONS};
use crate::{
    AppState,
    error::{ApiError, AppResult},
    extract::{ApiJsonOrDefault, ApiPath},
};
use axum::{Json, Router, extract::State, routing::post};
use hookfleet_core::SubscriptionId;
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/v1/subscriptions/{id}/pull/rotate", post(rotate_pull))
}

/// Broker access of a pull subscription (shown once).
// What a pull subscriber needs to read its copies; shown at creation and rotation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct PullAccess {
    /// `amqp://user:password@host:port/vhost`.
    pub amqp_url: String,
    pub queue: String,
    pub username: String,
    pub password: String,
    /// Where the user may read.
    pub vhost: String,
}

/// The broker user of a subscription: one per subscription, named after it.
pub(crate) fn username(id: &SubscriptionId) -> String {
    format!("hookfleet-pull-{}", id.as_str().trim_start_matches("sub_"))
}

/// The vhost of the subscribers' broker URL (`/` when the URL names none).
fn vhost(url: &url::Url) -> String {
    let path = url.path().trim_start_matches('/');
    if path.is_empty() {
        return "/".into();
    }
    url::form_urlencoded::parse(format!("v={path}").as_bytes())
        .next()
        .map_or_else(|| "/".into(), |(_, v)| v.into_owned())
}

/// Access for a new pull subscription (nothing made yet).
pub(crate) fn access(state: &AppState, id: &SubscriptionId) -> Result<PullAccess, ApiError> {
    access_as(state, id, username(id))
}

/// Access as `username`, with a fresh password (nothing made yet).
fn access_as(
    state: &AppState,
    id: &SubscriptionId,
    username: String,
) -> Result<PullAccess, ApiError> {
    let mut url = url::Url::parse(&state.settings.pull_amqp_url)
        .map_err(|e| ApiError::unavailable("HOOKFLEET_PULL_AMQP_URL is not a URL", &e))?;
    let password = hookfleet_core::subscription::random_password();
    let bad = |()| {
        ApiError::unavailable(
            "HOOKFLEET_PULL_AMQP_URL cannot hold credentials",
            &std::io::Error::other("cannot-be-a-base URL"),
        )
    };
    url.set_username(&username).map_err(bad)?;
    url.set_password(Some(&password)).map_err(bad)?;
    Ok(PullAccess {
        vhost: vhost(&url),
        amqp_url: url.to_string(),
        queue: state.topology.pull_queue(id.as_str()),
        username,
        password,
    })
}

/// Declares the outbox and makes its reader. Part of creating the subscription: on error
/// the subscription is not recorded.
pub(crate) async fn provision(
    state: &AppState,
    bus: &crate::Bus,
    id: &SubscriptionId,
    access: &PullAccess,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    bus.admin
        .declare_pull_queue(&state.topology, id.as_str())
        .await?;
    make_reader(state, access).await?;
    Ok(())
}

/// The broker user `access` names, allowed to read its queue only.
async fn make_reader(
    state: &AppState,
    access: &PullAccess,
) -> Result<(), hookfleet_bus::management::ManagementError> {
    state
        .management
        .create_reader(
            &access.vhost,
            &access.username,
            &access.password,
            &access.queue,
        )
        .await
}

/// Removes a pull subscription's reader (its connections are closed by the broker).
pub(crate) async fn remove_reader(state: &AppState, user: &str) -> Result<(), ApiError> {
    state.management.delete_user(user).await.map_err(|e| {
        ApiError::unavailable("Failed to remove a pull subscription's broker user", &e)
    })
}

/// Removes every broker user a subscription has had (deleting it).
pub(crate) async fn remove_readers(state: &AppState, id: &SubscriptionId) -> Result<(), ApiError> {
    for user in state.store.pull_users(id).await? {
        remove_reader(state, &user).await?;
    }
    Ok(())
}

/// `POST /v1/subscriptions/{id}/pull/rotate`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PullRotated {
    pull: PullAccess,
    #[schema(format = DateTime)]
    previous_valid_until: Option<String>,
}

/// New broker credentials for a pull subscription (`404` for a push one).
// A new broker user at once; the replaced one keeps reading for the grace (default 24h, `0s`:
// stops now).
#[utoipa::path(post, path = "/v1/subscriptions/{id}/pull/rotate", tag = SUBSCRIPTIONS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    request_body(content = Option<Rotate>, description = "May be empty"),
    responses((status = 200, description = "Rotated", body = PullRotated)))]
pub(crate) async fn rotate_pull(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
    ApiJsonOrDefault(body): ApiJsonOrDefault<Rotate>,
) -> AppResult<Json<PullRotated>> {
    let grace = body.grace()?;
    let row = state.subscription(&id).await?;
    if row.delivery != hookfleet_core::subscription::Delivery::Pull {
        return Err(ApiError::not_found("pull subscription"));
    }
    let suffix: String = hookfleet_core::subscription::random_password()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect();
    let access = access_as(&state, &row.id, format!("{}-{suffix}", username(&row.id)))?;
    make_reader(&state, &access).await.map_err(|e| {
        ApiError::unavailable("Failed to make a pull subscription's broker user", &e)
    })?;
    let Some(rotation) = state
        .store
        .rotate_pull_user(&row.id, &access.username, grace)
        .await?
    else {
        let _ = state.management.delete_user(&access.username).await;
        return Err(ApiError::not_found("pull subscription"));
    };
    for user in rotation.drop_now {
        remove_reader(&state, &user).await?;
    }
    let until = (!grace.is_zero()).then(|| {
        (hookfleet_core::now_utc() + grace)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    });
    Ok(Json(PullRotated {
        pull: access,
        previous_valid_until: until,
    }))
}

/// Deletes replaced users whose grace has ended (the janitor calls it).
pub(crate) async fn drop_expired(state: &AppState) {
    let due = match state.store.expired_pull_users().await {
        Ok(due) => due,
        Err(e) => {
            tracing::debug!(error = %e, "Failed to list expired pull users; trying later");
            return;
        }
    };
    for (id, user) in due {
        match state.management.delete_user(&user).await {
            Ok(()) => {
                if let Err(e) = state.store.forget_pull_user(&id, &user).await {
                    tracing::debug!(error = %e, "Failed to forget a deleted pull user; trying later");
                }
            }
            Err(e) => {
                tracing::warn!(subscription = %id, error = %crate::error::error_chain(&e), "Failed to delete an expired pull user; trying later");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_vhost_comes_from_the_url() {
        let v = |u: &str| super::vhost(&url::Url::parse(u).unwrap());
        assert_eq!(v("amqp://h:5672/%2f"), "/");
        assert_eq!(v("amqp://h:5672"), "/");
        assert_eq!(v("amqp://h:5672/prod"), "prod");
    }
}
