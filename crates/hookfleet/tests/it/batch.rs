//! `POST /v1/events/batch`: many events in one call, each answered on its own; an invalid item
//! refuses only itself, and every accepted one is delivered like a single `POST /v1/events`.
use hookfleet_testkit::{Receiver, spawn_app};
use serde_json::{Value, json};
use std::{collections::BTreeSet, time::Duration};

#[tokio::test]
async fn a_batch_accepts_each_valid_event_and_refuses_only_the_invalid_ones() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["batch.#"]}))
        .await;
    let mut events: Vec<Value> = (0..200)
        .map(|i| json!({"type": "batch.tick", "idempotency_key": format!("b-{i}"), "data": {"i": i}}))
        .collect();
    // A rule broken (422), a shape broken (400), and a repeat of item 0's key (accepted, the
    // same id, delivered once).
    events.push(json!({"type": "", "data": {}}));
    events.push(json!({"type": "batch.tick", "data": {}, "surplus": true}));
    events.push(json!({"type": "batch.tick", "idempotency_key": "b-0", "data": {"i": 0}}));

    let resp = app
        .post("/v1/events/batch", &json!({"events": events}))
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["accepted"], 201, "{body}");
    assert_eq!(body["refused"], 2);
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 203, "one result per item, in order");
    assert_eq!(data[200]["status"], 422);
    assert_eq!(data[200]["error"]["code"], "validation_failed");
    assert_eq!(data[201]["status"], 400);
    assert_eq!(data[201]["error"]["code"], "invalid_json");
    assert_eq!(data[202]["event"]["id"], data[0]["event"]["id"]);
    let ids: BTreeSet<String> = data[..200]
        .iter()
        .map(|d| {
            assert_eq!(d["status"], 202, "{d}");
            d["event"]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 200);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while rx.succeeded().len() < 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} delivered",
            rx.succeeded().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got: BTreeSet<String> = rx
        .succeeded()
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        got, ids,
        "every accepted event delivered, the repeated key once"
    );
    assert_eq!(rx.succeeded().len(), 200);
}

#[tokio::test]
async fn a_batch_that_is_empty_too_large_or_not_a_batch_is_refused_whole() {
    let app = spawn_app().await;
    let one = json!({"type": "batch.tick", "data": {}});
    for (body, status) in [
        (json!({"events": []}), 422),
        (json!({"events": vec![one.clone(); 1_001]}), 422),
        (json!([one.clone()]), 400),
        (json!({"events": [one.clone()], "extra": 1}), 400),
    ] {
        let resp = app.post("/v1/events/batch", &body).await;
        assert_eq!(resp.status(), status, "{body:.80}");
        let err: Value = resp.json().await.unwrap();
        assert!(err["error"]["code"].is_string(), "{err}");
    }
    // Over the batch route's body limit: 413 in the envelope, before the body is read.
    let huge = format!("{{\"events\": [\"{}\"]}}", "x".repeat(9 * 1024 * 1024));
    let resp = app.post_raw("/v1/events/batch", huge).await;
    assert_eq!(resp.status(), 413);
    assert_eq!(app.queue_depth(&app.topology.ingest()).await, Some(0));
    // Without a credential nothing is read at all.
    let resp = reqwest::Client::new()
        .post(app.url("/v1/events/batch"))
        .json(&json!({"events": [one]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn an_item_over_the_single_routes_limit_is_refused_alone() {
    let app = spawn_app().await;
    let one = json!({"type": "batch.tick", "data": {}});
    // One item over the single route's 256 KiB limit is refused alone (413), the other accepted.
    let big = json!({"type": "batch.tick", "data": {"pad": "x".repeat(300 * 1024)}});
    let resp = app
        .post("/v1/events/batch", &json!({"events": [big, one]}))
        .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"][0]["status"], 413, "{body:.300}");
    assert_eq!(body["data"][0]["error"]["code"], "payload_too_large");
    assert_eq!(body["data"][1]["status"], 202);
}
