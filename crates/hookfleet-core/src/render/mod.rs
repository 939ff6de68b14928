//! What a subscriber receives, rendered at send time from the recorded copy of an event (the
//! bytes on the subscription's queue, [`crate::DeliveredBody`]) and the subscription's
//! [`Profile`]: the body and the headers. First sends, retries, replays and test sends all go
//! through [`render`], so the same copy always gives the same bytes. A new profile is a
//! variant here and one function that renders it.
use crate::{Secret, signing};

mod innervoice;
pub mod pca;
pub use innervoice::{HEADER_SIGNATURE as INNERVOICE_SIGNATURE, signature as innervoice_signature};
pub mod js_json;

/// How a subscription's requests look on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// [Standard Webhooks](https://www.standardwebhooks.com/): the copy as the body,
    /// `webhook-id`, `webhook-timestamp` and `webhook-signature` (one `v1,` signature per
    /// valid secret).
    #[default]
    StandardWebhooks,
    /// Source document 002: `{"event", "timestamp", "data"}` and `X-InnerVoice-Signature`, the
    /// lowercase hex HMAC-SHA256 of the body keyed with the webhook's secret as shown.
    InnerVoice,
    /// Source document 003: the event's data as the body (with the copy's organization and
    /// partition), and the `X-PCA-Event-*` headers.
    Pca,
}

impl Profile {
    pub const ALL: [Profile; 3] = [Profile::StandardWebhooks, Profile::InnerVoice, Profile::Pca];

    /// The name the API and the record use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StandardWebhooks => "standard-webhooks",
            Self::InnerVoice => "innervoice",
            Self::Pca => "pca",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// What an endpoint answering 410 Gone means for a subscription of this profile.
    pub fn on_gone(self) -> OnGone {
        match self {
            // Document 002: 2xx is success, "anything else" a failure that is retried.
            Self::InnerVoice => OnGone::Retry,
            Self::StandardWebhooks | Self::Pca => OnGone::Disable,
        }
    }
}

/// What an endpoint answering 410 Gone means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnGone {
    /// The endpoint is gone for good (Standard Webhooks' advice): disable the subscription and
    /// keep its messages until it is enabled again.
    Disable,
    /// A failure like any other non-2xx answer, retried on the ladder.
    Retry,
}

impl serde::Serialize for Profile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Profile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|p| p.as_str()).collect();
            serde::de::Error::custom(format!("profile must be one of {}", names.join(", ")))
        })
    }
}

/// One request, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

/// Renders `copy` for `profile`. `webhook_id` is the delivery's id (the same on every attempt),
/// `now` the Unix time the request is signed at.
pub fn render(
    profile: Profile,
    copy: &[u8],
    webhook_id: &str,
    secrets: &[Secret],
    now: i64,
) -> Request {
    match profile {
        Profile::StandardWebhooks => standard_webhooks(copy, webhook_id, secrets, now),
        Profile::InnerVoice => innervoice::render(copy, secrets),
        Profile::Pca => pca::render(copy, webhook_id, secrets, now),
    }
}

fn standard_webhooks(copy: &[u8], webhook_id: &str, secrets: &[Secret], now: i64) -> Request {
    let sig = signing::sign_headers(secrets, webhook_id, now, copy);
    Request {
        body: copy.to_vec(),
        headers: vec![
            ("content-type", "application/json".to_owned()),
            (signing::HEADER_ID, sig.id),
            (signing::HEADER_TIMESTAMP, sig.timestamp),
            (signing::HEADER_SIGNATURE, sig.signature),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_sends_the_copy_signed_by_every_secret() {
        let (a, b) = (Secret::generate(), Secret::generate());
        let copy = br#"{"id":"evt_1","data":{}}"#;
        let r = render(
            Profile::StandardWebhooks,
            copy,
            "dlv_1",
            &[a.clone(), b],
            1_700_000_000,
        );
        assert_eq!(r.body, copy);
        let header = |n: &str| {
            r.headers
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("webhook-id"), Some("dlv_1"));
        assert_eq!(header("webhook-timestamp"), Some("1700000000"));
        let sigs = header("webhook-signature").unwrap();
        assert_eq!(sigs.split(' ').count(), 2);
        assert!(sigs.starts_with(&a.sign("dlv_1", 1_700_000_000, copy)));
        // The same copy renders the same bytes, whenever it is sent.
        assert_eq!(
            render(Profile::StandardWebhooks, copy, "dlv_1", &[a], 1).body,
            copy
        );
    }
}
