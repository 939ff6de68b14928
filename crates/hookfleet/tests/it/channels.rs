//! Channels of the event-lifecycle dialect, managed with the native API: the password is 8 to
//! 128 characters, stored only as an argon2id hash, and never shown back.
use hookfleet_testkit::spawn_api;
use serde_json::{Value, json};

#[tokio::test]
async fn a_channel_keeps_only_an_argon2id_hash_of_its_password() {
    let app = spawn_api().await;
    let password = "YOUR_CHANNEL_PASSWORD";
    let res = app
        .post(
            "/v1/channels",
            &json!({"name": "deploys", "password": password}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let ch: Value = res.json().await.unwrap();
    let id = ch["id"].as_str().unwrap();
    assert!(id.starts_with("chn_"), "{ch}");
    for path in ["/v1/channels".to_owned(), format!("/v1/channels/{id}")] {
        let text = app.get(&path).await.text().await.unwrap();
        assert!(
            text.contains(id) && !text.contains(password) && !text.contains("argon"),
            "{text}"
        );
    }
    let hash: String = app
        .db
        .query_one("SELECT password_hash FROM channels WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get(0);
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(hookfleet_core::channel::verify_password(password, &hash));
    assert_eq!(
        app.delete(&format!("/v1/channels/{id}")).await.status(),
        204
    );
    assert_eq!(app.get(&format!("/v1/channels/{id}")).await.status(), 404);
    assert_eq!(
        app.delete(&format!("/v1/channels/{id}")).await.status(),
        404
    );
}

#[tokio::test]
async fn a_password_just_inside_its_limits_is_taken_and_just_outside_refused() {
    let app = spawn_api().await;
    for (password, status) in [
        ("x".repeat(7), 422),
        ("x".repeat(8), 201),
        ("x".repeat(128), 201),
        ("x".repeat(129), 422),
    ] {
        let res = app
            .post("/v1/channels", &json!({"name": "c", "password": password}))
            .await;
        assert_eq!(res.status(), status, "{} characters", password.len());
    }
    for (body, status) in [
        (json!({"name": " ", "password": "12345678"}), 422),
        (json!({"name": "c"}), 400),
        (json!({"name": "c", "password": "12345678", "x": 1}), 400),
    ] {
        assert_eq!(
            app.post("/v1/channels", &body).await.status(),
            status,
            "{body}"
        );
    }
    assert_eq!(app.count("channels").await, 2);
}
