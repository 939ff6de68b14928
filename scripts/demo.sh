#!/usr/bin/env bash
# Runs the whole fleet on local defaults and shows an event delivered to a local receiver.
# The fleet keeps running afterwards (API on 127.0.0.1:8080, metrics on 127.0.0.1:9464);
# Ctrl-C stops it and removes the demo's subscription. Extra arguments go to `hookfleet demo`
# (e.g. --exit). The demo has a vhost (`hookfleet-demo`) and a database (`hookfleet_demo`) of
# its own unless HOOKFLEET_AMQP_URL / HOOKFLEET_DATABASE_URL say otherwise, so it never meets a
# fleet of yours, and a second run starts as clean as the first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
if [[ -z "${HOOKFLEET_AMQP_URL:-}" ]]; then
    bash scripts/vhost.sh add hookfleet-demo
    export HOOKFLEET_AMQP_URL="amqp://guest:guest@127.0.0.1:5672/hookfleet-demo"
fi
export HOOKFLEET_DATABASE_URL="${HOOKFLEET_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/hookfleet_demo}"
echo "demo: building hookfleet in release mode (the first build took about 5 minutes on a quiet 2-core machine; cargo shows its progress)"
exec cargo run --release -p hookfleet -- demo "$@"
