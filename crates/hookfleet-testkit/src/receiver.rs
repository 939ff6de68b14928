//! A loopback webhook receiver for tests: answers as told (status, delay, hang, or a script of
//! answers) and records every request it gets.
use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Status(u16),
    /// Wait, then answer with the status.
    Slow(Duration, u16),
    /// Never answer (until the client gives up).
    Hang,
    /// Answer with this status and exactly these body bytes (anything a hostile receiver might).
    Body(u16, &'static [u8]),
}

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
    /// The status the receiver answered (or would have, for a hang).
    pub status: u16,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct Inner {
    default: Option<Reply>,
    script: VecDeque<Reply>,
    received: Vec<Received>,
    /// Fail this many requests per thousand with 500, chosen by a seeded generator.
    random_failures: Option<(u32, u64)>,
    /// Requests being answered now, and the most there ever were at once.
    open: usize,
    most_open: usize,
}

/// Counts one request as open until its answer is sent or its client gives up (the handler is
/// dropped with the connection).
struct Open(Arc<Mutex<Inner>>);

impl Open {
    fn new(inner: &Arc<Mutex<Inner>>) -> Self {
        let mut i = inner.lock().unwrap_or_else(|p| p.into_inner());
        i.open += 1;
        i.most_open = i.most_open.max(i.open);
        Self(inner.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).open -= 1;
    }
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static [u8]) {
    let _open = Open::new(&inner);
    let reply = {
        let mut i = inner.lock().unwrap_or_else(|p| p.into_inner());
        let default = i.default.unwrap_or(Reply::Status(200));
        let mut reply = i.script.pop_front().unwrap_or(default);
        if let Some((per_mille, state)) = i.random_failures.as_mut() {
            // xorshift64: reproducible "random" failures.
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            if (*state % 1000) < u64::from(*per_mille) {
                reply = Reply::Status(500);
            }
        }
        let status = match reply {
            Reply::Status(c) | Reply::Slow(_, c) | Reply::Body(c, _) => c,
            Reply::Hang => 0,
        };
        i.received.push(Received {
            headers,
            body,
            at: Instant::now(),
            status,
        });
        reply
    };
    let code = match reply {
        Reply::Body(c, body) => {
            let status = StatusCode::from_u16(c).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, body);
        }
        Reply::Status(c) => c,
        Reply::Slow(d, c) => {
            tokio::time::sleep(d).await;
            c
        }
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            200
        }
    };
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // A short body, so the delivery log's response excerpt has something to show.
    (
        status,
        if status.is_success() {
            b"ok"
        } else {
            b"failed"
        },
    )
}

impl Receiver {
    /// Starts a receiver on `127.0.0.1:0` answering 200 until told otherwise.
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a receiver");
        let url = format!("http://{}/hook", listener.local_addr().expect("local addr"));
        let app = Router::new()
            .route("/hook", post(handle))
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, inner }
    }

    /// The answer to every request from now on (after any script is used up).
    pub fn reply(&self, reply: Reply) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).default = Some(reply);
    }

    /// Answers to the next requests, in order; then the default applies again.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .script
            .extend(replies);
    }

    /// Answers 500 to about `per_mille`/1000 of requests, chosen reproducibly from `seed`.
    pub fn fail_randomly(&self, per_mille: u32, seed: u64) {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .random_failures = Some((per_mille, seed.max(1)));
    }

    /// Requests answered 2xx.
    pub fn succeeded(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .received
            .clone()
    }

    /// The most requests this receiver was answering at once.
    pub fn most_at_once(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .most_open
    }

    pub fn count(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .received
            .len()
    }

    /// Waits until at least `n` requests arrived and returns them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the receiver got {} requests in {timeout:?}, expected {n}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
