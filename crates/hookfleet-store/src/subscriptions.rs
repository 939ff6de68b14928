//! Subscriptions as recorded: what to deliver, where, signed with which secrets.
use crate::{
    Result, Store, StoreError,
    row::{Columns, unexpected},
    sealed::Sealer,
};
use hookfleet_core::{
    Ladder, SubscriptionId,
    render::Profile,
    subscription::{Delivery, Ordering, Tier},
};
use tokio_postgres::Row;

/// The active subscriptions, as far as they can be read: one whose row cannot be (a secret
/// sealed with a key no longer configured, a value no version wrote) is set apart with its id
/// and why, so it alone goes undelivered and the rest are not held up.
#[derive(Debug, Default)]
pub struct ActiveSubscriptions {
    pub readable: Vec<SubscriptionRow>,
    /// The row's id as stored (it may itself be what cannot be read) and the reason.
    pub unreadable: Vec<(String, StoreError)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionRow {
    pub id: SubscriptionId,
    pub url: String,
    pub description: Option<String>,
    pub event_types: Vec<String>,
    pub organizations: Option<Vec<String>>,
    pub partitions: Option<Vec<String>>,
    /// `whsec_` secrets, newest first; more than one while a secret is rotated.
    pub secrets: Vec<String>,
    pub state: SubscriptionState,
    pub created_at: time::OffsetDateTime,
    /// Waits before attempts 2, 3, …; `None` = the fleet's ladder.
    pub retry_ladder: Option<Ladder>,
    pub max_in_flight: i32,
    pub rate_limit_per_s: Option<i32>,
    pub ordering: Ordering,
    pub disabled_reason: Option<String>,
    /// Until when the secrets after the first still sign deliveries (a rotation's grace).
    pub previous_secrets_expire_at: Option<time::OffsetDateTime>,
    /// How its requests are rendered.
    pub profile: Profile,
    pub delivery: Delivery,
    /// The broker user that reads a pull subscription's queue.
    pub pull_user: Option<String>,
    /// Where its copies wait, and why there.
    pub tier: Tier,
    /// Its shard queue on the shared tier (kept while hot, to go back to).
    pub shard: Option<u16>,
    pub tier_reason: Option<String>,
    /// It has a queue of its own (`own`, `hot`, and a demoted one until its queue is emptied
    /// and removed): the workers consume it.
    pub own_queue: bool,
}

/// `secrets` as read: the previous secret only while its rotation grace lasts, so an expired
/// one stops signing at the workers' next reconcile without any clean-up job.
pub(crate) const COLUMNS: &str = "id, url, description, event_types, organizations, partitions,
     CASE WHEN previous_secrets_expire_at > now() THEN secrets ELSE secrets[1:1] END AS secrets,
     state, created_at, retry_ladder_ms, max_in_flight, rate_limit_per_s, ordering,
     disabled_reason,
     CASE WHEN previous_secrets_expire_at > now() THEN previous_secrets_expire_at END
         AS previous_secrets_expire_at,
     profile, delivery, pull_user, tier, shard, tier_reason, own_queue";

/// The changes `PATCH /v1/subscriptions/{id}` may make; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct SubscriptionChanges {
    pub url: Option<String>,
    pub description: Option<String>,
    pub retry_ladder: Option<Option<Ladder>>,
    pub max_in_flight: Option<i32>,
    pub rate_limit_per_s: Option<Option<i32>>,
    pub event_types: Option<Vec<String>>,
    /// `Some(None)`: every organization.
    pub organizations: Option<Option<Vec<String>>>,
    /// `Some(None)`: every partition.
    pub partitions: Option<Option<Vec<String>>>,
    pub profile: Option<Profile>,
}

// Where a subscription is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionState {
    Active,
    /// Not delivered to (410 Gone, failing too long); its queue keeps what arrives.
    Disabled,
    Deleted,
}

impl SubscriptionState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
            Self::Deleted => "deleted",
        }
    }

    fn read(s: &str) -> Result<Self> {
        match s {
            "active" => Ok(Self::Active),
            "disabled" => Ok(Self::Disabled),
            "deleted" => Ok(Self::Deleted),
            _ => Err(StoreError::Unexpected(format!("subscription state `{s}`"))),
        }
    }
}

pub(crate) fn read_tier(s: &str) -> Result<Tier> {
    Tier::parse(s).ok_or_else(|| unexpected("tier", format!("`{s}`")))
}

fn read_ordering(s: &str) -> Result<Ordering> {
    match s {
        "unordered" => Ok(Ordering::Unordered),
        "fifo" => Ok(Ordering::Fifo),
        _ => Err(StoreError::Unexpected(format!("ordering `{s}`"))),
    }
}

impl SubscriptionRow {
    pub(crate) fn from_row(sealer: &Sealer, r: &Row) -> Result<Self> {
        let id: SubscriptionId = r.id("id")?;
        let secrets = r
            .col::<Vec<&str>>("secrets")?
            .into_iter()
            .map(|stored| sealer.open(id.as_str(), stored))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Unexpected(format!("subscription {id}: {e}")))?;
        let profile: &str = r.col("profile")?;
        let delivery: &str = r.col("delivery")?;
        Ok(Self {
            id,
            url: r.col("url")?,
            description: r.col("description")?,
            event_types: r.col("event_types")?,
            organizations: r.col("organizations")?,
            partitions: r.col("partitions")?,
            secrets,
            state: SubscriptionState::read(r.col("state")?)?,
            created_at: r.col("created_at")?,
            retry_ladder: r
                .col::<Option<Vec<i32>>>("retry_ladder_ms")?
                .map(|ms| Ladder::from_millis(&ms)),
            max_in_flight: r.col("max_in_flight")?,
            rate_limit_per_s: r.col("rate_limit_per_s")?,
            ordering: read_ordering(r.col("ordering")?)?,
            disabled_reason: r.col("disabled_reason")?,
            previous_secrets_expire_at: r.col("previous_secrets_expire_at")?,
            profile: Profile::parse(profile)
                .ok_or_else(|| unexpected("profile", format!("`{profile}`")))?,
            delivery: Delivery::parse(delivery)
                .ok_or_else(|| unexpected("delivery", format!("`{delivery}`")))?,
            pull_user: r.col("pull_user")?,
            tier: read_tier(r.col("tier")?)?,
            shard: r
                .col::<Option<i16>>("shard")?
                .and_then(|n| u16::try_from(n).ok()),
            tier_reason: r.col("tier_reason")?,
            own_queue: r.col::<&str>("own_queue")? == "consumed",
        })
    }
}

impl Store {
    /// Records a subscription and runs `declare` (its queue and bindings) inside the same
    /// transaction: if the broker refuses, nothing is recorded.
    pub async fn create_subscription<F, E>(
        &self,
        row: &SubscriptionRow,
        declare: F,
    ) -> Result<Result<(), E>>
    where
        F: std::future::Future<Output = std::result::Result<(), E>>,
    {
        let sealed: Vec<String> = (row.secrets.iter())
            .map(|s| self.sealer.seal(row.id.as_str(), s))
            .collect();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO subscriptions (id, url, description, event_types, organizations,
                                        partitions, secrets, state, created_at, retry_ladder_ms,
                                        max_in_flight, rate_limit_per_s, ordering, profile,
                                        delivery, pull_user, tier, shard, tier_reason,
                                        own_queue, tier_changed_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                     $17, $18, $19, $20, now())",
            &[
                &row.id.as_str(),
                &row.url,
                &row.description,
                &row.event_types,
                &row.organizations,
                &row.partitions,
                &sealed,
                &row.state.as_str(),
                &row.created_at,
                &row.retry_ladder.as_ref().map(Ladder::to_millis),
                &row.max_in_flight,
                &row.rate_limit_per_s,
                &row.ordering.as_str(),
                &row.profile.as_str(),
                &row.delivery.as_str(),
                &row.pull_user,
                &row.tier.as_str(),
                &row.shard.and_then(|n| i16::try_from(n).ok()),
                &row.tier_reason,
                &if row.own_queue { "consumed" } else { "none" },
            ],
        )
        .await?;
        if let Err(e) = declare.await {
            tx.rollback().await?;
            return Ok(Err(e));
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// A subscription that has not been deleted.
    pub async fn subscription(&self, id: &SubscriptionId) -> Result<Option<SubscriptionRow>> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "SELECT {COLUMNS} FROM subscriptions WHERE id = $1 AND state <> 'deleted'"
                ),
                &[&id.as_str()],
            )
            .await?;
        row.as_ref()
            .map(|r| SubscriptionRow::from_row(&self.sealer, r))
            .transpose()
    }

    /// Applies `changes` to a subscription that has not been deleted, holding its row locked
    /// while `rebind(before, after)` brings the broker's bindings in line; commits only if
    /// that succeeds. `Ok(None)`: no such subscription.
    pub async fn update_subscription<F, Fut, E>(
        &self,
        id: &SubscriptionId,
        changes: &SubscriptionChanges,
        rebind: F,
    ) -> Result<std::result::Result<Option<SubscriptionRow>, E>>
    where
        F: FnOnce(SubscriptionRow, SubscriptionRow) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<(), E>>,
    {
        let id = id.as_str();
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let before = tx
            .query_opt(
                &format!(
                    "SELECT {COLUMNS} FROM subscriptions
                     WHERE id = $1 AND state <> 'deleted' FOR UPDATE"
                ),
                &[&id],
            )
            .await?;
        let Some(before) = before
            .as_ref()
            .map(|r| SubscriptionRow::from_row(&self.sealer, r))
            .transpose()?
        else {
            return Ok(Ok(None));
        };
        let after = tx
            .query_one(
                &format!(
                    "UPDATE subscriptions SET
                         url = COALESCE($2, url),
                         description = COALESCE($3, description),
                         retry_ladder_ms = CASE WHEN $4 THEN $5 ELSE retry_ladder_ms END,
                         max_in_flight = COALESCE($6, max_in_flight),
                         rate_limit_per_s = CASE WHEN $7 THEN $8 ELSE rate_limit_per_s END,
                         event_types = COALESCE($9, event_types),
                         organizations = CASE WHEN $10 THEN $11 ELSE organizations END,
                         partitions = CASE WHEN $12 THEN $13 ELSE partitions END,
                         profile = COALESCE($14, profile),
                         updated_at = now()
                     WHERE id = $1
                     RETURNING {COLUMNS}"
                ),
                &[
                    &id,
                    &changes.url,
                    &changes.description,
                    &changes.retry_ladder.is_some(),
                    &changes
                        .retry_ladder
                        .clone()
                        .flatten()
                        .as_ref()
                        .map(Ladder::to_millis),
                    &changes.max_in_flight,
                    &changes.rate_limit_per_s.is_some(),
                    &changes.rate_limit_per_s.flatten(),
                    &changes.event_types,
                    &changes.organizations.is_some(),
                    &changes.organizations.clone().flatten(),
                    &changes.partitions.is_some(),
                    &changes.partitions.clone().flatten(),
                    &changes.profile.map(Profile::as_str),
                ],
            )
            .await?;
        let after = SubscriptionRow::from_row(&self.sealer, &after)?;
        if let Err(e) = rebind(before, after.clone()).await {
            tx.rollback().await?;
            return Ok(Err(e));
        }
        tx.commit().await?;
        Ok(Ok(Some(after)))
    }

    /// Makes `secret` the subscription's signing secret. The one it replaces keeps signing
    /// (beside the new one) for `previous_valid_for`; zero drops it at once. Secrets older than
    /// the replaced one are dropped. Returns the subscription as it is now.
    pub async fn rotate_secret(
        &self,
        id: &SubscriptionId,
        secret: &str,
        previous_valid_for: std::time::Duration,
    ) -> Result<Option<SubscriptionRow>> {
        let id = id.as_str();
        let secs = previous_valid_for.as_secs_f64();
        let row = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "UPDATE subscriptions SET
                         secrets = CASE WHEN $3::float8 > 0 THEN ARRAY[$2, secrets[1]] ELSE ARRAY[$2] END,
                         previous_secrets_expire_at = CASE WHEN $3::float8 > 0
                             THEN now() + make_interval(secs => $3::float8) END,
                         updated_at = now()
                     WHERE id = $1 AND state <> 'deleted'
                     RETURNING {COLUMNS}"
                ),
                &[&id, &self.sealer.seal(id, secret), &secs],
            )
            .await?;
        row.as_ref()
            .map(|r| SubscriptionRow::from_row(&self.sealer, r))
            .transpose()
    }

    /// Subscriptions not deleted, newest first (ids are time-ordered), `limit` of them after
    /// the id `after` (the last of the previous page).
    pub async fn list_subscriptions(
        &self,
        limit: i64,
        after: Option<&SubscriptionId>,
    ) -> Result<Vec<SubscriptionRow>> {
        self.list_webhooks(None, None, limit, after).await
    }

    /// Re-enables a disabled subscription; false if it is not disabled.
    pub async fn enable_subscription(&self, id: &SubscriptionId) -> Result<bool> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE subscriptions SET state = 'active', disabled_reason = NULL,
                     disabled_at = NULL, failing_since = NULL, updated_at = now()
                 WHERE id = $1 AND state = 'disabled'",
                &[&id.as_str()],
            )
            .await?;
        Ok(n == 1)
    }

    /// Disables an active subscription by an operator's hand; false if it is not active.
    pub async fn disable_subscription(&self, id: &SubscriptionId, reason: &str) -> Result<bool> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE subscriptions SET state = 'disabled', disabled_reason = $2, disabled_at = now(),
                     updated_at = now() WHERE id = $1 AND state = 'active'",
                &[&id.as_str(), &reason],
            )
            .await?;
        Ok(n == 1)
    }

    /// Disables every active subscription whose deliveries have all been exhausted for at
    /// least `span`; returns their ids.
    pub async fn disable_failing(&self, span: std::time::Duration) -> Result<Vec<SubscriptionId>> {
        let secs = span.as_secs_f64();
        let rows = self
            .client()
            .await?
            .query(
                "UPDATE subscriptions SET state = 'disabled', disabled_at = now(), updated_at = now(),
                     disabled_reason = 'every delivery has been exhausted since ' || failing_since
                 WHERE state = 'active' AND failing_since < now() - make_interval(secs => $1)
                 RETURNING id",
                &[&secs],
            )
            .await?;
        rows.iter().map(|r| r.id("id")).collect()
    }

    /// Every subscription the delivery fleet should be consuming.
    pub async fn active_subscriptions(&self) -> Result<ActiveSubscriptions> {
        let rows = self
            .client()
            .await?
            .query(
                &format!("SELECT {COLUMNS} FROM subscriptions WHERE state = 'active'"),
                &[],
            )
            .await?;
        Ok(self.read_active(&rows))
    }

    /// One page of the active subscriptions, by id after `after`, at most `limit`: a worker
    /// of 100,000 subscriptions reads them a page at a time, so what it holds while reading
    /// is a page, not the whole table. Also returns the page's last id as stored (readable or
    /// not), where the next page starts; a page of fewer than `limit` rows is the last.
    pub async fn active_subscriptions_page(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<(ActiveSubscriptions, usize, Option<String>)> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM subscriptions
                     WHERE state = 'active' AND ($1::text IS NULL OR id > $1)
                     ORDER BY id LIMIT $2"
                ),
                &[&after, &limit],
            )
            .await?;
        let last = rows.last().and_then(|r| r.try_get::<_, String>("id").ok());
        Ok((self.read_active(&rows), rows.len(), last))
    }

    pub(crate) fn read_active(&self, rows: &[Row]) -> ActiveSubscriptions {
        let mut active = ActiveSubscriptions::default();
        for r in rows {
            match SubscriptionRow::from_row(&self.sealer, r) {
                Ok(row) => active.readable.push(row),
                Err(e) => {
                    let id = r.try_get::<_, String>("id").unwrap_or_default();
                    active.unreadable.push((id, e));
                }
            }
        }
        active
    }

    /// Marks a subscription deleted; false if there was none to delete.
    pub async fn delete_subscription(&self, id: &SubscriptionId) -> Result<bool> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE subscriptions SET state = 'deleted', deleted_at = now(), updated_at = now()
                 WHERE id = $1 AND state <> 'deleted'",
                &[&id.as_str()],
            )
            .await?;
        Ok(n == 1)
    }
}
