//! Parking what the router cannot process, the one way both of its loops do it: the ingest
//! loop's poison and the enricher's hook events that never will publish. Each is parked in
//! `hookfleet.dead` (confirmed), noted in the record with its reason, then logged, counted and
//! acked.
use futures_util::future::try_join_all;
use hookfleet_bus::{Acker, Message, Publisher, Topology};
use hookfleet_store::{PoisonRow, Store};

/// What a batch (or a hook event) is worked with.
pub(crate) struct Ctx<'a> {
    pub store: &'a Store,
    pub publisher: &'a Publisher,
    pub topology: &'a Topology,
    pub acker: &'a Acker,
}

/// Parks each poison message taken from `queue` in the dead queue (confirmed), notes it in the
/// record with its reason, then logs, counts and acks it; `label` is the queue's bounded name
/// on `hookfleet_poison_messages_total`. The one way the router parks: the ingest loop's
/// batches and the enricher's hook events both come here.
pub(crate) async fn park(
    ctx: &Ctx<'_>,
    queue: &str,
    label: &'static str,
    poison: &[(&Message, &str)],
) -> anyhow::Result<()> {
    let Ctx {
        store,
        publisher,
        acker,
        ..
    } = *ctx;
    if poison.is_empty() {
        return Ok(());
    }
    let mut confirms = Vec::with_capacity(poison.len());
    for (message, reason) in poison {
        let confirm = publisher.park_poison(queue, reason, &message.body).await?;
        confirms.push(confirm.wait());
    }
    try_join_all(confirms).await?;
    let rows: Vec<PoisonRow> = poison
        .iter()
        .map(|(message, reason)| PoisonRow::new(queue, reason, &message.body))
        .collect();
    store.record_outcomes(&[], &rows).await?;
    for (message, reason) in poison {
        tracing::warn!(queue = label, reason = %reason, "Parked a poison message in the dead queue");
        metrics::counter!("hookfleet_poison_messages_total", "queue" => label).increment(1);
        let _ = acker.ack(message.tag).await;
    }
    Ok(())
}
