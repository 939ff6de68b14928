//! Logs, the Prometheus recorder, and the small HTTP server every role runs for `/metrics`,
//! `/healthz` and `/readyz`.
use anyhow::Context;
use axum::{Router, http::StatusCode, routing::get};
use hookfleet_bus::Link;
use hookfleet_store::Store;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use tokio_util::sync::CancellationToken;

pub use hookfleet_launch::init_logs;

/// Installs the process-wide recorder with explicit buckets, so histograms render as
/// Prometheus histograms (not summaries), and describes every metric for `# HELP`.
pub fn init_metrics() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_seconds".into()),
            &[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ],
        )
        .context("Failed to configure duration buckets")?
        .set_buckets(&[1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0])
        .context("Failed to configure size buckets")?
        .install_recorder()
        .context("Failed to install the metrics recorder")?;
    hookfleet_bus::describe_metrics();
    hookfleet_producer::describe_metrics();
    hookfleet_router::describe_metrics();
    hookfleet_delivery::describe_metrics();
    metrics::describe_gauge!(
        "hookfleet_ready",
        "1 when the process's roles hold their broker session and the database answers (as /readyz), else 0."
    );
    record_start_time();
    Ok(handle)
}

/// Sets `hookfleet_ready` to what `/readyz` would answer (1 ready, 0 not): a process that
/// serves `/metrics` but has no broker session or no database cannot work, and Prometheus'
/// `up` alone would call it healthy. Bounded, so a database that does not answer cannot make
/// the scrape itself time out.
async fn record_readiness(store: &Store, links: &[Link]) {
    let ready = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        hookfleet_producer::ready(store, links),
    )
    .await
    .unwrap_or(false);
    metrics::gauge!("hookfleet_ready").set(if ready { 1.0 } else { 0.0 });
}

/// Sets `hookfleet_process_start_time_seconds` once: a process that crashed and was started
/// again (a container restart) resets every counter, and only a new start time shows it
/// (`changes()` on the dashboard's restarts panel).
fn record_start_time() {
    metrics::describe_gauge!(
        "hookfleet_process_start_time_seconds",
        metrics::Unit::Seconds,
        "Start time of the process, in seconds since the Unix epoch."
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    metrics::gauge!("hookfleet_process_start_time_seconds").set(now);
}

/// Serves `/metrics`, `/healthz` and `/readyz` until `shutdown`.
pub async fn serve(
    addr: SocketAddr,
    handle: PrometheusHandle,
    store: Store,
    links: Vec<Link>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (metrics_store, metrics_links) = (store.clone(), links.clone());
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let h = handle.clone();
                let (store, links) = (metrics_store.clone(), metrics_links.clone());
                async move {
                    record_readiness(&store, &links).await;
                    h.run_upkeep();
                    h.render()
                }
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let (store, links) = (store.clone(), links.clone());
                async move {
                    if hookfleet_producer::ready(&store, &links).await {
                        (StatusCode::OK, "ready")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("Failed to bind HOOKFLEET_METRICS_ADDR {addr}"))?;
    tracing::info!(addr = %listener.local_addr()?, "Serving /metrics, /healthz and /readyz");
    hookfleet_producer::serve::serve(listener, app, Default::default(), shutdown).await;
    Ok(())
}

/// Cancels `token` on SIGINT or SIGTERM.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "Failed to listen for SIGTERM");
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("Shutdown requested; draining");
        token.cancel();
    });
}
