//! Promise 4 past the edge: a message a stage cannot store is isolated (its batch split until it
//! stands alone), parked in `hookfleet.dead` with its reason and noted in the record, and
//! everything else flows on; what a receiver answers is stored sanitized.
use crate::hostile::deep;
use hookfleet_bus::HEADER_REASON;
use hookfleet_core::EventId;
use hookfleet_testkit::{Receiver, Reply, spawn_app};
use lapin::{
    options::{BasicAckOptions, BasicGetOptions},
    types::AMQPValue,
};
use serde_json::{Value, json};
use std::time::Duration;

/// What an ingest message looks like when a producer (of this or an older version, or anyone
/// with access to the broker) put it there: the router must cope with whatever it holds.
fn ingest_message(data: &str) -> Vec<u8> {
    format!(
        r#"{{"id":"{}","type":"poison.test","timestamp":"2026-11-23T12:00:00.000Z","organization_ids":[],"service_partitions":[],"idempotency_key":null,"data":{data}}}"#,
        EventId::random()
    )
    .into_bytes()
}

#[tokio::test]
async fn unstorable_ingest_messages_are_parked_with_their_reason_and_the_rest_flow() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let poison = [
        r#"{"k":"\u0000"}"#.to_owned(),
        r#"{"k":"\ud800"}"#.to_owned(),
        r#"{"k":1e999999}"#.to_owned(),
        format!(r#"{{"k":{}}}"#, deep(100_000)),
    ];
    // Good and bad interleaved and sent together, so they share router batches.
    let mut bodies = Vec::new();
    for i in 0..40 {
        bodies.push(ingest_message(&format!(r#"{{"n":{i}}}"#)));
        if i % 10 == 5 {
            bodies.push(ingest_message(&poison[i / 10]));
        }
    }
    for body in &bodies {
        app.put_raw(&app.topology.ingest(), body).await;
    }
    rx.wait_for(40, Duration::from_secs(20)).await;
    let dead = app.topology.dead();
    app.wait_until(Duration::from_secs(10), "4 parked", || async {
        app.queue_depth(&dead).await == Some(4)
    })
    .await;
    assert_eq!(app.count("events").await, 40);
    assert_eq!(app.queue_depth(&app.topology.ingest()).await, Some(0));
    let reasons: Vec<String> = app
        .db
        .query("SELECT reason FROM poison_messages ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(
        reasons.iter().all(|r| r.starts_with("unstorable: ")),
        "{reasons:?}"
    );
    // Each parked message carries its reason.
    for _ in 0..4 {
        let msg = app
            .channel
            .basic_get(dead.as_str().into(), BasicGetOptions::default())
            .await
            .unwrap()
            .expect("a parked message");
        let reason = msg
            .properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get(HEADER_REASON).cloned());
        assert!(
            matches!(&reason, Some(AMQPValue::LongString(s)) if s.to_string().starts_with("unstorable")),
            "{reason:?}"
        );
        msg.acker.ack(BasicAckOptions::default()).await.unwrap();
    }
    assert_eq!(rx.count(), 40, "nothing parked was delivered");
}

#[tokio::test]
async fn a_receiver_answering_a_nul_byte_is_recorded_and_other_subscriptions_keep_recording() {
    let app = spawn_app().await;
    let (bad, good) = (Receiver::start().await, Receiver::start().await);
    bad.reply(Reply::Body(200, b"ab\0cd"));
    let hostile = app
        .subscribe(json!({"url": bad.url, "event_types": ["#"]}))
        .await;
    app.subscribe(json!({"url": good.url, "event_types": ["#"]}))
        .await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(app.publish(json!({"type": "a.b", "data": {"i": i}})).await);
    }
    for id in &ids {
        let deliveries = app.wait_for_deliveries(id, 2).await;
        assert!(
            deliveries.iter().all(|d| d["status"] == "delivered"),
            "{deliveries:?}"
        );
    }
    // The receiver's bytes were stored, made storable.
    let delivery = app.deliveries(&ids[0]).await;
    let mine = delivery
        .iter()
        .find(|d| d["subscription_id"] == hostile["id"])
        .unwrap();
    let one: Value = app
        .get(&format!("/v1/deliveries/{}", mine["id"].as_str().unwrap()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        one["attempts"][0]["response_excerpt"], "ab\u{FFFD}cd",
        "{one}"
    );
    assert_eq!(good.count(), 20);
}

#[tokio::test]
async fn an_outcome_the_record_refuses_is_parked_and_every_other_outcome_is_recorded() {
    let app = spawn_app().await;
    let (one, other) = (Receiver::start().await, Receiver::start().await);
    let sub = app
        .subscribe(json!({"url": one.url, "event_types": ["#"]}))
        .await;
    app.subscribe(json!({"url": other.url, "event_types": ["#"]}))
        .await;
    // A copy as only a broken or hostile publisher could write it: it decodes and is sent,
    // but its organization (NUL) cannot be stored with the attempt's outcome.
    let copy = format!(
        r#"{{"id":"{}","type":"a.b","timestamp":"2026-11-23T12:00:00.000Z","organization_id":"o\u0000","service_partition":null,"data":{{}}}}"#,
        EventId::random()
    );
    let sub_id = sub["id"].as_str().unwrap();
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(app.publish(json!({"type": "a.b", "data": {"i": i}})).await);
        if i == 4 {
            app.put_for(sub_id, copy.as_bytes()).await;
        }
    }
    for id in &ids {
        let recorded = app.wait_for_deliveries(id, 2).await;
        assert!(
            recorded.iter().all(|d| d["status"] == "delivered"),
            "{recorded:?}"
        );
    }
    let dead = app.topology.dead();
    app.wait_until(
        Duration::from_secs(10),
        "the refused copy is parked",
        || async { app.queue_depth(&dead).await == Some(1) },
    )
    .await;
    let reason: String = app
        .db
        .query_one("SELECT reason FROM poison_messages", &[])
        .await
        .unwrap()
        .get(0);
    assert!(reason.starts_with("unstorable outcome: "), "{reason}");
    assert_eq!(other.count(), 10);
    assert_eq!(app.count("deliveries").await, 20);
}
