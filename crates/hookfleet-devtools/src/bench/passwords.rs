//! `hookfleet-dev bench passwords`: a real `hookfleet producer` child process under a flood of
//! wrong channel passwords on `/event/create`, unauthenticated (no gateway token), as a hostile
//! tester would send it. Measured: the producer's resident memory (`VmRSS` of
//! `/proc/<pid>/status`) when idle, at most during the flood and a while after it, and the
//! latency of right-password calls on channels the producer has never verified, sent at a
//! steady pace during the flood. Traffic goes only to 127.0.0.1, bounded in count and time;
//! the scenario's schema and queues are removed afterwards.
use super::{
    report::{percentile, status_mib},
    setup::{RoleEnv, Sandbox, free_port},
};
use crate::procs::{Procs, hookfleet_bin};
use anyhow::Context;
use serde_json::json;
use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst},
    },
    time::{Duration, Instant},
};

/// The bars: RSS within this much of idle during the flood, and after it.
const FLOOD_MIB: f64 = 64.0;
const AFTER_MIB: f64 = 16.0;
const PROBE_P99_MS: f64 = 500.0;

#[derive(Debug, Clone, clap::Args)]
pub struct PasswordBenchArgs {
    /// Wrong passwords in the flood (each distinct), spread evenly over the flooded channels.
    #[arg(long, default_value_t = 10_000)]
    wrong: usize,
    /// Channels the flood is spread over.
    #[arg(long, default_value_t = 10)]
    channels: usize,
    /// Wrong-password requests in flight at once (the attacker's connections).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Wrong passwords sent per second (0: as fast as the concurrency allows). 200/s is over
    /// what two argon2 threads can check (~110/s), so every channel's queue stays full.
    #[arg(long, default_value_t = 200)]
    rate: u64,
    /// Channels never verified before, one right-password call on each, sent at
    /// `--probe-rate` while the flood lasts (250 outlast the default flood of 50 s).
    #[arg(long, default_value_t = 250)]
    probes: usize,
    /// Right-password calls on probe channels per second, each on its own connection.
    #[arg(long, default_value_t = 4)]
    probe_rate: u64,
    /// When RSS is read again after the flood ended.
    #[arg(long, default_value = "60s", value_parser = hookfleet_core::parse_duration)]
    after: Duration,
    /// `on`: the producer's default lockout; `off`: HOOKFLEET_PASSWORD_MAX_LOCKOUT=off, so
    /// only the queue's caps and turns stand between the flood and the probes.
    #[arg(long, value_enum, default_value_t = Switch::On)]
    lockout: Switch,
    /// The `hookfleet` binary to start as the producer (default: the one next to this
    /// `hookfleet-dev`), to measure another build (an older commit) with the same flood.
    #[arg(long)]
    producer_bin: Option<std::path::PathBuf>,
    /// Give up on the flood after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
    #[arg(
        long,
        env = "HOOKFLEET_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
    /// Database in which the run gets a schema of its own (created if missing).
    #[arg(
        long,
        default_value = "postgres://postgres@127.0.0.1:5432/hookfleet_bench"
    )]
    database_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Switch {
    On,
    Off,
}

const FLOODED_PASSWORD: &str = "bench-flooded-password";
/// Every probe channel's password: a channel is remembered only once verified, whatever its
/// password, so each probe is a first-time check.
const PROBE_PASSWORD: &str = "bench-probe-password";

pub async fn run(args: PasswordBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.channels > 0 && args.concurrency > 0 && args.probe_rate > 0,
        "--channels, --concurrency and --probe-rate must be at least 1"
    );
    hookfleet_store::ensure_database(&args.database_url)
        .await
        .context("Failed to create the benchmark database")?;
    let sandbox = Sandbox::create(
        &args.amqp_url,
        &args.database_url,
        hookfleet_bus::QueueKind::Classic,
        hookfleet_bus::DEFAULT_SHARDS,
    )
    .await?;
    let result = measure(&args, &sandbox).await;
    sandbox.remove().await?;
    result
}

async fn measure(args: &PasswordBenchArgs, sandbox: &Sandbox) -> anyhow::Result<()> {
    let target = &sandbox.target;
    target.store(1)?.migrate().await?;
    let metrics = format!("127.0.0.1:{}", free_port()?);
    let mut extra = vec![("HOOKFLEET_METRICS_ADDR", metrics.clone())];
    if args.lockout == Switch::Off {
        extra.push(("HOOKFLEET_PASSWORD_MAX_LOCKOUT", "off".into()));
    }
    let bin = hookfleet_bin(args.producer_bin.as_deref())?;
    let roles = RoleEnv::new(target, bin, extra)?;
    let (api, token) = (roles.api.clone(), roles.token.clone());
    let procs = Procs::start(roles.env, 0, 0).await?;
    let pid = procs.producer.pid().context("the producer has no pid")?;
    let outcome = drive(args, &api, &token, pid, &metrics).await;
    procs.stop().await;
    outcome
}

async fn drive(
    args: &PasswordBenchArgs,
    api: &str,
    token: &str,
    pid: u32,
    metrics: &str,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency + 16)
        .timeout(Duration::from_secs(60))
        .build()?;
    crate::fleet::wait_ready(&http, api, Duration::from_secs(30)).await?;
    let rss = |field| status_mib(&pid.to_string(), field);
    let fresh = rss("VmRSS:");
    let flooded = create_channels(&http, api, token, args.channels, FLOODED_PASSWORD).await?;
    let probes = create_channels(&http, api, token, args.probes, PROBE_PASSWORD).await?;
    // Idle: after the setup's hashes, once the producer has had a moment to settle.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle = rss("VmRSS:");
    let bin = args.producer_bin.as_ref().map_or_else(
        || "the hookfleet binary next to this one".to_owned(),
        |b| b.display().to_string(),
    );
    println!(
        "hookfleet-dev bench passwords: producer pid {pid} ({bin}), lockout {:?}; RSS {fresh:.1} MiB at start, {idle:.1} MiB idle after creating {} channels",
        args.lockout,
        args.channels + args.probes
    );

    let peak = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = tokio::spawn({
        let (peak, sampling, pid) = (peak.clone(), sampling.clone(), pid.to_string());
        async move {
            while sampling.load(SeqCst) {
                let kib = (status_mib(&pid, "VmRSS:") * 1024.0) as u64;
                peak.fetch_max(kib, SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    let done = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let prober = tokio::spawn(probe(
        http.clone(),
        api.to_owned(),
        probes,
        args.probe_rate,
        done.clone(),
    ));
    let flood = tokio::time::timeout(
        Duration::from_secs(args.timeout_secs),
        flood(&http, api, &flooded, args),
    )
    .await
    .context("the flood did not end within --timeout-secs")??;
    done.store(true, SeqCst);
    let flood_secs = started.elapsed().as_secs_f64();
    let mut latencies = prober.await.context("the probe task panicked")??;
    sampling.store(false, SeqCst);
    let _ = sampler.await;
    let flood_peak = peak.load(SeqCst) as f64 / 1024.0;
    let mut after = Vec::new();
    let ended = Instant::now();
    for mark in [1, 10, 30]
        .map(Duration::from_secs)
        .into_iter()
        .chain([args.after])
    {
        if mark > args.after {
            continue;
        }
        tokio::time::sleep(mark.saturating_sub(ended.elapsed())).await;
        after.push((mark, rss("VmRSS:")));
    }
    let hwm = rss("VmHWM:");
    let counters = producer_counters(&http, metrics).await;

    latencies.statuses.sort_unstable();
    let mut ms: Vec<u64> = latencies.micros.clone();
    ms.sort_unstable();
    let (p50, p99, max) = (
        percentile(&ms, 0.50),
        percentile(&ms, 0.99),
        percentile(&ms, 1.0),
    );
    let last_after = after.last().map_or(f64::NAN, |(_, m)| *m);
    println!(
        "flood: {} wrong passwords over {} channels in {flood_secs:.1} s ({:.0}/s, {} in flight) -> {}",
        args.wrong,
        args.channels,
        args.wrong as f64 / flood_secs,
        args.concurrency,
        tally(&flood)
    );
    println!(
        "probes: {} right passwords on unverified channels during the flood -> {}; latency p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms",
        ms.len(),
        tally(&latencies.statuses)
    );
    let after_text: Vec<String> = after
        .iter()
        .map(|(d, m)| format!("{} s {m:.1}", d.as_secs()))
        .collect();
    println!(
        "producer RSS MiB: idle {idle:.1}, flood peak {flood_peak:.1} (+{:.1}), after the flood: {} (+{:.1}); VmHWM {hwm:.1}",
        flood_peak - idle,
        after_text.join(", "),
        last_after - idle,
    );
    for line in counters {
        println!("  {line}");
    }
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "bars: flood peak within {FLOOD_MIB} MiB of idle: {}; within {AFTER_MIB} MiB {} s after: {}; probe p99 under {PROBE_P99_MS} ms (all 200): {}",
        verdict(flood_peak - idle <= FLOOD_MIB),
        args.after.as_secs(),
        verdict(last_after - idle <= AFTER_MIB),
        verdict(p99 <= PROBE_P99_MS && latencies.statuses.iter().all(|s| s.starts_with("200"))),
    );
    println!();
    println!(
        "| lockout | wrong / channels / rate | flood s | answers | probes | probe p50 / p99 / max ms | RSS idle / flood peak / after {} s MiB |",
        args.after.as_secs()
    );
    println!("|---|---|---:|---|---|---|---|");
    println!(
        "| {:?} | {} / {} / {}/s | {flood_secs:.1} | {} | {} | {p50:.0} / {p99:.0} / {max:.0} | {idle:.1} / {flood_peak:.1} / {last_after:.1} |",
        args.lockout,
        args.wrong,
        args.channels,
        args.rate,
        tally(&flood),
        tally(&latencies.statuses),
    );
    Ok(())
}

/// `n` channels with `password`, made by 8 clients at once; their ids.
async fn create_channels(
    http: &reqwest::Client,
    api: &str,
    token: &str,
    n: usize,
    password: &'static str,
) -> anyhow::Result<Vec<String>> {
    let ids = Arc::new(Mutex::new(vec![String::new(); n]));
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (http, url, token) = (http.clone(), format!("{api}/v1/channels"), token.to_owned());
        let (ids, next) = (ids.clone(), next.clone());
        clients.spawn(async move {
            loop {
                let i = next.fetch_add(1, SeqCst);
                if i >= n {
                    return anyhow::Ok(());
                }
                let made: serde_json::Value = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"name": format!("bench-{i}"), "password": password}))
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                let id = made["id"].as_str().context("no channel id")?.to_owned();
                ids.lock().unwrap_or_else(|p| p.into_inner())[i] = id;
            }
        });
    }
    while let Some(r) = clients.join_next().await {
        r??;
    }
    let ids = std::mem::take(&mut *ids.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(ids)
}

/// A lifecycle create on `channel` with `password`: its status, and the refusal's kind.
async fn call(
    http: &reqwest::Client,
    api: &str,
    channel: &str,
    password: &str,
    op: &str,
) -> String {
    let body = json!({"channel_id": channel, "password": password, "op_id": op,
        "title": "bench", "status": "running", "message": "bench", "severity": "normal",
        "event_time": 1_713_750_000_000u64});
    let res = match http
        .post(format!("{api}/event/create"))
        .json(&body)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            return format!(
                "error ({})",
                if e.is_timeout() { "timeout" } else { "connect" }
            );
        }
    };
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    match status {
        429 if text.contains("locked") => "429 locked".into(),
        429 => "429 busy".into(),
        s => s.to_string(),
    }
}

/// The wrong passwords, paced at `--rate` with at most `--concurrency` in flight; the
/// answer of each.
async fn flood(
    http: &reqwest::Client,
    api: &str,
    channels: &[String],
    args: &PasswordBenchArgs,
) -> anyhow::Result<Vec<String>> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency {
        let (http, api, channels) = (http.clone(), api.to_owned(), channels.to_vec());
        let (next, wrong, rate) = (next.clone(), args.wrong, args.rate);
        senders.spawn(async move {
            let mut answers = Vec::new();
            loop {
                let i = next.fetch_add(1, SeqCst);
                if i >= wrong {
                    return answers;
                }
                if rate > 0 {
                    let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
                    tokio::time::sleep_until(due.into()).await;
                }
                let channel = &channels[i % channels.len()];
                answers.push(
                    call(
                        &http,
                        &api,
                        channel,
                        &format!("wrong-password-{i}"),
                        &format!("w{i}"),
                    )
                    .await,
                );
            }
        });
    }
    let mut answers = Vec::with_capacity(args.wrong);
    while let Some(r) = senders.join_next().await {
        answers.extend(r.context("a flood sender panicked")?);
    }
    Ok(answers)
}

struct Probed {
    micros: Vec<u64>,
    statuses: Vec<String>,
}

/// One right-password call on each probe channel in turn, `rate` per second, until the flood
/// is `done` or the channels run out; each call's latency and answer.
async fn probe(
    http: reqwest::Client,
    api: String,
    channels: Vec<String>,
    rate: u64,
    done: Arc<AtomicBool>,
) -> anyhow::Result<Probed> {
    let started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for (i, channel) in channels.into_iter().enumerate() {
        let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
        if done.load(SeqCst) {
            break;
        }
        let (http, api) = (http.clone(), api.clone());
        calls.spawn(async move {
            let t = Instant::now();
            let status = call(&http, &api, &channel, PROBE_PASSWORD, &format!("p{i}")).await;
            (t.elapsed().as_micros() as u64, status)
        });
    }
    if !done.load(SeqCst) {
        println!("warning: the probe channels ran out before the flood ended (raise --probes)");
    }
    let mut probed = Probed {
        micros: Vec::new(),
        statuses: Vec::new(),
    };
    while let Some(r) = calls.join_next().await {
        let (us, status) = r.context("a probe panicked")?;
        probed.micros.push(us);
        probed.statuses.push(status);
    }
    Ok(probed)
}

/// "200 ×3, 429 busy ×2" from a list of answers.
fn tally(answers: &[String]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for a in answers {
        *counts.entry(a).or_default() += 1;
    }
    counts
        .iter()
        .map(|(k, n)| format!("{k} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The producer's password check counters, from its `/metrics`.
async fn producer_counters(http: &reqwest::Client, metrics: &str) -> Vec<String> {
    let Ok(res) = http.get(format!("http://{metrics}/metrics")).send().await else {
        return vec!["(the producer's /metrics did not answer)".into()];
    };
    let text = res.text().await.unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("hookfleet_channel_"))
        .map(str::to_owned)
        .collect()
}
