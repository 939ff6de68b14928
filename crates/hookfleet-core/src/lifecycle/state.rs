//! An event's current state, and how each call moves it: create sets it, update and close
//! replace what they send and merge `attrs` as a patch, close ends it for good.
use super::{Change, Refusal, Route, Severity};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Largest merged `attrs` an event may hold, in bytes of JSON: the state travels in every
/// later delivery, so patches must not grow it without bound.
pub const MAX_STATE_ATTRS_BYTES: usize = 16 * 1024;

/// The event's id for a create call: derived from the channel and the call's `op_id`, so a
/// create retried after an unconfirmed answer names the same event (and the same message).
pub fn event_id_for(channel_id: &str, op_id: &str) -> String {
    crate::ids::digest_hex(&[b"lifecycle-event", channel_id.as_bytes(), op_id.as_bytes()])
}

/// A lifecycle event's state (document 001), as the last accepted call left it.
// What the record keeps of an event and shows at `GET /v1/channels/{id}/events/{event_id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct State {
    pub event_id: String,
    pub channel_id: String,
    pub thing_id: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub status: String,
    // A string, as the description said before it was derived from this type: one of the
    // four `Severity` names (a client generated from it keeps its type).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub severity: Severity,
    pub message: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub attrs: Map<String, Value>,
    pub tags: Vec<String>,
    pub images: Vec<String>,
    pub started_at: Option<u64>,
    pub ended_at: Option<u64>,
    /// The `event_time` of the latest call.
    pub event_time: u64,
    pub closed: bool,
    /// How many calls made this state (1 after create).
    pub version: u64,
}

impl State {
    /// The state a create call starts.
    pub fn create(channel_id: &str, event_id: &str, change: &Change) -> Result<Self, Refusal> {
        let mut attrs = Map::new();
        if let Some(patch) = &change.attrs {
            merge(&mut attrs, patch);
        }
        bounded(&attrs)?;
        Ok(Self {
            event_id: event_id.to_owned(),
            channel_id: channel_id.to_owned(),
            thing_id: change.thing_id.clone(),
            title: change.title.clone().unwrap_or_default(),
            description: change.description.clone(),
            status: change.status.clone(),
            severity: change.severity,
            message: change.message.clone(),
            attrs,
            tags: change.tags.clone().unwrap_or_default(),
            images: change.images.clone().unwrap_or_default(),
            started_at: change.started_at,
            ended_at: None,
            event_time: change.event_time,
            closed: false,
            version: 1,
        })
    }

    /// The state after an update or close; a closed event takes neither.
    pub fn apply(&self, route: Route, change: &Change) -> Result<Self, Refusal> {
        if self.closed {
            return Err(Refusal::new(
                "event_closed",
                "the event is closed; it takes no more updates",
            ));
        }
        let mut next = self.clone();
        if let Some(patch) = &change.attrs {
            merge(&mut next.attrs, patch);
            bounded(&next.attrs)?;
        }
        let replace = |slot: &mut Option<String>, with: &Option<String>| {
            if with.is_some() {
                slot.clone_from(with);
            }
        };
        replace(&mut next.thing_id, &change.thing_id);
        replace(&mut next.description, &change.description);
        if let Some(t) = &change.title {
            next.title.clone_from(t);
        }
        if let Some(t) = &change.tags {
            next.tags.clone_from(t);
        }
        if let Some(i) = &change.images {
            next.images.clone_from(i);
        }
        next.status.clone_from(&change.status);
        next.message.clone_from(&change.message);
        next.severity = change.severity;
        next.event_time = change.event_time;
        if route == Route::Close {
            next.closed = true;
            next.ended_at = Some(change.ended_at.unwrap_or(change.event_time));
        }
        next.version += 1;
        Ok(next)
    }
}

/// JSON merge patch (RFC 7396) of objects: `null` deletes, an object merges into an object,
/// anything else replaces.
fn merge(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        match v {
            Value::Null => {
                target.remove(k);
            }
            Value::Object(p) => {
                let slot = target
                    .entry(k.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                if let Value::Object(t) = slot {
                    merge(t, p);
                }
            }
            other => {
                target.insert(k.clone(), other.clone());
            }
        }
    }
}

fn bounded(attrs: &Map<String, Value>) -> Result<(), Refusal> {
    let size = serde_json::to_vec(attrs).map_or(usize::MAX, |v| v.len());
    if size > MAX_STATE_ATTRS_BYTES {
        return Err(Refusal::new(
            "invalid_attrs",
            format!("attrs: the event's merged attrs would exceed {MAX_STATE_ATTRS_BYTES} bytes"),
        ));
    }
    Ok(())
}
