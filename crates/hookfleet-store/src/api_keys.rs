//! API keys in the record: created, listed, rotated and revoked through the API; read in full
//! by each producer, which keeps them in memory so no request waits on the database.
use crate::{Result, Store, row::Columns};
use hookfleet_core::ApiKeyId;
use time::OffsetDateTime;

/// A key as the API shows it (never the key, never its hash).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApiKeyRow {
    pub id: ApiKeyId,
    pub name: String,
    pub scopes: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Until when the key it replaced still works (a rotation's grace).
    #[serde(with = "time::serde::rfc3339::option")]
    pub previous_valid_until: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// One hash that authenticates, with what it may do and until when (a replaced key's grace).
#[derive(Debug, Clone)]
pub struct ActiveHash {
    pub key_id: ApiKeyId,
    pub hash: String,
    pub scopes: Vec<String>,
    pub valid_until: Option<OffsetDateTime>,
}

const COLUMNS: &str = "id, name, scopes, created_at,
     CASE WHEN previous_expires_at > now() THEN previous_expires_at END AS previous_valid_until,
     revoked_at";

fn from_row(r: &tokio_postgres::Row) -> Result<ApiKeyRow> {
    Ok(ApiKeyRow {
        id: r.id("id")?,
        name: r.col("name")?,
        scopes: r.col("scopes")?,
        created_at: r.col("created_at")?,
        previous_valid_until: r.col("previous_valid_until")?,
        revoked_at: r.col("revoked_at")?,
    })
}

impl Store {
    pub async fn create_api_key(
        &self,
        id: &ApiKeyId,
        name: &str,
        scopes: &[String],
        hash: &str,
    ) -> Result<ApiKeyRow> {
        let row = self
            .client()
            .await?
            .query_one(
                &format!(
                    "INSERT INTO api_keys (id, name, scopes, hashes) VALUES ($1, $2, $3, ARRAY[$4])
                     RETURNING {COLUMNS}"
                ),
                &[&id.as_str(), &name, &scopes, &hash],
            )
            .await?;
        from_row(&row)
    }

    /// Every key, newest first, revoked ones included.
    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRow>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!("SELECT {COLUMNS} FROM api_keys ORDER BY created_at DESC, id DESC"),
                &[],
            )
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKeyRow>> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1"),
                &[&id.as_str()],
            )
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Revokes a key (both generations at once); `false` if there is no such live key.
    pub async fn revoke_api_key(&self, id: &ApiKeyId) -> Result<bool> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
                &[&id.as_str()],
            )
            .await?;
        Ok(n == 1)
    }

    /// Makes `hash` the key's current hash; the one it replaces works for `grace` more.
    pub async fn rotate_api_key(
        &self,
        id: &ApiKeyId,
        hash: &str,
        grace: std::time::Duration,
    ) -> Result<Option<ApiKeyRow>> {
        let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        let row = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "UPDATE api_keys SET hashes = ARRAY[$2, hashes[1]],
                         previous_expires_at = now() + make_interval(secs => $3::bigint / 1000.0)
                     WHERE id = $1 AND revoked_at IS NULL
                     RETURNING {COLUMNS}"
                ),
                &[&id.as_str(), &hash, &grace_ms],
            )
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Every hash that authenticates now: each live key's current one, and a replaced one
    /// while its grace lasts.
    pub async fn active_key_hashes(&self) -> Result<Vec<ActiveHash>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, scopes, hashes[1] AS hash, NULL::timestamptz AS valid_until
                     FROM api_keys WHERE revoked_at IS NULL
                 UNION ALL
                 SELECT id, scopes, hashes[2], previous_expires_at FROM api_keys
                     WHERE revoked_at IS NULL AND previous_expires_at > now()
                       AND cardinality(hashes) > 1",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ActiveHash {
                    key_id: r.id("id")?,
                    scopes: r.col("scopes")?,
                    hash: r.col("hash")?,
                    valid_until: r.col("valid_until")?,
                })
            })
            .collect()
    }
}
