//! Pull subscriptions (source document 003: a subscriber "polls its queue itself"), proven with
//! a stock client hookfleet did not write (Python's pika): the credentials it was given read
//! its rendered copies, with the profile's headers as message headers. What else they can do
//! is exactly what README says: learn, by a passive declare, whether a queue or exchange of a
//! name it knows exists, and a queue's ready messages and consumers (RabbitMQ checks no
//! permission on a passive declare); everything else on anything not its own is refused, and
//! the management API refuses them. Deleting the subscription removes them.
use hookfleet_testkit::{TestApp, spawn_app};
use serde_json::{Value, json};
use std::time::Duration;

/// Reads `want` messages from its queue and acks them, then tries each operation a pull user
/// might, on a channel of its own; prints one JSON object: the messages, and per operation
/// `allowed …` (with what the broker told) or `refused <reply code>`. Its one argument is a
/// JSON object: `url`, `queue` (its own), `other` (another subscriber's queue), `ingest`,
/// `exchange` (the fleet's), `want`.
const CLIENT: &str = r##"
import json, sys, pika
a = json.loads(sys.argv[1])
url, queue, other, ingest, exchange = a["url"], a["queue"], a["other"], a["ingest"], a["exchange"]
out = {"messages": []}
conn = pika.BlockingConnection(pika.URLParameters(url))
ch = conn.channel()
for _ in range(200):
    method, props, body = ch.basic_get(queue)
    if method is None:
        if len(out["messages"]) >= a["want"]:
            break
        conn.sleep(0.05)
        continue
    headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in (props.headers or {}).items()}
    out["messages"].append({"body": body.decode(), "headers": headers, "message_id": props.message_id})
    ch.basic_ack(method.delivery_tag)
def attempt(name, f):
    c = conn.channel()
    try:
        r = f(c)
        out[name] = "allowed" if r is None else "allowed %s" % (r,)
    except pika.exceptions.ChannelClosedByBroker as e:
        out[name] = "refused %d" % e.reply_code
counts = lambda ok: "%d ready, %d consumers" % (ok.method.message_count, ok.method.consumer_count)
publish = lambda x, key: lambda c: (c.confirm_delivery(), c.basic_publish(x, key, b"{}")) and None
quorum = {"x-queue-type": "quorum"}
for name, f in [
    # What RabbitMQ answers without checking any permission.
    ("passive_declare_other", lambda c: counts(c.queue_declare(other, passive=True))),
    ("passive_declare_ingest", lambda c: counts(c.queue_declare(ingest, passive=True))),
    ("passive_declare_missing", lambda c: counts(c.queue_declare(ingest + ".nope", passive=True))),
    ("passive_declare_exchange", lambda c: c.exchange_declare(exchange, passive=True) and None),
    ("passive_declare_missing_exchange", lambda c: c.exchange_declare(exchange + ".nope", passive=True) and None),
    # Everything else on anything not its own.
    ("get_other", lambda c: c.basic_get(other) and None),
    ("get_ingest", lambda c: c.basic_get(ingest) and None),
    ("consume_other", lambda c: c.basic_consume(other, lambda *x: None) and None),
    ("purge_other", lambda c: c.queue_purge(other) and None),
    ("delete_other", lambda c: c.queue_delete(other) and None),
    ("declare_other", lambda c: c.queue_declare(other, durable=True, arguments=quorum) and None),
    ("declare_new", lambda c: c.queue_declare("hookfleet-pull-test-not-allowed") and None),
    ("declare_server_named", lambda c: c.queue_declare("", exclusive=True) and None),
    ("bind_own", lambda c: c.queue_bind(queue, exchange, "#") and None),
    ("unbind_other", lambda c: c.queue_unbind(other, exchange, "#") and None),
    ("publish_fleet", publish(exchange, "x")),
    ("publish_default_to_ingest", publish("", ingest)),
    ("publish_own", publish("", queue)),
    ("declare_exchange", lambda c: c.exchange_declare(exchange, "topic", durable=True) and None),
    ("delete_exchange", lambda c: c.exchange_delete(exchange) and None),
    ("bind_exchange", lambda c: c.exchange_bind("amq.fanout", exchange, "#") and None),
    # Its own queue: it reads it (consume, get, ack, purge) but may not reshape it.
    ("declare_own", lambda c: c.queue_declare(queue, durable=True, arguments=quorum) and None),
    ("delete_own", lambda c: c.queue_delete(queue) and None),
    ("passive_declare_own", lambda c: counts(c.queue_declare(queue, passive=True))),
    ("purge_own", lambda c: c.queue_purge(queue) and None),
]:
    attempt(name, f)
conn.close()
print(json.dumps(out))
"##;

fn run_client(args: &Value) -> Result<Value, String> {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(CLIENT)
        .arg(args.to_string())
        .output()
        .expect("python3 runs (scripts/services.sh installs pika)");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&out.stdout).expect("the client prints JSON"))
}

/// What the management API answers the pull user (it has no management tag).
async fn management_status(app: &TestApp, access: &Value) -> u16 {
    let (user, password) = (
        access["username"].as_str().unwrap(),
        access["password"].as_str().unwrap(),
    );
    app.http
        .get("http://127.0.0.1:15672/api/queues")
        .basic_auth(user, Some(password))
        .send()
        .await
        .expect("the management API answers")
        .status()
        .as_u16()
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
    let other_queue = other["pull"]["queue"].as_str().unwrap().to_owned();
    // The other subscription takes every type: its outbox holds the four copies.
    app.wait_until(
        Duration::from_secs(10),
        "the other outbox holds 4",
        || async { app.queue_depth(&other_queue).await == Some(4) },
    )
    .await;
    let args = json!({"url": url, "queue": queue, "other": other_queue,
                      "ingest": app.topology.ingest(), "exchange": app.topology.events(),
                      "want": 3});
    let got = tokio::task::spawn_blocking(move || run_client(&args))
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
    // Exactly what README says it can learn: a queue's existence, ready messages and
    // consumers, and an exchange's existence, by name, with no permission checked.
    assert_eq!(
        got["passive_declare_other"], "allowed 4 ready, 0 consumers",
        "{got}"
    );
    let ingest = got["passive_declare_ingest"].as_str().unwrap();
    assert!(
        ingest.starts_with("allowed 0 ready, ") && !ingest.ends_with(" 0 consumers"),
        "the ingest queue's backlog and its routers: {got}"
    );
    assert_eq!(got["passive_declare_missing"], "refused 404", "{got}");
    assert_eq!(got["passive_declare_exchange"], "allowed", "{got}");
    assert_eq!(
        got["passive_declare_missing_exchange"], "refused 404",
        "{got}"
    );
    assert_eq!(
        got["passive_declare_own"], "allowed 0 ready, 0 consumers",
        "{got}"
    );
    // Everything else on anything not its own is refused; its own it reads, and only reads.
    for what in [
        "get_other",
        "get_ingest",
        "consume_other",
        "purge_other",
        "delete_other",
        "declare_other",
        "declare_new",
        "declare_server_named",
        "bind_own",
        "unbind_other",
        "publish_fleet",
        "publish_default_to_ingest",
        "publish_own",
        "declare_exchange",
        "delete_exchange",
        "bind_exchange",
        "declare_own",
        "delete_own",
    ] {
        assert_eq!(got[what], "refused 403", "{what}: {got}");
    }
    assert_eq!(got["purge_own"], "allowed", "{got}");
    let every = got.as_object().unwrap().len();
    assert_eq!(
        every,
        1 + 6 + 18 + 1,
        "every operation tried is asserted: {got}"
    );
    assert_eq!(
        app.queue_depth(&other_queue).await,
        Some(4),
        "the other outbox is as it was"
    );
    assert_eq!(
        management_status(&app, access).await,
        401,
        "no management API"
    );
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
    let args = json!({"url": url, "queue": queue, "other": other_queue,
                      "ingest": app.topology.ingest(), "exchange": app.topology.events(),
                      "want": 0});
    let after = tokio::task::spawn_blocking(move || run_client(&args))
        .await
        .unwrap();
    let err = after.expect_err("a deleted subscription's user cannot connect");
    assert!(
        err.contains("Authentication") || err.contains("ACCESS_REFUSED"),
        "{err}"
    );
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
            // Long enough for the reads below (each starts a Python client) on a loaded box.
            &json!({"previous_valid_for": "5s"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let rotated: Value = res.json().await.unwrap();
    let second = rotated["pull"].clone();
    assert_ne!(first["username"], second["username"]);
    assert_eq!(first["queue"], second["queue"]);
    assert!(rotated["previous_valid_until"].is_string());
    let (events, ingest) = (app.topology.events(), app.topology.ingest());
    let read = |access: &Value| {
        let args = json!({"url": access["amqp_url"], "queue": access["queue"],
                          "other": "no-such-queue", "ingest": ingest, "exchange": events,
                          "want": 0});
        tokio::task::spawn_blocking(move || run_client(&args))
    };
    assert!(
        read(&first).await.unwrap().is_ok(),
        "the replaced reader works during its grace"
    );
    assert!(read(&second).await.unwrap().is_ok(), "the new reader works");
    // After the grace the janitor deletes the replaced user.
    let mut gone = false;
    for _ in 0..80 {
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

/// `HOOKFLEET_RABBITMQ_MANAGEMENT_URL` takes one URL per node, like `HOOKFLEET_AMQP_URL`: with
/// the first node down, pull users are still made and rotated through the next.
#[tokio::test]
async fn pull_users_are_made_through_whichever_management_node_is_up() {
    // Nothing listens on a port just freed: that node is down.
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = hookfleet_testkit::spawn_app_with(hookfleet_testkit::Options {
        management_url: Some(format!(
            "http://guest:guest@127.0.0.1:{down},http://guest:guest@127.0.0.1:15672"
        )),
        ..Default::default()
    })
    .await;
    let sub = pull_subscription(&app, json!(["user.*"])).await;
    let id = sub["id"].as_str().unwrap();
    let res = app
        .post(&format!("/v1/subscriptions/{id}/pull/rotate"), &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let rotated: Value = res.json().await.unwrap();
    assert_ne!(sub["pull"]["username"], rotated["pull"]["username"]);
    // Deleting goes through the list too, and takes both readers with it (none is left on the
    // broker after the test).
    assert_eq!(
        app.delete(&format!("/v1/subscriptions/{id}"))
            .await
            .status(),
        204
    );
    let users: Value = reqwest::Client::new()
        .get("http://127.0.0.1:15672/api/users")
        .basic_auth("guest", Some("guest"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["name"].as_str())
        .collect();
    for access in [&sub["pull"], &rotated["pull"]] {
        let name = access["username"].as_str().unwrap();
        assert!(!names.contains(&name), "{name} is left on the broker");
    }
}
