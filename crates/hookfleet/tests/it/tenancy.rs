//! Tenants never touch each other's events through a key (DESIGN promise 7): an idempotency key
//! or `op_id` names an event only inside its (dialect, tenant) space, so one installation cannot
//! squat, probe or suppress another's keys, a partner cannot suppress a channel's lifecycle
//! event, and a native client cannot suppress the identity provider's. Each test is one of the
//! repros of issue 20, through the real routes and the real fleet. A retry of an event recorded
//! before keys had spaces is still that event.
use hookfleet_core::{EventId, KeySpace, render::innervoice_signature as sign};
use hookfleet_producer::keycloak::HookSecret;
use hookfleet_testkit::{KeycloakStandIn, Options, Receiver, TestApp, spawn_app, spawn_app_with};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

/// Makes installation `id` and a key scoped to it; returns the key.
async fn installation(app: &TestApp, id: &str) -> String {
    let res = app
        .post("/v1/installations", &json!({"id": id, "name": id}))
        .await;
    assert_eq!(res.status(), 201);
    let key: Value = app
        .post(
            "/v1/api-keys",
            &json!({"name": id, "scopes": [format!("installation:{id}")]}),
        )
        .await
        .json()
        .await
        .unwrap();
    key["key"].as_str().unwrap().to_owned()
}

/// Posts a partner event for `installation` with `Idempotency-Key: key`; the status.
async fn partner_post(
    app: &TestApp,
    installation: &str,
    bearer: &str,
    plan: &str,
    key: &str,
) -> u16 {
    app.http
        .post(app.url(&format!("/v1/installations/{installation}/events")))
        .bearer_auth(bearer)
        .header("idempotency-key", key)
        .json(&json!({"event": {"type": "installation.updated", "billingPlanId": plan}}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Returns once everything posted before has been routed and sent: a marker event goes through
/// the same ingest queue and subscription queue behind it, so once the marker arrives, a repeat
/// posted before it has had every chance to be delivered (again). `rx` must take `marker.*`.
async fn settle(app: &TestApp, rx: &Receiver) {
    let marker = app
        .publish(json!({"type": "marker.settle", "data": {}}))
        .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !rx
        .received()
        .iter()
        .any(|r| r.json()["id"] == marker.as_str())
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the marker never arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Received bodies other than markers.
fn events(rx: &Receiver) -> Vec<Value> {
    rx.received()
        .iter()
        .map(|r| r.json())
        .filter(|b| b["type"] != "marker.settle")
        .collect()
}

/// The (organization, billing plan) of each partner event received, sorted.
async fn plans(rx: &Receiver, n: usize) -> Vec<(String, String)> {
    let mut got: Vec<(String, String)> = rx
        .wait_for(n, WAIT)
        .await
        .iter()
        .map(|r| r.json())
        .map(|b| {
            (
                b["organization_id"].as_str().unwrap_or_default().to_owned(),
                b["data"]["billingPlanId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    got.sort();
    got
}

#[tokio::test]
async fn one_installations_key_neither_refuses_nor_names_another_installations_event() {
    let app = spawn_app().await;
    let (a, b) = (
        installation(&app, "inst-a").await,
        installation(&app, "inst-b").await,
    );
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["installation.*", "marker.*"]}))
        .await;

    assert_eq!(
        partner_post(&app, "inst-a", &a, "plan-a", "order-42").await,
        201
    );
    assert_eq!(plans(&rx, 1).await, [("inst-a".into(), "plan-a".into())]);
    // Recorded now: before key spaces, B's own event under the same key was a 409 (so B could
    // probe for A's keys, and A's key squatted B's).
    assert_eq!(
        partner_post(&app, "inst-b", &b, "plan-b", "order-42").await,
        201
    );
    assert_eq!(
        plans(&rx, 2).await,
        [
            ("inst-a".into(), "plan-a".into()),
            ("inst-b".into(), "plan-b".into())
        ]
    );
    // Inside its own space the key still works: A's retry is the same event, A's key reused
    // for another event is refused.
    assert_eq!(
        partner_post(&app, "inst-a", &a, "plan-a", "order-42").await,
        201
    );
    assert_eq!(
        partner_post(&app, "inst-a", &a, "plan-c", "order-42").await,
        409
    );
    // Each event shows whose key it is.
    let id = EventId::for_key(&KeySpace::Installation("inst-b".into()), "order-42");
    let event: Value = app
        .get(&format!("/v1/events/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(event["key_space"], "partner:inst-b", "{event}");
    assert_eq!(event["idempotency_key"], "order-42", "{event}");
    settle(&app, &rx).await;
    assert_eq!(events(&rx).len(), 2, "a retry is delivered once");
}

#[tokio::test]
async fn two_installations_posting_one_key_at_the_same_moment_both_get_their_event() {
    let app = spawn_app().await;
    let (a, b) = (
        installation(&app, "inst-a").await,
        installation(&app, "inst-b").await,
    );
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["installation.*"]}))
        .await;
    for round in 0..5 {
        let key = format!("same-moment-{round}");
        let (plan_a, plan_b) = (format!("a{round}"), format!("b{round}"));
        let (sa, sb) = tokio::join!(
            partner_post(&app, "inst-a", &a, &plan_a, &key),
            partner_post(&app, "inst-b", &b, &plan_b, &key),
        );
        assert_eq!((sa, sb), (201, 201));
    }
    // Before key spaces both were answered 201 and only one of each pair was recorded.
    let got = plans(&rx, 10).await;
    let expected: Vec<(String, String)> = {
        let mut e: Vec<_> = (0..5)
            .flat_map(|r| {
                [
                    ("inst-a".to_owned(), format!("a{r}")),
                    ("inst-b".to_owned(), format!("b{r}")),
                ]
            })
            .collect();
        e.sort();
        e
    };
    assert_eq!(got, expected);
}

#[tokio::test]
async fn a_partner_key_cannot_suppress_a_channels_lifecycle_event() {
    let app = spawn_app().await;
    let partner = installation(&app, "inst-a").await;
    let channel = crate::lifecycle::channel(&app, crate::lifecycle::PASSWORD).await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["installation.*", "event.*"]}))
        .await;
    // The key the lifecycle call's message derived from before key spaces.
    let squat = format!("lifecycle:{channel}:op-1");
    assert_eq!(
        partner_post(&app, "inst-a", &partner, "plan", &squat).await,
        201
    );
    rx.wait_for(1, WAIT).await;

    let (status, answer) = crate::lifecycle::call(
        &app,
        "create",
        &json!({"channel_id": channel, "password": crate::lifecycle::PASSWORD, "op_id": "op-1",
                "title": "Deploy", "status": "running", "message": "started",
                "severity": "normal", "event_time": 1713750000000u64}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let types: Vec<String> = rx
        .wait_for(2, WAIT)
        .await
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(types.contains(&"event.created".to_owned()), "{types:?}");
    assert!(
        types.contains(&"installation.updated".to_owned()),
        "{types:?}"
    );
}

#[tokio::test]
async fn the_native_api_and_a_partner_each_have_their_own_keys() {
    let app = spawn_app().await;
    let partner = installation(&app, "inst-a").await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["installation.*"]}))
        .await;
    let native = app
        .post(
            "/v1/events",
            &json!({"type": "installation.updated", "organization_ids": ["inst-a"],
                    "data": {"billingPlanId": "from-admin"}, "idempotency_key": "k-1"}),
        )
        .await;
    assert_eq!(native.status(), 202);
    let native: Value = native.json().await.unwrap();
    assert_eq!(
        native["id"],
        EventId::for_key(&KeySpace::Native, "k-1").as_str()
    );
    rx.wait_for(1, WAIT).await;
    assert_eq!(
        partner_post(&app, "inst-a", &partner, "from-partner", "k-1").await,
        201
    );
    assert_eq!(
        plans(&rx, 2).await,
        [
            ("inst-a".into(), "from-admin".into()),
            ("inst-a".into(), "from-partner".into())
        ]
    );
}

const HOOK_KEY: &str = "tenancy-hook-key";

#[tokio::test]
async fn a_native_key_cannot_suppress_an_identity_provider_event() {
    let stand_in = KeycloakStandIn::start().await;
    stand_in.put_user(
        json!({"id": "user-1", "username": "yamada", "enabled": true, "emailVerified": true}),
        vec![json!({"id": "org-1"})],
    );
    let app = spawn_app_with(Options {
        keycloak_secrets: HookSecret::parse_list(HOOK_KEY).unwrap(),
        keycloak_admin: Some(stand_in.admin()),
        ..Options::default()
    })
    .await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["user.*"]}))
        .await;
    // The key the hook event's message derived from before key spaces.
    let squat = app
        .post(
            "/v1/events",
            &json!({"type": "user.logged-out", "data": {"squatted": true},
                    "idempotency_key": "keycloak:acme:kc-event-1"}),
        )
        .await;
    assert_eq!(squat.status(), 202);
    rx.wait_for(1, WAIT).await;

    let body = json!({"id": "kc-event-1", "type": "access.LOGOUT", "realmName": "acme",
                      "authDetails": {"userId": "user-1", "clientId": "web"}, "details": {}})
    .to_string();
    let res = app
        .http
        .post(app.url("/v1/hooks/keycloak"))
        .header("content-type", "application/json")
        .header("x-keycloak-signature", sign(HOOK_KEY, body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let got = rx.wait_for(2, WAIT).await;
    assert!(
        got.iter()
            .any(|r| r.json()["data"]["account_id"] == "user-1"),
        "the provider's event was delivered: {:?}",
        got.iter().map(|r| r.json()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_retry_of_an_event_recorded_before_key_spaces_is_still_that_event() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["order.*", "marker.*"]}))
        .await;
    // An event recorded (and fanned out) by a fleet from before key spaces, under the id its
    // key alone derived.
    let legacy = EventId::legacy_for_key("order-7");
    app.db
        .execute(
            r#"INSERT INTO events (id, type, "timestamp", organization_ids, service_partitions,
                                   idempotency_key, data, routed_at)
               VALUES ($1, 'order.paid', now(), '[]', '[]', 'order-7', '{"n": 7}', now())"#,
            &[&legacy.as_str()],
        )
        .await
        .unwrap();
    let app = &app;
    let post = |data: Value| async move {
        let body = json!({"type": "order.paid", "data": data, "idempotency_key": "order-7"});
        app.post("/v1/events", &body).await
    };
    // The client's retry after the upgrade: the same event, not fanned out again.
    let retry: Value = post(json!({"n": 7})).await.json().await.unwrap();
    assert_eq!(retry["id"], legacy.as_str(), "{retry}");
    // Another event under the old key is a new event of the caller's space (the old key may
    // have been another tenant's), delivered.
    let other: Value = post(json!({"n": 8})).await.json().await.unwrap();
    assert_eq!(
        other["id"],
        EventId::for_key(&KeySpace::Native, "order-7").as_str(),
        "{other}"
    );
    settle(app, &rx).await;
    let got = events(&rx);
    assert_eq!(
        got.len(),
        1,
        "the legacy event is not delivered again: {got:?}"
    );
    assert_eq!(got[0]["data"], json!({"n": 8}));
}
