//! The delivery log across subscriptions (`GET /v1/deliveries`): every filter narrows it to
//! exactly the rows it names, pages never repeat a row, and a bad filter is a 422.
use hookfleet_testkit::{Receiver, spawn_app};
use serde_json::{Value, json};
use std::{collections::HashSet, time::Duration};

async fn ids(app: &hookfleet_testkit::TestApp, query: &str) -> Vec<(String, Value)> {
    let res = app.get(&format!("/v1/deliveries{query}")).await;
    assert_eq!(res.status(), 200, "{query}");
    let page: Value = res.json().await.unwrap();
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["id"].as_str().unwrap().to_owned(), d.clone()))
        .collect()
}

#[tokio::test]
async fn the_log_across_subscriptions_filters_by_subscription_type_organization_and_status() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let a = app
        .subscribe(json!({"url": rx.url, "event_types": ["user.*"]}))
        .await;
    let b = app
        .subscribe(json!({"url": rx.url, "event_types": ["user.created", "order.paid"]}))
        .await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    for (ty, org) in [
        ("user.created", "org-1"),
        ("user.deleted", "org-2"),
        ("order.paid", "org-1"),
    ] {
        let res = app
            .post(
                "/v1/events",
                &json!({"type": ty, "data": {}, "organization_ids": [org]}),
            )
            .await;
        assert_eq!(res.status(), 202);
    }
    // a gets user.created and user.deleted, b gets user.created and order.paid.
    rx.wait_for(4, Duration::from_secs(15)).await;
    app.wait_until(
        Duration::from_secs(10),
        "4 deliveries recorded as delivered",
        || async { ids(&app, "?status=delivered").await.len() == 4 },
    )
    .await;

    let all = ids(&app, "").await;
    assert_eq!(all.len(), 4);
    let types: Vec<&str> = all
        .iter()
        .map(|(_, d)| d["event_type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"order.paid") && types.contains(&"user.deleted"),
        "{types:?}"
    );

    let of_a = ids(&app, &format!("?subscription_id={a}")).await;
    assert_eq!(of_a.len(), 2);
    assert!(of_a.iter().all(|(_, d)| d["subscription_id"] == a));
    let created = ids(&app, "?type=user.created").await;
    assert_eq!(created.len(), 2);
    assert!(
        created
            .iter()
            .all(|(_, d)| d["event_type"] == "user.created")
    );
    let org1_b = ids(&app, &format!("?organization_id=org-1&subscription_id={b}")).await;
    assert_eq!(org1_b.len(), 2, "{org1_b:?}");
    assert!(ids(&app, "?status=exhausted").await.is_empty());
    assert!(ids(&app, "?until=2000-01-01T00:00:00Z").await.is_empty());
    // The per-subscription route takes the same filters.
    let res = app
        .get(&format!("/v1/subscriptions/{b}/deliveries?type=order.paid"))
        .await;
    let page: Value = res.json().await.unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 1, "{page}");

    // Pages of one: every row once.
    let mut seen = HashSet::new();
    let mut cursor = String::new();
    loop {
        let res = app.get(&format!("/v1/deliveries?limit=1{cursor}")).await;
        let page: Value = res.json().await.unwrap();
        for d in page["data"].as_array().unwrap() {
            assert!(
                seen.insert(d["id"].as_str().unwrap().to_owned()),
                "repeated {d}"
            );
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 4);

    for bad in [
        "?type=a%00b",
        "?organization_id=%00",
        "?subscription_id=nope",
        "?status=lost",
        "?since=yesterday",
        "?cursor=zzz",
        "?limit=0",
    ] {
        let res = app.get(&format!("/v1/deliveries{bad}")).await;
        assert_eq!(res.status(), 422, "{bad}");
        let body: Value = res.json().await.unwrap();
        assert!(body["error"]["code"].is_string(), "{bad}: {body}");
    }
    // A parameter the route does not know is a malformed request, as on every route.
    assert_eq!(app.get("/v1/deliveries?colour=red").await.status(), 400);
}
