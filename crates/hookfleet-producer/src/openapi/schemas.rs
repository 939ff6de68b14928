//! The shapes of the API's request and response bodies, as the OpenAPI description shows them.
//! Handlers build most answers with `json!` from the record's rows, so these types describe
//! those answers rather than produce them; schemathesis in CI checks every answer it provokes
//! against them (`scripts/check-openapi.sh`), so a field that drifts fails there. Request
//! bodies mirror the structs the handlers read (all of which refuse unknown fields).
#![allow(dead_code)] // Fields are read by the schema derive only.

use serde_json::Value;
use utoipa::ToSchema;

/// The native API's error envelope (also the partner route's and the webhooks').
#[derive(ToSchema)]
pub(crate) struct Error {
    pub error: ErrorBody,
}

#[derive(ToSchema)]
pub(crate) struct ErrorBody {
    /// A stable code (`invalid_json`, `validation_failed`, `not_found`, …): match on it.
    pub code: String,
    /// For people; for `validation_failed` it starts with the field's name.
    pub message: String,
}

/// `POST /v1/events` (and each item of a batch).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewEvent {
    /// Dot-separated words of letters, digits, `_` and `-`.
    #[serde(rename = "type")]
    #[schema(
        example = "user.created",
        max_length = 128,
        pattern = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"
    )]
    pub event_type: String,
    /// One copy per organization (absent: one copy with `organization_id` null).
    #[schema(min_items = 1, max_items = 100)]
    pub organization_ids: Option<Vec<ScopeValue>>,
    /// One copy per partition (absent: one copy with `service_partition` null).
    #[schema(min_items = 1, max_items = 100)]
    pub service_partitions: Option<Vec<ScopeValue>>,
    /// Any JSON object storable by every stage (no NUL, no lone surrogate, depth ≤ 64…).
    #[schema(value_type = Object)]
    pub data: Value,
    /// The same key always gives the same event id (also the `Idempotency-Key` header).
    #[schema(pattern = r"^[^\u0000-\u001f\u007f-\u009f]{1,256}$")]
    pub idempotency_key: Option<String>,
    pub source: Option<Source>,
}

/// Where an event came from; each field 1 to 128 printable ASCII characters.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Source {
    pub sender: Option<Sender>,
    #[schema(pattern = r"^[ -~]{1,128}$")]
    pub client: Option<String>,
    #[schema(pattern = r"^[ -~]{1,128}$")]
    pub organization_id: Option<String>,
    #[schema(pattern = r"^[ -~]{1,128}$")]
    pub service_partition: Option<String>,
    #[schema(pattern = r"^[ -~]{1,128}$")]
    pub type_version: Option<String>,
}

/// What `202` says of an accepted event: the broker has it.
#[derive(ToSchema)]
pub(crate) struct AcceptedEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    #[schema(format = DateTime)]
    pub timestamp: String,
    pub organization_ids: Vec<String>,
    pub service_partitions: Vec<String>,
    pub idempotency_key: Option<String>,
}

/// `POST /v1/events/batch`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Batch {
    /// 1 to 1,000 events, each a `NewEvent` read on its own: an item that is not one (even
    /// `null`) refuses only itself, in the answer's `data`.
    #[schema(min_items = 1, max_items = 1000, value_type = Vec<Value>)]
    pub events: Vec<NewEvent>,
}

/// The answer to a batch: one result per item, in order.
#[derive(ToSchema)]
pub(crate) struct BatchResult {
    pub accepted: u64,
    pub refused: u64,
    pub data: Vec<BatchItem>,
}

/// `{"status": 202, "event": …}` or `{"status": 400|413|422|503, "error": …}`.
#[derive(ToSchema)]
pub(crate) struct BatchItem {
    pub status: u16,
    pub event: Option<AcceptedEvent>,
    pub error: Option<ErrorBody>,
}

/// An event as recorded.
#[derive(ToSchema)]
pub(crate) struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    #[schema(format = DateTime)]
    pub timestamp: String,
    pub organization_ids: Value,
    pub service_partitions: Value,
    pub idempotency_key: Option<String>,
    /// Whose key `idempotency_key` is: `native`, `partner:<installation>`,
    /// `lifecycle:<channel>` or `keycloak:<realm>`; `null` without a key, and for events
    /// recorded before keys had spaces.
    pub key_space: Option<String>,
    pub data: Value,
    pub source: Value,
    #[schema(format = DateTime)]
    pub received_at: String,
    #[schema(format = DateTime)]
    pub routed_at: Option<String>,
}

/// A page of a listing; `next_cursor` is `null` on the last page.
#[derive(ToSchema)]
pub(crate) struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Every item at once (`{"data": [...]}`).
#[derive(ToSchema)]
pub(crate) struct List<T> {
    pub data: Vec<T>,
}

/// A subscription, without its secret unless it was just made.
#[derive(ToSchema)]
pub(crate) struct Subscription {
    pub id: String,
    /// `null` for a pull subscription.
    pub url: Option<String>,
    pub delivery: DeliveryMode,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub organizations: Option<Vec<String>>,
    pub partitions: Option<Vec<String>>,
    pub state: SubscriptionState,
    pub disabled_reason: Option<String>,
    /// Its own ladder in milliseconds (`null`: the fleet's).
    pub retry_ladder: Option<Vec<String>>,
    pub max_in_flight: i64,
    pub rate_limit_per_s: Option<i64>,
    pub ordering: Ordering,
    pub profile: Profile,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// `GET` of one: messages ready in its queue (`null` if the broker cannot say).
    pub backlog: Option<i64>,
    /// `GET` of one: its deliveries given up and parked.
    pub parked: Option<i64>,
    /// Only in the answer that made it: the signing secret.
    pub secret: Option<String>,
    /// Only in the answer that made a pull subscription: what its owner reads with.
    pub pull: Option<PullAccess>,
}

/// `POST /v1/subscriptions`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewSubscription {
    /// Required for push delivery, absent for pull.
    #[schema(
        example = "http://127.0.0.1:9/hook",
        pattern = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$",
        max_length = 2048
    )]
    pub url: Option<String>,
    /// AMQP topic patterns on the dot-separated type (`*` one word, `#` zero or more).
    #[schema(min_items = 1, max_items = 50)]
    pub event_types: Vec<TypePattern>,
    #[schema(min_items = 1, max_items = 100)]
    pub organizations: Option<Vec<ScopeValue>>,
    #[schema(min_items = 1, max_items = 100)]
    pub partitions: Option<Vec<ScopeValue>>,
    #[schema(max_length = 1024)]
    pub description: Option<String>,
    /// Durations such as `5s`, `30s`, `5m`; `[]` for no retries.
    pub retry_ladder: Option<Vec<Duration>>,
    #[schema(minimum = 1, maximum = 1000)]
    pub max_in_flight: Option<u32>,
    #[schema(minimum = 1)]
    pub rate_limit_per_s: Option<u32>,
    pub ordering: Option<Ordering>,
    pub profile: Option<Profile>,
    pub delivery: Option<DeliveryMode>,
}

/// `PATCH /v1/subscriptions/{id}`: every field optional; `null` resets the nullable ones.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubscriptionUpdate {
    pub url: Option<String>,
    pub description: Option<String>,
    pub retry_ladder: Option<Vec<String>>,
    #[schema(minimum = 1, maximum = 1000)]
    pub max_in_flight: Option<u32>,
    pub rate_limit_per_s: Option<u32>,
    pub event_types: Option<Vec<String>>,
    pub organizations: Option<Vec<String>>,
    pub partitions: Option<Vec<String>>,
    pub profile: Option<Profile>,
}

/// Broker access of a pull subscription (shown once).
#[derive(ToSchema)]
pub(crate) struct PullAccess {
    pub amqp_url: String,
    pub queue: String,
    pub username: String,
    pub password: String,
    pub vhost: String,
}

/// `POST /v1/subscriptions/{id}/pull/rotate`.
#[derive(ToSchema)]
pub(crate) struct PullRotated {
    pub pull: PullAccess,
    #[schema(format = DateTime)]
    pub previous_valid_until: Option<String>,
}

/// A rotation's body (a subscription's secret, a pull user, an API key); may be empty.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rotate {
    /// How long the replaced one keeps working (default `24h`, at most `7d`, `0s`: stop now).
    #[schema(example = "24h")]
    pub previous_valid_for: Option<String>,
}

/// A subscription's signing secrets.
#[derive(ToSchema)]
pub(crate) struct Secrets {
    pub key: Option<String>,
    pub keys: Vec<String>,
    #[schema(format = DateTime)]
    pub previous_keys_expire_at: Option<String>,
}

/// Who sent an event, by the source's account.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Sender {
    User,
    Admin,
    Service,
}

/// `push` (HTTP calls to `url`) or `pull` (the owner reads its queue over AMQP).
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DeliveryMode {
    Push,
    Pull,
}

#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SubscriptionState {
    Active,
    Disabled,
    Deleted,
}

/// `fifo`: one message at a time, in queue order, fleet-wide (fixed at creation).
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Ordering {
    Unordered,
    Fifo,
}

/// How each copy is rendered into the request a subscriber receives.
#[derive(ToSchema)]
pub(crate) enum Profile {
    #[serde(rename = "standard-webhooks")]
    StandardWebhooks,
    #[serde(rename = "innervoice")]
    InnerVoice,
    #[serde(rename = "pca")]
    Pca,
}

/// A subscription's pattern on the dot-separated event type: words, `*` or `#`.
#[derive(ToSchema)]
#[schema(
    pattern = r"^([A-Za-z0-9_-]+|\*|#)(\.([A-Za-z0-9_-]+|\*|#))*$",
    example = "order.*"
)]
pub(crate) struct TypePattern(String);

/// A duration: a whole number and a unit (`ms`, `s`, `m`, `h`, `d`).
#[derive(ToSchema)]
#[schema(pattern = "^[0-9]{1,6}(ms|s|m|h|d)$", example = "30s")]
pub(crate) struct Duration(String);

/// An organization or partition id: 1 to 64 printable characters (quotes and backslashes too).
#[derive(ToSchema)]
#[schema(pattern = r"^[^\u0000-\u001f\u007f-\u009f]{1,64}$", example = "org-1")]
pub(crate) struct ScopeValue(String);
