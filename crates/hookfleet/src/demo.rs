//! `hookfleet demo`: runs the whole fleet on local defaults, starts a receiver on loopback,
//! subscribes it through the API, posts an event fanned out to two organizations, and prints
//! each signed delivery as the receiver saw it, then the delivery log. The fleet keeps running
//! afterwards (unless `--exit`), so the API can be tried by hand.
use crate::{
    fleet::{self, Roles},
    settings::FleetArgs,
};
use anyhow::Context;
use axum::{Router, body::Bytes, http::HeaderMap, routing::post};
use hookfleet_core::{Secret, signing};
use serde_json::{Value, json};
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Seen {
    secret: Option<Secret>,
    lines: Vec<String>,
}

fn verify(secret: Option<&Secret>, headers: &HeaderMap, body: &[u8]) -> bool {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let (Some(secret), Ok(ts)) = (secret, h(signing::HEADER_TIMESTAMP).parse::<i64>()) else {
        return false;
    };
    let expected = secret.sign(h(signing::HEADER_ID), ts, body);
    h(signing::HEADER_SIGNATURE)
        .split(' ')
        .any(|s| s == expected)
}

pub async fn run(parts: FleetArgs, exit: bool, shutdown: CancellationToken) -> anyhow::Result<()> {
    // The demo's receiver lives on loopback, so this run must deliver to private addresses.
    let mut common = parts.common.clone();
    common.allow_private_targets = true;
    let mut tokens = parts.producer.tokens();
    if tokens.is_empty() {
        tokens.push(crate::generate_token());
    }
    let token = tokens[0].clone();
    let (seen, receiver_url) = start_receiver(&shutdown).await?;
    let listener = fleet::bind(parts.producer.http_addr).await?;
    let api = format!("http://{}", listener.local_addr()?);
    let mut producer = parts.producer.settings(&common, tokens)?;
    // Its subscription's queue goes as soon as it is deleted, before the demo exits: its
    // worker has long been consuming, so the delete races no consume.
    producer.deleted_queue_grace = Duration::ZERO;
    let roles = Roles {
        producer: Some((listener, producer)),
        router: Some(parts.router.settings()?),
        delivery: Some(parts.delivery.settings(&common)?),
    };
    let metrics = crate::telemetry::init_metrics()?;
    // The fleet stops on its own token: on Ctrl-C the demo first removes what it made.
    let fleet_stop = CancellationToken::new();
    let fleet_token = fleet_stop.clone();
    let fleet_common = common.clone();
    let fleet_task =
        tokio::spawn(
            async move { fleet::run(&fleet_common, roles, Some(metrics), fleet_token).await },
        );
    let shown = show(&api, &token, &receiver_url, &seen).await;
    match &shown {
        Err(e) => eprintln!("The demonstration failed: {e:#}"),
        Ok(sub_id) => {
            if !exit {
                println!("\nThe fleet keeps running: API {api} (Authorization: Bearer {token}),");
                println!(
                    "metrics http://{}/metrics. Press Ctrl-C to stop (the demo's subscription goes with it).",
                    common.metrics_addr
                );
                shutdown.cancelled().await;
            }
            // Leave nothing behind, so the next run starts as clean as this one: the demo's
            // subscription (and so its queue) goes with it.
            let removed = reqwest::Client::new()
                .delete(format!("{api}/v1/subscriptions/{sub_id}"))
                .bearer_auth(&token)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if removed {
                println!("Removed the demo's subscription {sub_id}.");
            } else {
                eprintln!("Could not remove the demo's subscription {sub_id}; delete it by hand.");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    fleet_stop.cancel();
    let ran = fleet_task.await.context("The fleet task panicked")?;
    shown?;
    ran
}

/// A receiver on loopback that verifies each delivery's signature and notes what it saw.
async fn start_receiver(
    shutdown: &CancellationToken,
) -> anyhow::Result<(Arc<Mutex<Seen>>, String)> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("Failed to bind the demo receiver")?;
    let receiver_url = format!("http://{}/webhook", receiver.local_addr()?);
    let app_seen = seen.clone();
    let app = Router::new().route(
        "/webhook",
        post(move |headers: HeaderMap, body: Bytes| {
            let seen = app_seen.clone();
            async move {
                let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
                let ok = verify(s.secret.as_ref(), &headers, &body);
                let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                s.lines.push(format!(
                    "  received {} for organization {} in partition {}: webhook-id {}, signature {}",
                    v["type"],
                    v["organization_id"],
                    v["service_partition"],
                    headers.get(signing::HEADER_ID).and_then(|v| v.to_str().ok()).unwrap_or("?"),
                    if ok { "verified" } else { "INVALID" },
                ));
                "ok"
            }
        }),
    );
    let receiver_token = shutdown.clone();
    tokio::spawn(async move {
        let _ = axum::serve(receiver, app)
            .with_graceful_shutdown(receiver_token.cancelled_owned())
            .await;
    });
    Ok((seen, receiver_url))
}

/// Runs the demonstration and returns the id of the subscription it created.
async fn show(
    api: &str,
    token: &str,
    receiver_url: &str,
    seen: &Mutex<Seen>,
) -> anyhow::Result<String> {
    let http = reqwest::Client::new();
    wait_ready(&http, api).await?;
    println!("hookfleet demo: the fleet is up (producer {api}).");

    let sub: Value = http
        .post(format!("{api}/v1/subscriptions"))
        .bearer_auth(token)
        .json(&json!({"url": receiver_url, "event_types": ["user.*"], "description": "demo receiver"}))
        .send()
        .await?
        .error_for_status()
        .context("Creating the subscription failed")?
        .json()
        .await?;
    let secret = sub["secret"]
        .as_str()
        .and_then(Secret::parse)
        .context("The API returned no secret")?;
    seen.lock().unwrap_or_else(|p| p.into_inner()).secret = Some(secret);
    println!("1. Subscribed {receiver_url} to `user.*` as {}.", sub["id"]);

    let event: Value = http
        .post(format!("{api}/v1/events"))
        .bearer_auth(token)
        .json(&json!({
            "type": "user.created",
            "organization_ids": ["acme", "globex"],
            "service_partitions": ["pca.hub.tdi1"],
            "data": {"user_id": "u_42", "email": "ada@example.com"},
        }))
        .send()
        .await?
        .error_for_status()
        .context("Posting the event failed")?
        .json()
        .await?;
    println!(
        "2. Posted `user.created` for 2 organizations × 1 partition as {} (202 Accepted).",
        event["id"]
    );

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if seen.lock().unwrap_or_else(|p| p.into_inner()).lines.len() >= 2 {
            break;
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the receiver got fewer than 2 deliveries in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("3. The receiver got one signed POST per copy:");
    for line in &seen.lock().unwrap_or_else(|p| p.into_inner()).lines {
        println!("{line}");
    }
    print_log(&http, api, token, event["id"].as_str().unwrap_or_default()).await?;
    Ok(sub["id"].as_str().unwrap_or_default().to_owned())
}

/// Waits up to 30 s for the producer's `/readyz` to answer 200.
async fn wait_ready(http: &reqwest::Client, api: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while http
        .get(format!("{api}/readyz"))
        .send()
        .await
        .map(|r| r.status().is_success())
        .ok()
        != Some(true)
    {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the fleet did not become ready in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Prints the event's delivery log once both copies are recorded (or after 10 s).
async fn print_log(
    http: &reqwest::Client,
    api: &str,
    token: &str,
    event_id: &str,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log: Value = http
            .get(format!("{api}/v1/events/{}/deliveries", event_id))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        let recorded = log["data"].as_array().map_or(0, Vec::len);
        if recorded >= 2 || tokio::time::Instant::now() >= deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!("4. The delivery log (GET /v1/events/{{id}}/deliveries):");
    for d in log["data"].as_array().into_iter().flatten() {
        let a = &d["attempts"][0];
        println!(
            "  {} organization {}: {} after {} attempt(s), HTTP {} in {} ms",
            d["id"],
            d["organization_id"],
            d["status"],
            d["attempt_count"],
            a["status_code"],
            a["duration_ms"]
        );
    }
    Ok(())
}
