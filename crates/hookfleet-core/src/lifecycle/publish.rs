//! What a lifecycle call publishes: one event (`event.created|updated|closed`) for the one
//! intake, built here so its shape and the limits that keep it publishable sit side by side.
//! The body's fields travel two levels further down than the caller sent them (`attrs` as
//! `data.change.attrs` and `data.state.attrs`), and the call's `op_id` as the event's
//! idempotency key (in the channel's key space): [`MAX_ATTRS_DEPTH`] and [`idempotency_key`]
//! make sure that whatever the field rules accept, the intake takes too, so no call is refused
//! late naming a field its caller never sent.
use super::{Checked, State};
use crate::{NewEvent, event::MAX_IDEMPOTENCY_KEY_LEN, storable::MAX_JSON_DEPTH};

/// How far below the top of the published `data` the `attrs` object sits:
/// `data` (level 1) → `change` / `state` (level 2) → `attrs` (level 3).
const ATTRS_LEVEL: usize = 3;

/// Deepest nesting of `attrs` accepted, the `attrs` object itself being level 1: published two
/// levels down, it then reaches exactly the intake's [`MAX_JSON_DEPTH`]. (In the body, whose
/// top is level 1 and `attrs` level 2, that is a body of at most 63 levels.)
pub const MAX_ATTRS_DEPTH: usize = MAX_JSON_DEPTH - (ATTRS_LEVEL - 1);

/// The event subscribers receive for a call: the change it made and the state after it, the
/// channel as its organization.
pub fn new_event(
    checked: &Checked,
    op_id: &str,
    next: &State,
) -> Result<NewEvent, serde_json::Error> {
    let data = serde_json::json!({
        "channel_id": checked.channel_id,
        "event_id": next.event_id,
        "op_id": op_id,
        "change": checked.change,
        "state": next,
    });
    Ok(NewEvent {
        event_type: checked.route.event_type().to_owned(),
        organization_ids: Some(vec![checked.channel_id.clone()]),
        service_partitions: None,
        data: serde_json::value::to_raw_value(&data)?,
        idempotency_key: Some(idempotency_key(op_id)),
        source: None,
    })
}

/// The event's idempotency key (the producer submits it in the channel's key space): the
/// call's `op_id`, so a call retried with it names the same event. An `op_id` may be 128
/// characters of up to 4 bytes each, past the bytes an idempotency key holds; such a one is
/// replaced by a digest of it, written with spaces, which no `op_id` may contain, so the digest
/// form never equals another call's `op_id`.
pub fn idempotency_key(op_id: &str) -> String {
    if op_id.len() <= MAX_IDEMPOTENCY_KEY_LEN {
        return op_id.to_owned();
    }
    let digest = crate::ids::digest_hex(&[b"lifecycle-op", op_id.as_bytes()]);
    format!("op_id digest {digest}")
}
