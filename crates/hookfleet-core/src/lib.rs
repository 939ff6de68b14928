//! hookfleet-core owns the rules every role agrees on and that need no I/O: prefixed ids,
//! the event envelope and its validation, the fan-out of one event into copies, the encoding
//! of routing and binding keys, Standard Webhooks signing, and durations such as the retry
//! ladder, and the identity provider's hook event as the hook and the router both read it.
//! Everything here is pure so it can be tested without a broker or a database.
#![forbid(unsafe_code)]

pub mod api_key;
pub mod channel;
pub mod duration;
pub mod event;
#[cfg(test)]
mod fuzz;
pub mod ids;
pub mod keycloak;
pub mod lifecycle;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod render;
pub mod routing;
pub mod signing;
pub mod source;
pub mod storable;
pub mod subscription;
pub mod targets;

pub use duration::{Ladder, parse_duration};
pub use event::{DeliveredBody, EventCopy, IngestEvent, NewEvent};
pub use ids::{ApiKeyId, ChannelId, DeliveryId, EventId, KeySpace, SubscriptionId};
pub use signing::{Secret, SignatureHeaders};

/// One field that failed validation, reported back to the client as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Current time in UTC truncated to whole milliseconds.
pub fn now_millis() -> time::OffsetDateTime {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(now)
}

/// Current time as an RFC 3339 `OffsetDateTime` in UTC.
pub fn now_utc() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}
