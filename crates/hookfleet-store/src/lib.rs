//! hookfleet-store owns the record in PostgreSQL and is the only crate that speaks SQL: the
//! migration runner, idempotent event intake (`ON CONFLICT DO NOTHING`), subscriptions, and the
//! batched outcome writes that must commit before their messages are acked. Batches travel as
//! one JSON parameter unpacked with `jsonb_to_recordset`, so a batch is one round trip.
//! Queries take and return the core's typed ids (`&SubscriptionId`, never `&str`) and typed
//! rows, each read by column name (`row`), so an id of one kind cannot be passed for another
//! and a value the record holds that this version cannot read is an error, never a panic.
//! The `fixtures` feature adds, in `fixtures`, the SQL only the dev tools (`hookfleet-dev`) and
//! tests run: throwaway schemas and databases, seeded old rows, whole-table reads.
#![forbid(unsafe_code)]

mod api_keys;
mod changes;
mod channels;
mod events;
#[cfg(feature = "fixtures")]
pub mod fixtures;
mod installations;
mod lifecycle;
mod log;
mod migrate;
mod outcomes;
mod pull;
mod queues;
mod recover;
mod retention;
mod row;
mod sealed;
mod subscriptions;
mod tiers;
mod webhooks;

pub use api_keys::{ActiveHash, ApiKeyRow};
pub use changes::{ChangeMark, ChangedRoutes, ChangedSubscriptions};
pub use channels::ChannelRow;
pub use events::{EventFilter, EventRecord, KeyedRecord};
pub use installations::InstallationRow;
pub use lifecycle::{FirstAnswer, LifecycleRow, LifecycleUnit};
pub use log::{Cursor, LogFilter, LogPage, ReplayRow};
pub use migrate::{ensure_database, migrate};
pub use outcomes::{AttemptView, DeliveryStatus, DeliveryView, OutcomeRow, PoisonRow, Progress};
pub use pull::PullRotation;
pub use recover::{Claimed, RecoverWindow};
pub use retention::Pruned;
pub use sealed::{DEVELOPMENT_KEY_ID, Resealed, SealError, Sealer};
pub use subscriptions::{
    ActiveSubscriptions, SubscriptionChanges, SubscriptionRow, SubscriptionState,
};
pub use tiers::RoutedRow;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

/// What went wrong talking to PostgreSQL. Every variant is worth retrying later except `Config`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid database URL: {0}")]
    Config(String),
    #[error("no database connection available")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database error: {}", db_message(.0))]
    Db(#[from] tokio_postgres::Error),
    #[error("failed to encode a batch")]
    Encode(#[from] serde_json::Error),
    /// A value the record should never hold (a status or state no version wrote, an id of the
    /// wrong shape), naming the column or field it was found in.
    #[error("the record holds an unexpected value: {0}")]
    Unexpected(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// PostgreSQL's own message when it gave one (made storable: it may quote the input),
/// else the driver's.
fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => hookfleet_core::storable::lossy_str(db.message()).into_owned(),
        None => e.to_string(),
    }
}

impl StoreError {
    /// True when PostgreSQL refused a statement for what it carried: SQLSTATE class 22 (data
    /// exception: a NUL, a bad escape, a number out of range), 23 (integrity constraint) or 54
    /// (program limit exceeded: too deep, too complex). Sending the same rows again fails again,
    /// so a caller isolates them; every other error is an outage, to be waited out.
    pub fn is_refused_input(&self) -> bool {
        match self {
            Self::Db(e) => e
                .as_db_error()
                .is_some_and(|db| matches!(&db.code().code()[..2], "22" | "23" | "54")),
            Self::Encode(_) => true,
            Self::Config(_) | Self::Pool(_) | Self::Unexpected(_) => false,
        }
    }
}

/// Writes `len` items through `write`, which is handed a range of them. When PostgreSQL refuses
/// a write for what it carries ([`StoreError::is_refused_input`]), the range is split in halves
/// until each refused item stands alone, so one bad row never holds up the others. Returns what
/// the accepted writes returned, and each refused item's index with its error. Any other error
/// (an outage) ends the walk and is returned: the caller waits and tries again. Safe only for
/// writes that are atomic and idempotent, as every batch write of the record is.
pub async fn isolate_refused<T, F, Fut>(
    len: usize,
    mut write: F,
) -> Result<(Vec<T>, Vec<(usize, StoreError)>)>
where
    F: FnMut(std::ops::Range<usize>) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let (mut accepted, mut refused) = (Vec::new(), Vec::new());
    // (start, end) pairs still to write; a stack, so the walk goes left to right.
    let mut ranges = vec![(0, len)];
    while let Some((start, end)) = ranges.pop() {
        if start == end {
            continue;
        }
        match write(start..end).await {
            Ok(t) => accepted.push(t),
            Err(e) if e.is_refused_input() && end - start == 1 => refused.push((start, e)),
            Err(e) if e.is_refused_input() => {
                let mid = start + (end - start) / 2;
                ranges.push((mid, end));
                ranges.push((start, mid));
            }
            Err(e) => return Err(e),
        }
    }
    Ok((accepted, refused))
}

/// A handle on the record; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    sealer: Sealer,
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
        Ok(Self {
            pool,
            sealer: Sealer::development(),
        })
    }

    /// The same record, sealing and opening signing secrets with `sealer`'s keys.
    pub fn with_sealer(self, sealer: Sealer) -> Self {
        Self { sealer, ..self }
    }

    /// The keys secrets are sealed with.
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Client> {
        Ok(self.pool.get().await?)
    }

    /// Marks a row of `table` (one with `id` and `deleted_at`) deleted; `false` if there is no
    /// such live row. `table` is always a constant of this crate, never input.
    pub(crate) async fn soft_delete(&self, table: &'static str, id: &str) -> Result<bool> {
        let n = self
            .client()
            .await?
            .execute(
                &format!(
                    "UPDATE {table} SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL"
                ),
                &[&id],
            )
            .await?;
        Ok(n == 1)
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{cell::RefCell, ops::Range};

    fn refused() -> StoreError {
        StoreError::Encode(serde_json::from_str::<u8>("x").unwrap_err())
    }

    /// A write that refuses any range holding a bad item, and records what it accepted.
    async fn run(
        len: usize,
        bad: &[usize],
        outage_at: Option<usize>,
    ) -> Result<(Vec<usize>, Vec<usize>)> {
        let calls = RefCell::new(0usize);
        let written = RefCell::new(Vec::new());
        let (_, refused_items) = isolate_refused(len, |r: Range<usize>| {
            *calls.borrow_mut() += 1;
            let result = if Some(*calls.borrow()) == outage_at {
                Err(StoreError::Config("outage".into()))
            } else if r.clone().any(|i| bad.contains(&i)) {
                Err(refused())
            } else {
                written.borrow_mut().extend(r);
                Ok(())
            };
            async move { result }
        })
        .await?;
        let mut w = written.into_inner();
        w.sort_unstable();
        Ok((w, refused_items.into_iter().map(|(i, _)| i).collect()))
    }

    #[tokio::test]
    async fn refused_items_are_isolated_and_everything_else_is_written_once() {
        let (written, mut refused) = run(500, &[0, 17, 18, 499], None).await.unwrap();
        refused.sort_unstable();
        assert_eq!(refused, vec![0, 17, 18, 499]);
        let expected: Vec<usize> = (0..500).filter(|i| ![0, 17, 18, 499].contains(i)).collect();
        assert_eq!(written, expected, "every other item written exactly once");
        let (written, refused) = run(1, &[], None).await.unwrap();
        assert_eq!((written, refused), (vec![0], vec![]));
    }

    #[tokio::test]
    async fn an_outage_is_not_poison() {
        let err = run(100, &[5], Some(2)).await.unwrap_err();
        assert!(!err.is_refused_input(), "{err}");
    }
}
