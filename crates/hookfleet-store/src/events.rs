//! The record of events, read and written in one place: the router's batch insert
//! (`ON CONFLICT DO NOTHING`) and its mark of what is fanned out, a test send's event, the
//! intake's check of what a key already names, and the API's reads (one event as recorded, and
//! the listing, newest first).
use crate::{Result, Store, row::Columns};
use hookfleet_core::{EventId, IngestEvent};
use serde_json::Value;
use time::OffsetDateTime;
use tokio_postgres::{Row, types::Json};

/// What `GET /v1/events` narrows the listing to.
#[derive(Debug, Default, Clone)]
pub struct EventFilter {
    pub event_type: Option<String>,
    /// Events carrying this organization id.
    pub organization_id: Option<String>,
}

/// An event as recorded.
//
// As the API shows it (a test send's is never read back). The fields are declared in
// alphabetical order on purpose: the API answered this record as a JSON map, whose keys
// `serde_json` writes sorted, and a struct is written in declaration order, so this order
// keeps the answer byte for byte what it was.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Event))]
pub struct EventRecord {
    /// The event's data; `null` if what the record holds cannot be read back as JSON (it nests
    /// deeper than the reader goes, as an older version could store it).
    // A `Value`, not the stored text, so the answer keeps the shape it always had (sorted
    // keys, no spacing).
    pub data: Value,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: EventId,
    pub idempotency_key: Option<String>,
    /// Whose key `idempotency_key` is: `native`, `partner:<installation>`,
    /// `lifecycle:<channel>` or `keycloak:<realm>`; `null` without a key, and for events
    /// recorded before keys had spaces.
    // `KeySpace::label`.
    pub key_space: Option<String>,
    pub organization_ids: Vec<String>,
    /// When the router recorded it.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub received_at: OffsetDateTime,
    /// When every copy was confirmed onto the bus; `null` until then.
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub routed_at: Option<OffsetDateTime>,
    pub service_partitions: Vec<String>,
    /// Where it came from, as recorded.
    // A `Value` for the same reason as `data`.
    // Always written (`null` when none).
    #[cfg_attr(feature = "openapi", schema(value_type = Value, required = true))]
    pub source: Option<Value>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub timestamp: OffsetDateTime,
    #[serde(rename = "type")]
    pub event_type: String,
}

/// `data` and `source` are read as the text PostgreSQL holds: parsed here, so a value too deep
/// to read is `null` instead of failing the row.
const COLUMNS: &str = r#"id, type, "timestamp", organization_ids, service_partitions,
    idempotency_key, data::text AS data, source::text AS source, received_at, routed_at,
    key_space"#;

impl EventRecord {
    fn from_row(r: &Row) -> Result<Self> {
        let json_text = |name: &str| -> Result<Option<Value>> {
            let text: Option<&str> = r.col(name)?;
            Ok(text.and_then(|t| serde_json::from_str(t).ok()))
        };
        let Json(organization_ids) = r.col("organization_ids")?;
        let Json(service_partitions) = r.col("service_partitions")?;
        Ok(Self {
            data: json_text("data")?.unwrap_or(Value::Null),
            id: r.id("id")?,
            idempotency_key: r.col("idempotency_key")?,
            key_space: r.col("key_space")?,
            organization_ids,
            received_at: r.col("received_at")?,
            routed_at: r.col("routed_at")?,
            service_partitions,
            source: json_text("source")?,
            timestamp: r.col("timestamp")?,
            event_type: r.col("type")?,
        })
    }
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
    id: &'a EventId,
    #[serde(rename = "type")]
    event_type: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    timestamp: OffsetDateTime,
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
            id: &e.id,
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
    pub async fn insert_events(&self, events: &[&IngestEvent]) -> Result<Vec<EventId>> {
        let rows: Vec<EventRow<'_>> = events.iter().map(|e| EventRow::from(*e)).collect();
        let events_json = serde_json::to_string(&rows)?;
        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        let client = self.client().await?;
        // One statement: the insert's new rows, and those of the batch recorded before whose
        // fan-out never completed (the outer read does not see the insert's own rows).
        let insert = client
            .prepare_cached(
                r#"WITH new AS (
                       INSERT INTO events (id, type, "timestamp", organization_ids,
                                           service_partitions, idempotency_key, key_space, data,
                                           source)
                       SELECT id, type, "timestamp", organization_ids, service_partitions,
                              idempotency_key, key_space, data, source
                       FROM jsonb_to_recordset($1::text::jsonb) AS x(
                           id text, type text, "timestamp" timestamptz, organization_ids jsonb,
                           service_partitions jsonb, idempotency_key text, key_space text,
                           data jsonb, source jsonb)
                       ON CONFLICT (id) DO NOTHING
                       RETURNING id)
                   SELECT id FROM new
                   UNION ALL
                   SELECT id FROM events WHERE id = ANY($2) AND routed_at IS NULL"#,
            )
            .await?;
        let rows = client.query(&insert, &[&events_json, &ids]).await?;
        rows.iter().map(|r| r.id("id")).collect()
    }

    /// Marks events whose every copy the broker has confirmed.
    pub async fn mark_routed(&self, ids: &[&EventId]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
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
        id: &EventId,
        event_type: &str,
        timestamp: &OffsetDateTime,
        data: &str,
    ) -> Result<()> {
        self.client()
            .await?
            .execute(
                r#"INSERT INTO events (id, type, "timestamp", organization_ids, service_partitions, data, is_test, routed_at)
                   VALUES ($1, $2, $3, '[]', '[]', $4::text::jsonb, true, now())"#,
                &[&id.as_str(), &event_type, timestamp, &data],
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
        let client = self.client().await?;
        let compare = client
            .prepare_cached(
                "SELECT id, type = $3 AND data = $4::text::jsonb
                            AND organization_ids = $5::text::jsonb
                            AND service_partitions = $6::text::jsonb AS same
                   FROM events WHERE id = $1 OR id = $2",
            )
            .await?;
        let rows = client
            .query(
                &compare,
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
        let mut found: Vec<(EventId, bool)> = Vec::with_capacity(rows.len());
        for r in &rows {
            found.push((r.id("id")?, r.col("same")?));
        }
        let same = |id: &EventId| found.iter().find(|(f, _)| f == id).map(|(_, s)| *s);
        Ok(match (same(&e.id), same(legacy)) {
            (Some(true), _) => KeyedRecord::Same,
            (Some(false), _) => KeyedRecord::Different,
            (None, Some(true)) => KeyedRecord::SameAsLegacy,
            // A different event under the old id: another tenant's key, before spaces.
            (None, _) => KeyedRecord::Nothing,
        })
    }

    pub async fn event_exists(&self, id: &EventId) -> Result<bool> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT 1 FROM events WHERE id = $1", &[&id.as_str()])
            .await?;
        Ok(row.is_some())
    }

    /// One recorded event (not a test send's), or `None`.
    pub async fn event(&self, id: &EventId) -> Result<Option<EventRecord>> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {COLUMNS} FROM events WHERE id = $1 AND NOT is_test"),
                &[&id.as_str()],
            )
            .await?;
        row.as_ref().map(EventRecord::from_row).transpose()
    }

    /// Up to `limit` recorded events, newest first, after the event `after` (the previous
    /// page's last); test sends are left out.
    pub async fn list_events(
        &self,
        filter: &EventFilter,
        limit: i64,
        after: Option<&EventId>,
    ) -> Result<Vec<EventRecord>> {
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
                &[
                    &filter.event_type,
                    &filter.organization_id,
                    &after.map(EventId::as_str),
                    &limit,
                ],
            )
            .await?;
        rows.iter().map(EventRecord::from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answer `GET /v1/events/{id}` gave when it was built as a JSON map: the record must
    /// serialize to the same bytes.
    #[test]
    fn a_record_serializes_as_the_map_the_api_answered() {
        let t = time::macros::datetime!(2026-11-23 10:00:00.123 UTC);
        let record = EventRecord {
            data: serde_json::json!({"z": 1, "a": [true, null]}),
            id: EventId::random(),
            idempotency_key: Some("k".into()),
            key_space: Some("native".into()),
            organization_ids: vec!["o1".into()],
            received_at: t,
            routed_at: None,
            service_partitions: vec![],
            source: Some(serde_json::json!({"sender": "s"})),
            timestamp: t,
            event_type: "user.created".into(),
        };
        let rfc = |t: OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        };
        let before = serde_json::json!({
            "id": record.id.as_str(),
            "type": record.event_type,
            "timestamp": rfc(t),
            "organization_ids": record.organization_ids,
            "service_partitions": record.service_partitions,
            "idempotency_key": record.idempotency_key,
            "key_space": record.key_space,
            "data": record.data,
            "source": record.source,
            "received_at": rfc(t),
            "routed_at": Option::<String>::None,
        });
        assert_eq!(
            serde_json::to_string(&record).unwrap(),
            serde_json::to_string(&before).unwrap()
        );
    }
}
