//! The chaos run's receivers, in the chaos process so they outlive every fault: each answers
//! by its behaviour and logs every request it got by `webhook-id` (the delivery id) with the
//! status it answered, which the checker compares with the record.
use axum::{Router, extract::State, http::HeaderMap, http::StatusCode, routing::post};
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Behaviour {
    /// 200 always.
    Ok,
    /// 500 while `failing` is set (the fault schedule flaps it), else 200.
    Flaky,
    /// 410 Gone while `failing` is set (the subscription is disabled), else 200.
    Gone,
    /// Never answers (until the run ends).
    Hang,
}

/// One receiver: its URL and what it saw.
pub(super) struct Receiver {
    pub url: String,
    pub behaviour: Behaviour,
    pub failing: AtomicBool,
    /// webhook-id → the statuses answered, one per request (0: none, the request hung).
    seen: Mutex<HashMap<String, Vec<u16>>>,
    stop: CancellationToken,
}

impl Receiver {
    pub(super) async fn start(
        behaviour: Behaviour,
        stop: CancellationToken,
    ) -> anyhow::Result<Arc<Self>> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let rx = Arc::new(Self {
            url,
            behaviour,
            failing: AtomicBool::new(matches!(behaviour, Behaviour::Gone)),
            seen: Mutex::default(),
            stop: stop.clone(),
        });
        let app = Router::new()
            .route("/hook", post(answer))
            .with_state(rx.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        });
        Ok(rx)
    }

    /// Requests seen per delivery id, and how many of them were answered 2xx.
    pub(super) fn seen(&self) -> HashMap<String, (usize, usize)> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.iter()
            .map(|(id, statuses)| {
                let ok = statuses.iter().filter(|s| (200..300).contains(*s)).count();
                (id.clone(), (statuses.len(), ok))
            })
            .collect()
    }

    /// Requests seen in all.
    pub(super) fn total(&self) -> usize {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.values().map(Vec::len).sum()
    }

    fn note(&self, id: &str, status: u16) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.entry(id.to_owned()).or_default().push(status);
    }
}

async fn answer(State(rx): State<Arc<Receiver>>, headers: HeaderMap) -> StatusCode {
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let failing = rx.failing.load(Ordering::Relaxed);
    let status = match rx.behaviour {
        Behaviour::Ok => StatusCode::OK,
        Behaviour::Flaky if failing => StatusCode::INTERNAL_SERVER_ERROR,
        Behaviour::Gone if failing => StatusCode::GONE,
        Behaviour::Flaky | Behaviour::Gone => StatusCode::OK,
        Behaviour::Hang => {
            rx.note(&id, 0);
            rx.stop.cancelled().await;
            return StatusCode::SERVICE_UNAVAILABLE;
        }
    };
    rx.note(&id, status.as_u16());
    status
}
