//! The identity provider's hook event (source document 003, Phase Two's keycloak-events
//! shape) as both the hook at the edge and the router's enricher read it. One decoder for both,
//! so whatever the hook answers 202 to the enricher can read, and whatever it cannot is refused
//! with its reason before it is buffered (promise 4: validate at the edge against what every
//! later stage reads).
//!
//! The body must be UTF-8 JSON the record can hold ([`crate::storable`]: no NUL, no lone
//! surrogate, bounded nesting and numbers), with no key twice in any object (two readers could
//! take different values from one signed body), an object with a string `id` and `type`, and,
//! when present, the fields the mapping reads in the types the plugin sends them. Every other
//! field is the plugin's own and is left alone. The bounds keep what the enricher derives from
//! an event (its message id, its idempotency key, an admin API path) within what the bus and
//! the intake accept.
use crate::{Invalid, storable};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Longest event `id`, in bytes: the idempotency key the enricher derives (the id, in the
/// realm's key space) stays within [`crate::event::MAX_IDEMPOTENCY_KEY_LEN`], and
/// `keycloak:<id>` within an AMQP message id (a short string of 255 bytes).
pub const MAX_ID_LEN: usize = 128;
/// Longest event `type`, in bytes (Keycloak's longest is well under 64).
pub const MAX_TYPE_LEN: usize = 256;
/// Longest `realmName`, in bytes.
pub const MAX_REALM_LEN: usize = 100;
/// Longest `authDetails.userId` or `authDetails.clientId`, in bytes (Keycloak's are UUIDs or
/// client names); a user id becomes a segment of an admin API path.
pub const MAX_ENTITY_ID_LEN: usize = 256;
/// Longest `resourcePath`, in bytes (`groups/<uuid>`, `users/<uuid>/groups/<uuid>`).
pub const MAX_RESOURCE_PATH_LEN: usize = 1_024;

// The idempotency key the enricher derives (the event's id) and its message id must fit.
const _: () = assert!(MAX_ID_LEN <= crate::event::MAX_IDEMPOTENCY_KEY_LEN);
const _: () = assert!("keycloak:".len() + MAX_ID_LEN <= 255);

/// The identity provider's event (document 003), read at the hook by the very decoder the
/// router reads it with (`hookfleet_core::keycloak`): JSON the record can hold (no NUL, no
/// lone surrogate, at most 64 levels deep, finite numbers) with no key twice in any object, and
/// these fields in these types; the text fields are limited in bytes and take no control
/// characters. Any other field is the plugin's own and is buffered untouched. Anything else is
/// a 400 `invalid_json` whose message names the field and the rule.
//
// The fields of a hook event the mapping reads, as [`HookEvent::decode`] reads them (the
// description's names and limits are the decoder's).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(as = KeycloakEvent, rename_all = "camelCase")
)]
pub struct HookEvent {
    /// The provider's event id, 1 to 128 bytes.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 128, example = "e1")
    )]
    pub id: String,
    /// 1 to 256 bytes: `access.<EventType>` or `admin.<RESOURCE>-<OPERATION>`.
    #[cfg_attr(
        feature = "openapi",
        schema(
            rename = "type",
            min_length = 1,
            max_length = 256,
            example = "access.LOGOUT"
        )
    )]
    pub event_type: String,
    /// At most 100 bytes.
    #[cfg_attr(feature = "openapi", schema(max_length = 100, example = "acme"))]
    pub realm_name: Option<String>,
    pub auth_details: Option<AuthDetails>,
    /// The plugin's details; `custom_required_action`, when present, is a string or null.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub details: Map<String, Value>,
    /// At most 1,024 bytes (`groups/<id>` for `admin.GROUP-CREATE`).
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 1024, example = "groups/grp-1")
    )]
    pub resource_path: Option<String>,
}

/// Who acted and through which client; other fields are the plugin's.
// `authDetails`, as the decoder reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(as = KeycloakAuthDetails, rename_all = "camelCase")
)]
pub struct AuthDetails {
    /// At most 256 bytes.
    #[cfg_attr(feature = "openapi", schema(max_length = 256, example = "user-1"))]
    pub user_id: Option<String>,
    /// At most 256 bytes.
    #[cfg_attr(feature = "openapi", schema(max_length = 256, example = "web-app"))]
    pub client_id: Option<String>,
}

impl HookEvent {
    /// Reads a hook body, or says why it cannot be read (the field, then the rule it breaks).
    pub fn decode(body: &[u8]) -> Result<Self, Invalid> {
        let text =
            std::str::from_utf8(body).map_err(|_| Invalid::new("body", "is not UTF-8 text"))?;
        storable::check_json("body", text)?;
        let UniqueKeys(value) = serde_json::from_str(text)
            .map_err(|e| Invalid::new("body", format!("is not JSON: {e}")))?;
        let Value::Object(mut o) = value else {
            return Err(Invalid::new("body", "must be a JSON object"));
        };
        let id = text_field(&o, "id", "id", 1, MAX_ID_LEN)?;
        let event_type = text_field(&o, "type", "type", 1, MAX_TYPE_LEN)?;
        let (Some(id), Some(event_type)) = (id, event_type) else {
            let missing = if o.contains_key("id") { "type" } else { "id" };
            return Err(Invalid::new(missing, "is required"));
        };
        let auth_details = match o.get("authDetails") {
            None | Some(Value::Null) => None,
            Some(Value::Object(a)) => Some(AuthDetails {
                user_id: text_field(a, "authDetails.userId", "userId", 0, MAX_ENTITY_ID_LEN)?,
                client_id: text_field(a, "authDetails.clientId", "clientId", 0, MAX_ENTITY_ID_LEN)?,
            }),
            Some(_) => return Err(Invalid::new("authDetails", "must be an object or null")),
        };
        let details = match o.remove("details") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(d)) => {
                // The one detail the mapping reads; the rest are the plugin's.
                text_field(
                    &d,
                    "details.custom_required_action",
                    "custom_required_action",
                    0,
                    MAX_TYPE_LEN,
                )?;
                d
            }
            Some(_) => return Err(Invalid::new("details", "must be an object or null")),
        };
        Ok(Self {
            id,
            event_type,
            realm_name: text_field(&o, "realmName", "realmName", 0, MAX_REALM_LEN)?,
            auth_details,
            details,
            resource_path: text_field(
                &o,
                "resourcePath",
                "resourcePath",
                0,
                MAX_RESOURCE_PATH_LEN,
            )?,
        })
    }

    /// A string detail (`custom_required_action`), if the event has it.
    pub fn detail(&self, name: &str) -> Option<&str> {
        self.details.get(name)?.as_str()
    }

    /// Who caused it: the user for `access.*`, an admin for `admin.*`.
    pub fn sender(&self) -> crate::source::Sender {
        if self.event_type.starts_with("admin.") {
            crate::source::Sender::Admin
        } else {
            crate::source::Sender::User
        }
    }
}

/// `object[key]`: absent or null is `None`; otherwise a string of `min..=max` bytes without
/// control characters (they would travel in headers, paths and keys), named `field` if not.
fn text_field(
    object: &Map<String, Value>,
    field: &'static str,
    key: &str,
    min: usize,
    max: usize,
) -> Result<Option<String>, Invalid> {
    match object.get(key) {
        None => Ok(None),
        Some(Value::Null) if min == 0 => Ok(None),
        Some(Value::String(s))
            if (min..=max).contains(&s.len()) && !s.chars().any(char::is_control) =>
        {
            Ok(Some(s.clone()))
        }
        Some(_) => {
            let null = if min == 0 { " or null" } else { "" };
            Err(Invalid::new(
                field,
                format!(
                    "must be a string of {min} to {max} bytes without control characters{null}"
                ),
            ))
        }
    }
}

/// A JSON value read with every object's keys checked to be distinct: serde_json's `Value`
/// keeps the last of two equal keys, and a derived struct refuses them, so without this check
/// the two ends could read one body differently.
struct UniqueKeys(Value);

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueKeysVisitor).map(UniqueKeys)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // Finite: the storable check refused anything else.
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueKeys(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let UniqueKeys(value) = map.next_value()?;
            if object.contains_key(&key) {
                let shown: String = key.chars().take(40).collect();
                return Err(de::Error::custom(format_args!(
                    "the key {shown:?} appears twice in one object"
                )));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fuzz;
