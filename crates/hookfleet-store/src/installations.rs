//! Installations of the partner dialect: created, listed and deleted through the native API;
//! read in full by each producer, which keeps the live ids in memory.
use crate::{Result, Store, row::Columns};
use time::OffsetDateTime;

#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Installation))]
pub struct InstallationRow {
    pub id: String,
    pub name: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
}

const COLUMNS: &str = "id, name, created_at";

fn from_row(r: &tokio_postgres::Row) -> Result<InstallationRow> {
    Ok(InstallationRow {
        id: r.col("id")?,
        name: r.col("name")?,
        created_at: r.col("created_at")?,
    })
}

impl Store {
    /// Records an installation; `None` if a live one already has this id.
    pub async fn create_installation(
        &self,
        id: &str,
        name: Option<&str>,
    ) -> Result<Option<InstallationRow>> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "INSERT INTO installations (id, name) VALUES ($1, $2)
                     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, deleted_at = NULL,
                         created_at = now()
                     WHERE installations.deleted_at IS NOT NULL
                     RETURNING {COLUMNS}"
                ),
                &[&id, &name],
            )
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Every live installation, newest first.
    pub async fn installations(&self) -> Result<Vec<InstallationRow>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM installations WHERE deleted_at IS NULL
                     ORDER BY created_at DESC, id"
                ),
                &[],
            )
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn installation(&self, id: &str) -> Result<Option<InstallationRow>> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "SELECT {COLUMNS} FROM installations WHERE id = $1 AND deleted_at IS NULL"
                ),
                &[&id],
            )
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// `false` if there is no such live installation.
    pub async fn delete_installation(&self, id: &str) -> Result<bool> {
        self.soft_delete("installations", id).await
    }
}
