//! `hookfleet-dev chaos`: proves that nothing accepted is lost under every fault this machine
//! can make. It runs the fleet as separate processes of the `hookfleet` binary (a producer, two routers,
//! three delivery workers), posts a stream of events (native and lifecycle routes, several
//! subscriptions with filters, receivers that fail on and off, answer 410 or hang), kills and
//! restarts roles, RabbitMQ (or one node of a `scripts/cluster.sh` cluster at a time) and
//! PostgreSQL on a schedule, waits for the fleet to drain, and checks the record against the
//! receivers' logs and the queues. Loopback only; bounded in events and time. It stops the
//! machine's RabbitMQ and PostgreSQL for a few seconds at a time: run it alone. It reads the
//! record through the store (its fixtures for whole-table reads), never with SQL of its own.
mod check;
mod faults;
mod receivers;
mod setup;

use crate::{delivery_limit, procs};

use anyhow::Context;
use hookfleet_store::fixtures;
use receivers::Receiver;
use setup::{cleanup, create_channel, drain, post_all, print_table, subscribe, wait_ready};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, clap::Args)]
pub struct ChaosArgs {
    /// Events posted (every tenth through the lifecycle route).
    #[arg(long, default_value_t = 50_000)]
    events: usize,
    /// Concurrent posting clients.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Pause between two faults.
    #[arg(long, default_value = "3s", value_parser = hookfleet_core::parse_duration)]
    fault_every: Duration,
    /// The RabbitMQ node URLs (comma-separated for a cluster).
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    amqp_url: String,
    /// Cluster mode: broker faults stop and start nodes with this script
    /// (`scripts/cluster.sh`) instead of restarting the single broker.
    #[arg(long)]
    cluster_script: Option<String>,
    /// The database the run creates, uses and drops.
    #[arg(
        long,
        default_value = "postgres://postgres@127.0.0.1:5432/hookfleet_chaos"
    )]
    database_url: String,
    /// Give up after this many seconds in all.
    #[arg(long, default_value_t = 1800)]
    timeout_secs: u64,
    /// Where the roles' logs go (kept); default: a new directory under the temp dir.
    #[arg(long)]
    logs: Option<std::path::PathBuf>,
    /// The `hookfleet` binary the roles run (default: the one next to this `hookfleet-dev`).
    #[arg(long)]
    hookfleet_bin: Option<std::path::PathBuf>,
    /// Put this delivery limit (RabbitMQ 4's default is 20) on the run's quorum queues as an
    /// operator policy, and fail unless it was in effect and dead-lettered nothing.
    #[arg(long, env = "HOOKFLEET_CHAOS_DELIVERY_LIMIT")]
    delivery_limit: Option<u32>,
    /// The broker's management API, for `--delivery-limit` (any node of a cluster).
    #[arg(long, default_value = "http://guest:guest@127.0.0.1:15672")]
    management_url: String,
}

/// One accepted call: what was sent and what the API answered.
pub(crate) struct Accepted {
    event_type: String,
    organization: String,
    event_id: Option<String>,
    op_id: Option<String>,
}

/// A subscription of the run and its receiver.
pub(crate) struct Sub {
    id: String,
    name: &'static str,
    types: Vec<&'static str>,
    organizations: Option<Vec<&'static str>>,
    receiver: Arc<Receiver>,
}

impl Sub {
    fn matches(&self, event_type: &str, organization: &str) -> bool {
        self.organizations
            .as_ref()
            .is_none_or(|o| o.contains(&organization))
            && (self.types.iter()).any(|p| hookfleet_core::routing::topic_matches(p, event_type))
    }
}

const TYPES: [&str; 6] = [
    "order.placed",
    "user.created",
    "order.paid",
    "user.deleted",
    "order.refunded",
    "user.updated",
];
const ORGS: [&str; 3] = ["o1", "o2", "o3"];
const CHANNEL_PASSWORD: &str = "chaos-channel-password";
const TOKEN: &str = "chaos-admin-token";
/// The run's schema in its database, and the prefix of its queue names.
const SCHEMA: &str = "chaos";
const LADDER: &str = "500ms,1s,2s,4s";

pub async fn run(args: ChaosArgs) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let logs = match &args.logs {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("hookfleet-chaos-{}", std::process::id())),
    };
    std::fs::create_dir_all(&logs).context("create the log directory")?;
    let bin = procs::hookfleet_bin(args.hookfleet_bin.as_deref())?;
    hookfleet_store::ensure_database(&args.database_url).await?;
    fixtures::create_schema(&args.database_url, SCHEMA, true)
        .await
        .context("create the chaos schema")?;
    let database_url = fixtures::url_in_schema(&args.database_url, SCHEMA);
    hookfleet_store::Store::connect(&database_url, 1)?
        .migrate()
        .await
        .context("migrate the chaos schema")?;
    let stop = CancellationToken::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let api = format!("http://127.0.0.1:{port}");
    let env = procs::Env {
        vars: vec![
            ("HOOKFLEET_AMQP_URL", args.amqp_url.clone()),
            ("HOOKFLEET_DATABASE_URL", database_url.clone()),
            ("HOOKFLEET_NAMESPACE", format!("{SCHEMA}.")),
            ("HOOKFLEET_METRICS_ADDR", "127.0.0.1:0".into()),
            ("HOOKFLEET_HTTP_ADDR", format!("127.0.0.1:{port}")),
            ("HOOKFLEET_ADMIN_TOKEN", TOKEN.into()),
            ("HOOKFLEET_ALLOW_PRIVATE_TARGETS", "true".into()),
            ("HOOKFLEET_RETRY_LADDER", LADDER.into()),
            ("HOOKFLEET_DELIVERY_TIMEOUT", "2s".into()),
            ("HOOKFLEET_RECONCILE_INTERVAL", "1s".into()),
            ("RUST_LOG", "warn,lapin=off".into()),
        ],
        logs: logs.clone(),
        bin,
    };
    // Before the roles declare their queues, so each takes the limit from its start.
    let limit = match args.delivery_limit {
        Some(n) => {
            let api = delivery_limit::Management::new(&args.management_url)?;
            let vhost = delivery_limit::vhost_of(&args.amqp_url);
            delivery_limit::apply(&api, &vhost, &format!("{SCHEMA}."), n).await?;
            println!("chaos: delivery-limit {n} on the run's queues (operator policy)");
            Some((api, vhost, n))
        }
        None => None,
    };
    let mut procs = procs::Procs::start(env, 2, 3).await?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let outcome = drive(
        &args,
        &http,
        &api,
        &database_url,
        &mut procs,
        &stop,
        deadline,
    )
    .await;
    procs.stop().await;
    stop.cancel();
    // Last, as it reads the dead queue empty; and before the clean-up deletes the queues.
    let by_limit = match &limit {
        Some((api, vhost, n)) => {
            let found = delivery_limit::check(api, vhost, &format!("{SCHEMA}."), *n).await;
            if let Ok(f) = &found {
                println!("chaos: delivery-limit {n}: {f}");
            }
            let _ = delivery_limit::remove(api, vhost).await;
            Some(found)
        }
        None => None,
    };
    // PostgreSQL was restarted under the run: every check opens a store of its own.
    cleanup(&args, &database_url).await;
    let _ = fixtures::drop_database(&args.database_url).await;
    let (mut findings, faults, elapsed, posted) = outcome?;
    findings.by_limit = by_limit
        .transpose()
        .context("check the delivery limit")?
        .map(|f| f.by_limit);
    print_table(&findings, &faults, elapsed, posted);
    println!("roles' logs: {}", logs.display());
    anyhow::ensure!(
        findings.holds(),
        "an invariant does not hold (see the table)"
    );
    Ok(())
}

type Outcome = (
    check::Findings,
    std::collections::BTreeMap<faults::Fault, usize>,
    Duration,
    usize,
);

async fn drive(
    args: &ChaosArgs,
    http: &reqwest::Client,
    api: &str,
    database_url: &str,
    procs: &mut procs::Procs,
    stop: &CancellationToken,
    deadline: Instant,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    wait_ready(http, api, deadline).await?;
    let subs = subscribe(http, api, stop).await?;
    let channel = create_channel(http, api).await?;
    let flaky = subs.iter().find(|s| s.name == "flaky").context("flaky")?;
    let mut injector = faults::Injector::new(args.cluster_script.clone(), flaky.receiver.clone());
    let poster = tokio::spawn(post_all(
        http.clone(),
        api.to_owned(),
        channel,
        args.events,
        args.concurrency,
        deadline,
    ));
    // Requests the receivers got while a cluster node was down: delivery goes on without it.
    let seen = || subs.iter().map(|s| s.receiver.total()).sum::<usize>();
    let (mut at_stop, mut while_down) = (0, 0);
    while !poster.is_finished() || !injector.all_kinds_done() {
        anyhow::ensure!(Instant::now() < deadline, "the run timed out while posting");
        tokio::time::sleep(args.fault_every).await;
        let fault = injector.next(procs).await?;
        match fault {
            faults::Fault::StopClusterNode => at_stop = seen(),
            faults::Fault::StartClusterNode => while_down += seen() - at_stop,
            _ => {}
        }
        println!(
            "chaos: {:>6.1}s {}",
            started.elapsed().as_secs_f64(),
            fault.name()
        );
    }
    let accepted = poster.await??;
    injector.heal().await?;
    let revived = procs.revive()?;
    anyhow::ensure!(
        revived == 0,
        "{revived} role process(es) exited on their own"
    );
    // The 410 receiver recovers; its subscription is enabled and delivers what queued.
    let gone = subs.iter().find(|s| s.name == "gone").context("gone")?;
    gone.receiver
        .failing
        .store(false, std::sync::atomic::Ordering::Relaxed);
    wait_ready(http, api, deadline).await?;
    http.post(format!("{api}/v1/subscriptions/{}/enable", gone.id))
        .bearer_auth(TOKEN)
        .send()
        .await?;
    let store = hookfleet_store::Store::connect(database_url, 2)?;
    let (left, parked) = drain(args, &store, &subs, deadline).await?;
    let mut findings = check::check(&store, &accepted, &subs).await?;
    findings.left_in_queues = left;
    findings.parked = parked;
    findings.seen_while_node_down = args.cluster_script.is_some().then_some(while_down);
    Ok((findings, injector.done, started.elapsed(), args.events))
}
