//! Retention under load: `--seed-old-rows N` writes N finished deliveries (each with its
//! event and one attempt) received 40 days ago before the fleet starts, so the producer's
//! pruner works through them while the measured run delivers; a watcher reports how many
//! were pruned during the run. Compare with `--retention off` for the same seed. The rows are
//! written and counted by the store's fixtures.
use anyhow::Context;
use hookfleet_store::Store;
use std::time::{Duration, Instant};

/// Writes `n` old events, each with one delivered delivery and one attempt.
pub(super) async fn seed(store: &Store, n: i64) -> anyhow::Result<()> {
    if n <= 0 {
        return Ok(());
    }
    let started = Instant::now();
    store
        .seed_old_deliveries(n)
        .await
        .context("Failed to seed old rows")?;
    println!(
        "seeded {n} deliveries (with their events and attempts) received 40 days ago in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The pruning seen during the measured run (nothing without a seed).
pub(super) struct Watch(Option<Seen>);

struct Seen {
    store: Store,
    at_start: i64,
    started: Instant,
}

impl Watch {
    pub(super) async fn start(store: &Store, seeded: i64) -> anyhow::Result<Self> {
        if seeded <= 0 {
            return Ok(Self(None));
        }
        Ok(Self(Some(Seen {
            store: store.clone(),
            at_start: store.old_deliveries_left().await?,
            started: Instant::now(),
        })))
    }

    pub(super) async fn report(&self) -> anyhow::Result<()> {
        let Some(seen) = &self.0 else { return Ok(()) };
        seen.report().await
    }
}

impl Seen {
    async fn report(&self) -> anyhow::Result<()> {
        let elapsed = self.started.elapsed();
        let now = self.store.old_deliveries_left().await?;
        let pruned = self.at_start - now;
        println!(
            "retention: {} seeded deliveries left at the measured run's start, {now} at its end: {pruned} pruned (with their events and attempts) in {:.1} s, {:.0} deliveries/s",
            self.at_start,
            elapsed.as_secs_f64(),
            pruned as f64
                / elapsed
                    .as_secs_f64()
                    .max(Duration::from_millis(1).as_secs_f64())
        );
        Ok(())
    }
}
