//! `hookfleet-dev`: the tools a developer runs on this machine against its RabbitMQ and
//! PostgreSQL, kept out of the shipped `hookfleet` binary. `bench` measures end-to-end
//! throughput and latency (and `bench passwords` a flood of wrong channel passwords); `chaos`
//! proves nothing accepted is lost under faults; `delivery-limit` applies RabbitMQ 4's quorum
//! queue delivery limit to a fleet's queues and checks that nothing reached it. They use the
//! fleet as any role does: the record through `hookfleet-store` (its `fixtures` feature holds
//! the SQL only they need), roles in this process through `hookfleet-launch` ([`fleet`]), and
//! roles as separate processes of the `hookfleet` binary found next to this one ([`procs`]).
#![forbid(unsafe_code)]

mod bench;
mod chaos;
mod delivery_limit;
mod fleet;
mod procs;

use anyhow::Context;

/// jemalloc rather than the system allocator: glibc's malloc and free were the largest single
/// item in a delivery worker's profile (BENCHMARKS.md, issue 24).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "hookfleet-dev",
    version,
    about = "hookfleet's benchmark and chaos suite (loopback only; not part of the product)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure end-to-end deliveries/s and latency on this machine (loopback only).
    Bench(Box<bench::BenchArgs>),
    /// Prove nothing is lost: the roles as separate processes under killed processes, broker
    /// and database restarts and failing receivers, then an invariant check (loopback only;
    /// stops this machine's RabbitMQ and PostgreSQL for seconds at a time).
    Chaos(chaos::ChaosArgs),
    /// RabbitMQ 4's quorum queue delivery limit on an older broker: `apply` it to a fleet's
    /// queues as an operator policy, `check` that nothing was dead-lettered by it.
    DeliveryLimit(delivery_limit::LimitArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Logs as the `hookfleet` binary writes them (the bench runs the roles in this process).
    hookfleet_launch::init_logs();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("Failed to start the async runtime")?;
    runtime.block_on(async {
        match cli.command {
            Command::Bench(args) => bench::run(*args).await,
            Command::Chaos(args) => chaos::run(args).await,
            Command::DeliveryLimit(args) => delivery_limit::run(args).await,
        }
    })
}
