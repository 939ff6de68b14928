//! The management routes added since the native API (API keys, installations, channels,
//! webhooks and their test send, pull subscriptions' reader rotation) under arbitrary JSON:
//! answered 2xx or 4xx, never 5xx, and a row exists only for each 201.
use super::lifecycle_rules::any_value;
use hookfleet_testkit::spawn_api;
use proptest::{prelude::*, test_runner::TestRunner};
use serde_json::{Value, json};

const FIELDS: &[&str] = &[
    "name",
    "scopes",
    "id",
    "password",
    "previous_valid_for",
    "colour",
    "url",
    "events",
    "webhook_id",
    "event",
    "description",
];

#[test]
fn arbitrary_json_at_the_management_routes_is_refused_with_a_4xx_and_writes_nothing() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (app, key_id, pull_id) = rt.block_on(async {
        let app = spawn_api().await;
        let key: Value = app
            .post("/v1/api-keys", &json!({"name": "k", "scopes": ["admin"]}))
            .await
            .json()
            .await
            .unwrap();
        let pull: Value = app
            .post(
                "/v1/subscriptions",
                &json!({"event_types": ["#"], "delivery": "pull"}),
            )
            .await
            .json()
            .await
            .unwrap();
        let (k, p) = (key["id"].as_str(), pull["id"].as_str());
        (app, k.unwrap().to_owned(), p.unwrap().to_owned())
    });
    let rotate = format!("/v1/api-keys/{key_id}/rotate");
    let pull_rotate = format!("/v1/subscriptions/{pull_id}/pull/rotate");
    // The first four create a row on 201, in this order.
    let routes = [
        "/v1/api-keys",
        "/v1/installations",
        "/v1/channels",
        "/v1/webhooks",
        rotate.as_str(),
        "/v1/webhooks/test",
        pull_rotate.as_str(),
    ];
    let fields = prop::collection::vec((prop::sample::select(FIELDS), any_value()), 0..5).prop_map(
        |fields| {
            Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()).to_string()
        },
    );
    let body = prop_oneof![4 => fields, 1 => "\\PC{0,40}"];
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let created = std::sync::Mutex::new([0i64; 4]);
    let result = runner.run(&(0..routes.len(), body), |(r, b)| {
        let res = rt.block_on(app.post_raw(routes[r], b.clone()));
        let status = res.status().as_u16();
        prop_assert!(
            (200..500).contains(&status),
            "{status} at {} for {b}",
            routes[r]
        );
        if status == 201 && r < 4 {
            created.lock().unwrap()[r] += 1;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let [keys, installations, channels, webhooks] = created.into_inner().unwrap();
    rt.block_on(async {
        assert_eq!(app.count("api_keys").await, keys + 1);
        assert_eq!(app.count("installations").await, installations);
        assert_eq!(app.count("channels").await, channels);
        assert_eq!(app.count("subscriptions").await, webhooks + 1);
        assert_eq!(app.count("events").await, 0, "no test send went out");
        // Deleting the pull subscription removes every reader the rotations made.
        let res = app.delete(&format!("/v1/subscriptions/{pull_id}")).await;
        assert_eq!(res.status(), 204);
    });
    drop(app);
}
