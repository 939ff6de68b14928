//! Publishing with publisher confirms. A publish succeeds only when the broker acks it; a nack
//! or a mandatory message returned as unroutable is an error the caller must act on. Roles do
//! not publish through this file's `send`: they call the intents of `intents.rs` and
//! `retry.rs`, which choose the exchange, the routing key and whether the message is mandatory.
use crate::{BusError, Result, Topology, wire::Outgoing};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, PublisherConfirm,
    options::{BasicPublishOptions, ConfirmSelectOptions},
};
use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

/// A message the broker has been sent and has yet to confirm; [`Confirm::wait`] for it.
/// Sending many before waiting for any lets the broker confirm them in batches.
#[must_use = "a message is only safe once its confirm is awaited"]
pub struct Confirm(pub(crate) PublisherConfirm);

impl Confirm {
    /// Success once the broker has the message; a nack or an unroutable return is an error.
    pub async fn wait(self) -> Result<()> {
        confirmed(self.0).await
    }
}

/// A few confirm-mode channels used round-robin, so concurrent publishers do not queue up
/// behind one channel's frame writer; the fleet's names, so each intent knows where it goes;
/// and the retry rungs declared so far on a channel of their own.
pub struct Publisher {
    channels: Vec<Channel>,
    next: AtomicUsize,
    pub(crate) topology: Topology,
    pub(crate) rungs: Rungs,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("channels", &self.channels.len())
            .field("topology", &self.topology)
            .finish_non_exhaustive()
    }
}

/// The retry rungs a publisher has declared so far, on a channel of their own (opened at the
/// first retry): a declare the broker refuses closes its channel, which must not be a
/// publishing one. Declared and published to in `retry.rs`.
pub(crate) struct Rungs {
    pub(crate) connection: Arc<Connection>,
    pub(crate) state: tokio::sync::Mutex<RungState>,
}

#[derive(Default)]
pub(crate) struct RungState {
    pub(crate) channel: Option<Channel>,
    pub(crate) declared: HashSet<Duration>,
}

/// Resolves one publisher confirm into success or a [`BusError`].
async fn confirmed(confirm: PublisherConfirm) -> Result<()> {
    match confirm.await? {
        Confirmation::Ack(None) | Confirmation::NotRequested => Ok(()),
        Confirmation::Ack(Some(_)) => Err(BusError::Returned),
        Confirmation::Nack(_) => Err(BusError::Nacked),
    }
}

/// Whether an unroutable message is an error. Every intent says which it is, once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Routing {
    /// Returned by the broker and failed if no queue takes it: for a message that must land.
    Mandatory,
    /// Silently dropped if no queue takes it: for a copy no subscription may want.
    Optional,
}

impl Publisher {
    pub(crate) async fn new(
        connection: &Arc<Connection>,
        topology: &Topology,
        channels: usize,
    ) -> Result<(Self, Vec<Channel>)> {
        let mut out = Vec::with_capacity(channels.max(1));
        for _ in 0..channels.max(1) {
            let ch = connection.create_channel().await?;
            ch.confirm_select(ConfirmSelectOptions::default()).await?;
            out.push(ch);
        }
        let publisher = Self {
            channels: out.clone(),
            next: AtomicUsize::new(0),
            topology: topology.clone(),
            rungs: Rungs {
                connection: connection.clone(),
                state: tokio::sync::Mutex::default(),
            },
        };
        Ok((publisher, out))
    }

    fn channel(&self) -> &Channel {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.channels.len();
        &self.channels[i]
    }

    /// Sends a message and returns the pending confirm.
    pub(crate) async fn send(
        &self,
        exchange: &str,
        routing_key: &str,
        routing: Routing,
        body: &[u8],
        outgoing: &Outgoing,
    ) -> Result<Confirm> {
        self.send_raw(exchange, routing_key, routing, body, outgoing.properties())
            .await
            .map(Confirm)
    }

    /// [`Self::send`] with the properties as they are (to move a message unchanged).
    pub(crate) async fn send_raw(
        &self,
        exchange: &str,
        routing_key: &str,
        routing: Routing,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<PublisherConfirm> {
        Ok(self
            .channel()
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions {
                    mandatory: routing == Routing::Mandatory,
                    ..BasicPublishOptions::default()
                },
                body,
                properties,
            )
            .await?)
    }

    pub fn is_connected(&self) -> bool {
        self.channels.iter().all(|c| c.status().connected())
    }
}
