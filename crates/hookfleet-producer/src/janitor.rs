//! Removing deleted subscriptions' queues, a grace period after the delete. A worker may be
//! starting to consume a queue at the moment it is deleted (the subscription was created a
//! moment before, or a reconcile read it just before the delete); RabbitMQ answers a consume
//! racing the deletion of a quorum queue by closing that worker's whole connection
//! (`INTERNAL_ERROR`), which restarts every subscription it serves. After the grace no worker
//! consumes the queue (each stops at the control notice, or at its next reconcile), so the
//! delete races nothing. Every producer runs this; deleting a queue twice is harmless.
//!
//! Each pass also folds the shared tier's waiting deltas into their counts
//! (`Store::fold_waiting`).
//!
//! Once per start it also seals every signing secret with the first key of
//! `HOOKFLEET_SECRET_KEYS`, so secrets stored in plain text by an older version, or sealed with
//! a key being retired, are rewritten without an operator's step.
use crate::AppState;
use std::{sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;

/// How often the producer looks for queues to remove.
const INTERVAL: Duration = Duration::from_secs(5);

pub(crate) async fn run(state: Arc<AppState>, shutdown: CancellationToken) {
    let grace = state.settings.deleted_queue_grace;
    let every = INTERVAL.min(grace.max(Duration::from_millis(100)));
    let mut resealed = false;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if !resealed {
            resealed = reseal(&state).await;
        }
        crate::native::pull::drop_expired(&state).await;
        if let Err(e) = state.store.fold_waiting().await {
            tracing::debug!(error = %e, "Failed to fold the shared tier's waiting counts; trying later");
        }
        let Ok(bus) = state.bus() else { continue };
        let due = match state.store.queues_due_for_deletion(grace).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::debug!(error = %e, "Failed to list deleted subscriptions' queues; trying later");
                continue;
            }
        };
        for id in due {
            let removed = bus
                .admin
                .delete_subscription(&state.topology, id.as_str())
                .await;
            match removed {
                Ok(()) => {
                    if let Err(e) = state.store.mark_queue_deleted(&id).await {
                        tracing::debug!(error = %e, "Failed to note a removed queue; removing it again later");
                    }
                }
                Err(e) => {
                    tracing::warn!(subscription = %id, error = %crate::error::error_chain(&e), "Failed to remove a deleted subscription's queue; trying later");
                    break;
                }
            }
        }
    }
}

/// Reseals the subscriptions' secrets; true once a whole pass succeeded.
async fn reseal(state: &AppState) -> bool {
    match state.store.reseal_secrets(200).await {
        Ok(done) => {
            if done.resealed > 0 {
                tracing::info!(
                    rows = done.resealed,
                    key = state.store.sealer().current_id(),
                    "Sealed subscriptions' signing secrets with the current key"
                );
            }
            if done.unopenable > 0 {
                tracing::warn!(
                    rows = done.unopenable,
                    "Some subscriptions' signing secrets open with no key of HOOKFLEET_SECRET_KEYS; they cannot be signed until their key is added back"
                );
            }
            true
        }
        Err(e) => {
            tracing::debug!(error = %e, "Failed to reseal signing secrets; trying later");
            false
        }
    }
}
