//! Reading a call's body: which of its fields is unknown or of the wrong type is decided here,
//! by walking the fields, never by the wording of serde's messages.
use super::{Call, Refusal};
use serde::Deserialize;
use serde_json::{Value, value::RawValue};

/// Every field a [`Call`] may carry, as the body names it.
pub const CALL_FIELDS: &[&str] = &[
    "channel_id",
    "password",
    "op_id",
    "thing_id",
    "ciphertext",
    "event_id",
    "title",
    "description",
    "status",
    "message",
    "severity",
    "event_time",
    "started_at",
    "ended_at",
    "tags",
    "images",
    "attrs",
    "metadata",
];

/// Reads a body (a JSON object, already held to `storable::check_json`) into a [`Call`],
/// deciding the refusal's code by what is wrong rather than by serde's wording: walking the
/// fields in the order sent, the first one [`CALL_FIELDS`] does not name is `unknown_field`,
/// the first one whose value its field cannot hold is `invalid_field`, and a field sent twice
/// (or anything else unreadable) is `invalid_json`.
pub fn read_call(body: &str) -> Result<Call, Refusal> {
    let invalid_json = |e: serde_json::Error| Refusal::new("invalid_json", e.to_string());
    let Fields(fields) = serde_json::from_str(body).map_err(invalid_json)?;
    let mut seen = std::collections::HashSet::new();
    for (name, value) in &fields {
        if !CALL_FIELDS.contains(&name.as_str()) {
            let e = <serde_json::Error as serde::de::Error>::unknown_field(name, CALL_FIELDS);
            return Err(Refusal::new("unknown_field", e.to_string()));
        }
        if !seen.insert(name.as_str()) {
            return Err(Refusal::new(
                "invalid_json",
                format!("duplicate field `{name}`"),
            ));
        }
        // The field alone, read as a call reads it: what can fail now is its value.
        let alone = format!("{{{}:{}}}", Value::String(name.clone()), value.get());
        if let Err(e) = serde_json::from_str::<Call>(&alone) {
            let at = format!(" at line {} column {}", e.line(), e.column());
            let why = e.to_string();
            let why = why.strip_suffix(&at).unwrap_or(&why);
            return Err(Refusal::field(name, why));
        }
    }
    serde_json::from_str(body).map_err(invalid_json)
}

/// A JSON object's fields in the order sent, duplicates kept, each value as its text.
struct Fields(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Fields;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Fields, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    fields.push(entry);
                }
                Ok(Fields(fields))
            }
        }
        d.deserialize_map(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_refused_by_what_is_wrong_in_the_order_sent() {
        let code = |body: &str| read_call(body).map(|_| "ok").unwrap_or_else(|r| r.code);
        assert_eq!(code(r#"{"title":"t","event_time":1}"#), "ok");
        assert_eq!(code(r#"{"title":"t","nope":1}"#), "unknown_field");
        assert_eq!(code(r#"{"title":5}"#), "invalid_field");
        assert_eq!(code(r#"{"tags":["a",5]}"#), "invalid_field");
        assert_eq!(code(r#"{"title":5,"nope":1}"#), "invalid_field");
        assert_eq!(code(r#"{"nope":1,"title":5}"#), "unknown_field");
        assert_eq!(code(r#"{"title":"a","title":"b"}"#), "invalid_json");
        let refused = read_call(r#"{"title":5}"#).unwrap_err();
        assert!(
            refused.message.starts_with("title: invalid type"),
            "{refused:?}"
        );
    }

    #[test]
    fn every_call_field_is_read_and_no_other() {
        for name in CALL_FIELDS {
            assert!(
                read_call(&format!(r#"{{"{name}":null}}"#)).is_ok(),
                "{name}"
            );
        }
        // A field added to `Call` but not to `CALL_FIELDS` would be refused as unknown: this
        // counts the struct's fields through serde's own list of them.
        let err = serde_json::from_str::<Call>(r#"{"not_a_field":1}"#).unwrap_err();
        for name in CALL_FIELDS {
            assert!(
                err.to_string().contains(&format!("`{name}`")),
                "{name}: {err}"
            );
        }
        assert_eq!(
            err.to_string().matches('`').count() / 2 - 1,
            CALL_FIELDS.len(),
            "{err}"
        );
    }
}
