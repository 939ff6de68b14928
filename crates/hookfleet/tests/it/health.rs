//! Endpoint health: 410 Gone disables a subscription and enable resumes it; one exhausted for the configured span is disabled.
use hookfleet_testkit::{Receiver, Reply, spawn_app};
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn gone_disables_the_subscription_after_one_attempt_and_enable_resumes_what_queued() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.script([Reply::Status(410)]);
    let sub = app
        .subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let sub_id = sub["id"].as_str().unwrap();
    let first = app.publish(json!({"type": "a.b", "data": {"n": 1}})).await;
    rx.wait_for(1, Duration::from_secs(10)).await;
    let path = format!("/v1/subscriptions/{sub_id}");
    app.wait_until(
        Duration::from_secs(10),
        "the subscription is disabled",
        || async { app.get(&path).await.json::<Value>().await.unwrap()["state"] == "disabled" },
    )
    .await;
    let view: Value = app.get(&path).await.json().await.unwrap();
    assert!(
        view["disabled_reason"].as_str().unwrap().contains("410"),
        "{view}"
    );

    let later = [
        app.publish(json!({"type": "a.b", "data": {"n": 2}})).await,
        app.publish(json!({"type": "a.b", "data": {"n": 3}})).await,
    ];
    // No worker consumes the queue, which holds the 410'd copy (as attempt 2) and the two.
    // (On the shared tier, the copies of a disabled subscription move to a queue of its own.)
    app.wait_delivering(sub_id, false).await;
    let queue = app.topology.subscription_queue(sub_id);
    app.wait_until(Duration::from_secs(10), "the queue holds 3", || async {
        app.queue_depth(&queue).await == Some(3)
    })
    .await;
    assert_eq!(
        rx.count(),
        1,
        "a disabled subscription gets nothing; its queue keeps the rest"
    );

    let res = app.post(&format!("{path}/enable"), &json!({})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["state"], "active");
    rx.wait_for(4, Duration::from_secs(10)).await;
    let d = app.wait_status(&first, "delivered").await;
    assert_eq!(
        d["attempt_count"], 2,
        "the 410'd message comes back as attempt 2"
    );
    for id in &later {
        assert_eq!(app.wait_status(id, "delivered").await["attempt_count"], 1);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.count(), 4);
}

#[tokio::test]
async fn a_subscription_whose_deliveries_stay_exhausted_for_the_span_is_disabled() {
    let mut opts = hookfleet_testkit::Options::default();
    opts.delivery.disable_after = Duration::from_secs(1);
    let app = hookfleet_testkit::spawn_app_with(opts).await;
    let (bad, good) = (Receiver::start().await, Receiver::start().await);
    bad.reply(Reply::Status(500));
    let failing = app
        .subscribe(json!({"url": bad.url, "event_types": ["#"], "retry_ladder": []}))
        .await;
    let healthy = app
        .subscribe(json!({"url": good.url, "event_types": ["#"], "retry_ladder": []}))
        .await;
    let id = app.publish(json!({"type": "x.y", "data": {}})).await;
    app.wait_status(&id, "exhausted").await;
    let path = format!("/v1/subscriptions/{}", failing["id"].as_str().unwrap());
    app.wait_until(
        Duration::from_secs(10),
        "the failing subscription is disabled",
        || async { app.get(&path).await.json::<Value>().await.unwrap()["state"] == "disabled" },
    )
    .await;
    let view: Value = app.get(&path).await.json().await.unwrap();
    assert!(
        view["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("exhausted"),
        "{view}"
    );
    let other: Value = app
        .get(&format!(
            "/v1/subscriptions/{}",
            healthy["id"].as_str().unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        other["state"], "active",
        "a subscription that delivers stays active"
    );
}

#[tokio::test]
async fn disabling_through_the_api_holds_deliveries_until_enabled() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let sub = app
        .subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let path = format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap());

    let res = app.post(&format!("{path}/disable"), &json!({})).await;
    assert_eq!(res.status(), 200);
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["state"], "disabled", "{view}");
    assert_eq!(view["disabled_reason"], "disabled through the API");
    // Disabling again changes nothing and says so the same way.
    let again: Value = app
        .post(&format!("{path}/disable"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["state"], "disabled");
    assert_eq!(
        app.post("/v1/subscriptions/sub_0000/disable", &json!({}))
            .await
            .status(),
        404
    );

    // No worker consumes the queue any more; the event waits in it.
    app.wait_delivering(sub["id"].as_str().unwrap(), false)
        .await;
    let queue = app.topology.subscription_queue(sub["id"].as_str().unwrap());
    let id = app.publish(json!({"type": "a.b", "data": {"n": 1}})).await;
    app.wait_until(
        Duration::from_secs(10),
        "the event waits in the queue",
        || async { app.queue_depth(&queue).await == Some(1) },
    )
    .await;
    assert_eq!(rx.count(), 0, "a disabled subscription gets nothing");

    let res = app.post(&format!("{path}/enable"), &json!({})).await;
    assert_eq!(res.json::<Value>().await.unwrap()["state"], "active");
    assert_eq!(app.wait_status(&id, "delivered").await["attempt_count"], 1);
    assert_eq!(rx.count(), 1);
}
