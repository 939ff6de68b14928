//! What the Grafana dashboard and the alert rules read from a real process's `/metrics`:
//! when the process started (a crashed and restarted process shows a new value), each role's
//! reconnect counter and exhausted deliveries, present at 0 from the start so their first
//! increase can be seen, and whether the process is ready (a process up without its broker
//! cannot work).
use crate::child::ChildFleet;
use hookfleet_testkit::{Options, spawn_app_with};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn scrape(http: &reqwest::Client, addr: &str) -> String {
    match http.get(format!("http://{addr}/metrics")).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The value of the sample whose name and labels are exactly `series`, if `/metrics` has it.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

#[tokio::test]
async fn a_process_reports_its_start_time_and_each_roles_restarts_from_zero() {
    let app = spawn_app_with(Options {
        run_router: false,
        run_delivery: false,
        ..Options::default()
    })
    .await;
    let addr = format!("127.0.0.1:{}", free_port());
    let before = unix_now();
    let fleet = ChildFleet::start(
        &app,
        &[
            ("HOOKFLEET_METRICS_ADDR", addr.as_str()),
            ("HOOKFLEET_ADMIN_TOKEN", "process-metrics-token"),
        ],
    )
    .await;
    let after = unix_now();
    let http = reqwest::Client::new();
    let roles = ["producer", "router", "delivery"];
    let restarts = |role: &str| format!("hookfleet_role_restarts_total{{role=\"{role}\"}}");
    app.wait_until(
        Duration::from_secs(10),
        "every role's restart counter and the exhausted counter are on /metrics",
        || async {
            let text = scrape(&http, &addr).await;
            roles
                .iter()
                .all(|role| sample(&text, &restarts(role)).is_some())
                && sample(&text, "hookfleet_deliveries_exhausted_total").is_some()
        },
    )
    .await;
    let text = scrape(&http, &addr).await;
    assert_eq!(sample(&text, "hookfleet_ready"), Some(1.0), "{text}");
    // HookfleetDeliveriesExhausted takes increase() of it: it must be there before the first.
    assert_eq!(
        sample(&text, "hookfleet_deliveries_exhausted_total"),
        Some(0.0),
        "{text}"
    );
    for role in roles {
        let series = restarts(role);
        assert_eq!(sample(&text, &series), Some(0.0), "{series} in:\n{text}");
    }
    let started = sample(&text, "hookfleet_process_start_time_seconds")
        .unwrap_or_else(|| panic!("no hookfleet_process_start_time_seconds in:\n{text}"));
    assert!(
        (before - 1.0..=after + 1.0).contains(&started),
        "start time {started} is not between {before} and {after}"
    );
    fleet.stop().await;
}

#[tokio::test]
async fn a_process_without_its_broker_serves_metrics_saying_it_is_not_ready() {
    let app = spawn_app_with(Options {
        run_router: false,
        run_delivery: false,
        ..Options::default()
    })
    .await;
    let addr = format!("127.0.0.1:{}", free_port());
    // Nothing listens there: the router keeps trying to connect, serving /metrics meanwhile.
    let broker = format!("amqp://guest:guest@127.0.0.1:{}/%2f", free_port());
    let _router = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookfleet"))
        .arg("router")
        .envs(app.child_env())
        .env("HOOKFLEET_AMQP_URL", &broker)
        .env("HOOKFLEET_METRICS_ADDR", &addr)
        .env("RUST_LOG", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    app.wait_until(
        Duration::from_secs(10),
        "the router serves /metrics",
        || async { sample(&scrape(&http, &addr).await, "hookfleet_ready").is_some() },
    )
    .await;
    // Readiness is taken at each scrape, from the router's broker link.
    let text = scrape(&http, &addr).await;
    assert_eq!(sample(&text, "hookfleet_ready"), Some(0.0), "{text}");
}
