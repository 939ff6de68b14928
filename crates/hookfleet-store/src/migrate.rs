//! The migration runner: numbered SQL files from the top-level `migrations/` folder, embedded
//! at build time and applied in order, each once, under a lock so concurrent runners agree.
use crate::{Result, StoreError, parse_url, row::Columns};
use tokio_postgres::NoTls;

/// Every migration, in order. Written expand/contract so old and new workers run side by side.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "init", include_str!("../../../migrations/0001_init.sql")),
    (
        2,
        "retries",
        include_str!("../../../migrations/0002_retries.sql"),
    ),
    (
        3,
        "secret_rotation",
        include_str!("../../../migrations/0003_secret_rotation.sql"),
    ),
    (
        4,
        "deferred_queue_delete",
        include_str!("../../../migrations/0004_deferred_queue_delete.sql"),
    ),
    (
        5,
        "api_keys",
        include_str!("../../../migrations/0005_api_keys.sql"),
    ),
    (
        6,
        "installations",
        include_str!("../../../migrations/0006_installations.sql"),
    ),
    (
        7,
        "channels",
        include_str!("../../../migrations/0007_channels.sql"),
    ),
    (
        8,
        "lifecycle",
        include_str!("../../../migrations/0008_lifecycle.sql"),
    ),
    (
        9,
        "profiles",
        include_str!("../../../migrations/0009_profiles.sql"),
    ),
    (
        10,
        "event_source",
        include_str!("../../../migrations/0010_event_source.sql"),
    ),
    (
        11,
        "pull",
        include_str!("../../../migrations/0011_pull.sql"),
    ),
    (
        12,
        "event_listing",
        include_str!("../../../migrations/0012_event_listing.sql"),
    ),
    (
        13,
        "parked_count",
        include_str!("../../../migrations/0013_parked_count.sql"),
    ),
    (
        14,
        "delivery_log",
        include_str!("../../../migrations/0014_delivery_log.sql"),
    ),
    (
        15,
        "key_space",
        include_str!("../../../migrations/0015_key_space.sql"),
    ),
    (
        16,
        "lifecycle_retention",
        include_str!("../../../migrations/0016_lifecycle_retention.sql"),
    ),
    (
        17,
        "tiers",
        include_str!("../../../migrations/0017_tiers.sql"),
    ),
    (
        18,
        "routing_stripes",
        include_str!("../../../migrations/0018_routing_stripes.sql"),
    ),
    (
        19,
        "waiting_deltas",
        include_str!("../../../migrations/0019_waiting_deltas.sql"),
    ),
    (
        20,
        "attempts_without_fk",
        include_str!("../../../migrations/0020_attempts_without_fk.sql"),
    ),
];

/// Creates the database named in `url` if it does not exist yet (connecting to `postgres`).
pub async fn ensure_database(url: &str) -> Result<()> {
    let config = parse_url(url)?;
    let Some(name) = config.get_dbname().map(str::to_owned) else {
        return Err(StoreError::Config("the URL names no database".into()));
    };
    let mut admin = config.clone();
    admin.dbname("postgres");
    let (client, connection) = admin.connect(NoTls).await?;
    let conn = tokio::spawn(connection);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some();
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        match client
            .batch_execute(&format!("CREATE DATABASE {quoted}"))
            .await
        {
            Ok(()) => tracing::info!(database = %name, "Created the database"),
            // Another runner created it between our check and our CREATE.
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {}
            Err(e) => return Err(e.into()),
        }
    }
    drop(client);
    let _ = conn.await;
    Ok(())
}

/// Creates the database if needed, then applies pending migrations.
pub async fn migrate(url: &str) -> Result<()> {
    ensure_database(url).await?;
    let store = crate::Store::connect(url, 1)?;
    store.migrate().await
}

pub(crate) async fn run(client: &mut tokio_postgres::Client) -> Result<()> {
    let tx = client.transaction().await?;
    // One lock per schema: parallel test schemas in one database do not wait on each other.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('hookfleet.migrate.' || current_schema()))",
        &[],
    )
    .await?;
    // Not PostgreSQL's NOTICE that the table exists, on every start (it reaches the log).
    tx.batch_execute(
        "SET LOCAL client_min_messages TO warning;
         CREATE TABLE IF NOT EXISTS schema_migrations (
             version integer PRIMARY KEY,
             name text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    let applied: Vec<i32> = tx
        .query("SELECT version FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|r| r.col("version"))
        .collect::<Result<_>>()?;
    for (version, name, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await?;
        tracing::info!(version, name, "Applied a migration");
    }
    tx.commit().await?;
    Ok(())
}
