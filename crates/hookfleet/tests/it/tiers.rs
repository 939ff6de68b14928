//! The tiered topology: where a subscription is placed and why, fairness inside a shard (a
//! slow subscription with a backlog never holds up the others of its shard), and the moves of
//! a shared-tier subscription to a queue of its own (hot) and back, with every copy delivered
//! exactly once across both moves.
use hookfleet_core::EventId;
use hookfleet_testkit::{Options, Receiver, Reply, TestApp, spawn_app_with};
use serde_json::{Value, json};
use std::{collections::HashMap, time::Duration};

/// A fleet with one shard, so every shared-tier subscription shares it.
fn one_shard() -> Options {
    let mut opts = Options {
        shards: 1,
        ..Options::default()
    };
    opts.delivery.hot_after_waiting = 8;
    opts.delivery.hot_idle = Duration::from_secs(1);
    opts
}

async fn get(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/subscriptions/{id}"))
        .await
        .json()
        .await
        .expect("JSON body")
}

/// How many times each delivery id reached `receiver`.
fn per_delivery(receiver: &Receiver) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for r in receiver.succeeded() {
        *seen.entry(r.header("webhook-id").to_owned()).or_default() += 1;
    }
    seen
}

#[tokio::test]
async fn each_subscription_is_placed_on_the_tier_its_kind_needs_and_says_why() {
    let app = spawn_app_with(Options {
        shards: 4,
        ..Options::default()
    })
    .await;
    let url = "http://127.0.0.1:9/hook";
    let tail = app
        .subscribe(json!({"url": url, "event_types": ["#"]}))
        .await;
    assert_eq!(tail["tier"], "shared", "{tail}");
    assert!(tail["tier_reason"].as_str().is_some_and(|r| !r.is_empty()));
    let fifo = app
        .subscribe(json!({"url": url, "event_types": ["#"], "ordering": "fifo"}))
        .await;
    assert_eq!(
        (fifo["tier"].as_str(), fifo["tier_reason"].as_str()),
        (Some("own"), Some("FIFO"))
    );
    let asked = app
        .subscribe(json!({"url": url, "event_types": ["#"], "tier": "own"}))
        .await;
    assert_eq!(asked["tier"], "own");
    // A shared subscription has no queue of its own; an own one has.
    let own_queue = |id: &Value| app.topology.subscription_queue(id.as_str().expect("an id"));
    assert_eq!(app.queue_depth(&own_queue(&tail["id"])).await, None);
    assert_eq!(app.queue_depth(&own_queue(&asked["id"])).await, Some(0));
    // A value that is not a tier is refused as any unknown enum value is (the body does not
    // parse); a tier that cannot be given is refused as invalid.
    let unknown_ordering = app
        .post(
            "/v1/subscriptions",
            &json!({"url": url, "event_types": ["#"], "ordering": "roomy"}),
        )
        .await
        .status();
    for (body, field, status) in [
        (
            json!({"url": url, "event_types": ["#"], "tier": "hot"}),
            "tier",
            422,
        ),
        (
            json!({"url": url, "event_types": ["#"], "tier": "shared", "ordering": "fifo"}),
            "tier",
            422,
        ),
        (
            json!({"url": url, "event_types": ["#"], "tier": "shared", "delivery": "pull"}),
            "tier",
            422,
        ),
        (
            json!({"url": url, "event_types": ["#"], "tier": "roomy"}),
            "tier",
            unknown_ordering.as_u16(),
        ),
    ] {
        let res = app.post("/v1/subscriptions", &body).await;
        assert_eq!(res.status(), status, "{body}");
        let answer: Value = res.json().await.expect("JSON body");
        assert!(answer.to_string().contains(field), "{answer}");
    }
    // Nothing was made by the refusals.
    assert_eq!(app.count("subscriptions").await, 3);
}

#[tokio::test]
async fn a_fleet_without_shards_refuses_the_shared_tier_and_gives_every_subscription_its_own_queue()
{
    let app = spawn_app_with(Options {
        shards: 0,
        ..Options::default()
    })
    .await;
    let made = app
        .subscribe(json!({"url": "http://127.0.0.1:9/", "event_types": ["#"]}))
        .await;
    assert_eq!(made["tier"], "own", "{made}");
    let res = app
        .post(
            "/v1/subscriptions",
            &json!({"url": "http://127.0.0.1:9/", "event_types": ["#"], "tier": "shared"}),
        )
        .await;
    assert_eq!(res.status(), 422);
}

/// One subscription of the shard answers slowly, one request at a time, with a backlog far
/// over its share; the others of its shard keep their latency, and it turns hot.
#[tokio::test]
async fn a_slow_subscription_with_a_backlog_does_not_hold_up_the_others_of_its_shard() {
    let app = spawn_app_with(one_shard()).await;
    let slow = Receiver::start().await;
    slow.reply(Reply::Slow(Duration::from_millis(200), 200));
    let quick = Receiver::start().await;
    let slow_sub = app
        .subscribe(json!({"url": slow.url, "event_types": ["slow.*"], "max_in_flight": 1}))
        .await;
    let slow_id = slow_sub["id"].as_str().expect("an id").to_owned();
    for _ in 0..3 {
        app.subscribe(json!({"url": quick.url, "event_types": ["quick.*"]}))
            .await;
    }
    app.wait_reconciled().await;
    // 60 copies for the slow one: 12 s of its work at one at a time.
    for i in 0..60 {
        app.publish(json!({"type": "slow.thing", "data": {"i": i}}))
            .await;
    }
    // Then the quick ones', one every 50 ms: each must arrive within a second, not behind the
    // slow one's backlog.
    let mut late = Vec::new();
    for i in 0..20 {
        let sent = tokio::time::Instant::now();
        app.publish(json!({"type": "quick.thing", "data": {"i": i}}))
            .await;
        let arrived = quick.wait_for(3 * (i + 1), Duration::from_secs(10)).await;
        let took = sent.elapsed();
        if took > Duration::from_secs(1) {
            late.push((i, took));
        }
        assert_eq!(arrived.len(), 3 * (i + 1));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(late.is_empty(), "quick deliveries held up: {late:?}");
    let shown = get(&app, &slow_id).await;
    assert_eq!(shown["tier"], "hot", "{shown}");
    // Every slow copy still arrives, once.
    slow.wait_for(60, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = per_delivery(&slow);
    assert_eq!(seen.len(), 60);
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
}

/// A subscription turns hot under a burst, goes back to its shard once idle, its emptied queue
/// is removed, and it turns hot again: every copy of every phase arrives exactly once, and
/// both moves show in the API.
#[tokio::test]
async fn copies_arrive_exactly_once_across_turning_hot_and_going_back() {
    let app = spawn_app_with(one_shard()).await;
    let receiver = Receiver::start().await;
    receiver.reply(Reply::Slow(Duration::from_millis(20), 200));
    let made = app
        .subscribe(json!({"url": receiver.url, "event_types": ["#"], "max_in_flight": 1}))
        .await;
    let id = made["id"].as_str().expect("an id").to_owned();
    let own_queue = app.topology.subscription_queue(&id);
    app.wait_reconciled().await;
    let mut sent = 0;
    for round in 0..2 {
        for i in 0..40 {
            app.publish(json!({"type": "burst", "data": {"round": round, "i": i}}))
                .await;
        }
        sent += 40;
        app.wait_until(Duration::from_secs(20), "it turned hot", || async {
            get(&app, &id).await["tier"] == "hot"
        })
        .await;
        receiver.wait_for(sent, Duration::from_secs(30)).await;
        app.wait_until(
            Duration::from_secs(20),
            "it went back to its shard",
            || async { get(&app, &id).await["tier"] == "shared" },
        )
        .await;
        let shown = get(&app, &id).await;
        assert!(
            shown["tier_reason"]
                .as_str()
                .is_some_and(|r| r.contains("idle")),
            "{shown}"
        );
        app.wait_until(
            Duration::from_secs(20),
            "its emptied queue was removed",
            || async { app.queue_depth(&own_queue).await.is_none() },
        )
        .await;
        // A few between bursts, delivered from the shard.
        for i in 0..3 {
            app.publish(json!({"type": "trickle", "data": {"round": round, "i": i}}))
                .await;
        }
        sent += 3;
        receiver.wait_for(sent, Duration::from_secs(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = per_delivery(&receiver);
    assert_eq!(seen.len(), sent, "every copy arrived");
    assert!(seen.values().all(|n| *n == 1), "none twice: {seen:?}");
    assert_eq!(
        hookfleet_testkit::counter("hookfleet_tier_moves_total{to=\"hot\"}"),
        2.0
    );
}

/// A whole shard prefetch of one subscription's copies in hand when it turns hot: each moves
/// to its queue once, the worker keeps its connection, and each copy arrives once. (The bench
/// at 8 subscriptions, release build, caught every copy in hand declaring the queue at once:
/// the connection ran out of channels, the broker closed it, and the copies in hand came back
/// to be delivered again. This debug-build test did not hit that race here even without the
/// fix; it holds the promise around it.)
#[tokio::test]
async fn a_prefetch_of_copies_in_hand_turns_hot_once_and_each_arrives_once() {
    let mut opts = one_shard();
    // More in hand than a connection has channels (2,047 by default).
    opts.delivery.shard_prefetch = 2_500;
    let mut app = spawn_app_with(opts).await;
    let receiver = Receiver::start().await;
    let made = app
        .subscribe(json!({"url": receiver.url, "event_types": ["#"], "max_in_flight": 1}))
        .await;
    let id = made["id"].as_str().expect("an id").to_owned();
    app.wait_reconciled().await;
    // Waiting in the shard while no worker runs, so the next takes a prefetch at once.
    app.stop().await;
    let sent = 3_000;
    for _ in 0..sent {
        let copy = json!({"id": EventId::random().to_string(), "type": "burst",
            "timestamp": "2026-12-02T12:00:00.000Z", "organization_id": null,
            "service_partition": null, "data": {}});
        app.put_for(&id, copy.to_string().as_bytes()).await;
    }
    app.restart().await;
    receiver.wait_for(sent, Duration::from_secs(90)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = per_delivery(&receiver);
    assert_eq!(seen.len(), sent, "every copy arrived");
    assert!(
        seen.values().all(|n| *n == 1),
        "none twice: {} twice",
        seen.values().filter(|n| **n > 1).count()
    );
    assert_eq!(get(&app, &id).await["tier"], "hot");
    assert_eq!(
        hookfleet_testkit::counter("hookfleet_role_restarts_total{role=\"delivery\"}"),
        0.0,
        "the worker kept its connection"
    );
}
