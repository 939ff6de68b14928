//! Listing subscriptions, and webhooks of source document 002 among them: subscriptions of
//! one profile, listed for the organizations a key may act for.
use crate::{
    Result, Store,
    subscriptions::{COLUMNS, SubscriptionRow},
};
use hookfleet_core::{SubscriptionId, render::Profile};

impl Store {
    /// Subscriptions not deleted (of `profile`, when given), newest first, `limit` of them
    /// after the id `after`. With `within`, only those limited to some of those organizations
    /// (and to no other).
    pub async fn list_webhooks(
        &self,
        profile: Option<Profile>,
        within: Option<&[String]>,
        limit: i64,
        after: Option<&SubscriptionId>,
    ) -> Result<Vec<SubscriptionRow>> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM subscriptions
                     WHERE state <> 'deleted' AND ($1::text IS NULL OR profile = $1)
                       AND ($2::text[] IS NULL
                            OR (cardinality(organizations) > 0 AND organizations <@ $2))
                       AND ($3::text IS NULL OR id < $3)
                     ORDER BY id DESC LIMIT $4"
                ),
                &[
                    &profile.map(Profile::as_str),
                    &within,
                    &after.map(SubscriptionId::as_str),
                    &limit,
                ],
            )
            .await?;
        rows.iter()
            .map(|r| SubscriptionRow::from_row(&self.sealer, r))
            .collect()
    }
}
