//! The fleet a tool measures or tortures, in this process: where it runs (a [`Target`]: the
//! broker, a database schema, a queue namespace), its roles started through
//! `hookfleet-launch` like `hookfleet all` starts them, and waiting for its API to be ready.
use anyhow::Context;
use hookfleet_launch::{Fleet, Roles};
use hookfleet_store::{Sealer, Store};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Where a run's fleet lives: what `hookfleet`'s common settings say for a role.
#[derive(Debug, Clone)]
pub struct Target {
    pub amqp_url: String,
    /// With the run's schema as search path.
    pub database_url: String,
    /// Prefix of every exchange and queue name.
    pub namespace: String,
    pub db_pool_size: usize,
    pub secret_keys: Sealer,
    pub subscription_queues: hookfleet_bus::QueueKind,
    /// Shard queues of the shared tier, as `HOOKFLEET_SHARDS` (0: every subscription has a
    /// queue of its own).
    pub shards: u16,
}

impl Target {
    pub fn topology(&self) -> hookfleet_bus::Topology {
        hookfleet_bus::Topology::new(self.namespace.clone())
            .with_subscription_queues(self.subscription_queues)
            .with_shards(self.shards)
    }

    /// The record, with a pool of `pool_size` connections.
    pub fn store(&self, pool_size: usize) -> anyhow::Result<Store> {
        Ok(Store::connect(&self.database_url, pool_size)
            .context("Failed to open the run's database")?
            .with_sealer(self.secret_keys.clone()))
    }
}

/// Starts `roles` on `target` through the launcher (connections named
/// `hookfleet-<prefix><role>`); the task ends once `shutdown` is cancelled and they drained,
/// or with the first role's failure (which stops the others).
pub fn start(
    target: &Target,
    roles: Roles,
    prefix: &str,
    shutdown: &CancellationToken,
) -> anyhow::Result<JoinHandle<anyhow::Result<()>>> {
    let fleet = Fleet {
        amqp_url: target.amqp_url.clone(),
        store: target.store(target.db_pool_size)?,
        topology: target.topology(),
        connection_prefix: prefix.to_owned(),
    };
    let tasks = hookfleet_launch::tasks(hookfleet_launch::spawn(&fleet, roles, shutdown));
    let shutdown = shutdown.clone();
    Ok(tokio::spawn(async move {
        hookfleet_launch::first_failure(tasks, &shutdown).await
    }))
}

/// Waits until the producer at `api` answers `/readyz` with a 2xx, for at most `timeout`.
pub async fn wait_ready(
    http: &reqwest::Client,
    api: &str,
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let ready = http.get(format!("{api}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the fleet did not become ready in {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A random API token for a run's fleet.
pub fn generate_token() -> String {
    hookfleet_core::Secret::generate()
        .expose()
        .trim_start_matches(hookfleet_core::signing::SECRET_PREFIX)
        .replace(['+', '/', '='], "")
}
