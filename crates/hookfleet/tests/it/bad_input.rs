//! Bad input gets its documented status and envelope, and changes nothing: no row in any
//! table, no message in the ingest queue. The router is not running, so anything published
//! would still be sitting in the queue for the check to see.
use hookfleet_testkit::{Options, TOKEN, TestApp, spawn_app_with};
use serde_json::{Value, json};

async fn app_without_router() -> TestApp {
    spawn_app_with(Options {
        run_router: false,
        run_delivery: false,
        allow_private_targets: false,
        ..Options::default()
    })
    .await
}

async fn send(app: &TestApp, path: &str, token: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let mut req = app
        .http
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// (what, token, body, expected status, expected error code)
type Case<'a, B> = (&'a str, Option<&'a str>, B, u16, &'a str);

async fn assert_nothing_written(app: &TestApp) {
    assert_eq!(app.count("events").await, 0);
    assert_eq!(app.count("subscriptions").await, 0);
    assert_eq!(app.count("deliveries").await, 0);
    assert_eq!(app.queue_depth(&app.topology.ingest()).await, Some(0));
}

#[tokio::test]
async fn bad_events_get_their_status_and_write_nothing() {
    let app = app_without_router().await;
    let cases: Vec<Case<Vec<u8>>> = vec![
        (
            "malformed JSON",
            Some(TOKEN),
            b"{\"type\": ".to_vec(),
            400,
            "invalid_json",
        ),
        (
            "unknown field",
            Some(TOKEN),
            br#"{"type":"a.b","data":{},"colour":"red"}"#.to_vec(),
            400,
            "invalid_json",
        ),
        (
            "missing type",
            Some(TOKEN),
            br#"{"data":{}}"#.to_vec(),
            400,
            "invalid_json",
        ),
        (
            "wildcard type",
            Some(TOKEN),
            br#"{"type":"user.*","data":{}}"#.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "data not an object",
            Some(TOKEN),
            br#"{"type":"a","data":"x"}"#.to_vec(),
            422,
            "validation_failed",
        ),
        (
            "over 256 KB",
            Some(TOKEN),
            format!(
                r#"{{"type":"a","data":{{"pad":"{}"}}}}"#,
                "x".repeat(256 * 1024)
            )
            .into_bytes(),
            413,
            "payload_too_large",
        ),
        (
            "missing token",
            None,
            br#"{"type":"a","data":{}}"#.to_vec(),
            401,
            "unauthorized",
        ),
        (
            "wrong token",
            Some("not-the-token"),
            br#"{"type":"a","data":{}}"#.to_vec(),
            401,
            "unauthorized",
        ),
    ];
    for (what, token, body, status, code) in cases {
        let (got, json) = send(&app, "/v1/events", token, body).await;
        assert_eq!(got, status, "{what}: {json}");
        assert_eq!(json["error"]["code"], code, "{what}: {json}");
        assert!(
            json["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}"
        );
    }
    assert_nothing_written(&app).await;

    // The checks above can fail: one good event lands in the queue.
    let (status, _) = send(
        &app,
        "/v1/events",
        Some(TOKEN),
        br#"{"type":"a","data":{}}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(app.queue_depth(&app.topology.ingest()).await, Some(1));
}

#[tokio::test]
async fn bad_subscriptions_get_their_status_and_write_nothing() {
    let app = app_without_router().await;
    let cases: Vec<Case<Value>> = vec![
        (
            "loopback URL",
            Some(TOKEN),
            json!({"url": "http://127.0.0.1:9/h", "event_types": ["a"]}),
            422,
            "private_target",
        ),
        (
            "localhost URL",
            Some(TOKEN),
            json!({"url": "http://localhost/h", "event_types": ["a"]}),
            422,
            "private_target",
        ),
        (
            "private URL",
            Some(TOKEN),
            json!({"url": "http://10.1.2.3/h", "event_types": ["a"]}),
            422,
            "private_target",
        ),
        (
            "link-local URL",
            Some(TOKEN),
            json!({"url": "http://169.254.169.254/latest", "event_types": ["a"]}),
            422,
            "private_target",
        ),
        (
            "IPv6 loopback URL",
            Some(TOKEN),
            json!({"url": "http://[::1]:8080/h", "event_types": ["a"]}),
            422,
            "private_target",
        ),
        (
            "not a URL",
            Some(TOKEN),
            json!({"url": "nope", "event_types": ["a"]}),
            422,
            "validation_failed",
        ),
        (
            "bad pattern",
            Some(TOKEN),
            json!({"url": "http://93.184.216.34/h", "event_types": ["a*"]}),
            422,
            "validation_failed",
        ),
        (
            "unknown field",
            Some(TOKEN),
            json!({"url": "http://93.184.216.34/h", "event_types": ["a"], "x": 1}),
            400,
            "invalid_json",
        ),
        (
            "missing token",
            None,
            json!({"url": "http://93.184.216.34/h", "event_types": ["a"]}),
            401,
            "unauthorized",
        ),
    ];
    for (what, token, body, status, code) in cases {
        let (got, json) = send(
            &app,
            "/v1/subscriptions",
            token,
            serde_json::to_vec(&body).unwrap(),
        )
        .await;
        assert_eq!(got, status, "{what}: {json}");
        assert_eq!(json["error"]["code"], code, "{what}: {json}");
    }
    // A value of the wrong type is named by its field, at any depth.
    for (body, field) in [
        (
            json!({"url": "http://93.184.216.34/h", "event_types": "order.*"}),
            "event_types: invalid type: string \"order.*\", expected a sequence",
        ),
        (
            json!({"url": "http://93.184.216.34/h", "event_types": ["a", 7]}),
            "event_types[1]: invalid type: integer `7`, expected a string",
        ),
    ] {
        let (got, json) = send(
            &app,
            "/v1/subscriptions",
            Some(TOKEN),
            body.to_string().into_bytes(),
        )
        .await;
        assert_eq!(got, 400, "{json}");
        let message = json["error"]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(field), "{message}");
    }
    assert_nothing_written(&app).await;
}

#[tokio::test]
async fn unknown_ids_and_routes_are_404_in_the_envelope() {
    let app = app_without_router().await;
    for path in [
        "/v1/subscriptions/sub_00000000000000000000000000000000",
        "/v1/subscriptions/nope",
        "/v1/events/evt_00000000000000000000000000000000/deliveries",
        "/v1/nothing",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        let json: Value = res.json().await.unwrap();
        assert_eq!(json["error"]["code"], "not_found", "{path}");
    }
}
