//! hookfleet-bus owns RabbitMQ and is the only crate that speaks AMQP. Roles ask it for what
//! they mean, never for an exchange, a routing key or the `mandatory` flag: a [`Publisher`]
//! offers one verb per intent (publish an accepted event to ingest, buffer an identity-provider
//! hook, publish a copy to the events exchange, schedule a retry on the ladder, put a rendered
//! copy in a pull outbox, park a message in the dead queue, tell the workers that subscriptions
//! changed), each treating a broker nack or a returned message as a failure, so a role answers
//! success only once the broker has confirmed a message into a durable queue. A [`Session`] (one
//! connection) hands out publishers, [`Consumer`]s whose [`Message`]s come with typed
//! [`Headers`], [`Notices`] from the control exchange, an [`Admin`] channel for topology changes
//! and the dead-queue walk, and a [`Session::closed`] future; [`supervise`] keeps a role
//! connected. The names and declarations of every exchange and queue (`topology`), the wire
//! format of headers (`wire`) and the AMQP client itself stay inside: roles see none of the
//! client's types, and a [`BusError`] carries the client's error only as its source.
#![forbid(unsafe_code)]

mod acks;
mod admin;
mod control;
mod intents;
pub mod management;
mod publish;
mod queue_kind;
mod retry;
mod session;
pub mod supervise;
mod topology;
mod wire;

pub use acks::TrackedAcker;
pub use admin::Admin;
pub use control::Notices;
pub use publish::{Confirm, Publisher};
pub use queue_kind::QueueKind;
pub use session::{Acker, Consumer, Message, Session};
pub use supervise::{Backoff, Broker, Link, supervise};
pub use topology::{DEFAULT_SHARDS, Lane, Topology};
pub use wire::{
    HEADER_ATTEMPT, HEADER_DELIVERY, HEADER_QUEUE, HEADER_REASON, HEADER_SUBSCRIPTION, HEADER_TEST,
    Headers,
};

use lapin::{Connection, ConnectionProperties};

/// How much of a reason travels in a header; the record keeps the same cut.
pub const MAX_REASON_LEN: usize = 512;

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The AMQP client failed (connection or channel lost, broker refused an operation); the
    /// client's own error is the source, never part of this type's API.
    #[error("AMQP error")]
    Amqp(#[source] AmqpError),
    /// A message could not be encoded (it never reached the broker).
    #[error("the message could not be encoded")]
    Encode(#[source] serde_json::Error),
    #[error("the broker refused the message (nack)")]
    Nacked,
    #[error("the broker could not route the message to any queue")]
    Returned,
    /// The reason is not given: it could repeat the URL, password included.
    #[error("the AMQP URL does not parse (HOOKFLEET_AMQP_URL)")]
    Url,
    #[error("the broker did not accept a connection within {0:?}")]
    ConnectTimeout(std::time::Duration),
}

pub type Result<T, E = BusError> = std::result::Result<T, E>;

/// An error of the AMQP client, kept opaque: its message and sources are shown, its type is
/// not, so no role comes to depend on the client.
#[derive(Debug)]
pub struct AmqpError(lapin::Error);

impl std::fmt::Display for AmqpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for AmqpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl From<lapin::Error> for BusError {
    fn from(e: lapin::Error) -> Self {
        Self::Amqp(AmqpError(e))
    }
}

/// Registers the bus's metric descriptions (for `# HELP` lines).
pub fn describe_metrics() {
    metrics::describe_counter!(
        "hookfleet_role_restarts_total",
        "Times a role lost its broker connection (or failed) and started again on a new one."
    );
}

/// Checks that `urls` is an AMQP URL lapin can use, or a comma-separated list of them (the
/// nodes of a cluster), so a typo stops start-up with a sentence instead of a role retrying
/// forever. The reason never repeats a URL (it may hold a password).
pub fn check_url(urls: &str) -> std::result::Result<(), String> {
    for (n, url) in nodes(urls).enumerate() {
        url.parse::<lapin::uri::AMQPUri>()
            .map_err(|e| format!("URL {} of the list: {e}", n + 1))?;
    }
    Ok(())
}

/// The URLs of a comma-separated list, empty items skipped.
pub fn nodes(urls: &str) -> impl Iterator<Item = &str> {
    urls.split(',').map(str::trim).filter(|u| !u.is_empty())
}

/// Where the next connection attempt of this process starts in a URL list. Each attempt moves
/// it on, so roles spread over a cluster's nodes and a reconnect after a node died tries
/// another node first.
static NEXT_NODE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How long one node of a list has to accept a connection before the next is tried: a node
/// that is down but not refusing (a paused VM, a dropped route) must not stall the others.
const NODE_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The largest frame hookfleet asks for unless the URL sets `frame_max`. The client keeps two
/// buffers of 32 frames per connection: 8 MiB at the broker's default of 128 KiB, which a
/// worker with 10,000 subscriptions (11 connections) would pay 88 MiB for. A larger message is
/// simply sent in more frames.
const FRAME_MAX: u32 = 32 * 1024;

/// Opens a connection named after the role, so operators can tell roles apart in the broker UI.
/// `urls` may list several nodes (comma-separated): each is tried in turn, starting from a
/// different one each time, until one accepts; the error is the last node's.
pub async fn connect(urls: &str, role: &str) -> Result<Session> {
    let list: Vec<&str> = nodes(urls).collect();
    let start = NEXT_NODE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut last = None;
    for i in 0..list.len().max(1) {
        let url = list
            .get((start + i) % list.len().max(1))
            .copied()
            .unwrap_or(urls);
        let props = ConnectionProperties::default()
            .with_connection_name(format!("hookfleet-{role}").into());
        let mut uri: lapin::uri::AMQPUri = url.parse().map_err(|_| BusError::Url)?;
        uri.query.frame_max.get_or_insert(FRAME_MAX);
        let attempt =
            tokio::time::timeout(NODE_CONNECT_TIMEOUT, Connection::connect_uri(uri, props));
        match attempt.await {
            Ok(Ok(c)) => return Ok(Session::new(c, urls, role)),
            Ok(Err(e)) => last = Some(e.into()),
            Err(_) => last = Some(BusError::ConnectTimeout(NODE_CONNECT_TIMEOUT)),
        }
    }
    Err(last.unwrap_or(BusError::ConnectTimeout(NODE_CONNECT_TIMEOUT)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn check_url_accepts_amqp_urls_and_refuses_others_without_repeating_them() {
        assert!(super::check_url("amqp://guest:guest@127.0.0.1:5672/%2f").is_ok());
        assert!(super::check_url("amqps://u:p@broker.example:5671/prod").is_ok());
        assert!(
            super::check_url("amqp://g:g@127.0.0.1:5681/%2f, amqp://g:g@127.0.0.1:5682/%2f,")
                .is_ok()
        );
        let reason = super::check_url("amqp://g:g@h:1/x,amqp://u:hunter2@h:port/x").unwrap_err();
        assert!(reason.starts_with("URL 2 of the list"), "{reason}");
        for bad in [
            "amqp://u:hunter2@h:port/x",
            "hunter2",
            "http://u:hunter2@h/",
        ] {
            let reason = super::check_url(bad).expect_err(bad);
            assert!(!reason.contains("hunter2"), "{bad}: {reason}");
        }
    }
}
