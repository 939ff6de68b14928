//! The record read back typed: a value this version cannot read (an id of the wrong shape, as
//! only a hand or a bug could have written it) is an error naming its column, answered like
//! any failure of the record (503), never a panic.
use hookfleet_store::{EventFilter, LogFilter, StoreError};
use hookfleet_testkit::spawn_app;

#[tokio::test]
async fn a_malformed_id_in_the_record_is_an_error_naming_its_column() {
    let app = spawn_app().await;
    let event = hookfleet_core::EventId::random();
    let delivery = hookfleet_core::DeliveryId::random();
    app.db
        .execute(
            r#"INSERT INTO events (id, type, "timestamp", organization_ids, service_partitions, data, routed_at)
               VALUES ('evt_not_an_id', 'a.b', now(), '[]', '[]', '{}', now()),
                      ($1, 'a.b', now(), '[]', '[]', '{}', now())"#,
            &[&event.as_str()],
        )
        .await
        .unwrap();
    app.db
        .execute(
            "INSERT INTO deliveries (id, event_id, subscription_id, status, attempts)
             VALUES ($1, $2, 'sub_x', 'failed', 1)",
            &[&delivery.as_str(), &event.as_str()],
        )
        .await
        .unwrap();
    let err = (app.store)
        .list_events(&EventFilter::default(), 10, None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unexpected(_)), "{err:?}");
    assert!(err.to_string().contains("column `id`"), "{err}");
    let err = (app.store)
        .deliveries(&LogFilter::default(), 10, None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("column `subscription_id`"),
        "{err}"
    );
    // The well-formed event still reads on its own.
    let one = app.store.event(&event).await.unwrap().unwrap();
    assert_eq!(one.id, event);
    assert_eq!(app.get("/v1/events").await.status(), 503);
    assert_eq!(app.get("/v1/deliveries").await.status(), 503);
}
