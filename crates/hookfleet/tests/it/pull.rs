//! Pull subscriptions (source document 003: a subscriber "polls its queue itself"), proven with
//! a stock client hookfleet did not write (Python's pika): the credentials it was given read
//! its rendered copies, with the profile's headers as message headers, and nothing else; they
//! can neither read another subscription's queue nor publish into the fleet; deleting the
//! subscription removes them.
use hookfleet_testkit::{TestApp, spawn_app};
use serde_json::{Value, json};
use std::time::Duration;

/// Reads `want` messages from its queue and acks them, then tries what it must not do; prints
/// one JSON object with what happened.
const CLIENT: &str = r#"
import json, sys, pika
url, queue, other_queue, exchange, want = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
out = {"messages": []}
conn = pika.BlockingConnection(pika.URLParameters(url))
ch = conn.channel()
for _ in range(200):
    method, props, body = ch.basic_get(queue)
    if method is None:
        if len(out["messages"]) >= want:
            break
        conn.sleep(0.05)
        continue
    headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in (props.headers or {}).items()}
    out["messages"].append({"body": body.decode(), "headers": headers, "message_id": props.message_id})
    ch.basic_ack(method.delivery_tag)
def attempt(name, f):
    c = conn.channel()
    try:
        f(c)
        out[name] = "allowed"
    except pika.exceptions.ChannelClosedByBroker as e:
        out[name] = "refused %d" % e.reply_code
for name, f in [
    ("read_other", lambda c: c.basic_get(other_queue)),
    ("publish_fleet", lambda c: (c.confirm_delivery(), c.basic_publish(exchange, "x", b"{}"))),
    ("publish_own", lambda c: (c.confirm_delivery(), c.basic_publish("", queue, b"{}"))),
    ("declare", lambda c: c.queue_declare("hookfleet-pull-test-not-allowed")),
]:
    attempt(name, f)
conn.close()
print(json.dumps(out))
"#;

fn run_client(args: &[&str]) -> Result<Value, String> {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(CLIENT)
        .args(args)
        .output()
        .expect("python3 runs (scripts/services.sh installs pika)");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&out.stdout).expect("the client prints JSON"))
}

async fn pull_subscription(app: &TestApp, types: Value) -> Value {
    let res = app
        .post(
            "/v1/subscriptions",
            &json!({"event_types": types, "delivery": "pull", "profile": "pca"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_stock_client_reads_its_copies_and_nothing_else() {
    let app = spawn_app().await;
    let mine = pull_subscription(&app, json!(["user.*"])).await;
    let other = pull_subscription(&app, json!(["#"])).await;
    assert_eq!(mine["delivery"], "pull");
    assert!(mine["url"].is_null());
    let access = &mine["pull"];
    let (url, queue) = (
        access["amqp_url"].as_str().unwrap(),
        access["queue"].as_str().unwrap(),
    );
    assert!(url.contains(access["username"].as_str().unwrap()), "{url}");
    let secret = mine["secret"].as_str().unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            app.publish(json!({"type": "user.created", "organization_ids": ["o1"], "service_partitions": ["pca.hub.tdi1"],
                               "data": {"account_id": format!("a{i}")}}))
                .await,
        );
    }
    app.publish(json!({"type": "organization.created", "data": {}}))
        .await;
    for id in &ids {
        app.wait_status(id, "delivered").await;
    }
    let other_queue = other["pull"]["queue"].as_str().unwrap();
    let (events, url2) = (app.topology.events(), url.to_owned());
    let (q, oq) = (queue.to_owned(), other_queue.to_owned());
    let got = tokio::task::spawn_blocking(move || run_client(&[&url2, &q, &oq, &events, "3"]))
        .await
        .unwrap()
        .expect("the client connects with the credentials it was given");
    let messages = got["messages"].as_array().unwrap();
    assert_eq!(
        messages.len(),
        3,
        "its three copies, not the organization event: {got}"
    );
    for m in messages {
        let body: Value = serde_json::from_str(m["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["organization_id"], "o1");
        let h = &m["headers"];
        assert_eq!(h["x-pca-event-type"], "user.created");
        assert_eq!(h["x-pca-event-apikey"], secret);
        assert_eq!(h["x-pca-service-partition"], "pca.hub.tdi1");
        assert!(m["message_id"].as_str().unwrap().starts_with("dlv_"));
    }
    for what in ["read_other", "publish_fleet", "publish_own", "declare"] {
        assert_eq!(got[what], "refused 403", "{what}: {got}");
    }
    // The log records each put as a delivered attempt.
    let log: Value = app
        .get(&format!("/v1/events/{}/deliveries", ids[0]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(log["data"][0]["status"], "delivered");

    // Deleting the subscription removes its user: the credentials stop working.
    for sub in [&mine, &other] {
        let res = app
            .delete(&format!(
                "/v1/subscriptions/{}",
                sub["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(res.status(), 204);
    }
    let (url3, q, oq, events) = (
        url.to_owned(),
        queue.to_owned(),
        other_queue.to_owned(),
        app.topology.events(),
    );
    let after = tokio::task::spawn_blocking(move || run_client(&[&url3, &q, &oq, &events, "0"]))
        .await
        .unwrap();
    let err = after.expect_err("a deleted subscription's user cannot connect");
    assert!(
        err.contains("Authentication") || err.contains("ACCESS_REFUSED"),
        "{err}"
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
}

#[tokio::test]
async fn a_pull_subscription_takes_no_url_and_a_push_one_needs_one() {
    let app = spawn_app().await;
    for (body, field) in [
        (
            json!({"event_types": ["#"], "delivery": "pull", "url": "http://127.0.0.1:9/h"}),
            "url",
        ),
        (json!({"event_types": ["#"]}), "url"),
        (
            json!({"event_types": ["#"], "delivery": "carrier-pigeon"}),
            "delivery",
        ),
    ] {
        let res = app.post("/v1/subscriptions", &body).await;
        let status = res.status().as_u16();
        let v: Value = res.json().await.unwrap();
        assert!(matches!(status, 400 | 422), "{body}: {status} {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(field) || field == "delivery",
            "{v}"
        );
    }
    assert_eq!(app.count("subscriptions").await, 0);
}

#[tokio::test]
async fn a_rotated_reader_works_beside_the_new_one_until_its_grace_ends() {
    let app = spawn_app().await;
    let sub = pull_subscription(&app, json!(["user.*"])).await;
    let id = sub["id"].as_str().unwrap();
    let first = sub["pull"].clone();
    let res = app
        .post(
            &format!("/v1/subscriptions/{id}/pull/rotate"),
            &json!({"previous_valid_for": "1s"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let rotated: Value = res.json().await.unwrap();
    let second = rotated["pull"].clone();
    assert_ne!(first["username"], second["username"]);
    assert_eq!(first["queue"], second["queue"]);
    assert!(rotated["previous_valid_until"].is_string());
    let (events, other) = (app.topology.events(), "no-such-queue".to_owned());
    let read = |access: &Value| {
        let (url, q, o, e) = (
            access["amqp_url"].as_str().unwrap().to_owned(),
            access["queue"].as_str().unwrap().to_owned(),
            other.clone(),
            events.clone(),
        );
        tokio::task::spawn_blocking(move || run_client(&[&url, &q, &o, &e, "0"]))
    };
    assert!(
        read(&first).await.unwrap().is_ok(),
        "the replaced reader works during its grace"
    );
    assert!(read(&second).await.unwrap().is_ok(), "the new reader works");
    // After the grace the janitor deletes the replaced user.
    let mut gone = false;
    for _ in 0..40 {
        if read(&first).await.unwrap().is_err() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        gone,
        "the replaced reader stops within the janitor's pass after its grace"
    );
    assert!(read(&second).await.unwrap().is_ok());
    // Deleting the subscription deletes every reader it has had.
    assert_eq!(
        app.delete(&format!("/v1/subscriptions/{id}"))
            .await
            .status(),
        204
    );
    assert!(read(&second).await.unwrap().is_err());
    // A push subscription has no reader to rotate.
    let push = app
        .subscribe(json!({"url": "http://127.0.0.1:9/h", "event_types": ["#"]}))
        .await;
    let res = app
        .post(
            &format!(
                "/v1/subscriptions/{}/pull/rotate",
                push["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 404);
}
