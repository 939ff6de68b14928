//! Retention: while the fleet runs, finished records older than the retention age are pruned
//! in batches, and everything a person may still act on is kept.
use hookfleet_producer::retention::Retention;
use hookfleet_testkit::{Options, spawn_app_with};
use std::time::Duration;

/// Old and recent rows of every kind, written as the router and the workers write them.
const SEED: &str = r#"
INSERT INTO events (id, type, "timestamp", organization_ids, service_partitions, data, received_at, routed_at)
SELECT id, 't.x', now(), '[]', '[]', '{}', at, routed
FROM (VALUES
    ('evt_old_done', now() - interval '40 days', now() - interval '40 days'),
    ('evt_old_failed', now() - interval '40 days', now() - interval '40 days'),
    ('evt_old_lonely', now() - interval '40 days', now() - interval '40 days'),
    ('evt_old_unrouted', now() - interval '40 days', NULL),
    ('evt_new', now(), now())) AS v(id, at, routed);
INSERT INTO deliveries (id, event_id, subscription_id, status, attempts, created_at)
SELECT 'dlv_old_' || i, 'evt_old_done', 'sub_x',
       CASE WHEN i % 2 = 0 THEN 'delivered' ELSE 'exhausted' END, 1,
       now() - interval '40 days' + i * interval '1 ms'
FROM generate_series(1, 2500) AS i;
INSERT INTO deliveries (id, event_id, subscription_id, status, attempts, created_at) VALUES
    ('dlv_old_failed', 'evt_old_failed', 'sub_x', 'failed', 3, now() - interval '40 days'),
    ('dlv_old_pending', 'evt_old_failed', 'sub_x', 'pending', 1, now() - interval '40 days'),
    ('dlv_new', 'evt_new', 'sub_x', 'delivered', 1, now());
INSERT INTO delivery_attempts (delivery_id, attempt, sent_at, status_code, duration_ms)
SELECT id, 1, created_at, 200, 5 FROM deliveries;
INSERT INTO poison_messages (queue, reason, excerpt, received_at) VALUES
    ('q', 'r', 'e', now() - interval '40 days'),
    ('q', 'r', 'e', now());
INSERT INTO lifecycle_events (channel_id, event_id, state, closed, updated_at) VALUES
    ('chn_a', 'old_closed', '{}', true, now() - interval '40 days'),
    ('chn_a', 'old_open', '{}', false, now() - interval '40 days'),
    ('chn_a', 'new_closed', '{}', true, now());
INSERT INTO lifecycle_ops (channel_id, op_id, route, event_id, created_at) VALUES
    ('chn_a', 'op-old', 'create', 'old_closed', now() - interval '40 days'),
    ('chn_a', 'op-new', 'close', 'new_closed', now());
"#;

async fn ids(app: &hookfleet_testkit::TestApp, sql: &str) -> Vec<String> {
    let mut ids: Vec<String> = app
        .db
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn old_finished_records_are_pruned_in_batches_and_the_rest_is_kept() {
    let app = spawn_app_with(Options {
        retention: Retention {
            keep: Some(Duration::from_secs(30 * 86_400)),
            batch: 1000,
            pause: Duration::from_millis(1),
            every: Duration::from_millis(200),
        },
        ..Options::default()
    })
    .await;
    app.db.batch_execute(SEED).await.unwrap();
    app.wait_until(
        Duration::from_secs(20),
        "the old finished deliveries are pruned",
        || async { ids(&app, "SELECT id FROM deliveries").await.len() == 3 },
    )
    .await;
    app.wait_until(Duration::from_secs(5), "their event is pruned", || async {
        ids(&app, "SELECT id FROM events").await.len() == 3
    })
    .await;
    // Kept: what a retry waits on (failed, pending) and what is recent.
    assert_eq!(
        ids(&app, "SELECT id FROM deliveries").await,
        ["dlv_new", "dlv_old_failed", "dlv_old_pending"]
    );
    assert_eq!(
        ids(&app, "SELECT DISTINCT delivery_id FROM delivery_attempts").await,
        ["dlv_new", "dlv_old_failed", "dlv_old_pending"],
        "attempts go with their delivery"
    );
    // Kept: an event with a delivery left, one not yet fanned out, and a recent one.
    assert_eq!(
        ids(&app, "SELECT id FROM events").await,
        ["evt_new", "evt_old_failed", "evt_old_unrouted"]
    );
    assert_eq!(
        ids(&app, "SELECT received_at::text FROM poison_messages WHERE received_at > now() - interval '1 day'").await.len(),
        1
    );
    assert_eq!(
        ids(&app, "SELECT id::text FROM poison_messages")
            .await
            .len(),
        1,
        "only the recent poison note is left"
    );
    // The lifecycle: a closed event last changed before the age goes, an open one stays
    // whatever its age (it may still be updated or closed); op ids go by their call's age.
    app.wait_until(
        Duration::from_secs(5),
        "old lifecycle rows are pruned",
        || async { ids(&app, "SELECT op_id FROM lifecycle_ops").await == ["op-new"] },
    )
    .await;
    assert_eq!(
        ids(&app, "SELECT event_id FROM lifecycle_events").await,
        ["new_closed", "old_open"]
    );
}

#[tokio::test]
async fn a_bad_retention_setting_stops_the_producer_with_its_name() {
    // The producer's port is taken (as by a demo left running on 8080): the bad setting is
    // still what it names, since settings are read before the port is bound.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    for (name, value) in [
        ("HOOKFLEET_RETENTION", "forever"),
        ("HOOKFLEET_RETENTION", "0s"),
        ("HOOKFLEET_RETENTION_BATCH", "0"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hookfleet"))
            .arg("producer")
            .env("HOOKFLEET_HTTP_ADDR", &busy_addr)
            .env("HOOKFLEET_ADMIN_TOKEN", "t")
            .env("HOOKFLEET_AMQP_URL", "amqp://127.0.0.1:1/%2f")
            .env(name, value)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{name}={value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(name), "{name}={value}: {err}");
    }
}
