//! The event lifecycle of source document 001: a process that is created, updated any number of
//! times and closed, each call posted to `/event/create|update|close` of a channel. This module
//! owns the document's field rules (which route needs, allows and forbids which field, and each
//! field's limits), checked in one pass into a [`Checked`] call, and the event's [`State`] that
//! each call moves. No I/O: the producer supplies the prior state and stores the next.
use serde::Deserialize;
use serde_json::{Map, Value, value::RawValue};

mod publish;
mod read;
mod rules;
mod state;

pub use publish::{MAX_ATTRS_DEPTH, idempotency_key, new_event};
pub use read::{CALL_FIELDS, read_call};
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
