//! `hookfleet subscriptions list|show|create|delete|disable|enable|recover`.
use super::{Api, enc, print};
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Debug, Subcommand)]
pub enum SubscriptionsCmd {
    /// Every subscription, newest first: id, state, event types, where it delivers.
    List,
    /// One subscription, with what waits for it: its backlog and its parked deliveries.
    Show { id: String },
    /// Subscribe a URL to event types; prints the new subscription and its signing secret.
    Create {
        /// Where deliveries are POSTed.
        #[arg(long)]
        url: String,
        /// An event type or pattern (`user.*`); repeat for several.
        #[arg(long = "event-type", required = true)]
        event_types: Vec<String>,
        /// Only events for this organization; repeat for several (default: all).
        #[arg(long = "organization")]
        organizations: Vec<String>,
        /// Only events of this service partition; repeat for several (default: all).
        #[arg(long = "partition")]
        partitions: Vec<String>,
        /// A note for people reading the subscription list (up to 1,024 characters).
        #[arg(long)]
        description: Option<String>,
    },
    /// Remove a subscription: nothing more is delivered to it.
    Delete { id: String },
    /// Stop delivering to a subscription; its events wait in its queue.
    Disable { id: String },
    /// Deliver to a subscription again, starting with what waited.
    Enable { id: String },
    /// Send again every failed or exhausted delivery created since a time, with a progress bar.
    Recover(super::recover::RecoverArgs),
}

pub(super) async fn run(api: &Api, cmd: SubscriptionsCmd) -> anyhow::Result<()> {
    match cmd {
        SubscriptionsCmd::List => list(api).await,
        SubscriptionsCmd::Show { id } => {
            let s = api.get(&format!("/v1/subscriptions/{}", enc(&id))).await?;
            println!(
                "{}",
                if api.json {
                    print::json(&s)
                } else {
                    detail(&s)
                }
            );
            Ok(())
        }
        SubscriptionsCmd::Create {
            url,
            event_types,
            organizations,
            partitions,
            description,
        } => {
            let mut body = json!({"url": url, "event_types": event_types});
            if !organizations.is_empty() {
                body["organizations"] = json!(organizations);
            }
            if !partitions.is_empty() {
                body["partitions"] = json!(partitions);
            }
            if let Some(d) = description {
                body["description"] = json!(d);
            }
            let s = api
                .call(Method::POST, "/v1/subscriptions", Some(&body))
                .await?;
            if api.json {
                println!("{}", print::json(&s));
            } else {
                println!("{}", detail(&s));
                println!("secret      {}", print::cell(&s["secret"]));
            }
            Ok(())
        }
        SubscriptionsCmd::Delete { id } => {
            let path = format!("/v1/subscriptions/{}", enc(&id));
            api.call(Method::DELETE, &path, None).await?;
            println!("deleted {}", print::clean(&id));
            Ok(())
        }
        SubscriptionsCmd::Disable { id } => switch(api, &id, "disable").await,
        SubscriptionsCmd::Enable { id } => switch(api, &id, "enable").await,
        SubscriptionsCmd::Recover(args) => super::recover::run(api, args).await,
    }
}

/// `POST /v1/subscriptions/{id}/{action}`, then the subscription as it now is.
async fn switch(api: &Api, id: &str, action: &str) -> anyhow::Result<()> {
    let path = format!("/v1/subscriptions/{}/{action}", enc(id));
    let s = api.call(Method::POST, &path, None).await?;
    println!(
        "{}",
        if api.json {
            print::json(&s)
        } else {
            detail(&s)
        }
    );
    Ok(())
}

/// Every page of the list, printed as it arrives.
async fn list(api: &Api) -> anyhow::Result<()> {
    let mut cursor: Option<String> = None;
    let mut rows = Vec::new();
    let mut all = Vec::new();
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/subscriptions?limit=1000&cursor={}", enc(c)),
            None => "/v1/subscriptions?limit=1000".to_owned(),
        };
        let page = api.get(&path).await?;
        for s in page["data"].as_array().into_iter().flatten() {
            if api.json {
                all.push(s.clone());
            } else {
                rows.push(vec![
                    print::cell(&s["id"]),
                    print::cell(&s["state"]),
                    print::cell(&s["event_types"]),
                    target(s),
                ]);
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    if api.json {
        println!("{}", print::json(&Value::Array(all)));
    } else {
        println!(
            "{}",
            print::table(&["ID", "STATE", "EVENT TYPES", "DELIVERS TO"], &rows)
        );
    }
    Ok(())
}

/// Its URL, or `pull` for a pull subscriber.
fn target(s: &Value) -> String {
    match s["url"].as_str() {
        Some(u) => print::clean(u),
        None => print::cell(&s["delivery"]),
    }
}

fn detail(s: &Value) -> String {
    let mut lines = vec![
        format!("id          {}", print::cell(&s["id"])),
        format!("state       {}", print::cell(&s["state"])),
        format!("delivers to {}", target(s)),
        format!("event types {}", print::cell(&s["event_types"])),
        format!("orgs        {}", print::cell(&s["organizations"])),
        format!("partitions  {}", print::cell(&s["partitions"])),
    ];
    if !s["disabled_reason"].is_null() {
        lines.push(format!(
            "disabled    {}",
            print::cell(&s["disabled_reason"])
        ));
    }
    if s.get("backlog").is_some() {
        lines.push(format!("backlog     {}", print::cell(&s["backlog"])));
        lines.push(format!("parked      {}", print::cell(&s["parked"])));
    }
    lines.push(format!("created     {}", print::cell(&s["created_at"])));
    lines.join("\n")
}
