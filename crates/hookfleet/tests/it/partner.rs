//! The partner dialect (source document 000): the document's own examples go through and reach
//! a subscriber; every error code it lists, with the envelope; a retry with the same
//! `Idempotency-Key` delivers once; and arbitrary JSON is only ever refused with a 4xx.
use hookfleet_testkit::{Receiver, TestApp, spawn_app};
use proptest::{prelude::*, test_runner::TestRunner};
use serde_json::{Value, json};
use std::time::Duration;

const INSTALLATION: &str = "iconfig_abc123";

/// An app with the document's installation, and a key scoped to it.
async fn app_with_installation() -> (TestApp, String) {
    let app = spawn_app().await;
    let res = app
        .post(
            "/v1/installations",
            &json!({"id": INSTALLATION, "name": "acme"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let key: Value = app
        .post(
            "/v1/api-keys",
            &json!({"name": "partner", "scopes": [format!("installation:{INSTALLATION}")]}),
        )
        .await
        .json()
        .await
        .unwrap();
    (app, key["key"].as_str().unwrap().to_owned())
}

async fn post_event(
    app: &TestApp,
    installation: &str,
    key: Option<&str>,
    body: &str,
    idempotency_key: Option<&str>,
) -> (u16, String) {
    let mut req = app
        .http
        .post(app.url(&format!("/v1/installations/{installation}/events")))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some(k) = idempotency_key {
        req = req.header("idempotency-key", k);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn the_documents_examples_are_accepted_and_delivered() {
    let (app, key) = app_with_installation().await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["installation.*", "resource.*"]}))
        .await;
    let examples = [
        r#"{"event": {"type": "installation.updated", "billingPlanId": "plan_pro_monthly"}}"#,
        r#"{"event": {"type": "resource.updated", "resourceId": "resource_xyz789", "productId": "product_database"}}"#,
    ];
    for body in examples {
        let (status, text) = post_event(&app, INSTALLATION, Some(&key), body, None).await;
        assert_eq!((status, text.as_str()), (201, ""), "{body}");
    }
    let mut got: Vec<Value> = rx
        .wait_for(2, Duration::from_secs(10))
        .await
        .iter()
        .map(|r| r.json())
        .collect();
    got.sort_by_key(|b| b["type"].as_str().unwrap_or_default().to_owned());
    assert_eq!(got[0]["type"], "installation.updated");
    assert_eq!(got[0]["organization_id"], INSTALLATION);
    assert_eq!(got[0]["data"], json!({"billingPlanId": "plan_pro_monthly"}));
    assert_eq!(got[1]["type"], "resource.updated");
    assert_eq!(
        got[1]["data"],
        json!({"resourceId": "resource_xyz789", "productId": "product_database"})
    );
}

#[tokio::test]
async fn every_error_code_of_the_document_comes_with_its_envelope_and_writes_nothing() {
    let (app, key) = app_with_installation().await;
    let other: Value = app
        .post(
            "/v1/api-keys",
            &json!({"name": "other", "scopes": ["installation:someone-else"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let other = other["key"].as_str().unwrap().to_owned();
    let ok = r#"{"event": {"type": "installation.updated"}}"#;
    let big = format!(
        r#"{{"event": {{"type": "installation.updated", "billingPlanId": "{}"}}}}"#,
        "x".repeat(70_000)
    );
    let cases: Vec<(&str, &str, Option<&str>, String, u16)> = vec![
        (
            "not JSON",
            INSTALLATION,
            Some(&key),
            "{\"event\": ".into(),
            400,
        ),
        (
            "unknown type",
            INSTALLATION,
            Some(&key),
            r#"{"event": {"type": "resource.deleted"}}"#.into(),
            400,
        ),
        (
            "resourceId missing",
            INSTALLATION,
            Some(&key),
            r#"{"event": {"type": "resource.updated"}}"#.into(),
            400,
        ),
        (
            "resourceId not a string",
            INSTALLATION,
            Some(&key),
            r#"{"event": {"type": "resource.updated", "resourceId": 7}}"#.into(),
            400,
        ),
        (
            "unknown field",
            INSTALLATION,
            Some(&key),
            r#"{"event": {"type": "installation.updated", "colour": "red"}}"#.into(),
            400,
        ),
        ("no event", INSTALLATION, Some(&key), "{}".into(), 400),
        (
            "a NUL in a field",
            INSTALLATION,
            Some(&key),
            r#"{"event": {"type": "resource.updated", "resourceId": "a\u0000"}}"#.into(),
            400,
        ),
        ("no key", INSTALLATION, None, ok.into(), 401),
        (
            "unknown key",
            INSTALLATION,
            Some("hfk_unknown"),
            ok.into(),
            401,
        ),
        (
            "another installation's key",
            INSTALLATION,
            Some(&other),
            ok.into(),
            403,
        ),
        (
            "an installation outside the key's scope",
            "nobody",
            Some(&key),
            ok.into(),
            403,
        ),
        ("over 64 KiB", INSTALLATION, Some(&key), big, 413),
    ];
    for (what, installation, k, body, status) in &cases {
        let (got, text) = post_event(&app, installation, *k, body, None).await;
        assert_eq!(got, *status, "{what}: {text}");
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert!(v["error"]["code"].is_string(), "{what}: {text}");
    }
    // 404: an installation that does not exist, for a key that could post for it.
    let admin: Value = app
        .post(
            "/v1/api-keys",
            &json!({"name": "admin", "scopes": ["admin"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let (got, text) = post_event(&app, "iconfig_missing", admin["key"].as_str(), ok, None).await;
    assert_eq!(got, 404, "{text}");
    assert_eq!(app.count("events").await, 0);
    assert_eq!(app.queue_depth(&app.topology.ingest()).await, Some(0));
}

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_delivers_once() {
    let (app, key) = app_with_installation().await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let body = r#"{"event": {"type": "resource.updated", "resourceId": "r1"}}"#;
    for _ in 0..3 {
        let (status, _) = post_event(&app, INSTALLATION, Some(&key), body, Some("rename-r1")).await;
        assert_eq!(status, 201);
    }
    rx.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.count(), 1);
    assert_eq!(app.count("events").await, 1);
}

#[test]
fn arbitrary_json_is_refused_with_a_4xx_and_writes_nothing() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // The whole fleet runs: anything accepted would be recorded as an event.
    let (app, key) = rt.block_on(app_with_installation());
    let json = prop::collection::vec(any::<(String, i32)>(), 0..4).prop_map(|fields| {
        let mut m = serde_json::Map::new();
        for (k, v) in fields {
            m.insert(k, json!(v));
        }
        Value::Object(m)
    });
    let body = prop_oneof![
        json.clone().prop_map(|v| json!({"event": v}).to_string()),
        json.prop_map(|v| v.to_string()),
        "\\PC{0,40}",
        Just(r#"{"event": {"type": "installation.updated", "billingPlanId": 1e999}}"#.to_owned()),
        Just(r#"{"event": {"type": "resource.updated", "resourceId": "\ud800"}}"#.to_owned()),
    ];
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(&body, |b| {
        let (status, text) = rt.block_on(post_event(&app, INSTALLATION, Some(&key), &b, None));
        prop_assert!((400..500).contains(&status), "{status} {text} for {b}");
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    rt.block_on(async {
        assert_eq!(app.count("events").await, 0);
    });
    drop(app);
}
