//! Prefixed identifiers (`evt_`, `sub_`, `dlv_`). Random ids are UUIDv7 so they sort by
//! creation time in indexes; derived ids are SHA-256 based so the same input always yields the
//! same id without a database lookup (idempotency keys, one delivery per copy × subscription).
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

macro_rules! prefixed_id {
    ($name:ident, $prefix:literal) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh, time-ordered id.
            pub fn random() -> Self {
                Self(format!("{}{}", $prefix, uuid::Uuid::now_v7().simple()))
            }

            /// Accepts only strings of this id's shape: the prefix then 32 lower-case hex digits.
            pub fn parse(s: &str) -> Option<Self> {
                let rest = s.strip_prefix($prefix)?;
                (rest.len() == 32 && rest.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
                    .then(|| Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Wraps a string already known to be an id (read back from our own record).
            pub fn from_trusted(s: String) -> Self {
                Self(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        // An id is a string everywhere it is stored or sent; typed only so that one kind of
        // id is never taken for another.
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }
    };
}

prefixed_id!(EventId, "evt_");
prefixed_id!(SubscriptionId, "sub_");
prefixed_id!(DeliveryId, "dlv_");
prefixed_id!(ApiKeyId, "key_");
prefixed_id!(ChannelId, "chn_");

pub(crate) fn digest_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        // Length-prefix each part so ("ab","c") and ("a","bc") never collide.
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    hex::encode(&h.finalize()[..16])
}

impl EventId {
    /// The id an idempotency key always maps to, so a repeat gets the same id with no lookup.
    pub fn for_idempotency_key(key: &str) -> Self {
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
        // A leading tag byte keeps "absent" distinct from "empty string".
        let tag = |v: Option<&str>| match v {
            None => vec![0u8],
            Some(s) => [&[1u8][..], s.as_bytes()].concat(),
        };
        Self(format!(
            "dlv_{}",
            digest_hex(&[
                event.as_str().as_bytes(),
                &tag(organization_id),
                &tag(service_partition),
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
    fn idempotency_keys_map_to_stable_distinct_ids() {
        assert_eq!(
            EventId::for_idempotency_key("k1"),
            EventId::for_idempotency_key("k1")
        );
        assert_ne!(
            EventId::for_idempotency_key("k1"),
            EventId::for_idempotency_key("k2")
        );
        assert!(EventId::parse(EventId::for_idempotency_key("k").as_str()).is_some());
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
