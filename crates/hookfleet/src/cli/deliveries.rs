//! `hookfleet deliveries tail` follows the log across subscriptions as it happens, and
//! `hookfleet deliveries show ID` prints one delivery with every attempt.
//!
//! `tail` polls the newest page of `GET /v1/deliveries` and prints a line whenever a delivery
//! appears or its status or attempt count changes. It remembers only that page, so its memory
//! does not grow with the log; if more than a page of deliveries changes between two polls,
//! it says how many it could not show rather than pretending it saw them.
use super::{Api, enc, print};
use clap::Subcommand;
use serde_json::Value;
use std::{collections::HashMap, time::Duration};

/// The page `tail` polls: the API's largest.
const PAGE: usize = 1000;

#[derive(Debug, Subcommand)]
pub enum DeliveriesCmd {
    /// Follow the delivery log: a line for each new delivery and each new attempt.
    Tail {
        /// Only this subscription's deliveries.
        #[arg(long)]
        subscription: Option<String>,
        /// Only deliveries in this status (pending, delivered, failed, exhausted).
        #[arg(long)]
        status: Option<String>,
        /// Only events of this type.
        #[arg(long = "type")]
        event_type: Option<String>,
        /// Only copies for this organization.
        #[arg(long)]
        organization: Option<String>,
        /// How many recent deliveries to print before following.
        #[arg(long, default_value_t = 10)]
        lines: usize,
        /// How often to look for changes (e.g. 500ms, 2s).
        #[arg(long, default_value = "1s", value_parser = hookfleet_core::duration::parse_duration)]
        interval: Duration,
    },
    /// One delivery: its event, subscription, status and every attempt with the response.
    Show { id: String },
}

pub(super) async fn run(api: &Api, cmd: DeliveriesCmd) -> anyhow::Result<()> {
    match cmd {
        DeliveriesCmd::Show { id } => {
            let d = api.get(&format!("/v1/deliveries/{}", enc(&id))).await?;
            println!(
                "{}",
                if api.json {
                    print::json(&d)
                } else {
                    detail(&d)
                }
            );
            Ok(())
        }
        DeliveriesCmd::Tail {
            subscription,
            status,
            event_type,
            organization,
            lines,
            interval,
        } => {
            let mut path = format!("/v1/deliveries?limit={PAGE}");
            for (k, v) in [
                ("subscription_id", subscription),
                ("status", status),
                ("type", event_type),
                ("organization_id", organization),
            ] {
                if let Some(v) = v {
                    path.push_str(&format!("&{k}={}", enc(&v)));
                }
            }
            tail(api, &path, lines, interval).await
        }
    }
}

/// What `tail` remembers of a delivery: enough to see that it changed.
type Seen = HashMap<String, (String, u64)>;

async fn tail(api: &Api, path: &str, lines: usize, interval: Duration) -> anyhow::Result<()> {
    let mut seen = Seen::new();
    let first = page(api, path).await?;
    let skip = first.len().saturating_sub(lines);
    for (i, d) in first.iter().rev().enumerate() {
        if i >= skip {
            emit(api, d);
        }
    }
    remember(&mut seen, &first);
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(interval) => {}
        }
        let rows = page(api, path).await?;
        let changed: Vec<&Value> = rows.iter().filter(|d| is_new(&seen, d)).collect();
        // A full page of changes may hide more behind it.
        if changed.len() == PAGE && !api.json {
            println!("… at least {PAGE} deliveries changed since the last look; the newest follow");
        }
        for d in changed.into_iter().rev() {
            emit(api, d);
        }
        remember(&mut seen, &rows);
    }
}

async fn page(api: &Api, path: &str) -> anyhow::Result<Vec<Value>> {
    let page = api.get(path).await?;
    Ok(page["data"].as_array().cloned().unwrap_or_default())
}

fn key(d: &Value) -> (String, u64) {
    (
        d["status"].as_str().unwrap_or_default().to_owned(),
        d["attempt_count"].as_u64().unwrap_or(0),
    )
}

fn is_new(seen: &Seen, d: &Value) -> bool {
    let id = d["id"].as_str().unwrap_or_default();
    seen.get(id) != Some(&key(d))
}

/// Keeps only the latest page, so memory is one page whatever the log holds.
fn remember(seen: &mut Seen, rows: &[Value]) {
    seen.clear();
    for d in rows {
        seen.insert(d["id"].as_str().unwrap_or_default().to_owned(), key(d));
    }
}

fn emit(api: &Api, d: &Value) {
    if api.json {
        println!("{}", serde_json::to_string(d).unwrap_or_default());
        return;
    }
    let last = d["attempts"]
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .unwrap_or(Value::Null);
    let when = if last.is_null() {
        &d["created_at"]
    } else {
        &last["sent_at"]
    };
    let mut line = format!(
        "{}  {}  {}  {}  {:<9}  attempt {}",
        print::cell(when),
        print::cell(&d["id"]),
        print::cell(&d["subscription_id"]),
        print::cell(&d["event_type"]),
        print::cell(&d["status"]),
        d["attempt_count"].as_u64().unwrap_or(0),
    );
    if !last.is_null() {
        line.push_str(&format!(
            "  {}  {}ms",
            print::cell(&last["status_code"]),
            print::cell(&last["duration_ms"])
        ));
        if !last["error"].is_null() {
            line.push_str(&format!("  {}", print::cell(&last["error"])));
        }
    }
    println!("{line}");
}

fn detail(d: &Value) -> String {
    let mut out = vec![
        format!("id           {}", print::cell(&d["id"])),
        format!(
            "event        {} ({})",
            print::cell(&d["event_id"]),
            print::cell(&d["event_type"])
        ),
        format!("subscription {}", print::cell(&d["subscription_id"])),
        format!("organization {}", print::cell(&d["organization_id"])),
        format!("partition    {}", print::cell(&d["service_partition"])),
        format!("status       {}", print::cell(&d["status"])),
        format!("created      {}", print::cell(&d["created_at"])),
        format!("next attempt {}", print::cell(&d["next_attempt_at"])),
        String::new(),
    ];
    let attempts = d["attempts"].as_array().cloned().unwrap_or_default();
    let rows: Vec<Vec<String>> = attempts
        .iter()
        .map(|a| {
            vec![
                print::cell(&a["attempt"]),
                print::cell(&a["sent_at"]),
                print::cell(&a["status_code"]),
                format!("{}ms", print::cell(&a["duration_ms"])),
                print::cell(&a["error"]),
            ]
        })
        .collect();
    out.push(print::table(
        &["ATTEMPT", "SENT", "STATUS", "TIME", "ERROR"],
        &rows,
    ));
    for a in &attempts {
        if let Some(excerpt) = a["response_excerpt"].as_str() {
            out.push(format!(
                "\nresponse to attempt {}:\n{}",
                print::cell(&a["attempt"]),
                print::clean(excerpt)
            ));
        }
    }
    out.join("\n")
}
