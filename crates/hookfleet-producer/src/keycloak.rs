//! The identity provider's event hook (source document 003): `POST /v1/hooks/keycloak`. The
//! route is public, so a request is authenticated by an HMAC-SHA256 of its raw body with a key
//! shared with the provider's plugin: `X-Keycloak-Signature: <hex>` (Phase Two's
//! keycloak-events) or `X-Webhook-Signature: sha256=<hex>` (either header, either form). Every
//! key of `HOOKFLEET_KEYCLOAK_SECRET` that has not expired is tried, so two generations are
//! valid during a rotation. Anything else is a 401 and nothing is stored. A signed body is read
//! with the router's own decoder ([`hookfleet_core::keycloak::HookEvent`]) and answered 400
//! with the reason if it cannot be, so nothing the router cannot read is ever buffered. A signed
//! event is answered as soon as the broker confirmed it into `hookfleet.hooks.keycloak` (the
//! document's buffer): the plugin times out and retries, so the answer waits for nothing else.
//! The router then maps, enriches and fans it out (`hookfleet_router::enrich`).
use crate::{
    AppState,
    auth::tokens_equal,
    error::{ApiError, AppResult},
    extract::{self, RawBody},
};
use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use hookfleet_core::keycloak::HookEvent;
use serde::Serialize;
use std::sync::Arc;
use time::OffsetDateTime;
use utoipa::ToSchema;

const HOOK: &str = "identity-provider hook (document 003)";

/// Largest hook body accepted (an admin event may carry a representation).
pub const BODY_LIMIT: usize = 256 * 1024;

/// One shared key of the hook, and until when it is valid (`None`: until replaced).
#[derive(Clone)]
pub struct HookSecret {
    pub key: String,
    pub valid_until: Option<OffsetDateTime>,
}

impl std::fmt::Debug for HookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookSecret")
            .field("valid_until", &self.valid_until)
            .finish_non_exhaustive()
    }
}

impl HookSecret {
    /// `key` or `key@<RFC 3339 time>`, comma-separated: `new,old@2026-12-01T00:00:00Z`.
    pub fn parse_list(list: &str) -> Result<Vec<Self>, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|entry| match entry.rsplit_once('@') {
                Some((key, until)) => {
                    OffsetDateTime::parse(until, &time::format_description::well_known::Rfc3339)
                        .map(|t| Self {
                            key: key.to_owned(),
                            valid_until: Some(t),
                        })
                        .map_err(|e| format!("a key's expiry `{until}` is not RFC 3339: {e}"))
                }
                None => Ok(Self {
                    key: entry.to_owned(),
                    valid_until: None,
                }),
            })
            .collect()
    }
}

pub(crate) fn routes() -> Router<Arc<AppState>> {
    let group = Router::new().route("/v1/hooks/keycloak", post(keycloak_hook));
    extract::with_body_limit::<_, ApiError>(group, BODY_LIMIT)
}

/// The hex signatures a request carries, lower-cased.
fn presented(headers: &HeaderMap) -> Vec<String> {
    ["x-keycloak-signature", "x-webhook-signature"]
        .iter()
        .filter_map(|h| headers.get(*h)?.to_str().ok())
        .map(|v| {
            let v = v.trim();
            v.strip_prefix("sha256=").unwrap_or(v).to_ascii_lowercase()
        })
        .collect()
}

fn signed_by_a_valid_key(secrets: &[HookSecret], headers: &HeaderMap, body: &[u8]) -> bool {
    let now = OffsetDateTime::now_utc();
    let presented = presented(headers);
    secrets
        .iter()
        .filter(|s| s.valid_until.is_none_or(|t| t > now))
        .any(|s| {
            let expected = hookfleet_core::signing::hex_hmac_sha256(s.key.as_bytes(), body);
            presented
                .iter()
                .any(|p| tokens_equal(p.as_bytes(), expected.as_bytes()))
        })
}

/// The event, read with the very decoder the router's enricher uses, so a body answered 202
/// is one the router can read; anything else is a 400 naming the field and the rule.
fn decode(body: &[u8]) -> Result<HookEvent, ApiError> {
    HookEvent::decode(body)
        .map_err(|why| ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", why.to_string()))
}

/// The hook's answer: the raw event is in the bus.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct KeycloakAccepted {
    accepted: bool,
    id: String,
}

/// The identity provider's event, signed with a shared key (`HOOKFLEET_KEYCLOAK_SECRET`):
/// the lowercase hex HMAC-SHA256 of the body in either header, `sha256=` optional. A body the
/// router could not read is a 400 with the reason. Answered once the raw event is confirmed
/// into the bus; enrichment and fan-out come after, and an event that can then never be
/// published (its user gone, its record unreadable) is parked in `hookfleet.dead`.
// The body is read raw (its signature is over the bytes), then by `HookEvent::decode`: the
// request body's description is that decoder's type.
#[utoipa::path(post, path = "/v1/hooks/keycloak", tag = HOOK, security(()),
    params(
        ("X-Keycloak-Signature" = Option<String>, Header, description = "HMAC of the body"),
        ("X-Webhook-Signature" = Option<String>, Header, description = "The same, by another name"),
    ),
    request_body = HookEvent,
    responses((status = 202, description = "In the bus", body = KeycloakAccepted)))]
pub(crate) async fn keycloak_hook(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> AppResult<(StatusCode, Json<KeycloakAccepted>)> {
    if state.settings.keycloak_secrets.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the hook is off: this fleet has no shared key (HOOKFLEET_KEYCLOAK_SECRET) to check \
             signatures with",
        ));
    }
    if !signed_by_a_valid_key(&state.settings.keycloak_secrets, &headers, &body) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the body must be signed: `X-Keycloak-Signature: <hex HMAC-SHA256 of the raw body>` \
             (or `X-Webhook-Signature: sha256=<hex>`) with a valid key of the shared secret",
        ));
    }
    let id = decode(&body)?.id;
    let bus = state.bus()?;
    let confirmed = async { bus.publisher.buffer_hook(&body, &id).await?.wait().await };
    confirmed
        .await
        .map_err(|e| ApiError::unavailable("Failed to buffer an identity-provider event", &e))?;
    metrics::counter!("hookfleet_hook_events_total", "outcome" => "accepted").increment(1);
    Ok((
        StatusCode::ACCEPTED,
        Json(KeycloakAccepted { accepted: true, id }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_with_and_without_expiry() {
        let l = HookSecret::parse_list("new, old@2026-12-01T00:00:00Z").unwrap();
        assert_eq!(l.len(), 2);
        assert!(l[0].valid_until.is_none());
        assert!(l[1].valid_until.is_some());
        assert!(HookSecret::parse_list("k@tomorrow").is_err());
    }
}

/// Fuzzing the hook's signature check and body reader with arbitrary headers and bodies:
/// neither panics, only the signature of a valid key over the exact body passes, and an
/// expired key never does.
#[cfg(test)]
mod fuzz {
    use super::*;
    use axum::http::HeaderValue;
    use proptest::prelude::*;

    fn secrets() -> Vec<HookSecret> {
        HookSecret::parse_list("current-key,old-key@2000-01-01T00:00:00Z").unwrap()
    }

    proptest! {
        // PROPTEST_CASES raises the count for a longer run.
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2_000)
        ))]
        #[test]
        fn the_signature_check_takes_any_header_and_body(
            body in prop::collection::vec(any::<u8>(), 0..300),
            header in prop::collection::vec(any::<u8>(), 0..100),
            use_other in any::<bool>(),
            form in 0usize..4,
        ) {
            let mut headers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_bytes(&header) {
                headers.insert(if use_other { "x-webhook-signature" } else { "x-keycloak-signature" }, v);
            }
            // Arbitrary header bytes are (almost surely) not a valid signature.
            let arbitrary = signed_by_a_valid_key(&secrets(), &headers, &body);
            let right = hookfleet_core::signing::hex_hmac_sha256(b"current-key", &body);
            prop_assert!(!arbitrary || header.eq_ignore_ascii_case(right.as_bytes())
                || header.ends_with(right.as_bytes()) || String::from_utf8_lossy(&header).to_ascii_lowercase().contains(&right));
            let _ = decode(&body);

            // The right signature in any of its accepted forms passes; the expired key's never.
            let shown = match form {
                0 => right.clone(),
                1 => right.to_ascii_uppercase(),
                2 => format!("sha256={right}"),
                _ => format!("  {right} "),
            };
            let mut good = HeaderMap::new();
            good.insert("x-keycloak-signature", HeaderValue::from_str(&shown).unwrap());
            prop_assert!(signed_by_a_valid_key(&secrets(), &good, &body));
            let mut tampered = body.clone();
            tampered.push(b' ');
            prop_assert!(!signed_by_a_valid_key(&secrets(), &good, &tampered));
            let old = hookfleet_core::signing::hex_hmac_sha256(b"old-key", &body);
            let mut expired = HeaderMap::new();
            expired.insert("x-keycloak-signature", HeaderValue::from_str(&old).unwrap());
            prop_assert!(!signed_by_a_valid_key(&secrets(), &expired, &body));
        }
    }
}
