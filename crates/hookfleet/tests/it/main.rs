//! End-to-end tests of the fleet against the real RabbitMQ, PostgreSQL and loopback receivers.

// Cargo hands an integration test every dependency of the binary it tests; these serve the
// binary (its command line, logs and metrics, starting roles) and no test here.
use {
    anyhow as _, clap as _, hookfleet_launch as _, hookfleet_router as _, indicatif as _,
    metrics as _, metrics_exporter_prometheus as _, tikv_jemallocator as _, tokio_util as _,
    tracing as _, url as _,
};

mod api_fuzz;
mod api_keys;
mod bad_input;
mod batch;
mod bounds;
mod changes;
mod channels;
mod child;
mod churn;
mod classic;
mod cli;
mod console;
mod crash;
mod delivery;
mod delivery_log;
mod events_read;
mod fanout;
mod fifo;
mod health;
mod hostile;
mod intake_props;
mod isolate;
mod isolation;
mod keycloak;
mod keycloak_paths;
mod ladder;
mod lifecycle;
mod lifecycle_rules;
mod log;
mod management_props;
mod openapi;
mod operator_log;
mod partner;
mod passwords;
mod pca;
mod poison;
mod probe;
mod process_metrics;
mod pull;
mod reconnect;
mod record;
mod recovery;
mod retention;
mod sealed;
mod secrets;
mod slow_clients;
mod subscriptions;
mod tenancy;
mod tiers;
mod warnings;
mod webhooks;
