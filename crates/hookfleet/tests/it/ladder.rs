//! The retry ladder: attempts at the ladder's spacing on TTL queues, then parked; waiting retries survive a restart of every process.
use hookfleet_testkit::{Receiver, Reply, spawn_app};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_receiver_failing_four_times_gets_five_attempts_at_the_ladder_spacing() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.script([
        Reply::Status(500),
        Reply::Status(502),
        Reply::Status(503),
        Reply::Status(500),
    ]);
    let ladder_ms = [200u64, 400, 600, 800];
    app.subscribe(json!({"url": rx.url, "event_types": ["#"], "retry_ladder": ["200ms", "400ms", "600ms", "800ms"]}))
        .await;
    let id = app
        .publish(json!({"type": "user.created", "data": {}}))
        .await;
    let d = app.wait_status(&id, "delivered").await;
    assert_eq!(d["attempt_count"], 5);
    let attempts = d["attempts"].as_array().unwrap();
    assert_eq!(
        attempts
            .iter()
            .map(|a| a["attempt"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(
        attempts
            .iter()
            .map(|a| a["status_code"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [500, 502, 503, 500, 200]
    );
    let got = rx.received();
    assert_eq!(got.len(), 5, "exactly five attempts");
    assert!(
        got.iter()
            .all(|r| r.header("webhook-id") == got[0].header("webhook-id")),
        "one webhook-id for all"
    );
    // Tolerance: a rung never fires early; it may fire up to 1 s late (expiry is checked at
    // the queue head, then dead-lettering, consumption and the outcome batch add their share).
    // With two whole suites sharing the 2 cores, one gap was seen 710 ms late.
    for (i, pair) in got.windows(2).enumerate() {
        let gap = pair[1].at.duration_since(pair[0].at);
        let rung = Duration::from_millis(ladder_ms[i]);
        assert!(
            gap >= rung,
            "gap {i} was {gap:?}, shorter than its rung {rung:?}"
        );
        assert!(
            gap <= rung + Duration::from_millis(1_000),
            "gap {i} was {gap:?}, rung {rung:?}"
        );
    }
}

#[tokio::test]
async fn an_always_failing_endpoint_gets_exactly_five_attempts_then_is_exhausted_and_parked() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.reply(Reply::Status(500));
    // The test app's fleet ladder: 100, 200, 300, 400 ms.
    app.subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let id = app
        .publish(json!({"type": "user.created", "data": {}}))
        .await;
    let d = app.wait_status(&id, "exhausted").await;
    assert_eq!(d["attempt_count"], 5);
    assert_eq!(d["attempts"].as_array().unwrap().len(), 5);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(rx.count(), 5, "nothing more is sent");
    assert_eq!(
        app.queue_depth(&app.topology.dead()).await,
        Some(1),
        "one message parked"
    );
}

#[tokio::test]
async fn retries_waiting_on_the_ladder_survive_a_restart_of_every_process() {
    let mut app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.script([Reply::Status(500), Reply::Status(500)]);
    app.subscribe(
        json!({"url": rx.url, "event_types": ["#"], "retry_ladder": ["1500ms", "1500ms"]}),
    )
    .await;
    let id = app
        .publish(json!({"type": "user.created", "data": {}}))
        .await;
    rx.wait_for(1, Duration::from_secs(10)).await;
    app.wait_status(&id, "failed").await;
    // Every role stops while the retry waits on its rung, and stays down past its expiry.
    app.stop().await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(rx.count(), 1, "nothing runs while the fleet is down");
    app.restart().await;
    let d = app.wait_status(&id, "delivered").await;
    assert_eq!(d["attempt_count"], 3);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.count(), 3, "no retry lost, none doubled");
}
