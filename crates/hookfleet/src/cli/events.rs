//! `hookfleet events send`: one event through `POST /v1/events`.
use super::{Api, print};
use anyhow::Context;
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Debug, Subcommand)]
pub enum EventsCmd {
    /// Send one event; prints its id.
    Send {
        /// Its type, e.g. `user.created`.
        #[arg(long = "type")]
        event_type: String,
        /// Its data: JSON text, `@FILE` to read a file, or `-` to read standard input.
        #[arg(long, default_value = "{}")]
        data: String,
        /// An organization it concerns; repeat for several.
        #[arg(long = "organization")]
        organizations: Vec<String>,
        /// A service partition it concerns; repeat for several.
        #[arg(long = "partition")]
        partitions: Vec<String>,
        /// Sending again with the same key records it once.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
}

pub(super) async fn run(api: &Api, cmd: EventsCmd) -> anyhow::Result<()> {
    let EventsCmd::Send {
        event_type,
        data,
        organizations,
        partitions,
        idempotency_key,
    } = cmd;
    let data = read_data(&data)?;
    let mut body = json!({"type": event_type, "data": data});
    if !organizations.is_empty() {
        body["organization_ids"] = json!(organizations);
    }
    if !partitions.is_empty() {
        body["service_partitions"] = json!(partitions);
    }
    if let Some(k) = idempotency_key {
        body["idempotency_key"] = json!(k);
    }
    let e = api.call(Method::POST, "/v1/events", Some(&body)).await?;
    if api.json {
        println!("{}", print::json(&e));
    } else {
        println!(
            "accepted {} ({})",
            print::cell(&e["id"]),
            print::cell(&e["type"])
        );
    }
    Ok(())
}

fn read_data(arg: &str) -> anyhow::Result<Value> {
    let text = if arg == "-" {
        std::io::read_to_string(std::io::stdin()).context("Failed to read the data from stdin")?
    } else if let Some(file) = arg.strip_prefix('@') {
        std::fs::read_to_string(file).with_context(|| format!("Failed to read {file}"))?
    } else {
        arg.to_owned()
    };
    serde_json::from_str(&text).context("--data is not JSON")
}
