//! One delivery attempt: POST a rendered request, classify the answer. No broker or database
//! here, so the step can be called and tested on its own.
use hookfleet_core::{
    render::Request,
    storable::{lossy, lossy_str},
};
use std::time::{Duration, Instant};

/// Bytes of the response body kept for the delivery log (of the stored text: invalid bytes
/// become U+FFFD, three bytes each, before the cut).
pub const RESPONSE_EXCERPT_BYTES: usize = 1024;
/// How long the excerpt may take to arrive once the status is in. The outcome is already
/// decided by the status, so a body that trickles must not hold the attempt's in-flight slot
/// for the whole attempt timeout: a receiver sends a short body with its headers.
pub const EXCERPT_DEADLINE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    pub delivered: bool,
    pub status_code: Option<u16>,
    pub duration: Duration,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
}

fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("timed out after {} ms", timeout.as_millis());
    }
    let mut s = if e.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Sends one rendered POST. 2xx is delivered; any other status, a timeout, or a connection or
/// TLS error is a failure.
pub async fn deliver_one(
    client: &reqwest::Client,
    url: &str,
    request: Request,
    timeout: Duration,
) -> AttemptResult {
    let started = Instant::now();
    let mut builder = client.post(url);
    for (name, value) in request.headers {
        builder = builder.header(name, value);
    }
    let sent = builder.body(request.body).timeout(timeout).send().await;
    match sent {
        Ok(mut resp) => {
            let status = resp.status();
            let mut excerpt = Vec::new();
            // Read at most the excerpt, for at most its deadline; the rest of a large or slow
            // body is not worth waiting for.
            let deadline = tokio::time::Instant::now() + EXCERPT_DEADLINE;
            while excerpt.len() < RESPONSE_EXCERPT_BYTES {
                match tokio::time::timeout_at(deadline, resp.chunk()).await {
                    Ok(Ok(Some(chunk))) => excerpt.extend_from_slice(&chunk),
                    _ => break,
                }
            }
            excerpt.truncate(RESPONSE_EXCERPT_BYTES);
            let delivered = status.is_success();
            AttemptResult {
                delivered,
                status_code: Some(status.as_u16()),
                duration: started.elapsed(),
                error: (!delivered).then(|| format!("endpoint answered {status}")),
                // The receiver's bytes are anyone's: never trusted to be storable text.
                response_excerpt: (!excerpt.is_empty()).then(|| stored_excerpt(&excerpt)),
            }
        }
        Err(e) => AttemptResult {
            delivered: false,
            status_code: None,
            duration: started.elapsed(),
            error: Some(lossy_str(&describe(&e, timeout)).into_owned()),
            response_excerpt: None,
        },
    }
}

/// The excerpt as the record keeps it: storable text of at most [`RESPONSE_EXCERPT_BYTES`]
/// bytes, cut at a character boundary after the lossy conversion (which can triple the size).
fn stored_excerpt(bytes: &[u8]) -> String {
    let mut text = lossy(bytes);
    let mut end = text.len().min(RESPONSE_EXCERPT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}
