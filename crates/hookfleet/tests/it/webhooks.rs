//! The webhook dialect and the InnerVoice profile (source document 002): the document's
//! registration goes through; its receiver's own sample code (run in Node.js, as written:
//! `JSON.stringify(req.body)`, HMAC-SHA256, `timingSafeEqual`) verifies every delivery; a key
//! sees and receives only its organizations' webhooks; the test send, the ladder and the log;
//! a 410 is retried like any failure, and the owner disables and enables its webhook.
use hookfleet_testkit::{Receiver, Reply, TestApp, spawn_app};
use serde_json::{Value, json};
use std::{process::Stdio, time::Duration};
use tokio::io::AsyncWriteExt;

/// The document's `verifySignature`, as written (its TypeScript types dropped), fed one
/// `{payload: <parsed body>, signature, secret}` per line; prints `true` or `false` per line.
/// The payload is the body as Express's `express.json()` parsed it.
const VERIFY_JS: &str = r#"
const crypto = require('crypto');
function verifySignature(payload, signature, secret) {
  const expectedSignature = crypto
    .createHmac('sha256', secret)
    .update(payload)
    .digest('hex');
  return crypto.timingSafeEqual(
    Buffer.from(signature),
    Buffer.from(expectedSignature)
  );
}
let input = '';
process.stdin.on('data', (c) => (input += c));
process.stdin.on('end', () => {
  for (const line of input.split('\n').filter((l) => l.length > 0)) {
    const { body, signature, secret } = JSON.parse(line);
    const req = { body: JSON.parse(body) };
    const payload = JSON.stringify(req.body);
    let ok;
    try { ok = verifySignature(payload, signature, secret); } catch (e) { ok = false; }
    console.log(ok ? 'true' : 'false');
  }
});
"#;

/// Runs each `(raw body, signature, secret)` through the document's receiver code.
async fn node_verifies(cases: &[(String, String, String)]) -> Vec<bool> {
    let mut child = tokio::process::Command::new("node")
        .args(["-e", VERIFY_JS])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs (scripts/services.sh installs it)");
    let mut input = String::new();
    for (body, signature, secret) in cases {
        input
            .push_str(&json!({"body": body, "signature": signature, "secret": secret}).to_string());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l == "true")
        .collect()
}

async fn key(app: &TestApp, scopes: Value) -> String {
    let v: Value = app
        .post("/v1/api-keys", &json!({"name": "k", "scopes": scopes}))
        .await
        .json()
        .await
        .unwrap();
    v["key"].as_str().unwrap().to_owned()
}

async fn with_key(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app.http.request(method, app.url(path)).bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    hookfleet_core::render::innervoice_signature(secret, body)
}

#[tokio::test]
async fn the_documents_webhook_receives_signed_bodies_its_own_sample_code_verifies() {
    let app = spawn_app().await;
    let acme = key(&app, json!(["organization:acme"])).await;
    let rx = Receiver::start().await;
    // The document's registration, to our receiver.
    let (status, wh) = with_key(
        &app,
        reqwest::Method::POST,
        "/v1/webhooks",
        &acme,
        Some(json!({
            "url": rx.url, "events": ["action.executed", "minutes_back.added"]
        })),
    )
    .await;
    assert_eq!(status, 201, "{wh}");
    let id = wh["id"].as_str().unwrap();
    assert!(id.starts_with("wh_"), "{id}");
    let secret = wh["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        wh["events"],
        json!(["action.executed", "minutes_back.added"])
    );
    assert!(wh["created_at"].is_string());

    let data = json!({"execution_id": "exec_abc", "plan_id": "pl_xyz", "action": "calendar.create",
                      "status": "ok", "id": "evt_123", "latency_ms": 342, "ratio": 1.0, "big": 1e21,
                      "10": "integer-like key", "note": "ünïcode \u{1} and \"quotes\""});
    for (t, org) in [
        ("action.executed", "acme"),
        ("minutes_back.added", "acme"),
        ("action.executed", "other"),
        ("execution.failed", "acme"),
    ] {
        app.publish(json!({"type": t, "organization_ids": [org], "data": data}))
            .await;
    }
    let got = rx.wait_for(2, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.count(), 2, "only its events of its organization");
    let mut cases = Vec::new();
    for r in &got {
        let body = String::from_utf8(r.body.to_vec()).unwrap();
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["data", "event", "timestamp"]
        );
        assert!(body.starts_with(r#"{"event":""#), "{body}");
        assert_eq!(v["data"]["execution_id"], "exec_abc");
        assert!(
            time::OffsetDateTime::parse(
                v["timestamp"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339
            )
            .is_ok()
        );
        let sig = r.header("x-innervoice-signature").to_owned();
        assert_eq!(sig, hmac_hex(&secret, &r.body), "HMAC of the raw body");
        cases.push((body.clone(), sig.clone(), secret.clone()));
        // A wrong secret or a changed body must not verify.
        cases.push((
            body.replace("exec_abc", "exec_abd"),
            sig.clone(),
            secret.clone(),
        ));
        cases.push((body, sig, "whsec_wrong".to_owned()));
    }
    assert_eq!(
        node_verifies(&cases).await,
        [true, false, false, true, false, false]
    );

    // The document's test send: its sample payload, to this webhook only.
    let (status, sent) = with_key(
        &app,
        reqwest::Method::POST,
        "/v1/webhooks/test",
        &acme,
        Some(json!({"webhook_id": id, "event": "action.executed"})),
    )
    .await;
    assert_eq!(status, 202, "{sent}");
    let got = rx.wait_for(3, Duration::from_secs(10)).await;
    let test = got.last().unwrap();
    assert_eq!(test.json()["data"]["latency_ms"], 342);
    let body = String::from_utf8(test.body.to_vec()).unwrap();
    let sig = test.header("x-innervoice-signature").to_owned();
    assert_eq!(node_verifies(&[(body, sig, secret)]).await, [true]);
}

#[tokio::test]
async fn a_key_sees_and_manages_only_its_organizations_webhooks() {
    let app = spawn_app().await;
    let acme = key(&app, json!(["organization:acme"])).await;
    let other = key(&app, json!(["organization:other"])).await;
    let partner = key(&app, json!(["installation:i1"])).await;
    let admin = key(&app, json!(["admin"])).await;
    let body = json!({"url": "http://127.0.0.1:9/h", "events": ["action.executed"]});
    let (_, wh) = with_key(
        &app,
        reqwest::Method::POST,
        "/v1/webhooks",
        &acme,
        Some(body.clone()),
    )
    .await;
    let id = wh["id"].as_str().unwrap().to_owned();
    let one = format!("/v1/webhooks/{id}");
    use reqwest::Method as M;
    for (who, k, list_len, get) in [
        ("its owner", &acme, 1, 200),
        ("another organization", &other, 0, 404),
        ("admin", &admin, 1, 200),
    ] {
        let (status, list) = with_key(&app, M::GET, "/v1/webhooks", k, None).await;
        assert_eq!(
            (status, list["data"].as_array().map(Vec::len)),
            (200, Some(list_len)),
            "{who}"
        );
        assert_eq!(with_key(&app, M::GET, &one, k, None).await.0, get, "{who}");
    }
    let test = json!({"webhook_id": id, "event": "action.executed"});
    assert_eq!(
        with_key(&app, M::POST, "/v1/webhooks/test", &other, Some(test))
            .await
            .0,
        404
    );
    assert_eq!(with_key(&app, M::DELETE, &one, &other, None).await.0, 404);
    assert_eq!(
        with_key(&app, M::GET, "/v1/webhooks", &partner, None)
            .await
            .0,
        403
    );
    assert_eq!(
        with_key(&app, M::GET, "/v1/webhooks", "hfk_unknown", None)
            .await
            .0,
        401
    );
    // A webhook is a subscription with the profile and the document's ladder.
    let sub_id = id.replacen("wh_", "sub_", 1);
    let sub: Value = app
        .get(&format!("/v1/subscriptions/{sub_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sub["profile"], "innervoice");
    assert_eq!(
        sub["retry_ladder"],
        json!(["5000ms", "30000ms", "300000ms", "1800000ms"])
    );
    assert_eq!(sub["organizations"], json!(["acme"]));
    let (status, bad) = with_key(
        &app,
        M::POST,
        "/v1/webhooks",
        &acme,
        Some(json!({"url": "http://127.0.0.1:9/h", "events": []})),
    )
    .await;
    assert_eq!(status, 422, "{bad}");
    assert_eq!(with_key(&app, M::DELETE, &one, &acme, None).await.0, 204);
    assert_eq!(with_key(&app, M::GET, &one, &acme, None).await.0, 404);
}

#[tokio::test]
async fn the_log_shows_each_attempt_with_its_time_status_response_time_and_retry_count() {
    let app = spawn_app().await;
    let admin = key(&app, json!(["admin"])).await;
    let rx = Receiver::start().await;
    rx.script([Reply::Status(500)]);
    let (_, wh) = with_key(
        &app,
        reqwest::Method::POST,
        "/v1/webhooks",
        &admin,
        Some(json!({"url": rx.url, "events": ["execution.completed"]})),
    )
    .await;
    let id = wh["id"].as_str().unwrap().to_owned();
    // The document's ladder waits 5 s; the test shortens it through the native API.
    let sub_id = id.replacen("wh_", "sub_", 1);
    let res = app
        .patch(
            &format!("/v1/subscriptions/{sub_id}"),
            &json!({"retry_ladder": ["100ms"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.wait_reconciled().await;
    let event = app
        .publish(json!({"type": "execution.completed", "data": {"execution_id": "exec_abc"}}))
        .await;
    app.wait_status(&event, "delivered").await;
    let (status, log) = with_key(
        &app,
        reqwest::Method::GET,
        &format!("/v1/webhooks/{id}/deliveries"),
        &admin,
        None,
    )
    .await;
    assert_eq!(status, 200, "{log}");
    let attempts = log["data"][0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{log}");
    let by_retry = |n: u64| attempts.iter().find(|a| a["retry_count"] == n).unwrap();
    assert_eq!(by_retry(0)["status_code"], 500);
    assert_eq!(by_retry(1)["status_code"], 200);
    for a in attempts {
        assert!(
            a["sent_at"].is_string() && a["response_time_ms"].is_u64(),
            "{a}"
        );
    }
}

/// Document 002: 2xx is success and anything else a failure that is retried. So a webhook
/// whose receiver answers 410 Gone is retried on its ladder like a 500, and stays active (the
/// other profiles keep Standard Webhooks' disabling at once: `health.rs`). Its owner disables
/// and enables it through `/v1/webhooks/{id}/disable|enable`; another organization's key is
/// answered 404 and changes nothing, a key of no organization 403.
#[tokio::test]
async fn gone_is_retried_on_the_ladder_and_the_owner_disables_and_enables_its_webhook() {
    use reqwest::Method as M;
    let app = spawn_app().await;
    let acme = key(&app, json!(["organization:acme"])).await;
    let other = key(&app, json!(["organization:other"])).await;
    let partner = key(&app, json!(["installation:i1"])).await;
    let rx = Receiver::start().await;
    rx.script([Reply::Status(410)]);
    let (_, wh) = with_key(
        &app,
        M::POST,
        "/v1/webhooks",
        &acme,
        Some(json!({"url": rx.url, "events": ["action.executed"]})),
    )
    .await;
    let id = wh["id"].as_str().unwrap().to_owned();
    let sub_id = id.replacen("wh_", "sub_", 1);
    // The document's first rung is 5 s; shortened through the native API. A worker that has
    // not heard of it yet retries after 5 s instead: slower, the same outcome.
    let res = app
        .patch(
            &format!("/v1/subscriptions/{sub_id}"),
            &json!({"retry_ladder": ["100ms"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let publish = |n: u32| {
        app.publish(
            json!({"type": "action.executed", "organization_ids": ["acme"],
                           "data": {"n": n}}),
        )
    };
    let first = publish(1).await;
    let d = app.wait_status(&first, "delivered").await;
    let codes: Vec<&Value> = d["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status_code"])
        .collect();
    assert_eq!(codes, [&json!(410), &json!(200)], "{d}");
    let one = format!("/v1/webhooks/{id}");
    let (_, view) = with_key(&app, M::GET, &one, &acme, None).await;
    assert_eq!(
        (&view["state"], &view["disabled_reason"]),
        (&json!("active"), &Value::Null)
    );

    // Only its owner (or an admin) may disable or enable it.
    for action in ["disable", "enable"] {
        let path = format!("{one}/{action}");
        assert_eq!(with_key(&app, M::POST, &path, &other, None).await.0, 404);
        assert_eq!(with_key(&app, M::POST, &path, &partner, None).await.0, 403);
        let missing = "/v1/webhooks/wh_00000000000000000000000000000000/".to_owned() + action;
        assert_eq!(with_key(&app, M::POST, &missing, &acme, None).await.0, 404);
    }
    assert_eq!(
        with_key(&app, M::GET, &one, &acme, None).await.1["state"],
        "active"
    );

    let (status, view) = with_key(&app, M::POST, &format!("{one}/disable"), &acme, None).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["state"], "disabled");
    assert_eq!(view["disabled_reason"], "disabled through the API");
    app.wait_delivering(&sub_id, false).await;
    // (On the shared tier, the copies of a disabled subscription move to a queue of its own.)
    let queue = app.topology.subscription_queue(&sub_id);
    let second = publish(2).await;
    app.wait_until(
        Duration::from_secs(10),
        "the event waits in its queue",
        || async { app.queue_depth(&queue).await == Some(1) },
    )
    .await;
    assert_eq!(rx.count(), 2, "a disabled webhook is sent nothing");
    let (status, again) = with_key(&app, M::POST, &format!("{one}/disable"), &acme, None).await;
    assert_eq!(
        (status, &again["state"]),
        (200, &json!("disabled")),
        "answered as it is"
    );
    assert_eq!(
        with_key(&app, M::POST, &format!("{one}/enable"), &other, None)
            .await
            .0,
        404
    );
    assert_eq!(
        with_key(&app, M::GET, &one, &acme, None).await.1["state"],
        "disabled"
    );

    let (status, view) = with_key(&app, M::POST, &format!("{one}/enable"), &acme, None).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        (&view["state"], &view["disabled_reason"]),
        (&json!("active"), &Value::Null)
    );
    assert_eq!(
        app.wait_status(&second, "delivered").await["attempt_count"],
        1
    );
    assert_eq!(rx.count(), 3);
}

/// Whatever data an event carries, the InnerVoice body survives JavaScript's parse and
/// re-serialization byte for byte: that is what makes the document's verifier accept it.
#[test]
fn bodies_round_trip_through_javascript_byte_for_byte() {
    use proptest::{prelude::*, strategy::ValueTree, test_runner::TestRunner};
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        (-30i32..30, 1u32..10_000).prop_map(|(e, m)| json!(m as f64 * 10f64.powi(e))),
        "\\PC{0,12}|[\\x00-\\x1f\"\\\\/\u{2028}\u{7f}]{0,4}".prop_map(Value::from),
    ];
    let key = "[0-9]{1,11}|[a-z]{1,4}|0[0-9]{1,3}|4294967295|4294967294";
    let value = leaf.prop_recursive(4, 40, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
            prop::collection::btree_map(key, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    let mut runner = TestRunner::deterministic();
    let lines: Vec<String> = (0..400)
        .map(|_| {
            let v = value.new_tree(&mut runner).unwrap().current();
            hookfleet_core::render::js_json::to_string(&v)
        })
        .collect();
    let script = "let s='';process.stdin.on('data',c=>s+=c);process.stdin.on('end',()=>{\
        for (const l of s.split('\\n').filter(l=>l.length)) console.log(JSON.stringify(JSON.stringify(JSON.parse(JSON.parse(l)))));});";
    let mut child = std::process::Command::new("node")
        .args(["-e", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs (scripts/services.sh installs it)");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        for l in &lines {
            // Each line as a JSON string, so a U+2028 in the data cannot split it.
            writeln!(stdin, "{}", serde_json::to_string(l).unwrap()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let back: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(back.len(), lines.len());
    for (ours, js) in lines.iter().zip(&back) {
        assert_eq!(ours, js);
    }
}
