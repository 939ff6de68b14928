//! Pull subscriptions (source document 003: a subscriber "polls its queue itself"). Workers put
//! each rendered copy on the subscription's own outbox queue instead of POSTing it; its owner
//! reads that queue with any AMQP 0-9-1 client, as a broker user made here through RabbitMQ's
//! management API with permission to read that one queue and nothing else. Deleting the
//! subscription removes the user.
use crate::{AppState, error::ApiError};
use hookfleet_core::SubscriptionId;
use serde::Serialize;

/// What a pull subscriber needs to read its copies; shown once, at creation.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PullAccess {
    /// `amqp://user:password@host:port/vhost`.
    pub amqp_url: String,
    pub queue: String,
    pub username: String,
    pub password: String,
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
    let mut url = url::Url::parse(&state.settings.pull_amqp_url)
        .map_err(|e| ApiError::unavailable("HOOKFLEET_PULL_AMQP_URL is not a URL", &e))?;
    let (username, password) = (
        username(id),
        hookfleet_core::subscription::random_password(),
    );
    let bad = |()| {
        ApiError::unavailable(
            "HOOKFLEET_PULL_AMQP_URL cannot hold credentials",
            &std::io::Error::other("cannot-be-a-base URL"),
        )
    };
    url.set_username(&username).map_err(bad)?;
    url.set_password(Some(&password)).map_err(bad)?;
    Ok(PullAccess {
        amqp_url: url.to_string(),
        queue: state.topology.pull_queue(id),
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
    bus.admin.declare_pull_queue(&state.topology, id).await?;
    let url = url::Url::parse(&state.settings.pull_amqp_url)?;
    state
        .management
        .create_reader(
            &vhost(&url),
            &access.username,
            &access.password,
            &access.queue,
        )
        .await?;
    Ok(())
}

/// Removes a pull subscription's reader (its connections are closed by the broker).
pub(crate) async fn remove_reader(state: &AppState, user: &str) -> Result<(), ApiError> {
    state.management.delete_user(user).await.map_err(|e| {
        ApiError::unavailable("Failed to remove a pull subscription's broker user", &e)
    })
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
