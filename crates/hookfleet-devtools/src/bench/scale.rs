//! Figures that matter at many subscriptions: how long until every subscription queue has a
//! consumer, how long a fresh worker takes to consume them all, and the broker's memory.
use crate::fleet::Target;
use anyhow::Context;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The broker's management API on this machine (the bench's traffic stays on loopback).
const MANAGEMENT: &str = "http://127.0.0.1:15672/api/nodes";

/// The queues the workers must consume for the scenario: each own-tier subscription's, and
/// every shard of the shared tier.
pub(super) async fn subscription_queues(target: &Target) -> anyhow::Result<Vec<String>> {
    let store = target.store(1)?;
    let shared: std::collections::HashSet<String> = store
        .routed_subscriptions()
        .await?
        .into_iter()
        .map(|r| r.id.to_string())
        .collect();
    let ids = store.all_subscription_ids().await?;
    let topology = target.topology();
    Ok(ids
        .iter()
        .filter(|id| !shared.contains(id.as_str()))
        .map(|id| topology.subscription_queue(id.as_str()))
        .chain((0..topology.shards()).map(|n| topology.shard_queue(n)))
        .collect())
}

/// Waits until every queue has at least `consumers` consumers (a passive declare answers with
/// the exact count at once, where the management API's figures lag by seconds).
pub(super) async fn wait_consumed(
    amqp_url: &str,
    queues: &[String],
    consumers: u32,
    timeout: Duration,
) -> anyhow::Result<()> {
    let session = hookfleet_bus::connect(amqp_url, "bench-count")
        .await
        .context("connect to count consumers")?;
    let admin = session.admin().await?;
    let deadline = Instant::now() + timeout;
    let mut waiting: Vec<&String> = queues.iter().collect();
    while !waiting.is_empty() {
        let mut still = Vec::new();
        for q in waiting {
            let n = admin
                .queue_consumers(q)
                .await
                .with_context(|| format!("count the consumers of {q}"))?;
            if n < consumers {
                still.push(q);
            }
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} of {} queues still lack {consumers} consumer(s) after {timeout:?}",
            still.len(),
            queues.len()
        );
        waiting = still;
        if !waiting.is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    admin.close().await;
    session.close().await;
    Ok(())
}

/// Starts one more delivery worker in this process, through the launcher as any worker
/// starts, and times it from its start to a consumer of its own on every queue (two per
/// queue, counting the fleet's worker); then stops it.
pub(super) async fn cold_start(target: &Target, queues: &[String]) -> anyhow::Result<f64> {
    let started = Instant::now();
    let roles = hookfleet_launch::Roles {
        delivery: Some(hookfleet_delivery::Settings {
            allow_private_targets: true,
            ..hookfleet_delivery::Settings::default()
        }),
        ..hookfleet_launch::Roles::default()
    };
    let cold = Target {
        db_pool_size: 4,
        ..target.clone()
    };
    let stop = CancellationToken::new();
    let worker = crate::fleet::start(&cold, roles, "bench-cold-", &stop)?;
    let ready = wait_consumed(&target.amqp_url, queues, 2, Duration::from_secs(300)).await;
    let secs = started.elapsed().as_secs_f64();
    stop.cancel();
    worker
        .await
        .context("the extra worker panicked")?
        .context("the extra worker failed")?;
    ready.map(|()| secs)
}

/// Memory the broker's nodes use, in MiB, from the management API (None if it is not there).
pub(super) async fn broker_mib(http: &reqwest::Client) -> Option<f64> {
    #[derive(serde::Deserialize)]
    struct Node {
        mem_used: u64,
    }
    let nodes: Vec<Node> = http
        .get(MANAGEMENT)
        .basic_auth("guest", Some("guest"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    Some(nodes.iter().map(|n| n.mem_used).sum::<u64>() as f64 / 1_048_576.0)
}
