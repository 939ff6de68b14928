//! Publishing with publisher confirms. A publish succeeds only when the broker acks it; a nack
//! or a mandatory message returned as unroutable is an error the caller must act on.
use crate::{BusError, Result};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, PublisherConfirm,
    options::{BasicPublishOptions, ConfirmSelectOptions},
};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Persistent JSON message properties.
pub fn persistent() -> BasicProperties {
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
}

/// A few confirm-mode channels used round-robin, so concurrent publishers do not queue up
/// behind one channel's frame writer.
#[derive(Debug)]
pub struct Publisher {
    channels: Vec<Channel>,
    next: AtomicUsize,
}

/// Resolves one publisher confirm into success or a [`BusError`].
pub async fn confirmed(confirm: PublisherConfirm) -> Result<()> {
    match confirm.await? {
        Confirmation::Ack(None) | Confirmation::NotRequested => Ok(()),
        Confirmation::Ack(Some(_)) => Err(BusError::Returned),
        Confirmation::Nack(_) => Err(BusError::Nacked),
    }
}

impl Publisher {
    pub async fn new(connection: &Connection, channels: usize) -> Result<Self> {
        let mut out = Vec::with_capacity(channels.max(1));
        for _ in 0..channels.max(1) {
            let ch = connection.create_channel().await?;
            ch.confirm_select(ConfirmSelectOptions::default()).await?;
            out.push(ch);
        }
        Ok(Self {
            channels: out,
            next: AtomicUsize::new(0),
        })
    }

    pub fn channel(&self) -> &Channel {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.channels.len();
        &self.channels[i]
    }

    /// Sends a message and returns the pending confirm; await it with [`confirmed`]. Sending
    /// many before awaiting any lets the broker confirm them in batches.
    pub async fn send(
        &self,
        exchange: &str,
        routing_key: &str,
        mandatory: bool,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<PublisherConfirm> {
        Ok(self
            .channel()
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions {
                    mandatory,
                    ..BasicPublishOptions::default()
                },
                body,
                properties,
            )
            .await?)
    }

    /// Sends one message and waits for the broker to confirm it.
    pub async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        mandatory: bool,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<()> {
        confirmed(
            self.send(exchange, routing_key, mandatory, body, properties)
                .await?,
        )
        .await
    }

    pub fn is_connected(&self) -> bool {
        self.channels.iter().all(|c| c.status().connected())
    }
}
