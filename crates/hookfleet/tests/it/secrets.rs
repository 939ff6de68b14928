//! No secret reaches a log line: a whole fleet in one real process (`hookfleet all`), logging
//! at `debug` as an operator troubleshooting would run it, is driven through every route that
//! handles a credential or a signing secret (right and wrong ones) and delivers a signed event;
//! its whole output is searched for them and for the key that seals secrets at rest.
use crate::child::ChildFleet;
use hookfleet_testkit::{Options, spawn_app_with};
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn credentials_and_secrets_never_appear_in_the_producers_logs() {
    let app = spawn_app_with(Options {
        run_router: false,
        run_delivery: false,
        ..Options::default()
    })
    .await;
    let rx = hookfleet_testkit::Receiver::start().await;
    let admin = "admin-token-that-must-not-be-logged";
    let fleet = ChildFleet::start(
        &app,
        &[
            ("RUST_LOG", "debug"),
            ("HOOKFLEET_ADMIN_TOKEN", admin),
            ("HOOKFLEET_GATEWAY_TOKEN", GATEWAY),
            ("HOOKFLEET_KEYCLOAK_SECRET", HOOK_KEY),
        ],
    )
    .await;
    let api = fleet.api.clone();
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, token: &str, body: Value| {
        http.request(method, format!("{api}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
    };
    use reqwest::Method as M;
    let mut secrets = vec![admin.to_owned()];
    let installation = call(
        M::POST,
        "/v1/installations",
        admin,
        json!({"id": "icfg_log"}),
    );
    assert_eq!(installation.await.unwrap().status(), 201);
    let key: Value = call(
        M::POST,
        "/v1/api-keys",
        admin,
        json!({"name": "k", "scopes": ["installation:icfg_log"]}),
    )
    .await
    .map(json_body)
    .unwrap()
    .await;
    let (key_id, first) = (key["id"].as_str().unwrap(), key["key"].as_str().unwrap());
    let rotated: Value = call(
        M::POST,
        &format!("/v1/api-keys/{key_id}/rotate"),
        admin,
        json!({}),
    )
    .await
    .map(json_body)
    .unwrap()
    .await;
    let second = rotated["key"].as_str().unwrap();
    secrets.extend([first.to_owned(), second.to_owned()]);
    secrets.push(hookfleet_core::api_key::hash(first));
    let event = json!({"event": {"type": "installation.updated"}});
    for token in [
        first,
        second,
        "hfk_wrong-key-that-must-not-be-logged",
        "wrong-admin-token",
    ] {
        let _ = call(
            M::POST,
            "/v1/installations/icfg_log/events",
            token,
            event.clone(),
        )
        .await;
        let _ = call(M::GET, "/v1/subscriptions", token, json!({})).await;
    }
    secrets.push("hfk_wrong-key-that-must-not-be-logged".into());
    let sub: Value = call(
        M::POST,
        "/v1/subscriptions",
        admin,
        json!({"url": rx.url, "event_types": ["#"]}),
    )
    .await
    .map(json_body)
    .unwrap()
    .await;
    secrets.push(sub["secret"].as_str().unwrap().to_owned());
    let sub_id = sub["id"].as_str().unwrap();
    let new_secret: Value = call(
        M::POST,
        &format!("/v1/subscriptions/{sub_id}/secret/rotate"),
        admin,
        json!({}),
    )
    .await
    .map(json_body)
    .unwrap()
    .await;
    secrets.push(new_secret["key"].as_str().unwrap().to_owned());
    // Delivered, signed with both secrets, by the child's own router and delivery role.
    let published = call(
        M::POST,
        "/v1/events",
        admin,
        json!({"type": "a", "organization_ids": ["o"], "data": {}}),
    );
    assert_eq!(published.await.unwrap().status(), 202);
    rx.wait_for(1, Duration::from_secs(20)).await;
    // The key that seals secrets in the database.
    secrets.push(app.secret_keys.split_once(':').unwrap().1.to_owned());
    let revoke = call(
        M::DELETE,
        &format!("/v1/api-keys/{key_id}"),
        admin,
        json!({}),
    );
    assert_eq!(revoke.await.unwrap().status(), 204);
    secrets.extend(lifecycle_calls(&call_api(&http, &api), admin).await);
    secrets.extend(hook_and_pull_calls(&http, &api, admin).await);

    let text = fleet.stop().await;
    assert!(
        text.contains("Producer API listening"),
        "the log was captured: {text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in a log written to a file: {:.300}",
        text
    );
    for s in &secrets {
        assert!(
            !text.contains(s.as_str()),
            "a secret ({}…) reached the log",
            &s[..8]
        );
    }
}

const GATEWAY: &str = "gateway-token-that-must-not-be-logged";
const HOOK_KEY: &str = "hook-key-that-must-not-be-logged";

/// Identity-provider hook calls signed right and wrong, and a pull subscription made, its
/// reader rotated and the subscription deleted; returns what must not be logged.
async fn hook_and_pull_calls(http: &reqwest::Client, api: &str, admin: &str) -> Vec<String> {
    let body = r#"{"id":"e1","type":"access.LOGOUT","authDetails":{"userId":"u1"}}"#;
    let good = hookfleet_core::render::innervoice_signature(HOOK_KEY, body.as_bytes());
    for (sig, status) in [(good.as_str(), 202), ("0badc0de", 401)] {
        let res = http
            .post(format!("{api}/v1/hooks/keycloak"))
            .header("x-keycloak-signature", sig)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status);
    }
    let sub: Value = http
        .post(format!("{api}/v1/subscriptions"))
        .bearer_auth(admin)
        .json(&json!({"event_types": ["#"], "delivery": "pull"}))
        .send()
        .await
        .map(json_body)
        .unwrap()
        .await;
    let id = sub["id"].as_str().unwrap_or_else(|| panic!("{sub}"));
    let rotated: Value = http
        .post(format!("{api}/v1/subscriptions/{id}/pull/rotate"))
        .bearer_auth(admin)
        .json(&json!({"previous_valid_for": "0s"}))
        .send()
        .await
        .map(json_body)
        .unwrap()
        .await;
    let res = http
        .delete(format!("{api}/v1/subscriptions/{id}"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    vec![
        HOOK_KEY.into(),
        good,
        sub["pull"]["password"].as_str().unwrap().into(),
        rotated["pull"]["password"].as_str().unwrap().into(),
    ]
}

fn call_api<'a>(
    http: &'a reqwest::Client,
    api: &'a str,
) -> impl Fn(&str, &str, Value) -> reqwest::RequestBuilder + 'a {
    move |path, token, body| {
        http.post(format!("{api}{path}"))
            .bearer_auth(token)
            .json(&body)
    }
}

/// A channel, and lifecycle calls with its password and the gateway token, right and wrong;
/// returns what must not be logged.
async fn lifecycle_calls(
    post: &impl Fn(&str, &str, Value) -> reqwest::RequestBuilder,
    admin: &str,
) -> Vec<String> {
    let password = "channel-password-that-must-not-be-logged";
    let wrong = "wrong-channel-password-not-to-log";
    let chn: Value = post(
        "/v1/channels",
        admin,
        json!({"name": "c", "password": password}),
    )
    .send()
    .await
    .map(json_body)
    .unwrap()
    .await;
    let chn = chn["id"].as_str().unwrap();
    for (token, pw, status) in [
        (GATEWAY, password, 200),
        (GATEWAY, wrong, 401),
        ("wrong-gateway", password, 401),
    ] {
        let call = json!({"channel_id": chn, "password": pw, "title": "t", "status": "s",
                          "message": "m", "severity": "low", "event_time": 1});
        let res = post("/event/create", token, call).send().await.unwrap();
        assert_eq!(res.status(), status);
    }
    vec![password.into(), wrong.into(), GATEWAY.into()]
}

async fn json_body(res: reqwest::Response) -> Value {
    res.json().await.expect("a JSON body")
}
