//! The InnerVoice profile (source document 002). The body is `{"event": TYPE, "timestamp":
//! RFC 3339, "data": {...}}`, written so that `JSON.stringify(JSON.parse(body))` gives the same
//! bytes (see [`super::js_json`]): the document's receiver signs what Express re-serializes,
//! not the raw body. `X-InnerVoice-Signature` is the lowercase hex HMAC-SHA256 of the body,
//! keyed with the webhook's secret exactly as it was shown (the `whsec_…` text), as the
//! document's `crypto.createHmac('sha256', secret)` uses it. Only the current secret signs:
//! the header holds one signature.
use super::{Request, js_json};
use crate::{DeliveredBody, Secret};
use serde_json::{Map, Value};

pub const HEADER_SIGNATURE: &str = "x-innervoice-signature";

pub(super) fn render(copy: &[u8], secrets: &[Secret]) -> Request {
    let body = body(copy).unwrap_or_else(|| String::from_utf8_lossy(copy).into_owned());
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(current) = secrets.first() {
        headers.push((
            HEADER_SIGNATURE,
            signature(&current.expose(), body.as_bytes()),
        ));
    }
    Request {
        body: body.into_bytes(),
        headers,
    }
}

/// The document's body from a recorded copy (`None` for bytes that are no copy).
fn body(copy: &[u8]) -> Option<String> {
    let copy: DeliveredBody = serde_json::from_slice(copy).ok()?;
    let data: Value = serde_json::from_str(copy.data.get()).ok()?;
    let mut body = Map::new();
    body.insert("event".into(), Value::String(copy.event_type.into_owned()));
    body.insert(
        "timestamp".into(),
        Value::String(copy.timestamp.into_owned()),
    );
    body.insert("data".into(), data);
    // Written in the document's order: event, timestamp, data.
    let mut out = String::from("{");
    for (i, k) in ["event", "timestamp", "data"].iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!("\"{k}\":"));
        out.push_str(&js_json::to_string(&body[*k]));
    }
    out.push('}');
    Some(out)
}

/// Lowercase hex HMAC-SHA256 of `body` keyed with `secret`'s text.
pub fn signature(secret: &str, body: &[u8]) -> String {
    crate::signing::hex_hmac_sha256(secret.as_bytes(), body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{Profile, render as render_profile};

    #[test]
    fn the_documents_body_signed_with_the_secret_as_shown() {
        let data = serde_json::value::RawValue::from_string(
            r#"{"execution_id":"exec_abc","latency_ms":342,"ratio":1.0}"#.into(),
        )
        .unwrap();
        let ts = time::macros::datetime!(2025-09-19 07:00:00 UTC);
        let copy = DeliveredBody::encode(
            &crate::EventId::random(),
            "action.executed",
            &ts,
            Some("o"),
            None,
            &data,
            None,
        )
        .unwrap();
        let secret = Secret::generate();
        let r = render_profile(
            Profile::InnerVoice,
            &copy,
            "dlv_1",
            std::slice::from_ref(&secret),
            0,
        );
        let body = String::from_utf8(r.body).unwrap();
        assert_eq!(
            body,
            r#"{"event":"action.executed","timestamp":"2025-09-19T07:00:00Z","data":{"execution_id":"exec_abc","latency_ms":342,"ratio":1}}"#
        );
        let sig = &r
            .headers
            .iter()
            .find(|(k, _)| *k == HEADER_SIGNATURE)
            .unwrap()
            .1;
        assert_eq!(sig, &signature(&secret.expose(), body.as_bytes()));
        assert_eq!(sig.len(), 64);
        assert!(
            sig.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
    }
}
