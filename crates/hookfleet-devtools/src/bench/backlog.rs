//! `--backlog N`: one slow subscription with N waiting copies beside the measured ones. Its
//! endpoint answers after [`SLOW_ANSWER`], one request at a time, so its copies wait for
//! hours; the measured subscriptions' latency shows whether they wait behind them.
use super::{Rx, poster::Poster};
use anyhow::Context;
use axum::extract::State;
use serde_json::{Value, json};
use std::{
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

/// How long the slow endpoint takes to answer.
const SLOW_ANSWER: Duration = Duration::from_secs(1);

/// Events per `POST /v1/events/batch` while filling the backlog.
const BATCH: usize = 500;

pub(super) async fn receive_slowly(State(rx): State<Arc<Rx>>) -> &'static str {
    tokio::time::sleep(SLOW_ANSWER).await;
    rx.slow.fetch_add(1, Ordering::Relaxed);
    "ok"
}

/// The slow subscription, once its backlog is in place.
pub(super) struct Slow {
    id: String,
}

/// Subscribes the slow endpoint, posts `n` events of its type only, and waits until every one
/// is routed (waiting for it, or already answered).
pub(super) async fn fill(
    http: &reqwest::Client,
    api: &str,
    token: &str,
    receiver_url: &str,
    poster: &Poster,
    n: usize,
    timeout_secs: u64,
) -> anyhow::Result<Slow> {
    anyhow::ensure!(
        poster.dialect == super::Dialect::Native,
        "--backlog takes the native dialect only"
    );
    let sub: Value = http
        .post(format!("{api}/v1/subscriptions"))
        .bearer_auth(token)
        .json(&json!({
            "url": receiver_url.replace("/hook", "/slow"),
            "event_types": ["bench.backlog"],
            "max_in_flight": 1,
        }))
        .send()
        .await?
        .error_for_status()
        .context("subscribe the slow endpoint")?
        .json()
        .await?;
    let slow = Slow {
        id: sub["id"]
            .as_str()
            .context("the subscription's id")?
            .to_owned(),
    };
    let filler = Poster {
        event_type: "bench.backlog",
        track: false,
        batch: BATCH,
        concurrency: 4,
        rate: 0,
        spread: None,
        ..poster.clone()
    };
    let started = Instant::now();
    filler.post(0..n).await?;
    let posted = started.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(timeout_secs.max(600));
    loop {
        let (backlog, tier) = slow.state(http, api, token).await?;
        let answered = poster.rx.slow.load(Ordering::Relaxed);
        if backlog + answered >= n {
            println!(
                "backlog: {n} events for the slow subscription posted in {posted:.0} s ({:.0} events/s), all routed after {:.0} s: {backlog} waiting, tier {tier}",
                n as f64 / posted,
                started.elapsed().as_secs_f64()
            );
            return Ok(slow);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {backlog} of {n} copies wait for the slow subscription"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

impl Slow {
    /// Its backlog as `GET /v1/subscriptions/{id}` shows it, and its tier.
    async fn state(
        &self,
        http: &reqwest::Client,
        api: &str,
        token: &str,
    ) -> anyhow::Result<(usize, String)> {
        let sub: Value = http
            .get(format!("{api}/v1/subscriptions/{}", self.id))
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let backlog = sub["backlog"].as_u64().unwrap_or(0);
        let tier = sub["tier"].as_str().unwrap_or("?").to_owned();
        Ok((usize::try_from(backlog)?, tier))
    }

    /// What still waits for it after the measured run, and what it answered.
    pub(super) async fn report(
        &self,
        http: &reqwest::Client,
        api: &str,
        token: &str,
        rx: &Rx,
    ) -> anyhow::Result<()> {
        let (backlog, tier) = self.state(http, api, token).await?;
        println!(
            "backlog after the run: {backlog} copies still wait for the slow subscription (tier {tier}); it answered {}",
            rx.slow.load(Ordering::Relaxed)
        );
        Ok(())
    }
}
