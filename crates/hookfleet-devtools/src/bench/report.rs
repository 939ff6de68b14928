//! The bench's figures: process memory sampled while a scenario runs, and the closing table
//! that puts every scenario of one sitting side by side, and the waits and percentiles they use.
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

/// One scenario's figures, as they go into BENCHMARKS.md.
#[derive(Debug, Clone, Default)]
pub(super) struct Figures {
    pub subs: usize,
    pub hanging: usize,
    /// Subscriptions to an event type never posted (queue and consumer, no traffic).
    pub idle: usize,
    pub events: usize,
    pub intake_per_s: f64,
    pub events_per_s: f64,
    pub deliveries_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Creating the scenario's subscriptions over the API, 8 clients at once.
    pub create_secs: f64,
    /// From the first create to a consumer on every subscription queue.
    pub ready_secs: f64,
    /// A fresh worker, from its connect to a consumer on every queue (wide scenarios).
    pub worker_start_secs: Option<f64>,
    /// The broker's memory after the run (management API).
    pub broker_mib: Option<f64>,
    pub rss_start_mib: f64,
    pub rss_peak_mib: f64,
    /// Three seconds after the last delivery.
    pub rss_after_mib: f64,
    /// Deliveries over the span the CPU was metered (warm-up included).
    pub all_deliveries: usize,
    /// Delivery worker processes (`--processes`), or none: the fleet ran in the bench.
    pub processes: Option<usize>,
    /// CPU time per delivery, in µs, by process group.
    pub cpu_us: Vec<(String, f64)>,
    /// Each role process's peak and current RSS in MiB (`--processes`).
    pub role_mib: Vec<(String, f64, f64)>,
    /// The broker's memory before the scenario's subscriptions were made.
    pub broker_start_mib: Option<f64>,
    /// Deleting every subscription over the API, 8 clients at once (`--delete`).
    pub delete_secs: Option<f64>,
    /// Shard queues (0: every subscription on the own tier).
    pub shards: u16,
}

/// CPU time (user + system) of this process, the fleet's role processes, the broker and the
/// database, read from /proc at the start and the end of a scenario's run.
pub(super) struct CpuMeter {
    groups: Vec<(String, Vec<u32>)>,
    start: Vec<u64>,
}

impl CpuMeter {
    pub fn start(roles: &[(&'static str, u32)]) -> Self {
        let mut groups: Vec<(String, Vec<u32>)> = Vec::new();
        for (role, pid) in roles {
            match groups.iter_mut().find(|(g, _)| g == role) {
                Some((_, pids)) => pids.push(*pid),
                None => groups.push(((*role).to_owned(), vec![*pid])),
            }
        }
        let me = if roles.is_empty() {
            "hookfleet + bench client + receiver"
        } else {
            "bench client + receiver"
        };
        groups.push((me.to_owned(), vec![std::process::id()]));
        groups.push(("RabbitMQ".to_owned(), pids_named("beam.smp")));
        groups.push(("PostgreSQL".to_owned(), pids_named("postgres")));
        let start = groups.iter().map(|(_, p)| ticks(p)).collect();
        Self { groups, start }
    }

    /// Each group's CPU per delivery since the start, in µs.
    pub fn per_delivery(&self, deliveries: usize) -> Vec<(String, f64)> {
        self.groups
            .iter()
            .zip(&self.start)
            .map(|((name, pids), start)| {
                // Clock ticks are 1/100 s on Linux (USER_HZ).
                let secs = ticks(pids).saturating_sub(*start) as f64 / 100.0;
                (name.clone(), secs * 1e6 / deliveries.max(1) as f64)
            })
            .collect()
    }
}

fn pids_named(comm: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .collect()
}

/// utime + stime of these processes (those gone since are not counted).
fn ticks(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // Fields after the command name, which is in parentheses and may hold spaces.
            let rest = &stat[stat.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split(' ').collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .sum()
}

/// This process's resident memory in MiB (0 where /proc is not there to tell).
pub(super) fn rss_mib() -> f64 {
    status_mib("self", "VmRSS:")
}

/// A memory line of `/proc/<pid>/status` (`VmRSS:`, `VmHWM:` for the peak), in MiB.
pub(super) fn status_mib(pid: &str, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Each role process's peak and current resident memory, in MiB.
pub(super) fn role_memory(roles: &[(&'static str, u32)]) -> Vec<(String, f64, f64)> {
    roles
        .iter()
        .map(|(role, pid)| {
            let pid = pid.to_string();
            (
                (*role).to_owned(),
                status_mib(&pid, "VmHWM:"),
                status_mib(&pid, "VmRSS:"),
            )
        })
        .collect()
}

/// Samples the resident memory every 100 ms and keeps the peak, until dropped.
pub(super) struct RssSampler {
    start: f64,
    peak_kib: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    pub fn start() -> Self {
        let peak_kib = Arc::new(AtomicU64::new(0));
        let peak = peak_kib.clone();
        let task = tokio::spawn(async move {
            loop {
                peak.fetch_max((rss_mib() * 1024.0) as u64, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Self {
            start: rss_mib(),
            peak_kib,
            task,
        }
    }

    /// The memory before the scenario's fleet started.
    pub fn start_mib(&self) -> f64 {
        self.start
    }

    pub fn reset_peak(&self) {
        self.peak_kib
            .store((rss_mib() * 1024.0) as u64, Ordering::Relaxed);
    }

    pub fn peak_mib(&self) -> f64 {
        self.peak_kib.load(Ordering::Relaxed) as f64 / 1024.0
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Every scenario's CPU per delivery, by process group.
fn print_cpu(rows: &[Figures]) {
    println!();
    println!("| subscriptions | workers | process | CPU per delivery |");
    println!("|---:|---|---|---:|");
    for r in rows {
        let workers = r
            .processes
            .map_or_else(|| "in-process".to_owned(), |n| n.to_string());
        for (name, us) in &r.cpu_us {
            println!("| {} | {workers} | {name} | {us:.1} µs |", r.subs);
        }
    }
}

/// " (+N hanging, +M idle)" after a subscription count, or nothing.
pub(super) fn others(hanging: usize, idle: usize) -> String {
    let mut parts = Vec::new();
    if hanging > 0 {
        parts.push(format!("+{hanging} hanging"));
    }
    if idle > 0 {
        parts.push(format!("+{idle} idle"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

fn secs(s: Option<f64>) -> String {
    s.map_or_else(|| "–".to_owned(), |s| format!("{s:.1} s"))
}

/// Every scenario of the sitting in one Markdown table.
pub(super) fn print_table(rows: &[Figures]) {
    println!();
    println!(
        "| subscriptions | tier | events | create subs / all consumed | created / deleted per s | worker cold start | intake events/s | delivered events/s | deliveries/s | p50 / p99 / max ms | RSS start / peak / after MiB | broker MiB before → after |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|");
    for r in rows {
        let others = others(r.hanging, r.idle);
        let made = r.subs + r.hanging + r.idle;
        let rate = |secs: f64| format!("{:.0}", made as f64 / secs.max(1e-9));
        println!(
            "| {}{others} | {} | {} | {:.2} s / {:.2} s | {} / {} | {} | {:.0} | {:.0} | {:.0} | {:.1} / {:.1} / {:.1} | {:.0} / {:.0} / {:.0} | {} |",
            r.subs,
            if r.shards == 0 {
                "own".to_owned()
            } else {
                format!("shared ({} shards)", r.shards)
            },
            r.events,
            r.create_secs,
            r.ready_secs,
            rate(r.create_secs),
            r.delete_secs.map_or_else(|| "–".to_owned(), rate),
            secs(r.worker_start_secs),
            r.intake_per_s,
            r.events_per_s,
            r.deliveries_per_s,
            r.p50_ms,
            r.p99_ms,
            r.max_ms,
            r.rss_start_mib,
            r.rss_peak_mib,
            r.rss_after_mib,
            match (r.broker_start_mib, r.broker_mib) {
                (Some(a), Some(b)) => format!("{a:.0} → {b:.0}"),
                _ => "–".to_owned(),
            },
        );
    }
    print_cpu(rows);
    if rows.iter().any(|r| !r.role_mib.is_empty()) {
        println!();
        println!("| subscriptions | process | RSS peak / at the end MiB |");
        println!("|---:|---|---:|");
        for r in rows {
            for (role, peak, now) in &r.role_mib {
                println!("| {} | {role} | {peak:.0} / {now:.0} |", r.subs);
            }
        }
    }
}

pub(super) fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

pub(super) async fn wait_for(rx: &super::Rx, n: usize, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while rx.count.load(Ordering::SeqCst) < n {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {n} deliveries arrived within {timeout:?}",
            rx.count.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}
