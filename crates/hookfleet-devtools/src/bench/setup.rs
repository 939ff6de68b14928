//! The bench's setting: the loopback receiver, the fleet in this process, and the scenario's
//! subscriptions created over the API.
use super::{BenchArgs, Dialect, Rx, keycloak, receive};
use crate::{
    fleet::{self, Target},
    procs::{Env, Procs},
};
use anyhow::Context;
use axum::{Router, routing::post};
use hookfleet_launch::Roles;
use serde_json::json;
use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};
use tokio_util::sync::CancellationToken;

/// Clients creating the subscriptions concurrently (as an operator's script or a console would).
const CREATE_CLIENTS: usize = 8;

/// `subs` subscriptions to the receiver, and `args.hanging` to its endpoint that never answers,
/// created by [`CREATE_CLIENTS`] concurrent clients.
pub(super) async fn subscribe(
    http: &reqwest::Client,
    api: &str,
    token: &str,
    receiver_url: &str,
    subs: usize,
    args: &BenchArgs,
) -> anyhow::Result<()> {
    let hanging = args.hanging;
    // In-flight cap sized for loopback throughput (the default 16 suits slow WANs).
    // Beside a backlog of another type, the measured subscriptions take only their own.
    let types = if args.backlog > 0 { "bench.tick" } else { "#" };
    let fast = json!({"url": receiver_url, "event_types": [types], "max_in_flight": 64, "profile": args.profile});
    let hang = json!({"url": receiver_url.replace("/hook", "/hang"), "event_types": ["#"], "retry_ladder": []});
    let idle = json!({"url": receiver_url, "event_types": ["bench.idle"]});
    // Spread: the n-th measured subscription takes `bench.tick.<n>` only.
    let nth = |body: &serde_json::Value, i: usize| {
        let mut body = body.clone();
        body["event_types"] = json!([format!("bench.tick.{i}")]);
        body
    };
    let spread = args.spread;
    for (kind, (body, n)) in [(fast, subs), (hang, hanging), (idle, args.idle)]
        .into_iter()
        .enumerate()
    {
        let per_index = spread && kind == 0;
        let next = Arc::new(AtomicUsize::new(0));
        let mut clients = tokio::task::JoinSet::new();
        for _ in 0..CREATE_CLIENTS.min(n.max(1)) {
            let (http, url, token, body, next) = (
                http.clone(),
                format!("{api}/v1/subscriptions"),
                token.to_owned(),
                body.clone(),
                next.clone(),
            );
            clients.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let body = if per_index {
                        nth(&body, i)
                    } else {
                        body.clone()
                    };
                    http.post(&url)
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await?
                        .error_for_status()?;
                }
                anyhow::Ok(())
            });
        }
        while let Some(r) = clients.join_next().await {
            r??;
        }
    }
    Ok(())
}

/// Deletes every subscription of the scenario over the API, by [`CREATE_CLIENTS`] concurrent
/// clients; returns how long it took.
pub(super) async fn unsubscribe_all(
    http: &reqwest::Client,
    api: &str,
    token: &str,
    target: &crate::fleet::Target,
) -> anyhow::Result<f64> {
    let ids: Vec<String> = target
        .store(1)?
        .all_subscription_ids()
        .await?
        .iter()
        .map(ToString::to_string)
        .collect();
    let ids = Arc::new(ids);
    let started = std::time::Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..CREATE_CLIENTS {
        let (http, api, token, ids, next) = (
            http.clone(),
            api.to_owned(),
            token.to_owned(),
            ids.clone(),
            next.clone(),
        );
        clients.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(id) = ids.get(i) else { break };
                http.delete(format!("{api}/v1/subscriptions/{id}"))
                    .bearer_auth(&token)
                    .send()
                    .await?
                    .error_for_status()?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = clients.join_next().await {
        r??;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The loopback receiver: `/hook` answers at once, `/hang` never does.
pub(super) async fn start_receiver(
    rx: Arc<Rx>,
    shutdown: &CancellationToken,
) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver_url = format!("http://{}/hook", listener.local_addr()?);
    let app = Router::new()
        .route("/hook", post(receive))
        // Never answers: the client's timeout ends each request.
        .route("/hang", post(std::future::pending::<&'static str>))
        .route("/slow", post(super::backlog::receive_slowly))
        .with_state(rx);
    let receiver_stop = shutdown.clone();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(receiver_stop.cancelled_owned())
            .await
    });
    Ok(receiver_url)
}

pub(super) type FleetTask = tokio::task::JoinHandle<anyhow::Result<()>>;

/// The fleet under measurement: in this process, or as separate processes of `hookfleet`.
pub(super) enum Fleet {
    InProcess(FleetTask),
    Processes(Box<Procs>),
}

impl Fleet {
    /// Each separate role process, by role (none when the fleet runs in this process).
    pub fn roles(&self) -> Vec<(&'static str, u32)> {
        match self {
            Self::InProcess(_) => Vec::new(),
            Self::Processes(p) => std::iter::once(&p.producer)
                .chain(&p.routers)
                .chain(&p.workers)
                .filter_map(|r| Some((r.role, r.pid()?)))
                .collect(),
        }
    }

    /// Stops the fleet (SIGTERM for processes: they drain), after `shutdown` was cancelled.
    pub async fn stop(self) -> anyhow::Result<()> {
        match self {
            Self::InProcess(task) => task.await.context("The fleet task panicked")?,
            Self::Processes(p) => {
                p.stop().await;
                Ok(())
            }
        }
    }
}

/// A producer, one router and `workers` delivery workers as separate processes of `bin` (the
/// `hookfleet` binary), on the scenario's namespace and schema. Their logs go to a temporary
/// directory.
pub(super) async fn start_processes(
    target: &Target,
    bin: std::path::PathBuf,
    workers: usize,
    retention: &str,
) -> anyhow::Result<(String, String, Fleet)> {
    let roles = RoleEnv::new(target, bin, vec![("HOOKFLEET_RETENTION", retention.into())])?;
    let procs = Procs::start(roles.env, 1, workers).await?;
    Ok((roles.api, roles.token, Fleet::Processes(Box::new(procs))))
}

/// What the role processes of a scenario are started with: its API address and admin token,
/// and their environment (the scenario's namespace and schema; `extra` adds variables or
/// replaces them).
pub(super) struct RoleEnv {
    pub api: String,
    pub token: String,
    pub env: Env,
}

impl RoleEnv {
    pub fn new(
        target: &Target,
        bin: std::path::PathBuf,
        extra: Vec<(&'static str, String)>,
    ) -> anyhow::Result<Self> {
        let token = fleet::generate_token();
        let port = free_port()?;
        let logs = std::env::temp_dir().join(format!("hookfleet-bench-{}", std::process::id()));
        std::fs::create_dir_all(&logs).context("create the roles' log directory")?;
        let mut vars = vec![
            ("HOOKFLEET_AMQP_URL", target.amqp_url.clone()),
            ("HOOKFLEET_DATABASE_URL", target.database_url.clone()),
            ("HOOKFLEET_NAMESPACE", target.namespace.clone()),
            ("HOOKFLEET_METRICS_ADDR", "127.0.0.1:0".into()),
            ("HOOKFLEET_HTTP_ADDR", format!("127.0.0.1:{port}")),
            ("HOOKFLEET_ADMIN_TOKEN", token.clone()),
            ("HOOKFLEET_ALLOW_PRIVATE_TARGETS", "true".into()),
            (
                "HOOKFLEET_SUBSCRIPTION_QUEUES",
                target.subscription_queues.as_str().into(),
            ),
            ("HOOKFLEET_SHARDS", target.shards.to_string()),
            ("RUST_LOG", "warn".into()),
        ];
        for (name, value) in extra {
            vars.retain(|(n, _)| *n != name);
            vars.push((name, value));
        }
        Ok(Self {
            api: format!("http://127.0.0.1:{port}"),
            token,
            env: Env { vars, logs, bin },
        })
    }
}

/// A free loopback port: bound here, released, then taken by a child process.
pub(super) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The whole fleet in this process; returns the API's address, its token and the fleet's task.
pub(super) async fn start_fleet(
    args: &BenchArgs,
    target: &Target,
    shutdown: &CancellationToken,
) -> anyhow::Result<(String, String, FleetTask)> {
    let token = fleet::generate_token();
    let api_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api = format!("http://{}", api_listener.local_addr()?);
    let producer = hookfleet_producer::Settings {
        admin_tokens: vec![token.clone()],
        allow_private_targets: true,
        keycloak_secrets: hookfleet_producer::keycloak::HookSecret::parse_list(keycloak::KEY)
            .map_err(anyhow::Error::msg)?,
        retention: retention(&args.retention)?,
        ..hookfleet_producer::Settings::default()
    };
    let router = hookfleet_router::Settings {
        keycloak: match args.dialect {
            Dialect::Keycloak => Some(keycloak::stand_in().await?),
            _ => None,
        },
        ..hookfleet_router::Settings::default()
    };
    let roles = Roles {
        producer: Some((api_listener, producer)),
        router: Some(router),
        delivery: Some(hookfleet_delivery::Settings {
            timeout: args.delivery_timeout,
            allow_private_targets: true,
            ..hookfleet_delivery::Settings::default()
        }),
    };
    let task = fleet::start(target, roles, "", shutdown)?;
    Ok((api, token, task))
}

/// The producer's retention for `--retention`: an age, or `off` (the bench passes the same
/// text to role processes as `HOOKFLEET_RETENTION`).
fn retention(age: &str) -> anyhow::Result<hookfleet_producer::retention::Retention> {
    let keep = match age.trim() {
        "off" => None,
        age => Some(
            hookfleet_core::parse_duration(age)
                .map_err(|e| anyhow::anyhow!("--retention: {e} (or `off`)"))?,
        ),
    };
    anyhow::ensure!(
        keep.is_none_or(|k| !k.is_zero()),
        "--retention must be longer than zero, or `off`"
    );
    Ok(hookfleet_producer::retention::Retention {
        keep,
        ..Default::default()
    })
}

/// A scenario's own schema and queue namespace on the local PostgreSQL and RabbitMQ.
pub(super) struct Sandbox {
    pub target: Target,
    /// The database the schema is in (without the schema's search path).
    database_url: String,
    schema: String,
}

impl Sandbox {
    pub async fn create(
        amqp_url: &str,
        database_url: &str,
        queues: hookfleet_bus::QueueKind,
        shards: u16,
    ) -> anyhow::Result<Self> {
        let tag = hookfleet_core::EventId::random().as_str()[24..].to_owned();
        let schema = format!("bench_{tag}");
        hookfleet_store::fixtures::create_schema(database_url, &schema, false)
            .await
            .context("Failed to create the scenario's schema")?;
        let target = Target {
            amqp_url: amqp_url.to_owned(),
            database_url: hookfleet_store::fixtures::url_in_schema(database_url, &schema),
            namespace: format!("{schema}."),
            db_pool_size: 16,
            // A throwaway schema: the development key is enough.
            secret_keys: hookfleet_store::Sealer::development(),
            subscription_queues: queues,
            shards,
        };
        Ok(Self {
            target,
            database_url: database_url.to_owned(),
            schema,
        })
    }

    /// Deletes the namespace's queues and exchanges, and the schema: the schema even when the
    /// broker cannot be reached (the queues' error is returned after).
    pub async fn remove(self) -> anyhow::Result<()> {
        let queues = self.remove_queues().await;
        hookfleet_store::fixtures::drop_schema(&self.database_url, &self.schema)
            .await
            .with_context(|| format!("Failed to drop the schema {}", self.schema))?;
        queues.with_context(|| {
            format!(
                "Failed to delete the queues and exchanges named {}*",
                self.target.namespace
            )
        })
    }

    async fn remove_queues(&self) -> anyhow::Result<()> {
        let target = &self.target;
        let sub_ids: Vec<String> = (target.store(1)?.all_subscription_ids().await)
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect();
        let amqp = hookfleet_bus::connect(&target.amqp_url, "bench-cleanup").await?;
        let bus_admin = amqp.admin().await?;
        bus_admin
            .delete_namespace(
                &target.topology(),
                &sub_ids,
                &hookfleet_router::enrich::RETRY_DELAYS,
            )
            .await?;
        bus_admin.close().await;
        amqp.close().await;
        Ok(())
    }
}
