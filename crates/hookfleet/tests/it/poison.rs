//! Promise 4: a message that cannot be decoded is dead-lettered and recorded, once, and the
//! fleet keeps going.
use hookfleet_testkit::{Receiver, spawn_app};
use lapin::{BasicProperties, options::BasicPublishOptions};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn undecodable_messages_are_dead_lettered_and_recorded_and_never_loop() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let sub = app
        .subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let sub_queue = app.topology.subscription_queue(sub["id"].as_str().unwrap());
    for (queue, body) in [
        (app.topology.ingest(), &b"not json"[..]),
        (sub_queue, &b"{\"id\": 42}"[..]),
    ] {
        app.channel
            .basic_publish(
                "".into(),
                queue.as_str().into(),
                BasicPublishOptions::default(),
                body,
                BasicProperties::default(),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }
    // The fleet keeps delivering after both.
    let id = app
        .publish(json!({"type": "after.poison", "data": {}}))
        .await;
    rx.wait_for(1, Duration::from_secs(10)).await;
    app.wait_for_deliveries(&id, 1).await;
    let dead = app.topology.dead();
    app.wait_until(
        Duration::from_secs(10),
        "both poison messages are parked",
        || async { app.queue_depth(&dead).await == Some(2) },
    )
    .await;
    assert_eq!(app.count("poison_messages").await, 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.queue_depth(&dead).await,
        Some(2),
        "dead-lettered once, not looping"
    );
    assert_eq!(app.count("poison_messages").await, 2);
    assert_eq!(rx.count(), 1, "nothing undecodable was sent");
}
