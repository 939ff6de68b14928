//! hookfleet-store owns the record in PostgreSQL and is the only crate that speaks SQL: the
//! migration runner, idempotent event intake (`ON CONFLICT DO NOTHING`), subscriptions, and the
//! batched outcome writes that must commit before their messages are acked. Batches travel as
//! one JSON parameter unpacked with `jsonb_to_recordset`, so a batch is one round trip.
#![forbid(unsafe_code)]

mod log;
mod migrate;
mod outcomes;
mod subscriptions;

pub use log::{Cursor, LogFilter, LogPage, ReplayRow};
pub use migrate::{ensure_database, migrate};
pub use outcomes::{AttemptView, DeliveryStatus, DeliveryView, OutcomeRow, PoisonRow, Progress};
pub use subscriptions::{SubscriptionChanges, SubscriptionRow};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

/// What went wrong talking to PostgreSQL. Every variant is worth retrying later except `Config`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid database URL: {0}")]
    Config(String),
    #[error("no database connection available")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database error")]
    Db(#[from] tokio_postgres::Error),
    #[error("failed to encode a batch")]
    Encode(#[from] serde_json::Error),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A handle on the record; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

pub(crate) fn parse_url(url: &str) -> Result<tokio_postgres::Config> {
    url.parse::<tokio_postgres::Config>()
        .map_err(|e| StoreError::Config(e.to_string()))
}

impl Store {
    /// Builds a pool; connections open lazily, so this succeeds while the database is down.
    pub fn connect(url: &str, pool_size: usize) -> Result<Self> {
        let config = parse_url(url)?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .build()
            .map_err(|e| StoreError::Config(e.to_string()))?;
        Ok(Self { pool })
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Client> {
        Ok(self.pool.get().await?)
    }

    /// `SELECT 1`, for readiness probes.
    pub async fn ping(&self) -> Result<()> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }

    /// Applies pending migrations (see [`migrate`]).
    pub async fn migrate(&self) -> Result<()> {
        let mut client = self.client().await?;
        migrate::run(&mut client).await
    }

    /// Inserts a batch of events given as a JSON array of ingest messages, ignoring ids already
    /// present, and returns the ids of the batch that still need fanning out: new ones, and
    /// older ones whose fan-out never completed (a router died between insert and publish).
    pub async fn insert_events(&self, events_json: &str, ids: &[&str]) -> Result<Vec<String>> {
        let client = self.client().await?;
        client
            .execute(
                r#"INSERT INTO events (id, type, "timestamp", organization_ids, service_partitions,
                                       idempotency_key, data)
                   SELECT id, type, "timestamp", organization_ids, service_partitions,
                          idempotency_key, data
                   FROM jsonb_to_recordset($1::text::jsonb) AS x(
                       id text, type text, "timestamp" timestamptz, organization_ids jsonb,
                       service_partitions jsonb, idempotency_key text, data jsonb)
                   ON CONFLICT (id) DO NOTHING"#,
                &[&events_json],
            )
            .await?;
        let rows = client
            .query(
                "SELECT id FROM events WHERE id = ANY($1) AND routed_at IS NULL",
                &[&ids],
            )
            .await?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    /// Marks events whose every copy the broker has confirmed.
    pub async fn mark_routed(&self, ids: &[&str]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.client()
            .await?
            .execute(
                "UPDATE events SET routed_at = now() WHERE id = ANY($1) AND routed_at IS NULL",
                &[&ids],
            )
            .await?;
        Ok(())
    }

    /// Records a test event (sent to one subscription, never fanned out).
    pub async fn insert_test_event(
        &self,
        id: &str,
        event_type: &str,
        timestamp: &time::OffsetDateTime,
        data: &serde_json::Value,
    ) -> Result<()> {
        self.client()
            .await?
            .execute(
                r#"INSERT INTO events (id, type, "timestamp", organization_ids, service_partitions, data, is_test, routed_at)
                   VALUES ($1, $2, $3, '[]', '[]', $4, true, now())"#,
                &[&id, &event_type, timestamp, data],
            )
            .await?;
        Ok(())
    }

    pub async fn event_exists(&self, id: &str) -> Result<bool> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT 1 FROM events WHERE id = $1", &[&id])
            .await?;
        Ok(row.is_some())
    }
}
