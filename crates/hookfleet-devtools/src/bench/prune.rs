//! Retention under load: `--seed-old-rows N` writes N finished deliveries (each with its
//! event and one attempt) received 40 days ago before the fleet starts, so the producer's
//! pruner works through them while the measured run delivers; a watcher reports how many
//! were pruned during the run. Compare with `--retention off` for the same seed.
use anyhow::Context;
use std::time::{Duration, Instant};

/// Rows written per statement, so no single transaction holds millions of rows.
const CHUNK: i64 = 100_000;

/// Writes `n` old events, each with one delivered delivery and one attempt.
pub(super) async fn seed(database_url: &str, n: i64) -> anyhow::Result<()> {
    if n <= 0 {
        return Ok(());
    }
    let (db, conn) = tokio_postgres::connect(database_url, tokio_postgres::NoTls)
        .await
        .context("Failed to connect to seed old rows")?;
    tokio::spawn(conn);
    let started = Instant::now();
    let mut from = 0;
    while from < n {
        let to = (from + CHUNK).min(n);
        db.execute(
            r#"WITH e AS (
                   INSERT INTO events (id, type, "timestamp", organization_ids, service_partitions, data, received_at, routed_at)
                   SELECT 'evt_old' || i, 'bench.old', now(), '[]', '[]', '{"old": true}', at, at
                   FROM (SELECT i, now() - interval '40 days' + i * interval '1 ms' AS at
                         FROM generate_series($1::bigint, $2::bigint - 1) AS i) s
                   RETURNING id, received_at),
               d AS (
                   INSERT INTO deliveries (id, event_id, subscription_id, status, attempts, last_attempt_at, created_at)
                   SELECT 'dlv_old' || substr(id, 8), id, 'sub_old', 'delivered', 1, received_at, received_at FROM e
                   RETURNING id, created_at)
               INSERT INTO delivery_attempts (delivery_id, attempt, sent_at, status_code, duration_ms)
               SELECT id, 1, created_at, 200, 5 FROM d"#,
            &[&from, &to],
        )
        .await
        .context("Failed to seed old rows")?;
        from = to;
    }
    db.batch_execute("ANALYZE events; ANALYZE deliveries; ANALYZE delivery_attempts")
        .await?;
    println!(
        "seeded {n} deliveries (with their events and attempts) received 40 days ago in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// How many seeded deliveries are left.
pub(super) async fn left(database_url: &str) -> anyhow::Result<i64> {
    let (db, conn) = tokio_postgres::connect(database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    Ok(db
        .query_one(
            "SELECT count(*) FROM deliveries WHERE subscription_id = 'sub_old'",
            &[],
        )
        .await?
        .get(0))
}

/// The pruning seen during the measured run (nothing without a seed).
pub(super) struct Watch(Option<Seen>);

struct Seen {
    database_url: String,
    at_start: i64,
    started: Instant,
}

impl Watch {
    pub(super) async fn start(database_url: &str, seeded: i64) -> anyhow::Result<Self> {
        if seeded <= 0 {
            return Ok(Self(None));
        }
        Ok(Self(Some(Seen {
            database_url: database_url.to_owned(),
            at_start: left(database_url).await?,
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
        let now = left(&self.database_url).await?;
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
