//! Publishing with publisher confirms. A publish succeeds only when the broker acks it; a nack
//! or a mandatory message returned as unroutable is an error the caller must act on.
use crate::{BusError, Result, wire::Outgoing};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, PublisherConfirm,
    options::{BasicPublishOptions, ConfirmSelectOptions},
};
use std::sync::atomic::{AtomicUsize, Ordering};

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
/// behind one channel's frame writer.
#[derive(Debug)]
pub struct Publisher {
    channels: Vec<Channel>,
    next: AtomicUsize,
}

/// Resolves one publisher confirm into success or a [`BusError`].
async fn confirmed(confirm: PublisherConfirm) -> Result<()> {
    match confirm.await? {
        Confirmation::Ack(None) | Confirmation::NotRequested => Ok(()),
        Confirmation::Ack(Some(_)) => Err(BusError::Returned),
        Confirmation::Nack(_) => Err(BusError::Nacked),
    }
}

impl Publisher {
    pub(crate) async fn new(connection: &Connection, channels: usize) -> Result<Self> {
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

    fn channel(&self) -> &Channel {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.channels.len();
        &self.channels[i]
    }

    /// Sends a message and returns the pending confirm. `mandatory`: an unroutable message is
    /// returned and its confirm fails, rather than silently dropped.
    pub async fn send(
        &self,
        exchange: &str,
        routing_key: &str,
        mandatory: bool,
        body: &[u8],
        outgoing: &Outgoing,
    ) -> Result<Confirm> {
        self.send_raw(
            exchange,
            routing_key,
            mandatory,
            body,
            outgoing.properties(),
        )
        .await
        .map(Confirm)
    }

    /// A rendered request into `queue` (a pull subscription's outbox): the body, and each
    /// header as a message header of the same name; `message_id` is the delivery's id.
    /// Mandatory, so a missing queue is an error rather than a silent drop.
    pub async fn send_rendered(
        &self,
        queue: &str,
        body: &[u8],
        headers: &[(&str, String)],
        message_id: &str,
    ) -> Result<Confirm> {
        let mut table = lapin::types::FieldTable::default();
        for (name, value) in headers {
            table.insert(
                (*name).into(),
                lapin::types::AMQPValue::LongString(value.as_str().into()),
            );
        }
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_message_id(message_id.into())
            .with_headers(table);
        self.send_raw("", queue, true, body, properties)
            .await
            .map(Confirm)
    }

    /// [`Self::send`] with the properties as they are (to move a message unchanged).
    pub(crate) async fn send_raw(
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

    pub fn is_connected(&self) -> bool {
        self.channels.iter().all(|c| c.status().connected())
    }
}
