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
# checked on both tiers. The second pass leaves out the suites no tier can change: those that
# make no subscription (keys, channels, the console, reading events, passwords, probes,
# metrics, retention, slow clients) and those whose subscriptions always have a queue of their
# own (pull, FIFO) or choose their tier themselves (tiers).
cargo nextest run --workspace --no-fail-fast
SAME_ON_EVERY_TIER='api_keys|channels|console|events_read|fifo|passwords|probe|process_metrics|pull|record|retention|slow_clients|tiers'
HOOKFLEET_TEST_TIER=shared cargo nextest run --workspace --no-fail-fast \
    -E "binary(it) - test(/^($SAME_ON_EVERY_TIER)::/)"
