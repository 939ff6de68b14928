//! A role's life on the broker: a [`Session`] (one connection) hands out what a role uses, so
//! no role touches an AMQP client type: a [`Publisher`] (which also schedules retries on the
//! ladder), an [`Admin`] channel for topology changes and the dead-queue walk, [`Consumer`]s
//! whose [`Message`]s come with typed [`Headers`] and are settled by delivery tag through an
//! [`Acker`], [`Notices`] from the control exchange, and [`Session::closed`], which resolves
//! once the session can no longer serve.
use crate::{Admin, Notices, Publisher, Result, Topology, wire::Headers};
use futures_util::StreamExt;
use lapin::{
    Channel, Connection, ConnectionStatus,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, QueueBindOptions,
        QueueDeclareOptions,
    },
    types::FieldTable,
};
use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

/// One broker connection of a role, and the further connections its consumers spread over
/// once the first holds its share (a connection allows 2,047 channels; a worker of 10,000
/// subscriptions needs a channel each, because acks by tag with `multiple` are per channel).
pub struct Session {
    connection: Arc<Connection>,
    /// The URL list and role the session was opened with, to open the further connections.
    urls: String,
    role: String,
    /// Consumer channels per connection before the next is used.
    per_connection: AtomicUsize,
    /// Every connection consumers may use, the first being `connection`, each with how many
    /// consumer channels it holds now.
    lanes: tokio::sync::Mutex<Vec<Lane>>,
    /// The channels handed out for as long as the session lasts (publishers', admins').
    vital: Vital,
}

/// The channels a session handed out for as long as it lasts. The broker closing one (an
/// admin's declare it refused, say) leaves the session unable to serve, as a lost connection
/// does: [`Session::closed`] resolves. A channel its owner closes on purpose is let go first.
#[derive(Clone, Default)]
pub(crate) struct Vital(Arc<std::sync::Mutex<Vec<Channel>>>);

impl Vital {
    fn hold(&self, channel: &Channel) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(channel.clone());
    }

    /// Lets `channel` go before its owner closes it.
    pub(crate) fn release(&self, channel: &Channel) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|c| c.id() != channel.id());
    }

    fn all_open(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .all(|c| c.status().connected())
    }
}

/// How often [`Session::closed`] looks at the connection even without an event from the
/// client: a backstop for a close the client reports no event for (a broker's clean close).
const CLOSED_BACKSTOP: Duration = Duration::from_secs(1);

struct Lane {
    connection: Arc<Connection>,
    open: Arc<AtomicUsize>,
}

/// One consumer channel counted on its connection until the consumer and every clone of its
/// acker are gone.
struct LaneSlot(Arc<AtomicUsize>);

impl Drop for LaneSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Consumer channels per connection unless a role sets otherwise.
const CONSUMERS_PER_CONNECTION: usize = 1_000;

impl Session {
    pub(crate) fn new(connection: Connection, urls: &str, role: &str) -> Self {
        let connection = Arc::new(connection);
        Self {
            lanes: tokio::sync::Mutex::new(vec![Lane {
                connection: connection.clone(),
                open: Arc::new(AtomicUsize::new(0)),
            }]),
            connection,
            urls: urls.to_owned(),
            role: role.to_owned(),
            per_connection: AtomicUsize::new(CONSUMERS_PER_CONNECTION),
            vital: Vital::default(),
        }
    }

    /// Consumer channels per connection from now on (at least 1).
    pub fn set_consumers_per_connection(&self, n: usize) {
        self.per_connection.store(n.max(1), Ordering::Relaxed);
    }

    /// A connection with room for one more consumer channel, counted on it: the first with
    /// room, or a new one. A further connection that has closed is dropped from the list; its
    /// consumers have ended with it and are started again by their owner.
    async fn lane(&self) -> Result<(Arc<Connection>, LaneSlot)> {
        let per = self.per_connection.load(Ordering::Relaxed);
        let mut lanes = self.lanes.lock().await;
        let mut i = 0;
        lanes.retain(|l| {
            i += 1;
            i == 1 || l.connection.status().connected()
        });
        let lane = match lanes.iter().find(|l| l.open.load(Ordering::Relaxed) < per) {
            Some(l) => l,
            None => {
                let name = format!("{}-consumers-{}", self.role, lanes.len());
                let extra = crate::connect(&self.urls, &name).await?;
                lanes.push(Lane {
                    connection: extra.connection,
                    open: Arc::new(AtomicUsize::new(0)),
                });
                lanes.last().expect("just pushed")
            }
        };
        lane.open.fetch_add(1, Ordering::Relaxed);
        Ok((lane.connection.clone(), LaneSlot(lane.open.clone())))
    }

    pub(crate) fn status(&self) -> ConnectionStatus {
        self.connection.status().clone()
    }

    pub fn is_connected(&self) -> bool {
        self.connection.status().connected()
    }

    /// Resolves once this session can no longer serve: its connection is lost, or a channel it
    /// handed out for as long as it lasts (a publisher's, an admin's) was closed by the broker.
    /// A role holding the session for requests replaces it then; consuming roles learn it from
    /// their consumers ending.
    pub async fn closed(&self) {
        // The client reports errors (of the connection, or a channel the broker closed) as
        // events; each is a cue to look, the backstop a second chance. Listening starts before
        // the first look, so nothing between the two is missed.
        let mut events = std::pin::pin!(self.connection.events_listener());
        let mut backstop = tokio::time::interval(CLOSED_BACKSTOP);
        loop {
            if !self.serves() {
                return;
            }
            tokio::select! {
                event = events.next() => if event.is_none() { return },
                _ = backstop.tick() => {}
            }
        }
    }

    fn serves(&self) -> bool {
        self.connection.status().connected() && self.vital.all_open()
    }

    pub async fn close(&self) {
        for lane in self.lanes.lock().await.iter() {
            let _ = lane.connection.close(200, "done".into()).await;
        }
    }

    /// A publisher of `topology`'s messages with `channels` confirm-mode channels.
    pub async fn publisher(&self, topology: &Topology, channels: usize) -> Result<Publisher> {
        let (publisher, channels) = Publisher::new(&self.connection, topology, channels).await?;
        for c in &channels {
            self.vital.hold(c);
        }
        Ok(publisher)
    }

    /// Declares every exchange and queue of `topology` on a channel used only for that.
    pub async fn declare_topology(&self, topology: &Topology) -> Result<()> {
        let channel = self.connection.create_channel().await?;
        let declared = crate::topology::declare_topology(&channel, topology).await;
        let _ = channel.close(200, "done".into()).await;
        declared
    }

    /// Declares the own, unbound queue of a subscription of the shared tier (it turned hot), on
    /// a channel used only for that. Idempotent.
    pub async fn declare_unbound(&self, topology: &Topology, subscription_id: &str) -> Result<()> {
        let channel = self.connection.create_channel().await?;
        let declared = crate::topology::declare_unbound(&channel, topology, subscription_id).await;
        let _ = channel.close(200, "done".into()).await;
        declared
    }

    /// Deletes a subscription's own queue if it holds no message and has no consumer (so no
    /// message is unacked either), on channels of its own (the broker closes the channel of a
    /// question about a missing queue). True if it is gone; false if it is not empty, still
    /// consumed, or the broker could not say. Quorum queues refuse the broker's own `if-empty`
    /// and `if-unused` deletes, so this checks, then deletes: the caller makes sure nothing
    /// publishes to the queue any more (see the delivery role's `moves`).
    pub async fn delete_own_queue_if_idle(
        &self,
        topology: &Topology,
        subscription_id: &str,
    ) -> Result<bool> {
        let queue = topology.subscription_queue(subscription_id);
        let channel = self.connection.create_channel().await?;
        let declared = crate::topology::passive(&channel, &queue).await;
        let _ = channel.close(200, "done".into()).await;
        let q = match declared {
            Ok(q) => q,
            // The broker answered that there is no such queue: already gone.
            Err(_) if self.is_connected() => return Ok(true),
            // The connection went: the broker could not say, and the queue may hold copies.
            Err(e) => return Err(e),
        };
        if q.message_count() > 0 || q.consumer_count() > 0 {
            return Ok(false);
        }
        let channel = self.connection.create_channel().await?;
        let deleted = channel
            .queue_delete(queue.into(), lapin::options::QueueDeleteOptions::default())
            .await;
        let _ = channel.close(200, "done".into()).await;
        Ok(deleted.is_ok())
    }

    /// A channel for declaring, binding and deleting queues and walking the dead queue, held
    /// by the session until [`Admin::close`].
    pub async fn admin(&self) -> Result<Admin> {
        let channel = self.connection.create_channel().await?;
        self.vital.hold(&channel);
        Ok(Admin {
            channel,
            vital: self.vital.clone(),
        })
    }

    /// Ready messages in `queue`, or an error if it does not exist; asked on a channel of its
    /// own, as the broker closes the channel of a question about a missing queue.
    pub async fn queue_depth(&self, queue: &str) -> Result<u32> {
        let channel = self.connection.create_channel().await?;
        let depth = crate::topology::queue_depth(&channel, queue).await;
        let _ = channel.close(200, "done".into()).await;
        depth
    }

    /// Consumes `queue` on a channel of its own with `prefetch` unacked messages at most.
    pub async fn consume(&self, queue: &str, prefetch: u16) -> Result<Consumer> {
        let (connection, slot) = self.lane().await?;
        let channel = connection.create_channel().await?;
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
            acker: Acker {
                channel,
                _slot: Arc::new(slot),
            },
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
        Ok(Notices {
            channel,
            inner,
            held: None,
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
            Err(e) => return Some(Err(e.into())),
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
    /// Counts the channel on its connection while any clone lives.
    _slot: Arc<LaneSlot>,
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

    /// Whether the channel is open: settling on a closed one fails, and the broker has
    /// already returned what it held.
    pub fn is_open(&self) -> bool {
        self.channel.status().connected()
    }

    /// Gives the message back to its queue, to be delivered again. On a quorum queue each
    /// return counts toward its delivery limit (20 by default on RabbitMQ 4; the broker then
    /// dead-letters the message): for a shutdown or handover, never for a retry.
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

    /// Stops the consumer by closing its channel: whatever it holds unacked goes back to the
    /// queue. There is deliberately no `basic.cancel`: when a queue is deleted the broker
    /// cancels its consumers itself, and a cancel of ours crossing that one makes the client
    /// fail the whole connection ("unexpected basic cancel-ok").
    pub async fn close(&self, why: &str) {
        let _ = self.channel.close(200, why.into()).await;
    }
}

/// Gives back every message of `channel` up to and including `tag` not settled yet (each
/// return counts toward a quorum queue's delivery limit: see [`Acker::requeue`]).
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
