//! A role's life on the broker: a [`Session`] (one connection) hands out what a role uses, so
//! no role touches an AMQP client type: a [`Publisher`], an [`Admin`] channel for topology
//! changes and the dead-queue walk, [`Consumer`]s whose [`Message`]s come with typed
//! [`Headers`] and are settled by delivery tag through an [`Acker`], [`Notices`] from the
//! control exchange, and [`Rungs`] to schedule a retry on the ladder.
use crate::{Admin, BusError, Notices, Publisher, Result, Rungs, Topology, wire::Headers};
use futures_util::StreamExt;
use lapin::{
    Channel, Connection, ConnectionStatus,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, QueueBindOptions,
        QueueDeclareOptions,
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

    /// Declares every exchange and queue of `topology` on a channel used only for that.
    pub async fn declare_topology(&self, topology: &Topology) -> Result<()> {
        let admin = self.admin().await?;
        admin.declare_topology(topology).await?;
        admin.close().await;
        Ok(())
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
        requeue_up_to(&self.channel, tag).await
    }

    /// Stops the consumer by closing its channel: whatever it holds unacked goes back to the
    /// queue. There is deliberately no `basic.cancel`: when a queue is deleted the broker
    /// cancels its consumers itself, and a cancel of ours crossing that one makes the client
    /// fail the whole connection ("unexpected basic cancel-ok").
    pub async fn close(&self, why: &str) {
        let _ = self.channel.close(200, why.into()).await;
    }
}

/// Gives back every message of `channel` up to and including `tag` not settled yet.
pub(crate) async fn requeue_up_to(channel: &Channel, tag: u64) -> Result<()> {
    Ok(channel
        .basic_nack(
            tag,
            BasicNackOptions {
                multiple: true,
                requeue: true,
            },
        )
        .await?)
}
