//! The fault schedule: one fault every few seconds, in a fixed rotation so every kind is
//! injected, while events are posted. Broker and database faults act on the services of this
//! machine (or, in cluster mode, on one node of `scripts/cluster.sh` at a time).
use super::{
    procs::{Procs, Victim},
    receivers::Receiver,
};
use anyhow::Context;
use std::{
    collections::BTreeMap,
    sync::{Arc, atomic::Ordering},
    time::Duration,
};
use tokio::process::Command;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Fault {
    KillWorker,
    KillRouter,
    KillProducer,
    FlapReceiver,
    RestartBroker,
    StopClusterNode,
    StartClusterNode,
    RestartDatabase,
}

impl Fault {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::KillWorker => "SIGKILL a delivery worker (a new one started)",
            Self::KillRouter => "SIGKILL a router (a new one started)",
            Self::KillProducer => "SIGKILL the producer mid-request (restarted)",
            Self::FlapReceiver => "a receiver answers 500 for 2 s",
            Self::RestartBroker => "RabbitMQ stopped for 3 s and started",
            Self::StopClusterNode => "a cluster node stopped",
            Self::StartClusterNode => "a stopped cluster node started again",
            Self::RestartDatabase => "PostgreSQL restarted",
        }
    }
}

/// The rotation; in cluster mode a broker fault stops or starts one node instead.
const ROTATION: [Fault; 9] = [
    Fault::KillWorker,
    Fault::KillRouter,
    Fault::FlapReceiver,
    Fault::KillProducer,
    Fault::KillWorker,
    Fault::RestartBroker,
    Fault::KillWorker,
    Fault::FlapReceiver,
    Fault::RestartDatabase,
];

pub(super) struct Injector {
    pub cluster_script: Option<String>,
    pub flaky: Arc<Receiver>,
    /// The cluster node now stopped, if any, and the next one to stop.
    down: Option<u8>,
    next_node: u8,
    step: usize,
    pub done: BTreeMap<Fault, usize>,
}

impl Injector {
    pub(super) fn new(cluster_script: Option<String>, flaky: Arc<Receiver>) -> Self {
        Self {
            cluster_script,
            flaky,
            down: None,
            next_node: 1,
            step: 0,
            done: BTreeMap::new(),
        }
    }

    /// True once every kind of fault this mode has was injected at least once.
    pub(super) fn all_kinds_done(&self) -> bool {
        let broker: &[Fault] = if self.cluster_script.is_some() {
            &[Fault::StopClusterNode, Fault::StartClusterNode]
        } else {
            &[Fault::RestartBroker]
        };
        ROTATION
            .iter()
            .filter(|f| **f != Fault::RestartBroker)
            .chain(broker)
            .all(|f| self.done.contains_key(f))
    }

    /// Injects the next fault of the rotation.
    pub(super) async fn next(&mut self, procs: &mut Procs) -> anyhow::Result<Fault> {
        let planned = ROTATION[self.step % ROTATION.len()];
        let n = self.step;
        self.step += 1;
        let fault = match planned {
            Fault::KillWorker => {
                procs.kill_and_replace(Victim::Worker(n)).await?;
                planned
            }
            Fault::KillRouter => {
                procs.kill_and_replace(Victim::Router(n)).await?;
                planned
            }
            Fault::KillProducer => {
                procs.kill_and_replace(Victim::Producer).await?;
                planned
            }
            Fault::FlapReceiver => {
                let flaky = self.flaky.clone();
                flaky.failing.store(true, Ordering::Relaxed);
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    flaky.failing.store(false, Ordering::Relaxed);
                });
                planned
            }
            Fault::RestartBroker => self.broker_fault().await?,
            Fault::RestartDatabase => {
                restart_postgres().await?;
                planned
            }
            Fault::StopClusterNode | Fault::StartClusterNode => planned,
        };
        *self.done.entry(fault).or_default() += 1;
        Ok(fault)
    }

    async fn broker_fault(&mut self) -> anyhow::Result<Fault> {
        let Some(script) = self.cluster_script.clone() else {
            run("rabbitmqctl", &["-q", "stop_app"]).await?;
            tokio::time::sleep(Duration::from_secs(3)).await;
            run("rabbitmqctl", &["-q", "start_app"]).await?;
            return Ok(Fault::RestartBroker);
        };
        match self.down.take() {
            Some(node) => {
                run("bash", &[&script, "start", &node.to_string()]).await?;
                Ok(Fault::StartClusterNode)
            }
            None => {
                let node = self.next_node;
                self.next_node = node % 3 + 1;
                run("bash", &[&script, "stop", &node.to_string()]).await?;
                self.down = Some(node);
                Ok(Fault::StopClusterNode)
            }
        }
    }

    /// Brings back whatever the schedule left stopped.
    pub(super) async fn heal(&mut self) -> anyhow::Result<()> {
        if let (Some(script), Some(node)) = (self.cluster_script.clone(), self.down.take()) {
            run("bash", &[&script, "start", &node.to_string()]).await?;
            *self.done.entry(Fault::StartClusterNode).or_default() += 1;
        }
        self.flaky.failing.store(false, Ordering::Relaxed);
        Ok(())
    }
}

async fn restart_postgres() -> anyhow::Result<()> {
    let mut versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .context("PostgreSQL's configuration (/etc/postgresql) is not on this machine")?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    versions.sort_by_key(|v| v.parse::<u32>().unwrap_or(0));
    let version = versions.last().context("no PostgreSQL cluster")?;
    run(
        "pg_ctlcluster",
        &["--skip-systemctl-redirect", version, "main", "restart"],
    )
    .await
}

async fn run(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(program)
        .args(args)
        .status()
        .await
        .with_context(|| format!("run {program}"))?;
    anyhow::ensure!(status.success(), "{program} {args:?} failed: {status}");
    Ok(())
}
