//! Topology changes on a long-lived channel, and the walk of the dead queue that takes a
//! recovery's parked copies out of it.
use crate::{
    Confirm, Headers, Publisher, Result, Topology, publish::Routing, session::Vital, topology,
};
use lapin::{
    Channel,
    options::{BasicAckOptions, BasicGetOptions},
};
use std::collections::HashSet;

/// A channel for changing the topology and walking the dead queue.
pub struct Admin {
    pub(crate) channel: Channel,
    /// The session's held channels, which this one leaves when closed on purpose.
    pub(crate) vital: Vital,
}

/// Messages taken from the dead queue per round of [`Admin::remove_parked`].
const WALK_CHUNK: u32 = 500;

impl Admin {
    pub fn is_connected(&self) -> bool {
        self.channel.status().connected()
    }

    pub async fn close(&self) {
        self.vital.release(&self.channel);
        let _ = self.channel.close(200, "done".into()).await;
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

    /// The own, unbound queue of a subscription of the shared tier.
    pub async fn declare_unbound(&self, topology: &Topology, id: &str) -> Result<()> {
        topology::declare_unbound(&self.channel, topology, id).await
    }

    pub async fn declare_pull_queue(&self, topology: &Topology, id: &str) -> Result<()> {
        topology::declare_pull_queue(&self.channel, topology, id).await
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

    /// Consumers of `queue` now; an error if it does not exist (which closes this channel).
    pub async fn queue_consumers(&self, queue: &str) -> Result<u32> {
        topology::queue_consumers(&self.channel, queue).await
    }

    /// Deletes everything a namespace declared (tests and benchmarks leave nothing behind).
    pub async fn delete_namespace(
        &self,
        topology: &Topology,
        subscription_ids: &[String],
        rung_delays: &[std::time::Duration],
    ) -> Result<()> {
        topology::delete_namespace(&self.channel, topology, subscription_ids, rung_delays).await
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
                        let _ = crate::session::requeue_up_to(&self.channel, tag).await;
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
                        .send_raw("", dead, Routing::Mandatory, &msg.delivery.data, props)
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
