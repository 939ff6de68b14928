//! hookfleet-bus owns RabbitMQ and is the only crate that speaks AMQP: the names of every
//! exchange and queue and their declaration (all in [`topology`], idempotent, each argument
//! explained), the headers a message carries ([`wire`]), a publisher that treats a broker nack
//! or a returned message as a failure so callers only answer success once the broker has
//! confirmed a message into a durable queue, consuming and settling ([`session`]), control
//! notices, retry scheduling on the ladder, the dead-queue walk, and keeping a role connected
//! ([`supervise`]). Roles see none of the AMQP client's types.
#![forbid(unsafe_code)]

mod acks;
mod admin;
mod control;
pub mod management;
pub mod publish;
mod queue_kind;
mod retry;
pub mod session;
pub mod supervise;
pub mod topology;
pub mod wire;

pub use acks::TrackedAcker;
pub use admin::Admin;
pub use control::{Notices, notify_reconcile};
pub use publish::{Confirm, Publisher};
pub use queue_kind::QueueKind;
pub use retry::Rungs;
pub use session::{Acker, Consumer, Message, Session};
pub use supervise::{Backoff, Broker, Link, supervise};
pub use topology::Topology;
pub use wire::{
    HEADER_ATTEMPT, HEADER_DELIVERY, HEADER_QUEUE, HEADER_REASON, HEADER_SUBSCRIPTION, HEADER_TEST,
    Headers, Outgoing,
};

use lapin::{Connection, ConnectionProperties};

/// How much of a reason travels in a header; the record keeps the same cut.
pub const MAX_REASON_LEN: usize = 512;

/// Parks a message a stage cannot process in `hookfleet.dead`, with where it came from and why,
/// and returns the pending confirm: the caller acks the original only once it is confirmed.
pub async fn park_poison(
    publisher: &Publisher,
    topology: &Topology,
    queue: &str,
    reason: &str,
    body: &[u8],
) -> Result<Confirm> {
    let headers = Headers {
        queue: Some(queue.to_owned()),
        ..Headers::default()
    };
    park(publisher, topology, headers, reason, body).await
}

/// Parks an exhausted delivery's message in `hookfleet.dead`, marked with its subscription and
/// delivery (so a recovery can find it) and why it was given up.
pub async fn park_exhausted(
    publisher: &Publisher,
    topology: &Topology,
    subscription_id: &str,
    delivery_id: &str,
    reason: &str,
    body: &[u8],
) -> Result<Confirm> {
    let headers = Headers {
        subscription: Some(subscription_id.to_owned()),
        delivery: Some(delivery_id.to_owned()),
        ..Headers::default()
    };
    park(publisher, topology, headers, reason, body).await
}

async fn park(
    publisher: &Publisher,
    topology: &Topology,
    mut headers: Headers,
    reason: &str,
    body: &[u8],
) -> Result<Confirm> {
    headers.reason = Some(truncate(reason, MAX_REASON_LEN).to_owned());
    let outgoing = Outgoing::with_headers(headers);
    publisher
        .send("", &topology.dead(), true, body, &outgoing)
        .await
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
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
    #[error("AMQP error")]
    Amqp(#[from] lapin::Error),
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
            Ok(Err(e)) => last = Some(BusError::Amqp(e)),
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
