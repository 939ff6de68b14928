//! One message of a subscription, from the queue to its outcome: decode it; settle it from the
//! record if this attempt is already there; otherwise render it for the subscription's profile,
//! send it, decide what the answer means, and hand the outcome to the batcher, which commits it
//! before the message is settled.
use crate::{
    attempt::{AttemptResult, deliver_one},
    batcher::{Completion, Of, Pending, Settle},
    config::{Mode, SubConfig},
    decide::{Answer, Decision},
    shared::Shared,
};
use hookfleet_bus::Message;
use hookfleet_core::{DeliveredBody, DeliveryId, EventId, SubscriptionId, render};
use hookfleet_store::{DeliveryStatus, OutcomeRow, PoisonRow};
use std::{sync::Arc, time::Duration};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio_util::sync::CancellationToken;

/// The slots one request holds while it is sent: its subscription's (unordered only) and the
/// worker's; both are given back when the response (or failure) is in.
pub(crate) struct Slots {
    _subscription: Option<OwnedSemaphorePermit>,
    _worker: OwnedSemaphorePermit,
}

impl Slots {
    /// A request's slots: its subscription's (none for FIFO, which sends one at a time anyway)
    /// and the worker's.
    pub(crate) fn new(
        subscription: Option<OwnedSemaphorePermit>,
        worker: OwnedSemaphorePermit,
    ) -> Self {
        Self {
            _subscription: subscription,
            _worker: worker,
        }
    }
}

/// Everything one message's handling needs; cloned per message (all shared handles).
#[derive(Clone)]
pub(crate) struct Job {
    pub shared: Arc<Shared>,
    pub cfg: Arc<SubConfig>,
    /// Where the message's verdict goes: the consumer owning its channel.
    pub done: mpsc::UnboundedSender<Completion>,
    /// Stops this subscription's consumer (a 410 disables the subscription).
    pub stop: CancellationToken,
}

/// A FIFO message kept to be sent again in place.
pub(crate) struct Held {
    pub next: i32,
    pub wait: Duration,
    pub message: Message,
}

/// The decoded identity of one message.
struct Incoming {
    event_id: EventId,
    organization_id: Option<String>,
    service_partition: Option<String>,
    delivery_id: DeliveryId,
    attempt: i32,
    is_test: bool,
}

fn decode(message: &Message, sub: &SubscriptionId) -> Result<Incoming, String> {
    let body = serde_json::from_slice::<DeliveredBody>(&message.body).map_err(|e| e.to_string())?;
    let event_id =
        EventId::parse(&body.id).ok_or_else(|| "the body's `id` is not an event id".to_owned())?;
    let organization_id = body.organization_id.map(std::borrow::Cow::into_owned);
    let service_partition = body.service_partition.map(std::borrow::Cow::into_owned);
    let delivery_id = DeliveryId::derive(
        &event_id,
        organization_id.as_deref(),
        service_partition.as_deref(),
        sub,
    );
    Ok(Incoming {
        event_id,
        organization_id,
        service_partition,
        delivery_id,
        attempt: message.headers.attempt_number(),
        is_test: message.headers.test,
    })
}

impl Job {
    /// The queue this subscription's messages come from, as a poison note names it.
    fn queue(&self) -> String {
        self.shared
            .topology
            .lane_queue(self.cfg.id.as_str(), self.cfg.lane)
    }

    /// Handles one message, holding `slots` until its request is answered; `attempt`
    /// overrides the message's own attempt number (a FIFO message sent again in place).
    /// Returns the message when FIFO is to hold it.
    pub(crate) async fn handle(
        &self,
        message: Message,
        slots: Slots,
        attempt: Option<i32>,
    ) -> Option<Held> {
        let mut msg = match decode(&message, &self.cfg.id) {
            Ok(m) => m,
            Err(reason) => {
                self.poison(message, &reason).await;
                return None;
            }
        };
        if let Some(a) = attempt {
            msg.attempt = a;
        }
        let redelivered = message.redelivered && attempt.is_none();
        if let Some(settle) = self.settle_from_record(&mut msg, redelivered).await {
            self.submit(None, settle, message.tag, message.body).await;
            return None;
        }
        let result = self.send(&msg, &message.body).await;
        drop(slots);
        let outcome_label = if result.delivered {
            "delivered"
        } else {
            "failed"
        };
        metrics::counter!("hookfleet_deliveries_total", "outcome" => outcome_label).increment(1);
        metrics::histogram!("hookfleet_delivery_duration_seconds")
            .record(result.duration.as_secs_f64());
        let answer = Answer {
            delivered: result.delivered,
            status_code: result.status_code,
        };
        let decision = self.cfg.decide(self.cfg.mode, msg.attempt, answer);
        self.note(&msg, &result, decision);
        let outcome = self.outcome_row(&msg, result, decision);
        let (settle, held) = self.settle_for(&msg, decision, &result_reason(&outcome));
        let tag = message.tag;
        let (data, held) = match held {
            Some((next, wait)) => {
                let body = message.body.clone();
                (
                    body,
                    Some(Held {
                        next,
                        wait,
                        message,
                    }),
                )
            }
            None => (message.body, None),
        };
        self.submit(Some(outcome), settle, tag, data).await;
        held
    }

    /// Renders and sends the request, unless the subscription's address is refused.
    async fn send(&self, msg: &Incoming, copy: &[u8]) -> AttemptResult {
        if let Some(reason) = &self.cfg.refused {
            return AttemptResult {
                delivered: false,
                status_code: None,
                duration: Duration::ZERO,
                error: Some(reason.clone()),
                response_excerpt: None,
            };
        }
        let request = render::render(
            self.cfg.profile,
            copy,
            msg.delivery_id.as_str(),
            &self.cfg.secrets,
            hookfleet_core::now_utc().unix_timestamp(),
        );
        if self.cfg.delivery == hookfleet_core::subscription::Delivery::Pull {
            return self.put_in_outbox(msg, request).await;
        }
        deliver_one(
            &self.shared.client,
            &self.cfg.url,
            request,
            self.shared.settings.timeout,
        )
        .await
    }

    /// A pull subscription's attempt: the rendered copy into its outbox, confirmed by the
    /// broker (its headers as message headers). Not confirmed is a failed attempt, retried on
    /// the ladder like a failed POST.
    async fn put_in_outbox(&self, msg: &Incoming, request: render::Request) -> AttemptResult {
        let started = std::time::Instant::now();
        let sent = async {
            self.shared
                .publisher
                .put_in_outbox(
                    &self.cfg.id,
                    &msg.delivery_id,
                    &request.body,
                    &request.headers,
                )
                .await?
                .wait()
                .await
        }
        .await;
        AttemptResult {
            delivered: sent.is_ok(),
            status_code: None,
            duration: started.elapsed(),
            error: sent
                .err()
                .map(|e| format!("the outbox queue did not take it: {e}")),
            response_excerpt: None,
        }
    }

    /// How to settle the message without sending it, when the record already has this attempt
    /// (a duplicate copy, or a redelivery after a crash between commit and settle) or, for a
    /// FIFO message back at the head after a restart, what it says. May move `msg.attempt` on.
    async fn settle_from_record(&self, msg: &mut Incoming, redelivered: bool) -> Option<Settle> {
        let fifo_resume = self.cfg.mode == Mode::Fifo && redelivered;
        if msg.attempt == 1 && !redelivered {
            return None;
        }
        let progress = self
            .shared
            .store
            .delivery_progress(&[&msg.delivery_id])
            .await
            .ok()?;
        let p = progress.get(&msg.delivery_id)?;
        if fifo_resume {
            return match p.status {
                DeliveryStatus::Delivered => Some(Settle::Ack),
                DeliveryStatus::Exhausted => Some(self.park(msg, "exhausted before a restart")),
                _ => {
                    msg.attempt = msg.attempt.max(p.attempts + 1);
                    None
                }
            };
        }
        if p.attempts < msg.attempt {
            return None;
        }
        if !redelivered {
            return Some(Settle::Ack);
        }
        let recorded = Answer {
            delivered: p.status == DeliveryStatus::Delivered,
            status_code: None,
        };
        let decision = self.cfg.decide(Mode::Unordered, msg.attempt, recorded);
        Some(
            self.settle_for(msg, decision, "recorded before a restart")
                .0,
        )
    }

    /// The settle of a decision, and for a FIFO hold the attempt and wait to retry in place.
    fn settle_for(
        &self,
        msg: &Incoming,
        decision: Decision,
        reason: &str,
    ) -> (Settle, Option<(i32, Duration)>) {
        Settle::of(decision, self.cfg.mode, &self.of(msg), reason)
    }

    fn of<'a>(&'a self, msg: &'a Incoming) -> Of<'a> {
        Of {
            subscription: &self.cfg.id,
            lane: self.cfg.lane,
            delivery: &msg.delivery_id,
            is_test: msg.is_test,
        }
    }

    /// Counts and logs what a decision means beyond its record: one INFO line for a failed
    /// attempt that will be retried, one WARN line for what an operator must act on, and
    /// nothing for a delivered one. None names the URL or repeats the receiver's answer (a URL
    /// may carry a credential, an answer anything).
    fn note(&self, msg: &Incoming, result: &AttemptResult, decision: Decision) {
        let status = result
            .status_code
            .map_or_else(|| "none".to_owned(), |s| s.to_string());
        match decision {
            Decision::Retry { wait, next, .. } | Decision::Hold { wait, next } => {
                tracing::info!(
                    subscription = %self.cfg.id,
                    delivery = %msg.delivery_id,
                    attempt = msg.attempt,
                    %status,
                    error = result.error.as_deref().unwrap_or("-"),
                    next_attempt = next,
                    retry_in = ?wait,
                    "A delivery attempt failed; it will be retried"
                );
            }
            Decision::Exhausted => {
                metrics::counter!("hookfleet_deliveries_exhausted_total").increment(1);
                tracing::warn!(
                    subscription = %self.cfg.id,
                    delivery = %msg.delivery_id,
                    attempts = msg.attempt,
                    %status,
                    "A delivery exhausted its retry ladder; parked in the dead queue"
                );
            }
            // Stop taking this subscription's messages at once; other workers hear of it
            // after the batch commits.
            Decision::Gone { .. } => {
                tracing::warn!(
                    subscription = %self.cfg.id,
                    delivery = %msg.delivery_id,
                    "The endpoint answered 410 Gone; disabling the subscription"
                );
                self.stop.cancel()
            }
            _ => {}
        }
    }

    fn park(&self, msg: &Incoming, reason: &str) -> Settle {
        Settle::park(&self.of(msg), reason)
    }

    fn outcome_row(&self, msg: &Incoming, result: AttemptResult, decision: Decision) -> OutcomeRow {
        let now = hookfleet_core::now_utc();
        let status = match decision {
            Decision::Delivered => DeliveryStatus::Delivered,
            Decision::Retry { .. } | Decision::Hold { .. } | Decision::Gone { .. } => {
                DeliveryStatus::Failed
            }
            Decision::Exhausted => DeliveryStatus::Exhausted,
        };
        OutcomeRow {
            delivery_id: msg.delivery_id.clone(),
            event_id: msg.event_id.clone(),
            subscription_id: self.cfg.id.clone(),
            organization_id: msg.organization_id.clone(),
            service_partition: msg.service_partition.clone(),
            attempt: msg.attempt,
            status,
            sent_at: now - result.duration,
            status_code: result.status_code.map(i32::from),
            duration_ms: i32::try_from(result.duration.as_millis()).unwrap_or(i32::MAX),
            error: result.error,
            response_excerpt: result.response_excerpt,
            next_attempt_at: decision.next_attempt_in().map(|w| now + w),
            is_test: msg.is_test,
            disable_reason: matches!(decision, Decision::Gone { .. })
                .then(|| "the endpoint answered 410 Gone".to_owned()),
            counted: self.cfg.tier != hookfleet_core::subscription::Tier::Own,
        }
    }

    async fn poison(&self, message: Message, reason: &str) {
        tracing::warn!(subscription = %self.cfg.id, %reason, "Parking an undecodable message");
        metrics::counter!("hookfleet_poison_messages_total", "queue" => "subscription")
            .increment(1);
        let queue = self.queue();
        let reason = format!("undecodable: {reason}");
        let pending = Pending {
            outcome: None,
            poison: Some(PoisonRow::new(&queue, &reason, &message.body)),
            settle: Settle::Poison { queue, reason },
            tag: message.tag,
            data: message.body,
            done: self.done.clone(),
        };
        self.shared.submit(pending).await;
    }

    async fn submit(&self, outcome: Option<OutcomeRow>, settle: Settle, tag: u64, data: Vec<u8>) {
        let pending = Pending {
            outcome,
            poison: None,
            settle,
            tag,
            data,
            done: self.done.clone(),
        };
        self.shared.submit(pending).await;
    }
}

/// Why an exhausted delivery is parked: its last error.
fn result_reason(outcome: &OutcomeRow) -> String {
    outcome.error.clone().unwrap_or_default()
}
