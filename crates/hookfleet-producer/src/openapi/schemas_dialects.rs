//! Body shapes of the source documents' dialects (partner events, the event lifecycle,
//! webhooks, the identity-provider hook), as the OpenAPI description shows them (see
//! `schemas` for why they mirror).
#![allow(dead_code)] // Fields are read by the schema derive only.

use serde_json::Value;
use utoipa::ToSchema;

/// `POST /v1/installations/{id}/events` (document 000).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PartnerCall {
    pub event: PartnerEvent,
}

/// The partner's event, by `type`; its fields in camelCase, 1 to 256 printable characters.
#[derive(ToSchema)]
#[serde(tag = "type", deny_unknown_fields)]
pub(crate) enum PartnerEvent {
    #[serde(rename = "installation.updated", rename_all = "camelCase")]
    InstallationUpdated { billing_plan_id: Option<String> },
    #[serde(rename = "resource.updated", rename_all = "camelCase")]
    ResourceUpdated {
        resource_id: String,
        product_id: Option<String>,
    },
}

/// A call of the event-lifecycle dialect (document 001). Which fields a route needs or
/// refuses is its own (`missing_field`, `field_not_allowed`): see the route.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LifecycleCall {
    #[schema(example = "chn_0")]
    pub channel_id: Option<String>,
    /// The channel's password, 8 to 128 characters.
    #[schema(example = "correct-horse-battery")]
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
    #[schema(example = "running")]
    pub status: Option<String>,
    #[schema(example = "Deployment started")]
    pub message: Option<String>,
    /// `critical`, `high`, `normal` or `low`.
    #[schema(example = "normal")]
    pub severity: Option<String>,
    /// Unix milliseconds, 0 to the last of year 9999: a whole number, as an integer or with no
    /// fractional part (`1.8e12` and `1800000000000.0` are whole, as JSON Schema's `integer`
    /// says); stored and delivered as the integer.
    #[schema(value_type = Option<u64>, example = 1713750000000u64, maximum = 253402300799999u64)]
    pub event_time: Option<Value>,
    /// Create only; Unix milliseconds, as `event_time`.
    #[schema(value_type = Option<u64>, maximum = 253402300799999u64)]
    pub started_at: Option<Value>,
    /// Close only; Unix milliseconds, as `event_time`.
    #[schema(value_type = Option<u64>, maximum = 253402300799999u64)]
    pub ended_at: Option<Value>,
    pub tags: Option<Vec<String>>,
    pub images: Option<Vec<String>>,
    /// A JSON merge patch of the event's attributes (no arrays; at most 62 levels deep, the
    /// object itself being level 1).
    #[schema(value_type = Option<Object>)]
    pub attrs: Option<Value>,
    /// Flat string, number or boolean values.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

/// Every answer of the lifecycle dialect, errors included.
#[derive(ToSchema)]
pub(crate) struct LifecycleAnswer {
    pub success: bool,
    pub data: LifecycleData,
    pub error: Option<String>,
    pub error_code: Option<String>,
}

/// What was known of the call when it was answered.
#[derive(ToSchema)]
pub(crate) struct LifecycleData {
    pub channel_id: Option<String>,
    pub op_id: Option<String>,
    pub event_id: Option<String>,
    pub accepted: bool,
}

/// `POST /v1/webhooks` (document 002).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWebhook {
    #[schema(
        example = "http://127.0.0.1:9/webhooks/innervoice",
        max_length = 2048,
        pattern = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$"
    )]
    pub url: String,
    #[schema(min_items = 1, max_items = 50, example = json!(["action.executed"]))]
    pub events: Vec<super::schemas::TypePattern>,
    pub description: Option<String>,
}

/// A webhook (a subscription with the `innervoice` profile); `secret` only when just made.
#[derive(ToSchema)]
pub(crate) struct Webhook {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub organizations: Option<Vec<String>>,
    pub state: super::schemas::SubscriptionState,
    /// Why it is disabled (`null` while active): disabled through the API, or every delivery
    /// exhausted for `HOOKFLEET_DISABLE_AFTER`.
    pub disabled_reason: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub secret: Option<String>,
}

/// `POST /v1/webhooks/test`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookTest {
    pub webhook_id: String,
    #[schema(example = "action.executed")]
    pub event: String,
}

#[derive(ToSchema)]
pub(crate) struct WebhookTestSent {
    pub webhook_id: String,
    pub event: String,
    pub delivery_id: String,
}

/// A webhook's delivery, in the document's words.
#[derive(ToSchema)]
pub(crate) struct WebhookDelivery {
    pub delivery_id: String,
    pub event_id: String,
    pub status: super::schemas_admin::DeliveryStatus,
    pub is_test: bool,
    pub attempts: Vec<WebhookAttempt>,
}

#[derive(ToSchema)]
pub(crate) struct WebhookAttempt {
    #[schema(format = DateTime)]
    pub sent_at: String,
    pub status_code: Option<i64>,
    pub response_time_ms: i64,
    pub retry_count: i64,
    pub error: Option<String>,
}

/// The identity provider's event (document 003), read at the hook by the very decoder the
/// router reads it with (`hookfleet_core::keycloak`): JSON the record can hold (no NUL, no
/// lone surrogate, at most 64 levels deep, finite numbers) with no key twice in any object, and
/// these fields in these types; the text fields are limited in bytes and take no control
/// characters. Any other field is the plugin's own and is buffered untouched. Anything else is
/// a 400 `invalid_json` whose message names the field and the rule.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeycloakEvent {
    /// The provider's event id, 1 to 128 bytes.
    #[schema(min_length = 1, max_length = 128, example = "e1")]
    pub id: String,
    /// 1 to 256 bytes: `access.<EventType>` or `admin.<RESOURCE>-<OPERATION>`.
    #[serde(rename = "type")]
    #[schema(min_length = 1, max_length = 256, example = "access.LOGOUT")]
    pub event_type: String,
    /// At most 100 bytes.
    #[schema(max_length = 100, example = "acme")]
    pub realm_name: Option<String>,
    pub auth_details: Option<KeycloakAuthDetails>,
    /// The plugin's details; `custom_required_action`, when present, is a string or null.
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
    /// At most 1,024 bytes (`groups/<id>` for `admin.GROUP-CREATE`).
    #[schema(max_length = 1024, example = "groups/grp-1")]
    pub resource_path: Option<String>,
}

/// Who acted and through which client; other fields are the plugin's.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeycloakAuthDetails {
    /// At most 256 bytes.
    #[schema(max_length = 256, example = "user-1")]
    pub user_id: Option<String>,
    /// At most 256 bytes.
    #[schema(max_length = 256, example = "web-app")]
    pub client_id: Option<String>,
}

/// The hook's answer: the raw event is in the bus.
#[derive(ToSchema)]
pub(crate) struct KeycloakAccepted {
    pub accepted: bool,
    pub id: String,
}
