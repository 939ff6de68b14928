//! The command line against a real fleet: what a person types, what they read, and that a
//! refusal or a hostile receiver's answer reaches them as one clean line.
use hookfleet_testkit::{Receiver, Reply, TOKEN, TestApp, spawn_app};
use serde_json::{Value, json};
use std::{process::Stdio, time::Duration};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::Command,
};

fn command(app: &TestApp, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookfleet"));
    cmd.args(args)
        .env("HOOKFLEET_API_URL", &app.api)
        .env("HOOKFLEET_API_KEY", TOKEN)
        .env_remove("HOOKFLEET_ADMIN_TOKEN")
        .env_remove("RUST_BACKTRACE")
        .kill_on_drop(true);
    cmd
}

/// Runs the CLI to its end: (exited 0, stdout, stderr).
async fn run(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = command(app, args).output().await.unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn field<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name:?} in {out}"))
}

#[tokio::test]
async fn a_person_subscribes_sends_follows_the_log_and_unsubscribes_from_the_terminal() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    let (ok, out, err) = run(
        &app,
        &[
            "subscriptions",
            "create",
            "--url",
            &rx.url,
            "--event-type",
            "user.*",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let id = field(&out, "id").to_owned();
    assert!(field(&out, "secret").starts_with("whsec_"), "{out}");
    let (ok, out, _) = run(&app, &["subscriptions", "list"]).await;
    assert!(ok);
    let row = out.lines().find(|l| l.starts_with(&id)).expect("listed");
    assert!(
        row.contains("active") && row.contains("user.*") && row.contains(&rx.url),
        "{row}"
    );

    // Follow the log while an event is sent and delivered.
    let mut tail = command(&app, &["deliveries", "tail", "--interval", "200ms"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(tail.stdout.take().unwrap()).lines();
    let (ok, out, err) = run(
        &app,
        &[
            "events",
            "send",
            "--type",
            "user.created",
            "--data",
            r#"{"n": 1}"#,
            "--organization",
            "org-1",
        ],
    )
    .await;
    assert!(ok, "{err}");
    assert!(
        out.starts_with("accepted evt_") && out.contains("user.created"),
        "{out}"
    );
    let line = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            let line = lines.next_line().await.unwrap().expect("tail ended");
            if line.contains("delivered") {
                return line;
            }
        }
    })
    .await
    .expect("tail shows the delivery delivered");
    // SIGTERM (what a supervisor or `timeout` sends) ends it, as Ctrl-C does.
    let pid = tail.id().expect("tail runs").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    tokio::time::timeout(Duration::from_secs(5), tail.wait())
        .await
        .expect("tail ends within 5 s of SIGTERM")
        .unwrap();
    assert!(
        line.contains(&id) && line.contains("user.created") && line.contains("200"),
        "{line}"
    );
    let delivery = line.split_whitespace().nth(1).unwrap().to_owned();
    assert_eq!(rx.count(), 1);

    let (ok, out, _) = run(&app, &["deliveries", "show", &delivery]).await;
    assert!(ok);
    assert_eq!(field(&out, "status"), "delivered", "{out}");
    assert_eq!(field(&out, "organization"), "org-1", "{out}");
    assert!(out.contains("response to attempt 1:\nok"), "{out}");
    let (ok, out, _) = run(&app, &["subscriptions", "show", &id]).await;
    assert!(ok);
    assert_eq!(field(&out, "backlog"), "0", "{out}");
    assert_eq!(field(&out, "parked"), "0", "{out}");
    let (ok, json_out, _) = run(&app, &["deliveries", "show", &delivery, "--json"]).await;
    assert!(ok);
    let v: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(v["event_type"], "user.created");

    // Refusals are the API's code and message on one line, and exit 1.
    let (ok, _, err) = run(&app, &["events", "send", "--type", "no spaces"]).await;
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: POST /v1/events: 422 validation_failed: type: "),
        "{err}"
    );
    let (ok, _, err) = run(
        &app,
        &[
            "subscriptions",
            "create",
            "--url",
            "ftp://x",
            "--event-type",
            "a",
        ],
    )
    .await;
    assert!(!ok && err.contains("422"), "{err}");
    let (ok, _, err) = command(&app, &["subscriptions", "list"])
        .env("HOOKFLEET_API_KEY", "wrong")
        .output()
        .await
        .map(|o| (o.status.success(), (), String::from_utf8(o.stderr).unwrap()))
        .unwrap();
    assert!(!ok && err.contains("401"), "{err}");

    let (ok, out, _) = run(&app, &["subscriptions", "disable", &id]).await;
    assert!(ok);
    assert_eq!(field(&out, "state"), "disabled", "{out}");
    let (ok, out, _) = run(&app, &["subscriptions", "enable", &id]).await;
    assert!(ok);
    assert_eq!(field(&out, "state"), "active", "{out}");
    let (ok, out, _) = run(&app, &["subscriptions", "delete", &id]).await;
    assert!(ok && out.contains("deleted"));
    let (_, out, _) = run(&app, &["subscriptions", "list"]).await;
    assert!(!out.contains(&id), "{out}");
}

#[tokio::test]
async fn a_receivers_answer_cannot_drive_the_terminal() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.reply(Reply::Body(200, b"ok\x1b[2J\x1b]0;owned\x07"));
    let sub = app
        .subscribe(json!({"url": rx.url, "event_types": ["t.x"]}))
        .await;
    let res = app
        .post(
            &format!("/v1/subscriptions/{}/test", sub["id"].as_str().unwrap()),
            &json!({"event_type": "t.x"}),
        )
        .await;
    let delivery = res.json::<Value>().await.unwrap()["delivery_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_until(
        Duration::from_secs(10),
        "the test send is recorded",
        || async {
            app.get(&format!("/v1/deliveries/{delivery}"))
                .await
                .status()
                == 200
        },
    )
    .await;
    let (ok, out, _) = run(&app, &["deliveries", "show", &delivery]).await;
    assert!(ok);
    assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
    assert!(out.contains("ok\\u{1b}[2J"), "{out}");
}

#[tokio::test]
async fn recover_sends_a_large_window_again_in_steps_each_delivery_once() {
    let app = spawn_app().await;
    let rx = Receiver::start().await;
    rx.reply(Reply::Status(500));
    let sub = app
        .subscribe(json!({"url": rx.url, "event_types": ["#"], "retry_ladder": []}))
        .await;
    let sub_id = sub["id"].as_str().unwrap();
    let since = time::OffsetDateTime::now_utc() - Duration::from_secs(1);
    let mut events = Vec::new();
    for i in 0..7 {
        events.push(app.publish(json!({"type": "r.x", "data": {"i": i}})).await);
    }
    for id in &events {
        app.wait_status(id, "exhausted").await;
    }
    app.wait_until(Duration::from_secs(10), "7 parked", || async {
        app.queue_depth(&app.topology.dead()).await == Some(7)
    })
    .await;
    rx.reply(Reply::Status(200));
    let since = since
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let path = format!("/v1/subscriptions/{sub_id}/recover");
    for bad in [
        json!({"since": since, "limit": 0}),
        json!({"since": since, "limit": 10_001}),
        json!({"since": since, "limit": 1, "cursor": "zzz"}),
    ] {
        assert_eq!(app.post(&path, &bad).await.status(), 422, "{bad}");
    }
    let (ok, out, err) = run(
        &app,
        &[
            "subscriptions",
            "recover",
            sub_id,
            "--since",
            &since,
            "--step",
            "3",
        ],
    )
    .await;
    assert!(ok, "{err}");
    // Not a terminal: one line per step instead of the bar, then the total.
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "recovered 3 of 7",
            "recovered 6 of 7",
            "recovered 7 of 7",
            "recovered 7 deliveries (7 parked copies taken out of the dead queue)",
        ],
        "{out}"
    );
    for id in &events {
        assert_eq!(app.wait_status(id, "delivered").await["attempt_count"], 2);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.succeeded().len(), 7, "each once");
    assert_eq!(app.queue_depth(&app.topology.dead()).await, Some(0));
}

#[tokio::test]
async fn a_wrong_key_or_no_fleet_says_what_to_check() {
    let app = spawn_app().await;
    let out = command(&app, &["subscriptions", "list"])
        .env("HOOKFLEET_API_KEY", "not-a-key")
        .output()
        .await
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success());
    assert!(
        err.contains("401") && err.contains("HOOKFLEET_API_KEY"),
        "{err}"
    );

    // Nothing listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = command(&app, &["subscriptions", "list"])
        .env("HOOKFLEET_API_URL", format!("http://127.0.0.1:{port}"))
        .output()
        .await
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success());
    assert!(
        err.contains("hookfleet all") && err.contains("HOOKFLEET_API_URL"),
        "{err}"
    );
}
