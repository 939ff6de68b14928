//! SQL the product never runs, for the dev tools (`hookfleet-dev bench`, `hookfleet-dev chaos`)
//! and tests only, behind the `fixtures` feature: a throwaway schema or database per run, old
//! rows seeded for the pruner to work through, and whole-table reads an invariant check
//! compares with what receivers saw. Kept here so that no crate but this one speaks SQL.
use crate::{DeliveryStatus, Result, Store, StoreError, parse_url, row::Columns};
use hookfleet_core::{DeliveryId, EventId, SubscriptionId};
use std::collections::{HashMap, HashSet};
use tokio_postgres::NoTls;

/// Rows seeded per statement, so no single transaction holds millions of rows.
const SEED_CHUNK: i64 = 100_000;

/// The subscription id every seeded delivery names (no such subscription exists), so the
/// seeded rows can be counted apart from the run's own.
const SEEDED_SUBSCRIPTION: &str = "sub_old";

/// A schema or database name this module puts into a statement: letters, digits and `_` only.
fn checked_name(name: &str) -> Result<&str> {
    let ok = !name.is_empty()
        && (name.bytes()).all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    ok.then_some(name)
        .ok_or_else(|| StoreError::Config(format!("`{name}` is not a plain identifier")))
}

/// One connection of its own (not a pooled one): for statements on the database itself, and
/// for runs during which PostgreSQL restarts.
async fn connect(url: &str) -> Result<tokio_postgres::Client> {
    let (client, connection) = parse_url(url)?.connect(NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// `url` with `schema` as its search path: every statement of a store connected to it reads
/// and writes that schema's tables.
pub fn url_in_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-csearch_path%3D{schema}")
}

/// Creates `schema` in the database at `url`; with `replace`, drops it first if it exists.
pub async fn create_schema(url: &str, schema: &str, replace: bool) -> Result<()> {
    let schema = checked_name(schema)?;
    let drop = if replace {
        format!("DROP SCHEMA IF EXISTS {schema} CASCADE; ")
    } else {
        String::new()
    };
    connect(url)
        .await?
        .batch_execute(&format!("{drop}CREATE SCHEMA {schema}"))
        .await?;
    Ok(())
}

/// Drops `schema` and everything in it from the database at `url`.
pub async fn drop_schema(url: &str, schema: &str) -> Result<()> {
    let schema = checked_name(schema)?;
    connect(url)
        .await?
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await?;
    Ok(())
}

/// Drops the database named in `url` (connecting to `postgres`), closing its sessions.
pub async fn drop_database(url: &str) -> Result<()> {
    let mut config = parse_url(url)?;
    let name = checked_name(config.get_dbname().unwrap_or_default())?.to_owned();
    config.dbname("postgres");
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    Ok(())
}

/// One delivery row, as the chaos check reads the whole table.
#[derive(Debug, Clone)]
pub struct DeliveryFixture {
    pub id: DeliveryId,
    pub event_id: EventId,
    pub subscription_id: SubscriptionId,
    pub status: DeliveryStatus,
}

/// The attempts recorded for one delivery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttemptTally {
    pub count: i64,
    /// Attempts with a status code (the receiver answered).
    pub answered: i64,
    /// The highest attempt number.
    pub highest: i32,
}

/// What is still to do: deliveries pending or waiting for a retry, and events not routed yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    pub waiting: i64,
    pub unrouted: i64,
}

impl Store {
    /// Writes `n` events received 40 days ago, each with one delivered delivery (to a
    /// subscription that does not exist) and one attempt, for the pruner to remove.
    pub async fn seed_old_deliveries(&self, n: i64) -> Result<()> {
        let client = self.client().await?;
        let mut from = 0;
        while from < n {
            let to = (from + SEED_CHUNK).min(n);
            client
                .execute(
                    r#"WITH e AS (
                   INSERT INTO events (id, type, "timestamp", organization_ids, service_partitions, data, received_at, routed_at)
                   SELECT 'evt_old' || i, 'bench.old', now(), '[]', '[]', '{"old": true}', at, at
                   FROM (SELECT i, now() - interval '40 days' + i * interval '1 ms' AS at
                         FROM generate_series($1::bigint, $2::bigint - 1) AS i) s
                   RETURNING id, received_at),
               d AS (
                   INSERT INTO deliveries (id, event_id, subscription_id, status, attempts, last_attempt_at, created_at)
                   SELECT 'dlv_old' || substr(id, 8), id, $3, 'delivered', 1, received_at, received_at FROM e
                   RETURNING id, created_at)
               INSERT INTO delivery_attempts (delivery_id, attempt, sent_at, status_code, duration_ms)
               SELECT id, 1, created_at, 200, 5 FROM d"#,
                    &[&from, &to, &SEEDED_SUBSCRIPTION],
                )
                .await?;
            from = to;
        }
        if n > 0 {
            client
                .batch_execute("ANALYZE events; ANALYZE deliveries; ANALYZE delivery_attempts")
                .await?;
        }
        Ok(())
    }

    /// How many seeded deliveries ([`Store::seed_old_deliveries`]) are left.
    pub async fn old_deliveries_left(&self) -> Result<i64> {
        self.client()
            .await?
            .query_one(
                "SELECT count(*) AS n FROM deliveries WHERE subscription_id = $1",
                &[&SEEDED_SUBSCRIPTION],
            )
            .await?
            .col("n")
    }

    /// The id of every `event.created` lifecycle event, by its `op_id`.
    pub async fn created_events_by_op_id(&self) -> Result<HashMap<String, EventId>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT data->>'op_id' AS op_id, id FROM events WHERE type = 'event.created'",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let op: Option<String> = r.col("op_id")?;
                Ok((op.unwrap_or_default(), r.id("id")?))
            })
            .collect()
    }

    /// Which of `ids` the record holds.
    pub async fn events_present(&self, ids: &[EventId]) -> Result<HashSet<EventId>> {
        let ids: Vec<&str> = ids.iter().map(EventId::as_str).collect();
        let rows = self
            .client()
            .await?
            .query("SELECT id FROM events WHERE id = ANY($1)", &[&ids])
            .await?;
        rows.iter().map(|r| r.id("id")).collect()
    }

    /// Every delivery row.
    pub async fn all_deliveries(&self) -> Result<Vec<DeliveryFixture>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, event_id, subscription_id, status FROM deliveries",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let status: String = r.col("status")?;
                Ok(DeliveryFixture {
                    id: r.id("id")?,
                    event_id: r.id("event_id")?,
                    subscription_id: r.id("subscription_id")?,
                    status: DeliveryStatus::read(&status)?,
                })
            })
            .collect()
    }

    /// The attempts recorded, by delivery.
    pub async fn attempt_tallies(&self) -> Result<HashMap<DeliveryId, AttemptTally>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT delivery_id, count(*) AS count, count(status_code) AS answered,
                        max(attempt) AS highest
                 FROM delivery_attempts GROUP BY delivery_id",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let tally = AttemptTally {
                    count: r.col("count")?,
                    answered: r.col("answered")?,
                    highest: r.col("highest")?,
                };
                Ok((r.id("delivery_id")?, tally))
            })
            .collect()
    }

    /// Deliveries pending or waiting for a retry, and events not routed yet.
    pub async fn backlog(&self) -> Result<Backlog> {
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT (SELECT count(*) FROM deliveries WHERE status IN ('pending', 'failed')) AS waiting,
                        (SELECT count(*) FROM events WHERE routed_at IS NULL) AS unrouted",
                &[],
            )
            .await?;
        Ok(Backlog {
            waiting: row.col("waiting")?,
            unrouted: row.col("unrouted")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_identifiers_reach_a_statement() {
        assert!(checked_name("bench_0a1b").is_ok());
        assert!(checked_name("chaos").is_ok());
        for bad in ["", "1bench", "chaos; DROP", "a-b", "\"x\"", "sch.ema"] {
            assert!(checked_name(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn the_schema_becomes_the_search_path_of_the_url() {
        assert_eq!(
            url_in_schema("postgres://u@h/db", "chaos"),
            "postgres://u@h/db?options=-csearch_path%3Dchaos"
        );
        assert_eq!(
            url_in_schema("postgres://u@h/db?sslmode=disable", "chaos"),
            "postgres://u@h/db?sslmode=disable&options=-csearch_path%3Dchaos"
        );
    }
}
