//! The `hookfleet` binary: loads settings, starts telemetry and runs one role (`producer`,
//! `router`, `delivery`), every role in one process (`all`), the database migrations
//! (`migrate`) or a self-contained demonstration (`demo`); and the command line a person uses
//! against a running fleet's API (`subscriptions`, `events`, `deliveries`). The benchmark and
//! the chaos suite are not shipped here: they are `hookfleet-dev` (`crates/hookfleet-devtools`).
#![forbid(unsafe_code)]

mod cli;
mod demo;
mod fleet;
mod probe;
mod settings;
mod telemetry;

// The dev-dependencies serve the integration tests (`tests/it`); this binary's own unit tests
// use none of them.
#[cfg(test)]
use {
    futures_util as _, hookfleet_testkit as _, lapin as _, proptest as _, standardwebhooks as _,
    time as _,
};

use anyhow::Context;

/// jemalloc rather than the system allocator: glibc's malloc and free were the largest single
/// item in a delivery worker's profile (BENCHMARKS.md, issue 24).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use clap::{Parser, Subcommand};
use fleet::Roles;
use settings::{Common, DeliveryArgs, FleetArgs, ProducerArgs, RouterArgs};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
#[command(
    name = "hookfleet",
    version,
    about = "Signed, retried, recorded webhook delivery on RabbitMQ and PostgreSQL"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the database if missing and apply pending migrations.
    Migrate {
        #[command(flatten)]
        common: Common,
    },
    /// Serve the HTTP API (intake and management).
    Producer {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        producer: ProducerArgs,
    },
    /// Record and fan out ingested events.
    Router {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        router: RouterArgs,
    },
    /// Deliver subscription queues to their endpoints.
    Delivery {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        delivery: DeliveryArgs,
    },
    /// Migrate, then run every role in one process (a laptop's fleet).
    All(FleetArgs),
    /// Run the whole fleet, deliver an event to a local receiver and show it, then keep running.
    Demo {
        #[command(flatten)]
        fleet: FleetArgs,
        /// Stop after the demonstration instead of leaving the fleet running.
        #[arg(long)]
        exit: bool,
    },
    /// Exit 0 if the role serving `/readyz` at HOOKFLEET_METRICS_ADDR is ready, 1 if not (a
    /// container healthcheck; an address of 0.0.0.0 or :: is asked on loopback).
    Ready {
        #[arg(long, env = "HOOKFLEET_METRICS_ADDR", default_value = "127.0.0.1:9464")]
        metrics_addr: std::net::SocketAddr,
    },
    #[command(flatten)]
    Cli(cli::CliCommand),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init_logs();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("Failed to start the async runtime")?;
    runtime.block_on(run(cli.command))
}

async fn run(command: Command) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    // The roles drain on SIGINT and SIGTERM; a CLI command has nothing to drain, so the
    // signals keep their default and end it at once.
    if !matches!(command, Command::Cli(_) | Command::Ready { .. }) {
        telemetry::cancel_on_signal(shutdown.clone());
    }
    match command {
        Command::Migrate { common } => migrate(&common).await,
        Command::Producer { common, producer } => {
            let tokens = producer.tokens();
            anyhow::ensure!(
                !tokens.is_empty(),
                "HOOKFLEET_ADMIN_TOKEN must be set for the producer"
            );
            // Settings first: a bad one is named even when the port is busy.
            let settings = producer.settings(&common, tokens)?;
            let roles = Roles {
                producer: Some((fleet::bind(producer.http_addr).await?, settings)),
                ..Roles::default()
            };
            fleet::run(&common, roles, Some(telemetry::init_metrics()?), shutdown).await
        }
        Command::Router { common, router } => {
            let roles = Roles {
                router: Some(router.settings()?),
                ..Roles::default()
            };
            fleet::run(&common, roles, Some(telemetry::init_metrics()?), shutdown).await
        }
        Command::Delivery { common, delivery } => {
            let roles = Roles {
                delivery: Some(delivery.settings(&common)?),
                ..Roles::default()
            };
            fleet::run(&common, roles, Some(telemetry::init_metrics()?), shutdown).await
        }
        Command::All(FleetArgs {
            common,
            producer,
            router,
            delivery,
        }) => {
            migrate(&common).await?;
            let mut tokens = producer.tokens();
            if tokens.is_empty() {
                let generated = generate_token();
                println!("HOOKFLEET_ADMIN_TOKEN was not set; this run's API token is: {generated}");
                tokens.push(generated);
            }
            let (settings, router, delivery) = (
                producer.settings(&common, tokens)?,
                router.settings()?,
                delivery.settings(&common)?,
            );
            let roles = Roles {
                producer: Some((fleet::bind(producer.http_addr).await?, settings)),
                router: Some(router),
                delivery: Some(delivery),
            };
            fleet::run(&common, roles, Some(telemetry::init_metrics()?), shutdown).await
        }
        Command::Demo { fleet, exit } => {
            migrate(&fleet.common).await?;
            demo::run(fleet, exit, shutdown).await
        }
        Command::Ready { metrics_addr } => probe::ready(metrics_addr).await,
        Command::Cli(command) => {
            // A person at a terminal wants the reason on one line, not a backtrace.
            if let Err(e) = cli::run(command).await {
                eprintln!("error: {e:#}");
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

async fn migrate(common: &Common) -> anyhow::Result<()> {
    hookfleet_store::migrate(&common.database_url)
        .await
        .context("Failed to migrate the database at HOOKFLEET_DATABASE_URL")?;
    tracing::info!("Database is migrated");
    Ok(())
}

/// A random API token for `all` and `demo` when none is configured.
pub(crate) fn generate_token() -> String {
    hookfleet_core::Secret::generate()
        .expose()
        .trim_start_matches(hookfleet_core::signing::SECRET_PREFIX)
        .replace(['+', '/', '='], "")
}
