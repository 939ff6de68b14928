//! Reading the record of events: `GET /v1/events/{id}` and the listing, newest first, a page
//! at a time, by type or organization.
use hookfleet_testkit::spawn_app;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn events_are_shown_as_recorded_and_listed_newest_first_page_by_page() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for body in [
        json!({"type": "a.made", "organization_ids": ["o1"], "data": {"n": 1}, "idempotency_key": "first"}),
        json!({"type": "b.made", "data": {"n": 2}}),
        json!({"type": "a.made", "organization_ids": ["o1", "o2"], "data": {"n": 3}}),
    ] {
        ids.push(app.publish(body).await);
        // Recorded one after another, so the order is known.
        let n = ids.len() as i64;
        app.wait_until(Duration::from_secs(10), "the event is recorded", || async {
            app.count("events").await == n
        })
        .await;
    }
    let shown: Value = app
        .get(&format!("/v1/events/{}", ids[0]))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["id"], ids[0].as_str());
    assert_eq!(shown["type"], "a.made");
    assert_eq!(shown["organization_ids"], json!(["o1"]));
    assert_eq!(shown["data"], json!({"n": 1}));
    assert_eq!(shown["idempotency_key"], "first");
    assert!(shown["received_at"].is_string(), "{shown}");

    let page = |q: String| {
        let app = &app;
        async move {
            let res = app.get(&format!("/v1/events{q}")).await;
            assert_eq!(res.status(), 200, "{q}");
            res.json::<Value>().await.unwrap()
        }
    };
    let ids_of = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = page("?limit=2".into()).await;
    assert_eq!(ids_of(&first), [ids[2].clone(), ids[1].clone()]);
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let second = page(format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(ids_of(&second), [ids[0].clone()]);
    assert!(second["next_cursor"].is_null());
    assert_eq!(ids_of(&page("?type=b.made".into()).await), [ids[1].clone()]);
    assert_eq!(
        ids_of(&page("?organization_id=o1".into()).await),
        [ids[2].clone(), ids[0].clone()]
    );
    assert_eq!(
        ids_of(&page("?organization_id=o2&type=a.made".into()).await),
        [ids[2].clone()]
    );

    for (path, status) in [
        (
            "/v1/events/evt_0000000000000000000000000000dead".to_owned(),
            404,
        ),
        ("/v1/events/not-an-id".to_owned(), 404),
        ("/v1/events?cursor=nonsense".to_owned(), 422),
        ("/v1/events?colour=red".to_owned(), 400),
        ("/v1/events?limit=0".to_owned(), 422),
        ("/v1/events?type=%00".to_owned(), 422),
        ("/v1/events?type=a.*".to_owned(), 422),
        ("/v1/events?organization_id=o%001".to_owned(), 422),
    ] {
        let res = app.get(&path).await;
        assert_eq!(res.status(), status, "{path}");
        let err: Value = res.json().await.unwrap();
        assert!(err["error"]["code"].is_string(), "{path}: {err}");
    }
}
