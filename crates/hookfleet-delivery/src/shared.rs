//! What every consumer task of one worker shares: the broker session it consumes on, the
//! record, the one HTTP client, the publisher that moves messages on, the worker-wide cap on
//! requests in flight, the directory of subscriptions, and the way to the outcome batcher.
use crate::{
    batcher::{Pending, Verdict},
    config::Settings,
    directory::Directory,
};
use anyhow::Context;
use hookfleet_bus::{Publisher, Session, Topology};
use hookfleet_store::Store;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Shared by every consumer task of one worker.
pub(crate) struct Shared {
    pub session: Session,
    pub store: Store,
    pub topology: Topology,
    pub settings: Settings,
    pub client: reqwest::Client,
    pub outcomes: mpsc::Sender<Pending>,
    pub publisher: Arc<Publisher>,
    /// Requests in flight across every subscription of this worker.
    pub in_flight: Arc<tokio::sync::Semaphore>,
    pub directory: Directory,
    /// Hot subscriptions whose own queue this worker declared, and when (to move copies there
    /// without a declare each); forgotten when a move finds the queue gone.
    pub hot_queues: std::sync::Mutex<
        std::collections::HashMap<hookfleet_core::SubscriptionId, std::time::Instant>,
    >,
    /// Held while a subscription is turned hot: every copy of it in hand (up to a shard's
    /// prefetch) would otherwise declare its queue at once, each on a channel of its own,
    /// which exhausted the connection's channels and made the broker close the connection
    /// (`INTERNAL_ERROR`), returning every unacked copy to be delivered again.
    pub turning_hot: tokio::sync::Mutex<()>,
    /// Deleted subscriptions whose copies were met on a shard (see `shards`).
    pub gone: std::sync::Mutex<std::collections::HashSet<hookfleet_core::SubscriptionId>>,
}

impl Shared {
    /// Hands a message's outcome to the batcher; if the batcher is gone, requeues the message.
    pub(crate) async fn submit(&self, pending: Pending) {
        if let Err(mpsc::error::SendError(p)) = self.outcomes.send(pending).await {
            p.complete(Verdict::Requeue);
        }
    }
}

/// The one HTTP client a worker sends every delivery with (also built by the hostility tests).
pub(crate) fn http_client(settings: &Settings) -> anyhow::Result<reqwest::Client> {
    let mut client = reqwest::Client::builder()
        // Webhook receivers answer; they do not redirect. Following would re-POST elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        // No proxy from the environment (HTTP_PROXY, ALL_PROXY…): through a proxy the target's
        // name would be resolved by the proxy, past the private-address check at send time.
        .no_proxy()
        .user_agent(concat!("hookfleet/", env!("CARGO_PKG_VERSION")))
        // Idle connections are capped per host and expire: a worker that once spoke to many
        // hosts must not keep a connection to each. The cap should stay at or above a busy
        // host's in-flight count, or connections close after each request (a handshake per
        // delivery).
        .pool_max_idle_per_host(settings.idle_per_host)
        .pool_idle_timeout(settings.idle_timeout)
        .tcp_nodelay(true);
    if !settings.allow_private_targets {
        client = client.dns_resolver(crate::guard::PublicOnly);
    }
    client.build().context("Failed to build the HTTP client")
}
