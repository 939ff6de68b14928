//! The fleet under test as separate processes of the `hookfleet` binary (the product, as
//! deployed): a producer, routers and delivery workers, each restartable and killable with
//! SIGKILL. The chaos suite runs its fleet so, and the bench with `--processes`.
use anyhow::Context;
use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};
use tokio::process::{Child, Command};

/// What every child is started with.
pub(crate) struct Env {
    pub vars: Vec<(&'static str, String)>,
    pub logs: PathBuf,
    /// The `hookfleet` binary the roles run.
    pub bin: PathBuf,
}

/// The `hookfleet` binary to run roles with: `chosen`, else the one next to this
/// `hookfleet-dev` (cargo builds both into the same `target/<profile>/`).
pub(crate) fn hookfleet_bin(chosen: Option<&Path>) -> anyhow::Result<PathBuf> {
    let bin = match chosen {
        Some(b) => b.to_owned(),
        None => std::env::current_exe()
            .context("Failed to find this executable")?
            .with_file_name("hookfleet"),
    };
    anyhow::ensure!(
        bin.is_file(),
        "the hookfleet binary is not at {} (build it with `cargo build -p hookfleet` in the same profile, or pass --hookfleet-bin)",
        bin.display()
    );
    Ok(bin)
}

pub(crate) struct Proc {
    pub role: &'static str,
    child: Child,
}

impl Proc {
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

pub(crate) struct Procs {
    env: Env,
    pub producer: Proc,
    pub routers: Vec<Proc>,
    pub workers: Vec<Proc>,
    started: usize,
}

impl Procs {
    pub(crate) async fn start(env: Env, routers: usize, workers: usize) -> anyhow::Result<Self> {
        let mut started = 0;
        let producer = spawn(&env, "producer", &mut started)?;
        let mut procs = Self {
            producer,
            routers: Vec::new(),
            workers: Vec::new(),
            env,
            started,
        };
        for _ in 0..routers {
            let p = spawn(&procs.env, "router", &mut procs.started)?;
            procs.routers.push(p);
        }
        for _ in 0..workers {
            let p = spawn(&procs.env, "delivery", &mut procs.started)?;
            procs.workers.push(p);
        }
        Ok(procs)
    }

    /// SIGKILLs `victim` and starts a new process of its role in its place.
    pub(crate) async fn kill_and_replace(&mut self, victim: Victim) -> anyhow::Result<()> {
        let (routers, workers) = (self.routers.len(), self.workers.len());
        let slot = match victim {
            Victim::Producer => &mut self.producer,
            Victim::Router(i) => &mut self.routers[i % routers],
            Victim::Worker(i) => &mut self.workers[i % workers],
        };
        slot.child.start_kill().context("SIGKILL a role")?;
        let _ = tokio::time::timeout(Duration::from_secs(10), slot.child.wait()).await;
        *slot = spawn(&self.env, slot.role, &mut self.started)?;
        Ok(())
    }

    /// Restarts whichever process exited on its own (it should not have: counted as a finding).
    pub(crate) fn revive(&mut self) -> anyhow::Result<usize> {
        let mut revived = 0;
        let env = &self.env;
        let all = std::iter::once(&mut self.producer)
            .chain(self.routers.iter_mut())
            .chain(self.workers.iter_mut());
        for p in all {
            if p.child.try_wait()?.is_some() {
                *p = spawn(env, p.role, &mut self.started)?;
                revived += 1;
            }
        }
        Ok(revived)
    }

    /// Stops every process with SIGTERM (they drain) and waits for them.
    pub(crate) async fn stop(mut self) {
        let all = std::iter::once(&mut self.producer)
            .chain(self.routers.iter_mut())
            .chain(self.workers.iter_mut());
        for p in all {
            if let Some(pid) = p.child.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
            if tokio::time::timeout(Duration::from_secs(30), p.child.wait())
                .await
                .is_err()
            {
                let _ = p.child.start_kill();
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Victim {
    Producer,
    Router(usize),
    Worker(usize),
}

fn spawn(env: &Env, role: &'static str, started: &mut usize) -> anyhow::Result<Proc> {
    *started += 1;
    let log = env.logs.join(format!("{started:03}-{role}.log"));
    let out = std::fs::File::create(&log).with_context(|| format!("create {}", log.display()))?;
    let child = Command::new(&env.bin)
        .arg(role)
        .envs(env.vars.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::from(out.try_clone()?))
        .stderr(Stdio::from(out))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start a {role}"))?;
    Ok(Proc { role, child })
}
