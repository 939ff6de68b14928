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
    app.channel
        .basic_publish(
            "".into(),
            app.topology.ingest().as_str().into(),
            BasicPublishOptions::default(),
            b"not json",
            BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    app.put_for(sub["id"].as_str().unwrap(), b"{\"id\": 42}")
        .await;
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

/// An ingest message is held to the shape of what a producer writes down to its id: one whose
/// `id` is not an event id (any text, or another kind's id) never becomes an event, is parked
/// with its reason, and the rest of its batch flows on.
#[tokio::test]
async fn an_ingest_message_whose_id_is_not_an_event_id_is_parked_and_the_rest_flow() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let message = |id: &str, n: u32| {
        format!(
            r#"{{"id":"{id}","type":"ids.test","timestamp":"2026-11-23T12:00:00.000Z","organization_ids":[],"service_partitions":[],"idempotency_key":null,"data":{{"n":{n}}}}}"#
        )
        .into_bytes()
    };
    let good = hookfleet_core::EventId::random();
    let sub = hookfleet_core::SubscriptionId::random();
    let bodies = [
        message("junk", 1),
        message(good.as_str(), 2),
        message(sub.as_str(), 3),
        message(&good.as_str().to_uppercase(), 4),
    ];
    for body in &bodies {
        app.put_raw(&app.topology.ingest(), body).await;
    }
    let got = rx.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].json()["id"], good.as_str());
    let dead = app.topology.dead();
    app.wait_until(Duration::from_secs(10), "3 parked", || async {
        app.queue_depth(&dead).await == Some(3)
    })
    .await;
    let reasons: Vec<String> = app
        .db
        .query("SELECT reason FROM poison_messages ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .all(|r| r.starts_with("undecodable: ") && r.contains("not an event id")),
        "{reasons:?}"
    );
    assert_eq!(
        app.count("events").await,
        1,
        "only the event id became an event"
    );
    assert_eq!(app.queue_depth(&app.topology.ingest()).await, Some(0));
    assert_eq!(rx.count(), 1, "nothing parked was delivered");
}
