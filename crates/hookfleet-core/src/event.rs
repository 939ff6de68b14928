//! The event envelope: what a client posts (`NewEvent`), what the producer puts on
//! `hookfleet.ingest` (`IngestEvent`), and the per-copy body a subscriber receives
//! (`DeliveredBody`), plus the fan-out rule between them.
use crate::{EventId, Invalid, ids::KeySpace, routing};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use time::OffsetDateTime;

/// Limits on what one event may ask for; each bounds work the fleet does per request.
pub const MAX_TYPE_LEN: usize = 128;
pub const MAX_SCOPE_ITEMS: usize = 100;
pub const MAX_SCOPE_VALUE_LEN: usize = 64;
pub const MAX_COPIES: usize = 1_000;
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 256;

/// `POST /v1/events` (and each item of a batch).
// Unknown fields are rejected.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    /// Dot-separated words of letters, digits, `_` and `-`.
    #[serde(rename = "type")]
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "user.created",
            max_length = 128,
            pattern = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"
        )
    )]
    pub event_type: String,
    /// One copy per organization (absent: one copy with `organization_id` null).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 100, value_type = Option<Vec<crate::openapi::ScopeValue>>))]
    pub organization_ids: Option<Vec<String>>,
    /// One copy per partition (absent: one copy with `service_partition` null).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 100, value_type = Option<Vec<crate::openapi::ScopeValue>>))]
    pub service_partitions: Option<Vec<String>>,
    /// Any JSON object storable by every stage (no NUL, no lone surrogate, depth ≤ 64…).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Box<RawValue>,
    /// The same key always gives the same event id (also the `Idempotency-Key` header).
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^[^\u0000-\u001f\u007f-\u009f]{1,256}$")
    )]
    pub idempotency_key: Option<String>,
    // Where it came from (sender, client, source organization and partition, type version).
    #[serde(default)]
    pub source: Option<crate::source::Source>,
}

/// An accepted event as it travels on `hookfleet.ingest` to the router.
#[derive(Debug, Serialize, Deserialize)]
pub struct IngestEvent {
    pub id: EventId,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    pub organization_ids: Vec<String>,
    pub service_partitions: Vec<String>,
    pub idempotency_key: Option<String>,
    /// Whose key `idempotency_key` is ([`KeySpace::label`]): shown beside it in the record.
    /// Absent for an event without a key, and from messages queued before keys had spaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_space: Option<String>,
    pub data: Box<RawValue>,
    // Absent from messages queued before sources existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<crate::source::Source>,
}

/// The JSON body POSTed to subscribers; copies differ only in the two scope fields.
#[derive(Debug, Serialize, Deserialize)]
pub struct DeliveredBody<'a> {
    // `Cow`, not `&str`: a value with an escape (`"` or `\` in an organization id) cannot be
    // borrowed from the message and must still decode.
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    pub event_type: Cow<'a, str>,
    #[serde(borrow)]
    pub timestamp: Cow<'a, str>,
    #[serde(borrow)]
    pub organization_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub service_partition: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub data: &'a RawValue,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<crate::source::Source>,
}

impl DeliveredBody<'_> {
    /// The bytes of one copy, as queued and as replayed: built here only, so a replay rebuilt
    /// from the record has the shape of the original.
    pub fn encode(
        id: &EventId,
        event_type: &str,
        timestamp: &OffsetDateTime,
        organization_id: Option<&str>,
        service_partition: Option<&str>,
        data: &RawValue,
        source: Option<&crate::source::Source>,
    ) -> Result<Vec<u8>, serde_json::Error> {
        let timestamp = timestamp
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        serde_json::to_vec(&DeliveredBody {
            id: id.as_str().into(),
            event_type: event_type.into(),
            timestamp: timestamp.into(),
            organization_id: organization_id.map(Cow::Borrowed),
            service_partition: service_partition.map(Cow::Borrowed),
            data,
            source: source.cloned(),
        })
    }
}

/// One copy of an event: its routing key and the exact bytes a subscriber will receive.
#[derive(Debug)]
pub struct EventCopy {
    pub routing_key: String,
    pub body: Vec<u8>,
    /// What the routing key encodes, for the router's own matching of the shared tier.
    pub partition: Option<String>,
    pub organization: Option<String>,
}

/// Checks an event type: dot-separated words of `[A-Za-z0-9_-]`, no wildcards.
pub fn validate_event_type(t: &str) -> Result<(), Invalid> {
    if t.is_empty() || t.len() > MAX_TYPE_LEN {
        return Err(Invalid::new(
            "type",
            format!("must be 1 to {MAX_TYPE_LEN} characters"),
        ));
    }
    let word_ok = |w: &str| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if !t.split('.').all(word_ok) {
        return Err(Invalid::new(
            "type",
            "must be dot-separated words of letters, digits, `_` and `-` (e.g. `user.created`)",
        ));
    }
    Ok(())
}

/// Validates an organization or partition list: present lists must be non-empty; values are
/// de-duplicated in order, so one organization named twice still yields one copy.
pub fn validate_scope(
    field: &'static str,
    list: Option<Vec<String>>,
) -> Result<Option<Vec<String>>, Invalid> {
    let Some(list) = list else { return Ok(None) };
    if list.is_empty() || list.len() > MAX_SCOPE_ITEMS {
        return Err(Invalid::new(
            field,
            format!("give 1 to {MAX_SCOPE_ITEMS} values, or leave the field out to mean all"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for v in list {
        if v.is_empty() || v.len() > MAX_SCOPE_VALUE_LEN || v.chars().any(char::is_control) {
            return Err(Invalid::new(
                field,
                format!("each value must be 1 to {MAX_SCOPE_VALUE_LEN} printable characters"),
            ));
        }
        if !out.contains(&v) {
            out.push(v);
        }
    }
    Ok(Some(out))
}

impl NewEvent {
    /// Validates the request and turns it into the message the router consumes.
    /// `header_key` is the `Idempotency-Key` header, if the client sent one; `space` is whose
    /// key it is (the dialect and the authenticated tenant), which the id derives from with it.
    pub fn accept(
        self,
        space: &KeySpace,
        header_key: Option<&str>,
    ) -> Result<IngestEvent, Invalid> {
        validate_event_type(&self.event_type)?;
        let orgs = validate_scope("organization_ids", self.organization_ids)?.unwrap_or_default();
        let parts =
            validate_scope("service_partitions", self.service_partitions)?.unwrap_or_default();
        if orgs.len().max(1) * parts.len().max(1) > MAX_COPIES {
            return Err(Invalid::new(
                "organization_ids",
                format!("organizations × partitions must not exceed {MAX_COPIES} copies"),
            ));
        }
        if !self.data.get().trim_start().starts_with('{') {
            return Err(Invalid::new("data", "must be a JSON object"));
        }
        crate::storable::check_json("data", self.data.get())?;
        if let Some(s) = &self.source {
            s.validate()?;
        }
        let key = match (self.idempotency_key, header_key) {
            (Some(b), Some(h)) if b != h => {
                return Err(Invalid::new(
                    "idempotency_key",
                    "differs from the Idempotency-Key header",
                ));
            }
            (Some(k), _) => Some(k),
            (None, h) => h.map(str::to_owned),
        };
        if let Some(k) = &key
            && (k.is_empty()
                || k.len() > MAX_IDEMPOTENCY_KEY_LEN
                || k.chars().any(char::is_control))
        {
            return Err(Invalid::new(
                "idempotency_key",
                format!("must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} printable characters"),
            ));
        }
        // Every copy's routing key must fit in an AMQP short string.
        let longest = |l: &[String]| l.iter().map(|v| routing::encode_word(Some(v)).len()).max();
        let key_len =
            longest(&parts).unwrap_or(1) + longest(&orgs).unwrap_or(1) + 2 + self.event_type.len();
        if key_len > routing::MAX_KEY_LEN {
            return Err(Invalid::new(
                "type",
                "type, organization and partition together are too long to route",
            ));
        }
        let id = key
            .as_deref()
            .map_or_else(EventId::random, |k| EventId::for_key(space, k));
        Ok(IngestEvent {
            id,
            event_type: self.event_type,
            // Millisecond precision: the record keeps microseconds, and a body rebuilt from it
            // for a replay must carry the same timestamp as the original.
            timestamp: crate::now_millis(),
            organization_ids: orgs,
            service_partitions: parts,
            key_space: key.is_some().then(|| space.label()),
            idempotency_key: key,
            data: self.data,
            source: self.source.filter(|s| !s.is_empty()),
        })
    }
}

impl IngestEvent {
    /// The fan-out rule: k organizations × m partitions give k×m copies differing only in
    /// `organization_id` / `service_partition`; an empty list contributes one copy without it.
    pub fn fan_out(&self) -> Result<Vec<EventCopy>, serde_json::Error> {
        let as_options = |l: &[String]| -> Vec<Option<String>> {
            if l.is_empty() {
                vec![None]
            } else {
                l.iter().cloned().map(Some).collect()
            }
        };
        let mut copies = Vec::new();
        for org in as_options(&self.organization_ids) {
            for part in as_options(&self.service_partitions) {
                copies.push(EventCopy {
                    routing_key: routing::routing_key(
                        part.as_deref(),
                        org.as_deref(),
                        &self.event_type,
                    ),
                    body: DeliveredBody::encode(
                        &self.id,
                        &self.event_type,
                        &self.timestamp,
                        org.as_deref(),
                        part.as_deref(),
                        &self.data,
                        self.source.as_ref(),
                    )?,
                    partition: part.clone(),
                    organization: org.clone(),
                });
            }
        }
        Ok(copies)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_event(json: &str) -> Result<NewEvent, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn two_orgs_and_two_partitions_make_four_copies_differing_only_in_scope() {
        let ev = new_event(
            r#"{"type":"user.created","organization_ids":["o1","o2"],
                "service_partitions":["pca.hub.tdi1","pca.hub.tdi2"],"data":{"k":1}}"#,
        )
        .unwrap()
        .accept(&KeySpace::Native, None)
        .unwrap();
        let copies = ev.fan_out().unwrap();
        assert_eq!(copies.len(), 4);
        let mut scopes = Vec::new();
        for c in &copies {
            let mut v: serde_json::Value = serde_json::from_slice(&c.body).unwrap();
            let obj = v.as_object_mut().unwrap();
            scopes.push((
                obj.remove("organization_id").unwrap(),
                obj.remove("service_partition").unwrap(),
            ));
            assert_eq!(obj["data"], serde_json::json!({"k":1}));
            assert_eq!(obj["id"], ev.id.as_str());
        }
        scopes.sort_by_key(|s| s.0.to_string() + &s.1.to_string());
        scopes.dedup();
        assert_eq!(scopes.len(), 4);
    }

    #[test]
    fn absent_scopes_give_one_copy_with_null_fields() {
        let ev = new_event(r#"{"type":"organization.created","data":{}}"#)
            .unwrap()
            .accept(&KeySpace::Native, None)
            .unwrap();
        let copies = ev.fan_out().unwrap();
        assert_eq!(copies.len(), 1);
        assert_eq!(copies[0].routing_key, "_._.organization.created");
        let v: serde_json::Value = serde_json::from_slice(&copies[0].body).unwrap();
        assert!(v["organization_id"].is_null());
    }

    #[test]
    fn rejects_unknown_fields_and_bad_values() {
        assert!(new_event(r#"{"type":"a","data":{},"extra":1}"#).is_err());
        assert!(new_event(r#"{"data":{}}"#).is_err());
        let bad = |j: &str| {
            new_event(j)
                .unwrap()
                .accept(&KeySpace::Native, None)
                .unwrap_err()
                .field
        };
        assert_eq!(bad(r#"{"type":"user.*","data":{}}"#), "type");
        assert_eq!(bad(r#"{"type":"a..b","data":{}}"#), "type");
        assert_eq!(bad(r#"{"type":"a","data":[1]}"#), "data");
        assert_eq!(
            bad(r#"{"type":"a","organization_ids":[],"data":{}}"#),
            "organization_ids"
        );
        assert_eq!(
            bad(r#"{"type":"a","idempotency_key":"","data":{}}"#),
            "idempotency_key"
        );
    }

    #[test]
    fn idempotency_key_fixes_the_id_and_duplicates_collapse() {
        let a = new_event(
            r#"{"type":"a","organization_ids":["x","x"],"data":{},"idempotency_key":"k"}"#,
        )
        .unwrap()
        .accept(&KeySpace::Native, None)
        .unwrap();
        let b = new_event(r#"{"type":"a","data":{}}"#)
            .unwrap()
            .accept(&KeySpace::Native, Some("k"))
            .unwrap();
        assert_eq!(a.id, b.id);
        assert_eq!(a.organization_ids, vec!["x"]);
    }
}
