//! API keys: shown once and stored only as a hash; scoped; two generations valid during a
//! rotation's grace and not after; a revoked key stops at once on the producer that revoked it
//! and within the reload interval when revoked elsewhere.
use hookfleet_testkit::{TestApp, spawn_api};
use serde_json::{Value, json};
use std::time::Duration;

async fn status_with(app: &TestApp, key: &str, path: &str) -> u16 {
    app.http
        .get(app.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn create(app: &TestApp, scopes: Value) -> Value {
    let res = app
        .post("/v1/api-keys", &json!({"name": "ci key", "scopes": scopes}))
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_key_is_shown_once_stored_as_a_hash_and_scoped() {
    let app = spawn_api().await;
    let admin = create(&app, json!(["admin"])).await;
    let key = admin["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("hfk_") && key.len() >= 47, "{key}");
    let id = admin["id"].as_str().unwrap();
    // Never shown again, by any read.
    for path in ["/v1/api-keys".to_owned(), format!("/v1/api-keys/{id}")] {
        let text = app.get(&path).await.text().await.unwrap();
        assert!(!text.contains(&key) && !text.contains("hash"), "{text}");
        assert!(text.contains(id));
    }
    // The record holds a SHA-256 of it, not the key.
    let hashes: Vec<String> = app
        .db
        .query_one("SELECT hashes FROM api_keys WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(hashes, vec![hookfleet_core::api_key::hash(&key)]);
    assert_eq!(status_with(&app, &key, "/v1/subscriptions").await, 200);
    // A key for one installation may not manage the fleet.
    let partner = create(&app, json!(["installation:icfg_abc123"])).await;
    let partner_key = partner["key"].as_str().unwrap();
    assert_eq!(
        status_with(&app, partner_key, "/v1/subscriptions").await,
        403
    );
    assert_eq!(
        status_with(&app, "hfk_not-a-key", "/v1/subscriptions").await,
        401
    );
}

#[tokio::test]
async fn bad_key_requests_are_refused_and_change_nothing() {
    let app = spawn_api().await;
    for (body, status) in [
        (json!({"name": "k", "scopes": []}), 422),
        (json!({"name": "k", "scopes": ["root"]}), 422),
        (json!({"name": "k", "scopes": ["installation:"]}), 422),
        (json!({"name": "", "scopes": ["admin"]}), 422),
        (json!({"name": "a\u{0}b", "scopes": ["admin"]}), 422),
        (json!({"name": "k", "scopes": ["admin"], "extra": 1}), 400),
        (json!({"name": "k"}), 400),
    ] {
        let res = app.post("/v1/api-keys", &body).await;
        assert_eq!(res.status(), status, "{body}");
    }
    assert_eq!(app.count("api_keys").await, 0);
    for path in [
        "/v1/api-keys/key_00000000000000000000000000000000",
        "/v1/api-keys/nope",
    ] {
        assert_eq!(app.get(path).await.status(), 404);
    }
}

#[tokio::test]
async fn a_revoked_key_stops_at_once_here_and_within_the_reload_interval_elsewhere() {
    let app = spawn_api().await;
    let a = create(&app, json!(["admin"])).await;
    let key_a = a["key"].as_str().unwrap().to_owned();
    assert_eq!(status_with(&app, &key_a, "/v1/api-keys").await, 200);
    let res = app
        .delete(&format!("/v1/api-keys/{}", a["id"].as_str().unwrap()))
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        status_with(&app, &key_a, "/v1/api-keys").await,
        401,
        "at once"
    );

    // Revoked by another producer (here: straight in the record): stops within the interval.
    let b = create(&app, json!(["admin"])).await;
    let key_b = b["key"].as_str().unwrap().to_owned();
    app.db
        .execute(
            "UPDATE api_keys SET revoked_at = now() WHERE id = $1",
            &[&b["id"].as_str().unwrap()],
        )
        .await
        .unwrap();
    app.wait_until(
        Duration::from_secs(3),
        "the revocation reaches the ring",
        || async { status_with(&app, &key_b, "/v1/api-keys").await == 401 },
    )
    .await;
}

#[tokio::test]
async fn a_rotated_key_works_beside_the_new_one_until_its_grace_ends() {
    let app = spawn_api().await;
    let a = create(&app, json!(["admin"])).await;
    let (id, old) = (a["id"].as_str().unwrap(), a["key"].as_str().unwrap());
    let res = app
        .post(
            &format!("/v1/api-keys/{id}/rotate"),
            &json!({"previous_valid_for": "1500ms"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let rotated: Value = res.json().await.unwrap();
    let new = rotated["key"].as_str().unwrap();
    assert_ne!(new, old);
    assert!(rotated["previous_valid_until"].is_string(), "{rotated}");
    assert_eq!(
        status_with(&app, old, "/v1/api-keys").await,
        200,
        "during the grace"
    );
    assert_eq!(status_with(&app, new, "/v1/api-keys").await, 200);
    tokio::time::sleep(Duration::from_millis(1_700)).await;
    assert_eq!(
        status_with(&app, old, "/v1/api-keys").await,
        401,
        "after the grace"
    );
    assert_eq!(status_with(&app, new, "/v1/api-keys").await, 200);
    let res = app
        .post(
            &format!("/v1/api-keys/{id}/rotate"),
            &json!({"previous_valid_for": "8d"}),
        )
        .await;
    assert_eq!(res.status(), 422, "at most 7d");
}
