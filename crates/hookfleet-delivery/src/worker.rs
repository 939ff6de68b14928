//! The worker: one consumer per active subscription ([`crate::reconcile`]), each message
//! handled on its own ([`crate::handle`]), all feeding one outcome batcher
//! ([`crate::batcher`]); and the periodic health sweep.
use crate::{
    batcher::{Batcher, notify_workers},
    config::Settings,
    reconcile::{Consumers, reconcile},
    shared::{Shared, http_client},
};
use anyhow::Context;
use hookfleet_bus::{Session, Topology};
use hookfleet_store::Store;
use std::sync::Arc;
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_util::sync::CancellationToken;

/// Runs the worker until `shutdown`: stops consuming, finishes in-flight deliveries, flushes
/// their outcomes, settles their messages, then returns.
pub async fn run(
    session: Session,
    store: Store,
    topology: Topology,
    settings: Settings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    session.set_consumers_per_connection(settings.consumers_per_connection);
    register_alerted_counters();
    let publisher = Arc::new(
        session
            .publisher(&topology, 1)
            .await
            .context("Failed to open the worker's publisher")?,
    );
    let (tx, rx) = mpsc::channel(settings.batch_size * 2);
    let batcher = Batcher {
        store: store.clone(),
        publisher: publisher.clone(),
        topology: topology.clone(),
        batch_size: settings.batch_size,
        linger: settings.batch_linger,
        shutdown: shutdown.clone(),
    };
    let batcher = tokio::spawn(batcher.run(rx));
    // Every worker hears every notice (a private queue on the control fanout).
    let mut notices = session
        .notices(&topology)
        .await
        .context("Failed to listen for control notices")?;
    let in_flight_total = settings.max_in_flight_total;
    let shared = Arc::new(Shared {
        client: http_client(&settings)?,
        session,
        store,
        topology,
        settings,
        outcomes: tx,
        publisher,
        in_flight: Arc::new(tokio::sync::Semaphore::new(in_flight_total.max(1))),
        directory: Default::default(),
        hot_queues: Default::default(),
        turning_hot: Default::default(),
        gone: Default::default(),
    });
    let mut running = Consumers::default();
    let mut tick = tokio::time::interval(shared.settings.reconcile_interval);
    tracing::info!("Delivery worker started");
    // A lost control consumer means a lost connection (or channel): drain what is in hand the
    // same way as on shutdown, then report it so the role reconnects.
    let result = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            _ = tick.tick() => {
                sweep_health(&shared).await;
                reconcile(&shared, &mut running, true).await;
                crate::moves::sweep_tiers(&shared, &running).await;
            }
            notice = notices.next() => match notice {
                Some(Ok(())) => {
                    notices.skip_ready();
                    reconcile(&shared, &mut running, false).await
                }
                Some(Err(e)) => break Err(anyhow::Error::new(e).context("The control consumer failed")),
                None => break Err(anyhow::anyhow!("The broker cancelled the control consumer")),
            },
        }
    };
    tracing::info!(subscriptions = running.len(), "Delivery worker draining");
    drain(running, shared, batcher).await;
    notices.close().await;
    tracing::info!("Delivery worker stopped");
    result
}

/// Stops every consumer, waits for each to settle what it took, then for the batcher to
/// commit and settle the last outcomes (it ends once every consumer's sender is gone).
async fn drain(mut running: Consumers, shared: Arc<Shared>, batcher: JoinHandle<()>) {
    running.stop_all().await;
    drop(shared);
    let _ = batcher.await;
}

/// Disables subscriptions failing for too long and reports the age of the oldest waiting retry.
async fn sweep_health(shared: &Shared) {
    match shared
        .store
        .disable_failing(shared.settings.disable_after)
        .await
    {
        Ok(ids) if !ids.is_empty() => {
            tracing::warn!(subscriptions = ?ids, "Disabled subscriptions whose deliveries have all been exhausted");
            metrics::counter!("hookfleet_subscriptions_disabled_total").increment(ids.len() as u64);
            notify_workers(&shared.publisher).await;
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "Failed to check subscription health"),
    }
    if let Ok(oldest) = shared.store.oldest_waiting_retry().await {
        let age = oldest.map_or(0.0, |t| {
            (hookfleet_core::now_utc() - t).as_seconds_f64().max(0.0)
        });
        metrics::gauge!("hookfleet_oldest_waiting_retry_seconds").set(age);
    }
}

/// Shows the counters an alert takes `increase()` of at 0 from a worker's start. A counter
/// that first appears at 3 has no earlier sample, so Prometheus would see no increase: the
/// first deliveries a worker exhausts would never fire HookfleetDeliveriesExhausted
/// (deploy/prometheus/alerts.yml). Registering again on a new session changes nothing.
fn register_alerted_counters() {
    metrics::counter!("hookfleet_deliveries_exhausted_total").increment(0);
    metrics::counter!("hookfleet_messages_parked_total").increment(0);
}
