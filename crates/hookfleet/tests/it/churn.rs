//! Creating and deleting subscriptions as fast as clients can never resets a worker's broker
//! connection, and a deleted subscription's queue goes once its grace has passed.
use hookfleet_testkit::{Receiver, spawn_app};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn subscription_churn_never_resets_a_workers_connection() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let churned = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["steady.#"]}))
        .await;
    let mut ids = Vec::new();
    for round in 0..10 {
        // Twenty at once, each deleted as soon as it exists, with copies on their way to them:
        // deletes race the workers' consume, cancel and ack on the same queues.
        let churn = (0..20).map(|i| {
            let (app, url) = (&app, churned.url.clone());
            async move {
                if i % 2 == 0 {
                    tokio::time::sleep(Duration::from_millis(i * 3)).await;
                }
                let s = app
                    .subscribe(json!({"url": url, "event_types": ["#"]}))
                    .await;
                let id = s["id"].as_str().unwrap().to_owned();
                if i % 3 == 0 {
                    tokio::time::sleep(Duration::from_millis(20 + i * 5)).await;
                }
                let res = app.delete(&format!("/v1/subscriptions/{id}")).await;
                assert_eq!(res.status(), 204);
            }
        });
        let ticks = async {
            let mut mine = Vec::new();
            for n in 0..5 {
                mine.push(
                    app.publish(json!({"type": "steady.tick", "data": {"round": round, "n": n}}))
                        .await,
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            mine
        };
        let (_, mine) = tokio::join!(futures_util::future::join_all(churn), ticks);
        ids.extend(mine);
    }
    rx.wait_for(50, Duration::from_secs(20)).await;
    for id in &ids {
        app.wait_for_deliveries(id, 1).await;
    }
    let (_, delivery) = app
        .links
        .iter()
        .find(|(role, _)| *role == "delivery")
        .unwrap();
    assert_eq!(delivery.sessions(), 1, "the delivery role reconnected");
    // The deleted subscriptions' queues go once their grace has passed.
    let deleted: Vec<String> = app
        .db
        .query("SELECT id FROM subscriptions WHERE state = 'deleted'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(deleted.len(), 200);
    app.wait_until(Duration::from_secs(20), "every deleted queue removed", || async {
        let left: i64 = app
            .db
            .query_one(
                "SELECT count(*) FROM subscriptions WHERE state = 'deleted' AND queue_deleted_at IS NULL",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        left == 0
    })
    .await;
    for id in deleted.iter().step_by(20) {
        let queue = app.topology.subscription_queue(id);
        assert_eq!(app.queue_depth(&queue).await, None, "{queue} is gone");
    }
    assert_eq!(
        delivery.sessions(),
        1,
        "removing the queues reset nothing either"
    );
}
