//! Isolation: a hanging endpoint does not starve a fast one, and a rate limit spaces deliveries.
use hookfleet_testkit::{Receiver, Reply, spawn_app};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_hanging_endpoint_does_not_starve_a_fast_one() {
    let app = spawn_app().await;
    let (slow, fast) = (Receiver::start().await, Receiver::start().await);
    slow.reply(Reply::Hang);
    app.subscribe(
        json!({"url": slow.url, "event_types": ["#"], "max_in_flight": 4, "retry_ladder": []}),
    )
    .await;
    app.subscribe(json!({"url": fast.url, "event_types": ["#"]}))
        .await;
    const EVENTS: usize = 300;
    for i in 0..EVENTS {
        app.publish(json!({"type": "load.tick", "data": {"i": i}}))
            .await;
    }
    // The hanging endpoint holds 4 requests for the whole 2 s timeout, again and again; the
    // fast one must still get everything promptly.
    fast.wait_for(EVENTS, Duration::from_secs(15)).await;
    assert!(
        slow.most_at_once() <= 4,
        "the hanging endpoint never has more than 4 requests at a time: it had {}",
        slow.most_at_once()
    );
}

#[tokio::test]
async fn a_rate_limit_spaces_deliveries() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["#"], "rate_limit_per_s": 20}))
        .await;
    for i in 0..30 {
        app.publish(json!({"type": "r.tick", "data": {"i": i}}))
            .await;
    }
    let got = rx.wait_for(30, Duration::from_secs(15)).await;
    let span = got[29].at.duration_since(got[0].at);
    // 29 intervals of 50 ms; a little slack for timer granularity.
    assert!(
        span >= Duration::from_millis(1300),
        "30 deliveries at 20/s took only {span:?}"
    );
}
