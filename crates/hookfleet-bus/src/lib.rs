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
mod retry;
pub mod session;
pub mod supervise;
pub mod topology;
pub mod wire;

pub use acks::TrackedAcker;
pub use admin::Admin;
pub use control::{Notices, notify_reconcile};
pub use publish::{Confirm, Publisher};
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
}

pub type Result<T, E = BusError> = std::result::Result<T, E>;

/// Registers the bus's metric descriptions (for `# HELP` lines).
pub fn describe_metrics() {
    metrics::describe_counter!(
        "hookfleet_role_restarts_total",
        "Times a role lost its broker connection (or failed) and started again on a new one."
    );
}

/// Checks that `url` is an AMQP URL lapin can use, so a typo stops start-up with a sentence
/// instead of a role retrying forever. The reason never repeats the URL (it may hold a
/// password).
pub fn check_url(url: &str) -> std::result::Result<(), String> {
    url.parse::<lapin::uri::AMQPUri>().map(|_| ())
}

/// Opens a connection named after the role, so operators can tell roles apart in the broker UI.
pub async fn connect(url: &str, role: &str) -> Result<Session> {
    let props =
        ConnectionProperties::default().with_connection_name(format!("hookfleet-{role}").into());
    Ok(Session::new(Connection::connect(url, props).await?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn check_url_accepts_amqp_urls_and_refuses_others_without_repeating_them() {
        assert!(super::check_url("amqp://guest:guest@127.0.0.1:5672/%2f").is_ok());
        assert!(super::check_url("amqps://u:p@broker.example:5671/prod").is_ok());
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
