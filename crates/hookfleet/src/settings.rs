//! Settings of every role, from `HOOKFLEET_*` environment variables (or the matching flags)
//! over local defaults. Invalid values stop start-up with a sentence naming the variable.
use clap::Args;
use hookfleet_core::Ladder;
use std::{net::SocketAddr, time::Duration};

fn duration(s: &str) -> Result<Duration, String> {
    hookfleet_core::parse_duration(s)
}

#[derive(Debug, Clone, Args)]
pub struct Common {
    /// RabbitMQ URL (vhost URL-encoded: `%2f` is `/`); for a cluster, a comma-separated list of
    /// its nodes' URLs: each connection goes to the next live one.
    #[arg(
        long,
        env = "HOOKFLEET_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub amqp_url: String,
    /// PostgreSQL URL; `migrate` (and `all`) create the database if it is missing.
    #[arg(
        long,
        env = "HOOKFLEET_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/hookfleet"
    )]
    pub database_url: String,
    /// Prefix for every exchange and queue name, so fleets (or tests) can share one vhost.
    #[arg(long, env = "HOOKFLEET_NAMESPACE", default_value = "")]
    pub namespace: String,
    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    #[arg(long, env = "HOOKFLEET_METRICS_ADDR", default_value = "127.0.0.1:9464")]
    pub metrics_addr: SocketAddr,
    /// Allow loopback, private and link-local addresses as subscription targets: the producer
    /// accepts such URLs and the delivery role sends to them. Off by default (SSRF).
    /// For local testing only (a receiver on this machine): `--allow-private-targets` alone
    /// means true.
    #[arg(
        long,
        env = "HOOKFLEET_ALLOW_PRIVATE_TARGETS",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub allow_private_targets: bool,
    /// Database connections per process: enough for batch writers plus API reads.
    #[arg(long, env = "HOOKFLEET_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: usize,
    /// Keys that seal subscriptions' signing secrets in the database: `id:base64-of-32-bytes`,
    /// comma-separated; the first seals, all open (rotation: put the new key first, restart,
    /// drop the old key once the producer has resealed). Unset or empty: a built-in
    /// development key, with a warning at start.
    #[arg(long, env = "HOOKFLEET_SECRET_KEYS", hide_env_values = true, hide_default_value = true,
          default_value = "", value_parser = hookfleet_store::Sealer::parse_or_development)]
    pub secret_keys: hookfleet_store::Sealer,
    /// Type of the queue each new subscription gets: `quorum` (replicated across a cluster;
    /// up to a few thousand subscriptions per broker node) or `classic` (version 2, one node,
    /// for 10,000 and more). Existing subscriptions keep the type they were made with.
    #[arg(long, env = "HOOKFLEET_SUBSCRIPTION_QUEUES", default_value = "quorum")]
    pub subscription_queues: hookfleet_bus::QueueKind,
    /// Shard queues of the shared tier, where the long tail of unordered push subscriptions
    /// waits (0: every subscription gets a queue of its own, as before the tiers). Every role
    /// must be given the same count; raising it spreads new subscriptions over more shards,
    /// and existing ones keep theirs (README: "Tiers").
    #[arg(long, env = "HOOKFLEET_SHARDS", default_value_t = hookfleet_bus::DEFAULT_SHARDS,
          value_parser = clap::value_parser!(u16).range(0..=1024))]
    pub shards: u16,
}

impl Common {
    /// The fleet's queue and exchange names and the type of its subscription queues.
    pub fn topology(&self) -> hookfleet_bus::Topology {
        hookfleet_bus::Topology::new(self.namespace.clone())
            .with_subscription_queues(self.subscription_queues)
            .with_shards(self.shards)
    }
}

// Role settings below are optional here: an unset one takes the role's own default
// (`hookfleet_producer::Settings::default()` and the like), written once, beside the code that
// uses it. README's table lists them.

/// Every role's settings, for the commands that run them all.
#[derive(Debug, Clone, Args)]
pub struct FleetArgs {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub producer: ProducerArgs,
    #[command(flatten)]
    pub router: RouterArgs,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ProducerArgs {
    /// Address of the HTTP API.
    #[arg(long, env = "HOOKFLEET_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    /// Bearer token(s) of the API, comma-separated so a new one can be added before the old
    /// one is removed. Required by `producer`; `all` generates one when unset.
    #[arg(long, env = "HOOKFLEET_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// How long a client has to send a request's line and headers (also the idle time a
    /// keep-alive connection is kept); a connection over it is closed. Default 10s.
    #[arg(long, env = "HOOKFLEET_HEADER_READ_TIMEOUT", value_parser = duration)]
    pub header_read_timeout: Option<Duration>,
    /// How long a client has to send a request's body; over it the answer is 408. Default 30s.
    #[arg(long, env = "HOOKFLEET_BODY_READ_TIMEOUT", value_parser = duration)]
    pub body_read_timeout: Option<Duration>,
    /// How long a deleted subscription's queue is kept (unbound, unconsumed) before it is
    /// removed; keep it well over HOOKFLEET_RECONCILE_INTERVAL. Default 60s.
    #[arg(long, env = "HOOKFLEET_DELETED_QUEUE_GRACE", value_parser = duration)]
    pub deleted_queue_grace: Option<Duration>,
    /// How often API keys are re-read from the record: a key revoked through another producer
    /// stops working here within this long. Default 5s.
    #[arg(long, env = "HOOKFLEET_KEY_RELOAD_INTERVAL", value_parser = duration)]
    pub key_reload_interval: Option<Duration>,
    /// Bearer token(s), comma-separated, the lifecycle routes (`/event/…`) require; unset:
    /// those routes need only the channel password.
    #[arg(long, env = "HOOKFLEET_GATEWAY_TOKEN", hide_env_values = true)]
    pub gateway_token: Option<String>,
    /// How many channels' verified passwords are remembered, so a call skips argon2; 0
    /// verifies every call slowly. Default 10000.
    #[arg(long, env = "HOOKFLEET_PASSWORD_CACHE_ENTRIES")]
    pub password_cache_entries: Option<usize>,
    /// Threads that run argon2 for channel passwords (each ~19 MiB while busy). Default 2.
    #[arg(long, env = "HOOKFLEET_PASSWORD_WORKERS")]
    pub password_workers: Option<usize>,
    /// Wrong passwords in a row a channel takes before it is locked. Default 5.
    #[arg(long, env = "HOOKFLEET_PASSWORD_FREE_FAILURES")]
    pub password_free_failures: Option<u32>,
    /// The longest a channel is locked after repeated wrong passwords (the lockout starts at
    /// 1s and doubles), 1s to 12h; `off`: no lockout. Default 15m.
    #[arg(long, env = "HOOKFLEET_PASSWORD_MAX_LOCKOUT")]
    pub password_max_lockout: Option<String>,
    /// RabbitMQ's management API, where pull subscriptions' users are made; for a cluster, one
    /// URL per node, comma-separated (the next is tried while one cannot be reached). Default
    /// `http://guest:guest@127.0.0.1:15672`.
    #[arg(
        long,
        env = "HOOKFLEET_RABBITMQ_MANAGEMENT_URL",
        hide_env_values = true
    )]
    pub rabbitmq_management_url: Option<String>,
    /// The broker address handed to pull subscribers (no credentials; they get their own).
    /// Default: `HOOKFLEET_AMQP_URL` without its credentials.
    #[arg(long, env = "HOOKFLEET_PULL_AMQP_URL")]
    pub pull_amqp_url: Option<String>,
    /// Key(s) the identity provider signs its hook calls with, comma-separated, each `key` or
    /// `key@<RFC 3339 expiry>` (`new,old@2026-12-01T00:00:00Z` during a rotation).
    #[arg(long, env = "HOOKFLEET_KEYCLOAK_SECRET", hide_env_values = true)]
    pub keycloak_secret: Option<String>,
    /// Finished deliveries (with their attempts), their events and poison notes older than
    /// this are pruned while the fleet runs; `off` keeps everything. Default 30d.
    #[arg(long, env = "HOOKFLEET_RETENTION")]
    pub retention: Option<String>,
    /// Rows of each kind pruned per batch (1–10000). Default 1000.
    #[arg(long, env = "HOOKFLEET_RETENTION_BATCH")]
    pub retention_batch: Option<i64>,
}

#[derive(Debug, Clone, Args)]
pub struct RouterArgs {
    /// Unacked ingest messages the broker may push to the router. Default 1000.
    #[arg(long, env = "HOOKFLEET_ROUTER_PREFETCH")]
    pub router_prefetch: Option<u16>,
    /// Events per database write and confirm wait. Default 500.
    #[arg(long, env = "HOOKFLEET_ROUTER_BATCH_SIZE")]
    pub router_batch_size: Option<usize>,
    /// How long a partial batch waits for more events. Default 5ms.
    #[arg(long, env = "HOOKFLEET_ROUTER_BATCH_LINGER", value_parser = duration)]
    pub router_batch_linger: Option<Duration>,
    /// The identity provider's base URL (`http://keycloak:8080`); set, the router also
    /// enriches the hook's events from its admin API.
    #[arg(long, env = "HOOKFLEET_KEYCLOAK_URL")]
    pub keycloak_url: Option<String>,
    /// The realm whose admin API is read. Default `master`.
    #[arg(long, env = "HOOKFLEET_KEYCLOAK_REALM", default_value = "master")]
    pub keycloak_realm: String,
    /// The service account's client id (client credentials, with view-users).
    #[arg(
        long,
        env = "HOOKFLEET_KEYCLOAK_CLIENT_ID",
        default_value = "hookfleet"
    )]
    pub keycloak_client_id: String,
    #[arg(long, env = "HOOKFLEET_KEYCLOAK_CLIENT_SECRET", hide_env_values = true)]
    pub keycloak_client_secret: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct DeliveryArgs {
    /// Time limit of one delivery attempt. Default 15s.
    #[arg(long, env = "HOOKFLEET_DELIVERY_TIMEOUT", value_parser = duration)]
    pub delivery_timeout: Option<Duration>,
    /// The fleet's retry ladder: waits before attempts 2, 3, … (`5s,30s,5m,30m` = 5 attempts,
    /// the default). A subscription may carry its own. Empty: no retries.
    #[arg(long, env = "HOOKFLEET_RETRY_LADDER", value_parser = Ladder::parse)]
    pub retry_ladder: Option<Ladder>,
    /// Disable a subscription whose deliveries have all been exhausted for this long. Default 5d.
    #[arg(long, env = "HOOKFLEET_DISABLE_AFTER", value_parser = duration)]
    pub disable_after: Option<Duration>,
    /// Unacked messages per subscription queue per worker. Default 256.
    #[arg(long, env = "HOOKFLEET_DELIVERY_PREFETCH")]
    pub delivery_prefetch: Option<u16>,
    /// Prefetched messages per worker, shared out among its subscriptions. Default 8192.
    #[arg(long, env = "HOOKFLEET_DELIVERY_PREFETCH_BUDGET")]
    pub delivery_prefetch_budget: Option<usize>,
    /// Requests in flight per worker across all subscriptions. Default 1024.
    #[arg(long, env = "HOOKFLEET_DELIVERY_MAX_IN_FLIGHT")]
    pub delivery_max_in_flight: Option<usize>,
    /// Subscription consumers per broker connection: past this a worker opens another
    /// connection (the broker allows 2,047 channels on one). Default 1000.
    #[arg(long, env = "HOOKFLEET_DELIVERY_CONSUMERS_PER_CONNECTION")]
    pub delivery_consumers_per_connection: Option<usize>,
    /// Safety-net interval at which workers re-read subscriptions from PostgreSQL. Default 5s.
    #[arg(long, env = "HOOKFLEET_RECONCILE_INTERVAL", value_parser = duration)]
    pub reconcile_interval: Option<Duration>,
    /// Unacked messages per shard queue per worker. Default 1000.
    #[arg(long, env = "HOOKFLEET_SHARD_PREFETCH")]
    pub shard_prefetch: Option<u16>,
    /// A shared-tier subscription with more copies than this waiting in one worker for its
    /// in-flight cap or rate turns hot (gets a queue of its own). Default 64.
    #[arg(long, env = "HOOKFLEET_HOT_AFTER_WAITING")]
    pub hot_after_waiting: Option<usize>,
    /// A hot subscription idle this long goes back to its shard. Default 60s.
    #[arg(long, env = "HOOKFLEET_HOT_IDLE", value_parser = duration)]
    pub hot_idle: Option<Duration>,
}

impl DeliveryArgs {
    pub fn settings(&self, common: &Common) -> anyhow::Result<hookfleet_delivery::Settings> {
        let d = hookfleet_delivery::Settings::default();
        let settings = hookfleet_delivery::Settings {
            timeout: self.delivery_timeout.unwrap_or(d.timeout),
            prefetch: self.delivery_prefetch.unwrap_or(d.prefetch),
            prefetch_budget: self.delivery_prefetch_budget.unwrap_or(d.prefetch_budget),
            max_in_flight_total: self.delivery_max_in_flight.unwrap_or(d.max_in_flight_total),
            reconcile_interval: self.reconcile_interval.unwrap_or(d.reconcile_interval),
            consumers_per_connection: self
                .delivery_consumers_per_connection
                .unwrap_or(d.consumers_per_connection),
            ladder: self.retry_ladder.clone().unwrap_or(d.ladder),
            disable_after: self.disable_after.unwrap_or(d.disable_after),
            allow_private_targets: common.allow_private_targets,
            shard_prefetch: self.shard_prefetch.unwrap_or(d.shard_prefetch),
            hot_after_waiting: self.hot_after_waiting.unwrap_or(d.hot_after_waiting),
            hot_idle: self.hot_idle.unwrap_or(d.hot_idle),
            ..d
        };
        anyhow::ensure!(
            settings.prefetch > 0,
            "HOOKFLEET_DELIVERY_PREFETCH must be at least 1"
        );
        anyhow::ensure!(
            settings.prefetch_budget > 0 && settings.max_in_flight_total > 0,
            "HOOKFLEET_DELIVERY_PREFETCH_BUDGET and HOOKFLEET_DELIVERY_MAX_IN_FLIGHT must be at least 1"
        );
        anyhow::ensure!(
            (1..=2_000).contains(&settings.consumers_per_connection),
            "HOOKFLEET_DELIVERY_CONSUMERS_PER_CONNECTION must be between 1 and 2000 (the broker allows 2,047 channels per connection)"
        );
        anyhow::ensure!(
            !settings.timeout.is_zero(),
            "HOOKFLEET_DELIVERY_TIMEOUT must be longer than zero"
        );
        anyhow::ensure!(
            settings.shard_prefetch > 0 && settings.hot_after_waiting > 0,
            "HOOKFLEET_SHARD_PREFETCH and HOOKFLEET_HOT_AFTER_WAITING must be at least 1"
        );
        Ok(settings)
    }
}

impl RouterArgs {
    pub fn settings(&self) -> anyhow::Result<hookfleet_router::Settings> {
        let d = hookfleet_router::Settings::default();
        let settings = hookfleet_router::Settings {
            prefetch: self.router_prefetch.unwrap_or(d.prefetch),
            batch_size: self.router_batch_size.unwrap_or(d.batch_size),
            batch_linger: self.router_batch_linger.unwrap_or(d.batch_linger),
            keycloak: self
                .keycloak_url
                .as_ref()
                .map(|url| hookfleet_router::KeycloakAdmin {
                    base_url: url.clone(),
                    realm: self.keycloak_realm.clone(),
                    client_id: self.keycloak_client_id.clone(),
                    client_secret: self.keycloak_client_secret.clone().unwrap_or_default(),
                }),
            reload_interval: d.reload_interval,
        };
        anyhow::ensure!(
            settings.prefetch > 0 && settings.batch_size > 0,
            "HOOKFLEET_ROUTER_PREFETCH and HOOKFLEET_ROUTER_BATCH_SIZE must be at least 1"
        );
        Ok(settings)
    }
}

impl ProducerArgs {
    /// The producer's settings; `tokens` are the already-resolved admin tokens.
    pub fn settings(
        &self,
        common: &Common,
        tokens: Vec<String>,
    ) -> anyhow::Result<hookfleet_producer::Settings> {
        let d = hookfleet_producer::Settings::default();
        let settings = hookfleet_producer::Settings {
            admin_tokens: tokens,
            allow_private_targets: common.allow_private_targets,
            timeouts: hookfleet_producer::serve::Timeouts {
                header_read: self.header_read_timeout.unwrap_or(d.timeouts.header_read),
                body_read: self.body_read_timeout.unwrap_or(d.timeouts.body_read),
            },
            deleted_queue_grace: self.deleted_queue_grace.unwrap_or(d.deleted_queue_grace),
            key_reload_interval: self.key_reload_interval.unwrap_or(d.key_reload_interval),
            gateway_tokens: split_tokens(self.gateway_token.as_deref()),
            password_cache_entries: self
                .password_cache_entries
                .unwrap_or(d.password_cache_entries),
            password_checks: self.password_checks()?,
            management_url: self
                .rabbitmq_management_url
                .clone()
                .unwrap_or(d.management_url),
            keycloak_secrets: hookfleet_producer::keycloak::HookSecret::parse_list(
                self.keycloak_secret.as_deref().unwrap_or_default(),
            )
            .map_err(|e| anyhow::anyhow!("HOOKFLEET_KEYCLOAK_SECRET: {e}"))?,
            pull_amqp_url: match &self.pull_amqp_url {
                Some(u) => u.clone(),
                None => without_credentials(&common.amqp_url)?,
            },
            retention: retention(self.retention.as_deref(), self.retention_batch)?,
            ..d
        };
        anyhow::ensure!(
            !settings.timeouts.header_read.is_zero()
                && !settings.timeouts.body_read.is_zero()
                && !settings.key_reload_interval.is_zero(),
            "HOOKFLEET_HEADER_READ_TIMEOUT, HOOKFLEET_BODY_READ_TIMEOUT and HOOKFLEET_KEY_RELOAD_INTERVAL must be longer than zero"
        );
        Ok(settings)
    }

    pub fn tokens(&self) -> Vec<String> {
        split_tokens(self.admin_token.as_deref())
    }

    /// `HOOKFLEET_PASSWORD_WORKERS`, `_FREE_FAILURES` and `_MAX_LOCKOUT` over the defaults.
    fn password_checks(&self) -> anyhow::Result<hookfleet_producer::PasswordChecks> {
        let d = hookfleet_producer::PasswordChecks::default();
        let workers = self.password_workers.unwrap_or(d.workers);
        anyhow::ensure!(
            (1..=64).contains(&workers),
            "HOOKFLEET_PASSWORD_WORKERS must be 1 to 64"
        );
        let dl = hookfleet_producer::Lockout::default();
        let lockout = match self.password_max_lockout.as_deref().map(str::trim) {
            Some("off") => None,
            max => {
                let max = match max {
                    None => dl.max,
                    Some(m) => hookfleet_core::parse_duration(m).map_err(|e| {
                        anyhow::anyhow!("HOOKFLEET_PASSWORD_MAX_LOCKOUT: {e} (or `off`)")
                    })?,
                };
                anyhow::ensure!(
                    (dl.first..=dl.forget_after).contains(&max),
                    "HOOKFLEET_PASSWORD_MAX_LOCKOUT must be 1s to 12h, or `off`"
                );
                Some(hookfleet_producer::Lockout {
                    max,
                    free_failures: self.password_free_failures.unwrap_or(dl.free_failures),
                    ..dl
                })
            }
        };
        Ok(hookfleet_producer::PasswordChecks {
            workers,
            lockout,
            ..d
        })
    }
}

/// The producer's retention from `HOOKFLEET_RETENTION` (an age, or `off`) and
/// `HOOKFLEET_RETENTION_BATCH`; absent, the defaults.
pub fn retention(
    age: Option<&str>,
    batch: Option<i64>,
) -> anyhow::Result<hookfleet_producer::retention::Retention> {
    let d = hookfleet_producer::retention::Retention::default();
    let keep = match age.map(str::trim) {
        None => d.keep,
        Some("off") => None,
        Some(age) => {
            let age = hookfleet_core::parse_duration(age)
                .map_err(|e| anyhow::anyhow!("HOOKFLEET_RETENTION: {e} (or `off`)"))?;
            anyhow::ensure!(
                !age.is_zero(),
                "HOOKFLEET_RETENTION must be longer than zero, or `off`"
            );
            Some(age)
        }
    };
    let batch = batch.unwrap_or(d.batch);
    anyhow::ensure!(
        (1..=10_000).contains(&batch),
        "HOOKFLEET_RETENTION_BATCH must be 1 to 10000"
    );
    Ok(hookfleet_producer::retention::Retention { keep, batch, ..d })
}

/// `url` without its user and password (what pull subscribers connect to, with their own).
/// The first node of `HOOKFLEET_AMQP_URL`'s list, without credentials.
fn without_credentials(url: &str) -> anyhow::Result<String> {
    let first = hookfleet_bus::nodes(url).next().unwrap_or(url);
    let mut u = url::Url::parse(first)
        .map_err(|e| anyhow::anyhow!("HOOKFLEET_AMQP_URL is not a URL: {e}"))?;
    // Both only fail for URLs that cannot have credentials, which then have none to remove.
    let _ = u.set_username("");
    let _ = u.set_password(None);
    Ok(u.to_string())
}

/// `a, b` → `["a", "b"]`: tokens listed so a new one can be added before the old one goes.
fn split_tokens(list: Option<&str>) -> Vec<String> {
    list.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::Common;
    use clap::Parser;

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        common: Common,
    }

    #[test]
    fn allow_private_targets_is_a_flag_that_also_takes_a_value() {
        let parse = |args: &[&str]| {
            Args::try_parse_from([&["hookfleet"], args].concat())
                .map(|a| a.common.allow_private_targets)
                .map_err(|e| e.to_string())
        };
        assert_eq!(parse(&[]), Ok(false));
        assert_eq!(parse(&["--allow-private-targets"]), Ok(true));
        assert_eq!(parse(&["--allow-private-targets", "true"]), Ok(true));
        assert_eq!(parse(&["--allow-private-targets=false"]), Ok(false));
        assert!(parse(&["--allow-private-targets=maybe"]).is_err());
    }
}
