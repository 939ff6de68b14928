//! The delivery log as operators read it (newest first, cursor-paginated, stable under
//! concurrent inserts) and the rows replay and recovery rebuild messages from.
use crate::{AttemptView, DeliveryStatus, DeliveryView, Result, Store, row::Columns};
use hookfleet_core::{DeliveryId, EventId, SubscriptionId};
use std::collections::HashMap;
use time::OffsetDateTime;
use tokio_postgres::Row;

#[derive(Debug, Default, Clone)]
pub struct LogFilter {
    pub subscription_id: Option<SubscriptionId>,
    pub status: Option<DeliveryStatus>,
    pub event_type: Option<String>,
    pub organization_id: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}

/// A position in the log: the last row of the previous page. Rows are ordered by
/// (created_at, id) descending, a total order that rows inserted later cannot shift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: OffsetDateTime,
    pub id: DeliveryId,
}

impl Cursor {
    /// `<unix microseconds>_<delivery id>`: opaque to clients, readable in a log line.
    pub fn encode(&self) -> String {
        let micros = self.created_at.unix_timestamp_nanos() / 1_000;
        format!("{micros}_{}", self.id)
    }

    pub fn decode(s: &str) -> Option<Self> {
        let (micros, id) = s.split_once('_')?;
        let micros: i128 = micros.parse().ok()?;
        let created_at =
            OffsetDateTime::from_unix_timestamp_nanos(micros.checked_mul(1_000)?).ok()?;
        // Only times PostgreSQL can compare against: a crafted cursor far outside its range
        // would fail the query (a 503) instead of being refused as a bad cursor.
        if !(1970..=9999).contains(&created_at.year()) {
            return None;
        }
        Some(Self {
            created_at,
            id: DeliveryId::parse(id)?,
        })
    }
}

#[derive(Debug)]
pub struct LogPage {
    pub data: Vec<DeliveryView>,
    pub next_cursor: Option<String>,
}

/// What is needed to send a recorded delivery again.
#[derive(Debug, Clone)]
pub struct ReplayRow {
    pub delivery_id: DeliveryId,
    pub subscription_id: SubscriptionId,
    pub event_id: EventId,
    pub event_type: String,
    pub timestamp: OffsetDateTime,
    pub organization_id: Option<String>,
    pub service_partition: Option<String>,
    /// The event's data as JSON text; kept as text so reading it back never depends on how
    /// deep it nests.
    pub data: String,
    pub attempts: i32,
    pub is_test: bool,
    pub source: Option<hookfleet_core::source::Source>,
}

impl ReplayRow {
    pub(crate) fn from_row(r: &Row) -> Result<Self> {
        Ok(Self {
            delivery_id: r.id("delivery_id")?,
            subscription_id: r.id("subscription_id")?,
            event_id: r.id("event_id")?,
            organization_id: r.col("organization_id")?,
            service_partition: r.col("service_partition")?,
            attempts: r.col("attempts")?,
            is_test: r.col("is_test")?,
            event_type: r.col("type")?,
            timestamp: r.col("timestamp")?,
            data: r.col("data")?,
            // A source the code no longer reads is left out rather than failing the replay.
            source: r
                .col::<Option<&str>>("source")?
                .and_then(|s| serde_json::from_str(s).ok()),
        })
    }

    /// The body the subscriber receives, rebuilt from the record.
    pub fn body(&self) -> Vec<u8> {
        let data =
            serde_json::value::RawValue::from_string(self.data.clone()).unwrap_or_else(|_| {
                serde_json::value::RawValue::from_string("{}".into()).expect("{} is JSON")
            });
        hookfleet_core::DeliveredBody::encode(
            &self.event_id,
            &self.event_type,
            &self.timestamp,
            self.organization_id.as_deref(),
            self.service_partition.as_deref(),
            &data,
            self.source.as_ref(),
        )
        .unwrap_or_default()
    }
}

pub(crate) const REPLAY_SELECT: &str = r#"SELECT d.id AS delivery_id, d.subscription_id,
        d.event_id, d.organization_id, d.service_partition, d.attempts, d.is_test, e.type,
        e."timestamp", e.data::text AS data, e.source::text AS source"#;

/// A delivery's columns for a view; the event's type is read beside them (a primary-key
/// lookup per row), as the log is read a page at a time.
pub(crate) const VIEW_COLUMNS: &str =
    "id, event_id, subscription_id, organization_id, service_partition, status,
        attempts, is_test, created_at, next_attempt_at,
        (SELECT e.type FROM events e WHERE e.id = deliveries.event_id) AS event_type";

fn view_from_row(r: &Row, attempts: Vec<AttemptView>) -> Result<DeliveryView> {
    Ok(DeliveryView {
        id: r.id("id")?,
        event_id: r.id("event_id")?,
        subscription_id: r.id("subscription_id")?,
        organization_id: r.col("organization_id")?,
        service_partition: r.col("service_partition")?,
        status: DeliveryStatus::read(r.col("status")?)?,
        attempt_count: r.col("attempts")?,
        is_test: r.col("is_test")?,
        created_at: r.col("created_at")?,
        next_attempt_at: r.col("next_attempt_at")?,
        event_type: r.col("event_type")?,
        attempts,
    })
}

impl Store {
    async fn attempts_of(
        &self,
        ids: &[DeliveryId],
        with_excerpt: bool,
    ) -> Result<HashMap<DeliveryId, Vec<AttemptView>>> {
        let ids: Vec<&str> = ids.iter().map(DeliveryId::as_str).collect();
        let rows = self
            .client()
            .await?
            .query(
                "SELECT delivery_id, attempt, sent_at, status_code, duration_ms, error, response_excerpt
                 FROM delivery_attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id, attempt",
                &[&ids],
            )
            .await?;
        let mut out: HashMap<DeliveryId, Vec<AttemptView>> = HashMap::new();
        for r in &rows {
            out.entry(r.id("delivery_id")?)
                .or_default()
                .push(AttemptView {
                    attempt: r.col("attempt")?,
                    sent_at: r.col("sent_at")?,
                    status_code: r.col("status_code")?,
                    duration_ms: r.col("duration_ms")?,
                    error: r.col("error")?,
                    response_excerpt: if with_excerpt {
                        r.col("response_excerpt")?
                    } else {
                        None
                    },
                });
        }
        Ok(out)
    }

    /// Delivery rows (selected with [`VIEW_COLUMNS`]) as views with their attempts.
    pub(crate) async fn views_with_attempts(
        &self,
        rows: &[Row],
        with_excerpt: bool,
    ) -> Result<Vec<DeliveryView>> {
        let ids = rows
            .iter()
            .map(|r| r.id("id"))
            .collect::<Result<Vec<DeliveryId>>>()?;
        let mut attempts = self.attempts_of(&ids, with_excerpt).await?;
        rows.iter()
            .zip(&ids)
            .map(|(r, id)| view_from_row(r, attempts.remove(id).unwrap_or_default()))
            .collect()
    }

    /// One page of the delivery log (one subscription's, or every one's), newest first,
    /// with their attempts.
    pub async fn deliveries(
        &self,
        filter: &LogFilter,
        limit: i64,
        after: Option<&Cursor>,
    ) -> Result<LogPage> {
        let status = filter.status.map(|s| s.as_str());
        let (cursor_at, cursor_id) = (after.map(|c| c.created_at), after.map(|c| c.id.as_str()));
        let subscription_id = filter.subscription_id.as_ref().map(SubscriptionId::as_str);
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {VIEW_COLUMNS} FROM deliveries
                     WHERE ($1::text IS NULL OR subscription_id = $1)
                       AND ($2::text IS NULL OR status = $2)
                       AND ($3::timestamptz IS NULL OR created_at >= $3)
                       AND ($4::timestamptz IS NULL OR created_at < $4)
                       AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6::text))
                       AND ($8::text IS NULL OR organization_id = $8)
                       AND ($9::text IS NULL OR EXISTS (
                             SELECT 1 FROM events e
                             WHERE e.id = deliveries.event_id AND e.type = $9))
                     ORDER BY created_at DESC, id DESC
                     LIMIT $7"
                ),
                &[
                    &subscription_id,
                    &status,
                    &filter.since,
                    &filter.until,
                    &cursor_at,
                    &cursor_id,
                    &(limit + 1),
                    &filter.organization_id,
                    &filter.event_type,
                ],
            )
            .await?;
        let has_more = rows.len() as i64 > limit;
        let rows = &rows[..rows.len().min(limit as usize)];
        let data = self.views_with_attempts(rows, false).await?;
        let next_cursor = if has_more {
            data.last().map(|d| {
                Cursor {
                    created_at: d.created_at,
                    id: d.id.clone(),
                }
                .encode()
            })
        } else {
            None
        };
        Ok(LogPage { data, next_cursor })
    }

    /// One delivery with every attempt, response excerpts included.
    pub async fn delivery(&self, id: &DeliveryId) -> Result<Option<DeliveryView>> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {VIEW_COLUMNS} FROM deliveries WHERE id = $1"),
                &[&id.as_str()],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(self.views_with_attempts(&[row], true).await?.pop())
    }

    /// What is needed to send one delivery again.
    pub async fn replay_row(&self, delivery_id: &DeliveryId) -> Result<Option<ReplayRow>> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("{REPLAY_SELECT} FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = $1"),
                &[&delivery_id.as_str()],
            )
            .await?;
        row.as_ref().map(ReplayRow::from_row).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let c = Cursor {
            created_at: OffsetDateTime::from_unix_timestamp_nanos(1_763_890_000_123_456_000)
                .unwrap(),
            id: DeliveryId::derive(&EventId::random(), None, None, &SubscriptionId::random()),
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c.clone()));
        assert_eq!(Cursor::decode("junk"), None);
        assert_eq!(Cursor::decode("12_dlv_nothex"), None);
        let id = &c.id;
        for micros in [
            "-300000000000000000",
            "253402300800000000",
            "99999999999999999999999999999999999999",
        ] {
            assert_eq!(Cursor::decode(&format!("{micros}_{id}")), None, "{micros}");
        }
    }
}
