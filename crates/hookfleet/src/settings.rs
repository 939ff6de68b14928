//! Settings of every role, from `HOOKFLEET_*` environment variables (or the matching flags)
//! over local defaults. Invalid values stop start-up with a sentence naming the variable.
use clap::Args;
use std::{net::SocketAddr, time::Duration};

fn duration(s: &str) -> Result<Duration, String> {
    hookfleet_core::parse_duration(s)
}

/// A parsed retry ladder (a newtype so clap does not read it as a list of values).
#[derive(Debug, Clone)]
pub struct Ladder(pub Vec<Duration>);

fn ladder(s: &str) -> Result<Ladder, String> {
    hookfleet_core::parse_ladder(s).map(Ladder)
}

#[derive(Debug, Clone, Args)]
pub struct Common {
    /// RabbitMQ URL (vhost URL-encoded: `%2f` is `/`).
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
    #[arg(long, env = "HOOKFLEET_ALLOW_PRIVATE_TARGETS", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_private_targets: bool,
    /// Database connections per process: enough for batch writers plus API reads.
    #[arg(long, env = "HOOKFLEET_DB_POOL_SIZE", default_value_t = 16)]
    pub db_pool_size: usize,
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
    /// keep-alive connection is kept); a connection over it is closed.
    #[arg(long, env = "HOOKFLEET_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = duration)]
    pub header_read_timeout: Duration,
    /// How long a client has to send a request's body; over it the answer is 408.
    #[arg(long, env = "HOOKFLEET_BODY_READ_TIMEOUT", default_value = "30s", value_parser = duration)]
    pub body_read_timeout: Duration,
    /// How long a deleted subscription's queue is kept (unbound, unconsumed) before it is
    /// removed; keep it well over HOOKFLEET_RECONCILE_INTERVAL.
    #[arg(long, env = "HOOKFLEET_DELETED_QUEUE_GRACE", default_value = "60s", value_parser = duration)]
    pub deleted_queue_grace: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct DeliveryArgs {
    /// Time limit of one delivery attempt.
    #[arg(long, env = "HOOKFLEET_DELIVERY_TIMEOUT", default_value = "15s", value_parser = duration)]
    pub delivery_timeout: Duration,
    /// The fleet's retry ladder: waits before attempts 2, 3, … (`5s,30s,5m,30m` = 5 attempts).
    /// A subscription may carry its own. Empty: no retries.
    #[arg(long, env = "HOOKFLEET_RETRY_LADDER", default_value = "5s,30s,5m,30m", value_parser = ladder)]
    pub retry_ladder: Ladder,
    /// Disable a subscription whose deliveries have all been exhausted for this long.
    #[arg(long, env = "HOOKFLEET_DISABLE_AFTER", default_value = "5d", value_parser = duration)]
    pub disable_after: Duration,
    /// Unacked messages per subscription queue per worker.
    #[arg(long, env = "HOOKFLEET_DELIVERY_PREFETCH", default_value_t = 256)]
    pub delivery_prefetch: u16,
    /// Safety-net interval at which workers re-read subscriptions from PostgreSQL.
    #[arg(long, env = "HOOKFLEET_RECONCILE_INTERVAL", default_value = "5s", value_parser = duration)]
    pub reconcile_interval: Duration,
}

impl DeliveryArgs {
    pub fn settings(&self, common: &Common) -> anyhow::Result<hookfleet_delivery::Settings> {
        anyhow::ensure!(
            self.delivery_prefetch > 0,
            "HOOKFLEET_DELIVERY_PREFETCH must be at least 1"
        );
        anyhow::ensure!(
            !self.delivery_timeout.is_zero(),
            "HOOKFLEET_DELIVERY_TIMEOUT must be longer than zero"
        );
        Ok(hookfleet_delivery::Settings {
            timeout: self.delivery_timeout,
            prefetch: self.delivery_prefetch,
            reconcile_interval: self.reconcile_interval,
            ladder: self.retry_ladder.0.clone(),
            disable_after: self.disable_after,
            allow_private_targets: common.allow_private_targets,
            ..hookfleet_delivery::Settings::default()
        })
    }
}

impl ProducerArgs {
    /// The producer's settings; `tokens` are the already-resolved admin tokens.
    pub fn settings(
        &self,
        common: &Common,
        tokens: Vec<String>,
    ) -> anyhow::Result<hookfleet_producer::Settings> {
        anyhow::ensure!(
            !self.header_read_timeout.is_zero() && !self.body_read_timeout.is_zero(),
            "HOOKFLEET_HEADER_READ_TIMEOUT and HOOKFLEET_BODY_READ_TIMEOUT must be longer than zero"
        );
        Ok(hookfleet_producer::Settings {
            admin_tokens: tokens,
            allow_private_targets: common.allow_private_targets,
            publisher_channels: 4,
            timeouts: hookfleet_producer::serve::Timeouts {
                header_read: self.header_read_timeout,
                body_read: self.body_read_timeout,
            },
            deleted_queue_grace: self.deleted_queue_grace,
        })
    }

    pub fn tokens(&self) -> Vec<String> {
        self.admin_token
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    }
}
