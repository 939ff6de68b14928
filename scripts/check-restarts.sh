#!/usr/bin/env bash
# Promise 1 through real restarts: runs the fleet (`hookfleet all`) in a vhost and database of
# its own, posts events while RabbitMQ's application is stopped and started again under it and
# then PostgreSQL is restarted, and requires every event delivered and recorded, with no
# process restarted. It stops both services for everyone on this machine for a few seconds:
# run it alone (CI runs it after the tests). Free ports on 127.0.0.1, found at start. Uses the debug binary (or builds it).
# Under RabbitMQ 4's default delivery limit (DELIVERY_LIMIT, 20), put on the vhost's quorum
# queues as an operator policy: at the end no message may have been dead-lettered by it (the
# fleet never retries by requeueing). `DELIVERY_LIMIT=1` shows the check failing.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-300}
DELIVERY_LIMIT=${DELIVERY_LIMIT:-20}
work=$(mktemp -d)
db="hookfleet_ci_restart_$$"
vhost="hookfleet-ci-restart-$$"
source scripts/ci-fleet.sh "$db" "$vhost" 0
export HOOKFLEET_RETRY_LADDER=200ms,500ms,1s,2s
export RUST_LOG=warn,lapin=off
pids=()
say() { echo "check-restarts: $*"; }
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    # Whatever happened, leave both services running.
    rabbitmqctl -q start_app >/dev/null 2>&1 || true
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start >/dev/null 2>&1 || true
    bash scripts/vhost.sh delete "$vhost"
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
bash scripts/vhost.sh add "$vhost"
dev=target/debug/hookfleet-dev
[ -x "$dev" ] || cargo build -p hookfleet-devtools
# Before the fleet declares its queues; the vhost's deletion removes the policy with it.
"$dev" delivery-limit apply --vhost "$vhost" --limit "$DELIVERY_LIMIT"
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null

# A receiver that answers 200 and writes each body's `data.i` on a line.
python3 scripts/receiver.py "$work/received" > "$work/receiver.port" &
pids+=($!)
for _ in $(seq 50); do [ -s "$work/receiver.port" ] && break; sleep 0.1; done
# Chosen once the receiver holds its port: a port picked free before could be the one the
# receiver's bind to port 0 then gets.
export HOOKFLEET_HTTP_ADDR="127.0.0.1:$(free_port)" HOOKFLEET_METRICS_ADDR="127.0.0.1:$(free_port)"

"$bin" all > "$work/fleet.log" 2>&1 &
fleet=$!
pids+=($fleet)
for _ in $(seq 150); do curl -fs http://$HOOKFLEET_METRICS_ADDR/readyz >/dev/null && break; sleep 0.2; done
curl -fs http://$HOOKFLEET_METRICS_ADDR/readyz >/dev/null || { cat "$work/fleet.log" >&2; say "the fleet never became ready"; exit 1; }
for _ in $(seq 50); do [ -s "$work/receiver.port" ] && break; sleep 0.1; done
port=$(cat "$work/receiver.port")

api=http://$HOOKFLEET_HTTP_ADDR
auth=(-H "Authorization: Bearer ci-token" -H "Content-Type: application/json")
curl -fs "${auth[@]}" -d "{\"url\":\"http://127.0.0.1:$port/hook\",\"event_types\":[\"#\"]}" "$api/v1/subscriptions" >/dev/null

# Posts event i until the API accepts it. The idempotency key makes a repeat after a lost
# answer the same event, so the count below is exact.
post() {
    local i=$1 code deadline=$((SECONDS + 60))
    while :; do
        code=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" \
            -d "{\"type\":\"ci.restart\",\"data\":{\"i\":$i},\"idempotency_key\":\"restart-$i\"}" \
            "$api/v1/events") || code=000
        [ "$code" = 202 ] && return 0
        ((SECONDS < deadline)) || { say "event $i still refused ($code) after 60 s"; return 1; }
        sleep 0.1
    done
}
(
    for i in $(seq 1 "$EVENTS"); do post "$i" || exit 1; sleep 0.01; done
) &
poster=$!

# Restart the broker's application while events flow.
sleep 1
say "stopping RabbitMQ with $(sort -u "$work/received" | wc -l) events delivered"
rabbitmqctl -q stop_app
sleep 3
rabbitmqctl -q start_app
say "RabbitMQ started again"
# And the database, for promise 1's other half.
sleep 1
say "restarting PostgreSQL with $(sort -u "$work/received" | wc -l) events delivered"
pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main restart
say "PostgreSQL started again"
wait "$poster" || { tail -20 "$work/fleet.log" >&2; exit 1; }

deadline=$((SECONDS + 90))
until [ "$(sort -u "$work/received" | wc -l)" -ge "$EVENTS" ]; do
    if ((SECONDS >= deadline)); then
        say "only $(sort -u "$work/received" | wc -l) of $EVENTS events delivered"; tail -20 "$work/fleet.log" >&2; exit 1
    fi
    sleep 0.5
done
recorded=$(psql -h 127.0.0.1 -U postgres -d "$db" -tAc \
    "SELECT count(*) FROM deliveries WHERE status = 'delivered'")
kill -0 "$fleet" || { say "the fleet process died"; exit 1; }
restarts=$(curl -fs http://$HOOKFLEET_METRICS_ADDR/metrics | awk '/^hookfleet_role_restarts_total/ {s+=$2} END {print s+0}')
say "$EVENTS events delivered ($(wc -l < "$work/received") requests), $recorded recorded delivered, $restarts role reconnects, one process throughout"
[ "$recorded" -eq "$EVENTS" ] || { say "expected $EVENTS deliveries recorded delivered"; exit 1; }
[ "$restarts" -ge 2 ] || { say "the roles did not reconnect (the restart proved nothing)"; exit 1; }
# Last: it reads hookfleet.dead empty. Fails if the limit was not in effect on every quorum
# queue, or dead-lettered anything.
"$dev" delivery-limit check --vhost "$vhost" --limit "$DELIVERY_LIMIT"
