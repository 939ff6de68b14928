//! Roles ride out the broker closing their connections: nothing is lost, nothing needs a restart.
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
