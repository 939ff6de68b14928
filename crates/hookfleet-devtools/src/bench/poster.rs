//! The bench's client: posts events (or calls) over HTTP with bounded concurrency, optionally
//! paced, noting when each started so the receiver can measure its latency.
use super::{BENCH_INSTALLATION, Dialect, Rx, lifecycle};
use hookfleet_core::{EventId, KeySpace};
use serde_json::json;
use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

/// Posts events over HTTP as the benchmark client.
#[derive(Clone)]
pub(super) struct Poster {
    pub(super) http: reqwest::Client,
    pub(super) api: String,
    /// The admin token (native) or the installation's key (partner).
    pub(super) token: String,
    pub(super) dialect: Dialect,
    /// The lifecycle dialects' channel and open events.
    pub(super) channel: Option<Arc<lifecycle::Channel>>,
    pub(super) run_id: String,
    pub(super) concurrency: usize,
    /// Events per request (native only: `POST /v1/events/batch` above 1).
    pub(super) batch: usize,
    /// Events/s; 0 posts as fast as `concurrency` allows.
    pub(super) rate: u64,
    pub(super) rx: Arc<Rx>,
    /// The native events' type (`bench.tick`, or the backlog's own).
    pub(super) event_type: &'static str,
    /// Note when each event started, for its latency (not for the backlog, whose million
    /// entries would only weigh on this process).
    pub(super) track: bool,
    /// Spread among this many subscriptions: event `i` is of type `bench.tick.<i mod n>`.
    pub(super) spread: Option<usize>,
}

impl Poster {
    /// Posts events `range` with `concurrency` requests in flight; returns how long it took.
    /// One event's request, in the bench's dialect; `key` fixes its id.
    fn request(&self, i: usize, key: &str) -> reqwest::RequestBuilder {
        match self.dialect {
            Dialect::Native => self
                .http
                .post(format!("{}/v1/events", self.api))
                .bearer_auth(&self.token)
                .json(&json!({"type": self.type_of(i), "idempotency_key": key, "data": {"i": i, "pad": "x".repeat(200)}})),
            Dialect::Partner => self
                .http
                .post(format!(
                    "{}/v1/installations/{BENCH_INSTALLATION}/events",
                    self.api
                ))
                .bearer_auth(&self.token)
                .header("idempotency-key", key)
                .json(&json!({"event": {"type": "resource.updated", "resourceId": format!("resource-{i}"), "productId": "x".repeat(200)}})),
            Dialect::Keycloak => super::keycloak::request(&self.http, &self.api, key),
            Dialect::LifecycleCreate | Dialect::LifecycleUpdate => {
                let channel = self.channel.as_ref().expect("set up for the lifecycle dialects");
                channel.request(&self.http, &self.api, self.dialect, i, key)
            }
        }
    }

    /// Event `i`'s type (native dialect).
    fn type_of(&self, i: usize) -> std::borrow::Cow<'static, str> {
        match self.spread {
            Some(n) => format!("{}.{}", self.event_type, i % n.max(1)).into(),
            None => self.event_type.into(),
        }
    }

    /// The key space the intake derives the event's id in, with the key.
    fn key_space(&self) -> KeySpace {
        match (&self.channel, self.dialect) {
            (Some(c), _) => KeySpace::Channel(c.id.clone()),
            (None, Dialect::Keycloak) => KeySpace::Keycloak {
                realm: Some(super::keycloak::REALM.to_owned()),
            },
            (None, Dialect::Partner) => KeySpace::Installation(BENCH_INSTALLATION.to_owned()),
            (None, _) => KeySpace::Native,
        }
    }

    pub(super) async fn post(&self, range: std::ops::Range<usize>) -> anyhow::Result<Duration> {
        let first = range.start;
        let next = Arc::new(AtomicUsize::new(range.start));
        let started = Instant::now();
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..self.concurrency {
            let (me, next, end) = (self.clone(), next.clone(), range.end);
            workers.spawn(async move {
                loop {
                    let i = next.fetch_add(me.batch, Ordering::Relaxed);
                    if i >= end {
                        return anyhow::Ok(());
                    }
                    if me.batch > 1 {
                        me.post_batch(i..end.min(i + me.batch)).await?;
                        continue;
                    }
                    if me.rate > 0 {
                        // Open loop: event i is due at i/rate seconds, whatever earlier ones did.
                        let due =
                            started + Duration::from_secs_f64((i - first) as f64 / me.rate as f64);
                        tokio::time::sleep_until(due.into()).await;
                    }
                    let key = me.started(i);
                    me.request(i, &key).send().await?.error_for_status()?;
                }
            });
        }
        while let Some(r) = workers.join_next().await {
            r??;
        }
        Ok(started.elapsed())
    }

    /// Notes that event `i` starts now (its latency runs from here); returns its key.
    fn started(&self, i: usize) -> String {
        let key = format!("bench-{}-{}-{i}", self.run_id, self.event_type);
        if !self.track {
            return key;
        }
        let id = EventId::for_key(&self.key_space(), &key);
        self.rx
            .tally
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .started
            .insert(id.to_string(), Instant::now());
        key
    }

    /// Events `range` in one `POST /v1/events/batch`; every item must be accepted.
    async fn post_batch(&self, range: std::ops::Range<usize>) -> anyhow::Result<()> {
        let mut events = Vec::with_capacity(range.len());
        for i in range {
            let key = self.started(i);
            events.push(json!({"type": self.type_of(i), "idempotency_key": key, "data": {"i": i, "pad": "x".repeat(200)}}));
        }
        let answer: serde_json::Value = self
            .http
            .post(format!("{}/v1/events/batch", self.api))
            .bearer_auth(&self.token)
            .json(&json!({ "events": events }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        anyhow::ensure!(
            answer["refused"] == 0,
            "the batch refused events: {answer:.300}"
        );
        Ok(())
    }
}
