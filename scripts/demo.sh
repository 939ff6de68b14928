#!/usr/bin/env bash
# Runs the whole fleet on local defaults and shows an event delivered to a local receiver.
# The fleet keeps running afterwards (API on 127.0.0.1:8080, metrics on 127.0.0.1:9464);
# Ctrl-C stops it. Extra arguments go to `hookfleet demo` (e.g. --exit).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
exec cargo run --release --quiet -p hookfleet -- demo "$@"
