//! What an operator must act on logs one WARN line each, in a real `hookfleet all` process:
//! a delivery that exhausted its ladder, an endpoint answering 410 Gone (its subscription is
//! disabled) and a message no stage can read. None of them names the endpoint's URL.
use crate::child::ChildFleet;
use hookfleet_testkit::{Options, Receiver, Reply, spawn_app_with};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn exhaustion_gone_and_poison_each_log_one_warn_line() {
    let app = spawn_app_with(Options {
        run_router: false,
        run_delivery: false,
        ..Options::default()
    })
    .await;
    let token = "warnings-test-token";
    let fleet = ChildFleet::start(
        &app,
        &[
            ("RUST_LOG", "warn"),
            ("HOOKFLEET_ADMIN_TOKEN", token),
            ("HOOKFLEET_RETRY_LADDER", ""),
        ],
    )
    .await;
    let api = fleet.api.clone();
    let http = reqwest::Client::new();
    let failing = Receiver::start().await;
    failing.reply(Reply::Status(500));
    let gone = Receiver::start().await;
    gone.reply(Reply::Status(410));
    let mut ids = Vec::new();
    for rx in [&failing, &gone] {
        let sub: serde_json::Value = http
            .post(format!("{api}/v1/subscriptions"))
            .bearer_auth(token)
            .json(&json!({"url": rx.url, "event_types": ["#"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(sub["id"].as_str().expect("a subscription id").to_owned());
    }
    // The child's worker consumes both new queues (seen through the broker).
    for id in &ids {
        app.wait_delivering(id, true).await;
    }
    let sent = http
        .post(format!("{api}/v1/events"))
        .bearer_auth(token)
        .json(&json!({"type": "user.created", "data": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);
    app.put_for(&ids[0], b"{\"id\": 42}").await;
    let dead = app.topology.dead();
    app.wait_until(
        Duration::from_secs(20),
        "the exhausted delivery and the poison message are parked, the 410 is recorded",
        || async {
            app.queue_depth(&dead).await == Some(2)
                && gone.count() == 1
                && app.count("poison_messages").await == 1
        },
    )
    .await;
    // The 410's subscription is disabled once its outcome is committed.
    let gone_path = format!("{api}/v1/subscriptions/{}", ids[1]);
    app.wait_until(
        Duration::from_secs(10),
        "the 410's subscription is disabled",
        || async {
            let view: serde_json::Value = http
                .get(&gone_path)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            view["state"] == "disabled"
        },
    )
    .await;
    let text = fleet.stop().await;
    let warns: Vec<&str> = text.lines().filter(|l| l.contains(" WARN ")).collect();
    for (what, needle) in [
        ("exhaustion", "exhausted its retry ladder"),
        ("410 Gone", "answered 410 Gone; disabling"),
        ("poison", "Parking an undecodable message"),
    ] {
        let n = warns.iter().filter(|l| l.contains(needle)).count();
        assert_eq!(n, 1, "{what}: {n} WARN lines in\n{}", warns.join("\n"));
    }
    for rx in [&failing, &gone] {
        let host = rx.url.trim_start_matches("http://");
        assert!(
            !text.contains(host),
            "a receiver's address reached the log: {host}"
        );
    }
}
