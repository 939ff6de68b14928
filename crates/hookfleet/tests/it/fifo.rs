//! FIFO ordering: strictly in queue order while the endpoint fails at random.
use hookfleet_testkit::{Receiver, spawn_app};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_fifo_subscription_receives_1000_messages_in_order_while_its_endpoint_fails_at_random() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.fail_randomly(200, 0x5eed);
    let ladder: Vec<&str> = vec!["5ms"; 12];
    app.subscribe(
        json!({"url": rx.url, "event_types": ["#"], "ordering": "fifo", "retry_ladder": ladder}),
    )
    .await;
    const N: usize = 1000;
    for i in 0..N {
        app.publish(json!({"type": "seq.tick", "data": {"i": i}}))
            .await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while rx.succeeded().len() < N {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {N} delivered",
            rx.succeeded().len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let order: Vec<u64> = rx
        .succeeded()
        .iter()
        .map(|r| r.json()["data"]["i"].as_u64().unwrap())
        .collect();
    assert_eq!(
        order,
        (0..N as u64).collect::<Vec<_>>(),
        "delivered strictly in order"
    );
    let failures = rx.received().len() - N;
    assert!(
        failures > 100,
        "the endpoint did fail along the way ({failures} failures)"
    );
    // Every request, failed or not, came in order: a failure was retried before anything later.
    let all: Vec<u64> = rx
        .received()
        .iter()
        .map(|r| r.json()["data"]["i"].as_u64().unwrap())
        .collect();
    assert!(
        all.windows(2).all(|w| w[0] <= w[1]),
        "a later message overtook a failing one"
    );
}
