//! The event-lifecycle dialect (source document 001): the document's own examples run a whole
//! lifecycle and reach a subscriber; a repeated `op_id` answers as the first time and dispatches
//! nothing; every error answers in the document's envelope and changes nothing; a call the
//! broker did not confirm moves nothing and can be retried whole; the gateway token.
use hookfleet_testkit::{Options, Receiver, TestApp, spawn_app, spawn_app_with};
use serde_json::{Value, json};
use std::time::Duration;

pub const PASSWORD: &str = "YOUR_CHANNEL_PASSWORD";

/// A channel with `password`; returns its id.
pub async fn channel(app: &TestApp, password: &str) -> String {
    let res = app
        .post(
            "/v1/channels",
            &json!({"name": "deploys", "password": password}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    v["id"].as_str().unwrap().to_owned()
}

/// Posts `body` (any text) to `/event/{route}`; the status and the JSON answer.
pub async fn call_raw(
    app: &TestApp,
    route: &str,
    bearer: Option<&str>,
    body: &str,
) -> (u16, Value) {
    let mut req = app
        .http
        .post(app.url(&format!("/event/{route}")))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    assert_envelope(&v, status);
    (status, v)
}

pub async fn call(app: &TestApp, route: &str, body: &Value) -> (u16, Value) {
    call_raw(app, route, None, &body.to_string()).await
}

/// Every answer, success and error alike, is `{success, data: {channel_id, op_id, event_id,
/// accepted}, error, error_code}`.
fn assert_envelope(v: &Value, status: u16) {
    let ok = status == 200;
    assert_eq!(v["success"], ok, "{v}");
    assert_eq!(v["data"]["accepted"], ok, "{v}");
    for k in ["channel_id", "op_id", "event_id"] {
        assert!(v["data"].get(k).is_some(), "data.{k} missing: {v}");
    }
    assert_eq!(v["error"].is_null(), ok, "{v}");
    assert_eq!(v["error_code"].is_null(), ok, "{v}");
    assert_eq!(v.as_object().map(|o| o.len()), Some(4), "{v}");
}

/// The document's examples, with its placeholder channel id replaced.
fn example(text: &str, channel: &str, event_id: &str) -> Value {
    let text = text
        .replace("YOUR_CHANNEL_ID", channel)
        .replace("8a1fc4b3d9f04fd2857f92f66f7cc5d1", event_id);
    serde_json::from_str(&text).unwrap()
}

const CREATE: &str = r#"{ "channel_id": "YOUR_CHANNEL_ID", "password": "YOUR_CHANNEL_PASSWORD", "title": "Production deployment", "status": "running", "message": "Deployment started", "severity": "normal", "event_time": 1713750000000, "started_at": 1713750000000, "attrs": { "service": "api", "revision": "8f3c2a1" } }"#;
const UPDATE: &str = r#"{ "channel_id": "YOUR_CHANNEL_ID", "password": "YOUR_CHANNEL_PASSWORD", "event_id": "8a1fc4b3d9f04fd2857f92f66f7cc5d1", "status": "publishing", "message": "Image pushed, publishing release", "severity": "normal", "event_time": 1713750300000, "attrs": { "progress": 0.75 } }"#;
const CLOSE: &str = r#"{ "channel_id": "YOUR_CHANNEL_ID", "password": "YOUR_CHANNEL_PASSWORD", "event_id": "8a1fc4b3d9f04fd2857f92f66f7cc5d1", "status": "success", "message": "Production deployment completed", "severity": "normal", "event_time": 1713750600000, "ended_at": 1713750600000, "attrs": { "progress": 1 } }"#;
const THING: &str = r#"{ "channel_id": "YOUR_CHANNEL_ID", "password": "YOUR_CHANNEL_PASSWORD", "thing_id": "3b7fd2e87d7d4d6d9c7f3a318ac21f02", "title": "Database lag", "status": "open", "message": "Replica lag exceeded 30 seconds", "severity": "high", "event_time": 1713750000000, "started_at": 1713750000000}"#;

#[tokio::test]
async fn the_documents_examples_run_a_whole_lifecycle_to_a_subscriber() {
    let app = spawn_app().await;
    let chn = channel(&app, PASSWORD).await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["event.*"]}))
        .await;

    let (status, created) = call(&app, "create", &example(CREATE, &chn, "")).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["data"]["channel_id"], chn.as_str());
    let event_id = created["data"]["event_id"].as_str().unwrap().to_owned();
    assert!(event_id.len() == 32 && event_id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(
        !created["data"]["op_id"].as_str().unwrap().is_empty(),
        "op_id generated"
    );
    for (route, text) in [("update", UPDATE), ("close", CLOSE)] {
        let (status, v) = call(&app, route, &example(text, &chn, &event_id)).await;
        assert_eq!(status, 200, "{route}: {v}");
        assert_eq!(v["data"]["event_id"], event_id.as_str());
    }
    let (status, thing) = call(&app, "create", &example(THING, &chn, "")).await;
    assert_eq!(status, 200, "{thing}");

    let got: Vec<Value> = rx
        .wait_for(4, Duration::from_secs(10))
        .await
        .iter()
        .map(|r| r.json())
        .collect();
    let of = |t: &str| {
        got.iter()
            .filter(|b| b["type"] == t)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(of("event.created").len(), 2);
    let closed = &of("event.closed")[0];
    assert_eq!(closed["organization_id"], chn.as_str());
    assert_eq!(closed["data"]["event_id"], event_id.as_str());
    assert_eq!(closed["data"]["change"]["attrs"], json!({"progress": 1}));
    assert_eq!(closed["data"]["change"]["ended_at"], 1713750600000u64);
    assert!(
        closed["data"]["change"].get("password").is_none(),
        "no credential is delivered"
    );
    let after = &closed["data"]["state"];
    assert_eq!(after["status"], "success");
    assert_eq!(after["closed"], true);
    assert_eq!(after["title"], "Production deployment");
    assert_eq!(
        after["attrs"],
        json!({"service": "api", "revision": "8f3c2a1", "progress": 1})
    );
    assert_eq!(after["version"], 3);
    let updated = &of("event.updated")[0];
    assert_eq!(updated["data"]["state"]["attrs"]["progress"], 0.75);
    assert_eq!(updated["data"]["state"]["closed"], false);
    let thing_created = of("event.created")
        .into_iter()
        .find(|b| b["data"]["state"]["title"] == "Database lag")
        .unwrap();
    assert_eq!(
        thing_created["data"]["change"]["thing_id"],
        "3b7fd2e87d7d4d6d9c7f3a318ac21f02"
    );
    assert_eq!(thing_created["data"]["state"]["severity"], "high");

    let res = app
        .get(&format!("/v1/channels/{chn}/events/{event_id}"))
        .await;
    assert_eq!(res.status(), 200);
    let state: Value = res.json().await.unwrap();
    assert_eq!(&state["attrs"], &after["attrs"]);
    assert_eq!(state["closed"], true);
    assert_eq!(state["started_at"], 1713750000000u64);
    assert_eq!(state["ended_at"], 1713750600000u64);
    let res = app.get(&format!("/v1/channels/{chn}/events/0000")).await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn a_repeated_op_id_returns_the_first_answer_and_dispatches_nothing() {
    let app = spawn_app().await;
    let chn = channel(&app, PASSWORD).await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let mut create = example(CREATE, &chn, "");
    create["op_id"] = json!("op-20260422-001");
    let (_, first) = call(&app, "create", &create).await;
    let (status, again) = call(&app, "create", &create).await;
    assert_eq!(status, 200);
    assert_eq!(again, first);
    assert_eq!(first["data"]["op_id"], "op-20260422-001");
    let event_id = first["data"]["event_id"].as_str().unwrap().to_owned();
    let mut update = example(UPDATE, &chn, &event_id);
    update["op_id"] = json!("op-20260422-002");
    for _ in 0..3 {
        let (status, v) = call(&app, "update", &update).await;
        assert_eq!(
            (status, v["data"]["event_id"].as_str()),
            (200, Some(event_id.as_str()))
        );
    }
    // The same op_id on another channel is another call.
    let other = channel(&app, PASSWORD).await;
    let mut elsewhere = create.clone();
    elsewhere["channel_id"] = json!(other);
    let (status, v) = call(&app, "create", &elsewhere).await;
    assert_eq!(status, 200);
    assert_ne!(v["data"]["event_id"], event_id.as_str());

    rx.wait_for(3, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.count(), 3, "one delivery per distinct call");
    let state: Value = app
        .get(&format!("/v1/channels/{chn}/events/{event_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(state["version"], 2, "the update applied once");
}

#[tokio::test]
async fn errors_answer_in_the_envelope_and_change_nothing() {
    let app = spawn_app().await;
    let chn = channel(&app, PASSWORD).await;
    let (_, created) = call(&app, "create", &example(CREATE, &chn, "")).await;
    let event_id = created["data"]["event_id"].as_str().unwrap().to_owned();
    let (status, _) = call(&app, "close", &example(CLOSE, &chn, &event_id)).await;
    assert_eq!(status, 200);
    let events_before = app.count("lifecycle_ops").await;

    let mut wrong_password = example(UPDATE, &chn, &event_id);
    wrong_password["password"] = json!("not the password");
    let cases: Vec<(&str, &str, String, u16, &str)> = vec![
        (
            "unknown channel",
            "create",
            example(CREATE, "chn_00000000000000000000000000000000", "").to_string(),
            404,
            "channel_not_found",
        ),
        (
            "unknown event",
            "update",
            example(UPDATE, &chn, "ffffffffffffffffffffffffffffffff").to_string(),
            404,
            "event_not_found",
        ),
        (
            "wrong password",
            "update",
            wrong_password.to_string(),
            401,
            "invalid_password",
        ),
        (
            "update after close",
            "update",
            example(UPDATE, &chn, &event_id).to_string(),
            409,
            "event_closed",
        ),
        (
            "close after close",
            "close",
            example(CLOSE, &chn, &event_id).to_string(),
            409,
            "event_closed",
        ),
        (
            "not JSON",
            "create",
            "{\"channel_id\": ".into(),
            400,
            "invalid_json",
        ),
        ("an array", "create", "[1]".into(), 400, "invalid_json"),
        (
            "unknown field",
            "create",
            CREATE.replace("\"title\"", "\"colour\": \"red\", \"title\""),
            400,
            "unknown_field",
        ),
        (
            "a NUL",
            "create",
            CREATE.replace("Deployment started", "Deploy\\u0000"),
            400,
            "invalid_json",
        ),
        (
            "a lone surrogate",
            "create",
            CREATE.replace("Deployment started", "\\ud800"),
            400,
            "invalid_json",
        ),
    ];
    for (what, route, body, status, code) in &cases {
        let (got, v) = call_raw(&app, route, None, body).await;
        assert_eq!(
            (got, v["error_code"].as_str()),
            (*status, Some(*code)),
            "{what}: {v}"
        );
    }
    // Not declared JSON.
    let res = app
        .http
        .post(app.url("/event/create"))
        .body(CREATE)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // An unknown route under /event answers in the envelope too.
    let (got, v) = call_raw(&app, "delete", None, CREATE).await;
    assert_eq!((got, v["error_code"].as_str()), (404, Some("not_found")));
    // 413 over 32 KB, exactly: padded to the limit it is taken, one byte more it is not.
    let sized = |len: usize| {
        let mut v = example(CREATE, &chn, "");
        v["ciphertext"] = json!("");
        let pad = len - v.to_string().len();
        v["ciphertext"] = json!("x".repeat(pad));
        v.to_string()
    };
    let (got, v) = call_raw(&app, "create", None, &sized(32 * 1024)).await;
    assert_eq!(got, 200, "{v}");
    let (got, v) = call_raw(&app, "create", None, &sized(32 * 1024 + 1)).await;
    assert_eq!(
        (got, v["error_code"].as_str()),
        (413, Some("payload_too_large"))
    );

    assert_eq!(app.count("lifecycle_ops").await, events_before + 1);
    let state: Value = app
        .get(&format!("/v1/channels/{chn}/events/{event_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(state["version"], 2);
    // A deleted channel is gone at once, even with its password remembered.
    assert_eq!(
        app.delete(&format!("/v1/channels/{chn}")).await.status(),
        204
    );
    let (got, v) = call(&app, "create", &example(CREATE, &chn, "")).await;
    assert_eq!(
        (got, v["error_code"].as_str()),
        (404, Some("channel_not_found"))
    );
}

#[tokio::test]
async fn a_call_the_broker_did_not_confirm_moves_nothing_and_is_retried_whole() {
    let app = spawn_app().await;
    let chn = channel(&app, PASSWORD).await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let (_, created) = call(&app, "create", &example(CREATE, &chn, "")).await;
    let event_id = created["data"]["event_id"].as_str().unwrap().to_owned();
    rx.wait_for(1, Duration::from_secs(10)).await;

    // With the ingest queue gone the broker returns the message: nothing is confirmed.
    app.channel
        .queue_delete(app.topology.ingest().as_str().into(), Default::default())
        .await
        .unwrap();
    let mut update = example(UPDATE, &chn, &event_id);
    update["op_id"] = json!("op-retry");
    let (status, v) = call(&app, "update", &update).await;
    assert_eq!(
        (status, v["error_code"].as_str()),
        (503, Some("dispatch_failed")),
        "{v}"
    );
    assert_eq!(v["data"]["op_id"], "op-retry");
    let state: Value = app
        .get(&format!("/v1/channels/{chn}/events/{event_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (state["version"].as_u64(), state["status"].as_str()),
        (Some(1), Some("running"))
    );
    assert_eq!(
        app.count("lifecycle_ops").await,
        1,
        "the op_id is still free"
    );

    // The producer re-declares the topology when it reconnects; the retry then does it all.
    app.close_role_connections().await;
    let mut answered = None;
    for _ in 0..200 {
        let (status, v) = call(&app, "update", &update).await;
        if status == 200 {
            answered = Some(v);
            break;
        }
        assert_eq!(status, 503, "{v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answered.is_some(), "the retry was accepted within 10 s");
    let got = rx.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(got[1].json()["data"]["state"]["status"], "publishing");
    let state: Value = app
        .get(&format!("/v1/channels/{chn}/events/{event_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(state["version"], 2);
}

#[tokio::test]
async fn the_gateway_token_when_set_or_a_channel_key_is_required() {
    let app = spawn_app_with(Options {
        gateway_token: Some("gw-secret".into()),
        ..Options::default()
    })
    .await;
    let chn = channel(&app, PASSWORD).await;
    let key = |scope: String| {
        let app = &app;
        async move {
            let v: Value = app
                .post("/v1/api-keys", &json!({"name": "k", "scopes": [scope]}))
                .await
                .json()
                .await
                .unwrap();
            v["key"].as_str().unwrap().to_owned()
        }
    };
    let own = key(format!("channel:{chn}")).await;
    let other = key("channel:chn_00000000000000000000000000000000".into()).await;
    let body = example(CREATE, &chn, "").to_string();
    for (what, bearer, status) in [
        ("no token", None, 401),
        ("a wrong token", Some("gw-wrong"), 401),
        ("the gateway token", Some("gw-secret"), 200),
        ("a key scoped to the channel", Some(own.as_str()), 200),
        ("a key scoped to another channel", Some(other.as_str()), 403),
    ] {
        let (got, v) = call_raw(&app, "create", bearer, &body).await;
        assert_eq!(got, status, "{what}: {v}");
    }
}
