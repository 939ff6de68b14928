#!/usr/bin/env bash
# The README's demo as a person runs it, twice: `hookfleet demo` (the debug build), stopped with
# Ctrl-C (SIGINT) once it has shown its delivery, on a vhost, database and ports of its own.
# Each run must verify two signed deliveries and remove its subscription on the way out, and the
# second run must print exactly what the first did (ids, ports, timings and order aside).
set -euo pipefail
cd "$(dirname "$0")/.."
vhost="hookfleet-ci-demo-$$"
db="hookfleet_ci_demo_$$"
work=$(mktemp -d)
cleanup() {
    bash scripts/vhost.sh delete "$vhost"
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
die() { echo "check-demo: $*" >&2; exit 1; }
bash scripts/vhost.sh add "$vhost"

for run in 1 2; do
    log="$work/run$run.log"
    HOOKFLEET_AMQP_URL="amqp://guest:guest@127.0.0.1:5672/$vhost" \
    HOOKFLEET_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" \
    HOOKFLEET_HTTP_ADDR=127.0.0.1:18090 HOOKFLEET_METRICS_ADDR=127.0.0.1:19490 \
    RUST_LOG=warn target/debug/hookfleet demo >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 240); do
        grep -q "The fleet keeps running" "$log" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    kill -INT "$pid" 2>/dev/null || true
    status=0
    wait "$pid" || status=$?
    cat "$log"
    [[ $status -eq 0 ]] || die "run $run exited with $status"
    [[ $(grep -c "signature verified" "$log") -eq 2 ]] || die "run $run did not verify exactly 2 deliveries"
    grep -q "Removed the demo's subscription" "$log" || die "run $run left its subscription behind"
    # What changes from run to run by nature: ids, ports, the token, timings, arrival order.
    sed -E 's/^[0-9T:.-]+Z +//; s/(sub|evt|dlv)_[0-9a-f]{32}/\1_ID/g; s/127\.0\.0\.1:[0-9]+/127.0.0.1:PORT/g;
            s/Bearer [A-Za-z0-9]+/Bearer TOKEN/; s/in [0-9]+ ms/in N ms/' "$log" | sort >"$work/run$run.norm"
done
diff "$work/run1.norm" "$work/run2.norm" || die "the second run differs from the first"
active=$(psql -h 127.0.0.1 -U postgres -d "$db" -Atc "SELECT count(*) FROM subscriptions WHERE state <> 'deleted'")
[[ $active -eq 0 ]] || die "$active subscriptions left active after the demo"
echo "check-demo: two runs alike, each verified 2 signed deliveries and removed its subscription"
