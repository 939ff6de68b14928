//! The broker users of pull subscriptions as the record keeps them: the current one, and
//! after a rotation the replaced one until its grace ends.
use crate::{Result, Store, row::Columns};
use hookfleet_core::SubscriptionId;

/// What a rotation replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRotation {
    /// Users to delete now: the one replaced earlier, and the one replaced now if no grace.
    pub drop_now: Vec<String>,
}

impl Store {
    /// Makes `new_user` the subscription's reader; the replaced one stays valid for `grace`.
    /// `None`: no such live pull subscription.
    pub async fn rotate_pull_user(
        &self,
        id: &SubscriptionId,
        new_user: &str,
        grace: std::time::Duration,
    ) -> Result<Option<PullRotation>> {
        let secs = grace.as_secs_f64();
        let row = self
            .client()
            .await?
            .query_opt(
                "UPDATE subscriptions s SET
                     previous_pull_user = CASE WHEN $3::float8 > 0 THEN o.old_current END,
                     previous_pull_user_expires_at = CASE WHEN $3::float8 > 0
                         THEN now() + make_interval(secs => $3::float8) END,
                     pull_user = $2, updated_at = now()
                 FROM (SELECT id, pull_user AS old_current, previous_pull_user AS old_previous
                       FROM subscriptions WHERE id = $1 FOR UPDATE) o
                 WHERE s.id = o.id AND s.state <> 'deleted' AND s.delivery = 'pull'
                 RETURNING o.old_current, o.old_previous",
                &[&id.as_str(), &new_user, &secs],
            )
            .await?;
        row.map(|r| {
            let current: Option<String> = r.col("old_current")?;
            let previous: Option<String> = r.col("old_previous")?;
            let mut drop_now: Vec<String> = previous.into_iter().collect();
            if secs <= 0.0 {
                drop_now.extend(current);
            }
            Ok(PullRotation { drop_now })
        })
        .transpose()
    }

    /// Every broker user a subscription has (current and replaced), deleted or not.
    pub async fn pull_users(&self, id: &SubscriptionId) -> Result<Vec<String>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT pull_user, previous_pull_user FROM subscriptions WHERE id = $1",
                &[&id.as_str()],
            )
            .await?;
        let Some(r) = row else {
            return Ok(Vec::new());
        };
        let users: [Option<String>; 2] = [r.col("pull_user")?, r.col("previous_pull_user")?];
        Ok(users.into_iter().flatten().collect())
    }

    /// Replaced users whose grace has ended: (subscription id, user).
    pub async fn expired_pull_users(&self) -> Result<Vec<(SubscriptionId, String)>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, previous_pull_user FROM subscriptions
                 WHERE previous_pull_user IS NOT NULL AND previous_pull_user_expires_at <= now()",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.id("id")?, r.col("previous_pull_user")?)))
            .collect()
    }

    /// Forgets a replaced user once it is deleted from the broker.
    pub async fn forget_pull_user(&self, id: &SubscriptionId, user: &str) -> Result<()> {
        self.client()
            .await?
            .execute(
                "UPDATE subscriptions SET previous_pull_user = NULL,
                     previous_pull_user_expires_at = NULL
                 WHERE id = $1 AND previous_pull_user = $2",
                &[&id.as_str(), &user],
            )
            .await?;
        Ok(())
    }
}
