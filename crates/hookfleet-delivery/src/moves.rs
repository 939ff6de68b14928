//! A hot subscription going back to its shard once idle, and the removal of the queue it
//! leaves: the move is recorded and announced (routers send its copies to its shard again);
//! once no router can still be feeding the queue, the workers stop consuming it (`closing`);
//! once none does, it is removed if empty and unused (the broker checks both at once), or
//! consumed again if a late copy landed in it. Run at each periodic pass of every worker; the
//! record's conditions make each step happen once.
use crate::{batcher::notify_workers, reconcile::Consumers, shared::Shared};
use std::sync::Arc;

pub(crate) async fn sweep_tiers(shared: &Arc<Shared>, consumers: &Consumers) {
    let idle = shared.settings.hot_idle;
    let topology = &shared.topology;
    let mut changed = false;
    for id in consumers.idle_hot(idle) {
        let queue = topology.subscription_queue(id.as_str());
        if !matches!(shared.session.queue_depth(&queue).await, Ok(0)) {
            continue;
        }
        let reason = format!("idle for {} s: back on its shard", idle.as_secs());
        match shared.store.make_shared_again(&id, &reason, idle).await {
            Ok(true) => {
                tracing::info!(subscription = %id, %reason, "A hot subscription went back to its shard");
                metrics::counter!("hookfleet_tier_moves_total", "to" => "shared").increment(1);
                changed = true;
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(subscription = %id, error = %e, "Failed to move a hot subscription back to its shard")
            }
        }
    }
    match shared.store.close_leftover_queues(idle).await {
        Ok(ids) => changed |= !ids.is_empty(),
        Err(e) => {
            tracing::warn!(error = %e, "Failed to close the queues of subscriptions back on their shard")
        }
    }
    let closing = match shared.store.closing_queues(idle).await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "Failed to list closing queues");
            Vec::new()
        }
    };
    for id in closing {
        let removed = shared
            .session
            .delete_own_queue_if_idle(topology, id.as_str())
            .await
            .unwrap_or(false);
        if let Err(e) = shared.store.closed_own_queue(&id, removed).await {
            tracing::warn!(subscription = %id, error = %e, "Failed to record a closed queue");
            continue;
        }
        if removed {
            shared
                .hot_queues
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            tracing::info!(subscription = %id, "Removed the emptied queue of a subscription back on its shard");
        } else {
            changed = true;
        }
    }
    if changed {
        notify_workers(&shared.publisher).await;
    }
}
