#!/usr/bin/env bash
# The test suite: unit tests and end-to-end tests against the real RabbitMQ, PostgreSQL and
# loopback HTTP receivers. Starts (or installs) the services first if they are down.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
if ! cargo nextest --version >/dev/null 2>&1; then
    cargo install cargo-nextest --locked
fi
# Each test has its own queue prefix and schema, so they run in parallel.
cargo nextest run --workspace --no-fail-fast
