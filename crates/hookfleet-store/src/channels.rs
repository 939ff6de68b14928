//! Channels of the event-lifecycle dialect: created, listed and deleted through the native API.
//! The record keeps each password only as an argon2id hash.
use crate::{Result, Store, row::Columns};
use hookfleet_core::ChannelId;
use time::OffsetDateTime;

// A channel as the API shows it (never its password or hash).
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Channel))]
pub struct ChannelRow {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: ChannelId,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
}

const COLUMNS: &str = "id, name, created_at";

fn from_row(r: &tokio_postgres::Row) -> Result<ChannelRow> {
    Ok(ChannelRow {
        id: r.id("id")?,
        name: r.col("name")?,
        created_at: r.col("created_at")?,
    })
}

impl Store {
    pub async fn create_channel(
        &self,
        id: &ChannelId,
        name: &str,
        password_hash: &str,
    ) -> Result<ChannelRow> {
        let row = self
            .client()
            .await?
            .query_one(
                &format!(
                    "INSERT INTO channels (id, name, password_hash) VALUES ($1, $2, $3)
                     RETURNING {COLUMNS}"
                ),
                &[&id.as_str(), &name, &password_hash],
            )
            .await?;
        from_row(&row)
    }

    /// Every live channel, newest first.
    pub async fn channels(&self) -> Result<Vec<ChannelRow>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM channels WHERE deleted_at IS NULL
                     ORDER BY created_at DESC, id DESC"
                ),
                &[],
            )
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn channel(&self, id: &ChannelId) -> Result<Option<ChannelRow>> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {COLUMNS} FROM channels WHERE id = $1 AND deleted_at IS NULL"),
                &[&id.as_str()],
            )
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// `false` if there is no such live channel.
    pub async fn delete_channel(&self, id: &ChannelId) -> Result<bool> {
        self.soft_delete("channels", id.as_str()).await
    }
}
