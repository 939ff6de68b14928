//! One lifecycle call, start to end. The order of checks: the field rules (400), the key's
//! scope (403), the channel (404) and its password (401; 429 while the channel's checks are
//! refused, see `passwords`), both from memory (`directory`); then, in one transaction: the `op_id`
//! (a repeat returns the first answer), the event (404, 409 when closed), the next state
//! written, the message published and confirmed, and only then the commit. A broker that does
//! not confirm rolls the transaction back: the state did not move, the `op_id` is free, and the
//! answer is 503 with `accepted: false`. The message of a retried call has the same id
//! (derived from the channel and `op_id`), so should the commit itself fail after a confirm,
//! the retry's copy is the same event and subscribers see it once.
use super::{Answer, Data, Gate, LifecycleJson, passwords::Verdict};
use crate::{
    AppState,
    intake::{self, IntakeError},
};
use axum::http::StatusCode;
use hookfleet_core::{
    ChannelId, KeySpace,
    lifecycle::{self, Checked, Route, State, event_id_for},
};
use hookfleet_store::StoreError;
use std::sync::Arc;

pub(super) async fn run(
    state: Arc<AppState>,
    gate: Gate,
    route: Route,
    LifecycleJson(call): LifecycleJson,
) -> Answer {
    let checked = match call.check(route) {
        Ok(c) => c,
        Err(r) => return Answer::refused(r),
    };
    let op_id = checked.op_id.clone().unwrap_or_else(new_op_id);
    let event_id = match route {
        Route::Create => event_id_for(&checked.channel_id, &op_id),
        _ => checked.event_id.clone().unwrap_or_default(),
    };
    let data = Data {
        channel_id: Some(checked.channel_id.clone()),
        op_id: Some(op_id.clone()),
        event_id: Some(event_id.clone()),
        accepted: false,
    };
    let answer = match admit(&state, &gate, &checked).await {
        Ok(channel) => dispatch(&state, &checked, &channel, &op_id, &event_id).await,
        Err(a) => Err(a),
    };
    match answer {
        Ok(first_event_id) => Answer::accepted(Data {
            event_id: Some(first_event_id),
            ..data
        }),
        Err(a) => a.with(&data),
    }
}

/// A fresh `op_id` for a call that sent none.
fn new_op_id() -> String {
    format!("op-{}", uuid_like())
}

fn uuid_like() -> String {
    hookfleet_core::EventId::random()
        .as_str()
        .trim_start_matches("evt_")
        .to_owned()
}

/// The key's scope, the channel, and its password; the channel's id once it is known live.
async fn admit(state: &AppState, gate: &Gate, checked: &Checked) -> Result<ChannelId, Answer> {
    if !gate.allows(&checked.channel_id) {
        return Err(Answer::error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this key may not post events on that channel",
        ));
    }
    let not_found = || {
        Answer::error(
            StatusCode::NOT_FOUND,
            "channel_not_found",
            "channel not found",
        )
    };
    // Text that is not a channel id names no channel, as an unknown id does not.
    let channel = ChannelId::parse(&checked.channel_id).ok_or_else(not_found)?;
    let stored = state
        .channels
        .password_hash(&channel)
        .ok_or_else(not_found)?;
    match state
        .passwords
        .verify(&checked.channel_id, &stored, &checked.password)
        .await
    {
        Verdict::Open => Ok(channel),
        Verdict::Wrong => Err(Answer::error(
            StatusCode::UNAUTHORIZED,
            "invalid_password",
            "the channel password is wrong",
        )),
        Verdict::Refused(refusal) => Err(Answer::too_many_attempts(refusal)),
        Verdict::Unavailable => Err(dispatch_failed()),
    }
}

/// The transaction: claim the `op_id`, move the state, publish, commit. Returns the event id
/// of the answer (the first answer's, for a repeated `op_id`).
async fn dispatch(
    state: &AppState,
    checked: &Checked,
    channel: &ChannelId,
    op_id: &str,
    event_id: &str,
) -> Result<String, Answer> {
    let unit = state.store.begin_lifecycle().await.map_err(unavailable)?;
    let first = unit
        .claim_op(channel, op_id, checked.route.name(), event_id)
        .await
        .map_err(unavailable)?;
    if let Some(first) = first {
        unit.rollback().await;
        return Ok(first.event_id);
    }
    let next = match checked.route {
        Route::Create => State::create(channel.as_str(), event_id, &checked.change),
        route => match unit.event_for_update(channel, event_id).await {
            Ok(Some(prior)) => prior.apply(route, &checked.change),
            Ok(None) => {
                unit.rollback().await;
                return Err(Answer::error(
                    StatusCode::NOT_FOUND,
                    "event_not_found",
                    "no event with that event_id on this channel",
                ));
            }
            Err(e) => return Err(unavailable(e)),
        },
    };
    let next = match next {
        Ok(n) => n,
        Err(r) => {
            unit.rollback().await;
            return Err(Answer::refused(r));
        }
    };
    unit.put_event(&next).await.map_err(unavailable)?;
    if let Err(a) = publish(state, checked, op_id, &next).await {
        unit.rollback().await;
        return Err(a);
    }
    unit.commit().await.map_err(unavailable)?;
    metrics::counter!("hookfleet_lifecycle_calls_total", "route" => checked.route.name())
        .increment(1);
    Ok(event_id.to_owned())
}

/// The call as subscribers receive it: the change it made and the state after it.
async fn publish(
    state: &AppState,
    checked: &Checked,
    op_id: &str,
    next: &State,
) -> Result<(), Answer> {
    let new = lifecycle::new_event(checked, op_id, next)
        .map_err(|e| unavailable(StoreError::Encode(e)))?;
    // The channel's own key space: no other tenant's key can name (and so suppress) this call.
    let space = KeySpace::Channel(checked.channel_id.clone());
    match intake::submit(state, new, &space, None, intake::Repeats::Trust).await {
        Ok(_) => Ok(()),
        // Not expected: the field rules keep what a call publishes within the intake's
        // limits (`lifecycle::MAX_ATTRS_DEPTH`, `lifecycle::idempotency_key`), and the tests
        // hold them to it. Should one still slip, the caller hears what was refused.
        Err(IntakeError::Invalid(i)) => {
            tracing::warn!(refused = %i, "The intake refused a lifecycle call the field rules accepted");
            Err(Answer::error(
                StatusCode::BAD_REQUEST,
                "invalid_field",
                i.to_string(),
            ))
        }
        // Not raised: lifecycle keys are trusted (Repeats::Trust).
        Err(IntakeError::KeyReused) => Ok(()),
        Err(IntakeError::Unavailable { context, cause }) => {
            tracing::warn!(error = %crate::error::error_chain(cause.as_ref()), "{context}");
            Err(dispatch_failed())
        }
    }
}

fn dispatch_failed() -> Answer {
    Answer::error(
        StatusCode::SERVICE_UNAVAILABLE,
        "dispatch_failed",
        "the call was not dispatched and nothing changed; retry with the same op_id",
    )
}

fn unavailable(e: StoreError) -> Answer {
    tracing::warn!(error = %crate::error::error_chain(&e), "A lifecycle call could not reach the record");
    dispatch_failed()
}
