//! Prefixed identifiers (`evt_`, `sub_`, `dlv_`). Random ids are UUIDv7 so they sort by
//! creation time in indexes; derived ids are SHA-256 based so the same input always yields the
//! same id without a database lookup (idempotency keys, one delivery per copy × subscription).
//! An id is made only by these constructors or by parsing (`parse`, `TryFrom<String>`, serde),
//! each of which checks the prefix-and-32-hex shape, so a value of one of these types always
//! names an id of its kind; there is no way to wrap an unchecked string, and no `Deref` to
//! `str`, so one kind of id cannot be passed where another, or any text, is asked for.
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// A string that is not an id of the kind asked for. Names the kind and the rule, never the
/// value: the value may be anything a client or a message carried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not {kind}: expected `{prefix}` then 32 lower-case hex digits")]
pub struct IdError {
    pub kind: &'static str,
    pub prefix: &'static str,
}

macro_rules! prefixed_id {
    ($name:ident, $prefix:literal, $kind:literal) => {
        // Deserialized through `TryFrom<String>`, so a message or a body carrying a string of
        // the wrong shape fails to decode instead of yielding an id that names nothing.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
        #[serde(try_from = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh, time-ordered id.
            pub fn random() -> Self {
                Self(format!("{}{}", $prefix, uuid::Uuid::now_v7().simple()))
            }

            /// Accepts only strings of this id's shape: the prefix then 32 lower-case hex digits.
            pub fn parse(s: &str) -> Option<Self> {
                Self::is_valid(s).then(|| Self(s.to_owned()))
            }

            fn is_valid(s: &str) -> bool {
                s.strip_prefix($prefix).is_some_and(|rest| {
                    rest.len() == 32 && rest.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                })
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                if Self::is_valid(&s) {
                    Ok(Self(s))
                } else {
                    Err(IdError {
                        kind: $kind,
                        prefix: $prefix,
                    })
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::try_from(s.to_owned())
            }
        }

        // An id is a string everywhere it is stored or sent, written as it is.
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

prefixed_id!(EventId, "evt_", "an event id");
prefixed_id!(SubscriptionId, "sub_", "a subscription id");
prefixed_id!(DeliveryId, "dlv_", "a delivery id");
prefixed_id!(ApiKeyId, "key_", "an API key id");
prefixed_id!(ChannelId, "chn_", "a channel id");

pub(crate) fn digest_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        // Length-prefix each part so ("ab","c") and ("a","bc") never collide.
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    hex::encode(&h.finalize()[..16])
}

/// Whose keys an idempotency key (or a lifecycle `op_id`, or a hook's event id) is one of: the
/// dialect it came through and the tenant that sent it. An event id derives from the space and
/// the key together, so a key names an event only inside its space: no key one tenant can send,
/// whatever its characters, collides with another tenant's or another dialect's ids, and the
/// 409 check and the router's "keep the first" (both by id) stay inside the space.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeySpace {
    /// The native API (`/v1/events`), which only admin credentials may call: one space for
    /// them all, so a retry sent with a rotated admin key is still the same event.
    Native,
    /// The partner dialect: the installation the event is posted for (what the caller's key is
    /// scoped to; an admin posting for it shares the installation's space).
    Installation(String),
    /// The lifecycle dialect: a channel's `op_id`s.
    Channel(String),
    /// The identity provider's hook: its events' ids, per realm.
    Keycloak { realm: Option<String> },
}

impl KeySpace {
    /// The dialect's name, as it starts [`KeySpace::label`].
    pub fn dialect(&self) -> &'static str {
        match self {
            Self::Native => "native",
            Self::Installation(_) => "partner",
            Self::Channel(_) => "lifecycle",
            Self::Keycloak { .. } => "keycloak",
        }
    }

    fn tenant(&self) -> Option<&str> {
        match self {
            Self::Native => None,
            Self::Installation(t) | Self::Channel(t) => Some(t),
            Self::Keycloak { realm } => realm.as_deref(),
        }
    }

    /// How the record and the API show the space: `native`, `partner:<installation>`,
    /// `lifecycle:<channel>`, `keycloak:<realm>`. For reading only: ids derive from the parts,
    /// never from this text (an id holding `:` would make it ambiguous).
    pub fn label(&self) -> String {
        match self.tenant() {
            Some(t) => format!("{}:{t}", self.dialect()),
            None => self.dialect().to_owned(),
        }
    }
}

/// Tags an optional part so that "absent" is never the same bytes as any present value.
fn tagged(v: Option<&str>) -> Vec<u8> {
    match v {
        None => vec![0u8],
        Some(s) => [&[1u8][..], s.as_bytes()].concat(),
    }
}

impl EventId {
    /// The id a key always maps to inside its space, so a repeat gets the same id with no
    /// lookup, and the same key in another space never does.
    pub fn for_key(space: &KeySpace, key: &str) -> Self {
        Self(format!(
            "evt_{}",
            digest_hex(&[
                b"event-key.v2",
                space.dialect().as_bytes(),
                &tagged(space.tenant()),
                key.as_bytes(),
            ])
        ))
    }

    /// The id a key mapped to before keys had spaces (one space for everyone). Only read, to
    /// recognise a client's retry, sent after the upgrade, of an event recorded before it; it
    /// can go once no such event is left in the record (`HOOKFLEET_RETENTION`).
    pub fn legacy_for_key(key: &str) -> Self {
        Self(format!(
            "evt_{}",
            digest_hex(&[b"idempotency", key.as_bytes()])
        ))
    }
}

impl DeliveryId {
    /// One delivery per (event copy, subscription): the same on every retry and redelivery.
    pub fn derive(
        event: &EventId,
        organization_id: Option<&str>,
        service_partition: Option<&str>,
        subscription: &SubscriptionId,
    ) -> Self {
        Self(format!(
            "dlv_{}",
            digest_hex(&[
                event.as_str().as_bytes(),
                &tagged(organization_id),
                &tagged(service_partition),
                subscription.as_str().as_bytes(),
            ])
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_parse() {
        let id = EventId::random();
        assert_eq!(EventId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(SubscriptionId::parse(id.as_str()), None);
        assert_eq!(EventId::parse("evt_xyz"), None);
    }

    #[test]
    fn decoding_checks_the_shape_and_encoding_writes_the_string() {
        let id = DeliveryId::random();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<DeliveryId>(&json).unwrap(), id);
        for bad in [
            "\"junk\"",
            "\"dlv_\"",
            "\"sub_0123456789abcdef0123456789abcdef\"",
            "\"dlv_0123456789ABCDEF0123456789ABCDEF\"",
            "\"dlv_0123456789abcdef0123456789abcdef0\"",
            "17",
        ] {
            assert!(serde_json::from_str::<DeliveryId>(bad).is_err(), "{bad}");
        }
        let err = serde_json::from_str::<EventId>("\"evt_nope\"").unwrap_err();
        assert!(err.to_string().contains("not an event id"), "{err}");
        assert!(
            !err.to_string().contains("evt_nope"),
            "never echoes the value: {err}"
        );
        assert_eq!(
            "junk".parse::<ChannelId>().unwrap_err().kind,
            "a channel id"
        );
    }

    #[test]
    fn keys_map_to_stable_distinct_ids_inside_their_space() {
        let native = KeySpace::Native;
        assert_eq!(
            EventId::for_key(&native, "k1"),
            EventId::for_key(&native, "k1")
        );
        assert_ne!(
            EventId::for_key(&native, "k1"),
            EventId::for_key(&native, "k2")
        );
        assert!(EventId::parse(EventId::for_key(&native, "k").as_str()).is_some());
        // The same key in another space, or the old derivation, is another id.
        let a = KeySpace::Installation("a".into());
        assert_ne!(EventId::for_key(&a, "k1"), EventId::for_key(&native, "k1"));
        assert_ne!(
            EventId::for_key(&native, "k1"),
            EventId::legacy_for_key("k1")
        );
        // Absent and empty tenants differ; a label is for reading only.
        assert_ne!(
            EventId::for_key(&KeySpace::Keycloak { realm: None }, "k"),
            EventId::for_key(
                &KeySpace::Keycloak {
                    realm: Some(String::new())
                },
                "k"
            )
        );
        assert_eq!(KeySpace::Channel("c".into()).label(), "lifecycle:c");
        assert_eq!(KeySpace::Native.label(), "native");
    }

    #[test]
    fn delivery_ids_distinguish_absent_from_empty_and_each_field() {
        let e = EventId::random();
        let s = SubscriptionId::random();
        let a = DeliveryId::derive(&e, None, None, &s);
        assert_eq!(a, DeliveryId::derive(&e, None, None, &s));
        assert_ne!(a, DeliveryId::derive(&e, Some(""), None, &s));
        assert_ne!(
            DeliveryId::derive(&e, Some("o"), None, &s),
            DeliveryId::derive(&e, None, Some("o"), &s)
        );
    }
}

/// Key spaces over arbitrary (dialect, principal, key) triples: two different principals (or
/// dialects) never share an event id, whatever their keys' and tenants' characters, and the
/// same principal and key always do.
#[cfg(test)]
mod key_space_props {
    use super::*;
    use proptest::prelude::*;

    /// Any space; tenant names drawn from a small alphabet (`:` and NUL included, so labels
    /// can look alike) as well as from any string, so equal tenants come up often.
    fn space() -> impl Strategy<Value = KeySpace> {
        let tenant = prop_oneof!["[a:\\x00]{0,3}", any::<String>()];
        prop_oneof![
            Just(KeySpace::Native),
            tenant.clone().prop_map(KeySpace::Installation),
            tenant.clone().prop_map(KeySpace::Channel),
            proptest::option::of(tenant).prop_map(|realm| KeySpace::Keycloak { realm }),
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof!["[k:\\x00]{0,3}", any::<String>()]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2_000)
        ))]
        #[test]
        fn different_principals_never_share_an_id_and_the_same_always_does(
            (a, b) in (space(), space()),
            (ka, kb) in (key(), key()),
        ) {
            let (ia, ib) = (EventId::for_key(&a, &ka), EventId::for_key(&b, &kb));
            prop_assert_eq!(ia == ib, a == b && ka == kb);
            prop_assert_eq!(&ia, &EventId::for_key(&a.clone(), &ka.clone()));
            prop_assert!(EventId::parse(ia.as_str()).is_some());
            // Nor is a new id ever one of the old, space-less derivation.
            prop_assert_ne!(ia, EventId::legacy_for_key(&kb));
        }
    }
}

/// Parsing over arbitrary text: every way in (`parse`, `TryFrom`, serde) agrees, accepts
/// exactly the prefix and 32 lower-case hex digits, and gives back the text unchanged.
#[cfg(test)]
mod parse_props {
    use super::*;
    use proptest::prelude::*;

    /// Any text, text close to an id (a prefix of some kind, then near-hex), and ids.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "(evt_|sub_|dlv_|key_|chn_|EVT_|evt)[0-9a-fA-Fg]{30,34}",
            "evt_[0-9a-f]{31,33}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2_000)
        ))]
        #[test]
        fn every_way_in_agrees_and_keeps_the_text(s in text()) {
            let shaped = s.strip_prefix("evt_").is_some_and(|h| {
                h.len() == 32 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            });
            let parsed = EventId::parse(&s);
            prop_assert_eq!(parsed.is_some(), shaped);
            prop_assert_eq!(EventId::try_from(s.clone()).ok(), parsed.clone());
            let json = serde_json::to_string(&s).unwrap();
            prop_assert_eq!(serde_json::from_str::<EventId>(&json).ok(), parsed.clone());
            if let Some(id) = parsed {
                prop_assert_eq!(id.as_str(), s.as_str());
                prop_assert_eq!(serde_json::to_string(&id).unwrap(), json);
                prop_assert!(SubscriptionId::parse(&s).is_none());
            }
        }
    }
}
