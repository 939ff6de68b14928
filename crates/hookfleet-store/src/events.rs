//! Reading the record of events: one event as recorded, and the listing, newest first.
use crate::{Result, Store};
use serde_json::{Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use tokio_postgres::Row;

/// What `GET /v1/events` narrows the listing to.
#[derive(Debug, Default, Clone)]
pub struct EventFilter {
    pub event_type: Option<String>,
    /// Events carrying this organization id.
    pub organization_id: Option<String>,
}

const COLUMNS: &str = r#"id, type, "timestamp", organization_ids, service_partitions,
    idempotency_key, data::text, source::text, received_at, routed_at, key_space"#;

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// An event as the API shows it. `data` and `source` come back as the text PostgreSQL holds.
fn view(r: &Row) -> Value {
    let json_text = |i: usize| {
        r.get::<_, Option<String>>(i)
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
    };
    json!({
        "id": r.get::<_, String>(0),
        "type": r.get::<_, String>(1),
        "timestamp": rfc3339(r.get(2)),
        "organization_ids": r.get::<_, Value>(3),
        "service_partitions": r.get::<_, Value>(4),
        "idempotency_key": r.get::<_, Option<String>>(5),
        "key_space": r.get::<_, Option<String>>(10),
        "data": json_text(6).unwrap_or(Value::Null),
        "source": json_text(7),
        "received_at": rfc3339(r.get(8)),
        "routed_at": r.get::<_, Option<OffsetDateTime>>(9).map(rfc3339),
    })
}

impl Store {
    /// How many of a subscription's deliveries are exhausted (their messages parked).
    pub async fn parked_count(&self, subscription_id: &str) -> Result<i64> {
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT count(*) FROM deliveries WHERE subscription_id = $1 AND status = 'exhausted'",
                &[&subscription_id],
            )
            .await?;
        Ok(row.get(0))
    }

    /// One recorded event (not a test send's), or `None`.
    pub async fn event(&self, id: &str) -> Result<Option<Value>> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {COLUMNS} FROM events WHERE id = $1 AND NOT is_test"),
                &[&id],
            )
            .await?;
        Ok(row.as_ref().map(view))
    }

    /// Up to `limit` recorded events, newest first, after the event `after` (the previous
    /// page's last); test sends are left out.
    pub async fn list_events(
        &self,
        filter: &EventFilter,
        limit: i64,
        after: Option<&str>,
    ) -> Result<Vec<(String, Value)>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM events
                      WHERE NOT is_test
                        AND ($1::text IS NULL OR type = $1)
                        AND ($2::text IS NULL OR organization_ids ? $2)
                        AND ($3::text IS NULL OR (received_at, id) <
                             (SELECT received_at, id FROM events WHERE id = $3))
                      ORDER BY received_at DESC, id DESC
                      LIMIT $4"
                ),
                &[&filter.event_type, &filter.organization_id, &after, &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<_, String>(0), view(r)))
            .collect())
    }
}
