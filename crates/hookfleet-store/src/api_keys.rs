//! API keys in the record: created, listed, rotated and revoked through the API; read in full
//! by each producer, which keeps them in memory so no request waits on the database.
use crate::{Result, Store};
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
     CASE WHEN previous_expires_at > now() THEN previous_expires_at END, revoked_at";

fn from_row(r: &tokio_postgres::Row) -> ApiKeyRow {
    ApiKeyRow {
        id: ApiKeyId::from_trusted(r.get(0)),
        name: r.get(1),
        scopes: r.get(2),
        created_at: r.get(3),
        previous_valid_until: r.get(4),
        revoked_at: r.get(5),
    }
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
        Ok(from_row(&row))
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
        Ok(rows.iter().map(from_row).collect())
    }

    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKeyRow>> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1"),
                &[&id],
            )
            .await?;
        Ok(row.as_ref().map(from_row))
    }

    /// Revokes a key (both generations at once); `false` if there is no such live key.
    pub async fn revoke_api_key(&self, id: &str) -> Result<bool> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
                &[&id],
            )
            .await?;
        Ok(n == 1)
    }

    /// Makes `hash` the key's current hash; the one it replaces works for `grace` more.
    pub async fn rotate_api_key(
        &self,
        id: &str,
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
                &[&id, &hash, &grace_ms],
            )
            .await?;
        Ok(row.as_ref().map(from_row))
    }

    /// Every hash that authenticates now: each live key's current one, and a replaced one
    /// while its grace lasts.
    pub async fn active_key_hashes(&self) -> Result<Vec<ActiveHash>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, scopes, hashes[1], NULL::timestamptz FROM api_keys
                     WHERE revoked_at IS NULL
                 UNION ALL
                 SELECT id, scopes, hashes[2], previous_expires_at FROM api_keys
                     WHERE revoked_at IS NULL AND previous_expires_at > now()
                       AND cardinality(hashes) > 1",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| ActiveHash {
                key_id: ApiKeyId::from_trusted(r.get(0)),
                scopes: r.get(1),
                hash: r.get(2),
                valid_until: r.get(3),
            })
            .collect())
    }
}
