//! Delivery outcomes: one row per delivery (its latest state) and one per attempt, written in
//! batches. A batch is one transaction; the caller acks its messages only after it commits.
use crate::{Result, Store, row::Columns};
use hookfleet_core::{DeliveryId, EventId, SubscriptionId};
use serde::Serialize;
use std::collections::HashMap;
use time::OffsetDateTime;

/// `failed`: a retry waits; `exhausted`: given up and parked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
    Exhausted,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Exhausted => "exhausted",
        }
    }

    /// The status named `s`; `None` for anything else (never a default).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "failed" => Some(Self::Failed),
            "exhausted" => Some(Self::Exhausted),
            _ => None,
        }
    }

    /// A status read back from the record.
    pub(crate) fn read(s: &str) -> crate::Result<Self> {
        Self::parse(s)
            .ok_or_else(|| crate::StoreError::Unexpected(format!("delivery status `{s}`")))
    }
}

/// One attempt and the delivery state it leaves behind.
#[derive(Debug, Clone, Serialize)]
pub struct OutcomeRow {
    pub delivery_id: DeliveryId,
    pub event_id: EventId,
    pub subscription_id: SubscriptionId,
    pub organization_id: Option<String>,
    pub service_partition: Option<String>,
    pub attempt: i32,
    pub status: DeliveryStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
    pub status_code: Option<i32>,
    pub duration_ms: i32,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    pub is_test: bool,
    /// Set when this outcome disables the subscription (the endpoint answered 410 Gone).
    pub disable_reason: Option<String>,
    /// Its subscription is on the shared tier (hot or not), whose waiting copies the record
    /// counts: a first attempt takes one off.
    #[serde(skip)]
    pub counted: bool,
}

/// A message a stage could not process (decode, store, route), as the record notes it.
#[derive(Debug, Clone, Serialize)]
pub struct PoisonRow {
    pub queue: String,
    pub reason: String,
    pub excerpt: String,
}

/// How much of a poison message the record keeps.
pub const POISON_EXCERPT_LEN: usize = 512;

impl PoisonRow {
    /// A row whose every field is storable whatever the message held.
    pub fn new(queue: &str, reason: &str, body: &[u8]) -> Self {
        use hookfleet_core::storable::{lossy, lossy_str};
        Self {
            queue: lossy_str(queue).into_owned(),
            reason: lossy_str(reason).chars().take(2_000).collect(),
            excerpt: lossy(&body[..body.len().min(POISON_EXCERPT_LEN)]),
        }
    }
}

/// What the record already says about a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub status: DeliveryStatus,
    pub attempts: i32,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Attempt))]
pub struct AttemptView {
    #[cfg_attr(feature = "openapi", schema(format = Int64))]
    pub attempt: i32,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub sent_at: OffsetDateTime,
    /// `null` when no answer came (timeout, connection or TLS error).
    #[cfg_attr(feature = "openapi", schema(format = Int64))]
    pub status_code: Option<i32>,
    #[cfg_attr(feature = "openapi", schema(format = Int64))]
    pub duration_ms: i32,
    pub error: Option<String>,
    /// The first 1 KiB of the answer's body (`GET /v1/deliveries/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_excerpt: Option<String>,
}

/// One delivery (an event copy × a subscription) with every attempt.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Delivery))]
pub struct DeliveryView {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: DeliveryId,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub event_id: EventId,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub subscription_id: SubscriptionId,
    pub organization_id: Option<String>,
    pub service_partition: Option<String>,
    pub status: DeliveryStatus,
    #[cfg_attr(feature = "openapi", schema(format = Int64))]
    pub attempt_count: i32,
    pub is_test: bool,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// The event's type (`null` only if the event's record is gone).
    pub event_type: Option<String>,
    pub attempts: Vec<AttemptView>,
}

/// Appends changes to waiting counts, `(subscription, ±n)`, for a producer to fold.
const APPEND_DELTAS: &str = "INSERT INTO waiting_deltas (subscription_id, n)
     SELECT * FROM unnest($1::text[], $2::bigint[])";

impl Store {
    /// Writes a batch of outcomes and poison notes in one transaction. Idempotent: an attempt
    /// already recorded is left as it is, and a delivery never moves back to an earlier attempt.
    pub async fn record_outcomes(
        &self,
        outcomes: &[OutcomeRow],
        poison: &[PoisonRow],
    ) -> Result<()> {
        if outcomes.is_empty() && poison.is_empty() {
            return Ok(());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if !outcomes.is_empty() {
            write_outcomes(&tx, outcomes).await?;
            update_health(&tx, outcomes).await?;
            take_off_waiting(&tx, outcomes).await?;
        }
        if !poison.is_empty() {
            tx.execute(
                "INSERT INTO poison_messages (queue, reason, excerpt)
                 SELECT queue, reason, excerpt
                 FROM jsonb_to_recordset($1::text::jsonb) AS x(queue text, reason text, excerpt text)",
                &[&serde_json::to_string(poison)?],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds copies routed to shared-tier subscriptions to their waiting counts and marks
    /// their events routed, in one transaction: a batch routed again after a failure here is
    /// counted once.
    pub async fn mark_routed_counting(
        &self,
        ids: &[&EventId],
        waiting: &HashMap<SubscriptionId, i64>,
    ) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if !waiting.is_empty() {
            let (subs, counts): (Vec<&str>, Vec<i64>) =
                waiting.iter().map(|(s, n)| (s.as_str(), *n)).unzip();
            let append = tx.prepare_cached(APPEND_DELTAS).await?;
            tx.execute(&append, &[&subs, &counts]).await?;
        }
        let ids: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
        let mark = tx
            .prepare_cached(
                "UPDATE events SET routed_at = now() WHERE id = ANY($1) AND routed_at IS NULL",
            )
            .await?;
        tx.execute(&mark, &[&ids]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Copies of a shared-tier subscription routed and not yet attempted: its folded count
    /// and the deltas not folded yet.
    pub async fn waiting_count(&self, id: &SubscriptionId) -> Result<i64> {
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT greatest(s.waiting
                     + coalesce((SELECT n FROM waiting_counts WHERE subscription_id = $1), 0)
                     + coalesce((SELECT sum(n) FROM waiting_deltas WHERE subscription_id = $1), 0),
                     0)::bigint AS waiting
                 FROM subscriptions s WHERE s.id = $1",
                &[&id.as_str()],
            )
            .await?;
        row.col("waiting")
    }

    /// Folds the waiting deltas into the counts, unless another producer is folding them now;
    /// returns how many counts changed. The deltas are a few seconds' worth, so this is one
    /// short transaction, and it leaves the subscriptions' rows alone (rewriting them would
    /// make every worker and router read them again as changed).
    pub async fn fold_waiting(&self) -> Result<u64> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        // One folder at a time: two would update the same counts in different orders.
        let mine: bool = tx
            .query_one(
                "SELECT pg_try_advisory_xact_lock(hashtext(current_schema() || '.waiting_deltas'))",
                &[],
            )
            .await?
            .try_get(0)?;
        if !mine {
            return Ok(0);
        }
        let n = tx
            .execute(
                "WITH moved AS (DELETE FROM waiting_deltas RETURNING subscription_id, n),
                      net AS (SELECT subscription_id, sum(n)::bigint AS n FROM moved
                              GROUP BY subscription_id HAVING sum(n) <> 0)
                 INSERT INTO waiting_counts (subscription_id, n)
                 SELECT subscription_id, n FROM net
                 ON CONFLICT (subscription_id) DO UPDATE SET n = waiting_counts.n + EXCLUDED.n",
                &[],
            )
            .await?;
        tx.execute("DELETE FROM waiting_counts WHERE n = 0", &[])
            .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// When the oldest retry still waiting on the ladder was due, if any is waiting.
    pub async fn oldest_waiting_retry(&self) -> Result<Option<OffsetDateTime>> {
        let row = self
            .client()
            .await?
            .query_one("SELECT min(last_attempt_at) AS oldest FROM deliveries WHERE status = 'failed' AND next_attempt_at IS NOT NULL", &[])
            .await?;
        row.col("oldest")
    }

    /// How many of a subscription's deliveries are exhausted (their messages parked).
    pub async fn parked_count(&self, subscription_id: &SubscriptionId) -> Result<i64> {
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT count(*) AS parked FROM deliveries
                 WHERE subscription_id = $1 AND status = 'exhausted'",
                &[&subscription_id.as_str()],
            )
            .await?;
        row.col("parked")
    }

    /// The recorded progress of each of `ids` that has any.
    pub async fn delivery_progress(
        &self,
        ids: &[&DeliveryId],
    ) -> Result<HashMap<DeliveryId, Progress>> {
        let ids: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, status, attempts FROM deliveries WHERE id = ANY($1)",
                &[&ids],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let progress = Progress {
                    status: DeliveryStatus::read(r.col("status")?)?,
                    attempts: r.col("attempts")?,
                };
                Ok((r.id("id")?, progress))
            })
            .collect()
    }

    /// Every delivery of one event with its attempts; `None` if the event is not recorded.
    pub async fn event_deliveries(&self, event_id: &EventId) -> Result<Option<Vec<DeliveryView>>> {
        if !self.event_exists(event_id).await? {
            return Ok(None);
        }
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {} FROM deliveries WHERE event_id = $1
                     ORDER BY subscription_id, organization_id NULLS FIRST,
                              service_partition NULLS FIRST",
                    crate::log::VIEW_COLUMNS
                ),
                &[&event_id.as_str()],
            )
            .await?;
        Ok(Some(self.views_with_attempts(&rows, false).await?))
    }
}

/// The deliveries' latest state and every attempt.
async fn write_outcomes(
    tx: &deadpool_postgres::Transaction<'_>,
    outcomes: &[OutcomeRow],
) -> Result<()> {
    // ON CONFLICT DO UPDATE may touch a row once per statement: keep each delivery's latest
    // attempt for the deliveries table (a redelivery can repeat one in a batch).
    let mut latest: HashMap<&DeliveryId, &OutcomeRow> = HashMap::with_capacity(outcomes.len());
    for o in outcomes {
        let e = latest.entry(&o.delivery_id).or_insert(o);
        if o.attempt > e.attempt {
            *e = o;
        }
    }
    // Typed arrays in the binary protocol, one per column: no JSON to write here and parse
    // there.
    let latest: Vec<&OutcomeRow> = latest.into_values().collect();
    let upsert = tx
        .prepare_cached(
            "INSERT INTO deliveries (id, event_id, subscription_id, organization_id,
                 service_partition, status, attempts, last_attempt_at, next_attempt_at, is_test)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                 $6::text[], $7::int[], $8::timestamptz[], $9::timestamptz[], $10::bool[])
             ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status,
                 attempts = EXCLUDED.attempts, last_attempt_at = EXCLUDED.last_attempt_at,
                 next_attempt_at = EXCLUDED.next_attempt_at, updated_at = now()
             WHERE deliveries.attempts <= EXCLUDED.attempts",
        )
        .await?;
    let column =
        |f: fn(&OutcomeRow) -> Option<&str>| latest.iter().map(|o| f(o)).collect::<Vec<_>>();
    tx.execute(
        &upsert,
        &[
            &column(|o| Some(o.delivery_id.as_str())),
            &column(|o| Some(o.event_id.as_str())),
            &column(|o| Some(o.subscription_id.as_str())),
            &column(|o| o.organization_id.as_deref()),
            &column(|o| o.service_partition.as_deref()),
            &column(|o| Some(o.status.as_str())),
            &latest.iter().map(|o| o.attempt).collect::<Vec<_>>(),
            &latest.iter().map(|o| o.sent_at).collect::<Vec<_>>(),
            &latest.iter().map(|o| o.next_attempt_at).collect::<Vec<_>>(),
            &latest.iter().map(|o| o.is_test).collect::<Vec<_>>(),
        ],
    )
    .await?;
    let attempts = tx
        .prepare_cached(
            "INSERT INTO delivery_attempts (delivery_id, attempt, sent_at, status_code,
                 duration_ms, error, response_excerpt)
             SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::int[],
                 $5::int[], $6::text[], $7::text[])
             ON CONFLICT (delivery_id, attempt) DO NOTHING",
        )
        .await?;
    tx.execute(
        &attempts,
        &[
            &outcomes
                .iter()
                .map(|o| o.delivery_id.as_str())
                .collect::<Vec<_>>(),
            &outcomes.iter().map(|o| o.attempt).collect::<Vec<_>>(),
            &outcomes.iter().map(|o| o.sent_at).collect::<Vec<_>>(),
            &outcomes.iter().map(|o| o.status_code).collect::<Vec<_>>(),
            &outcomes.iter().map(|o| o.duration_ms).collect::<Vec<_>>(),
            &outcomes
                .iter()
                .map(|o| o.error.as_deref())
                .collect::<Vec<_>>(),
            &outcomes
                .iter()
                .map(|o| o.response_excerpt.as_deref())
                .collect::<Vec<_>>(),
        ],
    )
    .await?;
    Ok(())
}

/// Endpoint health: a delivery clears a subscription's failing streak, an exhausted one starts
/// it, and 410 Gone disables the subscription at once.
async fn update_health(
    tx: &deadpool_postgres::Transaction<'_>,
    outcomes: &[OutcomeRow],
) -> Result<()> {
    let (mut delivered, mut exhausted) = (Vec::new(), Vec::new());
    for o in outcomes {
        match o.status {
            DeliveryStatus::Delivered => delivered.push(o.subscription_id.as_str()),
            DeliveryStatus::Exhausted => exhausted.push(o.subscription_id.as_str()),
            _ => {}
        }
    }
    if !delivered.is_empty() {
        let healthy = tx
            .prepare_cached(
                "UPDATE subscriptions SET failing_since = NULL
                 WHERE id = ANY($1) AND failing_since IS NOT NULL",
            )
            .await?;
        tx.execute(&healthy, &[&delivered]).await?;
    }
    if !exhausted.is_empty() {
        tx.execute(
            "UPDATE subscriptions SET failing_since = now()
             WHERE id = ANY($1) AND failing_since IS NULL",
            &[&exhausted],
        )
        .await?;
    }
    for o in outcomes {
        if let Some(reason) = &o.disable_reason {
            tx.execute(
                "UPDATE subscriptions SET state = 'disabled', disabled_reason = $2,
                     disabled_at = now(), updated_at = now()
                 WHERE id = $1 AND state = 'active'",
                &[&o.subscription_id.as_str(), reason],
            )
            .await?;
        }
    }
    Ok(())
}

/// Takes the first attempts of shared-tier subscriptions' copies off their waiting counts.
async fn take_off_waiting(
    tx: &deadpool_postgres::Transaction<'_>,
    outcomes: &[OutcomeRow],
) -> Result<()> {
    let mut firsts: HashMap<&str, i64> = HashMap::new();
    for o in outcomes
        .iter()
        .filter(|o| o.counted && o.attempt == 1 && !o.is_test)
    {
        *firsts.entry(o.subscription_id.as_str()).or_default() += 1;
    }
    if firsts.is_empty() {
        return Ok(());
    }
    let (subs, counts): (Vec<&str>, Vec<i64>) = firsts.into_iter().unzip();
    // Appended, not applied: an update would lock the rows the router's batches count into.
    let counts: Vec<i64> = counts.into_iter().map(|n| -n).collect();
    let append = tx.prepare_cached(APPEND_DELTAS).await?;
    tx.execute(&append, &[&subs, &counts]).await?;
    Ok(())
}
