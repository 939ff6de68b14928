//! Recovery's claim: a subscription's failed or exhausted deliveries in a window, moved to
//! `pending` in the same transaction that waits for their replays' confirms, a bounded step at
//! a time when the caller asks for one.
use crate::{Cursor, ReplayRow, Result, Store, log::REPLAY_SELECT, row::Columns};
use hookfleet_core::{DeliveryId, SubscriptionId};
use time::OffsetDateTime;

/// Which deliveries a recovery takes: a subscription's failed or exhausted ones created in
/// a window.
#[derive(Debug)]
pub struct RecoverWindow<'a> {
    pub subscription_id: &'a SubscriptionId,
    pub since: OffsetDateTime,
    pub until: Option<OffsetDateTime>,
    /// At most this many, the oldest first; `None` takes them all.
    pub limit: Option<i64>,
    /// Only those after this position (the previous step's `next_cursor`).
    pub after: Option<Cursor>,
}

const RECOVERABLE: &str = "subscription_id = $1 AND status IN ('failed', 'exhausted')
    AND created_at >= $2 AND ($3::timestamptz IS NULL OR created_at < $3)
    AND ($4::timestamptz IS NULL OR (created_at, id) > ($4, $5::text))";

impl Store {
    /// Claims every failed or exhausted delivery of a subscription created in
    /// [`since`, `until`) for re-sending, moving it to `pending` so that a concurrent or
    /// repeated recovery cannot claim it twice, and runs `enqueue` on the claimed rows before
    /// committing: if enqueueing fails, the claim rolls back and every row keeps its status
    /// (its parked or waiting copy is still where it was), so a failed recovery strands nothing.
    ///
    /// With `limit`, only the oldest `limit` such deliveries after `after` are claimed, and the
    /// answer says where the next step starts and how many are left beyond it, so a caller
    /// recovers a large window in bounded steps that never take a row twice (a row sent again
    /// and failed again meanwhile lies behind the step's cursor).
    pub async fn claim_recoverable<F, Fut, E>(
        &self,
        window: &RecoverWindow<'_>,
        enqueue: F,
    ) -> Result<std::result::Result<Claimed, E>>
    where
        F: FnOnce(Vec<ReplayRow>) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<Vec<ReplayRow>, E>>,
    {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let (after_at, after_id) = (
            window.after.as_ref().map(|c| c.created_at),
            window.after.as_ref().map(|c| c.id.as_str()),
        );
        let subscription_id = window.subscription_id.as_str();
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] = [
            &subscription_id,
            &window.since,
            &window.until,
            &after_at,
            &after_id,
        ];
        let picked = tx
            .query(
                &format!(
                    "SELECT id, created_at FROM deliveries WHERE {RECOVERABLE}
                     ORDER BY created_at, id LIMIT $6 FOR UPDATE"
                ),
                &[&params[..], &[&window.limit]].concat(),
            )
            .await?;
        let ids = picked
            .iter()
            .map(|r| r.id("id"))
            .collect::<Result<Vec<DeliveryId>>>()?;
        let next = match window.limit.and(picked.last()) {
            Some(r) => Some(Cursor {
                created_at: r.col("created_at")?,
                id: r.id("id")?,
            }),
            None => None,
        };
        let ids: Vec<&str> = ids.iter().map(DeliveryId::as_str).collect();
        let rows = tx
            .query(
                &format!(
                    "WITH claimed AS (
                         UPDATE deliveries SET status = 'pending', next_attempt_at = NULL, updated_at = now()
                         WHERE id = ANY($1)
                         RETURNING *)
                     {REPLAY_SELECT} FROM claimed d JOIN events e ON e.id = d.event_id"
                ),
                &[&ids],
            )
            .await?;
        let remaining: i64 = match &next {
            None => 0,
            Some(c) => tx
                .query_one(
                    &format!("SELECT count(*) FROM deliveries WHERE {RECOVERABLE}"),
                    &[&params[..3], &[&c.created_at, &c.id.as_str()]].concat(),
                )
                .await?
                .col("count")?,
        };
        let rows = rows
            .iter()
            .map(ReplayRow::from_row)
            .collect::<Result<Vec<_>>>()?;
        match enqueue(rows).await {
            Ok(rows) => {
                tx.commit().await?;
                let next_cursor = next.filter(|_| remaining > 0).map(|c| c.encode());
                Ok(Ok(Claimed {
                    rows,
                    remaining,
                    next_cursor,
                }))
            }
            Err(e) => {
                tx.rollback().await?;
                Ok(Err(e))
            }
        }
    }
}

/// What one recovery step claimed.
#[derive(Debug)]
pub struct Claimed {
    pub rows: Vec<ReplayRow>,
    /// Recoverable deliveries in the window beyond this step (0 without a limit).
    pub remaining: i64,
    /// Where the next step starts; `None` once nothing remains.
    pub next_cursor: Option<String>,
}
