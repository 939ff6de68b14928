//! Managing subscriptions: listing them, and rotating a signing secret without a gap.
use hookfleet_testkit::{Receiver, spawn_app};
use serde_json::{Value, json};
use std::time::Duration;

fn verifies(secret: &str, got: &hookfleet_testkit::Received) -> bool {
    standardwebhooks::Webhook::new(secret)
        .expect("a valid whsec_ secret")
        .verify(&got.body, &got.headers)
        .is_ok()
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_previous_one_until_its_grace_ends() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let sub = app
        .subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let (id, old) = (sub["id"].as_str().unwrap(), sub["secret"].as_str().unwrap());

    // Rotate with a grace of 5 s: deliveries carry both signatures meanwhile.
    let rotated_at = tokio::time::Instant::now();
    let res = app
        .post(
            &format!("/v1/subscriptions/{id}/secret/rotate"),
            &json!({"previous_valid_for": "5s"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let rotated: Value = res.json().await.unwrap();
    let new = rotated["key"].as_str().unwrap().to_owned();
    assert!(new.starts_with("whsec_") && new != old);
    assert_eq!(rotated["keys"], json!([new, old]));
    assert!(rotated["previous_keys_expire_at"].is_string());
    let shown: Value = app
        .get(&format!("/v1/subscriptions/{id}/secret"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown, rotated, "GET …/secret shows the same keys");

    // Workers are told at once and re-read subscriptions every reconcile interval (500 ms in
    // tests) at the latest: the promise is the new secret signs once they have.
    app.wait_reconciled().await;
    app.publish(json!({"type": "a.b", "data": {"n": 1}})).await;
    let got = rx.wait_for(1, Duration::from_secs(10)).await;
    let sigs: Vec<&str> = got[0].header("webhook-signature").split(' ').collect();
    assert_eq!(sigs.len(), 2, "one signature per valid secret: {sigs:?}");
    assert!(
        verifies(&new, &got[0]),
        "receivers on the new secret accept it"
    );
    assert!(
        verifies(old, &got[0]),
        "receivers still on the old secret accept it"
    );

    // After the grace the old secret no longer signs (workers re-read it at their reconcile).
    tokio::time::sleep_until(rotated_at + Duration::from_millis(5_200)).await;
    let shown: Value = app
        .get(&format!("/v1/subscriptions/{id}/secret"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["keys"], json!([new]));
    assert_eq!(shown["previous_keys_expire_at"], Value::Null);
    app.wait_reconciled().await;
    app.publish(json!({"type": "a.b", "data": {"n": 2}})).await;
    let got = rx.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(got[1].json()["data"]["n"], 2);
    assert!(!got[1].header("webhook-signature").contains(' '));
    assert!(verifies(&new, &got[1]));
    assert!(
        !verifies(old, &got[1]),
        "the expired secret no longer verifies"
    );

    // A rotation without a body uses the default grace; `0s` retires the previous at once.
    let res = app
        .http
        .post(app.url(&format!("/v1/subscriptions/{id}/secret/rotate")))
        .bearer_auth(hookfleet_testkit::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["keys"].as_array().unwrap().len(), 2);
    assert_eq!(body["keys"][1], new.as_str());
    let res = app
        .post(
            &format!("/v1/subscriptions/{id}/secret/rotate"),
            &json!({"previous_valid_for": "0s"}),
        )
        .await;
    let last: Value = res.json().await.unwrap();
    assert_eq!(last["keys"].as_array().unwrap().len(), 1);
    app.wait_reconciled().await;
    app.publish(json!({"type": "a.b", "data": {"n": 3}})).await;
    let got = rx.wait_for(3, Duration::from_secs(10)).await;
    assert!(verifies(last["key"].as_str().unwrap(), &got[2]));
    assert!(!got[2].header("webhook-signature").contains(' '));
}

#[tokio::test]
async fn a_bad_rotation_request_changes_nothing() {
    let app = spawn_app().await;
    let sub = app
        .subscribe(json!({"url": "http://127.0.0.1:9/x", "event_types": ["#"]}))
        .await;
    let id = sub["id"].as_str().unwrap();
    let path = format!("/v1/subscriptions/{id}/secret/rotate");
    for (body, status, code) in [
        (
            json!({"previous_valid_for": "8d"}),
            422,
            "validation_failed",
        ),
        (
            json!({"previous_valid_for": "soon"}),
            422,
            "validation_failed",
        ),
        (json!({"previous_valid_for": 5}), 400, "invalid_json"),
        (json!({"grace": "1h"}), 400, "invalid_json"),
    ] {
        let res = app.post(&path, &body).await;
        assert_eq!(res.status(), status, "{body}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["code"], code, "{body}: {err}");
    }
    let missing = app
        .post(
            "/v1/subscriptions/sub_0000000000000000000000000000beef/secret/rotate",
            &json!({}),
        )
        .await;
    assert_eq!(missing.status(), 404);
    let res = app
        .http
        .post(app.url(&path))
        .send()
        .await
        .expect("request sent");
    assert_eq!(res.status(), 401, "rotation needs the token");

    let shown: Value = app
        .get(&format!("/v1/subscriptions/{id}/secret"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        shown["keys"],
        json!([sub["secret"]]),
        "the secret is unchanged"
    );
}

#[tokio::test]
async fn subscriptions_are_listed_newest_first_without_secrets_page_by_page() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let sub = app
            .subscribe(json!({"url": format!("http://127.0.0.1:9/{i}"), "event_types": ["#"]}))
            .await;
        ids.push(sub["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        app.delete(&format!("/v1/subscriptions/{}", ids[2]))
            .await
            .status(),
        204
    );
    let deleted = ids.remove(2);
    ids.reverse();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/v1/subscriptions?limit=3".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let res = app.get(&path).await;
        assert_eq!(res.status(), 200);
        let page: Value = res.json().await.unwrap();
        pages += 1;
        for s in page["data"].as_array().unwrap() {
            assert!(s.get("secret").is_none(), "no secret in a listing: {s}");
            assert_eq!(s["state"], "active");
            seen.push(s["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ids, "every live subscription once, newest first");
    assert!(!seen.contains(&deleted));
    assert_eq!(pages, 2);

    for (query, status, code) in [
        ("limit=0", 422, "validation_failed"),
        ("limit=1001", 422, "validation_failed"),
        ("cursor=garbage", 422, "validation_failed"),
        ("limit=many", 400, "invalid_query"),
        ("colour=red", 400, "invalid_query"),
    ] {
        let res = app.get(&format!("/v1/subscriptions?{query}")).await;
        assert_eq!(res.status(), status, "{query}");
        let err: Value = res.json().await.unwrap();
        assert_eq!(err["error"]["code"], code, "{query}: {err}");
    }
}

#[tokio::test]
async fn changing_a_subscriptions_filters_rebinds_its_queue() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let sub = app
        .subscribe(json!({"url": rx.url, "event_types": ["a.*"]}))
        .await;
    let path = format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap());
    let send = |t: &'static str, org: &'static str, n: i64| {
        let app = &app;
        async move {
            app.publish(json!({"type": t, "organization_ids": [org], "data": {"n": n}}))
                .await
        }
    };
    // Publishes a sentinel the subscription receives under every filter below, waits for it,
    // and returns the `n` of everything received since `from`. Copies published before the
    // sentinel are routed before it; deliveries run concurrently, so allow them a moment more.
    let seen_after = |from: usize, sentinel: i64| {
        let (app, rx) = (&app, &rx);
        async move {
            app.publish(
                json!({"type": "a.sentinel", "organization_ids": ["o1"], "data": {"n": sentinel}}),
            )
            .await;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                let got: Vec<i64> = rx.received()[from..]
                    .iter()
                    .map(|r| r.json()["data"]["n"].as_i64().unwrap())
                    .collect();
                if got.contains(&sentinel) {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    return rx.received()[from..]
                        .iter()
                        .map(|r| r.json()["data"]["n"].as_i64().unwrap())
                        .filter(|n| *n != sentinel)
                        .collect::<Vec<_>>();
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the sentinel never arrived"
                );
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
    };

    send("a.x", "o2", 1).await;
    send("b.y", "o1", 2).await;
    let mut got = seen_after(0, 100).await;
    assert_eq!(got, [1]);

    let res = app
        .patch(
            &path,
            &json!({"event_types": ["a.*", "b.#"], "organizations": ["o1"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let view: Value = res.json().await.unwrap();
    assert_eq!(view["event_types"], json!(["a.*", "b.#"]));
    assert_eq!(view["organizations"], json!(["o1"]));

    let from = rx.count();
    send("a.x", "o2", 3).await; // organization no longer in scope
    send("b.y.z", "o1", 4).await; // newly bound type
    send("a.y", "o1", 5).await; // kept type, in scope
    send("c.d", "o1", 6).await; // never subscribed
    got = seen_after(from, 101).await;
    got.sort();
    assert_eq!(got, [4, 5]);

    // Bad filters get 422 and change nothing, on the broker or in the record.
    for bad in [
        json!({"event_types": []}),
        json!({"event_types": ["a*"]}),
        json!({"organizations": []}),
        json!({"partitions": [""]}),
    ] {
        let res = app.patch(&path, &bad).await;
        assert_eq!(res.status(), 422, "{bad}");
    }
    let view: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(view["event_types"], json!(["a.*", "b.#"]));
    assert_eq!(view["organizations"], json!(["o1"]));
    let from = rx.count();
    send("b.q", "o1", 7).await;
    send("b.q", "o3", 8).await;
    assert_eq!(seen_after(from, 102).await, [7]);

    // `null` widens a scope back to everything.
    let res = app.patch(&path, &json!({"organizations": null})).await;
    assert_eq!(res.status(), 200);
    let from = rx.count();
    send("a.x", "o9", 9).await;
    assert_eq!(seen_after(from, 103).await, [9]);
}

async fn get(app: &hookfleet_testkit::TestApp, id: String) -> Value {
    app.get(&format!("/v1/subscriptions/{id}"))
        .await
        .json::<Value>()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_subscriptions_backlog_and_parked_deliveries_are_shown() {
    // Without workers, the routed copies wait in the subscription's queue.
    let idle = hookfleet_testkit::spawn_app_with(hookfleet_testkit::Options {
        run_delivery: false,
        ..Default::default()
    })
    .await;
    let sub = idle
        .subscribe(json!({"url": "http://127.0.0.1:9/h", "event_types": ["#"]}))
        .await;
    let id = sub["id"].as_str().unwrap().to_owned();
    for i in 0..3 {
        idle.publish(json!({"type": "t.waiting", "data": {"i": i}}))
            .await;
    }
    idle.wait_until(
        std::time::Duration::from_secs(10),
        "three copies wait",
        || async { get(&idle, id.clone()).await["backlog"] == 3 },
    )
    .await;
    assert_eq!(get(&idle, id.clone()).await["parked"], 0);

    // With workers, a delivery that exhausts its (empty) ladder is parked and counted.
    let app = hookfleet_testkit::spawn_app().await;
    let rx = hookfleet_testkit::Receiver::start().await;
    rx.reply(hookfleet_testkit::Reply::Status(500));
    let sub = app
        .subscribe(json!({"url": rx.url, "event_types": ["#"], "retry_ladder": []}))
        .await;
    let id = sub["id"].as_str().unwrap().to_owned();
    let event = app.publish(json!({"type": "t.failing", "data": {}})).await;
    app.wait_status(&event, "exhausted").await;
    let shown = get(&app, id.clone()).await;
    assert_eq!(shown["parked"], 1, "{shown}");
    assert_eq!(shown["backlog"], 0, "{shown}");
}
