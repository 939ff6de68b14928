//! What an operator reads in the default log of a real `hookfleet all` process: one INFO line
//! per change made through the API (who, what, which id), one INFO line per failed attempt that
//! will be retried, the exhausted WARN with a plain status, and nothing at INFO while an event
//! is delivered on the happy path. No secret and no URL credential ever reaches it, and the
//! start says nothing of PostgreSQL's own housekeeping.
use crate::child::ChildFleet;
use hookfleet_testkit::{Options, Receiver, Reply, spawn_app_with};
use serde_json::{Value, json};
use std::time::Duration;

/// The INFO lines of a stretch of log.
fn infos(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.contains(" INFO ")).collect()
}

#[tokio::test]
async fn every_api_change_is_one_info_line_and_a_delivery_is_silent() {
    let app = spawn_app_with(Options {
        run_router: false,
        run_delivery: false,
        ..Options::default()
    })
    .await;
    let token = "operator-log-test-token";
    let fleet = ChildFleet::start(
        &app,
        &[
            // The binary's default filter (telemetry.rs), which RUST_LOG unset means.
            ("RUST_LOG", "info,lapin=warn,amq_protocol=warn"),
            ("HOOKFLEET_ADMIN_TOKEN", token),
            ("HOOKFLEET_RETRY_LADDER", "200ms"),
        ],
    )
    .await;
    let api = fleet.api.clone();
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str, bearer: &str, body: Option<Value>| {
        let mut req = http
            .request(method, format!("{api}{path}"))
            .bearer_auth(bearer);
        if let Some(body) = body {
            req = req.json(&body);
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let text = res.text().await.unwrap();
            (
                status,
                serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
            )
        }
    };
    use reqwest::Method as M;

    // A subscription whose URL carries a credential (user info is refused, so in its query),
    // on a receiver that answers 200.
    let ok = Receiver::start().await;
    let url_password = "url-pa55word-never-logged";
    let with_credential = format!("{}?token={url_password}", ok.url);
    let (status, sub) = call(
        M::POST,
        "/v1/subscriptions",
        token,
        Some(json!({"url": with_credential, "event_types": ["user.*"]})),
    )
    .await;
    assert_eq!(status, 201, "{sub}");
    let sub_id = sub["id"].as_str().unwrap().to_owned();
    let sub_secret = sub["secret"].as_str().unwrap().to_owned();
    app.wait_delivering(&sub_id, true).await;

    // The happy path: an event delivered and recorded, and not one INFO line about it.
    let before = fleet.log_now().len();
    let (status, _) = call(
        M::POST,
        "/v1/events",
        token,
        Some(json!({"type": "user.created", "data": {"n": 1}})),
    )
    .await;
    assert_eq!(status, 202);
    ok.wait_for(1, Duration::from_secs(10)).await;
    let log_path = format!("/v1/subscriptions/{sub_id}/deliveries");
    app.wait_until(
        Duration::from_secs(10),
        "the delivery is recorded",
        || async {
            call(M::GET, &log_path, token, None).await.1["data"][0]["status"] == "delivered"
        },
    )
    .await;
    let during = fleet.log_now()[before..].to_owned();
    assert!(
        infos(&during).is_empty(),
        "INFO lines while an event was delivered:\n{during}"
    );

    // Changes, each by the admin token or by a key.
    let (status, key) = call(
        M::POST,
        "/v1/api-keys",
        token,
        Some(json!({"name": "ops", "scopes": ["admin"]})),
    )
    .await;
    assert_eq!(status, 201, "{key}");
    let key_id = key["id"].as_str().unwrap().to_owned();
    let key_secret = key["key"].as_str().unwrap().to_owned();
    let sub_path = format!("/v1/subscriptions/{sub_id}");
    let changes = [
        (
            M::PATCH,
            sub_path.clone(),
            Some(json!({"description": "ops"})),
        ),
        (M::POST, format!("{sub_path}/disable"), None),
        (M::POST, format!("{sub_path}/enable"), None),
        (M::POST, format!("{sub_path}/secret/rotate"), None),
        (
            M::POST,
            format!("{sub_path}/recover"),
            Some(json!({"since": "2020-01-01T00:00:00Z"})),
        ),
    ];
    for (method, path, body) in &changes {
        let (status, answer) = call(method.clone(), path, &key_secret, body.clone()).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {answer}"
        );
    }
    let channel_password = "channel-pa55word-never-logged";
    let (status, channel) = call(
        M::POST,
        "/v1/channels",
        token,
        Some(json!({"name": "deploys", "password": channel_password})),
    )
    .await;
    assert_eq!(status, 201, "{channel}");
    let channel_id = channel["id"].as_str().unwrap().to_owned();

    // A receiver that fails: one retry (INFO), then exhausted (WARN).
    let failing = Receiver::start().await;
    failing.reply(Reply::Status(500));
    let (_, bad) = call(
        M::POST,
        "/v1/subscriptions",
        token,
        Some(json!({"url": failing.url, "event_types": ["order.*"]})),
    )
    .await;
    let bad_id = bad["id"].as_str().unwrap().to_owned();
    app.wait_delivering(&bad_id, true).await;
    call(
        M::POST,
        "/v1/events",
        token,
        Some(json!({"type": "order.paid", "data": {}})),
    )
    .await;
    app.wait_until(
        Duration::from_secs(20),
        "the delivery is exhausted",
        || async {
            failing.count() == 2
                && call(
                    M::GET,
                    &format!("/v1/subscriptions/{bad_id}/deliveries"),
                    token,
                    None,
                )
                .await
                .1["data"][0]["status"]
                    == "exhausted"
        },
    )
    .await;
    let (status, _) = call(M::DELETE, &sub_path, token, None).await;
    assert_eq!(status, 204);
    let (status, _) = call(M::DELETE, &format!("/v1/api-keys/{key_id}"), token, None).await;
    assert!((200..300).contains(&status));

    let text = fleet.stop().await;
    let changes: Vec<&str> = text.lines().filter(|l| l.contains("API change")).collect();
    let expect = [
        (
            "admin token",
            "POST /v1/subscriptions ",
            format!("id={sub_id}"),
        ),
        ("admin token", "POST /v1/api-keys ", format!("id={key_id}")),
        (
            &key_id,
            "PATCH /v1/subscriptions/{id} ",
            format!("id={sub_id}"),
        ),
        (
            &key_id,
            "POST /v1/subscriptions/{id}/disable",
            format!("id={sub_id}"),
        ),
        (
            &key_id,
            "POST /v1/subscriptions/{id}/enable",
            format!("id={sub_id}"),
        ),
        (
            &key_id,
            "POST /v1/subscriptions/{id}/secret/rotate",
            format!("id={sub_id}"),
        ),
        (
            &key_id,
            "POST /v1/subscriptions/{id}/recover",
            format!("id={sub_id}"),
        ),
        (
            "admin token",
            "POST /v1/channels ",
            format!("id={channel_id}"),
        ),
        (
            "admin token",
            "POST /v1/subscriptions ",
            format!("id={bad_id}"),
        ),
        (
            "admin token",
            "DELETE /v1/subscriptions/{id} ",
            format!("id={sub_id}"),
        ),
        (
            "admin token",
            "DELETE /v1/api-keys/{id} ",
            format!("id={key_id}"),
        ),
    ];
    for (who, what, id) in &expect {
        let n = changes
            .iter()
            .filter(|l| {
                l.contains(" INFO ")
                    && l.contains(who)
                    && l.contains(what)
                    && l.contains(id.as_str())
            })
            .count();
        assert_eq!(
            n,
            1,
            "{who} {what} {id}: {n} lines in\n{}",
            changes.join("\n")
        );
    }
    assert_eq!(changes.len(), expect.len(), "{}", changes.join("\n"));
    let retried: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" INFO ") && l.contains("attempt failed; it will be retried"))
        .collect();
    assert_eq!(retried.len(), 1, "{text}");
    assert!(
        retried[0].contains("status=500") && retried[0].contains(&bad_id),
        "{}",
        retried[0]
    );
    let exhausted = text
        .lines()
        .find(|l| l.contains("exhausted its retry ladder"))
        .unwrap();
    assert!(exhausted.contains("status=500"), "{exhausted}");
    for secret in [
        token,
        &key_secret,
        &sub_secret,
        url_password,
        channel_password,
    ] {
        assert!(!text.contains(secret), "a secret reached the log: {secret}");
    }
    assert!(
        !text.contains("NOTICE"),
        "PostgreSQL's NOTICE reached the log:\n{text}"
    );
}
