//! Promise 4 against hostile input: whatever the intake accepts, every later stage can store,
//! route, deliver and read back; whatever a stage cannot process is parked with its reason and
//! never holds up anyone else's events. Each test here reproduced a defect on the code before
//! the fix (the issue "One bad input must never stop the fleet").
use hookfleet_bus::HEADER_REASON;
use hookfleet_core::EventId;
use hookfleet_testkit::{Options, Receiver, Reply, TOKEN, TestApp, spawn_app, spawn_app_with};
use lapin::{
    options::{BasicAckOptions, BasicGetOptions},
    types::AMQPValue,
};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn deep(n: usize) -> String {
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

/// What an ingest message looks like when a producer (of this or an older version, or anyone
/// with access to the broker) put it there: the router must cope with whatever it holds.
fn ingest_message(data: &str) -> Vec<u8> {
    format!(
        r#"{{"id":"{}","type":"poison.test","timestamp":"2026-11-23T12:00:00.000Z","organization_ids":[],"service_partitions":[],"idempotency_key":null,"data":{data}}}"#,
        EventId::random()
    )
    .into_bytes()
}

#[tokio::test]
async fn unstorable_ingest_messages_are_parked_with_their_reason_and_the_rest_flow() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let poison = [
        r#"{"k":"\u0000"}"#.to_owned(),
        r#"{"k":"\ud800"}"#.to_owned(),
        r#"{"k":1e999999}"#.to_owned(),
        format!(r#"{{"k":{}}}"#, deep(100_000)),
    ];
    // Good and bad interleaved and sent together, so they share router batches.
    let mut bodies = Vec::new();
    for i in 0..40 {
        bodies.push(ingest_message(&format!(r#"{{"n":{i}}}"#)));
        if i % 10 == 5 {
            bodies.push(ingest_message(&poison[i / 10]));
        }
    }
    for body in &bodies {
        app.put_raw(&app.topology.ingest(), body).await;
    }
    rx.wait_for(40, Duration::from_secs(20)).await;
    let dead = app.topology.dead();
    app.wait_until(Duration::from_secs(10), "4 parked", || async {
        app.queue_depth(&dead).await == Some(4)
    })
    .await;
    assert_eq!(app.count("events").await, 40);
    assert_eq!(app.queue_depth(&app.topology.ingest()).await, Some(0));
    let reasons: Vec<String> = app
        .db
        .query("SELECT reason FROM poison_messages ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(
        reasons.iter().all(|r| r.starts_with("unstorable: ")),
        "{reasons:?}"
    );
    // Each parked message carries its reason.
    for _ in 0..4 {
        let msg = app
            .channel
            .basic_get(dead.as_str().into(), BasicGetOptions::default())
            .await
            .unwrap()
            .expect("a parked message");
        let reason = msg
            .properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get(HEADER_REASON).cloned());
        assert!(
            matches!(&reason, Some(AMQPValue::LongString(s)) if s.to_string().starts_with("unstorable")),
            "{reason:?}"
        );
        msg.acker.ack(BasicAckOptions::default()).await.unwrap();
    }
    assert_eq!(rx.count(), 40, "nothing parked was delivered");
}

#[tokio::test]
async fn a_receiver_answering_a_nul_byte_is_recorded_and_other_subscriptions_keep_recording() {
    let app = spawn_app().await;
    let (bad, good) = (Receiver::start().await, Receiver::start().await);
    bad.reply(Reply::Body(200, b"ab\0cd"));
    let hostile = app
        .subscribe(json!({"url": bad.url, "event_types": ["#"]}))
        .await;
    app.subscribe(json!({"url": good.url, "event_types": ["#"]}))
        .await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(app.publish(json!({"type": "a.b", "data": {"i": i}})).await);
    }
    for id in &ids {
        let deliveries = app.wait_for_deliveries(id, 2).await;
        assert!(
            deliveries.iter().all(|d| d["status"] == "delivered"),
            "{deliveries:?}"
        );
    }
    // The receiver's bytes were stored, made storable.
    let delivery = app.deliveries(&ids[0]).await;
    let mine = delivery
        .iter()
        .find(|d| d["subscription_id"] == hostile["id"])
        .unwrap();
    let one: Value = app
        .get(&format!("/v1/deliveries/{}", mine["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        one["attempts"][0]["response_excerpt"], "ab\u{FFFD}cd",
        "{one}"
    );
    assert_eq!(good.count(), 20);
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

async fn app_with_short_timeouts() -> TestApp {
    spawn_app_with(Options {
        run_router: false,
        run_delivery: false,
        timeouts: hookfleet_producer::serve::Timeouts {
            header_read: Duration::from_millis(500),
            body_read: Duration::from_millis(500),
        },
        ..Options::default()
    })
    .await
}

async fn connect(app: &TestApp) -> tokio::net::TcpStream {
    let addr = app.api.trim_start_matches("http://");
    tokio::net::TcpStream::connect(addr).await.unwrap()
}

/// Reads until the server closes the connection; returns what it said.
async fn read_to_close(stream: &mut tokio::net::TcpStream, within: Duration) -> String {
    let mut buf = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut buf))
        .await
        .expect("the server closed the connection in time")
        .ok();
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn half_sent_requests_are_closed_and_an_oversized_declaration_is_refused_at_once() {
    let app = app_with_short_timeouts().await;
    // Request heads that never finish, with and without a token.
    let mut streams = Vec::new();
    for i in 0..50 {
        let mut s = connect(&app).await;
        let head = if i % 2 == 0 {
            "POST /v1/events HTTP/1.1\r\nHost: x\r\n".to_owned()
        } else {
            format!("POST /v1/events HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\n")
        };
        s.write_all(head.as_bytes()).await.unwrap();
        streams.push(s);
    }
    for s in &mut streams {
        read_to_close(s, Duration::from_secs(5)).await;
    }
    // A head that arrived, and a body that never does: 408 in the envelope.
    let mut s = connect(&app).await;
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"type\""
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut s, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    // A declared length over the limit: 413 before a byte of the body is sent.
    let mut s = connect(&app).await;
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
        .await
        .expect("an answer without the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
    assert_eq!(app.queue_depth(&app.topology.ingest()).await, Some(0));
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

#[tokio::test]
async fn an_outcome_the_record_refuses_is_parked_and_every_other_outcome_is_recorded() {
    let app = spawn_app().await;
    let (one, other) = (Receiver::start().await, Receiver::start().await);
    let sub = app
        .subscribe(json!({"url": one.url, "event_types": ["#"]}))
        .await;
    app.subscribe(json!({"url": other.url, "event_types": ["#"]}))
        .await;
    // A copy as only a broken or hostile publisher could write it: it decodes and is sent,
    // but its organization (NUL) cannot be stored with the attempt's outcome.
    let copy = format!(
        r#"{{"id":"{}","type":"a.b","timestamp":"2026-11-23T12:00:00.000Z","organization_id":"o\u0000","service_partition":null,"data":{{}}}}"#,
        EventId::random()
    );
    let queue = app.topology.subscription_queue(sub["id"].as_str().unwrap());
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(app.publish(json!({"type": "a.b", "data": {"i": i}})).await);
        if i == 4 {
            app.put_raw(&queue, copy.as_bytes()).await;
        }
    }
    for id in &ids {
        let recorded = app.wait_for_deliveries(id, 2).await;
        assert!(
            recorded.iter().all(|d| d["status"] == "delivered"),
            "{recorded:?}"
        );
    }
    let dead = app.topology.dead();
    app.wait_until(
        Duration::from_secs(10),
        "the refused copy is parked",
        || async { app.queue_depth(&dead).await == Some(1) },
    )
    .await;
    let reason: String = app
        .db
        .query_one("SELECT reason FROM poison_messages", &[])
        .await
        .unwrap()
        .get(0);
    assert!(reason.starts_with("unstorable outcome: "), "{reason}");
    assert_eq!(other.count(), 10);
    assert_eq!(app.count("deliveries").await, 20);
}

#[tokio::test]
async fn subscription_churn_never_resets_a_workers_connection() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let churned = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["steady.#"]}))
        .await;
    let mut ids = Vec::new();
    for round in 0..10 {
        // Twenty at once, each deleted as soon as it exists, with copies on their way to them:
        // deletes race the workers' consume, cancel and ack on the same queues.
        let churn = (0..20).map(|i| {
            let (app, url) = (&app, churned.url.clone());
            async move {
                if i % 2 == 0 {
                    tokio::time::sleep(Duration::from_millis(i * 3)).await;
                }
                let s = app
                    .subscribe(json!({"url": url, "event_types": ["#"]}))
                    .await;
                let id = s["id"].as_str().unwrap().to_owned();
                if i % 3 == 0 {
                    tokio::time::sleep(Duration::from_millis(20 + i * 5)).await;
                }
                let res = app.delete(&format!("/v1/subscriptions/{id}")).await;
                assert_eq!(res.status(), 204);
            }
        });
        let ticks = async {
            let mut mine = Vec::new();
            for n in 0..5 {
                mine.push(
                    app.publish(json!({"type": "steady.tick", "data": {"round": round, "n": n}}))
                        .await,
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            mine
        };
        let (_, mine) = tokio::join!(futures_util::future::join_all(churn), ticks);
        ids.extend(mine);
    }
    rx.wait_for(50, Duration::from_secs(20)).await;
    for id in &ids {
        app.wait_for_deliveries(id, 1).await;
    }
    let (_, delivery) = app
        .links
        .iter()
        .find(|(role, _)| *role == "delivery")
        .unwrap();
    assert_eq!(delivery.sessions(), 1, "the delivery role reconnected");
    // The deleted subscriptions' queues go once their grace has passed.
    let deleted: Vec<String> = app
        .db
        .query("SELECT id FROM subscriptions WHERE state = 'deleted'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(deleted.len(), 200);
    app.wait_until(Duration::from_secs(20), "every deleted queue removed", || async {
        let left: i64 = app
            .db
            .query_one(
                "SELECT count(*) FROM subscriptions WHERE state = 'deleted' AND queue_deleted_at IS NULL",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        left == 0
    })
    .await;
    for id in deleted.iter().step_by(20) {
        let queue = app.topology.subscription_queue(id);
        assert_eq!(app.queue_depth(&queue).await, None, "{queue} is gone");
    }
    assert_eq!(
        delivery.sessions(),
        1,
        "removing the queues reset nothing either"
    );
}
