//! Starting roles side by side in one process (`all`, `demo`, `bench`) or alone, under one
//! shutdown token: if any role fails, the others are stopped and the error is returned.
use crate::settings::Common;
use anyhow::Context;
use hookfleet_launch::Fleet;
use hookfleet_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::{net::TcpListener, task::JoinSet};
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
    let mut tasks: JoinSet<(&'static str, anyhow::Result<()>)> = JoinSet::new();
    for s in started {
        tasks.spawn(async move { (s.role, s.task.await.unwrap_or_else(|e| Err(e.into()))) });
    }
    if let Some(handle) = metrics {
        let (addr, token) = (common.metrics_addr, shutdown.clone());
        tasks.spawn(async move {
            (
                "metrics",
                crate::telemetry::serve(addr, handle, store, links, token).await,
            )
        });
    }
    first_failure(tasks, &shutdown).await
}

/// Waits for every task; the first failure (or a role that stopped on its own) stops the rest
/// and is returned.
async fn first_failure(
    mut tasks: JoinSet<(&'static str, anyhow::Result<()>)>,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let (role, result) = joined.context("A role panicked")?;
        match result {
            Ok(()) if shutdown.is_cancelled() => {}
            Ok(()) => {
                first_error.get_or_insert(anyhow::anyhow!("The {role} stopped unexpectedly"));
                shutdown.cancel();
            }
            Err(e) => {
                tracing::error!(
                    role,
                    error = format!("{e:#}"),
                    "A role failed; stopping the others"
                );
                first_error.get_or_insert(e.context(format!("The {role} failed")));
                shutdown.cancel();
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
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
