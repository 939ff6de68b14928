//! Signing secrets sealed at rest with XChaCha20-Poly1305, so a dump of the database alone
//! reveals none of them. Keys come from `HOOKFLEET_SECRET_KEYS` (`id:base64-of-32-bytes`, comma
//! separated): the first seals, every one opens, so a key is rotated by putting the new one first,
//! letting [`Store::reseal_secrets`](crate::Store::reseal_secrets) re-seal the rows, and then
//! dropping the old one. A sealed value is `hfenc1:<key id>:<base64(nonce ‖ ciphertext)>`, bound
//! to its subscription's id as associated data, so a value copied onto another row does not
//! open. Values without the prefix were written before sealing existed and are read as they are
//! until resealed.
use crate::row::Columns;
use base64::{Engine, engine::general_purpose::STANDARD_NO_PAD};
use chacha20poly1305::{
    Key, KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};
use hookfleet_core::SubscriptionId;
use std::sync::Arc;

const PREFIX: &str = "hfenc1:";
const NONCE_BYTES: usize = 24;

/// The id of the key used when `HOOKFLEET_SECRET_KEYS` is unset. Its bytes are in this source
/// file, so it hides nothing from someone who has both; the fleet warns when it is in use.
pub const DEVELOPMENT_KEY_ID: &str = "dev";
const DEVELOPMENT_KEY: [u8; 32] = *b"hookfleet-development-only-key!!";

/// The keys secrets are sealed with; cheap to clone, and never printed.
#[derive(Clone)]
pub struct Sealer {
    /// The first seals; all open.
    keys: Arc<Vec<(String, XChaCha20Poly1305)>>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("Sealer").field("key_ids", &ids).finish()
    }
}

impl Default for Sealer {
    fn default() -> Self {
        Self::development()
    }
}

/// Why a sealed value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("sealed with key `{0}`, which HOOKFLEET_SECRET_KEYS does not hold")]
    UnknownKey(String),
    #[error("a sealed secret is malformed or was altered")]
    Corrupt,
}

impl Sealer {
    /// The built-in development key alone.
    pub fn development() -> Self {
        Self::from_keys(vec![(DEVELOPMENT_KEY_ID.to_owned(), DEVELOPMENT_KEY)])
    }

    fn from_keys(keys: Vec<(String, [u8; 32])>) -> Self {
        let keys = keys
            .into_iter()
            .map(|(id, k)| (id, XChaCha20Poly1305::new(Key::from_slice(&k))))
            .collect();
        Self {
            keys: Arc::new(keys),
        }
    }

    /// Parses `id:base64,id:base64,…` (standard base64 of exactly 32 bytes, padding optional;
    /// ids of 1–32 letters, digits, `_` or `-`, each once). The error never repeats a key.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut keys: Vec<(String, [u8; 32])> = Vec::new();
        for (n, item) in list.split(',').map(str::trim).enumerate() {
            let place = n + 1;
            let (id, b64) = item
                .split_once(':')
                .ok_or(format!("key {place} is not `id:base64-key`"))?;
            let id_ok = (1..=32).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !id_ok {
                return Err(format!(
                    "key {place}: its id must be 1 to 32 letters, digits, `_` or `-`"
                ));
            }
            if id == DEVELOPMENT_KEY_ID {
                return Err(format!("key id `{id}` is the development key's"));
            }
            if keys.iter().any(|(k, _)| k == id) {
                return Err(format!("key id `{id}` appears twice"));
            }
            let bytes = STANDARD_NO_PAD
                .decode(b64.trim_end_matches('='))
                .map_err(|_| format!("key `{id}` is not base64"))?;
            let key: [u8; 32] = bytes
                .try_into()
                .map_err(|b: Vec<u8>| format!("key `{id}` is {} bytes; it must be 32", b.len()))?;
            keys.push((id.to_owned(), key));
        }
        Ok(Self::from_keys(keys))
    }

    /// As [`parse`](Self::parse), but an empty list is the development key alone (so an
    /// environment variable set to nothing, as compose files do, means unset).
    pub fn parse_or_development(list: &str) -> Result<Self, String> {
        if list.trim().is_empty() {
            Ok(Self::development())
        } else {
            Self::parse(list)
        }
    }

    /// True when the development key seals.
    pub fn is_development(&self) -> bool {
        self.current_id() == DEVELOPMENT_KEY_ID
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        &self.keys[0].0
    }

    /// Seals `secret` for the row `row_id`.
    pub fn seal(&self, row_id: &str, secret: &str) -> String {
        let (id, cipher) = &self.keys[0];
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).expect("the operating system's random source is available");
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: row_id.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 seals any message under 256 GiB");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{id}:{}", STANDARD_NO_PAD.encode(out))
    }

    /// Opens what [`seal`](Self::seal) made for `row_id`; a value without the prefix is a
    /// secret stored before sealing and comes back as it is.
    pub fn open(&self, row_id: &str, stored: &str) -> Result<String, SealError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_owned());
        };
        let (id, b64) = rest.split_once(':').ok_or(SealError::Corrupt)?;
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(k, _)| k == id)
            .ok_or_else(|| SealError::UnknownKey(id.to_owned()))?;
        let raw = STANDARD_NO_PAD
            .decode(b64)
            .map_err(|_| SealError::Corrupt)?;
        if raw.len() < NONCE_BYTES {
            return Err(SealError::Corrupt);
        }
        let (nonce, sealed) = raw.split_at(NONCE_BYTES);
        let plain = cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: row_id.as_bytes(),
                },
            )
            .map_err(|_| SealError::Corrupt)?;
        String::from_utf8(plain).map_err(|_| SealError::Corrupt)
    }

    /// True when `stored` is sealed with the current key (nothing to reseal).
    pub fn is_current(&self, stored: &str) -> bool {
        stored
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once(':'))
            .is_some_and(|(id, _)| id == self.current_id())
    }
}

/// What [`Store::reseal_secrets`](crate::Store::reseal_secrets) did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Rows now sealed with the current key.
    pub resealed: u64,
    /// Rows with a secret no key in the list opens; left as they are.
    pub unopenable: u64,
}

impl crate::Store {
    /// Seals every subscription's secrets (deleted ones too) with the current key: secrets
    /// stored before sealing existed, and those sealed with an older key. Walks the table in
    /// pages of `page` rows; each row is written only if its secrets did not change meanwhile
    /// (a concurrent rotation wins). Safe to run from several processes at once.
    pub async fn reseal_secrets(&self, page: i64) -> crate::Result<Resealed> {
        let client = self.client().await?;
        let current = format!("{PREFIX}{}:", self.sealer.current_id());
        let mut done = Resealed::default();
        let mut after = String::new();
        loop {
            let rows = client
                .query(
                    "SELECT id, secrets FROM subscriptions
                     WHERE id > $1
                       AND EXISTS (SELECT 1 FROM unnest(secrets) s
                                   WHERE left(s, length($2)) <> $2)
                     ORDER BY id LIMIT $3",
                    &[&after, &current, &page],
                )
                .await?;
            for row in &rows {
                let id: SubscriptionId = row.id("id")?;
                let id = id.as_str();
                let stored: Vec<String> = row.col("secrets")?;
                let opened: Result<Vec<String>, SealError> =
                    stored.iter().map(|s| self.sealer.open(id, s)).collect();
                let Ok(opened) = opened else {
                    done.unopenable += 1;
                    continue;
                };
                let sealed: Vec<String> = opened.iter().map(|s| self.sealer.seal(id, s)).collect();
                done.resealed += client
                    .execute(
                        "UPDATE subscriptions SET secrets = $2 WHERE id = $1 AND secrets = $3",
                        &[&id, &sealed, &stored],
                    )
                    .await?;
            }
            match rows.last() {
                Some(last) if rows.len() as i64 == page => after = last.col("id")?,
                _ => return Ok(done),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(id: &str, byte: u8) -> String {
        format!(
            "{id}:{}",
            base64::engine::general_purpose::STANDARD.encode([byte; 32])
        )
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_row_and_its_keys() {
        let s = Sealer::parse(&key("k2", 2)).unwrap();
        let sealed = s.seal("sub_1", "whsec_abc");
        assert!(sealed.starts_with("hfenc1:k2:"), "{sealed}");
        assert!(!sealed.contains("whsec_abc"));
        assert_eq!(s.open("sub_1", &sealed).unwrap(), "whsec_abc");
        assert_eq!(s.open("sub_2", &sealed), Err(SealError::Corrupt));
        assert_ne!(
            s.seal("sub_1", "whsec_abc"),
            sealed,
            "a fresh nonce each time"
        );

        // Rotation: the new key first, the old one still opens; then the old one dropped.
        let rotated = Sealer::parse(&format!("{},{}", key("k3", 3), key("k2", 2))).unwrap();
        assert_eq!(rotated.open("sub_1", &sealed).unwrap(), "whsec_abc");
        assert!(!rotated.is_current(&sealed));
        assert!(rotated.is_current(&rotated.seal("sub_1", "x")));
        let only_new = Sealer::parse(&key("k3", 3)).unwrap();
        assert_eq!(
            only_new.open("sub_1", &sealed),
            Err(SealError::UnknownKey("k2".into()))
        );
        // Same id, other bytes: refused, not garbage.
        let wrong = Sealer::parse(&key("k2", 9)).unwrap();
        assert_eq!(wrong.open("sub_1", &sealed), Err(SealError::Corrupt));
        // Stored before sealing existed: read as it is.
        assert_eq!(s.open("sub_1", "whsec_old").unwrap(), "whsec_old");
    }

    #[test]
    fn key_lists_are_checked_without_repeating_the_keys() {
        let full = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        for (list, want) in [
            ("", "key 1 is not"),
            ("nokey", "key 1 is not"),
            (&format!("a b:{full}") as &str, "its id must be"),
            (&format!(":{full}"), "its id must be"),
            ("a:!!!", "not base64"),
            ("a:AAAA", "is 3 bytes"),
            (&format!("a:{full},a:{full}"), "appears twice"),
        ] {
            let e = Sealer::parse(list).unwrap_err();
            assert!(e.contains(want), "{list}: {e}");
            assert!(!e.contains(&full[..20]), "{e}");
        }
        assert!(Sealer::parse(&format!("a:{full}, b_-1:{}", full.trim_end_matches('='))).is_ok());
        let debug = format!("{:?}", Sealer::parse(&format!("a:{full}")).unwrap());
        assert!(
            !debug.contains(&full[..20]) && debug.contains("\"a\""),
            "{debug}"
        );
    }

    proptest! {
        #[test]
        fn whatever_is_stored_opens_to_the_secret_or_an_error_never_a_panic(
            row in "[a-z_0-9]{0,20}",
            secret in ".{0,80}",
            noise in prop::collection::vec(any::<u8>(), 0..120),
            flip in any::<usize>(),
        ) {
            let s = Sealer::development();
            let sealed = s.seal(&row, &secret);
            prop_assert_eq!(s.open(&row, &sealed).unwrap(), secret);
            // Any altered byte of the sealed part is refused.
            let mut bytes = sealed.clone().into_bytes();
            let i = PREFIX.len() + 4 + flip % (bytes.len() - PREFIX.len() - 4);
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(bytes).unwrap();
            prop_assert!(s.open(&row, &altered).is_err());
            // Arbitrary stored text never panics.
            let junk = format!("hfenc1:dev:{}", String::from_utf8_lossy(&noise));
            let _ = s.open(&row, &junk);
        }
    }
}
