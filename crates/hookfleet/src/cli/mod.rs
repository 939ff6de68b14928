//! The command line for a person at a terminal: subscriptions, events and the delivery log
//! through the producer's HTTP API (`HOOKFLEET_API_URL`, with `HOOKFLEET_API_KEY` or the
//! admin token), printed as tables or, with `--json`, as the API's own JSON. It owns nothing
//! of the fleet's state: every command is one or more API calls, so it works against any
//! producer a person can reach and is refused exactly as the API refuses.
mod deliveries;
mod events;
mod print;
mod recover;
mod subscriptions;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::Duration;

pub use deliveries::DeliveriesCmd;
pub use events::EventsCmd;
pub use subscriptions::SubscriptionsCmd;

/// Where the API is and how to authenticate; accepted before or after the subcommand.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// The producer's base URL.
    #[arg(
        long,
        global = true,
        env = "HOOKFLEET_API_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    api_url: String,
    /// An API key, or the admin token [default: the first of HOOKFLEET_ADMIN_TOKEN].
    #[arg(long, global = true, env = "HOOKFLEET_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

/// A command of the CLI, with the API it talks to.
#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// List, show, create, delete and recover subscriptions.
    Subscriptions {
        #[command(flatten)]
        api: ApiArgs,
        #[command(subcommand)]
        cmd: SubscriptionsCmd,
    },
    /// Send events.
    Events {
        #[command(flatten)]
        api: ApiArgs,
        #[command(subcommand)]
        cmd: EventsCmd,
    },
    /// Follow the delivery log, or show one delivery's attempts.
    Deliveries {
        #[command(flatten)]
        api: ApiArgs,
        #[command(subcommand)]
        cmd: DeliveriesCmd,
    },
}

pub async fn run(command: CliCommand) -> anyhow::Result<()> {
    match command {
        CliCommand::Subscriptions { api, cmd } => subscriptions::run(&Api::new(&api)?, cmd).await,
        CliCommand::Events { api, cmd } => events::run(&Api::new(&api)?, cmd).await,
        CliCommand::Deliveries { api, cmd } => deliveries::run(&Api::new(&api)?, cmd).await,
    }
}

/// The producer's API, authenticated.
pub(crate) struct Api {
    base: String,
    key: String,
    http: reqwest::Client,
    pub json: bool,
}

impl Api {
    fn new(args: &ApiArgs) -> anyhow::Result<Self> {
        let key = args
            .api_key
            .clone()
            .filter(|k| !k.is_empty())
            .or_else(|| {
                std::env::var("HOOKFLEET_ADMIN_TOKEN")
                    .ok()
                    .and_then(|t| t.split(',').next().map(|t| t.trim().to_owned()))
                    .filter(|t| !t.is_empty())
            })
            .context("Give an API key: --api-key, HOOKFLEET_API_KEY or HOOKFLEET_ADMIN_TOKEN")?;
        let base = args.api_url.trim_end_matches('/').to_owned();
        url::Url::parse(&base).with_context(|| format!("--api-url {base:?} is not a URL"))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .context("Failed to build the HTTP client")?;
        Ok(Self {
            base,
            key,
            http,
            json: args.json,
        })
    }

    /// One call; an answer other than 2xx is an error naming the API's code and message.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            req = req.json(body);
        }
        let res = req.send().await.with_context(|| {
            format!(
                "Failed to reach the API at {} (is the fleet running there? start one with \
                 `hookfleet all`, or point HOOKFLEET_API_URL or --api-url at yours)",
                self.base
            )
        })?;
        let status = res.status();
        let text = res
            .text()
            .await
            .with_context(|| format!("Failed to read the answer to {method} {path}"))?;
        if status == StatusCode::UNAUTHORIZED {
            bail!(
                "{method} {path}: {} (check HOOKFLEET_API_KEY or --api-key: the API knows no \
                 such key or token)",
                refusal(status, &text)
            );
        }
        if !status.is_success() {
            bail!("{method} {path}: {}", refusal(status, &text));
        }
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text)
            .with_context(|| format!("The answer to {method} {path} is not JSON"))
    }

    pub(crate) async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::GET, path, None).await
    }
}

/// `422 invalid (url): must be https` from the error envelope, or the status and a short
/// excerpt when the answer is not one.
fn refusal(status: StatusCode, body: &str) -> String {
    let envelope: Option<Value> = serde_json::from_str(body).ok();
    let error = envelope.as_ref().map(|v| &v["error"]);
    match error.and_then(|e| e["code"].as_str()) {
        Some(code) => {
            let e = error.unwrap_or(&Value::Null);
            let field = e["field"]
                .as_str()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default();
            let message = e["message"].as_str().unwrap_or_default();
            print::clean(&format!("{} {code}{field}: {message}", status.as_u16()))
        }
        None => print::clean(&format!(
            "{status}: {}",
            body.chars().take(200).collect::<String>()
        )),
    }
}

/// A path segment or query value, percent-encoded.
pub(crate) fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
