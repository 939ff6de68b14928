//! Workers and routers read, at each notice, only the subscriptions changed since their last
//! read. Nothing may be missed that way: a change still uncommitted when a read begins is
//! read, once committed, by the next.
use hookfleet_testkit::spawn_app;
use serde_json::json;

#[tokio::test]
async fn a_change_committed_during_a_read_is_read_at_the_next() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for path in ["a", "b"] {
        let sub = app
            .subscribe(json!({"url": format!("http://93.184.216.34/{path}"), "event_types": ["x"]}))
            .await;
        ids.push(sub["id"].as_str().unwrap().to_owned());
    }
    let (a, b) = (&ids[0], &ids[1]);
    let changed_url = "http://93.184.216.34/changed";

    let before = app.store.change_mark().await.unwrap();
    app.db
        .batch_execute(&format!(
            "BEGIN; UPDATE subscriptions SET url = '{changed_url}' WHERE id = '{a}'"
        ))
        .await
        .unwrap();
    // A reader marks, then reads while the change is still open: it cannot see it.
    let during = app.store.change_mark().await.unwrap();
    let seen = app.store.changed_subscriptions(&before, 100).await.unwrap();
    let seen = seen.expect("two changes are within the limit");
    assert!(
        seen.active.readable.iter().all(|r| r.url != changed_url),
        "an uncommitted change is not visible"
    );
    app.db.batch_execute("COMMIT").await.unwrap();
    // Its next read, from the mark it took before, has it.
    let seen = app.store.changed_subscriptions(&during, 100).await.unwrap();
    let seen = seen.expect("within the limit");
    assert!(
        (seen.active.readable.iter()).any(|r| r.id.as_str() == a && r.url == changed_url),
        "the change committed during the last read is read now"
    );

    // A deletion: out of the workers' set and the routers' index.
    let after = app.store.change_mark().await.unwrap();
    assert_eq!(
        app.delete(&format!("/v1/subscriptions/{b}")).await.status(),
        204
    );
    let seen = app.store.changed_subscriptions(&after, 100).await.unwrap();
    let inactive = seen.expect("within the limit").inactive;
    assert!(inactive.iter().any(|id| id.as_str() == b), "{inactive:?}");
    let routes = app.store.changed_routes(&after, 100).await.unwrap();
    let routes = routes.expect("within the limit");
    assert!(routes.unrouted.iter().any(|id| id.as_str() == b));
    assert!(routes.routed.iter().all(|r| r.id.as_str() != b));

    // More changes than the reader takes in place: it is told to read everything.
    assert!(
        app.store
            .changed_subscriptions(&before, 1)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        app.store
            .changed_routes(&before, 1)
            .await
            .unwrap()
            .is_none()
    );
}
