//! The retry ladder, from a delay to its TTL queue: a message to come back later is published
//! to the rung of its delay, one durable queue per distinct delay (`hookfleet.retry.<ms>ms`,
//! named in `topology`) behind a fanout exchange of the same name, declared here the first time
//! the delay is used, which dead-letters each message back to the queue named by its routing
//! key once the delay has passed. No timer lives in any process, so waiting retries survive
//! every restart. The delivery workers' ladder and the enricher's waits both come here.
use crate::{
    Confirm, Lane, Publisher, Result, Topology,
    publish::Routing,
    topology::{durable, long_string},
    wire::{Headers, Outgoing},
};
use hookfleet_core::SubscriptionId;
use lapin::{
    Channel, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions},
    types::{AMQPValue, FieldTable},
};
use std::time::Duration;

impl Publisher {
    /// A delivery's copy back onto its subscription's lane (its own queue, or its shard) as
    /// attempt `attempt`, after `delay` on the retry ladder's rung of that length (zero: at
    /// once, at the back of the queue). `test` marks a test send, recorded as such. The copy
    /// names its subscription, which a shard needs and an own queue ignores.
    pub async fn schedule_retry(
        &self,
        subscription: &SubscriptionId,
        lane: Lane,
        delay: Duration,
        attempt: i32,
        test: bool,
        body: &[u8],
    ) -> Result<Confirm> {
        let queue = self.topology.lane_queue(subscription.as_str(), lane);
        let mut headers = Headers::attempt(attempt, test);
        headers.subscription = Some(subscription.to_string());
        let outgoing = Outgoing::with_headers(headers);
        self.come_back(&queue, delay, &outgoing, body).await
    }

    /// A delivery's copy onto its subscription's lane now, as attempt `attempt`: a replay, a
    /// recovery or a test send.
    pub async fn enqueue_attempt(
        &self,
        subscription: &SubscriptionId,
        lane: Lane,
        attempt: i32,
        test: bool,
        body: &[u8],
    ) -> Result<Confirm> {
        self.schedule_retry(subscription, lane, Duration::ZERO, attempt, test, body)
            .await
    }

    /// A hook event sent back to its buffer to be enriched again after `delay`, as its try
    /// number `attempt` (the admin API, the broker or the record was away).
    pub async fn delay_hook(&self, body: &[u8], delay: Duration, attempt: i32) -> Result<Confirm> {
        let outgoing = Outgoing::with_headers(Headers::attempt(attempt, false));
        self.come_back(&self.topology.hooks(), delay, &outgoing, body)
            .await
    }

    /// Publishes `body` to come back to `queue` after `delay` (zero: now, at the back of the
    /// queue), through the rung of that delay.
    async fn come_back(
        &self,
        queue: &str,
        delay: Duration,
        outgoing: &Outgoing,
        body: &[u8],
    ) -> Result<Confirm> {
        if delay.is_zero() {
            return self
                .send("", queue, Routing::Mandatory, body, outgoing)
                .await;
        }
        self.declare_rung_once(delay).await;
        let rung = self.topology.retry_rung(delay);
        self.send(&rung, queue, Routing::Mandatory, body, outgoing)
            .await
    }

    /// Declares the rung of `delay` unless this publisher already has. A failure is only
    /// logged: another worker most likely declared it already, and the publish says for sure.
    async fn declare_rung_once(&self, delay: Duration) {
        let mut state = self.rungs.state.lock().await;
        if state.declared.contains(&delay) {
            return;
        }
        let channel = match &state.channel {
            Some(c) if c.status().connected() => c.clone(),
            _ => match self.rungs.connection.create_channel().await {
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
        match declare_rung(&channel, &self.topology, delay).await {
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
