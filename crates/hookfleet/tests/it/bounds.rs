//! A worker's memory is bounded by its settings, not by its subscriptions: however many
//! subscriptions have work, no more than `max_in_flight_total` requests are out at once.
use hookfleet_testkit::{Options, Receiver, Reply, spawn_app_with};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn requests_in_flight_across_all_subscriptions_stay_within_the_worker_cap() {
    let defaults = Options::default();
    let app = spawn_app_with(Options {
        delivery: hookfleet_delivery::Settings {
            max_in_flight_total: 4,
            ..defaults.delivery.clone()
        },
        ..defaults
    })
    .await;
    let hold = Duration::from_millis(400);
    let rx = Receiver::start().await;
    rx.reply(Reply::Slow(hold, 200));
    // Three subscriptions that would each take 16 at once: 48 without the worker's cap.
    for _ in 0..3 {
        app.subscribe(json!({"url": rx.url, "event_types": ["cap.#"], "max_in_flight": 16}))
            .await;
    }
    for i in 0..8 {
        app.publish(json!({"type": "cap.tick", "data": {"i": i}}))
            .await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while rx.received().len() < 24 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of 24 arrived",
            rx.received().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Each request is held 400 ms, so those that arrived within 300 ms of one another were out
    // at the same time.
    let mut at: Vec<_> = rx.received().iter().map(|r| r.at).collect();
    at.sort();
    let most = at
        .iter()
        .map(|&t| {
            at.iter()
                .filter(|&&u| u <= t && t.duration_since(u) < Duration::from_millis(300))
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(most <= 4, "{most} requests were out at once; the cap is 4");
    assert!(
        most >= 2,
        "requests went one at a time ({most}): the test shows nothing"
    );
}
