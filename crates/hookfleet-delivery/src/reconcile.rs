//! Which subscription queues this worker consumes: brought in line with the active
//! subscriptions in PostgreSQL at every control notice and periodically. A consumer whose
//! subscription changed in a way it can take in place gets the new configuration; one that
//! cannot (its limits or mode changed) is restarted; one whose subscription went is stopped.
use crate::{
    config::SubConfig,
    consumer::{LiveConfig, consume, prefetch_share, prefetch_stale},
    worker::Shared,
};
use hookfleet_core::SubscriptionId;
use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub(crate) struct Running {
    config: LiveConfig,
    /// The prefetch it was started with (its share of the budget then).
    prefetch: u16,
    pub stop: CancellationToken,
    pub task: JoinHandle<()>,
}

/// The consumers of one worker, by subscription id.
pub(crate) type Consumers = HashMap<SubscriptionId, Running>;

pub(crate) async fn reconcile(shared: &Arc<Shared>, running: &mut Consumers) {
    let subs = match shared.store.active_subscriptions().await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "Failed to load subscriptions; keeping the current set");
            return;
        }
    };
    let mut wanted = HashMap::with_capacity(subs.len());
    for row in &subs {
        if let Some(c) = SubConfig::from_row(row, &shared.settings) {
            wanted.insert(row.id.clone(), c);
        }
    }
    let share = prefetch_share(&shared.settings, wanted.len());
    running.retain(|id, r| {
        let current = r.config.read().unwrap_or_else(|p| p.into_inner()).clone();
        let keep = !r.task.is_finished()
            && !prefetch_stale(r.prefetch, share)
            && wanted.get(id).is_some_and(|w| !w.needs_restart(&current));
        if !keep {
            r.stop.cancel();
        }
        keep
    });
    for (id, config) in wanted {
        if let Some(r) = running.get(&id) {
            let mut slot = r.config.write().unwrap_or_else(|p| p.into_inner());
            if **slot != config {
                *slot = Arc::new(config);
            }
            continue;
        }
        let config = Arc::new(RwLock::new(Arc::new(config)));
        let stop = CancellationToken::new();
        let task = tokio::spawn(consume(shared.clone(), config.clone(), share, stop.clone()));
        running.insert(
            id,
            Running {
                config,
                prefetch: share,
                stop,
                task,
            },
        );
    }
    metrics::gauge!("hookfleet_subscriptions_consumed").set(running.len() as f64);
}
