#!/usr/bin/env bash
# The test suite: unit tests and end-to-end tests against the real RabbitMQ, PostgreSQL and
# loopback HTTP receivers. Starts (or installs) the services first if they are down.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
if ! cargo nextest --version >/dev/null 2>&1; then
    cargo install cargo-nextest --locked
fi
# Each test has its own queue prefix and schema, so they run in parallel. The end-to-end suites
# run twice: every subscription with a queue of its own, then with unordered push
# subscriptions on the shared tier's shard queues (the product's default), so every promise is
# checked on both tiers.
cargo nextest run --workspace --no-fail-fast
HOOKFLEET_TEST_TIER=shared cargo nextest run --workspace --no-fail-fast -E 'binary(it)'
