//! `hookfleet-dev bench`: end-to-end throughput and latency on this machine. It runs the whole
//! fleet in this process (its roles started through the launcher, as `hookfleet all` does) against the local RabbitMQ and PostgreSQL (in a namespace and schema
//! of its own, removed afterwards), subscribes a loopback receiver N times, posts events over
//! HTTP with bounded concurrency, and measures from the start of each `POST /v1/events` to the
//! receiver getting each copy. Traffic goes only to 127.0.0.1. `hookfleet-dev bench passwords` is
//! a scenario of its own (see `passwords`).
mod backlog;
mod keycloak;
mod lifecycle;
mod partner;
mod passwords;
mod poster;
mod prune;
mod report;
mod scale;
mod setup;

use report::{Figures, RssSampler};
use setup::{Fleet, Sandbox, start_fleet, start_processes, start_receiver, subscribe};

use poster::Poster;

use crate::fleet::Target;
use anyhow::Context;
use axum::{body::Bytes, extract::State};
use hookfleet_core::EventId;
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    /// A scenario of its own instead of the delivery benchmark.
    #[command(subcommand)]
    kind: Option<BenchKind>,
    /// Subscription counts to measure, one scenario each.
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    subscriptions: Vec<usize>,
    /// Events posted per scenario (after a warm-up of 500 deliveries' worth).
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Events posted in a scenario of 100 or more subscriptions (each is delivered to all of
    /// them), so `--subscriptions 1,8,1000` runs the whole sequence in one command.
    #[arg(long, default_value_t = 100)]
    wide_events: usize,
    /// Concurrent `POST /v1/events` requests.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Events per request: above 1, the native dialect posts them to `POST /v1/events/batch`.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
    batch: u16,
    /// Post at this many events/s (0: as fast as the concurrency allows). A rate below capacity
    /// shows the latency of a fleet that keeps up; unlimited shows throughput under backlog.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Also subscribe this many endpoints that never answer (isolation: the measured endpoint
    /// should keep its throughput while they hold their in-flight slots until the timeout).
    #[arg(long, default_value_t = 0)]
    hanging: usize,
    /// Also subscribe this many endpoints to an event type that is never posted: idle
    /// subscriptions, each with its queue and consumer (`--subscriptions 100 --idle 9900` is
    /// a hot 1 % among 10,000).
    #[arg(long, default_value_t = 0)]
    idle: usize,
    /// Type of the subscription queues (`quorum` or `classic`), as `HOOKFLEET_SUBSCRIPTION_QUEUES`.
    #[arg(long, default_value = "quorum")]
    subscription_queues: hookfleet_bus::QueueKind,
    /// Shard queues of the shared tier, as `HOOKFLEET_SHARDS`: 0 puts every subscription on
    /// the own tier (a queue each), anything else the unordered ones on the shared tier.
    #[arg(long, default_value_t = hookfleet_bus::DEFAULT_SHARDS)]
    shards: u16,
    /// After the run, delete every subscription over the API and report the rate.
    #[arg(long)]
    delete: bool,
    /// Fairness beside a huge backlog: before the measured run, give one more subscription,
    /// whose endpoint answers after 1 s and takes one request at a time, this many waiting
    /// copies (events of a type of their own, posted in batches of 500), and wait until all
    /// are routed. The measured subscriptions then take only `bench.tick`; with `--shards 1`
    /// they share the slow one's shard. Native dialect only.
    #[arg(long, default_value_t = 0)]
    backlog: usize,
    /// Each measured subscription takes a type of its own (`bench.tick.<n>`) and event `i` is
    /// of type `bench.tick.<i mod subscriptions>`: the events are shared among them instead of
    /// each reaching all (`--rate 100` is then 100 deliveries/s in all). Native dialect only.
    #[arg(long)]
    spread: bool,
    /// Time limit of one delivery attempt (the hanging endpoints hold slots this long).
    #[arg(long, default_value = "15s", value_parser = hookfleet_core::parse_duration)]
    delivery_timeout: Duration,
    /// Run the producer, one router and this many delivery workers as separate processes of
    /// the `hookfleet` binary (the bench's client and receiver stay here), and report each
    /// role's CPU per delivery; without it the whole fleet runs in this process.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=16))]
    processes: Option<u16>,
    /// The `hookfleet` binary `--processes` runs the roles with (default: the one next to
    /// this `hookfleet-dev`).
    #[arg(long)]
    hookfleet_bin: Option<std::path::PathBuf>,
    /// Which intake route the client posts to: `native` (`POST /v1/events`), `partner`
    /// (`POST /v1/installations/{id}/events`, with a key scoped to the installation),
    /// `lifecycle-create` (`POST /event/create` on one channel), `lifecycle-update`
    /// (`POST /event/update`, spread over 1,000 open events created beforehand) or `keycloak`
    /// (signed `POST /v1/hooks/keycloak` calls, enriched from a stand-in admin API).
    #[arg(long, value_enum, default_value_t = Dialect::Native)]
    dialect: Dialect,
    /// The measured subscriptions' profile (`standard-webhooks`, `innervoice`).
    #[arg(long, default_value = "standard-webhooks")]
    profile: String,
    /// Give up on a scenario after this many seconds.
    #[arg(long, default_value_t = 180)]
    timeout_secs: u64,
    #[arg(
        long,
        env = "HOOKFLEET_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
    /// Database in which each scenario gets a schema of its own (created if missing).
    #[arg(
        long,
        default_value = "postgres://postgres@127.0.0.1:5432/hookfleet_bench"
    )]
    database_url: String,
    /// Before the fleet starts, write this many finished deliveries (with their events and
    /// attempts) received 40 days ago, for the pruner to work through during the run.
    #[arg(long, default_value_t = 0)]
    seed_old_rows: i64,
    /// The producer's retention age, as `HOOKFLEET_RETENTION` (`off` keeps everything).
    #[arg(long, default_value = "30d")]
    retention: String,
}

#[derive(Debug, Clone, clap::Subcommand)]
enum BenchKind {
    /// A flood of wrong channel passwords against a `hookfleet producer` child process: its
    /// memory during and after, and how fast right passwords on unverified channels are
    /// answered meanwhile.
    Passwords(passwords::PasswordBenchArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Dialect {
    Native,
    Partner,
    LifecycleCreate,
    LifecycleUpdate,
    /// Signed identity-provider hook calls (`POST /v1/hooks/keycloak`), enriched from a
    /// stand-in admin API the bench serves.
    Keycloak,
}

use partner::BENCH_INSTALLATION;

#[derive(Default)]
struct Tally {
    started: HashMap<String, Instant>,
    latencies_us: Vec<u64>,
    last: Option<Instant>,
}

struct Rx {
    tally: Mutex<Tally>,
    count: AtomicUsize,
    /// Deliveries the slow endpoint (`--backlog`) answered.
    slow: AtomicUsize,
}

#[derive(serde::Deserialize)]
struct IdOnly<'a> {
    #[serde(borrow)]
    id: &'a str,
}

async fn receive(State(rx): State<Arc<Rx>>, body: Bytes) -> &'static str {
    let now = Instant::now();
    let mut t = rx.tally.lock().unwrap_or_else(|p| p.into_inner());
    // Bodies that carry no event id (the `innervoice` profile's) count, without a latency.
    if let Ok(b) = serde_json::from_slice::<IdOnly>(&body)
        && let Some(start) = t.started.get(b.id).copied()
    {
        t.latencies_us
            .push(now.duration_since(start).as_micros() as u64);
    }
    t.last = Some(now);
    drop(t);
    rx.count.fetch_add(1, Ordering::Relaxed);
    "ok"
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(BenchKind::Passwords(p)) = args.kind {
        return passwords::run(p).await;
    }
    hookfleet_store::ensure_database(&args.database_url)
        .await
        .context("Failed to create the benchmark database")?;
    let pace = if args.rate == 0 {
        "unpaced".to_owned()
    } else {
        format!("paced at {} events/s", args.rate)
    };
    let fleet = match args.processes {
        Some(n) => format!("roles as hookfleet processes ({n} delivery worker(s))"),
        None => "fleet in-process".to_owned(),
    };
    println!(
        "hookfleet-dev bench: {} events per scenario, {} concurrent POSTs of {} event(s) {pace} to the {:?} route, {fleet}, loopback receiver",
        args.events, args.concurrency, args.batch, args.dialect
    );
    if args.processes.is_some() {
        // Named before any scenario creates its schema and queues.
        crate::procs::hookfleet_bin(args.hookfleet_bin.as_deref())?;
    }
    anyhow::ensure!(
        args.processes.is_none() || args.dialect != Dialect::Keycloak,
        "--processes does not take the keycloak dialect (its stand-in admin API lives in this process)"
    );
    anyhow::ensure!(
        !args.spread || args.dialect == Dialect::Native,
        "--spread takes the native dialect only"
    );
    let mut rows = Vec::new();
    for &subs in &args.subscriptions {
        rows.push(
            scenario(&args, subs)
                .await
                .with_context(|| format!("The {subs}-subscription scenario failed"))?,
        );
    }
    report::print_table(&rows);
    Ok(())
}

async fn scenario(args: &BenchArgs, subs: usize) -> anyhow::Result<Figures> {
    let sandbox = Sandbox::create(
        &args.amqp_url,
        &args.database_url,
        args.subscription_queues,
        args.shards,
    )
    .await?;
    let result = measure(args, subs, &sandbox.target).await;
    // Leave nothing behind, whatever happened.
    sandbox.remove().await?;
    result
}

async fn measure(args: &BenchArgs, subs: usize, target: &Target) -> anyhow::Result<Figures> {
    let rss = RssSampler::start();
    let store = target.store(1)?;
    store.migrate().await?;
    prune::seed(&store, args.seed_old_rows).await?;
    let rx = Arc::new(Rx {
        tally: Mutex::new(Tally::default()),
        count: AtomicUsize::new(0),
        slow: AtomicUsize::new(0),
    });
    let shutdown = CancellationToken::new();
    let receiver_url = start_receiver(rx.clone(), &shutdown).await?;
    let (api, token, fleet) = match args.processes {
        Some(workers) => {
            let bin = crate::procs::hookfleet_bin(args.hookfleet_bin.as_deref())?;
            start_processes(target, bin, usize::from(workers), &args.retention).await?
        }
        None => {
            let (api, token, task) = start_fleet(args, target, &shutdown).await?;
            (api, token, Fleet::InProcess(task))
        }
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()?;
    crate::fleet::wait_ready(&http, &api, Duration::from_secs(30)).await?;
    let credential = match args.dialect {
        Dialect::Partner => partner::key(&http, &api, &token).await?,
        _ => token.clone(),
    };
    let channel = match args.dialect {
        Dialect::LifecycleCreate | Dialect::LifecycleUpdate => Some(Arc::new(
            lifecycle::setup(&http, &api, &token, args.dialect).await?,
        )),
        _ => None,
    };
    let broker_start_mib = scale::broker_mib(&http).await;
    // After the setup: its calls are not delivered, as nothing is subscribed yet.
    let created = Instant::now();
    subscribe(&http, &api, &token, &receiver_url, subs, args).await?;
    let create_secs = created.elapsed().as_secs_f64();
    // Timing starts once the workers consume every own queue and every shard.
    let queues = scale::subscription_queues(target).await?;
    scale::wait_consumed(&target.amqp_url, &queues, 1, Duration::from_secs(300)).await?;
    let ready_secs = created.elapsed().as_secs_f64();
    let poster = Poster {
        http: http.clone(),
        api: api.clone(),
        token: credential,
        dialect: args.dialect,
        channel,
        run_id: EventId::random().as_str()[20..].to_owned(),
        concurrency: args.concurrency,
        batch: if args.dialect == Dialect::Native {
            usize::from(args.batch)
        } else {
            1
        },
        rate: args.rate,
        rx: rx.clone(),
        event_type: "bench.tick",
        track: true,
        spread: args.spread.then_some(subs),
    };
    let slow = match args.backlog {
        0 => None,
        n => Some(
            backlog::fill(
                &http,
                &api,
                &token,
                &receiver_url,
                &poster,
                n,
                args.timeout_secs,
            )
            .await?,
        ),
    };
    let cpu = report::CpuMeter::start(&fleet.roles());
    let watch = prune::Watch::start(&store, args.seed_old_rows).await?;
    let mut figures = timed_run(args, subs, &poster, &rx, &rss).await?;
    watch.report().await?;
    if let Some(slow) = &slow {
        slow.report(&http, &api, &token, &rx).await?;
    }
    figures.cpu_us = cpu.per_delivery(figures.all_deliveries);
    figures.create_secs = create_secs;
    figures.ready_secs = ready_secs;
    figures.broker_mib = scale::broker_mib(&http).await;
    figures.broker_start_mib = broker_start_mib;
    figures.role_mib = report::role_memory(&fleet.roles());
    // Memory after the drain: what the fleet keeps once the backlog is gone.
    tokio::time::sleep(Duration::from_secs(3)).await;
    figures.rss_after_mib = report::rss_mib();
    // Last, as the extra worker's memory would count in this process's.
    if subs + args.idle + args.hanging >= 1_000 {
        figures.worker_start_secs = Some(scale::cold_start(target, &queues).await?);
    }
    if args.delete {
        figures.delete_secs = Some(setup::unsubscribe_all(&http, &api, &token, target).await?);
    }
    shutdown.cancel();
    fleet.stop().await?;
    Ok(figures)
}

/// A warm-up (500 deliveries' worth: at least 5 events, or 1 at 1,000 subscriptions and more), then the measured run; prints one line
/// of figures and returns them for the closing table.
async fn timed_run(
    args: &BenchArgs,
    subs: usize,
    poster: &Poster,
    rx: &Rx,
    rss: &RssSampler,
) -> anyhow::Result<Figures> {
    // 500 deliveries' worth: at least 5 events, or 1 where one event is thousands of them.
    // Copies of each event: one when the events are spread among the subscriptions.
    let fanout = if args.spread { 1 } else { subs };
    let warmup = (500 / fanout.max(1)).max(if subs >= 1_000 { 1 } else { 5 });
    poster.post(0..warmup).await?;
    report::wait_for(
        rx,
        warmup * fanout,
        Duration::from_secs(args.timeout_secs.max(60)),
    )
    .await?;
    {
        let mut t = rx.tally.lock().unwrap_or_else(|p| p.into_inner());
        t.latencies_us.clear();
        t.started.clear();
    }
    rx.count.store(0, Ordering::SeqCst);
    rss.reset_peak();
    let started = Instant::now();
    let events = if subs >= 100 {
        args.wide_events
    } else {
        args.events
    };
    let posted = poster.post(warmup..warmup + events).await?;
    let expected = events * fanout;
    report::wait_for(rx, expected, Duration::from_secs(args.timeout_secs)).await?;
    let (mut lat, last) = {
        let t = rx.tally.lock().unwrap_or_else(|p| p.into_inner());
        (t.latencies_us.clone(), t.last.unwrap_or_else(Instant::now))
    };
    let elapsed = last.duration_since(started).as_secs_f64();
    lat.sort_unstable();
    let hanging = report::others(args.hanging, args.idle);
    let figures = Figures {
        subs,
        hanging: args.hanging,
        idle: args.idle,
        events,
        intake_per_s: events as f64 / posted.as_secs_f64(),
        events_per_s: events as f64 / elapsed,
        deliveries_per_s: expected as f64 / elapsed,
        p50_ms: report::percentile(&lat, 0.50),
        p99_ms: report::percentile(&lat, 0.99),
        max_ms: report::percentile(&lat, 1.0),
        create_secs: 0.0,
        ready_secs: 0.0,
        worker_start_secs: None,
        broker_mib: None,
        rss_start_mib: rss.start_mib(),
        rss_peak_mib: rss.peak_mib(),
        rss_after_mib: 0.0,
        all_deliveries: (warmup + events) * fanout,
        processes: args.processes.map(usize::from),
        cpu_us: Vec::new(),
        role_mib: Vec::new(),
        broker_start_mib: None,
        delete_secs: None,
        shards: args.shards,
    };
    println!(
        "{subs} subscription(s){hanging}: {} events -> {} deliveries in {elapsed:.2} s | intake {:.0} events/s | delivered {:.0} events/s, {:.0} deliveries/s | latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms | RSS peak {:.0} MiB",
        events,
        rx.count.load(Ordering::SeqCst),
        figures.intake_per_s,
        figures.events_per_s,
        figures.deliveries_per_s,
        figures.p50_ms,
        figures.p99_ms,
        figures.max_ms,
        figures.rss_peak_mib,
    );
    Ok(figures)
}
