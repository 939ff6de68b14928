//! Classic subscription queues (`HOOKFLEET_SUBSCRIPTION_QUEUES=classic`, the design for
//! 10,000 subscriptions on one node) keep the promises quorum queues keep: delivery, the retry
//! ladder, FIFO, poison and exhausted messages parked once; and a worker whose consumers are
//! spread over several connections delivers on all of them, and again after the broker closed
//! them all.
use hookfleet_bus::QueueKind;
use hookfleet_testkit::{Options, Receiver, Reply, TestApp, spawn_app_with};
use serde_json::{Value, json};
use std::time::Duration;

const MANAGEMENT: &str = "http://guest:guest@127.0.0.1:15672/api";

async fn management(app: &TestApp, path: &str) -> Value {
    app.http
        .get(format!("{MANAGEMENT}{path}"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("the management API answers (scripts/services.sh enables it)")
        .json()
        .await
        .expect("a JSON answer")
}

/// The names of this app's delivery connections the broker lists.
async fn delivery_connections(app: &TestApp) -> Vec<String> {
    let marker = format!("hookfleet-{}delivery", app.topology.prefix());
    let listed = management(app, "/connections?columns=client_properties").await;
    listed
        .as_array()
        .expect("a list of connections")
        .iter()
        .filter_map(|c| c["client_properties"]["connection_name"].as_str())
        .filter(|n| n.starts_with(&marker))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn classic_queues_keep_delivery_ladder_fifo_and_parking_over_several_connections() {
    let mut opts = Options {
        subscription_queues: QueueKind::Classic,
        // Classic is the type of a subscription's own queue: every subscription gets one here.
        shards: 0,
        ..Options::default()
    };
    opts.delivery.consumers_per_connection = 2;
    let app = spawn_app_with(opts).await;
    let flaky = Receiver::start().await;
    flaky.script([Reply::Status(500), Reply::Status(503)]);
    let steady = Receiver::start().await;
    let down = Receiver::start().await;
    down.reply(Reply::Status(500));

    let first = app
        .subscribe(json!({"url": flaky.url, "event_types": ["#"]}))
        .await;
    app.subscribe(json!({"url": steady.url, "event_types": ["#"], "ordering": "fifo"}))
        .await;
    for _ in 0..3 {
        app.subscribe(json!({"url": steady.url, "event_types": ["#"]}))
            .await;
    }
    app.subscribe(json!({"url": down.url, "event_types": ["#"], "retry_ladder": []}))
        .await;
    let queue = app
        .topology
        .subscription_queue(first["id"].as_str().expect("an id"));
    let declared = management(&app, &format!("/queues/%2F/{queue}")).await;
    assert_eq!(declared["type"], "classic", "{declared}");
    assert_eq!(declared["arguments"]["x-queue-version"], 2, "{declared}");

    let id = app
        .publish(json!({"type": "user.created", "data": {"n": 1}}))
        .await;
    steady.wait_for(4, Duration::from_secs(20)).await;
    let outcomes = app.wait_for_deliveries(&id, 6).await;
    wait_statuses(&app, &id, &[("delivered", 5), ("exhausted", 1)]).await;
    assert_eq!(outcomes.len(), 6);
    assert_eq!(
        flaky.received().len(),
        3,
        "two failures, then delivered on the ladder"
    );

    // Six consumers, two per connection: the worker holds at least three connections.
    app.wait_until(
        Duration::from_secs(10),
        "the worker's consumers are spread over three connections or more",
        || async { delivery_connections(&app).await.len() >= 3 },
    )
    .await;

    // A message no stage can read, put straight into a classic queue, is parked once.
    app.put_raw(&queue, b"{\"id\": 42}").await;
    let dead = app.topology.dead();
    app.wait_until(
        Duration::from_secs(10),
        "the exhausted delivery and the poison message are parked",
        || async { app.queue_depth(&dead).await == Some(2) },
    )
    .await;
    assert_eq!(app.count("poison_messages").await, 1);

    // The broker closes every connection of the worker; it comes back on all of them.
    assert!(app.close_role_connections().await >= 3);
    app.wait_until(
        Duration::from_secs(30),
        "every subscription queue has its consumer back",
        || async {
            let queues = management(&app, "/queues/%2F?columns=name,consumers").await;
            let prefix = format!("{}hookfleet.sub.", app.topology.prefix());
            let ours: Vec<&Value> = queues
                .as_array()
                .expect("a list of queues")
                .iter()
                .filter(|q| q["name"].as_str().is_some_and(|n| n.starts_with(&prefix)))
                .collect();
            ours.len() == 6 && ours.iter().all(|q| q["consumers"] == 1)
        },
    )
    .await;
    let again = app
        .publish(json!({"type": "user.created", "data": {"n": 2}}))
        .await;
    steady.wait_for(8, Duration::from_secs(20)).await;
    wait_statuses(&app, &again, &[("delivered", 5), ("exhausted", 1)]).await;
}

/// Waits until the event's deliveries have exactly these statuses, in these numbers.
async fn wait_statuses(app: &TestApp, event: &str, want: &[(&str, usize)]) {
    app.wait_until(
        Duration::from_secs(20),
        "the deliveries reach their final statuses",
        || async {
            let got = app.deliveries(event).await;
            want.iter()
                .all(|(status, n)| got.iter().filter(|d| d["status"] == *status).count() == *n)
        },
    )
    .await;
}
