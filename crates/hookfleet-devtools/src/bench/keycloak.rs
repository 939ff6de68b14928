//! The `keycloak` dialect of the bench: signed identity-provider hook calls, enriched from a
//! minimal stand-in of the provider's token endpoint and admin API served by the bench itself
//! on loopback (one user, in one organization).
use axum::{Json, Router, routing::get, routing::post};
use serde_json::json;

/// The hook's shared key in the bench.
pub(super) const KEY: &str = "bench-hook-key";
pub(super) const REALM: &str = "bench";

/// Starts the stand-in; returns the admin settings the router reads it with.
pub(super) async fn stand_in() -> anyhow::Result<hookfleet_router::KeycloakAdmin> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let app = Router::new()
        .route(
            "/realms/{realm}/protocol/openid-connect/token",
            post(|| async { Json(json!({"access_token": "bench-token", "expires_in": 3600})) }),
        )
        .route(
            "/admin/realms/{realm}/users/{id}",
            get(|| async {
                Json(json!({"id": "user-1", "username": "yamada", "email": "yamada@email.com",
                    "firstName": "Taro", "lastName": "Yamada", "enabled": true, "emailVerified": true,
                    "attributes": {"service_partition": ["pca.hub.tdi1"]}}))
            }),
        )
        .route(
            "/admin/realms/{realm}/organizations/members/{id}/organizations",
            get(|| async { Json(json!([{"id": "org-1"}])) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(hookfleet_router::KeycloakAdmin {
        base_url: url,
        realm: REALM.into(),
        client_id: "bench".into(),
        client_secret: "bench".into(),
    })
}

/// Hook call `i`, with `id` as its event id, signed.
pub(super) fn request(http: &reqwest::Client, api: &str, id: &str) -> reqwest::RequestBuilder {
    let body = json!({"id": id, "type": "access.UPDATE_PROFILE", "time": 1714000000000u64,
        "realmName": REALM, "authDetails": {"clientId": "web-app", "userId": "user-1"},
        "details": {"updated_first_name": "Taro"}})
    .to_string();
    let sig = hookfleet_core::render::innervoice_signature(KEY, body.as_bytes());
    http.post(format!("{api}/v1/hooks/keycloak"))
        .header("content-type", "application/json")
        .header("x-keycloak-signature", sig)
        .body(body)
}
