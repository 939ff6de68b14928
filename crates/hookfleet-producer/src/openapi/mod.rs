//! The API's OpenAPI 3.1 description, built with utoipa from the handlers themselves: each
//! carries its `#[utoipa::path]`, and the bodies it reads and answers are the very types it
//! (de)serializes (`ToSchema`, the core's and the store's behind their `openapi` feature). This
//! module lists the handlers and completes what a route cannot say alone: the error answers
//! every route of a group shares (`errors`), the links between operations (`links`) and the
//! Bearer schemes. It is served at `/openapi.json` without a credential, built once per
//! process. Checks keep it true to the code: `tests/it/openapi.rs` fails when a route is served
//! and not described (or described and not served), or when a handler's body types and its
//! description differ (`drift`); `scripts/check-openapi.sh` runs schemathesis against a
//! running fleet in CI (no 5xx, every answer's status, content type and body as described).
use crate::{
    error::ErrorAnswer,
    lifecycle,
    native::{
        api_keys, changes, channels, deliveries, events, installations, pull, replays, secrets,
        subscriptions,
    },
    probes::{self, PROBES},
    webhooks::{self, log},
};
use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use std::sync::OnceLock;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

mod drift;
mod errors;
mod links;

pub use drift::drift;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hookfleet",
        description = "Webhook delivery on RabbitMQ and PostgreSQL: hookfleet's own API \
            (`/v1/…`) and the source documents' dialects (partner events, the event \
            lifecycle, webhooks, the identity-provider hook). README.md explains each route."
    ),
    paths(
        events::create_event, events::create_batch, events::list_events, events::show_event,
        events::event_deliveries,
        subscriptions::create_subscription, subscriptions::list_subscriptions,
        subscriptions::get_subscription, changes::update_subscription,
        subscriptions::delete_subscription, changes::enable_subscription,
        changes::disable_subscription,
        secrets::get_secret, secrets::rotate_secret, pull::rotate_pull,
        replays::test_send, replays::recover, deliveries::subscription_deliveries,
        deliveries::all_deliveries, deliveries::get_delivery, replays::retry_delivery,
        api_keys::create_key, api_keys::list_keys, api_keys::get_key, api_keys::revoke_key,
        api_keys::rotate_key,
        installations::create_installation, installations::list_installations,
        installations::get_installation, installations::delete_installation,
        channels::create_channel, channels::list_channels, channels::get_channel,
        channels::delete_channel, channels::get_event,
        crate::partner::partner_event,
        lifecycle::lifecycle_create, lifecycle::lifecycle_update, lifecycle::lifecycle_close,
        webhooks::webhook_create, webhooks::webhook_list, log::webhook_test,
        webhooks::webhook_get, webhooks::webhook_delete, log::webhook_log,
        webhooks::webhook_enable, webhooks::webhook_disable,
        crate::keycloak::keycloak_hook,
        probes::healthz, probes::readyz, openapi_json,
    ),
    // The envelopes `errors` refers to by name.
    components(schemas(ErrorAnswer, lifecycle::Body)),
    modifiers(&Completions)
)]
struct ApiDoc;

/// Adds what the derive cannot say route by route: the Bearer schemes, the shared errors and
/// the links between operations.
struct Completions;

impl Modify for Completions {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme(
            "admin_token",
            bearer("`HOOKFLEET_ADMIN_TOKEN`, or an API key with the `admin` scope"),
        );
        components.add_security_scheme(
            "api_key",
            bearer("An API key scoped to what the route serves (or `admin`, or the admin token)"),
        );
        components.add_security_scheme(
            "gateway_token",
            bearer(
                "Only when `HOOKFLEET_GATEWAY_TOKEN` is set: that token, or an API key scoped \
                 to the channel; the channel's password in the body is the credential",
            ),
        );
        errors::add_error_answers(api);
        links::add_links(api);
    }
}

/// The description as JSON (for tests and tools).
pub fn document() -> Result<serde_json::Value, serde_json::Error> {
    let mut spec = serde_json::to_value(ApiDoc::openapi())?;
    links::fix_link_names(&mut spec);
    Ok(spec)
}

/// This description (OpenAPI 3.1).
#[utoipa::path(get, path = "/openapi.json", tag = PROBES, security(()),
    responses((status = 200, description = "The OpenAPI description", body = serde_json::Value)))]
pub(crate) async fn openapi_json() -> Response {
    static SPEC: OnceLock<Result<String, String>> = OnceLock::new();
    let spec = SPEC.get_or_init(|| {
        document()
            .and_then(|v| serde_json::to_string(&v))
            .map_err(|e| e.to_string())
    });
    match spec {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json.clone()).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "Failed to write the OpenAPI description");
            crate::error::ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the description could not be written",
            )
            .into_response()
        }
    }
}
