//! The API's OpenAPI 3.1 description, built with utoipa from the operations documented in
//! this module's files (one per part of the API, one function per handler) and the body
//! shapes in its `schemas*` files, completed with the error answers every route of a group
//! shares (`errors`) and the Bearer schemes. It is served at `/openapi.json` without a
//! credential, built once per process. Two checks keep it true to the code:
//! `tests/it/openapi.rs` fails when a route is served and not described (or described and not
//! served), and `scripts/check-openapi.sh` runs schemathesis against a running fleet in CI
//! (no 5xx, every answer's status, content type and body as described).
use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use std::sync::OnceLock;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

mod admin;
mod dialects;
mod errors;
mod links;
mod native;
mod schemas;
mod schemas_admin;
mod schemas_dialects;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hookfleet",
        description = "Webhook delivery on RabbitMQ and PostgreSQL: hookfleet's own API \
            (`/v1/…`) and the source documents' dialects (partner events, the event \
            lifecycle, webhooks, the identity-provider hook). README.md explains each route."
    ),
    paths(
        native::create_event, native::create_batch, native::list_events, native::show_event,
        native::event_deliveries,
        native::create_subscription, native::list_subscriptions, native::get_subscription,
        native::update_subscription, native::delete_subscription, native::enable_subscription,
        native::disable_subscription,
        native::get_secret, native::rotate_secret, native::rotate_pull,
        native::test_send, native::recover, native::subscription_deliveries,
        native::all_deliveries, native::get_delivery, native::retry_delivery,
        admin::create_key, admin::list_keys, admin::get_key, admin::revoke_key, admin::rotate_key,
        admin::create_installation, admin::list_installations, admin::get_installation,
        admin::delete_installation,
        admin::create_channel, admin::list_channels, admin::get_channel, admin::delete_channel,
        admin::get_event,
        dialects::partner_event,
        dialects::lifecycle_create, dialects::lifecycle_update, dialects::lifecycle_close,
        dialects::webhook_create, dialects::webhook_list, dialects::webhook_test,
        dialects::webhook_get, dialects::webhook_delete, dialects::webhook_log,
        dialects::webhook_enable, dialects::webhook_disable,
        dialects::keycloak_hook,
        dialects::healthz, dialects::readyz, dialects::openapi_json,
    ),
    components(schemas(schemas::Error, schemas_dialects::LifecycleAnswer)),
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

/// `GET /openapi.json`.
pub(crate) async fn serve() -> Response {
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
