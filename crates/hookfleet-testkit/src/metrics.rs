//! The fleet's counters as a test sees them: one Prometheus recorder for the whole test
//! process, installed by the first app, read back by series the way Prometheus would scrape
//! them. Counters belong to the process, not to an app (nextest runs each test in a process of
//! its own; `cargo test` shares one), so a test compares with a reading taken before it acts.
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder once per process; later calls do nothing.
pub(crate) fn install() {
    HANDLE.get_or_init(|| PrometheusBuilder::new().install_recorder().ok());
}

/// The value of the series whose name and labels are exactly `series`
/// (`hookfleet_poison_messages_total{queue="hooks"}`), 0 while it has not been recorded.
pub fn counter(series: &str) -> f64 {
    let handle = HANDLE
        .get_or_init(|| PrometheusBuilder::new().install_recorder().ok())
        .as_ref()
        .expect("the test process has no other metrics recorder");
    handle
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}
