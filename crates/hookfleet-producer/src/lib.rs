//! hookfleet-producer is the HTTP front door. It validates and authenticates requests, assigns
//! event ids, publishes accepted events to `hookfleet.ingest` and answers success only after the
//! broker has confirmed them. It also serves the management API: subscriptions (whose queues
//! and bindings it declares) and the delivery log. No per-event database write happens here
//! (the router records events in batches), with one exception the design names: the lifecycle
//! dialect keeps each event's state and `op_id`, committed in the same unit as its publish.
#![forbid(unsafe_code)]

mod app;
mod audit;
mod auth;
mod console;
mod directory;
pub mod error;
pub mod extract;
mod intake;
mod janitor;
pub mod keycloak;
mod lifecycle;
pub use lifecycle::passwords::{Lockout, PasswordChecks};
mod native;
pub mod openapi;
mod pages;
mod partner;
mod probes;
pub mod retention;
pub mod serve;
pub mod targets;
mod webhooks;

use hookfleet_bus::{
    Admin, Backoff, Broker, Link, Publisher, Session, Topology,
    supervise::{STABLE, connect_until},
};
use hookfleet_store::Store;
use std::{
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};
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
    /// How long a client may take to send its request.
    pub timeouts: serve::Timeouts,
    /// How long a deleted subscription's queue is kept before it is removed (see `janitor`);
    /// well over the workers' reconcile interval.
    pub deleted_queue_grace: Duration,
    /// How often API keys are re-read from the record (see `keys`): a key revoked through
    /// another producer stops working here within this long.
    pub key_reload_interval: Duration,
    /// Bearer token(s) the lifecycle routes require (`HOOKFLEET_GATEWAY_TOKEN`); none: open.
    pub gateway_tokens: Vec<String>,
    /// Channels whose verified password is remembered, so a call skips the slow hash.
    pub password_cache_entries: usize,
    /// The threads, queue caps and lockout of channel password checks.
    pub password_checks: PasswordChecks,
    /// RabbitMQ's management API, for pull subscriptions' users
    /// (`HOOKFLEET_RABBITMQ_MANAGEMENT_URL`).
    pub management_url: String,
    /// The broker address handed to pull subscribers, without credentials
    /// (`HOOKFLEET_PULL_AMQP_URL`); its vhost is where their users may read.
    pub pull_amqp_url: String,
    /// Keys the identity provider's hook is signed with (`HOOKFLEET_KEYCLOAK_SECRET`); none:
    /// every hook call is refused.
    pub keycloak_secrets: Vec<keycloak::HookSecret>,
    /// How old a finished record may grow before it is pruned (`HOOKFLEET_RETENTION`).
    pub retention: retention::Retention,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            admin_tokens: Vec::new(),
            allow_private_targets: false,
            publisher_channels: 4,
            timeouts: serve::Timeouts::default(),
            deleted_queue_grace: Duration::from_secs(60),
            key_reload_interval: Duration::from_secs(5),
            gateway_tokens: Vec::new(),
            password_cache_entries: 10_000,
            password_checks: PasswordChecks::default(),
            management_url: "http://guest:guest@127.0.0.1:15672".into(),
            pull_amqp_url: "amqp://127.0.0.1:5672/%2f".into(),
            keycloak_secrets: Vec::new(),
            retention: retention::Retention::default(),
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("admin_tokens", &"[redacted]")
            .field("allow_private_targets", &self.allow_private_targets)
            .field("publisher_channels", &self.publisher_channels)
            .field("timeouts", &self.timeouts)
            .field("deleted_queue_grace", &self.deleted_queue_grace)
            .field("key_reload_interval", &self.key_reload_interval)
            .field("gateway_tokens", &"[redacted]")
            .field("password_cache_entries", &self.password_cache_entries)
            .field("password_checks", &self.password_checks)
            .field("management_url", &"[redacted]")
            .field("pull_amqp_url", &self.pull_amqp_url)
            .field("keycloak_secrets", &self.keycloak_secrets)
            .field("retention", &self.retention)
            .finish()
    }
}

/// One broker session of the producer. It is replaced as a whole when the connection or any
/// of its channels is lost, so a handler holds either a working set or a 503.
pub(crate) struct Bus {
    session: Session,
    pub publisher: Publisher,
    /// Channel for topology changes (declares, deletes) and the dead-queue walk, kept apart
    /// from publishing.
    pub admin: Admin,
}

impl Bus {
    /// Ready messages in `queue`; `None` if the broker cannot say.
    pub(crate) async fn queue_depth(&self, queue: &str) -> Option<u32> {
        self.session.queue_depth(queue).await.ok()
    }

    async fn open(session: Session, topology: &Topology, channels: usize) -> anyhow::Result<Self> {
        use anyhow::Context;
        let admin = session
            .admin()
            .await
            .context("Failed to open the producer's admin channel")?;
        admin
            .declare_topology(topology)
            .await
            .context("Failed to declare the broker topology")?;
        let publisher = session
            .publisher(topology, channels)
            .await
            .context("Failed to open publisher channels")?;
        Ok(Self {
            session,
            publisher,
            admin,
        })
    }
}

pub(crate) struct AppState {
    pub store: Store,
    bus: RwLock<Option<Arc<Bus>>>,
    pub link: Link,
    pub topology: Topology,
    pub settings: Settings,
    pub recover_lock: tokio::sync::Mutex<()>,
    pub(crate) keys: directory::KeyRing,
    pub(crate) installations: directory::Installations,
    pub(crate) channels: directory::Channels,
    pub(crate) passwords: lifecycle::passwords::Passwords,
    /// RabbitMQ's management API (pull subscriptions' users).
    pub(crate) management: hookfleet_bus::management::Management,
    /// Woken by a control notice: something (a key) changed; reload now.
    pub(crate) changed: tokio::sync::Notify,
}

impl AppState {
    /// The current broker session, or 503 while the producer is reconnecting.
    pub(crate) fn bus(&self) -> Result<Arc<Bus>, error::ApiError> {
        self.bus
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| {
                error::ApiError::new(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the message broker is unreachable; nothing was changed, retry later",
                )
            })
    }

    /// The current broker session, if the producer has one.
    pub(crate) fn bus_session(&self) -> Option<Arc<Bus>> {
        self.bus.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// A subscription that is not deleted, or 404.
    pub(crate) async fn subscription(
        &self,
        id: &str,
    ) -> Result<hookfleet_store::SubscriptionRow, error::ApiError> {
        let id = hookfleet_core::SubscriptionId::parse(id)
            .ok_or_else(|| error::ApiError::not_found("subscription"))?;
        self.store
            .subscription(&id)
            .await?
            .ok_or_else(|| error::ApiError::not_found("subscription"))
    }

    /// Re-reads the keys, installations and channels the intake holds in memory.
    pub(crate) async fn reload_directory(&self) {
        if let Err(e) = self.keys.reload(&self.store).await {
            tracing::warn!(error = %e, "Failed to reload API keys; keeping the ones held");
        }
        if let Err(e) = self.installations.reload(&self.store).await {
            tracing::warn!(error = %e, "Failed to reload installations; keeping the ones held");
        }
        if let Err(e) = self.channels.reload(&self.store).await {
            tracing::warn!(error = %e, "Failed to reload channels; keeping the ones held");
        }
    }

    /// Tells running delivery workers to reconcile now rather than at their next periodic pass.
    pub(crate) async fn notify_workers(&self) {
        let Some(bus) = self.bus_session() else {
            tracing::warn!(
                "The broker is away; delivery workers pick the subscription change up at their next reconcile"
            );
            return;
        };
        if let Err(e) = bus.publisher.notify_subscriptions_changed().await {
            // Workers also reconcile periodically, so a lost notice only delays pick-up.
            tracing::warn!(error = %error::error_chain(&e), "Failed to notify delivery workers of a subscription change");
        }
    }

    fn set_bus(&self, bus: Option<Arc<Bus>>) {
        self.link.set_session(bus.as_ref().map(|b| &b.session));
        *self.bus.write().unwrap_or_else(|p| p.into_inner()) = bus;
    }
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
    metrics::describe_counter!(
        "hookfleet_pruned_rows_total",
        "Rows pruned from the record past HOOKFLEET_RETENTION, by table."
    );
    metrics::describe_counter!(
        "hookfleet_channel_password_checks_total",
        "Lifecycle channel password checks by how they were answered: remembered (an HMAC), \
        slow (an argon2 verification ran), coalesced (shared an identical check's hash), busy \
        (429: the channel's queue was full) or locked (429: the channel was locked)."
    );
    metrics::describe_counter!(
        "hookfleet_channel_lockouts_total",
        "Lockouts of lifecycle channels started by repeated wrong passwords."
    );
}

/// Whether every role's broker connection is up and the database answers.
pub async fn ready(store: &Store, links: &[Link]) -> bool {
    links.iter().all(Link::is_up) && store.ping().await.is_ok()
}

/// Serves the API on `listener` until `shutdown` is cancelled, then drains in-flight requests.
/// The broker connection is kept in the background: the API answers 503 for anything that
/// needs the broker while it is away, and carries on once it is back.
pub async fn run(
    listener: TcpListener,
    store: Store,
    broker: Broker,
    topology: Topology,
    settings: Settings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let passwords = lifecycle::passwords::Passwords::new(
        &settings.password_checks,
        settings.password_cache_entries,
    )
    .map_err(|e| anyhow::anyhow!(e).context("Failed to start the channel password checks"))?;
    let management = hookfleet_bus::management::Management::new(&settings.management_url)
        .map_err(|e| anyhow::anyhow!("HOOKFLEET_RABBITMQ_MANAGEMENT_URL: {e}"))?;
    let state = Arc::new(AppState {
        store,
        bus: RwLock::new(None),
        link: broker.link.clone(),
        topology,
        settings,
        recover_lock: tokio::sync::Mutex::new(()),
        keys: directory::KeyRing::default(),
        installations: directory::Installations::default(),
        channels: directory::Channels::default(),
        passwords,
        management,
        changed: tokio::sync::Notify::new(),
    });
    let keeper = tokio::spawn(keep_bus(state.clone(), broker, shutdown.clone()));
    let janitor = tokio::spawn(janitor::run(state.clone(), shutdown.clone()));
    let pruner = tokio::spawn(retention::run(
        state.store.clone(),
        state.settings.retention,
        shutdown.clone(),
    ));
    let reloader = tokio::spawn(reload_keys(state.clone(), shutdown.clone()));
    let timeouts = state.settings.timeouts;
    if state.settings.keycloak_secrets.is_empty() {
        tracing::info!(
            "The identity-provider hook (POST /v1/hooks/keycloak) is off: HOOKFLEET_KEYCLOAK_SECRET is not set"
        );
    }
    let app = app::router(state);
    tracing::info!(addr = %listener.local_addr()?, "Producer API listening");
    serve::serve(listener, app, timeouts, shutdown).await;
    keeper.abort();
    janitor.abort();
    pruner.abort();
    reloader.abort();
    Ok(())
}

/// Holds a working broker session in `state` until `shutdown`: connects, opens the channels,
/// waits for the session to close (its connection or one of those channels lost), and starts
/// over.
async fn keep_bus(state: Arc<AppState>, broker: Broker, shutdown: CancellationToken) {
    let mut backoff = Backoff::default();
    hookfleet_bus::supervise::register_restarts("producer");
    loop {
        let Some(session) = connect_until(&broker, &mut backoff, &shutdown).await else {
            return;
        };
        match Bus::open(session, &state.topology, state.settings.publisher_channels).await {
            Ok(bus) => {
                let listener = match bus.session.notices(&state.topology).await {
                    Ok(n) => Some(tokio::spawn(listen_for_changes(state.clone(), n))),
                    Err(e) => {
                        // Keys still reload periodically; only the prompt reload is lost.
                        tracing::warn!(error = %e, "Failed to listen for control notices");
                        None
                    }
                };
                let bus = Arc::new(bus);
                state.set_bus(Some(bus.clone()));
                let started = Instant::now();
                tokio::select! {
                    // The session stays in place so requests still draining can finish.
                    _ = shutdown.cancelled() => return,
                    // Its connection, or a channel of its publisher or admin, is gone.
                    () = bus.session.closed() => {}
                }
                state.set_bus(None);
                if let Some(l) = listener {
                    l.abort();
                }
                hookfleet_bus::supervise::count_restart("producer");
                tracing::warn!("The producer lost the broker; reconnecting");
                if started.elapsed() >= STABLE {
                    backoff.reset();
                }
            }
            Err(e) => tracing::warn!(
                error = format!("{e:#}"),
                "Failed to set up the producer's broker session; reconnecting"
            ),
        }
        if !backoff.wait(&shutdown).await {
            return;
        }
    }
}

/// Keeps the directory (keys, installations) current: at start, every `key_reload_interval`,
/// and when a control notice says something changed. While the database is away what is held
/// stays in force.
async fn reload_keys(state: Arc<AppState>, shutdown: CancellationToken) {
    loop {
        state.reload_directory().await;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(state.settings.key_reload_interval) => {}
            _ = state.changed.notified() => {}
        }
    }
}

/// Wakes the key reload at every control notice, while this broker session lasts.
async fn listen_for_changes(state: Arc<AppState>, mut notices: hookfleet_bus::Notices) {
    while let Some(Ok(())) = notices.next().await {
        state.changed.notify_one();
    }
}
