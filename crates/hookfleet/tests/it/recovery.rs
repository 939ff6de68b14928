//! Recovery: a window of failed deliveries delivered again once each, their parked copies taken out of the dead queue.
use hookfleet_testkit::{Receiver, Reply, spawn_app};
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn recover_delivers_exactly_the_failed_deliveries_of_its_window_once_each() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.reply(Reply::Status(500));
    let sub = app
        .subscribe(json!({"url": rx.url, "event_types": ["#"], "retry_ladder": []}))
        .await;
    let sub_id = sub["id"].as_str().unwrap();

    let before = app.publish(json!({"type": "w.before", "data": {}})).await;
    app.wait_status(&before, "exhausted").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let since = time::OffsetDateTime::now_utc();
    let mut inside = Vec::new();
    for i in 0..3 {
        inside.push(
            app.publish(json!({"type": "w.inside", "data": {"i": i}}))
                .await,
        );
    }
    for id in &inside {
        app.wait_status(id, "exhausted").await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let until = time::OffsetDateTime::now_utc();
    let after = app.publish(json!({"type": "w.after", "data": {}})).await;
    app.wait_status(&after, "exhausted").await;
    // An outcome is committed before its message is parked: wait for the last park.
    app.wait_until(Duration::from_secs(10), "5 messages parked", || async {
        app.queue_depth(&app.topology.dead()).await == Some(5)
    })
    .await;

    rx.reply(Reply::Status(200));
    let fmt = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let window = json!({"since": fmt(since), "until": fmt(until)});
    let res = app
        .post(&format!("/v1/subscriptions/{sub_id}/recover"), &window)
        .await;
    assert_eq!(res.status(), 202);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["recovered"], 3, "{body}");
    assert_eq!(body["removed_from_dead"], 3, "{body}");

    for id in &inside {
        assert_eq!(app.wait_status(id, "delivered").await["attempt_count"], 2);
    }
    // Recovering the same window again finds nothing left to recover.
    let again: Value = app
        .post(&format!("/v1/subscriptions/{sub_id}/recover"), &window)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["recovered"], 0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let delivered: Vec<String> = rx
        .succeeded()
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted = delivered.clone();
    sorted.sort();
    let mut expected = inside.clone();
    expected.sort();
    assert_eq!(
        sorted, expected,
        "exactly the window's deliveries, once each"
    );
    assert_eq!(app.deliveries(&before).await[0]["status"], "exhausted");
    assert_eq!(app.deliveries(&after).await[0]["status"], "exhausted");
    assert_eq!(
        app.queue_depth(&app.topology.dead()).await,
        Some(2),
        "the others stay parked"
    );
}

#[tokio::test]
async fn recover_walks_a_dead_queue_longer_than_one_round() {
    // 600 parked messages: the walk takes them in rounds of 500, puts back the 300 outside the
    // window, and removes the 300 inside it.
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.reply(Reply::Status(500));
    let sub = app
        .subscribe(
            json!({"url": rx.url, "event_types": ["#"], "retry_ladder": [], "max_in_flight": 64}),
        )
        .await;
    let sub_id = sub["id"].as_str().unwrap();
    let exhausted = || async {
        app.db
            .query_one(
                &format!(
                    "SELECT count(*) FROM {}.deliveries WHERE status = 'exhausted'",
                    app.topology.prefix().trim_end_matches('.')
                ),
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    for i in 0..300 {
        app.publish(json!({"type": "w.old", "data": {"i": i}}))
            .await;
    }
    app.wait_until(
        Duration::from_secs(30),
        "300 deliveries exhausted",
        || async { exhausted().await == 300 },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let since = time::OffsetDateTime::now_utc();
    for i in 0..300 {
        app.publish(json!({"type": "w.new", "data": {"i": i}}))
            .await;
    }
    app.wait_until(
        Duration::from_secs(30),
        "600 deliveries exhausted",
        || async { exhausted().await == 600 },
    )
    .await;
    // An outcome is committed before its message is parked: wait for the last parks.
    app.wait_until(Duration::from_secs(10), "600 messages parked", || async {
        app.queue_depth(&app.topology.dead()).await == Some(600)
    })
    .await;

    rx.reply(Reply::Status(200));
    let since = since
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let res = app
        .post(
            &format!("/v1/subscriptions/{sub_id}/recover"),
            &json!({"since": since}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["recovered"], 300, "{body}");
    assert_eq!(body["removed_from_dead"], 300, "{body}");
    assert_eq!(app.queue_depth(&app.topology.dead()).await, Some(300));
    let got = rx.wait_for(600 + 300, Duration::from_secs(30)).await;
    let recovered: std::collections::HashSet<i64> = got
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| {
            assert_eq!(r.json()["type"], "w.new", "only the window is recovered");
            r.json()["data"]["i"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(recovered.len(), 300);
}

#[tokio::test]
async fn one_recover_call_takes_at_most_10000_deliveries_and_says_where_to_go_on() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let sub = app
        .subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let sub_id = sub["id"].as_str().unwrap();
    // Disabled, so the replays wait in its queue instead of loading the test's receiver.
    let disabled = app
        .post(&format!("/v1/subscriptions/{sub_id}/disable"), &json!({}))
        .await;
    assert_eq!(disabled.status(), 200);
    app.db
        .execute(
            r#"WITH e AS (
                   INSERT INTO events (id, type, "timestamp", organization_ids, service_partitions, data, routed_at)
                   SELECT 'evt_' || lpad(to_hex(i), 32, '0'), 'r.bulk', now(), '[]', '[]', '{}', now()
                   FROM generate_series(1, 10050) AS i
                   RETURNING id)
               INSERT INTO deliveries (id, event_id, subscription_id, status, attempts, created_at)
               SELECT 'dlv_' || substr(id, 5), id, $1, 'exhausted', 1, now() - interval '1 minute'
               FROM e"#,
            &[&sub_id],
        )
        .await
        .unwrap();
    let since = (time::OffsetDateTime::now_utc() - Duration::from_secs(3600))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let path = format!("/v1/subscriptions/{sub_id}/recover");
    let first: Value = app
        .post(&path, &json!({"since": since}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["recovered"], 10_000, "{first}");
    assert_eq!(first["remaining"], 50, "{first}");
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a cursor while some remain");
    let rest: Value = app
        .post(&path, &json!({"since": since, "cursor": cursor}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["recovered"], 50, "{rest}");
    assert_eq!(rest["remaining"], 0, "{rest}");
    assert!(rest["next_cursor"].is_null(), "{rest}");
    let pending: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM deliveries WHERE status = 'pending'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(pending, 10_050, "each claimed once");
}
