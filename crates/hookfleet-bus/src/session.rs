//! A role's life on the broker: a [`Session`] (one connection) hands out what a role uses, so
//! no role touches an AMQP client type: a [`Publisher`], an [`Admin`] channel for topology
//! changes and the dead-queue walk, [`Consumer`]s whose [`Message`]s come with typed
//! [`Headers`] and are settled by delivery tag through an [`Acker`], [`Notices`] from the
//! control exchange, and [`Rungs`] to schedule a retry on the ladder.
use crate::{
    BusError, Publisher, Result, Topology,
    publish::Confirm,
    topology,
    wire::{Headers, Outgoing},
};
use futures_util::StreamExt;
use lapin::{
    Channel, Connection, ConnectionStatus,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicQosOptions,
        QueueBindOptions, QueueDeclareOptions,
    },
    types::FieldTable,
};
use std::collections::HashSet;

/// One broker connection of a role.
pub struct Session {
    connection: Connection,
}

impl Session {
    pub(crate) fn new(connection: Connection) -> Self {
        Self { connection }
    }

    pub(crate) fn status(&self) -> ConnectionStatus {
        self.connection.status().clone()
    }

    pub fn is_connected(&self) -> bool {
        self.connection.status().connected()
    }

    pub async fn close(&self) {
        let _ = self.connection.close(200, "done".into()).await;
    }

    /// A publisher with `channels` confirm-mode channels.
    pub async fn publisher(&self, channels: usize) -> Result<Publisher> {
        Publisher::new(&self.connection, channels).await
    }

    /// A channel for declaring, binding and deleting queues and walking the dead queue.
    pub async fn admin(&self) -> Result<Admin> {
        Ok(Admin {
            channel: self.connection.create_channel().await?,
        })
    }

    /// Consumes `queue` on a channel of its own with `prefetch` unacked messages at most.
    pub async fn consume(&self, queue: &str, prefetch: u16) -> Result<Consumer> {
        let channel = self.connection.create_channel().await?;
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        let inner = channel
            .basic_consume(
                queue.into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(Consumer {
            inner,
            acker: Acker { channel },
        })
    }

    /// Every notice on the control exchange from now on, through a private queue of this
    /// session's (every listener hears every notice).
    pub async fn notices(&self, topology: &Topology) -> Result<Notices> {
        let channel = self.connection.create_channel().await?;
        let queue = channel
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        channel
            .queue_bind(
                queue.name().clone(),
                topology.control().into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let inner = channel
            .basic_consume(
                queue.name().clone(),
                "".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        Ok(Notices { channel, inner })
    }

    /// Where retries are scheduled; declares each rung the first time it is used.
    pub async fn rungs(&self) -> Result<Rungs> {
        Ok(Rungs {
            channel: self.connection.create_channel().await?,
            declared: HashSet::new(),
        })
    }
}

/// One message taken from a queue.
#[derive(Debug)]
pub struct Message {
    pub body: Vec<u8>,
    /// Settles the message through the consumer's [`Acker`].
    pub tag: u64,
    /// The broker delivered it before (to this or another consumer) without an ack.
    pub redelivered: bool,
    pub headers: Headers,
}

/// Messages from one queue, until the broker cancels the consumer (queue deleted) or the
/// connection goes.
pub struct Consumer {
    inner: lapin::Consumer,
    acker: Acker,
}

impl Consumer {
    /// The next message; `None` once the broker has cancelled this consumer.
    pub async fn next(&mut self) -> Option<Result<Message>> {
        let delivery = match self.inner.next().await? {
            Ok(d) => d,
            Err(e) => return Some(Err(BusError::Amqp(e))),
        };
        Some(Ok(Message {
            headers: Headers::decode(delivery.properties.headers().as_ref()),
            tag: delivery.delivery_tag,
            redelivered: delivery.redelivered,
            body: delivery.data,
        }))
    }

    /// Settles this consumer's messages; cheap to clone, usable while `next` is awaited.
    pub fn acker(&self) -> Acker {
        self.acker.clone()
    }
}

/// Acks and requeues on a consumer's channel, by delivery tag.
#[derive(Clone)]
pub struct Acker {
    channel: Channel,
}

impl Acker {
    pub async fn ack(&self, tag: u64) -> Result<()> {
        Ok(self
            .channel
            .basic_ack(tag, BasicAckOptions { multiple: false })
            .await?)
    }

    /// Acks every message up to and including `tag` not settled yet.
    pub async fn ack_up_to(&self, tag: u64) -> Result<()> {
        Ok(self
            .channel
            .basic_ack(tag, BasicAckOptions { multiple: true })
            .await?)
    }

    /// Gives the message back to its queue, to be delivered again.
    pub async fn requeue(&self, tag: u64) -> Result<()> {
        Ok(self
            .channel
            .basic_nack(
                tag,
                BasicNackOptions {
                    multiple: false,
                    requeue: true,
                },
            )
            .await?)
    }

    /// Gives back every message up to and including `tag` not settled yet.
    pub async fn requeue_up_to(&self, tag: u64) -> Result<()> {
        Ok(self
            .channel
            .basic_nack(
                tag,
                BasicNackOptions {
                    multiple: true,
                    requeue: true,
                },
            )
            .await?)
    }

    /// Stops the consumer by closing its channel: whatever it holds unacked goes back to the
    /// queue. There is deliberately no `basic.cancel`: when a queue is deleted the broker
    /// cancels its consumers itself, and a cancel of ours crossing that one makes the client
    /// fail the whole connection ("unexpected basic cancel-ok").
    pub async fn close(&self, why: &str) {
        let _ = self.channel.close(200, why.into()).await;
    }
}

/// Notices from the control exchange (today only "reconcile your subscriptions now").
pub struct Notices {
    channel: Channel,
    inner: lapin::Consumer,
}

/// The one notice there is; its body is not read, so any message on the exchange counts.
const RECONCILE: &[u8] = br#"{"op":"reconcile"}"#;

impl Notices {
    /// Waits for the next notice; `None` once the broker cancelled the listener.
    pub async fn next(&mut self) -> Option<Result<()>> {
        match self.inner.next().await? {
            Ok(_) => Some(Ok(())),
            Err(e) => Some(Err(BusError::Amqp(e))),
        }
    }

    pub async fn close(&self) {
        let _ = self.channel.close(200, "shutdown".into()).await;
    }
}

/// Tells every delivery worker to reconcile its subscriptions now (a notice may be lost; the
/// workers also reconcile periodically).
pub async fn notify_reconcile(publisher: &Publisher, topology: &Topology) -> Result<()> {
    publisher
        .publish(
            &topology.control(),
            "",
            false,
            RECONCILE,
            &Outgoing::default(),
        )
        .await
}

/// The retry ladder's rungs, declared as they are first needed.
pub struct Rungs {
    channel: Channel,
    declared: HashSet<u64>,
}

impl Rungs {
    /// Publishes `body` to come back to `queue` after `delay_ms` (0: now, at the back of the
    /// queue). The rung is a TTL queue whose dead-letter target is the queue named by the
    /// routing key, so no timer lives in any process.
    pub async fn schedule(
        &mut self,
        publisher: &Publisher,
        topology: &Topology,
        queue: &str,
        delay_ms: u64,
        headers: Headers,
        body: &[u8],
    ) -> Result<Confirm> {
        let outgoing = Outgoing::with_headers(headers);
        if delay_ms == 0 {
            return publisher.send("", queue, true, body, &outgoing).await;
        }
        if !self.declared.contains(&delay_ms) {
            match topology::declare_retry_rung(&self.channel, topology, delay_ms).await {
                Ok(()) => {
                    self.declared.insert(delay_ms);
                }
                // Already declared by another worker, most likely; the publish says for sure.
                Err(e) => tracing::warn!(error = %e, delay_ms, "Failed to declare a retry rung"),
            }
        }
        publisher
            .send(&topology.retry_rung(delay_ms), queue, true, body, &outgoing)
            .await
    }
}

/// A channel for changing the topology and walking the dead queue.
pub struct Admin {
    channel: Channel,
}

/// Messages taken from the dead queue per round of [`Admin::remove_parked`].
const WALK_CHUNK: u32 = 500;

impl Admin {
    pub fn is_connected(&self) -> bool {
        self.channel.status().connected()
    }

    pub async fn declare_topology(&self, topology: &Topology) -> Result<()> {
        topology::declare_topology(&self.channel, topology).await
    }

    /// A subscription's queue with its bindings (FIFO: a single active consumer).
    pub async fn declare_subscription(
        &self,
        topology: &Topology,
        subscription_id: &str,
        binding_keys: &[String],
        fifo: bool,
    ) -> Result<()> {
        topology::declare_subscription(&self.channel, topology, subscription_id, binding_keys, fifo)
            .await
    }

    pub async fn bind(&self, topology: &Topology, id: &str, keys: &[String]) -> Result<()> {
        topology::bind_subscription(&self.channel, topology, id, keys).await
    }

    pub async fn unbind(&self, topology: &Topology, id: &str, keys: &[String]) -> Result<()> {
        topology::unbind_subscription(&self.channel, topology, id, keys).await
    }

    pub async fn delete_subscription(&self, topology: &Topology, id: &str) -> Result<()> {
        topology::delete_subscription(&self.channel, topology, id).await
    }

    /// Ready messages in `queue`; an error if it does not exist (which closes this channel).
    pub async fn queue_depth(&self, queue: &str) -> Result<u32> {
        topology::queue_depth(&self.channel, queue).await
    }

    /// Deletes everything a namespace declared (tests and benchmarks leave nothing behind).
    pub async fn delete_namespace(
        &self,
        topology: &Topology,
        subscription_ids: &[String],
        rung_delays_ms: &[u64],
    ) -> Result<()> {
        topology::delete_namespace(&self.channel, topology, subscription_ids, rung_delays_ms).await
    }

    /// Walks `hookfleet.dead` once: drops the parked copies of `wanted` deliveries of
    /// `subscription_id` and puts every other message back at the tail, unchanged. A message
    /// is acked only after its put-back copy is confirmed, so nothing is lost (at worst, after
    /// an error, a message is parked twice). Callers serialize walks and keep this channel
    /// open: a quorum queue may requeue messages acked just before their channel closes
    /// (rabbitmq-server#10327), so a channel closed at the end would bring removed copies back.
    pub async fn remove_parked(
        &self,
        publisher: &Publisher,
        topology: &Topology,
        subscription_id: &str,
        wanted: &HashSet<&str>,
    ) -> Result<u32> {
        let dead = topology.dead();
        let mut left = self.queue_depth(&dead).await?;
        let mut removed = 0u32;
        while left > 0 {
            let mut last_tag = None;
            let round = self
                .walk_round(
                    publisher,
                    &dead,
                    (subscription_id, wanted),
                    &mut left,
                    &mut last_tag,
                )
                .await;
            match round {
                Ok(n) => removed += n,
                Err(e) => {
                    // Hand this round back rather than leave it unacked on a live channel.
                    if let Some(tag) = last_tag {
                        let _ = self
                            .channel
                            .basic_nack(
                                tag,
                                BasicNackOptions {
                                    multiple: true,
                                    requeue: true,
                                },
                            )
                            .await;
                    }
                    return Err(e);
                }
            }
            if last_tag.is_none() {
                break;
            }
        }
        Ok(removed)
    }

    /// One round of the walk: up to [`WALK_CHUNK`] messages, put-backs confirmed together,
    /// then one `multiple` ack. Returns how many parked copies it dropped.
    async fn walk_round(
        &self,
        publisher: &Publisher,
        dead: &str,
        (subscription_id, wanted): (&str, &HashSet<&str>),
        left: &mut u32,
        last_tag: &mut Option<u64>,
    ) -> Result<u32> {
        let mut removed = 0;
        let mut put_back = Vec::new();
        for _ in 0..(*left).min(WALK_CHUNK) {
            let got = self
                .channel
                .basic_get(dead.into(), BasicGetOptions { no_ack: false })
                .await?;
            let Some(msg) = got else {
                *left = 0;
                break;
            };
            *left -= 1;
            *last_tag = Some(msg.delivery.delivery_tag);
            let headers = Headers::decode(msg.delivery.properties.headers().as_ref());
            let ours = headers.subscription.as_deref() == Some(subscription_id)
                && headers
                    .delivery
                    .as_deref()
                    .is_some_and(|d| wanted.contains(d));
            if ours {
                removed += 1;
            } else {
                let props = msg.delivery.properties.clone();
                put_back.push(
                    publisher
                        .send_raw("", dead, true, &msg.delivery.data, props)
                        .await?,
                );
            }
        }
        for confirm in put_back {
            Confirm(confirm).wait().await?;
        }
        if let Some(tag) = *last_tag {
            self.channel
                .basic_ack(tag, BasicAckOptions { multiple: true })
                .await?;
        }
        Ok(removed)
    }
}
