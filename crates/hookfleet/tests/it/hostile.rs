//! Hostile input at the edge: whatever the intake accepts, every later stage can store, route,
//! deliver and read back; what it cannot, it refuses with a 4xx in the envelope and changes
//! nothing. Each test here reproduced a defect of the issue "One bad input must never stop the
//! fleet" on the code before its fix.
use hookfleet_testkit::{Options, Receiver, TOKEN, TestApp, spawn_app, spawn_app_with};
use serde_json::{Value, json};
use std::time::Duration;

pub(crate) fn deep(n: usize) -> String {
    format!("{}{}", "[".repeat(n), "]".repeat(n))
}

#[tokio::test]
async fn a_bad_byte_in_an_event_is_refused_and_never_stops_the_fleet() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "NUL in a value",
            r#"{"type":"a.b","data":{"k":"\u0000"}}"#.into(),
            422,
            "data",
        ),
        (
            "NUL in a key",
            r#"{"type":"a.b","data":{"\u0000":1}}"#.into(),
            422,
            "data",
        ),
        (
            "NUL in the idempotency key",
            r#"{"type":"a.b","data":{},"idempotency_key":"k\u0000"}"#.into(),
            422,
            "idempotency_key",
        ),
        (
            "lone surrogate",
            r#"{"type":"a.b","data":{"k":"\ud800"}}"#.into(),
            422,
            "data",
        ),
        (
            "huge number",
            r#"{"type":"a.b","data":{"k":1e999999}}"#.into(),
            422,
            "data",
        ),
        (
            "100,000 levels deep",
            format!(r#"{{"type":"a.b","data":{{"k":{}}}}}"#, deep(100_000)),
            422,
            "data",
        ),
        (
            "deeper than the limit",
            format!(r#"{{"type":"a.b","data":{{"k":{}}}}}"#, deep(200)),
            422,
            "data",
        ),
    ];
    for (what, body, status, field) in cases {
        let res = app.post_raw("/v1/events", body).await;
        assert_eq!(res.status(), status, "{what}");
        let json: Value = res.json().await.unwrap();
        let message = json["error"]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(field), "{what}: {json}");
    }
    assert_eq!(app.queue_depth(&app.topology.ingest()).await, Some(0));
    // The fleet goes on: a good event right after is recorded and delivered.
    let id = app
        .publish(json!({"type": "a.b", "data": {"k": "fine"}}))
        .await;
    rx.wait_for(1, Duration::from_secs(10)).await;
    app.wait_for_deliveries(&id, 1).await;
    assert_eq!(app.count("events").await, 1);
}

#[tokio::test]
async fn organizations_and_partitions_with_quotes_and_backslashes_round_trip() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let orgs = ["q\"uote", "back\\slash", "ünï cødé", "a.b/c%20"];
    let parts = ["p\"1", "pca.hub.tdi1"];
    app.subscribe(json!({"url": rx.url, "event_types": ["#"], "organizations": orgs}))
        .await;
    let id = app
        .publish(json!({"type": "a.b", "organization_ids": orgs, "service_partitions": parts, "data": {}}))
        .await;
    let got = rx.wait_for(8, Duration::from_secs(10)).await;
    let mut seen: Vec<(String, String)> = got
        .iter()
        .map(|r| {
            let b = r.json();
            (
                b["organization_id"].as_str().unwrap().to_owned(),
                b["service_partition"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    let mut want: Vec<(String, String)> = orgs
        .iter()
        .flat_map(|o| parts.iter().map(|p| (o.to_string(), p.to_string())))
        .collect();
    want.sort();
    assert_eq!(seen, want);
    let recorded = app.wait_for_deliveries(&id, 8).await;
    assert!(recorded.iter().all(|d| d["status"] == "delivered"));
    assert_eq!(app.count("poison_messages").await, 0);
}

#[tokio::test]
async fn retrying_a_delivery_of_deeply_nested_data_answers_and_delivers() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let id = app.publish(json!({"type": "a.b", "data": {}})).await;
    let delivery = app.wait_for_deliveries(&id, 1).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Data deeper than serde_json reads (128), as an older version could have stored it.
    let stored = format!(r#"{{"k":{}}}"#, deep(300));
    app.db
        .execute(
            "UPDATE events SET data = $1::text::jsonb WHERE id = $2",
            &[&stored, &id],
        )
        .await
        .unwrap();
    let res = app
        .post(&format!("/v1/deliveries/{delivery}/retry"), &json!({}))
        .await;
    assert_eq!(res.status(), 202, "{:?}", res.text().await);
    let got = rx.wait_for(2, Duration::from_secs(10)).await;
    let replayed = std::str::from_utf8(&got[1].body).unwrap();
    assert!(replayed.contains(&deep(300)), "{replayed}");
    assert!(
        serde_json::from_str::<Box<serde_json::value::RawValue>>(replayed).is_ok(),
        "the replay is JSON"
    );
}

/// (what, method, path, Authorization, Content-Type, body, expected status, expected code)
type RawCase<'a> = (
    &'a str,
    reqwest::Method,
    String,
    &'a str,
    &'a str,
    String,
    u16,
    &'a str,
);

async fn raw(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    auth: &str,
    content_type: &str,
    body: &str,
) -> (u16, Value) {
    let res = app
        .http
        .request(method, app.url(path))
        .header("authorization", auth)
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn hostile_api_input_gets_a_4xx_in_the_envelope_and_changes_nothing() {
    let app = spawn_app_with(Options {
        run_router: false,
        run_delivery: false,
        allow_private_targets: false,
        ..Options::default()
    })
    .await;
    let sub = app
        .subscribe(json!({"url": "http://93.184.216.34/h", "event_types": ["a"]}))
        .await;
    let sid = sub["id"].as_str().unwrap();
    let bearer = format!("Bearer {TOKEN}");
    let two_spaces = format!("Bearer  {TOKEN}");
    let json_ct = "application/json";
    use reqwest::Method as M;
    let cases: Vec<RawCase> = vec![
        (
            "NUL in a description",
            M::POST,
            "/v1/subscriptions".into(),
            &bearer,
            json_ct,
            r#"{"url":"http://93.184.216.34/h","event_types":["a"],"description":"a\u0000b"}"#
                .into(),
            422,
            "validation_failed",
        ),
        (
            "NUL in a description (PATCH)",
            M::PATCH,
            format!("/v1/subscriptions/{sid}"),
            &bearer,
            json_ct,
            r#"{"description":"a\u0000b"}"#.into(),
            422,
            "validation_failed",
        ),
        (
            "NUL in a test send's data",
            M::POST,
            format!("/v1/subscriptions/{sid}/test"),
            &bearer,
            json_ct,
            r#"{"event_type":"a","data":{"k":"\u0000"}}"#.into(),
            422,
            "validation_failed",
        ),
        (
            "a cursor outside PostgreSQL's time range",
            M::GET,
            format!(
                "/v1/subscriptions/{sid}/deliveries?cursor=-300000000000000000_dlv_00000000000000000000000000000000"
            ),
            &bearer,
            json_ct,
            String::new(),
            422,
            "validation_failed",
        ),
        (
            "an overflowing rung",
            M::PATCH,
            format!("/v1/subscriptions/{sid}"),
            &bearer,
            json_ct,
            r#"{"retry_ladder":["213503982334602d"]}"#.into(),
            422,
            "validation_failed",
        ),
        (
            "an overflowing grace",
            M::POST,
            format!("/v1/subscriptions/{sid}/secret/rotate"),
            &bearer,
            json_ct,
            r#"{"previous_valid_for":"213503982334602d"}"#.into(),
            422,
            "validation_failed",
        ),
        (
            "an event as an array",
            M::POST,
            "/v1/events".into(),
            &bearer,
            json_ct,
            r#"["probe.arr.evt",["org-1"],null,{"k":1},"k"]"#.into(),
            400,
            "invalid_json",
        ),
        (
            "PATCH []",
            M::PATCH,
            format!("/v1/subscriptions/{sid}"),
            &bearer,
            json_ct,
            "[]".into(),
            400,
            "invalid_json",
        ),
        (
            "two spaces after Bearer",
            M::POST,
            "/v1/events".into(),
            &two_spaces,
            json_ct,
            r#"{"type":"a","data":{}}"#.into(),
            401,
            "unauthorized",
        ),
        (
            "text/plain",
            M::POST,
            "/v1/events".into(),
            &bearer,
            "text/plain",
            r#"{"type":"a","data":{}}"#.into(),
            415,
            "unsupported_media_type",
        ),
        (
            "a form",
            M::POST,
            "/v1/events".into(),
            &bearer,
            "application/x-www-form-urlencoded",
            "type=a".into(),
            415,
            "unsupported_media_type",
        ),
        (
            "a method the route does not take",
            M::PUT,
            "/v1/events".into(),
            &bearer,
            json_ct,
            "{}".into(),
            405,
            "method_not_allowed",
        ),
        (
            "a URI over 8 KiB",
            M::GET,
            format!("/v1/subscriptions?cursor={}", "a".repeat(9_000)),
            &bearer,
            json_ct,
            String::new(),
            414,
            "uri_too_long",
        ),
        (
            "a path that is not text",
            M::GET,
            "/v1/subscriptions/%ff%fe".into(),
            &bearer,
            json_ct,
            String::new(),
            400,
            "invalid_path",
        ),
        (
            "a URL with a password",
            M::POST,
            "/v1/subscriptions".into(),
            &bearer,
            json_ct,
            r#"{"url":"http://user:secret@93.184.216.34/h","event_types":["a"]}"#.into(),
            422,
            "validation_failed",
        ),
    ];
    for (what, method, path, auth, ct, body, status, code) in cases {
        let (got, json) = raw(&app, method, &path, auth, ct, &body).await;
        assert_eq!(got, status, "{what}: {json}");
        assert_eq!(json["error"]["code"], code, "{what}: {json}");
    }
    let mut urls: Vec<String> = [
        "http://[::127.0.0.1]/h",
        "http://[64:ff9b::127.0.0.1]/h",
        "http://[2002:7f00:1::]/h",
        "http://[fec0::1]/h",
        "http://198.18.0.1/h",
        "http://240.0.0.1/h",
    ]
    .map(str::to_owned)
    .to_vec();
    // The host's own outward address, where it has one (connecting UDP sends nothing).
    if let Ok(s) = std::net::UdpSocket::bind("0.0.0.0:0")
        && s.connect("203.0.113.1:9").is_ok()
        && let Ok(own) = s.local_addr()
    {
        urls.push(format!("http://{}/h", own.ip()));
    }
    for url in &urls {
        let (got, json) = raw(
            &app,
            M::POST,
            "/v1/subscriptions",
            &bearer,
            json_ct,
            &json!({"url": url, "event_types": ["a"]}).to_string(),
        )
        .await;
        assert_eq!(got, 422, "{url}: {json}");
        assert_eq!(json["error"]["code"], "private_target", "{url}: {json}");
        // The refusal names the setting a developer testing against a local receiver needs.
        let message = json["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("HOOKFLEET_ALLOW_PRIVATE_TARGETS=true"),
            "{url}: {message}"
        );
    }
    // Nothing above changed anything: one subscription, as created, and nothing queued.
    assert_eq!(app.count("subscriptions").await, 1);
    assert_eq!(app.count("events").await, 0);
    let now: Value = app
        .get(&format!("/v1/subscriptions/{sid}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["description"], Value::Null);
    assert_eq!(now["retry_ladder"], Value::Null);
    assert_eq!(app.queue_depth(&app.topology.ingest()).await, Some(0));
}
