//! Signed delivery, idempotent intake, failures and deletion.
use hookfleet_testkit::{Receiver, Reply, spawn_app};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn deliveries_verify_with_an_independent_standard_webhooks_implementation() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let sub = app
        .subscribe(json!({"url": rx.url, "event_types": ["user.created"]}))
        .await;
    let secret = sub["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    let id = app
        .publish(json!({"type": "user.created", "organization_ids": ["a", "b"], "data": {"name": "Zoë ✓"}}))
        .await;
    let got = rx.wait_for(2, Duration::from_secs(10)).await;

    let verifier = standardwebhooks::Webhook::new(secret).expect("a valid whsec_ secret");
    for r in &got {
        verifier
            .verify(&r.body, &r.headers)
            .expect("the signature verifies");
        assert!(r.header("webhook-signature").starts_with("v1,"));
        assert!(r.header("webhook-id").starts_with("dlv_"));
        assert_eq!(r.header("content-type"), "application/json");
        // A tampered body must not verify: the check above is not vacuous.
        let mut tampered = r.body.to_vec();
        tampered.push(b' ');
        assert!(verifier.verify(&tampered, &r.headers).is_err());
    }
    assert_ne!(
        got[0].header("webhook-id"),
        got[1].header("webhook-id"),
        "one webhook-id per delivery"
    );
    let other = standardwebhooks::Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    assert!(
        other.verify(&got[0].body, &got[0].headers).is_err(),
        "another secret does not verify"
    );

    // The log names the same delivery ids the receiver saw.
    let log = app.wait_for_deliveries(&id, 2).await;
    let mut logged: Vec<&str> = log.iter().map(|d| d["id"].as_str().unwrap()).collect();
    let mut seen: Vec<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    logged.sort();
    seen.sort();
    assert_eq!(logged, seen);
}

#[tokio::test]
async fn reposting_with_the_same_idempotency_key_returns_the_same_id_and_fans_out_nothing() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let body = json!({"type": "user.updated", "organization_ids": ["o1", "o2"], "data": {}, "idempotency_key": "req-42"});
    let first = app.publish(body.clone()).await;
    app.wait_for_deliveries(&first, 2).await;
    let second = app.publish(body.clone()).await;
    assert_eq!(first, second);
    // The header form of the key names the same event.
    let res = app
        .http
        .post(app.url("/v1/events"))
        .bearer_auth(hookfleet_testkit::TOKEN)
        .header("Idempotency-Key", "req-42")
        .json(&json!({"type": "user.updated", "organization_ids": ["o1", "o2"], "data": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    assert_eq!(
        res.json::<serde_json::Value>().await.unwrap()["id"],
        first.as_str()
    );

    // A later event goes through the same queue; once it is delivered, the repeats (routed
    // before it) have had every chance to fan out.
    let marker = app.publish(json!({"type": "marker", "data": {}})).await;
    app.wait_for_deliveries(&marker, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let for_first = rx
        .received()
        .iter()
        .filter(|r| r.json()["id"] == first.as_str())
        .count();
    assert_eq!(for_first, 2, "two copies, once");
    assert_eq!(app.count("events").await, 2);
    assert_eq!(app.deliveries(&first).await.len(), 2);
}

#[tokio::test]
async fn a_key_reused_for_a_different_event_is_refused_with_409_and_changes_nothing() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let first = app
        .publish(json!({"type": "plan.changed", "data": {"plan": "pro", "seats": 5}, "idempotency_key": "k-1"}))
        .await;
    app.wait_for_deliveries(&first, 1).await;
    // The same event, its data's keys in another order: the same event.
    let again = app
        .post(
            "/v1/events",
            &json!({"type": "plan.changed", "data": {"seats": 5, "plan": "pro"}, "idempotency_key": "k-1"}),
        )
        .await;
    assert_eq!(again.status(), 202);
    for (what, body) in [
        (
            "other data",
            json!({"type": "plan.changed", "data": {"plan": "free", "seats": 5}, "idempotency_key": "k-1"}),
        ),
        (
            "another type",
            json!({"type": "plan.cancelled", "data": {"plan": "pro", "seats": 5}, "idempotency_key": "k-1"}),
        ),
        (
            "another organization",
            json!({"type": "plan.changed", "organization_ids": ["o9"], "data": {"plan": "pro", "seats": 5}, "idempotency_key": "k-1"}),
        ),
    ] {
        let res = app.post("/v1/events", &body).await;
        assert_eq!(res.status(), 409, "{what}");
        let err: serde_json::Value = res.json().await.unwrap();
        assert_eq!(
            err["error"]["code"], "idempotency_key_reused",
            "{what}: {err}"
        );
    }
    // In a batch, the reused key refuses its item alone.
    let res = app
        .post(
            "/v1/events/batch",
            &json!({"events": [
                {"type": "plan.changed", "data": {"plan": "free"}, "idempotency_key": "k-1"},
                {"type": "plan.changed", "data": {"plan": "free"}, "idempotency_key": "k-2"},
            ]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let batch: serde_json::Value = res.json().await.unwrap();
    assert_eq!(batch["data"][0]["status"], 409, "{batch}");
    assert_eq!(batch["data"][0]["error"]["code"], "idempotency_key_reused");
    assert_eq!(batch["data"][1]["status"], 202, "{batch}");
    let second = batch["data"][1]["event"]["id"].as_str().unwrap().to_owned();
    app.wait_for_deliveries(&second, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.count(), 2, "the refused repeats fanned out nothing");
    assert_eq!(app.count("events").await, 2);
}

#[tokio::test]
async fn a_receiver_answering_500_is_recorded_as_failed_and_scheduled_for_retry() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.reply(Reply::Status(500));
    // A long first rung: the retry is still waiting when the test looks.
    app.subscribe(json!({"url": rx.url, "event_types": ["#"], "retry_ladder": ["1h"]}))
        .await;
    let id = app
        .publish(json!({"type": "user.created", "data": {"k": 1}}))
        .await;
    let log = app.wait_for_deliveries(&id, 1).await;
    assert_eq!(log[0]["status"], "failed");
    assert!(
        log[0]["next_attempt_at"].is_string(),
        "a retry is scheduled: {}",
        log[0]
    );
    let attempts = log[0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0]["status_code"], 500);
    assert!(attempts[0]["error"].as_str().unwrap().contains("500"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.count(), 1, "one attempt so far");
    assert_eq!(
        app.queue_depth(&app.topology.dead()).await,
        Some(0),
        "not parked while retries remain"
    );
    assert_eq!(
        app.queue_depth(&app.topology.retry_rung(Duration::from_secs(3_600)))
            .await,
        Some(1),
        "waiting on its rung"
    );
}

#[tokio::test]
async fn with_no_retries_a_failure_is_exhausted_and_parked_at_once() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.reply(Reply::Status(503));
    app.subscribe(json!({"url": rx.url, "event_types": ["#"], "retry_ladder": []}))
        .await;
    let id = app
        .publish(json!({"type": "user.created", "data": {}}))
        .await;
    let dead = app.topology.dead();
    app.wait_until(Duration::from_secs(10), "the message is parked", || async {
        app.queue_depth(&dead).await == Some(1)
    })
    .await;
    let log = app.wait_for_deliveries(&id, 1).await;
    assert_eq!(log[0]["status"], "exhausted");
    assert_eq!(rx.count(), 1);
}

#[tokio::test]
async fn an_unreachable_or_slow_endpoint_is_recorded_as_failed_with_its_error() {
    let app = spawn_app().await;
    // Nothing listens on a port we bound and released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    app.subscribe(json!({"url": format!("http://{closed}/x"), "event_types": ["conn"]}))
        .await;
    let slow = Receiver::start().await;
    slow.reply(Reply::Hang);
    app.subscribe(json!({"url": slow.url, "event_types": ["slow"]}))
        .await;

    let c = app.publish(json!({"type": "conn", "data": {}})).await;
    let s = app.publish(json!({"type": "slow", "data": {}})).await;
    let conn_log = app.wait_for_deliveries(&c, 1).await;
    assert_eq!(conn_log[0]["status"], "failed");
    assert!(conn_log[0]["attempts"][0]["status_code"].is_null());
    assert!(
        conn_log[0]["attempts"][0]["error"]
            .as_str()
            .unwrap()
            .contains("connection")
    );
    let slow_log = app.wait_for_deliveries(&s, 1).await;
    assert_eq!(slow_log[0]["status"], "failed");
    assert!(
        slow_log[0]["attempts"][0]["error"]
            .as_str()
            .unwrap()
            .contains("timed out")
    );
}

#[tokio::test]
async fn a_deleted_subscription_receives_nothing_more() {
    let app = spawn_app().await;
    let (kept, gone) = (Receiver::start().await, Receiver::start().await);
    app.subscribe(json!({"url": kept.url, "event_types": ["user.*"]}))
        .await;
    let sub = app
        .subscribe(json!({"url": gone.url, "event_types": ["user.*"]}))
        .await;
    let sub_id = sub["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/subscriptions/{sub_id}"))
            .await
            .status(),
        200
    );

    assert_eq!(
        app.delete(&format!("/v1/subscriptions/{sub_id}"))
            .await
            .status(),
        204
    );
    assert_eq!(
        app.get(&format!("/v1/subscriptions/{sub_id}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.delete(&format!("/v1/subscriptions/{sub_id}"))
            .await
            .status(),
        404
    );
    let id = app
        .publish(json!({"type": "user.deleted", "data": {}}))
        .await;
    kept.wait_for(1, Duration::from_secs(10)).await;
    app.wait_for_deliveries(&id, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(gone.count(), 0);
    assert_eq!(app.deliveries(&id).await.len(), 1);
    // Unbound at once (the copy above never reached it), removed after the grace.
    let queue = app.topology.subscription_queue(sub_id);
    app.wait_until(Duration::from_secs(15), "its queue is gone", || async {
        app.queue_depth(&queue).await.is_none()
    })
    .await;
}

#[tokio::test]
async fn the_delivery_role_refuses_private_addresses_at_send_time() {
    // The subscription got in (say, its name pointed elsewhere then); the worker still refuses.
    let mut opts = hookfleet_testkit::Options::default();
    opts.delivery.allow_private_targets = false;
    let app = hookfleet_testkit::spawn_app_with(opts).await;
    let rx = Receiver::start().await;
    let by_ip = app
        .subscribe(json!({"url": rx.url, "event_types": ["ip"], "retry_ladder": []}))
        .await;
    let by_name = rx.url.replace("127.0.0.1", "localhost");
    app.subscribe(json!({"url": by_name, "event_types": ["name"], "retry_ladder": []}))
        .await;
    assert!(by_ip["id"].is_string());
    for t in ["ip", "name"] {
        let id = app.publish(json!({"type": t, "data": {}})).await;
        let log = app.wait_for_deliveries(&id, 1).await;
        assert_eq!(log[0]["status"], "exhausted", "{t}: {}", log[0]);
        let error = log[0]["attempts"][0]["error"].as_str().unwrap();
        assert!(error.contains("private"), "{t}: {error}");
    }
    assert_eq!(rx.count(), 0, "no request reached the private address");
}
