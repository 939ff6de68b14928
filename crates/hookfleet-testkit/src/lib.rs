//! hookfleet-testkit: what the integration tests of several crates share. `spawn_app` starts
//! the roles in-process against the real RabbitMQ and PostgreSQL, each app in its own queue
//! prefix and its own PostgreSQL schema so tests run in parallel, and removes both when dropped
//! (even after a failed assertion). `Receiver` is a loopback HTTP endpoint whose answer the test
//! sets and which records every request it gets. `counter` reads the roles' metrics.
#![forbid(unsafe_code)]

mod http;
mod inspect;
mod keycloak;
mod metrics;
mod receiver;

pub use keycloak::{KeycloakStandIn, Record};
pub use metrics::counter;
pub use receiver::{Received, Receiver, Reply};

use hookfleet_bus::Topology;
use hookfleet_store::Store;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
const PG_BASE: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const TOKEN: &str = "test-admin-token";
/// The fleet ladder of test apps: 5 attempts, milliseconds apart.
pub const LADDER_MS: [u64; 4] = [100, 200, 300, 400];

fn amqp_url() -> String {
    std::env::var("HOOKFLEET_TEST_AMQP_URL").unwrap_or_else(|_| AMQP_URL.to_owned())
}

fn pg_base() -> String {
    std::env::var("HOOKFLEET_TEST_DATABASE_URL").unwrap_or_else(|_| PG_BASE.to_owned())
}

pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "warn,lapin=error".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// Which roles to run in-process and how.
#[derive(Debug, Clone)]
pub struct Options {
    pub run_router: bool,
    pub run_delivery: bool,
    pub allow_private_targets: bool,
    pub delivery: hookfleet_delivery::Settings,
    pub timeouts: hookfleet_producer::serve::Timeouts,
    /// `HOOKFLEET_GATEWAY_TOKEN` of the lifecycle routes.
    pub gateway_token: Option<String>,
    /// The identity-provider hook's keys.
    pub keycloak_secrets: Vec<hookfleet_producer::keycloak::HookSecret>,
    /// The identity provider's admin API the router enriches hook events from.
    pub keycloak_admin: Option<hookfleet_router::KeycloakAdmin>,
    /// The type of the queues new subscriptions get (`HOOKFLEET_SUBSCRIPTION_QUEUES`).
    pub subscription_queues: hookfleet_bus::QueueKind,
    /// Shard queues of the shared tier (`HOOKFLEET_SHARDS`; 0: every subscription has a queue
    /// of its own). The default follows `HOOKFLEET_TEST_TIER` (see [`test_shards`]), so the
    /// same suites run on either tier.
    pub shards: u16,
    /// How the producer prunes the record.
    pub retention: hookfleet_producer::retention::Retention,
    /// The producer's channel password threads, queue caps and lockout.
    pub password_checks: hookfleet_producer::PasswordChecks,
    /// `HOOKFLEET_RABBITMQ_MANAGEMENT_URL` (the producer's default when `None`).
    pub management_url: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            run_router: true,
            run_delivery: true,
            allow_private_targets: true,
            delivery: hookfleet_delivery::Settings {
                timeout: Duration::from_secs(2),
                reconcile_interval: Duration::from_millis(500),
                // Tests run the ladder in milliseconds.
                ladder: hookfleet_core::Ladder::new(LADDER_MS.map(Duration::from_millis).to_vec())
                    .expect("a valid ladder"),
                // Test receivers live on loopback.
                allow_private_targets: true,
                ..hookfleet_delivery::Settings::default()
            },
            timeouts: Default::default(),
            gateway_token: None,
            keycloak_secrets: Vec::new(),
            keycloak_admin: None,
            subscription_queues: hookfleet_bus::QueueKind::Quorum,
            shards: test_shards(),
            retention: Default::default(),
            password_checks: Default::default(),
            management_url: None,
        }
    }
}

/// The shard count the tests' fleets get: `HOOKFLEET_TEST_TIER=shared` runs the suites with
/// unordered push subscriptions on the shared tier (the product's default), anything else
/// (or unset) with a queue of its own for every subscription, which the tests that look into
/// a subscription's queue rely on. `scripts/test.sh` runs the delivery suites both ways.
pub fn test_shards() -> u16 {
    match std::env::var("HOOKFLEET_TEST_TIER").as_deref() {
        Ok("shared") => 4,
        _ => 0,
    }
}

/// One isolated fleet: its own queue prefix and PostgreSQL schema.
pub struct TestApp {
    /// Base URL of the producer API, e.g. `http://127.0.0.1:41234`.
    pub api: String,
    pub http: reqwest::Client,
    pub store: Store,
    pub topology: Topology,
    /// Database URL whose `search_path` is this app's schema (for child processes too).
    pub database_url: String,
    pub amqp_url: String,
    /// `HOOKFLEET_SECRET_KEYS` of this app.
    pub secret_keys: String,
    /// A direct database connection for assertions.
    pub db: tokio_postgres::Client,
    /// A channel for inspecting queues.
    pub channel: lapin::Channel,
    _amqp: lapin::Connection,
    schema: String,
    shutdown: CancellationToken,
    tasks: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>,
    /// The router's and delivery role's broker links (to see whether one reconnected).
    pub links: RoleLinks,
    opts: Options,
}

type RoleTasks = Vec<(&'static str, JoinHandle<anyhow::Result<()>>)>;
/// Each running role's broker link, by role name.
pub type RoleLinks = Vec<(&'static str, hookfleet_bus::Link)>;

/// Starts the roles `opts` asks for, as `hookfleet all` does; returns the API's base URL, the
/// role tasks and their broker links.
async fn start_roles(
    opts: &Options,
    store: &Store,
    topology: &Topology,
    amqp_url: &str,
    shutdown: &CancellationToken,
) -> (String, RoleTasks, RoleLinks) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the API");
    let api = format!("http://{}", listener.local_addr().expect("local addr"));
    let producer = hookfleet_producer::Settings {
        admin_tokens: vec![TOKEN.to_owned()],
        allow_private_targets: opts.allow_private_targets,
        publisher_channels: 2,
        timeouts: opts.timeouts,
        // Short, so a test sees a deleted subscription's queue go; still over the test
        // workers' 500 ms reconcile.
        deleted_queue_grace: Duration::from_secs(2),
        key_reload_interval: Duration::from_millis(500),
        gateway_tokens: opts.gateway_token.iter().cloned().collect(),
        keycloak_secrets: opts.keycloak_secrets.clone(),
        retention: opts.retention,
        password_checks: opts.password_checks.clone(),
        management_url: opts
            .management_url
            .clone()
            .unwrap_or_else(|| hookfleet_producer::Settings::default().management_url),
        ..Default::default()
    };
    let roles = hookfleet_launch::Roles {
        producer: Some((listener, producer)),
        router: opts.run_router.then(|| hookfleet_router::Settings {
            keycloak: opts.keycloak_admin.clone(),
            ..Default::default()
        }),
        delivery: opts.run_delivery.then(|| opts.delivery.clone()),
    };
    let fleet = hookfleet_launch::Fleet {
        amqp_url: amqp_url.to_owned(),
        store: store.clone(),
        topology: topology.clone(),
        // Connection names carry the app's prefix, so a test can find (and close) its own.
        connection_prefix: topology.prefix().to_owned(),
    };
    let started = hookfleet_launch::spawn(&fleet, roles, shutdown);
    let links = started
        .iter()
        .filter(|s| s.role != "producer")
        .map(|s| (s.role, s.link.clone()))
        .collect();
    let tasks = started.into_iter().map(|s| (s.role, s.task)).collect();
    (api, tasks, links)
}

fn random_suffix() -> String {
    hookfleet_core::EventId::random().as_str()[4..]
        .chars()
        .rev()
        .take(12)
        .collect()
}

/// Starts producer, router and delivery (as `opts` says) in this process.
pub async fn spawn_app_with(opts: Options) -> TestApp {
    init_logs();
    metrics::install();
    let schema = format!("hft_{}", random_suffix());
    let namespace = format!("{schema}.");
    let base = pg_base();
    let sep = if base.contains('?') { '&' } else { '?' };
    // application_name tags every connection of this app (child processes too), so cleanup
    // can end them: see `Drop`.
    let database_url =
        format!("{base}{sep}options=-csearch_path%3D{schema}&application_name={schema}");
    let amqp_url = amqp_url();

    let (db, conn) = tokio_postgres::connect(&database_url, tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL answers on 127.0.0.1:5432 (run scripts/services.sh)");
    tokio::spawn(conn);
    db.batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create the test schema");
    // Each app seals secrets with its own key, as a deployment would (child processes get it).
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).expect("the operating system's random source is available");
    let secret_keys = format!(
        "t1:{}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, key)
    );
    let store = Store::connect(&database_url, 8)
        .expect("a valid database URL")
        .with_sealer(hookfleet_store::Sealer::parse(&secret_keys).expect("a valid key"));
    store.migrate().await.expect("migrations apply");

    // The test's own inspection channel speaks AMQP directly: tests look at queues the way an
    // operator's tools would, not through the bus they are testing.
    let amqp = lapin::Connection::connect(
        &amqp_url,
        lapin::ConnectionProperties::default().with_connection_name("hookfleet-test".into()),
    )
    .await
    .expect("RabbitMQ answers on 127.0.0.1:5672 (run scripts/services.sh)");
    let channel = amqp.create_channel().await.expect("open a channel");
    let topology = Topology::new(namespace)
        .with_subscription_queues(opts.subscription_queues)
        .with_shards(opts.shards);
    // Declared as every role declares it, so a test that runs no role still finds its queues.
    let setup = hookfleet_bus::connect(&amqp_url, "test-setup")
        .await
        .expect("connect to declare the topology");
    setup
        .declare_topology(&topology)
        .await
        .expect("declare topology");
    setup.close().await;

    let shutdown = CancellationToken::new();
    let (api, tasks, links) = start_roles(&opts, &store, &topology, &amqp_url, &shutdown).await;
    let app = TestApp {
        api,
        http: reqwest::Client::new(),
        store,
        topology,
        database_url,
        amqp_url,
        secret_keys,
        db,
        channel,
        _amqp: amqp,
        schema,
        shutdown,
        tasks,
        links,
        opts,
    };
    app.wait_until(Duration::from_secs(10), "the producer is ready", || async {
        app.http
            .get(format!("{}/readyz", app.api))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    app
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

/// Only the producer: for tests of the API itself (nothing routes or delivers, so whatever
/// was published still sits in the ingest queue).
pub async fn spawn_api() -> TestApp {
    spawn_app_with(Options {
        run_router: false,
        run_delivery: false,
        ..Options::default()
    })
    .await
}

impl TestApp {
    /// Stops every role (as [`TestApp::stop`]), then starts new ones on the same queues and
    /// schema, as a restart of the whole fleet would. The API moves to a new port.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.shutdown = CancellationToken::new();
        let (api, tasks, links) = start_roles(
            &self.opts,
            &self.store,
            &self.topology,
            &self.amqp_url,
            &self.shutdown,
        )
        .await;
        self.api = api;
        self.links = links;
        self.tasks = tasks;
        let (http, api) = (self.http.clone(), self.api.clone());
        self.wait_until(
            Duration::from_secs(10),
            "the restarted producer is ready",
            || {
                let (http, api) = (http.clone(), api.clone());
                async move {
                    http.get(format!("{api}/readyz"))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success())
                }
            },
        )
        .await;
    }

    /// Stops the in-process roles gracefully and checks each exited cleanly.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        for (role, task) in self.tasks.drain(..) {
            let result = tokio::time::timeout(Duration::from_secs(20), task)
                .await
                .unwrap_or_else(|_| panic!("the {role} did not stop within 20 s"))
                .expect("the role did not panic");
            if let Err(e) = result {
                panic!("the {role} failed: {e:#}");
            }
        }
    }
}

/// Every retry rung this app may have declared: the fleet ladder's and each subscription's.
async fn rung_delays(database_url: &str) -> anyhow::Result<Vec<Duration>> {
    let (db, conn) = tokio_postgres::connect(database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let rows = db
        .query(
            "SELECT DISTINCT unnest(retry_ladder_ms) FROM subscriptions",
            &[],
        )
        .await?;
    let mut delays: Vec<u64> = rows.iter().map(|r| r.get::<_, i32>(0) as u64).collect();
    delays.extend(LADDER_MS);
    delays.extend(
        hookfleet_router::enrich::RETRY_DELAYS.map(|d| u64::try_from(d.as_millis()).unwrap_or(0)),
    );
    delays.sort_unstable();
    delays.dedup();
    Ok(delays.into_iter().map(Duration::from_millis).collect())
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let (schema, topology, amqp_url, database_url) = (
            self.schema.clone(),
            self.topology.clone(),
            self.amqp_url.clone(),
            self.database_url.clone(),
        );
        // Drop cannot await; clean up on a thread of our own so it also runs after a panic.
        let cleaned = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let store = Store::connect(&database_url, 1)?;
                let subs: Vec<String> = (store.all_subscription_ids().await)
                    .unwrap_or_default()
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                let rungs = rung_delays(&database_url).await.unwrap_or_default();
                let amqp = hookfleet_bus::connect(&amqp_url, "test-cleanup").await?;
                let admin = amqp.admin().await?;
                admin.delete_namespace(&topology, &subs, &rungs).await?;
                admin.close().await;
                amqp.close().await;
                let (db, conn) =
                    tokio_postgres::connect(&database_url, tokio_postgres::NoTls).await?;
                tokio::spawn(conn);
                // Roles still running in the test's runtime are frozen while this thread
                // runs (Drop blocks that runtime), and one may be mid-transaction holding
                // locks the DROP needs: end this app's other connections first.
                db.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                     WHERE application_name = $1 AND pid <> pg_backend_pid()",
                    &[&schema],
                )
                .await?;
                db.batch_execute(&format!(
                    "SET lock_timeout = '20s'; DROP SCHEMA IF EXISTS {schema} CASCADE"
                ))
                .await?;
                anyhow::Ok(())
            })
        })
        .join();
        if let Ok(Err(e)) = cleaned {
            eprintln!("test cleanup failed: {e:#}");
        }
    }
}
