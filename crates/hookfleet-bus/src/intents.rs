//! What roles ask the bus to publish, one verb per intent (those that bring a message back
//! later, on the retry ladder, are in `retry.rs`). Each names where its message goes
//! and whether it must land (mandatory: a missing queue is an error, never a silent drop), and
//! returns the pending [`Confirm`]: the caller acts (answers, acks) only once it is confirmed.
use crate::{
    Confirm, MAX_REASON_LEN, Publisher, Result,
    publish::Routing,
    truncate,
    wire::{Headers, Outgoing},
};
use hookfleet_core::{DeliveryId, EventCopy, EventId, IngestEvent, SubscriptionId};

/// The one notice there is; its body is not read, so any message on the exchange counts.
const RECONCILE: &[u8] = br#"{"op":"reconcile"}"#;

impl Publisher {
    /// An accepted event onto `hookfleet.ingest` for the router (the producer's intake and the
    /// router's enricher both come here). Mandatory: if the ingest queue is missing the broker
    /// returns it and the caller says 503, rather than accepting an event nobody will route.
    pub async fn publish_ingest(&self, event: &IngestEvent) -> Result<Confirm> {
        let body = serde_json::to_vec(event).map_err(crate::BusError::Encode)?;
        let outgoing = Outgoing::with_message_id(event.id.as_str());
        self.send(
            "",
            &self.topology.ingest(),
            Routing::Mandatory,
            &body,
            &outgoing,
        )
        .await
    }

    /// An identity-provider hook call's raw body into its buffer, `hookfleet.hooks.keycloak`,
    /// until the enricher takes it. `hook_id` is the provider's id of the event.
    pub async fn buffer_hook(&self, body: &[u8], hook_id: &str) -> Result<Confirm> {
        let outgoing = Outgoing::with_message_id(format!("keycloak:{hook_id}"));
        self.send(
            "",
            &self.topology.hooks(),
            Routing::Mandatory,
            body,
            &outgoing,
        )
        .await
    }

    /// One copy of an event onto the topic exchange `hookfleet.events`, under its routing key.
    /// Not mandatory: a copy no subscription binds is legitimately dropped.
    pub async fn publish_copy(&self, event_id: &EventId, copy: &EventCopy) -> Result<Confirm> {
        let outgoing = Outgoing::with_message_id(event_id.as_str());
        self.send(
            &self.topology.events(),
            &copy.routing_key,
            Routing::Optional,
            &copy.body,
            &outgoing,
        )
        .await
    }

    /// One copy of an event for one subscription of the shared tier, straight onto its lane (a
    /// shard, or its own unbound queue while it is hot), naming its subscription. Mandatory: a
    /// lane that is gone (a hot queue removed meanwhile) fails rather than drops the copy, and
    /// the router sends it to the subscription's shard instead.
    pub async fn publish_for(
        &self,
        event_id: &EventId,
        subscription: &SubscriptionId,
        lane: crate::Lane,
        body: &[u8],
    ) -> Result<Confirm> {
        let mut outgoing = Outgoing::with_message_id(event_id.as_str());
        outgoing.headers.subscription = Some(subscription.to_string());
        let queue = self.topology.lane_queue(subscription.as_str(), lane);
        self.send("", &queue, Routing::Mandatory, body, &outgoing)
            .await
    }

    /// A pull subscription's rendered copy into its outbox: the body, and each rendered header
    /// as a message header of the same name; the message id is the delivery's. Mandatory, so a
    /// missing outbox is a failed attempt rather than a silent drop.
    pub async fn put_in_outbox(
        &self,
        subscription: &SubscriptionId,
        delivery: &DeliveryId,
        body: &[u8],
        headers: &[(&str, String)],
    ) -> Result<Confirm> {
        let queue = self.topology.pull_queue(subscription.as_str());
        let properties = crate::wire::rendered(headers, delivery.as_str());
        self.send_raw("", &queue, Routing::Mandatory, body, properties)
            .await
            .map(Confirm)
    }

    /// Parks a message a stage cannot process in `hookfleet.dead`, with the queue it was taken
    /// from and why.
    pub async fn park_poison(&self, queue: &str, reason: &str, body: &[u8]) -> Result<Confirm> {
        let headers = Headers {
            queue: Some(queue.to_owned()),
            ..Headers::default()
        };
        self.park(headers, reason, body).await
    }

    /// Parks an exhausted delivery's copy in `hookfleet.dead`, marked with its subscription and
    /// delivery (so a recovery can find it) and why it was given up.
    pub async fn park_exhausted(
        &self,
        subscription: &SubscriptionId,
        delivery: &DeliveryId,
        reason: &str,
        body: &[u8],
    ) -> Result<Confirm> {
        let headers = Headers {
            subscription: Some(subscription.to_string()),
            delivery: Some(delivery.to_string()),
            ..Headers::default()
        };
        self.park(headers, reason, body).await
    }

    async fn park(&self, mut headers: Headers, reason: &str, body: &[u8]) -> Result<Confirm> {
        headers.reason = Some(truncate(reason, MAX_REASON_LEN).to_owned());
        let outgoing = Outgoing::with_headers(headers);
        self.send(
            "",
            &self.topology.dead(),
            Routing::Mandatory,
            body,
            &outgoing,
        )
        .await
    }

    /// Tells every delivery worker (and producer) to reconcile its subscriptions and directory
    /// now, and waits for the broker to take the notice. A notice may still be lost; the
    /// listeners also reconcile periodically. Not mandatory: with no listener, nobody needs it.
    pub async fn notify_subscriptions_changed(&self) -> Result<()> {
        self.send(
            &self.topology.control(),
            "",
            Routing::Optional,
            RECONCILE,
            &Outgoing::default(),
        )
        .await?
        .wait()
        .await
    }
}
