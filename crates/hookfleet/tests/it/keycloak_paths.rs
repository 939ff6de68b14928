//! Promise 8 for the identity provider's hook: every path an event can take, through the real
//! routes and the real fleet. The edge refuses with a 400 and its reason what the router could
//! not read; past the edge an event is published, deliberately left unpublished (unmapped, or
//! the private passkey event, handled) with its own counter, parked like ingest poison (the
//! dead queue, a `poison_messages` row with its reason, the poison counter) when it never will
//! publish, or kept waiting while the admin API is away. Never acked away, never published
//! half-filled.
use super::keycloak::{KEY, access, app, signed};
use hookfleet_bus::{HEADER_QUEUE, HEADER_REASON};
use hookfleet_core::render::innervoice_signature as sign;
use hookfleet_testkit::{KeycloakStandIn, Receiver, Record, TestApp, counter};
use lapin::{
    options::{BasicAckOptions, BasicGetOptions},
    types::AMQPValue,
};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);
const PARKED: &str = r#"hookfleet_poison_messages_total{queue="hooks"}"#;

fn outcome(name: &str) -> String {
    format!(r#"hookfleet_hook_events_total{{outcome="{name}"}}"#)
}

/// Signs and posts `body` as it is; the status and the answer's JSON.
async fn post_signed(app: &TestApp, body: &str) -> (u16, Value) {
    let res = app
        .http
        .post(app.url("/v1/hooks/keycloak"))
        .header("content-type", "application/json")
        .header("x-keycloak-signature", sign(KEY, body.as_bytes()))
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

/// The `poison_messages` rows (queue, reason), oldest first.
async fn poison_rows(app: &TestApp) -> Vec<(String, String)> {
    app.db
        .query("SELECT queue, reason FROM poison_messages ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Takes every message off the dead queue: (body, the queue header, the reason header).
async fn take_dead(app: &TestApp) -> Vec<(String, String, String)> {
    let text = |h: Option<&AMQPValue>| match h {
        Some(AMQPValue::LongString(s)) => s.to_string(),
        other => format!("{other:?}"),
    };
    let mut out = Vec::new();
    while let Some(msg) = app
        .channel
        .basic_get(
            app.topology.dead().as_str().into(),
            BasicGetOptions::default(),
        )
        .await
        .unwrap()
    {
        let headers = msg.properties.headers().clone().unwrap_or_default();
        out.push((
            String::from_utf8_lossy(&msg.data).into_owned(),
            text(headers.inner().get(HEADER_QUEUE)),
            text(headers.inner().get(HEADER_REASON)),
        ));
        msg.acker.ack(BasicAckOptions::default()).await.unwrap();
    }
    out
}

/// Waits until `n` hook events are parked, then checks each is all three: a row with the
/// hooks queue and a reason, the message in the dead queue with the same reason, counted.
/// Returns the reasons in the order parked.
async fn wait_parked(app: &TestApp, n: usize, parked_before: f64) -> Vec<String> {
    app.wait_until(WAIT, "the events are parked", || async {
        poison_rows(app).await.len() >= n
    })
    .await;
    app.wait_until(WAIT, "the parked events are counted", || async {
        counter(PARKED) >= parked_before + n as f64
    })
    .await;
    let rows = poison_rows(app).await;
    assert_eq!(rows.len(), n, "{rows:?}");
    let hooks = app.topology.hooks();
    assert!(rows.iter().all(|(q, _)| *q == hooks), "{rows:?}");
    let dead = take_dead(app).await;
    assert_eq!(
        dead.len(),
        n,
        "each parked event is in the dead queue once: {dead:?}"
    );
    for (_, queue, reason) in &dead {
        assert_eq!(*queue, hooks);
        assert!(
            rows.iter().any(|(_, r)| r == reason),
            "{reason} in {rows:?}"
        );
    }
    assert_eq!(
        app.queue_depth(&hooks).await,
        Some(0),
        "nothing left unacked or requeued"
    );
    rows.into_iter().map(|(_, r)| r).collect()
}

#[tokio::test]
async fn a_signed_body_the_router_cannot_read_is_refused_at_the_edge_with_the_reason() {
    // No admin API: nothing consumes the buffer, so its depth is what the hook accepted.
    let app = app(None).await;
    let long_id = "i".repeat(129);
    for (body, field) in [
        (
            r#"{"id":"e1","id":"e2","type":"access.LOGOUT"}"#.to_owned(),
            "appears twice",
        ),
        (
            r#"{"id":"e1","type":"access.LOGOUT","authDetails":"user-1"}"#.to_owned(),
            "authDetails",
        ),
        (
            r#"{"id":"e1","type":"access.LOGOUT","authDetails":{"userId":["user-1"]}}"#.to_owned(),
            "authDetails.userId",
        ),
        (
            r#"{"id":"e1","type":"access.CUSTOM_REQUIRED_ACTION","details":["UPDATE_EMAIL"]}"#
                .to_owned(),
            "details",
        ),
        (
            r#"{"id":"e1","type":"access.LOGOUT","details":"x"}"#.to_owned(),
            "details",
        ),
        (
            r#"{"id":"e1","type":"access.LOGOUT","details":{"k":{"a":1,"a":2}}}"#.to_owned(),
            "appears twice",
        ),
        (
            format!(r#"{{"id":"{long_id}","type":"access.LOGOUT"}}"#),
            "id",
        ),
        (
            r#"{"id":"e1","type":"access.LOGOUT","realmName":"acme\n"}"#.to_owned(),
            "realmName",
        ),
    ] {
        let (status, answer) = post_signed(&app, &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_json", "{answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{body}: {message}");
    }
    let good = access("e-good", "access.LOGOUT", "user-1", json!({}));
    let (status, answer) = post_signed(&app, &good.to_string()).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer, json!({"accepted": true, "id": "e-good"}));
    app.wait_until(WAIT, "the buffer holds the one good event", || async {
        app.queue_depth(&app.topology.hooks()).await == Some(1)
    })
    .await;
}

#[tokio::test]
async fn published_unmapped_and_passkey_events_are_acked_each_with_its_own_outcome() {
    let kc = KeycloakStandIn::start().await;
    kc.put_user(json!({"id": "user-1", "username": "u"}), vec![]);
    kc.put_credentials(
        "user-1",
        vec![json!({"id": "key-1", "type": "webauthn-passwordless", "createdDate": 1})],
    );
    let app = app(Some(&kc)).await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let paths = ["published", "unmapped", "passkey_preferred"];
    let before: Vec<f64> = paths.iter().map(|p| counter(&outcome(p))).collect();
    for body in [
        access("e-out", "access.LOGOUT", "user-1", json!({})),
        access("e-in", "access.LOGIN", "user-1", json!({})),
        access(
            "e-key",
            "access.CUSTOM_REQUIRED_ACTION",
            "user-1",
            json!({"custom_required_action": "webauthn-register-passwordless"}),
        ),
    ] {
        assert_eq!(signed(&app, &body).await, 202);
    }
    app.wait_until(WAIT, "each path counts its event", || async {
        paths
            .iter()
            .zip(&before)
            .all(|(p, b)| counter(&outcome(p)) >= b + 1.0)
    })
    .await;
    let got = rx.wait_for(1, WAIT).await;
    assert_eq!(got[0].json()["type"], "user.logged-out");
    assert_eq!(kc.moved(), [("user-1".to_owned(), "key-1".to_owned())]);
    assert_eq!(app.queue_depth(&app.topology.hooks()).await, Some(0));
    assert!(poison_rows(&app).await.is_empty(), "nothing parked");
    assert_eq!(app.queue_depth(&app.topology.dead()).await, Some(0));
    assert_eq!(app.count("events").await, 1, "only the mapped event");
}

#[tokio::test]
async fn a_user_gone_before_enrichment_is_parked_with_its_reason() {
    // The stand-in has no `user-gone`: its record answers 404, as a deleted user's does.
    let kc = KeycloakStandIn::start().await;
    let app = app(Some(&kc)).await;
    let (parked, gone) = (counter(PARKED), counter(&outcome("entity_gone")));
    let body = access("e-gone", "access.UPDATE_PROFILE", "user-gone", json!({}));
    assert_eq!(signed(&app, &body).await, 202);
    let reasons = wait_parked(&app, 1, parked).await;
    assert!(
        reasons[0].starts_with("entity_gone: the user `user-gone` is gone"),
        "{reasons:?}"
    );
    assert!(counter(&outcome("entity_gone")) >= gone + 1.0);
    assert_eq!(app.count("events").await, 0);
}

#[tokio::test]
async fn an_event_the_intake_refuses_is_parked_with_its_reason() {
    // An organization id longer than the intake routes (64 characters).
    let kc = KeycloakStandIn::start().await;
    kc.put_user(
        json!({"id": "user-1", "username": "u"}),
        vec![json!({"id": "o".repeat(65)})],
    );
    let app = app(Some(&kc)).await;
    let (parked, refused) = (counter(PARKED), counter(&outcome("refused")));
    let body = access("e-refused", "access.LOGOUT", "user-1", json!({}));
    assert_eq!(signed(&app, &body).await, 202);
    let reasons = wait_parked(&app, 1, parked).await;
    assert!(
        reasons[0].starts_with("refused: ") && reasons[0].contains("organization_ids"),
        "{reasons:?}"
    );
    assert!(counter(&outcome("refused")) >= refused + 1.0);
    assert_eq!(app.count("events").await, 0);
}

#[tokio::test]
async fn an_undecodable_message_on_the_hook_queue_is_parked_and_others_flow() {
    let kc = KeycloakStandIn::start().await;
    kc.put_user(json!({"id": "user-1", "username": "u"}), vec![]);
    let app = app(Some(&kc)).await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let (parked, undecodable) = (counter(PARKED), counter(&outcome("undecodable")));
    // The edge refuses these, so they come straight onto the queue (by hand, or an older
    // version's buffer).
    let hooks = app.topology.hooks();
    app.put_raw(&hooks, br#"{"id":"a","id":"b","type":"access.LOGOUT"}"#)
        .await;
    app.put_raw(&hooks, b"\xff not json").await;
    assert_eq!(
        signed(
            &app,
            &access("e-after", "access.LOGOUT", "user-1", json!({}))
        )
        .await,
        202
    );
    let got = rx.wait_for(1, WAIT).await;
    assert_eq!(
        got[0].json()["type"],
        "user.logged-out",
        "the fleet goes on"
    );
    let reasons = wait_parked(&app, 2, parked).await;
    assert!(
        reasons.iter().all(|r| r.starts_with("undecodable: body: ")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("appears twice")),
        "{reasons:?}"
    );
    assert!(counter(&outcome("undecodable")) >= undecodable + 2.0);
}

#[tokio::test]
async fn an_admin_answer_that_cannot_be_read_is_parked_never_published_half_filled() {
    let kc = KeycloakStandIn::start().await;
    // A lone surrogate in an attribute: the whole answer came, and it is not JSON.
    kc.answer_raw(
        Record::User,
        "user-1",
        r#"{"id":"user-1","username":"u","attributes":{"nickname":["\ud800"]}}"#,
    );
    kc.put_user(json!({"id": "user-2", "username": "u2"}), vec![]);
    kc.answer_raw(Record::Organizations, "user-2", r#"{"id":"org-1"}"#);
    kc.answer_raw(Record::User, "user-3", r#"{"id":7,"username":"u3"}"#);
    kc.answer_raw(Record::Group, "grp-1", r#""grp-1""#);
    kc.put_user(json!({"id": "user-4", "username": "u4"}), vec![]);
    kc.answer_raw(Record::Credentials, "user-4", r#"{"passkey":"key-1"}"#);
    let app = app(Some(&kc)).await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let (parked, unreadable) = (counter(PARKED), counter(&outcome("unreadable")));
    let group = json!({"id": "e-grp", "type": "admin.GROUP-CREATE", "realmName": "acme",
        "authDetails": {"userId": "admin-1"}, "resourcePath": "groups/grp-1"});
    for body in [
        access("e-1", "access.UPDATE_PROFILE", "user-1", json!({})),
        access("e-2", "access.UPDATE_PROFILE", "user-2", json!({})),
        access("e-3", "access.UPDATE_PROFILE", "user-3", json!({})),
        group,
        access(
            "e-4",
            "access.CUSTOM_REQUIRED_ACTION",
            "user-4",
            json!({"custom_required_action": "webauthn-register-passwordless"}),
        ),
    ] {
        assert_eq!(signed(&app, &body).await, 202);
    }
    let reasons = wait_parked(&app, 5, parked).await;
    for expected in [
        "unreadable: the user `user-1` is not JSON: ",
        "unreadable: the list of the organizations of the user `user-2` is not a JSON array",
        "unreadable: the record of the user `user-3` has no string `id`",
        "unreadable: the record of the group `grp-1` is not a JSON object",
        "unreadable: the list of the credentials of the user `user-4` is not a JSON array",
    ] {
        assert!(
            reasons.iter().any(|r| r.starts_with(expected)),
            "{expected} in {reasons:?}"
        );
    }
    assert!(counter(&outcome("unreadable")) >= unreadable + 5.0);
    assert_eq!(
        app.count("events").await,
        0,
        "nothing published half-filled"
    );
    assert_eq!(rx.count(), 0);
    assert!(kc.moved().is_empty());
}

#[tokio::test]
async fn while_the_admin_api_is_unavailable_events_wait_and_are_published_once_it_is_back() {
    let kc = KeycloakStandIn::start().await;
    kc.put_user(json!({"id": "user-1", "username": "u1"}), vec![]);
    kc.put_user(json!({"id": "user-2", "username": "u2"}), vec![]);
    let app = app(Some(&kc)).await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    let retries = "hookfleet_hook_enrich_retries_total";
    let published = counter(&outcome("published"));

    // A record cut off in transit is an outage, not an unreadable answer: it waits.
    kc.cut_off(Record::User, "user-1");
    let before = counter(retries);
    let body = access("e-cut", "access.LOGOUT", "user-1", json!({}));
    assert_eq!(signed(&app, &body).await, 202);
    app.wait_until(WAIT, "the cut-off event is sent back to wait", || async {
        counter(retries) > before
    })
    .await;
    assert_eq!(rx.count(), 0);
    kc.answer_normally(Record::User, "user-1");
    let got = rx.wait_for(1, WAIT).await;
    assert_eq!(got[0].json()["data"]["login_name"], "u1");

    // The whole API down (503): the same.
    kc.set_down(true);
    let before = counter(retries);
    let body = access("e-down", "access.LOGOUT", "user-2", json!({}));
    assert_eq!(signed(&app, &body).await, 202);
    app.wait_until(WAIT, "the event waits while the API is down", || async {
        counter(retries) > before
    })
    .await;
    assert_eq!(rx.count(), 1);
    kc.set_down(false);
    let got = rx.wait_for(2, WAIT).await;
    assert_eq!(got[1].json()["data"]["login_name"], "u2");

    assert!(counter(&outcome("published")) >= published + 2.0);
    assert!(
        poison_rows(&app).await.is_empty(),
        "an outage parks nothing"
    );
    assert_eq!(app.queue_depth(&app.topology.dead()).await, Some(0));
}
