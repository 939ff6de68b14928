//! The lifecycle dialects of the bench: one channel, and for `lifecycle-update` 1,000 open
//! events created before anything is subscribed (so they are not counted as deliveries).
use super::Dialect;
use anyhow::Context;
use serde_json::{Value, json};

const PASSWORD: &str = "bench-channel-password";
/// Open events the update run spreads its calls over (updates of one event serialize).
const OPEN_EVENTS: usize = 1_000;

pub(super) struct Channel {
    pub id: String,
    events: Vec<String>,
}

/// Creates the channel, and the open events an update run needs.
pub(super) async fn setup(
    http: &reqwest::Client,
    api: &str,
    admin: &str,
    dialect: Dialect,
) -> anyhow::Result<Channel> {
    let created: Value = http
        .post(format!("{api}/v1/channels"))
        .bearer_auth(admin)
        .json(&json!({"name": "bench", "password": PASSWORD}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = created["id"]
        .as_str()
        .context("the API returned no channel id")?
        .to_owned();
    let mut channel = Channel {
        id,
        events: Vec::new(),
    };
    if dialect == Dialect::LifecycleUpdate {
        for i in 0..OPEN_EVENTS {
            let answer: Value = channel
                .request(
                    http,
                    api,
                    Dialect::LifecycleCreate,
                    i,
                    &format!("setup-{i}"),
                )
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let event_id = answer["data"]["event_id"]
                .as_str()
                .context("a create answered no event_id")?;
            channel.events.push(event_id.to_owned());
        }
    }
    Ok(channel)
}

impl Channel {
    /// Call `i` of the run, with `op_id` as its op_id.
    pub(super) fn request(
        &self,
        http: &reqwest::Client,
        api: &str,
        dialect: Dialect,
        i: usize,
        op_id: &str,
    ) -> reqwest::RequestBuilder {
        let mut body = json!({
            "channel_id": self.id, "password": PASSWORD, "op_id": op_id,
            "status": "running", "message": format!("step {i}"), "severity": "normal",
            "event_time": 1_713_750_000_000u64 + i as u64,
            "attrs": {"step": i, "pad": "x".repeat(150)},
        });
        let route = if dialect == Dialect::LifecycleUpdate && !self.events.is_empty() {
            body["event_id"] = json!(self.events[i % self.events.len()]);
            "update"
        } else {
            body["title"] = json!("Production deployment");
            body["started_at"] = body["event_time"].clone();
            "create"
        };
        http.post(format!("{api}/event/{route}")).json(&body)
    }
}
