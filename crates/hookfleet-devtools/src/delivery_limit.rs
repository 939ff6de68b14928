//! The quorum queues' delivery limit as RabbitMQ 4 sets it by default (20), put on an older
//! broker's queues for a check run, and the proof that the fleet never reaches it.
//!
//! RabbitMQ 4 dead-letters (or drops) a quorum queue's message returned more times than its
//! delivery limit. The fleet must therefore never retry by requeueing. A run applies the limit
//! as an operator policy on its queues ([`apply`]); at its end, [`check`] requires that the
//! policy was in effect on every quorum queue of the run (or the run proved nothing) and that
//! no message in `hookfleet.dead` was dead-lettered for reaching the limit. Reading the dead
//! queue takes its messages: run the check last. Through the management API (loopback).
use anyhow::Context;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The operator policy's name in the vhost.
const POLICY: &str = "hookfleet-delivery-limit";
/// Messages read from the dead queue per request.
const READ_CHUNK: u32 = 500;
/// How long a new policy may take to reach every queue (the broker applies it in the
/// background).
const POLICY_SETTLES: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Clone, clap::Subcommand)]
enum Action {
    /// Apply the operator policy `delivery-limit: LIMIT` to the fleet's queues in the vhost.
    Apply(Target),
    /// Require the limit in effect on every quorum queue of the fleet in the vhost, and no
    /// message in its `hookfleet.dead` dead-lettered by the limit (reads them off the queue).
    Check(Target),
}

#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// The vhost the fleet runs in.
    #[arg(long, default_value = "/")]
    vhost: String,
    /// The fleet's queue name prefix (`HOOKFLEET_NAMESPACE`).
    #[arg(long, default_value = "")]
    namespace: String,
    /// The delivery limit (RabbitMQ 4's default is 20).
    #[arg(long, default_value_t = 20)]
    limit: u32,
    /// The broker's management API, with credentials.
    #[arg(long, default_value = "http://guest:guest@127.0.0.1:15672")]
    management_url: String,
}

/// `hookfleet-dev delivery-limit apply|check`, for the checks written in shell.
pub async fn run(args: LimitArgs) -> anyhow::Result<()> {
    match args.action {
        Action::Apply(t) => {
            let api = Management::new(&t.management_url)?;
            apply(&api, &t.vhost, &t.namespace, t.limit).await?;
            println!(
                "delivery-limit: operator policy {POLICY} (delivery-limit {}) on {}hookfleet.* in vhost {}",
                t.limit, t.namespace, t.vhost
            );
            Ok(())
        }
        Action::Check(t) => {
            let api = Management::new(&t.management_url)?;
            let found = check(&api, &t.vhost, &t.namespace, t.limit).await?;
            println!("delivery-limit: {found}");
            anyhow::ensure!(
                found.by_limit == 0,
                "{} message(s) were dead-lettered by the delivery limit {}: a retry requeues",
                found.by_limit,
                t.limit
            );
            Ok(())
        }
    }
}

/// The broker's management API.
pub struct Management {
    http: reqwest::Client,
    base: String,
    user: String,
    password: String,
}

impl Management {
    /// From `http://user:password@host:port`.
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let mut parsed = reqwest::Url::parse(url).context("The management URL does not parse")?;
        let user = parsed.username().to_owned();
        let password = parsed.password().unwrap_or_default().to_owned();
        let _ = parsed.set_username("");
        let _ = parsed.set_password(None);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .context("Failed to build the management API's client")?;
        Ok(Self {
            http,
            base: parsed.as_str().trim_end_matches('/').to_owned(),
            user,
            password,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}/api/{path}", self.base))
            .basic_auth(&self.user, Some(&self.password));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("Failed to call the management API ({method} {path})"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        anyhow::ensure!(
            status.is_success(),
            "The management API answered {status} to {method} {path}: {text}"
        );
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

/// A vhost's name as one segment of an API path (`/` is `%2F`).
fn segment(vhost: &str) -> String {
    let mut out = String::new();
    for b in vhost.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The vhost an AMQP URL names (`%2f` or an empty path: `/`).
pub fn vhost_of(amqp_url: &str) -> String {
    let path = amqp_url
        .split(',')
        .next()
        .and_then(|u| u.split_once("://"))
        .and_then(|(_, rest)| rest.split_once('/'))
        .map_or("", |(_, path)| path.split('?').next().unwrap_or(""));
    if path.is_empty() {
        return "/".to_owned();
    }
    // Percent-decoding by hand: a vhost name is short and the devtools need no crate for it.
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The policy's pattern: the fleet's queues of `namespace`, and nothing else in the vhost.
fn pattern(namespace: &str) -> String {
    let mut p = String::from("^");
    for c in format!("{namespace}hookfleet.").chars() {
        if !c.is_ascii_alphanumeric() && c != '_' && c != '-' {
            p.push('\\');
        }
        p.push(c);
    }
    p
}

/// Applies `delivery-limit: limit` as an operator policy to the fleet's queues in `vhost`
/// (classic queues ignore it). Idempotent; existing queues take it too.
pub async fn apply(
    api: &Management,
    vhost: &str,
    namespace: &str,
    limit: u32,
) -> anyhow::Result<()> {
    anyhow::ensure!(limit > 0, "the delivery limit must be positive");
    let body = json!({
        "pattern": pattern(namespace),
        "definition": {"delivery-limit": limit},
        "apply-to": "queues",
        "priority": 0,
    });
    api.call(
        reqwest::Method::PUT,
        &format!("operator-policies/{}/{POLICY}", segment(vhost)),
        Some(body),
    )
    .await
    .context("Failed to apply the delivery-limit operator policy")?;
    Ok(())
}

/// Removes the policy again (a run in a shared vhost leaves nothing behind).
pub async fn remove(api: &Management, vhost: &str) -> anyhow::Result<()> {
    api.call(
        reqwest::Method::DELETE,
        &format!("operator-policies/{}/{POLICY}", segment(vhost)),
        None,
    )
    .await
    .map(drop)
}

/// What [`check`] found.
#[derive(Debug, Default, Clone, Copy)]
pub struct Found {
    /// Quorum queues of the fleet with the limit in effect.
    pub queues: usize,
    /// Messages read off the dead queue.
    pub dead: usize,
    /// Of them, dead-lettered because they reached the delivery limit (must be 0).
    pub by_limit: usize,
}

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "limit in effect on {} quorum queue(s); {} message(s) in hookfleet.dead, {} of them dead-lettered by the delivery limit",
            self.queues, self.dead, self.by_limit
        )
    }
}

/// Requires the limit in effect on every quorum queue of the fleet (waiting for the policy to
/// settle), then reads the dead queue empty and counts what the limit dead-lettered there. An
/// error if the limit was not in effect: the run would have proved nothing.
pub async fn check(
    api: &Management,
    vhost: &str,
    namespace: &str,
    limit: u32,
) -> anyhow::Result<Found> {
    let prefix = format!("{namespace}hookfleet.");
    let settles = Instant::now() + POLICY_SETTLES;
    let queues = loop {
        let listed = api
            .call(
                reqwest::Method::GET,
                &format!(
                    "queues/{}?columns=name,type,effective_policy_definition",
                    segment(vhost)
                ),
                None,
            )
            .await?;
        let (mut with, mut without) = (0, Vec::new());
        for q in listed.as_array().into_iter().flatten() {
            let name = q["name"].as_str().unwrap_or_default();
            if !name.starts_with(&prefix) || q["type"].as_str() != Some("quorum") {
                continue;
            }
            if q["effective_policy_definition"]["delivery-limit"].as_u64() == Some(limit.into()) {
                with += 1;
            } else {
                without.push(name.to_owned());
            }
        }
        if without.is_empty() && with > 0 {
            break with;
        }
        anyhow::ensure!(
            Instant::now() < settles,
            "the delivery limit {limit} is not in effect on {} (of {} quorum queues of {prefix}*): the run proved nothing",
            if without.is_empty() {
                "any queue".to_owned()
            } else {
                without.join(", ")
            },
            with + without.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let dead = format!("{prefix}dead");
    let mut found = Found {
        queues,
        ..Found::default()
    };
    loop {
        let got = api
            .call(
                reqwest::Method::POST,
                &format!("queues/{}/{}/get", segment(vhost), segment(&dead)),
                Some(json!({
                    "count": READ_CHUNK,
                    // Taken off the queue: a requeue would itself count toward its limit.
                    "ackmode": "ack_requeue_false",
                    "encoding": "base64",
                    "truncate": 64,
                })),
            )
            .await
            .with_context(|| format!("Failed to read {dead}"))?;
        let messages = got.as_array().map_or(&[][..], Vec::as_slice);
        if messages.is_empty() {
            break;
        }
        found.dead += messages.len();
        found.by_limit += messages
            .iter()
            .filter(|m| by_limit(&m["properties"]["headers"]))
            .count();
    }
    Ok(found)
}

/// Whether a message's headers say the broker dead-lettered it for reaching the limit.
fn by_limit(headers: &Value) -> bool {
    headers["x-first-death-reason"].as_str() == Some("delivery_limit")
        || (headers["x-death"].as_array().into_iter().flatten())
            .any(|d| d["reason"].as_str() == Some("delivery_limit"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_vhost_of_an_amqp_url() {
        assert_eq!(vhost_of("amqp://guest:guest@127.0.0.1:5672/%2f"), "/");
        assert_eq!(vhost_of("amqp://127.0.0.1:5672"), "/");
        assert_eq!(
            vhost_of("amqp://g:g@h:5672/hookfleet-ci-1,amqp://g:g@h2:5672/hookfleet-ci-1"),
            "hookfleet-ci-1"
        );
        assert_eq!(segment("/"), "%2F");
        assert_eq!(pattern("chaos."), "^chaos\\.hookfleet\\.");
    }

    #[test]
    fn finds_a_death_by_the_delivery_limit_in_either_header() {
        assert!(by_limit(&json!({"x-first-death-reason": "delivery_limit"})));
        assert!(by_limit(
            &json!({"x-first-death-reason": "rejected", "x-death": [{"reason": "rejected"}, {"reason": "delivery_limit"}]})
        ));
        assert!(!by_limit(&json!({"x-first-death-reason": "rejected"})));
        assert!(!by_limit(&Value::Null));
    }
}
