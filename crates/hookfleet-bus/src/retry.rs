//! Scheduling a retry on the ladder: one TTL queue per distinct delay, behind a fanout exchange
//! of the same name, dead-lettering back to the queue named by the message's routing key.
use crate::{Confirm, Headers, Outgoing, Publisher, Result, Topology, topology};
use lapin::Channel;
use std::{collections::HashSet, time::Duration};

/// The retry ladder's rungs, declared as they are first needed.
pub struct Rungs {
    pub(crate) channel: Channel,
    pub(crate) declared: HashSet<Duration>,
}

impl Rungs {
    /// Publishes `body` to come back to `queue` after `delay` (zero: now, at the back of the
    /// queue). The rung is a TTL queue whose dead-letter target is the queue named by the
    /// routing key, so no timer lives in any process.
    pub async fn schedule(
        &mut self,
        publisher: &Publisher,
        topology: &Topology,
        queue: &str,
        delay: Duration,
        headers: Headers,
        body: &[u8],
    ) -> Result<Confirm> {
        let outgoing = Outgoing::with_headers(headers);
        if delay.is_zero() {
            return publisher.send("", queue, true, body, &outgoing).await;
        }
        if !self.declared.contains(&delay) {
            match topology::declare_retry_rung(&self.channel, topology, delay).await {
                Ok(()) => {
                    self.declared.insert(delay);
                }
                // Already declared by another worker, most likely; the publish says for sure.
                Err(e) => tracing::warn!(error = %e, ?delay, "Failed to declare a retry rung"),
            }
        }
        publisher
            .send(&topology.retry_rung(delay), queue, true, body, &outgoing)
            .await
    }
}
