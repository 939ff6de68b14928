//! The OpenAPI operations of `/v1/events`, `/v1/subscriptions` and the delivery log. Each
//! function here stands for the handler of the same name in `crate::native` (`utoipa::path`
//! needs an item to hang on; the handlers' files would pass 400 lines with these beside them).
//! The error answers every route of the group shares are added by `errors`; what is written
//! here is what the route itself answers. `tests/it/openapi.rs` fails when a route is served
//! but not described here, or described but not served.
#![allow(dead_code)] // The functions are anchors for `utoipa::path`, never called.

use super::schemas::{
    AcceptedEvent, Batch, BatchResult, Error, Event, List, NewEvent, NewSubscription, Page,
    PullRotated, Rotate, Secrets, Subscription, SubscriptionUpdate,
};
use super::schemas_admin::{Delivery, LogParams, Recover, Recovered, Retried, TestSend, TestSent};

const EVENTS: &str = "events";
const SUBSCRIPTIONS: &str = "subscriptions";
const DELIVERIES: &str = "deliveries";

/// Sends one event; `202` once the broker has confirmed it into a durable queue.
#[utoipa::path(post, path = "/v1/events", tag = EVENTS, security(("admin_token" = [])),
    params(("Idempotency-Key" = Option<String>, Header,
        description = "Same as `idempotency_key` in the body")),
    request_body = NewEvent,
    responses(
        (status = 202, description = "Accepted: the broker has it", body = AcceptedEvent),
        (status = 409, description = "`idempotency_key_reused`: the key names a recorded event \
            with another type, data, organizations or partitions", body = Error),
    ))]
fn create_event() {}

/// Sends up to 1,000 events in one call (body up to 8 MiB); one result per item, in order.
#[utoipa::path(post, path = "/v1/events/batch", tag = EVENTS, security(("admin_token" = [])),
    request_body = Batch,
    responses((status = 200, description = "One result per item", body = BatchResult)))]
fn create_batch() {}

/// The record of events, newest first; test sends are not listed.
#[utoipa::path(get, path = "/v1/events", tag = EVENTS, security(("admin_token" = [])),
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "1 to 1,000 (100)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
        ("type" = Option<String>, Query, description = "Only events of this type"),
        ("organization_id" = Option<String>, Query,
            description = "Only events carrying this organization"),
    ),
    responses((status = 200, description = "A page of events", body = Page<Event>)))]
fn list_events() {}

/// One event as recorded (`404` until the router has recorded it, moments after its `202`).
#[utoipa::path(get, path = "/v1/events/{id}", tag = EVENTS, security(("admin_token" = [])),
    params(("id" = String, Path, description = "The event's id (`evt_…`)")),
    responses((status = 200, description = "The event", body = Event)))]
fn show_event() {}

/// Every delivery of one event, with their attempts.
#[utoipa::path(get, path = "/v1/events/{id}/deliveries", tag = EVENTS,
    security(("admin_token" = [])),
    params(("id" = String, Path, description = "The event's id (`evt_…`)")),
    responses((status = 200, description = "Its deliveries", body = List<Delivery>)))]
fn event_deliveries() {}

/// Makes a subscription; the answer carries its signing secret (and, for a pull
/// subscription, its broker access) this once.
#[utoipa::path(post, path = "/v1/subscriptions", tag = SUBSCRIPTIONS,
    security(("admin_token" = [])),
    request_body = NewSubscription,
    responses(
        (status = 201, description = "Made", body = Subscription),
        (status = 422, description = "`validation_failed`, or `private_target`: the URL \
            resolves to an address the fleet does not deliver to", body = Error),
    ))]
fn create_subscription() {}

/// Every subscription not deleted, newest first, without secrets.
#[utoipa::path(get, path = "/v1/subscriptions", tag = SUBSCRIPTIONS,
    security(("admin_token" = [])),
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "1 to 1,000 (100)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses((status = 200, description = "A page of subscriptions",
        body = Page<Subscription>)))]
fn list_subscriptions() {}

/// One subscription, with what waits for it (`backlog`, `parked`).
#[utoipa::path(get, path = "/v1/subscriptions/{id}", tag = SUBSCRIPTIONS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "The subscription", body = Subscription)))]
fn get_subscription() {}

/// Changes a subscription; a filter change rebinds its queue (new bindings first).
#[utoipa::path(patch, path = "/v1/subscriptions/{id}", tag = SUBSCRIPTIONS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    request_body = SubscriptionUpdate,
    responses(
        (status = 200, description = "Changed", body = Subscription),
        (status = 422, description = "`validation_failed`, or `private_target`", body = Error),
    ))]
fn update_subscription() {}

/// Deletes a subscription: unbound at once, its queue removed after the grace.
#[utoipa::path(delete, path = "/v1/subscriptions/{id}", tag = SUBSCRIPTIONS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    responses((status = 204, description = "Deleted")))]
fn delete_subscription() {}

/// Re-enables a disabled subscription; what queued meanwhile is delivered.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/enable", tag = SUBSCRIPTIONS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "Active", body = Subscription)))]
fn enable_subscription() {}

/// Disables a subscription by hand: workers stop at once, its queue keeps what arrives.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/disable", tag = SUBSCRIPTIONS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "Disabled", body = Subscription)))]
fn disable_subscription() {}

/// The secrets that sign now, the current one first.
#[utoipa::path(get, path = "/v1/subscriptions/{id}/secret", tag = SUBSCRIPTIONS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "Its secrets", body = Secrets)))]
fn get_secret() {}

/// A new secret at once; the replaced one keeps signing for `previous_valid_for`.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/secret/rotate", tag = SUBSCRIPTIONS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    request_body(content = Option<Rotate>, description = "May be empty"),
    responses((status = 200, description = "Rotated", body = Secrets)))]
fn rotate_secret() {}

/// New broker credentials for a pull subscription (`404` for a push one).
#[utoipa::path(post, path = "/v1/subscriptions/{id}/pull/rotate", tag = SUBSCRIPTIONS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    request_body(content = Option<Rotate>, description = "May be empty"),
    responses((status = 200, description = "Rotated", body = PullRotated)))]
fn rotate_pull() {}

/// Delivers a sample event to this subscription only, marked `is_test` in the log.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/test", tag = DELIVERIES,
    security(("admin_token" = [])), params(("id" = String, Path)),
    request_body = TestSend,
    responses((status = 202, description = "Queued", body = TestSent)))]
fn test_send() {}

/// Re-enqueues the `failed` or `exhausted` deliveries created in the window, once (at most
/// `limit`, oldest first; pass `next_cursor` back as `cursor` for the next step).
#[utoipa::path(post, path = "/v1/subscriptions/{id}/recover", tag = DELIVERIES,
    security(("admin_token" = [])), params(("id" = String, Path)),
    request_body = Recover,
    responses((status = 202, description = "Re-enqueued", body = Recovered)))]
fn recover() {}

/// A subscription's deliveries, newest first, with their attempts.
#[utoipa::path(get, path = "/v1/subscriptions/{id}/deliveries", tag = DELIVERIES,
    security(("admin_token" = [])),
    params(("id" = String, Path), LogParams),
    responses((status = 200, description = "A page of deliveries", body = Page<Delivery>)))]
fn subscription_deliveries() {}

/// The delivery log across subscriptions, newest first, with their attempts.
#[utoipa::path(get, path = "/v1/deliveries", tag = DELIVERIES, security(("admin_token" = [])),
    params(LogParams),
    responses((status = 200, description = "A page of deliveries", body = Page<Delivery>)))]
fn all_deliveries() {}

/// One delivery with every attempt and the first 1 KiB of each answer.
#[utoipa::path(get, path = "/v1/deliveries/{id}", tag = DELIVERIES,
    security(("admin_token" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "The delivery", body = Delivery)))]
fn get_delivery() {}

/// Sends a delivery again now, as a new attempt on the same `webhook-id`.
#[utoipa::path(post, path = "/v1/deliveries/{id}/retry", tag = DELIVERIES,
    security(("admin_token" = [])), params(("id" = String, Path)),
    responses((status = 202, description = "Queued", body = Retried)))]
fn retry_delivery() {}
