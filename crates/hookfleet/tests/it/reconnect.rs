//! Roles ride out the broker closing their connections and the database ending their sessions:
//! nothing is lost, nothing is recorded twice, nothing needs a restart.
use hookfleet_testkit::{Receiver, TOKEN, spawn_app};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn roles_reconnect_after_the_broker_closes_their_connections() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let before = app
        .publish(json!({"type": "order.placed", "organization_ids": ["o1"], "data": {"n": 1}}))
        .await;
    rx.wait_for(1, Duration::from_secs(10)).await;
    app.wait_for_deliveries(&before, 1).await;

    // Producer, router and delivery each hold one connection.
    assert_eq!(app.close_role_connections().await, 3);

    // While the producer reconnects it may answer 503 (and then nothing was accepted); it must
    // come back and accept the event without being restarted.
    let mut accepted = None;
    for _ in 0..200 {
        let res = app
            .http
            .post(app.url("/v1/events"))
            .bearer_auth(TOKEN)
            .json(&json!({"type": "order.placed", "organization_ids": ["o1"], "data": {"n": 2}}))
            .send()
            .await
            .expect("the API answers");
        match res.status().as_u16() {
            202 => {
                let body: serde_json::Value = res.json().await.expect("a JSON body");
                accepted = Some(body["id"].as_str().expect("an id").to_owned());
                break;
            }
            503 => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("unexpected status {other} while the producer reconnects"),
        }
    }
    let after = accepted.expect("the producer accepted events again within 10 s");

    // Router and delivery are back too: the new event reaches the endpoint and is recorded.
    let got = rx.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(got[1].json()["data"]["n"], 2);
    app.wait_for_deliveries(&after, 1).await;
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 200, "the producer reports ready again");
}

#[tokio::test]
async fn deliveries_survive_the_database_dropping_every_connection_mid_flow() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.reply(hookfleet_testkit::Reply::Slow(
        Duration::from_millis(5),
        200,
    ));
    app.subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let schema = app.topology.prefix().trim_end_matches('.').to_owned();
    let own: i32 = app
        .db
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);

    const EVENTS: usize = 200;
    let mut accepted = Vec::new();
    let mut ended = 0;
    for i in 0..EVENTS {
        accepted.push(
            app.publish(json!({"type": "load.db", "organization_ids": ["a"], "data": {"i": i}}))
                .await,
        );
        // Three times while events are being routed and delivered, the database ends every
        // session of this fleet (as a failover or a restart would), except the test's own.
        if i % 60 == 30 {
            ended += app
                .db
                .query_one(
                    "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE application_name = $1 AND pid <> $2) t",
                    &[&schema, &own],
                )
                .await
                .unwrap()
                .get::<_, i64>(0);
        }
    }
    // A round may find every role between sessions (backing off after the previous one).
    assert!(ended > 0, "the fleet had database sessions to end");

    // Every event reaches the endpoint, and each delivery is recorded once as delivered.
    app.wait_until(
        Duration::from_secs(60),
        "every delivery is recorded delivered",
        || async {
            app.db
                .query_one(
                    &format!("SELECT count(*) FROM {schema}.deliveries WHERE status = 'delivered'"),
                    &[],
                )
                .await
                .unwrap()
                .get::<_, i64>(0)
                == EVENTS as i64
        },
    )
    .await;
    let ids: std::collections::HashSet<i64> = rx
        .received()
        .iter()
        .map(|r| r.json()["data"]["i"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), EVENTS, "every event reached the endpoint");
    let row = app
        .db
        .query_one(
            &format!(
                "SELECT count(*), count(DISTINCT delivery_id) FROM {schema}.delivery_attempts"
            ),
            &[],
        )
        .await
        .unwrap();
    let (attempts, distinct): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!(distinct, EVENTS as i64);
    assert_eq!(attempts, EVENTS as i64, "no attempt recorded twice");
    assert_eq!(app.count("events").await, EVENTS as i64);
    assert_eq!(accepted.len(), EVENTS);
}

#[tokio::test]
async fn a_url_list_connects_through_whichever_node_is_up() {
    // A closed port first (a node that is down), then the live broker: every try gets through,
    // whichever node of the list it starts from.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("amqp://guest:guest@{}/%2f", dead.local_addr().unwrap());
    drop(dead);
    let list = format!("{dead_url}, {}", hookfleet_testkit::AMQP_URL);
    hookfleet_bus::check_url(&list).expect("a valid list");
    for _ in 0..3 {
        let session = hookfleet_bus::connect(&list, "test-list")
            .await
            .expect("connects");
        assert!(session.is_connected());
        session.close().await;
    }
    let none_up = format!("{dead_url},{dead_url}");
    assert!(hookfleet_bus::connect(&none_up, "test-list").await.is_err());
}
