//! Every exchange and queue hookfleet uses, declared idempotently in one place.
//!
//! The retry ladder's rungs are the exception: each is declared the first time its delay is
//! used, in `retry.rs`, beside the publish that needs it.
//!
//! All names carry an optional prefix (`HOOKFLEET_NAMESPACE`) so several fleets, or parallel
//! tests, can share one vhost without seeing each other's messages.
use crate::Result;
use lapin::{
    Channel, ExchangeKind,
    options::{
        ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
        QueueDeleteOptions,
    },
    types::{AMQPValue, FieldTable, ShortString},
};
use std::time::Duration;

use crate::queue_kind::QueueKind;

#[derive(Debug, Clone, Default)]
pub struct Topology {
    prefix: String,
    subscription_queues: QueueKind,
    /// Shard queues of the shared tier (`HOOKFLEET_SHARDS`); 0: every subscription has its own
    /// queue.
    shards: u16,
}

/// Where a subscription's copies wait: its own queue, or shard `n` of the shared tier (each
/// message there names its subscription in a header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    Own,
    Shard(u16),
}

/// The shard count a fleet gets unless `HOOKFLEET_SHARDS` says otherwise: enough queues for the
/// workers of a small cluster to share out, few enough that an idle fleet costs nothing.
pub const DEFAULT_SHARDS: u16 = 8;

impl Topology {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            subscription_queues: QueueKind::Quorum,
            shards: DEFAULT_SHARDS,
        }
    }

    /// The same names, with `n` shard queues (0: no shared tier).
    pub fn with_shards(mut self, n: u16) -> Self {
        self.shards = n;
        self
    }

    /// How many shard queues this fleet declares and new subscriptions are spread over.
    pub fn shards(&self) -> u16 {
        self.shards
    }

    /// A shard queue of the shared tier: the copies of many subscriptions, each message naming
    /// its subscription in a header.
    pub fn shard_queue(&self, n: u16) -> String {
        format!("{}hookfleet.shard.{n}", self.prefix)
    }

    /// The shard a new subscription of the shared tier goes to: a stable hash of its id (FNV-1a,
    /// fixed here so every version agrees), so subscriptions spread evenly. `None` without
    /// shards. The shard is recorded with the subscription, so changing the count later moves
    /// no existing subscription.
    pub fn shard_of(&self, subscription_id: &str) -> Option<u16> {
        if self.shards == 0 {
            return None;
        }
        let mut hash: u32 = 0x811c_9dc5;
        for b in subscription_id.bytes() {
            hash ^= u32::from(b);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        u16::try_from(hash % u32::from(self.shards)).ok()
    }

    /// The queue a lane of this subscription is.
    pub fn lane_queue(&self, subscription_id: &str, lane: Lane) -> String {
        match lane {
            Lane::Own => self.subscription_queue(subscription_id),
            Lane::Shard(n) => self.shard_queue(n),
        }
    }

    /// The same names, with subscription queues of `kind` from now on (existing queues keep
    /// the type they were declared with).
    pub fn with_subscription_queues(mut self, kind: QueueKind) -> Self {
        self.subscription_queues = kind;
        self
    }

    pub fn subscription_queues(&self) -> QueueKind {
        self.subscription_queues
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Durable queue between the producer and the router; absorbs bursts.
    pub fn ingest(&self) -> String {
        format!("{}hookfleet.ingest", self.prefix)
    }

    /// The identity provider's raw hook events, buffered until they are enriched (source
    /// document 003's queue in front of "fetch the entity").
    pub fn hooks(&self) -> String {
        format!("{}hookfleet.hooks.keycloak", self.prefix)
    }

    /// Topic exchange the router publishes copies to; subscriptions bind their queues here.
    pub fn events(&self) -> String {
        format!("{}hookfleet.events", self.prefix)
    }

    /// Where undecodable and given-up messages are parked for operators and replay.
    pub fn dead(&self) -> String {
        format!("{}hookfleet.dead", self.prefix)
    }

    /// Fanout exchange telling delivery workers that subscriptions changed.
    pub fn control(&self) -> String {
        format!("{}hookfleet.control", self.prefix)
    }

    pub fn subscription_queue(&self, subscription_id: &str) -> String {
        format!("{}hookfleet.sub.{subscription_id}", self.prefix)
    }

    /// A pull subscription's outbox: rendered copies its owner reads with its own client.
    pub fn pull_queue(&self, subscription_id: &str) -> String {
        format!("{}hookfleet.pull.{subscription_id}", self.prefix)
    }

    /// One rung of a retry ladder: a fanout exchange and a TTL queue of the same name, shared
    /// by every subscription whose ladder has a rung of this length.
    pub fn retry_rung(&self, delay: Duration) -> String {
        format!("{}hookfleet.retry.{}ms", self.prefix, delay.as_millis())
    }
}

pub(crate) fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(s.into())
}

/// The type arguments of a subscription's queues (its work queue and a pull outbox).
fn kind_args(kind: QueueKind) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), long_string(kind.as_str()));
    if kind == QueueKind::Classic {
        // Version 2 keeps messages on disk with a small index per queue, not a process heap
        // per message: the memory of an idle queue stays small.
        args.insert("x-queue-version".into(), AMQPValue::LongInt(2));
    }
    args
}

/// Arguments of a subscription's queues: the fleet's chosen [`QueueKind`].
fn subscription_queue_args(topology: &Topology) -> FieldTable {
    match topology.subscription_queues {
        QueueKind::Quorum => work_queue_args(topology),
        QueueKind::Classic => {
            let mut args = kind_args(QueueKind::Classic);
            // A backstop only: the worker parks what it rejects itself. Classic queues
            // dead-letter at most once, so nothing depends on this path.
            args.insert("x-dead-letter-exchange".into(), long_string(""));
            args.insert(
                "x-dead-letter-routing-key".into(),
                long_string(&topology.dead()),
            );
            args
        }
    }
}

/// Arguments of every fleet-wide work queue: quorum (replicated, and the faster durable type
/// on this broker), with undecodable messages dead-lettered to `hookfleet.dead` at least once.
fn work_queue_args(topology: &Topology) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), long_string("quorum"));
    // Rejected (poison) messages go to the dead queue through the default exchange.
    args.insert("x-dead-letter-exchange".into(), long_string(""));
    args.insert(
        "x-dead-letter-routing-key".into(),
        long_string(&topology.dead()),
    );
    // Without this a quorum queue dead-letters at most once: a broker hiccup could drop it.
    args.insert(
        "x-dead-letter-strategy".into(),
        long_string("at-least-once"),
    );
    // Required by at-least-once dead-lettering; no length limit is set, so it never triggers.
    args.insert("x-overflow".into(), long_string("reject-publish"));
    args
}

pub(crate) fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    }
}

/// Declares the fleet-wide topology. Every role calls it at start-up; it is idempotent.
pub(crate) async fn declare_topology(channel: &Channel, topology: &Topology) -> Result<()> {
    let mut dead_args = FieldTable::default();
    dead_args.insert("x-queue-type".into(), long_string("quorum"));
    channel
        .queue_declare(topology.dead().into(), durable(), dead_args)
        .await?;
    let shards = (0..topology.shards).map(|n| topology.shard_queue(n));
    for queue in [topology.ingest(), topology.hooks()]
        .into_iter()
        .chain(shards)
    {
        channel
            .queue_declare(queue.into(), durable(), work_queue_args(topology))
            .await?;
    }
    let exchange_opts = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            topology.events().into(),
            ExchangeKind::Topic,
            exchange_opts,
            FieldTable::default(),
        )
        .await?;
    channel
        .exchange_declare(
            topology.control().into(),
            ExchangeKind::Fanout,
            exchange_opts,
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

/// Declares a subscription's queue and binds it once per binding key. Idempotent. A FIFO
/// subscription's queue lets one consumer at a time receive, so order holds across workers.
pub(crate) async fn declare_subscription(
    channel: &Channel,
    topology: &Topology,
    subscription_id: &str,
    binding_keys: &[String],
    fifo: bool,
) -> Result<()> {
    let queue: ShortString = topology.subscription_queue(subscription_id).into();
    let mut args = subscription_queue_args(topology);
    if fifo {
        args.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
    }
    channel
        .queue_declare(queue.clone(), durable(), args)
        .await?;
    bind_subscription(channel, topology, subscription_id, binding_keys).await
}

/// Binds a subscription's queue to `hookfleet.events` with each key. Idempotent.
pub(crate) async fn bind_subscription(
    channel: &Channel,
    topology: &Topology,
    subscription_id: &str,
    binding_keys: &[String],
) -> Result<()> {
    change_bindings(channel, topology, subscription_id, binding_keys, true).await
}

/// Removes these bindings of a subscription's queue; what they already routed stays queued.
pub(crate) async fn unbind_subscription(
    channel: &Channel,
    topology: &Topology,
    subscription_id: &str,
    binding_keys: &[String],
) -> Result<()> {
    change_bindings(channel, topology, subscription_id, binding_keys, false).await
}

async fn change_bindings(
    channel: &Channel,
    topology: &Topology,
    subscription_id: &str,
    binding_keys: &[String],
    bind: bool,
) -> Result<()> {
    let queue: ShortString = topology.subscription_queue(subscription_id).into();
    let exchange: ShortString = topology.events().into();
    for key in binding_keys {
        let key: ShortString = key.as_str().into();
        if bind {
            channel
                .queue_bind(
                    queue.clone(),
                    exchange.clone(),
                    key,
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        } else {
            channel
                .queue_unbind(queue.clone(), exchange.clone(), key, FieldTable::default())
                .await?;
        }
    }
    Ok(())
}

/// Removes a subscription's queue with whatever it still holds.
pub(crate) async fn delete_subscription(
    channel: &Channel,
    topology: &Topology,
    subscription_id: &str,
) -> Result<()> {
    // The outbox of a pull subscription goes with it (deleting a missing queue is a no-op).
    for queue in [
        topology.subscription_queue(subscription_id),
        topology.pull_queue(subscription_id),
    ] {
        channel
            .queue_delete(queue.into(), QueueDeleteOptions::default())
            .await?;
    }
    Ok(())
}

/// Declares the own queue of a subscription of the shared tier, unbound: the router (or a
/// worker moving copies off a shard) puts its copies there directly. Idempotent.
pub(crate) async fn declare_unbound(
    channel: &Channel,
    topology: &Topology,
    subscription_id: &str,
) -> Result<()> {
    channel
        .queue_declare(
            topology.subscription_queue(subscription_id).into(),
            durable(),
            subscription_queue_args(topology),
        )
        .await?;
    Ok(())
}

/// Declares a pull subscription's outbox: durable, of the fleet's subscription queue kind,
/// read only by its owner.
pub(crate) async fn declare_pull_queue(
    channel: &Channel,
    topology: &Topology,
    subscription_id: &str,
) -> Result<()> {
    let args = kind_args(topology.subscription_queues);
    channel
        .queue_declare(topology.pull_queue(subscription_id).into(), durable(), args)
        .await?;
    Ok(())
}

/// How many ready messages a queue holds (a passive declare; fails if it does not exist).
pub(crate) async fn queue_depth(channel: &Channel, queue: &str) -> Result<u32> {
    Ok(passive(channel, queue).await?.message_count())
}

/// How many consumers a queue has, as the broker counts them now.
pub(crate) async fn queue_consumers(channel: &Channel, queue: &str) -> Result<u32> {
    Ok(passive(channel, queue).await?.consumer_count())
}

pub(crate) async fn passive(channel: &Channel, queue: &str) -> Result<lapin::Queue> {
    Ok(channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?)
}

/// Deletes everything a namespace declared: used by tests and benchmarks to leave nothing
/// behind. `subscription_ids` are the subscriptions whose queues may exist, `rung_delays`
/// the retry rungs that may.
pub(crate) async fn delete_namespace(
    channel: &Channel,
    topology: &Topology,
    subscription_ids: &[String],
    rung_delays: &[Duration],
) -> Result<()> {
    let rungs: Vec<String> = rung_delays
        .iter()
        .map(|d| topology.retry_rung(*d))
        .collect();
    let mut queues = vec![topology.ingest(), topology.hooks(), topology.dead()];
    queues.extend((0..topology.shards).map(|n| topology.shard_queue(n)));
    queues.extend(
        subscription_ids
            .iter()
            .flat_map(|id| [topology.subscription_queue(id), topology.pull_queue(id)]),
    );
    queues.extend(rungs.iter().cloned());
    for q in queues {
        channel
            .queue_delete(q.into(), QueueDeleteOptions::default())
            .await?;
    }
    for x in [topology.events(), topology.control()]
        .into_iter()
        .chain(rungs)
    {
        channel
            .exchange_delete(x.into(), ExchangeDeleteOptions::default())
            .await?;
    }
    Ok(())
}
