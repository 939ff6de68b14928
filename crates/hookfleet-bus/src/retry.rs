//! The retry ladder's rungs, from a delay to its TTL queue: one durable queue per distinct
//! delay (`hookfleet.retry.<ms>ms`, named in `topology`), behind a fanout exchange of the same
//! name, declared here the first time a delay is used, and dead-lettering each message back to
//! the queue named by its routing key once the delay has passed. No timer lives in any process,
//! so waiting retries survive every restart. Both the delivery workers' ladder and the
//! enricher's waits come through [`Rungs::schedule`].
use crate::{
    Confirm, Publisher, Result, Topology,
    publish::Routing,
    topology::{durable, long_string},
    wire::Outgoing,
};
use lapin::{
    Channel, Connection, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions},
    types::{AMQPValue, FieldTable},
};
use std::{collections::HashSet, sync::Arc, time::Duration};

/// The rungs a publisher has declared, on a channel of their own (opened at the first retry):
/// a declare the broker refuses closes its channel, which must not be a publishing one.
pub(crate) struct Rungs {
    connection: Arc<Connection>,
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    channel: Option<Channel>,
    declared: HashSet<Duration>,
}

impl Rungs {
    pub(crate) fn new(connection: Arc<Connection>) -> Self {
        Self {
            connection,
            state: tokio::sync::Mutex::default(),
        }
    }

    /// Publishes `body` to come back to `queue` after `delay` (zero: now, at the back of the
    /// queue) with `outgoing`'s headers.
    pub(crate) async fn schedule(
        &self,
        publisher: &Publisher,
        queue: &str,
        delay: Duration,
        outgoing: &Outgoing,
        body: &[u8],
    ) -> Result<Confirm> {
        let topology = &publisher.topology;
        if delay.is_zero() {
            return publisher
                .send("", queue, Routing::Mandatory, body, outgoing)
                .await;
        }
        self.declare_once(topology, delay).await;
        publisher
            .send(
                &topology.retry_rung(delay),
                queue,
                Routing::Mandatory,
                body,
                outgoing,
            )
            .await
    }

    /// Declares the rung of `delay` unless this publisher already has. A failure is only
    /// logged: another worker most likely declared it already, and the publish says for sure.
    async fn declare_once(&self, topology: &Topology, delay: Duration) {
        let mut state = self.state.lock().await;
        if state.declared.contains(&delay) {
            return;
        }
        let channel = match &state.channel {
            Some(c) if c.status().connected() => c.clone(),
            _ => match self.connection.create_channel().await {
                Ok(c) => {
                    state.channel = Some(c.clone());
                    c
                }
                Err(e) => {
                    tracing::warn!(error = %e, ?delay, "Failed to open the retry rung channel");
                    return;
                }
            },
        };
        match declare_rung(&channel, topology, delay).await {
            Ok(()) => {
                state.declared.insert(delay);
            }
            Err(e) => tracing::warn!(error = %e, ?delay, "Failed to declare a retry rung"),
        }
    }
}

/// Declares one rung. A retried message is published to the rung's fanout exchange with its
/// destination queue's name as routing key; it waits `delay` in the rung's queue, then expires
/// and is dead-lettered through the default exchange under that same routing key, straight
/// back into the queue it came from. Idempotent.
async fn declare_rung(channel: &Channel, topology: &Topology, delay: Duration) -> Result<()> {
    let name = topology.retry_rung(delay);
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), long_string("quorum"));
    // Every message waits the same time, so they expire in order from the head.
    args.insert(
        "x-message-ttl".into(),
        AMQPValue::LongLongInt(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
    );
    // No dead-letter routing key: the message keeps the one it was published with, which is
    // the name of its destination queue.
    args.insert("x-dead-letter-exchange".into(), long_string(""));
    args.insert(
        "x-dead-letter-strategy".into(),
        long_string("at-least-once"),
    );
    args.insert("x-overflow".into(), long_string("reject-publish"));
    channel
        .queue_declare(name.as_str().into(), durable(), args)
        .await?;
    channel
        .exchange_declare(
            name.as_str().into(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_bind(
            name.as_str().into(),
            name.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}
