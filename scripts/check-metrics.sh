#!/usr/bin/env bash
# Runs producer, router and delivery as separate processes, sends traffic through them, and
# checks each role's /metrics with promtool; then stops them with SIGTERM and requires exit 0.
# Uses the debug binary the test run built (or builds it). Its ports, vhost and database are its
# own (free ports found at start, names with this run's pid), so two runs never meet.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
db="hookfleet_ci_metrics_$$"
# A vhost of its own, removed with everything in it when the check ends.
vhost="hookfleet-ci-metrics-$$"
source scripts/ci-fleet.sh "$db" "$vhost" 0
api_port=$(free_port)
export HOOKFLEET_HTTP_ADDR="127.0.0.1:$api_port"
export RUST_LOG=warn
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    bash scripts/vhost.sh delete "$vhost"
    rm -rf "$work"
}
trap cleanup EXIT
bash scripts/vhost.sh add "$vhost"
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
"$bin" migrate

# A receiver that answers 200 to every POST.
python3 scripts/receiver.py > "$work/receiver.port" &
pids+=($!)

declare -A metrics=([producer]=127.0.0.1:$(free_port) [router]=127.0.0.1:$(free_port) [delivery]=127.0.0.1:$(free_port))
declare -A role_pid
for role in producer router delivery; do
    HOOKFLEET_METRICS_ADDR=${metrics[$role]} "$bin" "$role" &
    role_pid[$role]=$!
    pids+=($!)
done
for role in producer router delivery; do
    for _ in $(seq 100); do
        curl -fs "http://${metrics[$role]}/readyz" >/dev/null && break
        sleep 0.2
    done
    curl -fs "http://${metrics[$role]}/readyz" >/dev/null || { echo "check-metrics: $role never became ready" >&2; exit 1; }
done
for _ in $(seq 50); do [ -s "$work/receiver.port" ] && break; sleep 0.1; done
port=$(cat "$work/receiver.port")

api=http://127.0.0.1:$api_port
auth=(-H "Authorization: Bearer ci-token" -H "Content-Type: application/json")
curl -fs "${auth[@]}" -d "{\"url\":\"http://127.0.0.1:$port/ok\",\"event_types\":[\"#\"]}" "$api/v1/subscriptions" >/dev/null
curl -fs "${auth[@]}" -d '{"url":"http://127.0.0.1:9/closed","event_types":["#"]}' "$api/v1/subscriptions" >/dev/null
for i in 1 2 3; do
    curl -fs "${auth[@]}" -d "{\"type\":\"ci.check\",\"organization_ids\":[\"o$i\"],\"data\":{}}" "$api/v1/events" >/dev/null
done
# Workers pick subscriptions up within the reconcile interval; then 6 outcomes must be recorded.
for _ in $(seq 100); do
    curl -fs "http://${metrics[delivery]}/metrics" | grep -q 'hookfleet_outcome_batch_size_sum' && \
    [ "$(curl -fs "http://${metrics[delivery]}/metrics" | awk '/^hookfleet_deliveries_total/ {s+=$2} END {print s+0}')" -ge 6 ] && break
    sleep 0.2
done

status=0
declare -A expect=(
    [producer]="hookfleet_events_ingested_total hookfleet_http_requests_total"
    [router]="hookfleet_messages_routed_total"
    [delivery]="hookfleet_deliveries_total hookfleet_delivery_duration_seconds_bucket hookfleet_outcome_batch_size_bucket"
)
for role in producer router delivery; do
    out="$work/$role.prom"
    curl -fs "http://${metrics[$role]}/metrics" > "$out"
    if promtool check metrics < "$out"; then
        echo "check-metrics: $role /metrics passes promtool"
    else
        echo "check-metrics: $role /metrics fails promtool" >&2; status=1
    fi
    for name in ${expect[$role]}; do
        grep -q "^$name" "$out" || { echo "check-metrics: $role lacks $name" >&2; status=1; }
    done
done

# The names real processes export are the ones the dashboard and alert check finds in the
# sources (scripts/check-compose.sh relies on that scan).
py=/usr/bin/python3; [[ -x $py ]] || py=python3
"$py" scripts/check_observability.py --scraped "$work"/*.prom || status=1

# Graceful shutdown: SIGTERM drains and exits 0.
for role in producer router delivery; do
    kill -TERM "${role_pid[$role]}"
    if wait "${role_pid[$role]}"; then
        echo "check-metrics: $role exited 0 on SIGTERM"
    else
        echo "check-metrics: $role did not exit 0 on SIGTERM" >&2; status=1
    fi
done
exit $status
