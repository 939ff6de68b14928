//! Body shapes of the delivery log, replays and test sends, API keys, installations and
//! channels, as the OpenAPI description shows them (see `schemas` for why they mirror).
#![allow(dead_code)] // Fields are read by the schema derive only.

use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// One delivery (an event copy × a subscription) with every attempt.
#[derive(ToSchema)]
pub(crate) struct Delivery {
    pub id: String,
    pub event_id: String,
    pub subscription_id: String,
    pub organization_id: Option<String>,
    pub service_partition: Option<String>,
    pub status: DeliveryStatus,
    pub attempt_count: i64,
    pub is_test: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub next_attempt_at: Option<String>,
    /// The event's type (`null` only if the event's record is gone).
    pub event_type: Option<String>,
    pub attempts: Vec<Attempt>,
}

/// `failed`: a retry waits; `exhausted`: given up and parked.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
    Exhausted,
}

/// The delivery log's filters and page, as `GET /v1/deliveries`, a subscription's and a
/// webhook's log take them.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LogParams {
    /// Only this subscription's deliveries (on a subscription's or webhook's own log, the
    /// path's wins).
    pub subscription_id: Option<String>,
    pub status: Option<DeliveryStatus>,
    /// Only copies of this event type.
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// Only copies for this organization.
    pub organization_id: Option<String>,
    /// RFC 3339.
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// RFC 3339.
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// 1 to 1,000 (100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One attempt of a delivery.
#[derive(ToSchema)]
pub(crate) struct Attempt {
    pub attempt: i64,
    #[schema(format = DateTime)]
    pub sent_at: String,
    /// `null` when no answer came (timeout, connection or TLS error).
    pub status_code: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<String>,
    /// The first 1 KiB of the answer's body (`GET /v1/deliveries/{id}` only).
    pub response_excerpt: Option<String>,
}

/// `POST /v1/subscriptions/{id}/test`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestSend {
    #[schema(example = "order.paid")]
    pub event_type: String,
    /// A JSON object (default: a sample message).
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
}

/// What a test send queued.
#[derive(ToSchema)]
pub(crate) struct TestSent {
    pub event_id: String,
    pub delivery_id: String,
}

/// `POST /v1/subscriptions/{id}/recover`: the window of creation times, RFC 3339.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Recover {
    #[schema(format = DateTime)]
    pub since: String,
    #[schema(format = DateTime)]
    pub until: Option<String>,
    /// At most this many, oldest first (absent: 10,000); `next_cursor` continues.
    #[schema(minimum = 1, maximum = 10000)]
    pub limit: Option<i64>,
    /// The previous step's `next_cursor`.
    pub cursor: Option<String>,
}

#[derive(ToSchema)]
pub(crate) struct Recovered {
    pub recovered: u64,
    pub removed_from_dead: u64,
    /// How many in the window are left for later steps.
    pub remaining: i64,
    /// `null` when nothing remains.
    pub next_cursor: Option<String>,
}

/// `POST /v1/deliveries/{id}/retry`.
#[derive(ToSchema)]
pub(crate) struct Retried {
    pub delivery_id: String,
    /// The number the new attempt will carry.
    pub attempt: i64,
    pub removed_from_dead: u64,
}

/// `POST /v1/api-keys`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewApiKey {
    #[schema(example = "ci", min_length = 1, max_length = 128)]
    pub name: String,
    /// `admin`, `installation:<id>`, `channel:<id>` or `organization:<id>`.
    #[schema(min_items = 1, max_items = 100, example = json!(["organization:acme"]))]
    pub scopes: Vec<ScopeName>,
}

/// What an API key may do: `admin`, or `installation:`, `channel:` or `organization:` and an
/// id of 1 to 64 printable characters.
#[derive(ToSchema)]
#[schema(
    pattern = r"^(admin|(installation|channel|organization):[^\u0000-\u001f\u007f-\u009f]{1,64})$",
    example = "organization:acme"
)]
pub(crate) struct ScopeName(String);

/// An API key; `key` only in the answers that made or rotated it.
#[derive(ToSchema)]
pub(crate) struct ApiKey {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Until when the key it replaced still works.
    #[schema(format = DateTime)]
    pub previous_valid_until: Option<String>,
    #[schema(format = DateTime)]
    pub revoked_at: Option<String>,
    pub key: Option<String>,
}

/// `POST /v1/installations`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewInstallation {
    /// 1 to 64 letters, digits, `_`, `-` or `.` (default: generated).
    #[schema(pattern = r"^[A-Za-z0-9_.-]{1,64}$")]
    pub id: Option<String>,
    #[schema(max_length = 128)]
    pub name: Option<String>,
}

#[derive(ToSchema)]
pub(crate) struct Installation {
    pub id: String,
    pub name: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// `POST /v1/channels`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewChannel {
    #[schema(example = "deploys", min_length = 1)]
    pub name: String,
    /// 8 to 128 characters; stored only as an argon2id hash.
    #[schema(example = "correct-horse-battery", min_length = 8, max_length = 128)]
    pub password: String,
}

#[derive(ToSchema)]
pub(crate) struct Channel {
    pub id: String,
    pub name: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// A lifecycle event's state (document 001), as the last accepted call left it.
#[derive(ToSchema)]
pub(crate) struct LifecycleEvent {
    pub event_id: String,
    pub channel_id: String,
    pub thing_id: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub status: String,
    pub severity: String,
    pub message: String,
    #[schema(value_type = Object)]
    pub attrs: Value,
    pub tags: Vec<String>,
    pub images: Vec<String>,
    pub started_at: Option<u64>,
    pub ended_at: Option<u64>,
    pub event_time: u64,
    pub closed: bool,
    pub version: u64,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}
