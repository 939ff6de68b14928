//! Promise 1 and 2 under a crash: the delivery role runs as a real process, is SIGKILLed while
//! messages are in flight, and a new one takes over. Every copy must reach the receiver at
//! least once and every attempt must be recorded exactly once.
use hookfleet_testkit::{Options, Receiver, Reply, TestApp, spawn_app_with};
use serde_json::json;
use std::{collections::HashSet, process::Stdio, time::Duration};
use tokio::process::{Child, Command};

fn start_worker(app: &TestApp) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookfleet"));
    cmd.arg("delivery")
        .envs(app.child_env())
        // Small in-flight numbers so the kill lands with work both sent and unsent.
        .env("HOOKFLEET_DELIVERY_PREFETCH", "32")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    cmd.spawn().expect("start the delivery role")
}

#[tokio::test]
async fn a_sigkilled_worker_loses_nothing_and_records_each_attempt_once() {
    let app = spawn_app_with(Options {
        run_delivery: false,
        ..Options::default()
    })
    .await;
    let rx = Receiver::start().await;
    rx.reply(Reply::Slow(Duration::from_millis(15), 200));
    app.subscribe(json!({"url": rx.url, "event_types": ["#"], "max_in_flight": 8}))
        .await;

    const EVENTS: usize = 150;
    for i in 0..EVENTS {
        app.publish(json!({"type": "load.test", "organization_ids": ["a", "b"], "data": {"i": i}}))
            .await;
    }
    let copies = EVENTS * 2;

    let mut first = start_worker(&app);
    rx.wait_for(40, Duration::from_secs(30)).await;
    first.kill().await.expect("SIGKILL the worker");
    let at_kill = rx.count();
    eprintln!("crash test: {at_kill} requests received when the worker was killed");
    assert!(
        at_kill < copies,
        "the kill landed after everything was delivered ({at_kill}); the test proves nothing"
    );

    let second = start_worker(&app);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let distinct: HashSet<String> = rx
            .received()
            .iter()
            .map(|r| r.header("webhook-id").to_owned())
            .collect();
        if distinct.len() == copies {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {copies} copies delivered",
            distinct.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.wait_until(
        Duration::from_secs(20),
        "every delivery is recorded delivered",
        || async {
            app.db
                .query_one(
                    &format!(
                        "SELECT count(*) FROM {}.deliveries WHERE status = 'delivered'",
                        schema(&app)
                    ),
                    &[],
                )
                .await
                .unwrap()
                .get::<_, i64>(0)
                == copies as i64
        },
    )
    .await;
    let row = app
        .db
        .query_one(
            &format!(
                "SELECT count(*), count(DISTINCT delivery_id) FROM {}.delivery_attempts",
                schema(&app)
            ),
            &[],
        )
        .await
        .unwrap();
    let (attempts, distinct): (i64, i64) = (row.get(0), row.get(1));
    eprintln!(
        "crash test: {} requests for {copies} copies in all",
        rx.count()
    );
    assert_eq!(
        distinct, copies as i64,
        "every delivery has an attempt recorded"
    );
    assert_eq!(attempts, copies as i64, "no attempt is recorded twice");
    assert_eq!(app.queue_depth(&app.topology.dead()).await, Some(0));
    assert_eq!(app.count("events").await, EVENTS as i64);

    // SIGTERM drains and exits 0.
    let pid = second.id().expect("a running child");
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let mut second = second;
    let exit = tokio::time::timeout(Duration::from_secs(20), second.wait())
        .await
        .expect("exits in time")
        .unwrap();
    assert!(exit.success(), "graceful shutdown exits 0, got {exit}");
}

fn schema(app: &TestApp) -> String {
    app.topology.prefix().trim_end_matches('.').to_owned()
}
