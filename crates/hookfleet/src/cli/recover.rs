//! `hookfleet subscriptions recover ID --since T`: a large window is recovered in steps
//! (`limit` on the API), each step a bounded claim, and a progress bar counts the deliveries
//! sent again against those the window held. The bar is drawn only on a terminal; elsewhere
//! the command prints one line per step.
use super::{Api, enc, print};
use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use serde_json::json;

#[derive(Debug, Args)]
pub struct RecoverArgs {
    id: String,
    /// The oldest delivery to send again (RFC 3339, e.g. 2026-12-01T00:00:00Z).
    #[arg(long)]
    since: String,
    /// Only deliveries created before this time (RFC 3339).
    #[arg(long)]
    until: Option<String>,
    /// Deliveries claimed per step (1–10,000).
    #[arg(long, default_value_t = 1000)]
    step: u32,
}

pub(super) async fn run(api: &Api, args: RecoverArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=10_000).contains(&args.step),
        "--step must be 1 to 10000"
    );
    let path = format!("/v1/subscriptions/{}/recover", enc(&args.id));
    let mut body = json!({"since": args.since, "limit": args.step});
    if let Some(u) = &args.until {
        body["until"] = json!(u);
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} recovering [{bar:40}] {pos}/{len} {msg}")
            .context("Failed to set the progress bar's template")?
            .progress_chars("=> "),
    );
    let on_terminal = !bar.is_hidden();
    let (mut recovered, mut removed) = (0u64, 0u64);
    loop {
        let step = api.call(Method::POST, &path, Some(&body)).await?;
        recovered += step["recovered"].as_u64().unwrap_or(0);
        removed += step["removed_from_dead"].as_u64().unwrap_or(0);
        let remaining = step["remaining"].as_u64().unwrap_or(0);
        bar.set_length(recovered + remaining);
        bar.set_position(recovered);
        if !on_terminal && !api.json {
            println!("recovered {recovered} of {}", recovered + remaining);
        }
        // Each step starts after the last one's rows, so one that fails again meanwhile is
        // not sent a third time by this command.
        match step["next_cursor"].as_str() {
            Some(c) => body["cursor"] = json!(c),
            None => break,
        }
    }
    bar.finish_and_clear();
    let summary = json!({"recovered": recovered, "removed_from_dead": removed});
    if api.json {
        println!("{}", print::json(&summary));
    } else {
        println!(
            "recovered {recovered} deliveries ({removed} parked copies taken out of the dead queue)"
        );
    }
    Ok(())
}
