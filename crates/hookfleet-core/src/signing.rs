//! Standard Webhooks signing: `webhook-signature: v1,<base64 HMAC-SHA256("id.timestamp.body")>`
//! keyed by the base64-decoded part of a `whsec_` secret.
use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";
pub const SECRET_PREFIX: &str = "whsec_";
/// 24 random bytes, as Svix issues: long enough for HMAC-SHA256, short enough to paste.
const SECRET_BYTES: usize = 24;

/// A signing secret. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    key: Vec<u8>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl Secret {
    pub fn generate() -> Self {
        let mut key = vec![0u8; SECRET_BYTES];
        getrandom::fill(&mut key).expect("the operating system's random source is available");
        Self { key }
    }

    /// Parses `whsec_<base64>`.
    pub fn parse(s: &str) -> Option<Self> {
        let b64 = s.strip_prefix(SECRET_PREFIX)?;
        let key = STANDARD.decode(b64).ok()?;
        (key.len() >= 16 && key.len() <= 64).then_some(Self { key })
    }

    /// The `whsec_` form shown to users and stored.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    /// `v1,<base64 signature>` over `id.timestamp.body`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// Lowercase hex HMAC-SHA256 of `body` keyed with `key`: the form of the InnerVoice header and
/// of the identity provider's hook signatures.
pub fn hex_hmac_sha256(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The three headers of one signed attempt.
#[derive(Debug, Clone)]
pub struct SignatureHeaders {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
}

/// Signs one attempt; while a secret is rotated, every secret signs and the signatures are
/// sent space-separated, as the Standard Webhooks specification allows.
pub fn sign_headers(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> SignatureHeaders {
    let signature = secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ");
    SignatureHeaders {
        id: id.to_owned(),
        timestamp: timestamp.to_string(),
        signature,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        // The example from the Standard Webhooks specification's reference implementations.
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_round_trip_and_hide_in_debug() {
        let s = Secret::generate();
        assert_eq!(Secret::parse(&s.expose()), Some(s.clone()));
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert!(Secret::parse("nope").is_none());
    }
}
