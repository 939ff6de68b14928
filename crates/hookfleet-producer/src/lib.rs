//! hookfleet-producer is the HTTP front door. It validates and authenticates requests, assigns
//! event ids, publishes accepted events to `hookfleet.ingest` and answers success only after the
//! broker has confirmed them. It also serves the management API: subscriptions (whose queues
//! and bindings it declares) and the delivery log. No per-event database write happens here:
//! the router records events in batches.
#![forbid(unsafe_code)]

mod api;
pub mod error;
pub mod extract;
mod replay;
pub mod targets;

use hookfleet_bus::{Publisher, Topology, lapin::Connection};
use hookfleet_store::Store;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Producer settings (see README for the environment variables behind them).
#[derive(Clone)]
pub struct Settings {
    /// Accepted Bearer tokens; more than one lets an operator rotate without downtime.
    pub admin_tokens: Vec<String>,
    /// Allow subscription URLs on loopback/private networks (tests, local demos).
    pub allow_private_targets: bool,
    /// Confirm-mode channels for publishing: 4 keeps two cores busy without frame contention.
    pub publisher_channels: usize,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("admin_tokens", &"[redacted]")
            .field("allow_private_targets", &self.allow_private_targets)
            .field("publisher_channels", &self.publisher_channels)
            .finish()
    }
}

pub(crate) struct AppState {
    pub store: Store,
    pub connection: Connection,
    pub publisher: Publisher,
    /// Channel for topology changes (declares, deletes), kept apart from publishing.
    pub admin_channel: hookfleet_bus::lapin::Channel,
    pub topology: Topology,
    pub settings: Settings,
    pub recover_lock: tokio::sync::Mutex<()>,
}

/// Registers the producer's metric descriptions (for `# HELP` lines).
pub fn describe_metrics() {
    metrics::describe_counter!(
        "hookfleet_events_ingested_total",
        "Events accepted and confirmed into hookfleet.ingest."
    );
    metrics::describe_counter!(
        "hookfleet_http_requests_total",
        "HTTP requests answered by the producer API, by route template and status class."
    );
}

/// Whether the broker connection is up and the database answers.
pub async fn ready(store: &Store, connection: &hookfleet_bus::lapin::ConnectionStatus) -> bool {
    connection.connected() && store.ping().await.is_ok()
}

/// Serves the API on `listener` until `shutdown` is cancelled, then drains in-flight requests.
pub async fn run(
    listener: TcpListener,
    store: Store,
    connection: Connection,
    topology: Topology,
    settings: Settings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let admin_channel = connection
        .create_channel()
        .await
        .context("Failed to open the producer's admin channel")?;
    hookfleet_bus::topology::declare_topology(&admin_channel, &topology)
        .await
        .context("Failed to declare the broker topology")?;
    let publisher = Publisher::new(&connection, settings.publisher_channels)
        .await
        .context("Failed to open publisher channels")?;
    let state = Arc::new(AppState {
        store,
        connection,
        publisher,
        admin_channel,
        topology,
        settings,
        recover_lock: tokio::sync::Mutex::new(()),
    });
    let app = api::router(state);
    tracing::info!(addr = %listener.local_addr()?, "Producer API listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .context("The producer's HTTP server failed")?;
    Ok(())
}
