//! The fan-out rule: k organizations × m partitions, filtered by each subscription's bindings.
use hookfleet_testkit::{Receiver, spawn_app};
use serde_json::{Value, json};
use std::{collections::BTreeSet, time::Duration};

/// (organization_id, service_partition) of each delivery, as JSON text (null when absent).
fn scopes(received: &[hookfleet_testkit::Received]) -> BTreeSet<(String, String)> {
    received
        .iter()
        .map(|r| {
            let v = r.json();
            (
                v["organization_id"].to_string(),
                v["service_partition"].to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_event_fans_out_per_organization_and_partition_to_each_matching_subscription() {
    let app = spawn_app().await;
    let (all, org1, narrow, other) = (
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
        Receiver::start().await,
    );
    app.subscribe(json!({"url": all.url, "event_types": ["user.*"]}))
        .await;
    app.subscribe(
        json!({"url": org1.url, "event_types": ["user.created"], "organizations": ["org-1"]}),
    )
    .await;
    app.subscribe(json!({
        "url": narrow.url, "event_types": ["user.#"],
        "organizations": ["org.two"], "partitions": ["pca.hub.tdi1"],
    }))
    .await;
    app.subscribe(json!({"url": other.url, "event_types": ["organization.created"]}))
        .await;

    let id = app
        .publish(json!({
            "type": "user.created",
            "organization_ids": ["org-1", "org.two"],
            "service_partitions": ["pca.hub.tdi1", "pca.hub.tdi2"],
            "data": {"user_id": "u1"},
        }))
        .await;
    // 4 + 2 + 1 deliveries; wait for all of them to be recorded, then a little longer, so a
    // surplus copy would have had time to arrive.
    app.wait_for_deliveries(&id, 7).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let got_all = all.received();
    assert_eq!(got_all.len(), 4, "user.* gets every copy");
    let expected: BTreeSet<(String, String)> = [
        ("org-1", "pca.hub.tdi1"),
        ("org-1", "pca.hub.tdi2"),
        ("org.two", "pca.hub.tdi1"),
        ("org.two", "pca.hub.tdi2"),
    ]
    .into_iter()
    .map(|(o, p)| (json!(o).to_string(), json!(p).to_string()))
    .collect();
    assert_eq!(scopes(&got_all), expected);
    // Copies differ only in the two scope fields.
    let stripped: BTreeSet<String> = got_all
        .iter()
        .map(|r| {
            let mut v = r.json();
            v.as_object_mut().unwrap().remove("organization_id");
            v.as_object_mut().unwrap().remove("service_partition");
            v.to_string()
        })
        .collect();
    assert_eq!(stripped.len(), 1, "copies differ elsewhere: {stripped:?}");
    assert_eq!(got_all[0].json()["id"], json!(id));
    assert_eq!(got_all[0].json()["data"], json!({"user_id": "u1"}));

    let got_org1 = org1.received();
    assert_eq!(
        got_org1.len(),
        2,
        "organization filter keeps org-1's two partitions"
    );
    assert!(
        got_org1
            .iter()
            .all(|r| r.json()["organization_id"] == "org-1")
    );

    let got_narrow = narrow.received();
    assert_eq!(got_narrow.len(), 1, "org.two × pca.hub.tdi1 only");
    assert_eq!(
        scopes(&got_narrow),
        [(
            json!("org.two").to_string(),
            json!("pca.hub.tdi1").to_string()
        )]
        .into()
    );

    assert_eq!(
        other.count(),
        0,
        "organization.created matches no copy of user.created"
    );

    let recorded = app.deliveries(&id).await;
    assert_eq!(recorded.len(), 7);
    assert!(
        recorded
            .iter()
            .all(|d| d["status"] == "delivered" && d["attempts"].as_array().unwrap().len() == 1)
    );
}

#[tokio::test]
async fn an_event_without_scopes_is_one_copy_with_null_scope_fields() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let scoped = Receiver::start().await;
    app.subscribe(json!({"url": scoped.url, "event_types": ["#"], "organizations": ["acme"]}))
        .await;
    let id = app
        .publish(json!({"type": "organization.created", "data": {}}))
        .await;
    app.wait_for_deliveries(&id, 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got = rx.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["organization_id"], Value::Null);
    assert_eq!(got[0].json()["service_partition"], Value::Null);
    assert_eq!(
        scoped.count(),
        0,
        "an organization filter does not match an event without one"
    );
}
