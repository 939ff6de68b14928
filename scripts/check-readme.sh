#!/usr/bin/env bash
# Runs README's walk as a newcomer pastes it: every `sh` block marked `<!-- readme-walk -->`, in
# README's order, in one shell (the quickstart's fleet and receiver, then the API sections, the
# CLI, and README's own Clean up block last), on the debug build with a vhost and a database of
# its own. Each block must show what README says it shows, and after Clean up nothing of the
# walk may be left: no database, no `hookfleet.*` queue or exchange, no pull subscriber's broker
# user, no demo vhost. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
vhost="hookfleet-ci-readme-$$"
db="hookfleet_ci_readme_$$"
work=$(mktemp -d)
walk=
mgmt=http://127.0.0.1:15672/api
cleanup() {
    # Only if the walk failed before its own Clean up: stop what it started (its process group).
    [[ -n $walk ]] && kill -- "-$walk" 2>/dev/null || true
    bash scripts/vhost.sh delete "$vhost"
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work" /tmp/hookfleet-last.json /tmp/hookfleet-quickstart.log
}
trap cleanup EXIT
die() { echo "check-readme: $*" >&2; exit 1; }
for port in 8080 9464 9999; do
    ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || die "port $port is taken: README's walk needs it"
done
# A newcomer plans the first hour around the measured first-build times README gives.
awk '/^## Set up on a fresh machine/ {on=1; next} on && /^## / {exit} on {print}' README.md \
    | tr '\n' ' ' | grep -qE "release build \*\*[0-9]+ min [0-9]+ s\*\*.*debug build \*\*[0-9]+ min [0-9]+ s\*\*" \
    || die "README's set-up does not state the measured first-build times of the demo and the tests"
bash scripts/vhost.sh add "$vhost"

# The walk: each marked block's lines, with a banner naming the block's line in README. CI has
# the debug build only.
awk '/<!-- readme-walk/ {want=1; next}
     want && /^```sh/ {inside=1; want=0; printf "echo \"== README.md line %d\"\n", NR; next}
     inside && /^```/ {inside=0; next}
     inside {print}' README.md \
    | sed 's#target/release#target/debug#g' >"$work/walk.sh"
blocks=$(grep -c '^echo "== README.md line' "$work/walk.sh" || true)
((blocks >= 10)) || die "only $blocks walk blocks found in README.md"
tail -n +1 "$work/walk.sh" | grep -q 'scripts/teardown.py' || die "the walk does not end with Clean up"

# In a session of its own, so that a failed walk's fleet and receiver can be stopped.
HOOKFLEET_AMQP_URL="amqp://guest:guest@127.0.0.1:5672/$vhost" \
HOOKFLEET_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" \
    setsid timeout 300 bash -e -o pipefail "$work/walk.sh" >"$work/out" 2>&1 &
walk=$!
status=0
wait "$walk" || status=$?
((status == 0)) || { cat "$work/out"; die "the walk failed ($status)"; }
walk=
cat "$work/out"

expect() { grep -qE -- "$1" "$work/out" || die "the walk did not show $2"; }
expect '"status":"delivered"' "the quickstart's delivered attempt"
expect '^signature verified$' "the quickstart's verified signature"
expect '^POST /v1/events - ' "the operation list from /openapi.json"
expect '"delivery":"pull"' "the pull subscription"
expect '^user\.created \{.*"organization_id":"acme"' "the pull reader's message"
expect '"state":"active"' "the webhook"
expect '"delivery_id":"dlv_' "the webhook test send"
expect '"retry_count":0' "the webhook's delivery log"
expect '^\{"accepted":true,"id":"e1"\}$' "the hook's answer"
expect '"key":"hfk_' "the API key"
[[ $(grep -c '^HTTP/1.1 201' "$work/out") -ge 2 ]] || die "the partner events were not both accepted"
[[ $(grep -o '"accepted":true' "$work/out" | wc -l) -ge 4 ]] || die "the lifecycle calls were not all accepted"
# Each lifecycle answer on a line of its own (they used to run together).
[[ $(grep -c '^{"success":true,' "$work/out") -eq 3 ]] || die "the lifecycle's three answers are not each on a line of their own"
expect '"closed":true' "the closed lifecycle event"
expect 'teardown: dropped database '"$db" "Clean up dropping the walk's database"

# Nothing of the walk is left.
left=$(psql -h 127.0.0.1 -U postgres -Atc "SELECT datname FROM pg_database WHERE datname IN ('$db', 'hookfleet_demo')")
[[ -z $left ]] || die "databases left: $left"
enc=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$vhost")
for kind in queues exchanges; do
    names=$(curl -sf -u guest:guest "$mgmt/$kind/$enc?columns=name" \
        | python3 -c 'import json, sys; print(" ".join(x["name"] for x in json.load(sys.stdin) if x["name"].startswith("hookfleet.")))')
    [[ -z $names ]] || die "$kind left: $names"
done
users=$(curl -sf -u guest:guest "$mgmt/vhosts/$enc/permissions" \
    | python3 -c 'import json, sys; print(" ".join(p["user"] for p in json.load(sys.stdin) if p["user"].startswith("hookfleet-pull-")))')
[[ -z $users ]] || die "pull users left: $users"
code=$(curl -s -o /dev/null -w '%{http_code}' -u guest:guest "$mgmt/vhosts/hookfleet-demo")
[[ $code == 404 ]] || die "the demo's vhost is left"
for port in 8080 9999; do
    ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || die "something still listens on $port after Clean up"
done
echo "check-readme: README's $blocks walk blocks run as pasted, and Clean up leaves nothing behind"
