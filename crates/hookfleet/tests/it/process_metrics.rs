//! What the Grafana dashboard's restarts panel reads from a real `hookfleet all` process:
//! when the process started (a crashed and restarted process shows a new value) and each
//! role's reconnect counter, present at 0 from the start so its first increase can be seen.
use crate::child::ChildFleet;
use hookfleet_testkit::{Options, spawn_app_with};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
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
    let scrape = || async {
        match http.get(format!("http://{addr}/metrics")).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    };
    let roles = ["producer", "router", "delivery"];
    let restarts = |role: &str| format!("hookfleet_role_restarts_total{{role=\"{role}\"}}");
    app.wait_until(
        Duration::from_secs(10),
        "every role's restart counter is on /metrics",
        || async {
            let text = scrape().await;
            roles
                .iter()
                .all(|role| sample(&text, &restarts(role)).is_some())
        },
    )
    .await;
    let text = scrape().await;
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
