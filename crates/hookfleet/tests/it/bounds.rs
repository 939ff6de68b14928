//! A worker's memory is bounded by its settings, not by its subscriptions: however many
//! subscriptions have work, no more than `max_in_flight_total` requests are out at once; and
//! the prefetch budget goes to the subscriptions that have work, not to idle ones.
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
    let most = most_at_once(&rx, Duration::from_millis(300));
    assert!(most <= 4, "{most} requests were out at once; the cap is 4");
    assert!(
        most >= 2,
        "requests went one at a time ({most}): the test shows nothing"
    );
}

/// The most requests that arrived within `within` of one another (held longer than that, they
/// were out at the same time).
fn most_at_once(rx: &Receiver, within: Duration) -> usize {
    let mut at: Vec<_> = rx.received().iter().map(|r| r.at).collect();
    at.sort();
    at.iter()
        .map(|&t| {
            at.iter()
                .filter(|&&u| u <= t && t.duration_since(u) < within)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn a_busy_subscription_among_many_idle_ones_gets_the_prefetch_budget() {
    let defaults = Options::default();
    // 41 subscriptions share 64 prefetched messages: 2 each, were they shared evenly.
    let app = spawn_app_with(Options {
        delivery: hookfleet_delivery::Settings {
            prefetch_budget: 64,
            ..defaults.delivery.clone()
        },
        ..defaults
    })
    .await;
    let idle = Receiver::start().await;
    for _ in 0..40 {
        app.subscribe(json!({"url": idle.url, "event_types": ["idle.#"]}))
            .await;
    }
    let rx = Receiver::start().await;
    rx.reply(Reply::Slow(Duration::from_millis(400), 200));
    app.subscribe(json!({"url": rx.url, "event_types": ["hot.#"], "max_in_flight": 32}))
        .await;
    for i in 0..200 {
        app.publish(json!({"type": "hot.tick", "data": {"i": i}}))
            .await;
    }
    // At 2 in flight the 200 would take 40 s; with the budget's 64 (capped by the
    // subscription's 32) about 3 s once a reconcile has seen it busy.
    rx.wait_for(200, Duration::from_secs(30)).await;
    let most = most_at_once(&rx, Duration::from_millis(300));
    assert!(
        most >= 16,
        "at most {most} requests were out at once: the busy subscription kept an idle share"
    );
    assert!(most <= 32, "{most} out at once; the subscription allows 32");
    assert_eq!(idle.count(), 0);
}
