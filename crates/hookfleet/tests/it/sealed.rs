//! Signing secrets at rest: a dump of the database alone reveals none of them; secrets stored
//! before sealing existed are sealed by the producer at its next start; a key is rotated by
//! putting the new one first.
use hookfleet_store::{Sealer, Store};
use hookfleet_testkit::{Receiver, spawn_app};
use serde_json::{Value, json};
use std::time::Duration;

/// `pg_dump` of the app's schema: everything a stolen backup would hold.
async fn dump(app: &hookfleet_testkit::TestApp) -> String {
    let row = app
        .db
        .query_one(
            "SELECT current_database()::text, current_schema()::text",
            &[],
        )
        .await
        .unwrap();
    let (database, schema): (String, String) = (row.get(0), row.get(1));
    let out = tokio::process::Command::new("pg_dump")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "--data-only",
            "-n",
            &schema,
            &database,
        ])
        .output()
        .await
        .expect("pg_dump runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("a UTF-8 dump")
}

fn assert_hides(dump: &str, secrets: &[String]) {
    assert!(!secrets.is_empty());
    for s in secrets {
        let key = s.trim_start_matches("whsec_");
        assert!(key.len() >= 32, "{s}");
        assert!(!dump.contains(key), "the dump holds a secret: {s}");
    }
}

async fn secrets_of(app: &hookfleet_testkit::TestApp, id: &str) -> Vec<String> {
    let body: Value = app
        .get(&format!("/v1/subscriptions/{id}/secret"))
        .await
        .json()
        .await
        .unwrap();
    let keys = body["keys"].as_array().expect("keys");
    keys.iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_database_dump_reveals_no_signing_secret_and_deliveries_still_verify() {
    let mut app = spawn_app().await;
    let rx = Receiver::start().await;
    let a = app
        .subscribe(json!({"url": rx.url, "event_types": ["a"]}))
        .await;
    let b = app
        .subscribe(json!({"url": rx.url, "event_types": ["b"]}))
        .await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    // Rotated with a grace: two secrets sign, both sealed.
    let rotated = app
        .post(
            &format!("/v1/subscriptions/{b}/secret/rotate"),
            &json!({"previous_valid_for": "1h"}),
        )
        .await;
    assert_eq!(rotated.status(), 200);
    let mut secrets = secrets_of(&app, a).await;
    let b_secrets = secrets_of(&app, b).await;
    assert_eq!(
        b_secrets.len(),
        2,
        "a rotation in its grace signs with two secrets"
    );
    secrets.extend(b_secrets.clone());

    let text = dump(&app).await;
    assert_hides(&text, &secrets);
    assert_eq!(
        text.matches("hfenc1:t1:").count(),
        3,
        "three sealed secrets"
    );

    // Delivery opens them: both of b's signatures verify with their own secret.
    app.publish(json!({"type": "b", "organization_ids": ["o"], "data": {}}))
        .await;
    let got = rx.wait_for(1, Duration::from_secs(10)).await;
    for s in &b_secrets {
        standardwebhooks::Webhook::new(s)
            .unwrap()
            .verify(&got[0].body, &got[0].headers)
            .expect("each secret's signature verifies");
    }

    // A secret stored in plain text by an older version: sealed by the producer at its next
    // start. Written while the fleet is stopped: a running producer's own first pass (which a
    // loaded machine can delay past this point) would otherwise seal it before the check.
    let legacy = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwLegacyKey000".to_owned();
    app.stop().await;
    app.db
        .execute(
            "UPDATE subscriptions SET secrets = ARRAY[$2] WHERE id = $1",
            &[&a, &legacy],
        )
        .await
        .unwrap();
    assert!(dump(&app).await.contains(&legacy));
    app.restart().await;
    app.wait_until(Duration::from_secs(20), "the producer reseals", || async {
        !dump(&app).await.contains(&legacy)
    })
    .await;
    assert_eq!(secrets_of(&app, a).await, vec![legacy]);
}

#[tokio::test]
async fn a_new_key_first_reseals_everything_and_the_old_key_can_then_go() {
    let app = spawn_app().await;
    let sub = app
        .subscribe(json!({"url": "http://93.184.216.34/h", "event_types": ["a"]}))
        .await;
    let id = &sub["id"].as_str().unwrap().parse().unwrap();
    let secret = sub["secret"].as_str().unwrap().to_owned();
    let new_key = "t2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let old_only = Store::connect(&app.database_url, 1)
        .unwrap()
        .with_sealer(Sealer::parse(&app.secret_keys).unwrap());
    let rotating = Store::connect(&app.database_url, 1)
        .unwrap()
        .with_sealer(Sealer::parse(&format!("{new_key},{}", app.secret_keys)).unwrap());
    let new_only = Store::connect(&app.database_url, 1)
        .unwrap()
        .with_sealer(Sealer::parse(new_key).unwrap());

    // Before: only the old key opens it.
    assert!(new_only.subscription(id).await.is_err());
    let done = rotating.reseal_secrets(1).await.unwrap();
    assert_eq!((done.resealed, done.unopenable), (1, 0));
    assert_eq!(
        rotating.reseal_secrets(1).await.unwrap().resealed,
        0,
        "nothing left"
    );
    let row = new_only.subscription(id).await.unwrap().unwrap();
    assert_eq!(row.secrets, vec![secret]);
    let err = old_only.subscription(id).await.unwrap_err().to_string();
    assert!(err.contains("key `t2`"), "{err}");
    assert!(dump(&app).await.contains("hfenc1:t2:"));
}

/// A subscription whose secret was sealed with a key no longer configured (removed too early)
/// cannot be delivered, but it alone: the worker still takes up a subscription made after it
/// and delivers the others, says which cannot be read, and shows the count.
#[tokio::test]
async fn one_unreadable_subscription_does_not_hold_up_the_others() {
    let app = spawn_app().await;
    let (stuck_rx, other_rx) = (Receiver::start().await, Receiver::start().await);
    let stuck = app
        .subscribe(json!({"url": stuck_rx.url, "event_types": ["order.*"]}))
        .await;
    app.db
        .execute(
            "UPDATE subscriptions SET secrets = ARRAY['hfenc1:a-removed-key:AAAAAAAAAAAAAAAA'] \
             WHERE id = $1",
            &[&stuck["id"].as_str().unwrap()],
        )
        .await
        .unwrap();
    // Made after the unreadable row: before, every reconcile failed on that row and the worker
    // kept its old set, so this one was never consumed.
    app.subscribe(json!({"url": other_rx.url, "event_types": ["order.*"]}))
        .await;
    app.publish(json!({"type": "order.paid", "data": {}})).await;
    other_rx.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(
        hookfleet_testkit::counter("hookfleet_subscriptions_unreadable"),
        1.0
    );
    assert_eq!(stuck_rx.count(), 0);
}
