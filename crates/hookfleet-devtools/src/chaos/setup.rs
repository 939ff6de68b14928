//! The chaos run's traffic and bookkeeping: subscriptions, the posting clients (which retry a
//! call with the same idempotency key or op_id until it is accepted, as a careful client
//! would), waiting for the fleet to drain, the table, and leaving nothing behind.
use super::{
    Accepted, CHANNEL_PASSWORD, ChaosArgs, LADDER, ORGS, SCHEMA, Sub, TOKEN, TYPES,
    check::Findings,
    faults::Fault,
    receivers::{Behaviour, Receiver},
};
use anyhow::Context;
use futures_util::{StreamExt, stream};
use hookfleet_bus::Topology;
use hookfleet_store::Store;
use serde_json::{Value, json};
use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};
use tokio_util::sync::CancellationToken;

/// The run's names; its shard count is what the roles read (they inherit this environment).
pub(super) fn topology() -> Topology {
    let shards = std::env::var("HOOKFLEET_SHARDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(hookfleet_bus::DEFAULT_SHARDS);
    Topology::new(format!("{SCHEMA}.")).with_shards(shards)
}

fn rungs() -> Vec<Duration> {
    LADDER
        .split(',')
        .filter_map(|d| hookfleet_core::parse_duration(d).ok())
        .collect()
}

pub(super) async fn wait_ready(
    http: &reqwest::Client,
    api: &str,
    deadline: Instant,
) -> anyhow::Result<()> {
    while Instant::now() < deadline {
        let ready = http.get(format!("{api}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!("the producer never became ready")
}

pub(super) async fn subscribe(
    http: &reqwest::Client,
    api: &str,
    stop: &CancellationToken,
) -> anyhow::Result<Vec<Sub>> {
    type Plan = (
        &'static str,
        Behaviour,
        Vec<&'static str>,
        Option<Vec<&'static str>>,
    );
    let plan: [Plan; 5] = [
        ("all", Behaviour::Ok, vec!["#"], None),
        (
            "orders-o1",
            Behaviour::Ok,
            vec!["order.*"],
            Some(vec!["o1"]),
        ),
        ("flaky", Behaviour::Flaky, vec!["order.#", "user.*"], None),
        (
            "gone",
            Behaviour::Gone,
            vec!["user.*"],
            Some(vec!["o2", "o3"]),
        ),
        ("hang", Behaviour::Hang, vec!["audit.*"], None),
    ];
    let mut subs = Vec::new();
    for (name, behaviour, types, organizations) in plan {
        let receiver = Receiver::start(behaviour, stop.clone()).await?;
        let mut body = json!({"url": receiver.url, "event_types": types, "description": name,
                              "max_in_flight": 200});
        if let Some(o) = &organizations {
            body["organizations"] = json!(o);
        }
        let created: Value = http
            .post(format!("{api}/v1/subscriptions"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = created["id"].as_str().context("no subscription id")?;
        subs.push(Sub {
            id: id.to_owned(),
            name,
            types,
            organizations,
            receiver,
        });
    }
    Ok(subs)
}

pub(super) async fn create_channel(http: &reqwest::Client, api: &str) -> anyhow::Result<String> {
    let created: Value = http
        .post(format!("{api}/v1/channels"))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "chaos", "password": CHANNEL_PASSWORD}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(created["id"].as_str().context("no channel id")?.to_owned())
}

/// Call `i`: every tenth a lifecycle create on `channel`, one in 500 an `audit.read` (to the
/// hanging receiver), the rest native events over six types and three organizations.
fn call(
    http: &reqwest::Client,
    api: &str,
    channel: &str,
    i: usize,
) -> (reqwest::RequestBuilder, Accepted) {
    if i % 10 == 9 {
        let op_id = format!("chaos-op-{i}");
        let body = json!({"channel_id": channel, "password": CHANNEL_PASSWORD, "op_id": op_id,
            "title": "chaos", "status": "running", "message": format!("call {i}"),
            "severity": "normal", "event_time": 1_713_750_000_000u64 + i as u64,
            "started_at": 1_713_750_000_000u64});
        let accepted = Accepted {
            event_type: "event.created".into(),
            organization: channel.to_owned(),
            event_id: None,
            op_id: Some(op_id),
        };
        return (
            http.post(format!("{api}/event/create")).json(&body),
            accepted,
        );
    }
    let event_type = if i.is_multiple_of(500) {
        "audit.read"
    } else {
        TYPES[i % TYPES.len()]
    };
    let org = ORGS[(i / 7) % ORGS.len()];
    let body = json!({"type": event_type, "organization_ids": [org], "data": {"i": i},
                      "idempotency_key": format!("chaos-{i}")});
    let accepted = Accepted {
        event_type: event_type.into(),
        organization: org.into(),
        event_id: None,
        op_id: None,
    };
    let request = http
        .post(format!("{api}/v1/events"))
        .bearer_auth(TOKEN)
        .json(&body);
    (request, accepted)
}

/// Posts call `i` until it is accepted (2xx) or the deadline passes.
async fn post_one(
    http: &reqwest::Client,
    api: &str,
    channel: &str,
    i: usize,
    deadline: Instant,
) -> anyhow::Result<Accepted> {
    loop {
        let (request, mut accepted) = call(http, api, channel, i);
        if let Ok(res) = request.send().await
            && res.status().is_success()
            && let Ok(body) = res.json::<Value>().await
        {
            if accepted.op_id.is_none() {
                let id = body["id"]
                    .as_str()
                    .context("an accepted event without id")?;
                accepted.event_id = Some(id.to_owned());
            }
            return Ok(accepted);
        }
        anyhow::ensure!(Instant::now() < deadline, "call {i} was never accepted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(super) async fn post_all(
    http: reqwest::Client,
    api: String,
    channel: String,
    events: usize,
    concurrency: usize,
    deadline: Instant,
) -> anyhow::Result<Vec<Accepted>> {
    stream::iter(0..events)
        .map(|i| post_one(&http, &api, &channel, i, deadline))
        .buffer_unordered(concurrency.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// Waits until nothing is pending or waiting for a retry, every event is routed and every
/// work queue is empty; returns (messages left in work queues, messages parked).
pub(super) async fn drain(
    args: &ChaosArgs,
    store: &Store,
    subs: &[Sub],
    deadline: Instant,
) -> anyhow::Result<(u64, u64)> {
    let topology = topology();
    let mut queues = vec![topology.ingest()];
    queues.extend(subs.iter().map(|s| topology.subscription_queue(&s.id)));
    queues.extend((0..topology.shards()).map(|n| topology.shard_queue(n)));
    queues.extend(rungs().into_iter().map(|d| topology.retry_rung(d)));
    let mut last_report = Instant::now();
    loop {
        let session = hookfleet_bus::connect(&args.amqp_url, "chaos-check")
            .await
            .context("connect to count the queues")?;
        let mut left = 0u64;
        for q in &queues {
            left += depth(&session, q).await?;
        }
        let parked = depth(&session, &topology.dead()).await?;
        session.close().await;
        let backlog = store.backlog().await?;
        let (waiting, unrouted) = (backlog.waiting, backlog.unrouted);
        if left == 0 && waiting == 0 && unrouted == 0 {
            return Ok((0, parked));
        }
        if Instant::now() > deadline {
            println!(
                "chaos: gave up draining: {left} queued, {waiting} waiting, {unrouted} unrouted"
            );
            return Ok((left, parked));
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            println!(
                "chaos: draining: {left} queued, {waiting} pending or waiting for a retry, {unrouted} unrouted"
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A queue's depth on a channel of its own: a queue never declared (a rung no retry used) is
/// empty, and its 404 closes only that channel.
async fn depth(session: &hookfleet_bus::Session, queue: &str) -> anyhow::Result<u64> {
    let admin = session.admin().await.context("open a channel")?;
    match admin.queue_depth(queue).await {
        Ok(n) => Ok(u64::from(n)),
        Err(_) if session.is_connected() => Ok(0),
        Err(e) => Err(e).with_context(|| format!("count {queue}")),
    }
}

/// Removes the run's queues and schema, whatever happened.
pub(super) async fn cleanup(args: &ChaosArgs, database_url: &str) {
    let ids: Vec<String> = match Store::connect(database_url, 1) {
        Ok(store) => (store.all_subscription_ids().await)
            .map(|ids| ids.iter().map(ToString::to_string).collect())
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    if let Ok(session) = hookfleet_bus::connect(&args.amqp_url, "chaos-cleanup").await {
        if let Ok(admin) = session.admin().await {
            let _ = admin.delete_namespace(&topology(), &ids, &rungs()).await;
        }
        session.close().await;
    }
    let _ = hookfleet_store::fixtures::drop_schema(&args.database_url, SCHEMA).await;
}

pub(super) fn print_table(
    f: &Findings,
    faults: &BTreeMap<Fault, usize>,
    elapsed: Duration,
    posted: usize,
) {
    let mut rows: Vec<(String, String)> = vec![
        (
            "calls posted (every one retried until accepted)".into(),
            posted.to_string(),
        ),
        ("events answered 2xx".into(), f.accepted.to_string()),
        ("  of them in the record".into(), f.recorded.to_string()),
        (
            "copies expected (event × matching subscription)".into(),
            f.copies_expected.to_string(),
        ),
        ("  delivered".into(), f.delivered.to_string()),
        ("  exhausted and parked".into(), f.exhausted.to_string()),
        (
            "  still pending after the drain".into(),
            f.pending.to_string(),
        ),
        ("LOST (must be 0)".into(), f.lost.to_string()),
        (
            "attempts recorded twice or skipped (must be 0)".into(),
            f.attempts_twice.to_string(),
        ),
        (
            "answers recorded the receiver never gave (must be 0)".into(),
            f.recorded_not_seen.to_string(),
        ),
        (
            "requests for deliveries not in the record (must be 0)".into(),
            f.seen_not_recorded.to_string(),
        ),
        (
            "recorded delivered, never answered 2xx (must be 0)".into(),
            f.delivered_unseen.to_string(),
        ),
        (
            "copies to a subscription that did not match (must be 0)".into(),
            f.unexpected.to_string(),
        ),
        (
            "duplicates seen by receivers (at least once allows them)".into(),
            f.duplicates.to_string(),
        ),
        (
            "messages left in work queues (must be 0)".into(),
            f.left_in_queues.to_string(),
        ),
        (
            "messages parked in hookfleet.dead".into(),
            f.parked.to_string(),
        ),
        ("run time".into(), format!("{:.0} s", elapsed.as_secs_f64())),
    ];
    if let Some(n) = f.by_limit {
        rows.push((
            "dead-lettered by the delivery limit (must be 0)".into(),
            n.to_string(),
        ));
    }
    if let Some(n) = f.seen_while_node_down {
        rows.push((
            "requests receivers got while a cluster node was stopped".into(),
            n.to_string(),
        ));
    }
    println!("\n| what | count |\n|---|---:|");
    for (what, n) in rows {
        println!("| {what} | {n} |");
    }
    println!("\n| fault injected | times |\n|---|---:|");
    for (fault, n) in faults {
        println!("| {} | {n} |", fault.name());
    }
}
