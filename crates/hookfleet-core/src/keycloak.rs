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
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(v: &str) -> Result<HookEvent, Invalid> {
        HookEvent::decode(v.as_bytes())
    }

    fn refused(v: &str) -> String {
        decode(v).unwrap_err().to_string()
    }

    #[test]
    fn reads_the_plugins_events() {
        let e = decode(
            &json!({"uid": "u1", "id": "e1", "type": "access.UPDATE_PROFILE", "time": 1714000000000u64,
                "realmId": "r-uuid", "realmName": "acme", "authDetails": {"realmId": "acme",
                "clientId": "web-app", "userId": "user-1", "ipAddress": "203.0.113.7"},
                "details": {"custom_required_action": "UPDATE_EMAIL", "n": 1},
                "representation": "{\"a\":1}"})
            .to_string(),
        )
        .unwrap();
        assert_eq!(e.id, "e1");
        assert_eq!(e.realm_name.as_deref(), Some("acme"));
        let a = e.auth_details.as_ref().unwrap();
        assert_eq!(a.user_id.as_deref(), Some("user-1"));
        assert_eq!(a.client_id.as_deref(), Some("web-app"));
        assert_eq!(e.detail("custom_required_action"), Some("UPDATE_EMAIL"));
        assert_eq!(e.sender(), crate::source::Sender::User);
        let bare = decode(r#"{"id":"e2","type":"admin.GROUP-CREATE","authDetails":null,"details":null,"realmName":null}"#)
            .unwrap();
        assert!(bare.auth_details.is_none() && bare.details.is_empty());
        assert_eq!(bare.sender(), crate::source::Sender::Admin);
    }

    #[test]
    fn refuses_what_the_router_cannot_read_with_the_field() {
        for (body, field) in [
            (r#"{"id":"a","id":"b","type":"access.LOGOUT"}"#, "body: "),
            (
                r#"{"id":"a","type":"t","authDetails":{"userId":"u","userId":"v"}}"#,
                "body: ",
            ),
            (r#"{"id":"a","type":"t","x":[{"k":1,"k":2}]}"#, "body: "),
            (
                r#"{"id":"a","type":"t","authDetails":"u1"}"#,
                "authDetails: ",
            ),
            (
                r#"{"id":"a","type":"t","authDetails":{"userId":7}}"#,
                "authDetails.userId: ",
            ),
            (r#"{"id":"a","type":"t","details":["x"]}"#, "details: "),
            (
                r#"{"id":"a","type":"t","details":{"custom_required_action":{}}}"#,
                "details.custom_required_action: ",
            ),
            (r#"{"id":"a","type":"t","realmName":5}"#, "realmName: "),
            (
                r#"{"id":"a","type":"t","resourcePath":true}"#,
                "resourcePath: ",
            ),
            (r#"{"id":1,"type":"t"}"#, "id: "),
            (r#"{"id":"","type":"t"}"#, "id: "),
            (r#"{"id":"a\nb","type":"t"}"#, "id: "),
            (r#"{"type":"t"}"#, "id: "),
            (r#"{"id":"a"}"#, "type: "),
            (r#"{"id":"a","type":null}"#, "type: "),
            (r#"{"id":"a","type":"t\u0000"}"#, "body: "),
            (r#"{"id":"a","type":"t","x":"\ud800"}"#, "body: "),
            (r#"{"id":"a","type":"t","n":1e999}"#, "body: "),
            ("[]", "body: "),
            ("not json", "body: "),
            ("{} {}", "body: "),
        ] {
            let why = refused(body);
            assert!(why.starts_with(field), "{body}: {why}");
        }
        assert!(refused(r#"{"id":"a","id":"b","type":"t"}"#).contains("\"id\" appears twice"));
        let long = |n: usize| format!(r#"{{"id":"{}","type":"t"}}"#, "i".repeat(n));
        assert!(decode(&long(MAX_ID_LEN)).is_ok());
        assert!(decode(&long(MAX_ID_LEN + 1)).is_err());
        assert!(refused(&format!("\u{feff}{}", long(1))).starts_with("body: "));
        assert!(HookEvent::decode(b"{\"id\":\"\xff\",\"type\":\"t\"}").is_err());
    }
}

/// Hostile bodies at the decoder: it never panics, refuses each kind of input a later stage
/// could not hold or read the same way, and what it accepts holds every bound the enricher
/// relies on. `PROPTEST_CASES` raises the count for a longer run.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// A fragment no stage may take, spliced into an otherwise good event.
    fn hostile() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(r#""\u0000""#.to_owned()),
            Just(r#""a\ud800b""#.to_owned()),
            Just(r#""\udc00""#.to_owned()),
            (65usize..200).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n))),
            "[1-9][0-9]{0,3}".prop_map(|e| format!("1e{e}000")),
            Just(format!("1{}", "0".repeat(400))),
            Just(r#"{"k":1,"k":2}"#.to_owned()),
        ]
    }

    fn good(id: &str, realm: &str, user: &str) -> Value {
        json!({"id": id, "type": "access.LOGOUT", "realmName": realm,
               "authDetails": {"userId": user, "clientId": "web"}, "details": {"k": "v"}})
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1_000)
        ))]

        #[test]
        fn any_bytes_are_decoded_or_refused_without_panicking(
            body in prop::collection::vec(any::<u8>(), 0..300),
        ) {
            let _ = HookEvent::decode(&body);
        }

        #[test]
        fn any_text_is_decoded_or_refused_and_what_is_read_is_bounded(
            id in "(\\PC|\\x00|\\n){0,140}",
            realm in "\\PC{0,110}",
            user in "(\\PC|\\t){0,10}",
        ) {
            let body = good(&id, &realm, &user).to_string();
            match HookEvent::decode(body.as_bytes()) {
                Ok(e) => {
                    prop_assert_eq!(&e.id, &id);
                    prop_assert!((1..=MAX_ID_LEN).contains(&e.id.len()));
                    prop_assert!(!e.id.chars().any(char::is_control));
                    prop_assert!(e.realm_name.as_ref().is_none_or(|r| r.len() <= MAX_REALM_LEN));
                    let key = format!("keycloak:{}:{}", realm, e.id);
                    prop_assert!(key.len() <= crate::event::MAX_IDEMPOTENCY_KEY_LEN);
                    prop_assert!(!key.chars().any(char::is_control));
                }
                Err(why) => {
                    let bad_id = id.is_empty() || id.len() > MAX_ID_LEN
                        || id.chars().any(char::is_control);
                    let bad_realm = realm.len() > MAX_REALM_LEN;
                    let bad_user = user.chars().any(char::is_control);
                    prop_assert!(bad_id || bad_realm || bad_user, "refused {}: {}", body, why);
                }
            }
        }

        #[test]
        fn a_hostile_fragment_anywhere_is_refused(
            fragment in hostile(),
            at in 0usize..4,
        ) {
            let body = match at {
                0 => format!(r#"{{"id":"e1","type":"access.LOGOUT","extra":{fragment}}}"#),
                1 => format!(r#"{{"id":"e1","type":"access.LOGOUT","details":{{"x":{fragment}}}}}"#),
                2 => format!(r#"{{"id":"e1","type":"access.LOGOUT","authDetails":{{"ip":[{fragment}]}}}}"#),
                _ => format!(r#"{{"representation":{fragment},"id":"e1","type":"access.LOGOUT"}}"#),
            };
            let refused = HookEvent::decode(body.as_bytes());
            prop_assert!(refused.is_err(), "accepted {}", body);
            prop_assert_eq!(refused.unwrap_err().field, "body");
        }

        #[test]
        fn a_key_twice_at_any_depth_is_refused(depth in 0usize..20, key in "[a-zA-Z]{1,8}") {
            let twice = format!(r#"{{"{key}":1,"{key}":2}}"#);
            let nested = format!("{}{}{}", "[".repeat(depth), twice, "]".repeat(depth));
            let body = format!(r#"{{"id":"e1","type":"t","x":{nested}}}"#);
            prop_assert!(HookEvent::decode(body.as_bytes()).is_err());
        }
    }
}
