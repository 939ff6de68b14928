//! The OpenAPI operations of `/v1/api-keys`, `/v1/installations` and `/v1/channels` (see
//! `native` for why these functions stand for the handlers).
#![allow(dead_code)] // The functions are anchors for `utoipa::path`, never called.

use super::schemas::List;
use super::schemas::{Error, Rotate};
use super::schemas_admin::{
    ApiKey, Channel, Installation, LifecycleEvent, NewApiKey, NewChannel, NewInstallation,
};

const KEYS: &str = "api-keys";
const INSTALLATIONS: &str = "installations";
const CHANNELS: &str = "channels";

/// Makes an API key; the answer shows the key this once.
#[utoipa::path(post, path = "/v1/api-keys", tag = KEYS, security(("admin_token" = [])),
    request_body = NewApiKey,
    responses((status = 201, description = "Made", body = ApiKey)))]
fn create_key() {}

/// Every API key (revoked ones too), without the keys.
#[utoipa::path(get, path = "/v1/api-keys", tag = KEYS, security(("admin_token" = [])),
    responses((status = 200, description = "The keys", body = List<ApiKey>)))]
fn list_keys() {}

#[utoipa::path(get, path = "/v1/api-keys/{id}", tag = KEYS, security(("admin_token" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The key, without the key", body = ApiKey)))]
fn get_key() {}

/// Revokes a key: every producer refuses it within `HOOKFLEET_KEY_RELOAD_INTERVAL`.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = KEYS, security(("admin_token" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "Revoked")))]
fn revoke_key() {}

/// A new key at once; the replaced one keeps working for `previous_valid_for`.
#[utoipa::path(post, path = "/v1/api-keys/{id}/rotate", tag = KEYS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    request_body(content = Option<Rotate>, description = "May be empty"),
    responses((status = 200, description = "Rotated; shows the new key", body = ApiKey)))]
fn rotate_key() {}

/// Registers a partner installation (document 000).
#[utoipa::path(post, path = "/v1/installations", tag = INSTALLATIONS,
    security(("admin_token" = [])), request_body = NewInstallation,
    responses(
        (status = 201, description = "Made", body = Installation),
        (status = 409, description = "`conflict`: that id exists already", body = Error),
    ))]
fn create_installation() {}

#[utoipa::path(get, path = "/v1/installations", tag = INSTALLATIONS,
    security(("admin_token" = [])),
    responses((status = 200, description = "Every installation", body = List<Installation>)))]
fn list_installations() {}

#[utoipa::path(get, path = "/v1/installations/{id}", tag = INSTALLATIONS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "The installation", body = Installation)))]
fn get_installation() {}

#[utoipa::path(delete, path = "/v1/installations/{id}", tag = INSTALLATIONS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    responses((status = 204, description = "Deleted")))]
fn delete_installation() {}

/// Makes a lifecycle channel (document 001) with its password (kept as an argon2id hash).
#[utoipa::path(post, path = "/v1/channels", tag = CHANNELS, security(("admin_token" = [])),
    request_body = NewChannel,
    responses((status = 201, description = "Made", body = Channel)))]
fn create_channel() {}

#[utoipa::path(get, path = "/v1/channels", tag = CHANNELS, security(("admin_token" = [])),
    responses((status = 200, description = "Every live channel", body = List<Channel>)))]
fn list_channels() {}

#[utoipa::path(get, path = "/v1/channels/{id}", tag = CHANNELS, security(("admin_token" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The channel", body = Channel)))]
fn get_channel() {}

#[utoipa::path(delete, path = "/v1/channels/{id}", tag = CHANNELS,
    security(("admin_token" = [])), params(("id" = String, Path)),
    responses((status = 204, description = "Deleted")))]
fn delete_channel() {}

/// A lifecycle event's state, as its last accepted call left it.
#[utoipa::path(get, path = "/v1/channels/{id}/events/{event_id}", tag = CHANNELS,
    security(("admin_token" = [])),
    params(("id" = String, Path), ("event_id" = String, Path)),
    responses((status = 200, description = "The event's state", body = LifecycleEvent)))]
fn get_event() {}
