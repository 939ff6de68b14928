//! The delivery log: test sends and retries in it, one delivery's view, and pages that never miss or repeat a row.
use hookfleet_testkit::{Receiver, TOKEN, spawn_app};
use serde_json::{Value, json};
use std::{collections::HashSet, time::Duration};

#[tokio::test]
async fn a_test_send_retry_and_the_delivery_view_show_in_the_log() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let sub = app
        .subscribe(json!({"url": rx.url, "event_types": ["user.created"]}))
        .await;
    let sub_id = sub["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/v1/subscriptions/{sub_id}/test"),
            &json!({"event_type": "user.created"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let sent: Value = res.json().await.unwrap();
    let got = rx.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].json()["type"], "user.created");
    assert_eq!(
        got[0].header("webhook-id"),
        sent["delivery_id"].as_str().unwrap()
    );

    let delivery_path = format!("/v1/deliveries/{}", sent["delivery_id"].as_str().unwrap());
    app.wait_until(
        Duration::from_secs(10),
        "the test delivery is recorded",
        || async { app.get(&delivery_path).await.status() == 200 },
    )
    .await;
    let d: Value = app.get(&delivery_path).await.json().await.unwrap();
    assert_eq!(d["is_test"], true, "{d}");
    assert_eq!(d["status"], "delivered");
    assert_eq!(d["attempts"][0]["response_excerpt"], "ok", "{d}");

    // Retry: one more attempt on the same webhook-id.
    let res = app
        .post(&format!("{delivery_path}/retry"), &json!({}))
        .await;
    assert_eq!(res.status(), 202);
    let got = rx.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(got[1].header("webhook-id"), got[0].header("webhook-id"));
    app.wait_until(
        Duration::from_secs(10),
        "the retry is recorded as attempt 2",
        || async {
            app.get(&delivery_path).await.json::<Value>().await.unwrap()["attempt_count"] == 2
        },
    )
    .await;
    assert_eq!(
        app.get("/v1/deliveries/dlv_00000000000000000000000000000000")
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn the_log_pages_through_10000_attempts_with_no_row_missing_or_repeated() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let sub = app
        .subscribe(json!({"url": rx.url, "event_types": ["never.sent"]}))
        .await;
    let sub_id = sub["id"].as_str().unwrap().to_owned();
    let typed_sub: hookfleet_core::SubscriptionId = sub_id.parse().unwrap();
    // 2,500 deliveries × 4 attempts, written as the workers write them.
    let outcomes = |range: std::ops::Range<usize>, tag: &str| -> Vec<hookfleet_store::OutcomeRow> {
        let mut rows = Vec::new();
        for i in range {
            let event = hookfleet_core::EventId::for_key(
                &hookfleet_core::KeySpace::Native,
                &format!("{tag}-{i}"),
            );
            let id = hookfleet_core::DeliveryId::derive(&event, None, None, &typed_sub);
            for attempt in 1..=4 {
                rows.push(hookfleet_store::OutcomeRow {
                    delivery_id: id.clone(),
                    event_id: event.clone(),
                    subscription_id: typed_sub.clone(),
                    organization_id: None,
                    service_partition: None,
                    attempt,
                    status: hookfleet_store::DeliveryStatus::Failed,
                    sent_at: time::OffsetDateTime::now_utc(),
                    status_code: Some(500),
                    duration_ms: 1,
                    error: None,
                    response_excerpt: None,
                    next_attempt_at: None,
                    is_test: false,
                    disable_reason: None,
                    counted: false,
                });
            }
        }
        rows
    };
    for chunk in 0..10 {
        app.store
            .record_outcomes(&outcomes(chunk * 250..(chunk + 1) * 250, "seed"), &[])
            .await
            .unwrap();
    }
    assert_eq!(app.count("delivery_attempts").await, 10_000);

    // Page through while more deliveries keep arriving.
    let store = app.store.clone();
    let extra = outcomes(0..500, "late");
    let writer = tokio::spawn(async move {
        for chunk in extra.chunks(40) {
            store.record_outcomes(chunk, &[]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let start_cursor_time = time::OffsetDateTime::now_utc();
    let mut seen_attempts: HashSet<(String, i64)> = HashSet::new();
    let mut seen_deliveries: HashSet<String> = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut url = format!("{}/v1/subscriptions/{sub_id}/deliveries?limit=100", app.api);
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = app
            .http
            .get(url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for d in page["data"].as_array().unwrap() {
            let id = d["id"].as_str().unwrap().to_owned();
            assert!(seen_deliveries.insert(id.clone()), "delivery {id} repeated");
            for a in d["attempts"].as_array().unwrap() {
                assert!(
                    seen_attempts.insert((id.clone(), a["attempt"].as_i64().unwrap())),
                    "attempt repeated"
                );
            }
        }
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    writer.await.unwrap();
    let seeded: HashSet<String> = outcomes(0..2500, "seed")
        .into_iter()
        .map(|o| o.delivery_id.to_string())
        .collect();
    assert!(
        seeded.is_subset(&seen_deliveries),
        "{} seeded deliveries missing",
        seeded.difference(&seen_deliveries).count()
    );
    let seeded_attempts = seen_attempts
        .iter()
        .filter(|(id, _)| seeded.contains(id))
        .count();
    assert_eq!(seeded_attempts, 10_000);
    assert!(pages >= 25);
    let _ = start_cursor_time;

    // Filters and bad parameters.
    let failed: Value = app
        .get(&format!(
            "/v1/subscriptions/{sub_id}/deliveries?status=delivered"
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(failed["data"].as_array().unwrap().len(), 0);
    for bad in [
        "status=nope",
        "limit=0",
        "limit=5000",
        "cursor=garbage",
        "since=yesterday",
        "colour=red",
    ] {
        let res = app
            .get(&format!("/v1/subscriptions/{sub_id}/deliveries?{bad}"))
            .await;
        assert!(
            matches!(res.status().as_u16(), 400 | 422),
            "{bad}: {}",
            res.status()
        );
    }
}

#[tokio::test]
async fn retrying_an_exhausted_delivery_takes_its_parked_copy_out_of_the_dead_queue() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.reply(hookfleet_testkit::Reply::Status(500));
    // Another subscription's parked copy, which the walk must leave where it is.
    let other = Receiver::start().await;
    other.reply(hookfleet_testkit::Reply::Status(500));
    app.subscribe(json!({"url": rx.url, "event_types": ["a.failed"], "retry_ladder": []}))
        .await;
    app.subscribe(json!({"url": other.url, "event_types": ["b.failed"], "retry_ladder": []}))
        .await;
    let event = app.publish(json!({"type": "a.failed", "data": {}})).await;
    let other_event = app.publish(json!({"type": "b.failed", "data": {}})).await;
    let d = app.wait_status(&event, "exhausted").await;
    app.wait_status(&other_event, "exhausted").await;
    let dead = app.topology.dead();
    app.wait_until(Duration::from_secs(10), "both are parked", || async {
        app.queue_depth(&dead).await == Some(2)
    })
    .await;

    rx.reply(hookfleet_testkit::Reply::Status(200));
    let res = app
        .post(
            &format!("/v1/deliveries/{}/retry", d["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["removed_from_dead"], 1, "{answer}");
    app.wait_status(&event, "delivered").await;
    assert_eq!(
        app.queue_depth(&dead).await,
        Some(1),
        "the other copy stays"
    );
    // A recovery of the window now finds nothing of it to send again.
    let sub_id = d["subscription_id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/v1/subscriptions/{sub_id}/recover"),
            &json!({"since": "2000-01-01T00:00:00Z"}),
        )
        .await;
    let recovered: Value = res.json().await.unwrap();
    assert_eq!(recovered["recovered"], 0, "{recovered}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.succeeded().len(), 1, "delivered once");
}
