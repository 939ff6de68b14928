//! Keeping a role on the broker. A broker restart, a failover or a connection closed by the
//! broker (for instance `INTERNAL_ERROR` from a quorum queue still electing its leader) must not
//! end a role: it reconnects with a capped, growing pause and starts over. Starting over is safe
//! because every role acks only what it has finished; whatever was unacked on the lost
//! connection returns to its queue.
use crate::{Session, connect};
use anyhow::Context;
use lapin::ConnectionStatus;
use std::{
    future::Future,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use tokio_util::sync::CancellationToken;

/// The broker connection a role holds right now, if any; `/readyz` reads it.
#[derive(Debug, Clone, Default)]
pub struct Link(Arc<LinkState>);

#[derive(Debug, Default)]
struct LinkState {
    status: RwLock<Option<ConnectionStatus>>,
    /// Connections the role has held so far: more than one means it lost the broker.
    sessions: AtomicU64,
}

impl Link {
    /// Reports the session the role holds now (`None` while it has none).
    pub fn set_session(&self, session: Option<&Session>) {
        self.set(session.map(Session::status));
    }

    fn set(&self, status: Option<ConnectionStatus>) {
        if status.is_some() {
            self.0.sessions.fetch_add(1, Ordering::Relaxed);
        }
        *self.0.status.write().unwrap_or_else(|p| p.into_inner()) = status;
    }

    /// Whether the role holds a connection and the broker still has it open.
    pub fn is_up(&self) -> bool {
        self.0
            .status
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(ConnectionStatus::connected)
    }

    /// How many connections the role has held (1 for a role that never lost the broker).
    pub fn sessions(&self) -> u64 {
        self.0.sessions.load(Ordering::Relaxed)
    }
}

/// Where and as whom a role connects, and the [`Link`] it reports through.
#[derive(Clone)]
pub struct Broker {
    /// `HOOKFLEET_AMQP_URL`; may hold a password, so it is never printed.
    pub url: String,
    /// The connection name the broker shows (`hookfleet-<name>`).
    pub name: String,
    pub link: Link,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Broker {
    pub fn new(url: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            name: name.into(),
            link: Link::default(),
        }
    }
}

/// Pauses between reconnects: doubling from `initial` up to `max`, back to `initial` after a
/// connection that lasted, so one blip costs a short pause and an outage is not hammered.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Duration::from_millis(200), Duration::from_secs(10))
    }
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            next: initial,
        }
    }

    /// The pause to take now; the one after it is twice as long, up to `max`.
    pub fn next_pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(self.max);
        pause
    }

    pub fn reset(&mut self) {
        self.next = self.initial;
    }

    /// Sleeps for the next pause; false if `shutdown` came first.
    pub async fn wait(&mut self, shutdown: &CancellationToken) -> bool {
        let pause = self.next_pause();
        tokio::select! {
            _ = shutdown.cancelled() => false,
            _ = tokio::time::sleep(pause) => true,
        }
    }
}

/// A connection that stayed up this long counts as healthy: the next failure pauses briefly.
pub const STABLE: Duration = Duration::from_secs(30);

/// Connects with a pause between failed tries until it succeeds or `shutdown` is cancelled.
pub async fn connect_until(
    broker: &Broker,
    backoff: &mut Backoff,
    shutdown: &CancellationToken,
) -> Option<Session> {
    let name = broker.name.as_str();
    loop {
        match connect(&broker.url, name).await {
            Ok(c) => return Some(c),
            // The URL may hold a password: the message names the variable, not the value.
            Err(e) => tracing::warn!(
                role = name,
                error = format!("{:#}", anyhow::Error::new(e)),
                "Failed to connect to RabbitMQ (HOOKFLEET_AMQP_URL); trying again"
            ),
        }
        if !backoff.wait(shutdown).await {
            return None;
        }
    }
}

/// Counts one lost broker session of a role (`hookfleet_role_restarts_total`).
pub fn count_restart(role: &str) {
    metrics::counter!("hookfleet_role_restarts_total", "role" => role.to_owned()).increment(1);
}

/// Shows a role's `hookfleet_role_restarts_total` at 0 from its start. A series that first
/// appears at 1 has no earlier sample, so Prometheus' `increase()` (the dashboard's restarts
/// panel) would never see a role's first restart.
pub fn register_restarts(role: &str) {
    metrics::counter!("hookfleet_role_restarts_total", "role" => role.to_owned()).increment(0);
}

/// Runs `role` on a fresh connection (with a clone of `context`), again and again, until
/// `shutdown` is cancelled. `role` must return when `shutdown` is cancelled (its own drain
/// done) and may fail at any time; a failure is logged and the role starts over on a new
/// connection after a pause. Returns the role's result once `shutdown` is cancelled.
pub async fn supervise<C, F, Fut>(
    broker: &Broker,
    shutdown: CancellationToken,
    context: C,
    mut role: F,
) -> anyhow::Result<()>
where
    C: Clone,
    F: FnMut(Session, C) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let (name, link) = (broker.name.as_str(), &broker.link);
    let mut backoff = Backoff::default();
    register_restarts(name);
    loop {
        let Some(connection) = connect_until(broker, &mut backoff, &shutdown).await else {
            return Ok(());
        };
        let started = Instant::now();
        link.set_session(Some(&connection));
        let result = role(connection, context.clone()).await;
        link.set(None);
        if shutdown.is_cancelled() {
            return result.with_context(|| format!("The {name} failed while shutting down"));
        }
        if started.elapsed() >= STABLE {
            backoff.reset();
        }
        match result {
            Ok(()) => tracing::warn!(role = name, "Role stopped on its own; starting it again"),
            Err(e) => tracing::warn!(
                role = name,
                error = format!("{e:#}"),
                "Role lost the broker or failed; reconnecting"
            ),
        }
        count_restart(name);
        if !backoff.wait(&shutdown).await {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let pauses: Vec<_> = (0..4).map(|_| b.next_pause().as_millis()).collect();
        assert_eq!(pauses, [100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.next_pause(), Duration::from_millis(100));
    }
}
