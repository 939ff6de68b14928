//! The OpenAPI operations of the source documents' dialects (partner events, the event
//! lifecycle, webhooks, the identity-provider hook) and of the probes and the description
//! itself (see `native` for why these functions stand for the handlers).
#![allow(dead_code)] // The functions are anchors for `utoipa::path`, never called.

use super::schemas::Page;
use super::schemas_dialects::{
    KeycloakAccepted, KeycloakEvent, LifecycleAnswer, LifecycleCall, NewWebhook, PartnerCall,
    Webhook, WebhookDelivery, WebhookTest, WebhookTestSent,
};

const PARTNER: &str = "partner (document 000)";
const LIFECYCLE: &str = "event lifecycle (document 001)";
const WEBHOOKS: &str = "webhooks (document 002)";
const HOOK: &str = "identity-provider hook (document 003)";
const PROBES: &str = "probes";

/// A partner's event for its installation, as `installation.updated` or `resource.updated`
/// with the installation as organization. Needs a key scoped to the installation (or admin).
#[utoipa::path(post, path = "/v1/installations/{id}/events", tag = PARTNER,
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The installation"),
        ("Idempotency-Key" = Option<String>, Header)),
    request_body = PartnerCall,
    responses(
        (status = 201, description = "Accepted: the broker has it"),
        (status = 409, description = "`idempotency_key_reused`", body = super::schemas::Error),
    ))]
fn partner_event() {}

/// Opens a lifecycle event on a channel: needs `channel_id`, `password`, `title`, `status`,
/// `message`, `severity`, `event_time`; refuses `event_id` and `ended_at`.
#[utoipa::path(post, path = "/event/create", tag = LIFECYCLE,
    security((), ("gateway_token" = [])),
    request_body = LifecycleCall,
    responses((status = 200, description = "Accepted: committed and confirmed into the bus",
        body = LifecycleAnswer)))]
fn lifecycle_create() {}

/// Moves an open event: needs `event_id` besides the fields of create (not `title`);
/// refuses `started_at` and `ended_at`.
#[utoipa::path(post, path = "/event/update", tag = LIFECYCLE,
    security((), ("gateway_token" = [])),
    request_body = LifecycleCall,
    responses(
        (status = 200, description = "Accepted", body = LifecycleAnswer),
        (status = 409, description = "`event_closed`", body = LifecycleAnswer),
    ))]
fn lifecycle_update() {}

/// Closes an event (`ended_at` defaults to `event_time`); refuses `started_at`.
#[utoipa::path(post, path = "/event/close", tag = LIFECYCLE,
    security((), ("gateway_token" = [])),
    request_body = LifecycleCall,
    responses(
        (status = 200, description = "Accepted", body = LifecycleAnswer),
        (status = 409, description = "`event_closed`", body = LifecycleAnswer),
    ))]
fn lifecycle_close() {}

/// Registers a webhook for the key's organizations (an admin key: for every one).
#[utoipa::path(post, path = "/v1/webhooks", tag = WEBHOOKS, security(("api_key" = [])),
    request_body = NewWebhook,
    responses(
        (status = 201, description = "Made; the secret is shown this once", body = Webhook),
        (status = 422, description = "`validation_failed`, or `private_target`",
            body = super::schemas::Error),
    ))]
fn webhook_create() {}

/// The webhooks the key may see, newest first.
#[utoipa::path(get, path = "/v1/webhooks", tag = WEBHOOKS, security(("api_key" = [])),
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "1 to 1,000 (100)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses((status = 200, description = "A page of webhooks", body = Page<Webhook>)))]
fn webhook_list() {}

/// Sends the document's sample payload of an event type to one webhook.
#[utoipa::path(post, path = "/v1/webhooks/test", tag = WEBHOOKS, security(("api_key" = [])),
    request_body = WebhookTest,
    responses(
        (status = 202, description = "Queued", body = WebhookTestSent),
        (status = 404, description = "`not_found`: no webhook of that id the key may see",
            body = super::schemas::Error),
    ))]
fn webhook_test() {}

/// One webhook (another organization's answers 404).
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = WEBHOOKS, security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The webhook", body = Webhook)))]
fn webhook_get() {}

#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = WEBHOOKS, security(("api_key" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted")))]
fn webhook_delete() {}

/// Re-enables a disabled webhook: what queued meanwhile is delivered; an active one is
/// answered as it is (another organization's answers 404).
#[utoipa::path(post, path = "/v1/webhooks/{id}/enable", tag = WEBHOOKS,
    security(("api_key" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "Active", body = Webhook)))]
fn webhook_enable() {}

/// Disables a webhook by hand: nothing more is sent until it is enabled, and what arrives
/// meanwhile waits; a disabled one is answered as it is (another organization's answers 404).
#[utoipa::path(post, path = "/v1/webhooks/{id}/disable", tag = WEBHOOKS,
    security(("api_key" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "Disabled", body = Webhook)))]
fn webhook_disable() {}

/// A webhook's deliveries, newest first.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = WEBHOOKS,
    security(("api_key" = [])),
    params(("id" = String, Path), super::schemas_admin::LogParams),
    responses((status = 200, description = "A page of deliveries",
        body = Page<WebhookDelivery>)))]
fn webhook_log() {}

/// The identity provider's event, signed with a shared key (`HOOKFLEET_KEYCLOAK_SECRET`):
/// the lowercase hex HMAC-SHA256 of the body in either header, `sha256=` optional. A body the
/// router could not read is a 400 with the reason. Answered once the raw event is confirmed
/// into the bus; enrichment and fan-out come after, and an event that can then never be
/// published (its user gone, its record unreadable) is parked in `hookfleet.dead`.
#[utoipa::path(post, path = "/v1/hooks/keycloak", tag = HOOK, security(()),
    params(
        ("X-Keycloak-Signature" = Option<String>, Header, description = "HMAC of the body"),
        ("X-Webhook-Signature" = Option<String>, Header, description = "The same, by another name"),
    ),
    request_body = KeycloakEvent,
    responses((status = 202, description = "In the bus", body = KeycloakAccepted)))]
fn keycloak_hook() {}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = PROBES, security(()),
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain")))]
fn healthz() {}

/// The producer reaches its broker and database.
#[utoipa::path(get, path = "/readyz", tag = PROBES, security(()),
    responses(
        (status = 200, description = "`ready`", body = String, content_type = "text/plain"),
        (status = 503, description = "`not ready`", body = String, content_type = "text/plain"),
    ))]
fn readyz() {}

/// This description (OpenAPI 3.1).
#[utoipa::path(get, path = "/openapi.json", tag = PROBES, security(()),
    responses((status = 200, description = "The OpenAPI description", body = Value)))]
fn openapi_json() {}
