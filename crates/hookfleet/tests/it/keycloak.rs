//! The identity provider's hook (source document 003): signatures under both headers and two
//! generations of the key, refusals that store nothing; the document's table, enrichment from
//! a stand-in admin API into its body shape and fan-out; the private passkey event; the admin
//! API going down losing nothing; and a burst of 10,000 signed calls delivered in full.
use hookfleet_core::render::innervoice_signature as sign;
use hookfleet_producer::keycloak::HookSecret;
use hookfleet_testkit::{KeycloakStandIn, Options, Receiver, TestApp, spawn_app_with};
use serde_json::{Value, json};
use std::time::Duration;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

pub(crate) const KEY: &str = "shared-key-current";

pub(crate) fn secrets() -> Vec<HookSecret> {
    let at = |d: time::Duration| (OffsetDateTime::now_utc() + d).format(&Rfc3339).unwrap();
    HookSecret::parse_list(&format!(
        "{KEY},shared-key-previous@{},shared-key-expired@{}",
        at(time::Duration::hours(1)),
        at(-time::Duration::hours(1))
    ))
    .unwrap()
}

pub(crate) async fn app(stand_in: Option<&KeycloakStandIn>) -> TestApp {
    spawn_app_with(Options {
        keycloak_secrets: secrets(),
        keycloak_admin: stand_in.map(KeycloakStandIn::admin),
        ..Options::default()
    })
    .await
}

pub(crate) async fn hook(app: &TestApp, body: &str, headers: &[(&str, String)]) -> u16 {
    let mut req = app
        .http
        .post(app.url("/v1/hooks/keycloak"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    req.send().await.unwrap().status().as_u16()
}

pub(crate) async fn signed(app: &TestApp, body: &Value) -> u16 {
    let body = body.to_string();
    hook(
        app,
        &body,
        &[("x-keycloak-signature", sign(KEY, body.as_bytes()))],
    )
    .await
}

pub(crate) fn access(id: &str, t: &str, user: &str, details: Value) -> Value {
    json!({"uid": "u1", "id": id, "type": t, "time": 1714000000000u64, "realmId": "r-uuid",
           "realmName": "acme", "authDetails": {"realmId": "acme", "clientId": "web-app",
           "userId": user, "ipAddress": "203.0.113.7", "username": "yamada"}, "details": details})
}

fn yamada() -> Value {
    json!({"id": "user-1", "username": "yamada", "email": "yamada@email.com", "firstName": "太郎",
           "lastName": "山田", "enabled": true, "emailVerified": true,
           "attributes": {"preferred_username": ["総務部_山田太郎"], "family_kana": ["ヤマダ"],
                          "given_kana": ["タロウ"], "service_partition": ["pca.hub.tdi1", "pca.hub.tdi2"]}})
}

#[tokio::test]
async fn only_a_valid_generation_of_the_key_signs_and_refusals_store_nothing() {
    let app = app(None).await;
    let body = access("e1", "access.LOGOUT", "user-1", json!({})).to_string();
    let b = body.as_bytes();
    type Headers<'a> = Vec<(&'a str, String)>;
    let cases: Vec<(&str, Headers, u16)> = vec![
        (
            "X-Keycloak-Signature, current key",
            vec![("x-keycloak-signature", sign(KEY, b))],
            202,
        ),
        (
            "X-Webhook-Signature sha256=, current key",
            vec![("x-webhook-signature", format!("sha256={}", sign(KEY, b)))],
            202,
        ),
        (
            "upper-case hex",
            vec![("x-keycloak-signature", sign(KEY, b).to_uppercase())],
            202,
        ),
        (
            "the previous key within its grace",
            vec![("x-keycloak-signature", sign("shared-key-previous", b))],
            202,
        ),
        (
            "an expired key",
            vec![("x-keycloak-signature", sign("shared-key-expired", b))],
            401,
        ),
        (
            "another key",
            vec![("x-keycloak-signature", sign("guess", b))],
            401,
        ),
        ("no signature", vec![], 401),
        (
            "a signature of another body",
            vec![("x-keycloak-signature", sign(KEY, b"{}"))],
            401,
        ),
        (
            "garbage",
            vec![("x-webhook-signature", "sha256=zz".into())],
            401,
        ),
    ];
    let mut accepted = 0;
    for (what, headers, status) in cases {
        assert_eq!(hook(&app, &body, &headers).await, status, "{what}");
        accepted += u32::from(status == 202);
    }
    // Signed but not an event: 400, nothing buffered.
    for bad in [
        "[]",
        "{}",
        r#"{"id": 1, "type": "access.LOGOUT"}"#,
        "{\"id\": \"x\", \"type\": \"a\u{0}\"}",
        "not json",
    ] {
        let h = [("x-keycloak-signature", sign(KEY, bad.as_bytes()))];
        assert_eq!(hook(&app, bad, &h).await, 400, "{bad}");
    }
    // Without an enricher the accepted events wait in the buffer: exactly those.
    app.wait_until(
        Duration::from_secs(5),
        "the buffer holds the accepted calls",
        || async { app.queue_depth(&app.topology.hooks()).await == Some(accepted) },
    )
    .await;
    assert_eq!(app.count("events").await, 0);
}

#[tokio::test]
async fn events_are_mapped_enriched_and_fanned_out_as_the_document_says() {
    let kc = KeycloakStandIn::start().await;
    kc.put_user(
        yamada(),
        vec![
            json!({"id": "org-1", "name": "tdi"}),
            json!({"id": "org-2", "name": "abc"}),
        ],
    );
    kc.put_group(json!({"id": "grp-1", "name": "tdi", "attributes": {"display_name": ["TOKYO DIGITAL IDEAS"], "service_partition": ["pca.hub.tdi1"]}}));
    kc.put_credentials(
        "user-1",
        vec![
            json!({"id": "pw", "type": "password", "createdDate": 1}),
            json!({"id": "old-key", "type": "webauthn-passwordless", "createdDate": 2}),
            json!({"id": "new-key", "type": "webauthn-passwordless", "createdDate": 3}),
        ],
    );
    let app = app(Some(&kc)).await;
    let rx = Receiver::start().await;
    app.subscribe(
        json!({"url": rx.url, "event_types": ["user.*", "organization.*"], "profile": "pca"}),
    )
    .await;

    let update = access(
        "e-update",
        "access.UPDATE_PROFILE",
        "user-1",
        json!({"updated_first_name": "太郎"}),
    );
    for body in [
        update.clone(),
        update.clone(), // the plugin's retry of the same event
        access("e-login", "access.LOGIN", "user-1", json!({})),
        access(
            "e-passkey",
            "access.CUSTOM_REQUIRED_ACTION",
            "user-1",
            json!({"custom_required_action": "webauthn-register-passwordless"}),
        ),
        json!({"id": "e-group", "type": "admin.GROUP-CREATE", "realmName": "acme", "authDetails": {"clientId": "admin-cli", "userId": "admin-1"},
               "resourceType": "GROUP", "operationType": "CREATE", "resourcePath": "groups/grp-1", "details": {}}),
    ] {
        assert_eq!(signed(&app, &body).await, 202);
    }
    // 2 organizations × 2 partitions for the user, 1 partition for the organization.
    let got = rx.wait_for(5, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        rx.count(),
        5,
        "the retry, the unmapped login and the private event publish nothing"
    );
    let users: Vec<Value> = got
        .iter()
        .filter(|r| r.header("x-pca-event-type") == "user.updated")
        .map(|r| r.json())
        .collect();
    assert_eq!(users.len(), 4);
    let mut scopes: Vec<(String, String)> = users
        .iter()
        .map(|u| {
            (
                u["organization_id"].as_str().unwrap().into(),
                u["service_partition"].as_str().unwrap().into(),
            )
        })
        .collect();
    scopes.sort();
    assert_eq!(scopes[0], ("org-1".into(), "pca.hub.tdi1".into()));
    assert_eq!(scopes[3], ("org-2".into(), "pca.hub.tdi2".into()));
    let u = &users[0];
    for (k, v) in [
        ("account_id", "user-1"),
        ("login_name", "yamada"),
        ("email", "yamada@email.com"),
        ("preferred_username", "総務部_山田太郎"),
        ("family_name", "山田"),
        ("given_name", "太郎"),
        ("family_kana", "ヤマダ"),
        ("given_kana", "タロウ"),
        ("account_status", "enable"),
        ("email_status", "active"),
    ] {
        assert_eq!(u[k], v, "{k}");
    }
    let user_copy = got
        .iter()
        .find(|r| r.header("x-pca-event-type") == "user.updated")
        .unwrap();
    assert_eq!(user_copy.header("x-pca-event-sender"), "user");
    assert_eq!(user_copy.header("x-pca-event-sourceclient"), "web-app");
    let org = got
        .iter()
        .find(|r| r.header("x-pca-event-type") == "organization.created")
        .unwrap();
    assert_eq!(
        org.json(),
        json!({"organization_id": "grp-1", "organization_name": "tdi",
        "organization_display_name": "TOKYO DIGITAL IDEAS", "service_partition": "pca.hub.tdi1"})
    );
    assert_eq!(org.header("x-pca-event-sender"), "admin");
    // The private event: the newest passkey moved first, nothing published.
    assert_eq!(kc.moved(), [("user-1".to_owned(), "new-key".to_owned())]);
    assert_eq!(kc.tokens_issued(), 1, "one token, cached");
}

#[tokio::test]
async fn while_the_admin_api_is_down_events_wait_and_others_flow() {
    let kc = KeycloakStandIn::start().await;
    kc.put_user(json!({"id": "user-1", "username": "u"}), vec![]);
    kc.set_down(true);
    let app = app(Some(&kc)).await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    for i in 0..5 {
        assert_eq!(
            signed(
                &app,
                &access(&format!("e{i}"), "access.LOGOUT", "user-1", json!({}))
            )
            .await,
            202
        );
    }
    // A native event is not held up by the waiting ones.
    app.publish(json!({"type": "order.placed", "data": {}}))
        .await;
    let got = rx.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].json()["type"], "order.placed");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        rx.count(),
        1,
        "nothing half-filled is published while the API is down"
    );
    kc.set_down(false);
    let got = rx.wait_for(6, Duration::from_secs(40)).await;
    let logouts = got
        .iter()
        .filter(|r| r.json()["type"] == "user.logged-out")
        .count();
    assert_eq!(
        logouts, 5,
        "every waiting event, enriched once the API is back"
    );
    assert_eq!(got[1].json()["data"]["login_name"], "u");
}

#[tokio::test]
async fn a_burst_of_ten_thousand_signed_calls_is_accepted_and_delivered_in_full() {
    const CALLS: usize = 10_000;
    let kc = KeycloakStandIn::start().await;
    kc.put_user(
        json!({"id": "user-1", "username": "u"}),
        vec![json!({"id": "org-1"})],
    );
    let app = app(Some(&kc)).await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["user.*"], "max_in_flight": 64}))
        .await;
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut posters = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let (http, url, next) = (
            app.http.clone(),
            app.url("/v1/hooks/keycloak"),
            next.clone(),
        );
        posters.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= CALLS {
                    return;
                }
                let body =
                    access(&format!("burst-{i}"), "access.LOGOUT", "user-1", json!({})).to_string();
                let sig = sign(KEY, body.as_bytes());
                let res = http
                    .post(&url)
                    .header("x-keycloak-signature", sig)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 202, "call {i}");
            }
        });
    }
    while let Some(r) = posters.join_next().await {
        r.unwrap();
    }
    rx.wait_for(CALLS, Duration::from_secs(120)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.count(), CALLS, "every call delivered once");
}

/// Arbitrary bodies, signed or not: answered 202, 400 or 401, never 5xx, and the buffer holds
/// exactly the 202s.
#[test]
fn arbitrary_bodies_are_refused_with_a_4xx_and_buffer_nothing() {
    use proptest::{prelude::*, test_runner::TestRunner};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = rt.block_on(spawn_app_with(Options {
        keycloak_secrets: secrets(),
        run_router: false,
        run_delivery: false,
        ..Options::default()
    }));
    let body = prop_oneof![
        super::lifecycle_rules::any_value().prop_map(|v| v.to_string()),
        (any::<String>(), "[a-zA-Z._-]{0,20}")
            .prop_map(|(id, t)| json!({"id": id, "type": t}).to_string()),
        "\\PC{0,60}",
    ];
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let accepted = std::sync::atomic::AtomicU32::new(0);
    let result = runner.run(&(body, any::<bool>()), |(b, sign_it)| {
        let headers = if sign_it {
            vec![("x-keycloak-signature", sign(KEY, b.as_bytes()))]
        } else {
            vec![]
        };
        let status = rt.block_on(hook(&app, &b, &headers));
        prop_assert!(matches!(status, 202 | 400 | 401), "{status} for {b}");
        prop_assert!(sign_it || status == 401);
        if status == 202 {
            accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let accepted = accepted.into_inner();
    rt.block_on(async {
        app.wait_until(
            Duration::from_secs(5),
            "the buffer holds the 202s",
            || async { app.queue_depth(&app.topology.hooks()).await == Some(accepted) },
        )
        .await;
    });
    drop(app);
}

#[tokio::test]
async fn an_entity_the_api_always_fails_holds_up_no_other_event() {
    let kc = KeycloakStandIn::start().await;
    kc.put_user(json!({"id": "stuck", "username": "s"}), vec![]);
    kc.put_user(json!({"id": "fine", "username": "f"}), vec![]);
    kc.fail_user("stuck");
    let app = app(Some(&kc)).await;
    let rx = Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["#"]}))
        .await;
    // More failing events than the enricher works on at once, then one that can go.
    for i in 0..80 {
        assert_eq!(
            signed(
                &app,
                &access(&format!("s{i}"), "access.LOGOUT", "stuck", json!({}))
            )
            .await,
            202
        );
    }
    assert_eq!(
        signed(&app, &access("f1", "access.LOGOUT", "fine", json!({}))).await,
        202
    );
    let got = rx.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].json()["data"]["login_name"], "f");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.count(), 1, "the failing ones wait, unpublished");
}

/// A refused hook call says what the hook wants: a signature (not a Bearer token), or, on a
/// fleet with no shared key, that the hook is off and which setting turns it on.
#[tokio::test]
async fn a_refusal_points_at_the_signature_or_the_missing_setting() {
    let message = |app: &TestApp| {
        let req = app
            .http
            .post(app.url("/v1/hooks/keycloak"))
            .header("content-type", "application/json")
            .header("x-keycloak-signature", "00")
            .body(access("e1", "access.LOGOUT", "user-1", json!({})).to_string());
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 401);
            let v: Value = res.json().await.unwrap();
            v["error"]["message"].as_str().unwrap().to_owned()
        }
    };
    let signed = message(&app(None).await).await;
    assert!(
        signed.contains("X-Keycloak-Signature") && !signed.contains("Bearer"),
        "{signed}"
    );
    let off = message(&spawn_app_with(Options::default()).await).await;
    assert!(off.contains("HOOKFLEET_KEYCLOAK_SECRET"), "{off}");
}
