//! hookfleet-launch starts roles: the one place that knows how a producer, a router and a
//! delivery worker are put on the broker (each under `supervise`, so a lost connection restarts
//! the role, not the process) and handed the record. `hookfleet all` and the single-role
//! commands, `hookfleet-dev bench`, the demo and the test kit all start roles through [`spawn`],
//! and wait on them with [`first_failure`]; both binaries write their log as [`init_logs`] sets it.
#![forbid(unsafe_code)]

mod logs;

pub use logs::init_logs;

use anyhow::Context;
use hookfleet_bus::{Broker, Link, Session, Topology, supervise};
use hookfleet_store::Store;
use std::future::Future;
use tokio::{
    net::TcpListener,
    task::{JoinHandle, JoinSet},
};
use tokio_util::sync::CancellationToken;

/// Which roles to start, each with its settings.
#[derive(Default)]
pub struct Roles {
    pub producer: Option<(TcpListener, hookfleet_producer::Settings)>,
    pub router: Option<hookfleet_router::Settings>,
    pub delivery: Option<hookfleet_delivery::Settings>,
}

/// What every role shares: where the broker is, the record, the queue names, and the prefix of
/// the connection names (`hookfleet-<prefix><role>` in the broker's list).
#[derive(Clone)]
pub struct Fleet {
    pub amqp_url: String,
    pub store: Store,
    pub topology: Topology,
    pub connection_prefix: String,
}

/// One started role.
pub struct Started {
    pub role: &'static str,
    pub task: JoinHandle<anyhow::Result<()>>,
    /// Its broker connection, for `/readyz` and for tests to see whether it reconnected.
    pub link: Link,
}

/// Starts `roles`; each runs until `shutdown` is cancelled (draining first) or fails for good.
pub fn spawn(fleet: &Fleet, roles: Roles, shutdown: &CancellationToken) -> Vec<Started> {
    let broker = |role: &str| {
        Broker::new(
            fleet.amqp_url.clone(),
            format!("{}{role}", fleet.connection_prefix),
        )
    };
    let mut started = Vec::new();
    if let Some((listener, settings)) = roles.producer {
        let broker = broker("producer");
        let link = broker.link.clone();
        let task = tokio::spawn(hookfleet_producer::run(
            listener,
            fleet.store.clone(),
            broker,
            fleet.topology.clone(),
            settings,
            shutdown.clone(),
        ));
        started.push(Started {
            role: "producer",
            task,
            link,
        });
    }
    if let Some(settings) = roles.router {
        let b = broker("router");
        started.push(supervised(
            "router",
            b,
            fleet,
            settings,
            hookfleet_router::run,
            shutdown,
        ));
    }
    if let Some(settings) = roles.delivery {
        let b = broker("delivery");
        started.push(supervised(
            "delivery",
            b,
            fleet,
            settings,
            hookfleet_delivery::run,
            shutdown,
        ));
    }
    started
}

/// Runs a consuming role under [`supervise`]: started again on a new session whenever it loses
/// the broker, until `shutdown`.
fn supervised<S, F, Fut>(
    role: &'static str,
    broker: Broker,
    fleet: &Fleet,
    settings: S,
    run: F,
    shutdown: &CancellationToken,
) -> Started
where
    S: Clone + Send + 'static,
    F: Fn(Session, Store, Topology, S, CancellationToken) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let link = broker.link.clone();
    let context = (fleet.store.clone(), fleet.topology.clone(), settings);
    let token = shutdown.clone();
    let task = tokio::spawn(async move {
        let run = &run;
        let start = |session: Session, (store, topology, settings): (Store, Topology, S)| {
            let token = token.clone();
            async move {
                // Every session starts by making sure the topology it uses exists.
                session
                    .declare_topology(&topology)
                    .await
                    .context("Failed to declare the broker topology")?;
                run(session, store, topology, settings, token).await
            }
        };
        supervise(&broker, token.clone(), context, start).await
    });
    Started { role, task, link }
}

/// The tasks of a running fleet: its roles, and any companion (a metrics server), each with
/// the name its failure is reported under.
pub type Tasks = JoinSet<(&'static str, anyhow::Result<()>)>;

/// The started roles' tasks, in one set to wait on with [`first_failure`].
pub fn tasks(started: Vec<Started>) -> Tasks {
    let mut tasks = Tasks::new();
    for s in started {
        tasks.spawn(async move { (s.role, s.task.await.unwrap_or_else(|e| Err(e.into()))) });
    }
    tasks
}

/// Waits for every task; the first failure (or a task that stopped on its own before
/// `shutdown`) stops the rest and is returned.
pub async fn first_failure(mut tasks: Tasks, shutdown: &CancellationToken) -> anyhow::Result<()> {
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
