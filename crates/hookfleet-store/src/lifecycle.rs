//! The record of the event-lifecycle dialect (document 001): each event's state and each
//! call's `op_id`. A call runs in one [`LifecycleUnit`], a transaction the producer holds open
//! while it waits for the broker's confirm: it commits only after the confirm, so a call the
//! broker did not take leaves no trace and can be retried whole.
use crate::{Result, Store, StoreError, row::Columns};
use hookfleet_core::{ChannelId, lifecycle::State};
use time::OffsetDateTime;
use tokio_postgres::types::Json;

/// An event's state as the API shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LifecycleRow {
    #[serde(flatten)]
    pub state: State,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// The row is described as the one object it is written as: the state's fields and its two
/// times (`serde(flatten)` would make it an `allOf`).
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for LifecycleRow {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::{ObjectBuilder, RefOr, schema::Schema};
        let RefOr::T(Schema::Object(state)) = <State as utoipa::PartialSchema>::schema() else {
            unreachable!("a struct's schema is an object")
        };
        let time = || {
            ObjectBuilder::new()
                .schema_type(utoipa::openapi::Type::String)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::DateTime,
                )))
        };
        let mut row: ObjectBuilder = state.into();
        for name in ["created_at", "updated_at"] {
            row = row.property(name, time()).required(name);
        }
        row.into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for LifecycleRow {
    fn name() -> std::borrow::Cow<'static, str> {
        "LifecycleEvent".into()
    }

    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <State as utoipa::ToSchema>::schemas(schemas);
    }
}

/// The answer an `op_id` got the first time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstAnswer {
    pub route: String,
    /// The lifecycle event's id (the dialect's own, not a hookfleet event id).
    pub event_id: String,
}

/// One lifecycle call's transaction. Dropped without [`LifecycleUnit::commit`] (an error, a
/// 503, a cancelled request), its connection is taken out of the pool and closed, so the
/// server rolls everything back and no half-done transaction is ever handed to someone else.
pub struct LifecycleUnit {
    client: Option<deadpool_postgres::Client>,
}

impl Drop for LifecycleUnit {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            drop(deadpool_postgres::Client::take(c));
        }
    }
}

impl Store {
    /// Every live channel's id and the argon2id hash of its password.
    pub async fn channel_password_hashes(&self) -> Result<Vec<(ChannelId, String)>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, password_hash FROM channels WHERE deleted_at IS NULL",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.id("id")?, r.col("password_hash")?)))
            .collect()
    }

    /// An event of a live channel, as it stands.
    pub async fn lifecycle_event(
        &self,
        channel_id: &ChannelId,
        event_id: &str,
    ) -> Result<Option<LifecycleRow>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT e.state, e.created_at, e.updated_at FROM lifecycle_events e
                 JOIN channels c ON c.id = e.channel_id AND c.deleted_at IS NULL
                 WHERE e.channel_id = $1 AND e.event_id = $2",
                &[&channel_id.as_str(), &event_id],
            )
            .await?;
        row.map(|r| {
            let Json(state): Json<State> = r.col("state")?;
            Ok(LifecycleRow {
                state,
                created_at: r.col("created_at")?,
                updated_at: r.col("updated_at")?,
            })
        })
        .transpose()
    }

    /// Opens the transaction of one lifecycle call.
    pub async fn begin_lifecycle(&self) -> Result<LifecycleUnit> {
        let client = self.client().await?;
        let unit = LifecycleUnit {
            client: Some(client),
        };
        unit.client()?.batch_execute("BEGIN").await?;
        Ok(unit)
    }
}

impl LifecycleUnit {
    fn client(&self) -> Result<&deadpool_postgres::Client> {
        self.client
            .as_ref()
            .ok_or_else(|| StoreError::Unexpected("a finished lifecycle unit was used".into()))
    }

    /// Claims `op_id` on the channel for this call, or returns the answer it already got.
    /// A concurrent call with the same `op_id` waits here until this one commits or rolls back.
    pub async fn claim_op(
        &self,
        channel_id: &ChannelId,
        op_id: &str,
        route: &str,
        event_id: &str,
    ) -> Result<Option<FirstAnswer>> {
        let channel_id = channel_id.as_str();
        let c = self.client()?;
        let stmt = c
            .prepare_cached(
                "INSERT INTO lifecycle_ops (channel_id, op_id, route, event_id)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (channel_id, op_id) DO NOTHING",
            )
            .await?;
        let claimed = c
            .execute(&stmt, &[&channel_id, &op_id, &route, &event_id])
            .await?;
        if claimed == 1 {
            return Ok(None);
        }
        let row = c
            .query_one(
                "SELECT route, event_id FROM lifecycle_ops WHERE channel_id = $1 AND op_id = $2",
                &[&channel_id, &op_id],
            )
            .await?;
        Ok(Some(FirstAnswer {
            route: row.col("route")?,
            event_id: row.col("event_id")?,
        }))
    }

    /// The event's state, locked until this unit ends.
    pub async fn event_for_update(
        &self,
        channel_id: &ChannelId,
        event_id: &str,
    ) -> Result<Option<State>> {
        let c = self.client()?;
        let stmt = c
            .prepare_cached(
                "SELECT state FROM lifecycle_events WHERE channel_id = $1 AND event_id = $2
                 FOR UPDATE",
            )
            .await?;
        let row = c
            .query_opt(&stmt, &[&channel_id.as_str(), &event_id])
            .await?;
        row.map(|r| r.col::<Json<State>>("state").map(|Json(s)| s))
            .transpose()
    }

    /// Writes the event's state after this call (a new event, or the next state of one).
    pub async fn put_event(&self, state: &State) -> Result<()> {
        let c = self.client()?;
        let stmt = c
            .prepare_cached(
                "INSERT INTO lifecycle_events (channel_id, event_id, state, closed)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (channel_id, event_id) DO UPDATE
                 SET state = EXCLUDED.state, closed = EXCLUDED.closed, updated_at = now()",
            )
            .await?;
        c.execute(
            &stmt,
            &[
                &state.channel_id,
                &state.event_id,
                &Json(state),
                &state.closed,
            ],
        )
        .await?;
        Ok(())
    }

    /// Undoes the call's writes (a refusal, a repeated `op_id`) and gives the connection back.
    pub async fn rollback(mut self) {
        if let Some(c) = self.client.take()
            && c.batch_execute("ROLLBACK").await.is_err()
        {
            drop(deadpool_postgres::Client::take(c));
        }
    }

    /// Makes the call's writes durable; on error nothing of them is.
    pub async fn commit(mut self) -> Result<()> {
        let client = self.client.take().ok_or_else(|| {
            StoreError::Unexpected("a finished lifecycle unit was committed".into())
        })?;
        match client.batch_execute("COMMIT").await {
            Ok(()) => Ok(()),
            Err(e) => {
                drop(deadpool_postgres::Client::take(client));
                Err(e.into())
            }
        }
    }
}
