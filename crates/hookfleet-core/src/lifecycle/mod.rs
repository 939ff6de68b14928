//! The event lifecycle of source document 001: a process that is created, updated any number of
//! times and closed, each call posted to `/event/create|update|close` of a channel. This module
//! owns the document's field rules (which route needs, allows and forbids which field, and each
//! field's limits), checked in one pass into a [`Checked`] call, and the event's [`State`] that
//! each call moves. No I/O: the producer supplies the prior state and stores the next.
use serde::Deserialize;
use serde_json::{Map, Value, value::RawValue};

mod publish;
mod rules;
mod state;

pub use publish::{MAX_ATTRS_DEPTH, idempotency_key, new_event};
pub use rules::*;
pub use state::{MAX_STATE_ATTRS_BYTES, State, event_id_for};

/// Which of the three routes a call came by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Create,
    Update,
    Close,
}

impl Route {
    /// The event type subscribers receive for a call of this route.
    pub fn event_type(self) -> &'static str {
        match self {
            Self::Create => "event.created",
            Self::Update => "event.updated",
            Self::Close => "event.closed",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Close => "close",
        }
    }
}

/// Why a call is refused, with the `error_code` the envelope carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn field(field: &str, message: impl std::fmt::Display) -> Self {
        Self::new("invalid_field", format!("{field}: {message}"))
    }
}

/// A call of the event-lifecycle dialect (document 001). Which fields a route needs or
/// refuses is its own (`missing_field`, `field_not_allowed`): see the route.
//
// The body as sent: every field optional, so a missing one is reported by name, and unknown
// fields refused ([`read_call`]). `attrs`, `metadata` and `severity` are read loosely so each
// has its own error code. The three times are kept as the text sent (read it with
// `serde_json::from_str`, never `from_value`): `1.8e12` and `1800000000000.0` are whole
// milliseconds, and only the digits can tell `1800000000000.0000001` (a fraction) from them,
// since a double cannot.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = LifecycleCall))]
#[serde(deny_unknown_fields)]
pub struct Call {
    #[cfg_attr(feature = "openapi", schema(example = "chn_0"))]
    pub channel_id: Option<String>,
    /// The channel's password, 8 to 128 characters.
    #[cfg_attr(feature = "openapi", schema(example = "correct-horse-battery"))]
    pub password: Option<String>,
    /// Repeating an `op_id` on a channel returns the first answer (generated when absent).
    pub op_id: Option<String>,
    pub thing_id: Option<String>,
    pub ciphertext: Option<String>,
    /// Update and close only.
    pub event_id: Option<String>,
    /// Create only (required there).
    pub title: Option<String>,
    pub description: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = "running"))]
    pub status: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = "Deployment started"))]
    pub message: Option<String>,
    /// `critical`, `high`, `normal` or `low`.
    #[cfg_attr(feature = "openapi", schema(example = "normal"))]
    pub severity: Option<String>,
    /// Unix milliseconds, 0 to the last of year 9999: a whole number, as an integer or with no
    /// fractional part (`1.8e12` and `1800000000000.0` are whole, as JSON Schema's `integer`
    /// says); stored and delivered as the integer.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u64>, example = 1713750000000u64, maximum = 253402300799999u64))]
    pub event_time: Option<Box<RawValue>>,
    /// Create only; Unix milliseconds, as `event_time`.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u64>, maximum = 253402300799999u64))]
    pub started_at: Option<Box<RawValue>>,
    /// Close only; Unix milliseconds, as `event_time`.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u64>, maximum = 253402300799999u64))]
    pub ended_at: Option<Box<RawValue>>,
    pub tags: Option<Vec<String>>,
    pub images: Option<Vec<String>>,
    /// A JSON merge patch of the event's attributes (no arrays; at most 62 levels deep, the
    /// object itself being level 1).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub attrs: Option<Value>,
    /// Flat string, number or boolean values.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub metadata: Option<Value>,
}

/// Every field a [`Call`] may carry, as the body names it.
pub const CALL_FIELDS: &[&str] = &[
    "channel_id",
    "password",
    "op_id",
    "thing_id",
    "ciphertext",
    "event_id",
    "title",
    "description",
    "status",
    "message",
    "severity",
    "event_time",
    "started_at",
    "ended_at",
    "tags",
    "images",
    "attrs",
    "metadata",
];

/// Reads a body (a JSON object, already held to `storable::check_json`) into a [`Call`],
/// deciding the refusal's code by what is wrong rather than by serde's wording: walking the
/// fields in the order sent, the first one [`CALL_FIELDS`] does not name is `unknown_field`,
/// the first one whose value its field cannot hold is `invalid_field`, and a field sent twice
/// (or anything else unreadable) is `invalid_json`.
pub fn read_call(body: &str) -> Result<Call, Refusal> {
    let invalid_json = |e: serde_json::Error| Refusal::new("invalid_json", e.to_string());
    let Fields(fields) = serde_json::from_str(body).map_err(invalid_json)?;
    let mut seen = std::collections::HashSet::new();
    for (name, value) in &fields {
        if !CALL_FIELDS.contains(&name.as_str()) {
            let e = <serde_json::Error as serde::de::Error>::unknown_field(name, CALL_FIELDS);
            return Err(Refusal::new("unknown_field", e.to_string()));
        }
        if !seen.insert(name.as_str()) {
            return Err(Refusal::new(
                "invalid_json",
                format!("duplicate field `{name}`"),
            ));
        }
        // The field alone, read as a call reads it: what can fail now is its value.
        let alone = format!("{{{}:{}}}", Value::String(name.clone()), value.get());
        if let Err(e) = serde_json::from_str::<Call>(&alone) {
            let at = format!(" at line {} column {}", e.line(), e.column());
            let why = e.to_string();
            let why = why.strip_suffix(&at).unwrap_or(&why);
            return Err(Refusal::field(name, why));
        }
    }
    serde_json::from_str(body).map_err(invalid_json)
}

/// A JSON object's fields in the order sent, duplicates kept, each value as its text.
struct Fields(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Fields;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Fields, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    fields.push(entry);
                }
                Ok(Fields(fields))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// One of the document's four severities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    High,
    Normal,
    Low,
}

/// What one call changes, as subscribers receive it (the credentials are not part of it).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub status: String,
    pub message: String,
    pub severity: Severity,
    pub event_time: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attrs: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thing_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ciphertext: Option<String>,
}

/// A call that passed every field rule of its route.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub route: Route,
    pub channel_id: String,
    pub password: String,
    /// As sent; the producer generates one when absent.
    pub op_id: Option<String>,
    /// Sent on update and close (never on create).
    pub event_id: Option<String>,
    pub change: Change,
}

#[cfg(test)]
mod tests;
