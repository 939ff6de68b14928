//! The record of events, read and written in one place: the router's batch insert
//! (`ON CONFLICT DO NOTHING`) and its mark of what is fanned out, a test send's event, the
//! intake's check of what a key already names, and the API's reads (one event as recorded, and
//! the listing, newest first).
use crate::{Result, Store};
use hookfleet_core::{EventId, IngestEvent};
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

/// What the record holds under a keyed event's id ([`Store::keyed_event`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyedRecord {
    /// Nothing yet: the key is new in its space (or its event is still on its way).
    Nothing,
    /// The same event: a repeat.
    Same,
    /// Another event under the same key and space.
    Different,
    /// The same event, recorded before keys had spaces under the id the key alone derived: a
    /// retry sent across the upgrade, which must stay the same event.
    SameAsLegacy,
}

/// One event as the batch insert reads it (its own field names, the columns').
#[derive(serde::Serialize)]
struct EventRow<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    timestamp: time::OffsetDateTime,
    organization_ids: &'a [String],
    service_partitions: &'a [String],
    idempotency_key: Option<&'a str>,
    key_space: Option<&'a str>,
    data: &'a serde_json::value::RawValue,
    source: Option<&'a hookfleet_core::source::Source>,
}

impl<'a> From<&'a IngestEvent> for EventRow<'a> {
    fn from(e: &'a IngestEvent) -> Self {
        Self {
            id: e.id.as_str(),
            event_type: &e.event_type,
            timestamp: e.timestamp,
            organization_ids: &e.organization_ids,
            service_partitions: &e.service_partitions,
            idempotency_key: e.idempotency_key.as_deref(),
            key_space: e.key_space.as_deref(),
            data: &e.data,
            source: e.source.as_ref(),
        }
    }
}

impl Store {
    /// Inserts a batch of events, ignoring ids already present, and returns the ids of the batch
    /// that still need fanning out: new ones, and older ones whose fan-out never completed (a
    /// router died between insert and publish).
    pub async fn insert_events(&self, events: &[&IngestEvent]) -> Result<Vec<String>> {
        let rows: Vec<EventRow<'_>> = events.iter().map(|e| EventRow::from(*e)).collect();
        let events_json = serde_json::to_string(&rows)?;
        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        let client = self.client().await?;
        client
            .execute(
                r#"INSERT INTO events (id, type, "timestamp", organization_ids, service_partitions,
                                       idempotency_key, key_space, data, source)
                   SELECT id, type, "timestamp", organization_ids, service_partitions,
                          idempotency_key, key_space, data, source
                   FROM jsonb_to_recordset($1::text::jsonb) AS x(
                       id text, type text, "timestamp" timestamptz, organization_ids jsonb,
                       service_partitions jsonb, idempotency_key text, key_space text, data jsonb,
                       source jsonb)
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
        data: &str,
    ) -> Result<()> {
        self.client()
            .await?
            .execute(
                r#"INSERT INTO events (id, type, "timestamp", organization_ids, service_partitions, data, is_test, routed_at)
                   VALUES ($1, $2, $3, '[]', '[]', $4::text::jsonb, true, now())"#,
                &[&id, &event_type, timestamp, &data],
            )
            .await?;
        Ok(())
    }

    /// What the record holds under the id `e`'s idempotency key derives, compared with `e`
    /// (type, data as JSON so key order and spacing do not count, organizations, partitions);
    /// and, when nothing is, under `legacy`, the id the same key derived before keys had spaces.
    pub async fn keyed_event(&self, e: &IngestEvent, legacy: &EventId) -> Result<KeyedRecord> {
        let orgs = serde_json::to_string(&e.organization_ids)?;
        let partitions = serde_json::to_string(&e.service_partitions)?;
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, type = $3 AND data = $4::text::jsonb
                            AND organization_ids = $5::text::jsonb
                            AND service_partitions = $6::text::jsonb
                   FROM events WHERE id = $1 OR id = $2",
                &[
                    &e.id.as_str(),
                    &legacy.as_str(),
                    &e.event_type,
                    &e.data.get(),
                    &orgs,
                    &partitions,
                ],
            )
            .await?;
        let same = |id: &str| {
            rows.iter()
                .find(|r| r.get::<_, &str>(0) == id)
                .map(|r| r.get::<_, bool>(1))
        };
        Ok(match (same(e.id.as_str()), same(legacy.as_str())) {
            (Some(true), _) => KeyedRecord::Same,
            (Some(false), _) => KeyedRecord::Different,
            (None, Some(true)) => KeyedRecord::SameAsLegacy,
            // A different event under the old id: another tenant's key, before spaces.
            (None, _) => KeyedRecord::Nothing,
        })
    }

    pub async fn event_exists(&self, id: &str) -> Result<bool> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT 1 FROM events WHERE id = $1", &[&id])
            .await?;
        Ok(row.is_some())
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
