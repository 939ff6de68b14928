//! Starting roles side by side in one process (`all`, `demo`) or alone, under one
//! shutdown token: if any role fails, the others are stopped and the error is returned.
use crate::settings::Common;
use anyhow::Context;
use hookfleet_launch::Fleet;
use hookfleet_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use hookfleet_launch::Roles;

/// Runs `roles` and the metrics server until `shutdown` is cancelled or a role fails. Roles
/// ride out broker outages on their own (see `hookfleet_bus::supervise`); a failure here is
/// one they cannot recover from.
pub async fn run(
    common: &Common,
    roles: Roles,
    metrics: Option<PrometheusHandle>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    hookfleet_bus::check_url(&common.amqp_url).map_err(|reason| {
        anyhow::anyhow!("HOOKFLEET_AMQP_URL is not a valid AMQP URL: {reason}")
    })?;
    let store = Store::connect(&common.database_url, common.db_pool_size)
        .context("HOOKFLEET_DATABASE_URL is not a valid PostgreSQL URL")?
        .with_sealer(sealer(common));
    let fleet = Fleet {
        amqp_url: common.amqp_url.clone(),
        store: store.clone(),
        topology: common.topology(),
        connection_prefix: String::new(),
    };
    let started = hookfleet_launch::spawn(&fleet, roles, &shutdown);
    let links = started.iter().map(|s| s.link.clone()).collect();
    let mut tasks = hookfleet_launch::tasks(started);
    if let Some(handle) = metrics {
        let (addr, token) = (common.metrics_addr, shutdown.clone());
        tasks.spawn(async move {
            (
                "metrics",
                crate::telemetry::serve(addr, handle, store, links, token).await,
            )
        });
    }
    hookfleet_launch::first_failure(tasks, &shutdown).await
}

pub async fn bind(addr: std::net::SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("Failed to bind HOOKFLEET_HTTP_ADDR {addr}"))
}

/// The keys of `HOOKFLEET_SECRET_KEYS`; a warning if that is the development key.
fn sealer(common: &Common) -> hookfleet_store::Sealer {
    if common.secret_keys.is_development() {
        tracing::warn!(
            "HOOKFLEET_SECRET_KEYS is not set: signing secrets are sealed with the built-in development key, which protects nothing; set your own key before production use"
        );
    }
    common.secret_keys.clone()
}
