//! Starting roles side by side in one process (`all`, `demo`, `bench`) or alone, under one
//! shutdown token: if any role fails, the others are stopped and the error is returned.
use crate::settings::Common;
use anyhow::Context;
use hookfleet_bus::{Broker, Topology, supervise};
use hookfleet_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::{net::TcpListener, task::JoinSet};
use tokio_util::sync::CancellationToken;

#[derive(Default)]
pub struct Roles {
    pub producer: Option<(TcpListener, hookfleet_producer::Settings)>,
    pub router: Option<hookfleet_router::Settings>,
    pub delivery: Option<hookfleet_delivery::Settings>,
}

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
        .context("HOOKFLEET_DATABASE_URL is not a valid PostgreSQL URL")?;
    let topology = Topology::new(common.namespace.clone());
    let mut tasks: JoinSet<(&'static str, anyhow::Result<()>)> = JoinSet::new();
    let mut links = Vec::new();
    let mut broker = |name: &str| {
        let b = Broker::new(&common.amqp_url, name);
        links.push(b.link.clone());
        b
    };
    if let Some((listener, settings)) = roles.producer {
        let broker = broker("producer");
        let (store, topology, token) = (store.clone(), topology.clone(), shutdown.clone());
        tasks.spawn(async move {
            (
                "producer",
                hookfleet_producer::run(listener, store, broker, topology, settings, token).await,
            )
        });
    }
    if let Some(settings) = roles.router {
        let broker = broker("router");
        let context = (store.clone(), topology.clone(), settings, shutdown.clone());
        let token = shutdown.clone();
        tasks.spawn(async move {
            let result = supervise(&broker, token, context, |conn, (s, t, settings, token)| {
                hookfleet_router::run(conn, s, t, settings, token)
            })
            .await;
            ("router", result)
        });
    }
    if let Some(settings) = roles.delivery {
        let broker = broker("delivery");
        let context = (store.clone(), topology.clone(), settings, shutdown.clone());
        let token = shutdown.clone();
        tasks.spawn(async move {
            let result = supervise(&broker, token, context, |conn, (s, t, settings, token)| {
                hookfleet_delivery::run(conn, s, t, settings, token)
            })
            .await;
            ("delivery", result)
        });
    }
    if let Some(handle) = metrics {
        let (addr, store, token) = (common.metrics_addr, store.clone(), shutdown.clone());
        tasks.spawn(async move {
            (
                "metrics",
                crate::telemetry::serve(addr, handle, store, links, token).await,
            )
        });
    }
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
