#!/usr/bin/env bash
# Checks the API against its own description: schemathesis (PyPI, pinned, in a venv under
# target/) reads /openapi.json from `target/debug/hookfleet all` (run on a vhost, a database
# and ports of its own, with a token of its own) and sends generated requests to every
# operation. It fails on any 5xx, and on any answer whose status code, content type or body
# the description does not allow. Then the fleet stops and its vhost, database and any pull
# subscriber's broker user go. Exits non-zero on any failure.
#   HOOKFLEET_OPENAPI_PORT    the API's port (default 18080; metrics on the next one)
#   HOOKFLEET_OPENAPI_EXAMPLES  generated cases per operation and phase (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
st_version=4.32.5
venv="target/schemathesis-$st_version"
port=${HOOKFLEET_OPENAPI_PORT:-18080}
examples=${HOOKFLEET_OPENAPI_EXAMPLES:-100}
api="http://127.0.0.1:$port"
vhost="hookfleet-ci-openapi-$$"
db="hookfleet_ci_openapi_$$"
token="openapi-check-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
work=$(mktemp -d)
fleet=
die() { echo "check-openapi: $*" >&2; exit 1; }

cleanup() {
    if [[ -n $fleet ]] && kill -0 "$fleet" 2>/dev/null; then
        kill -INT "$fleet"
        wait "$fleet" 2>/dev/null || true
    fi
    # Pull subscriptions the run made have broker users; deleting the vhost keeps them.
    curl -s -m 10 -u guest:guest "http://127.0.0.1:15672/api/vhosts/$vhost/permissions" 2>/dev/null \
        | python3 -c 'import json, sys
try:
    print("\n".join(p["user"] for p in json.load(sys.stdin) if p["user"].startswith("hookfleet-pull-")))
except (ValueError, TypeError, KeyError):
    pass' >"$work/users" || true
    while read -r user; do
        [[ -n $user ]] && curl -s -m 10 -u guest:guest -X DELETE "http://127.0.0.1:15672/api/users/$user" >/dev/null || true
    done <"$work/users"
    bash scripts/vhost.sh delete "$vhost"
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

[[ -x target/debug/hookfleet ]] || die "target/debug/hookfleet is missing: run cargo build first"
if [[ ! -x $venv/bin/schemathesis ]]; then
    echo "check-openapi: installing schemathesis $st_version into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "schemathesis==$st_version" || die "pip could not install schemathesis"
fi

bash scripts/vhost.sh add "$vhost"
HOOKFLEET_AMQP_URL="amqp://guest:guest@127.0.0.1:5672/$vhost" \
HOOKFLEET_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" \
HOOKFLEET_HTTP_ADDR="127.0.0.1:$port" \
HOOKFLEET_METRICS_ADDR="127.0.0.1:$((port + 1))" \
HOOKFLEET_ADMIN_TOKEN="$token" \
HOOKFLEET_ALLOW_PRIVATE_TARGETS=true \
HOOKFLEET_SUBSCRIPTION_QUEUES=classic \
HOOKFLEET_DELETED_QUEUE_GRACE=10s \
RUST_LOG=warn,lapin=off \
    target/debug/hookfleet all >"$work/fleet.log" 2>&1 &
fleet=$!
for _ in $(seq 1 120); do
    curl -sf -m 2 "$api/readyz" >/dev/null 2>&1 && break
    kill -0 "$fleet" 2>/dev/null || { cat "$work/fleet.log"; die "the fleet exited at start"; }
    sleep 0.5
done
curl -sf -m 2 "$api/readyz" >/dev/null || { cat "$work/fleet.log"; die "the fleet is not ready"; }

# The description must be served without a credential.
curl -sf -m 10 "$api/openapi.json" -o "$work/openapi.json" || die "GET /openapi.json failed"

# Each phase is bounded by the cases per operation (--max-time would make fuzzing repeat until
# it is spent); `timeout` stops a run that hangs.
# Run from the scratch directory: schemathesis keeps its crash files under the working one.
status=0
st="$PWD/$venv/bin/schemathesis"
(cd "$work" && timeout 900 "$st" run openapi.json --url "$api" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing,stateful \
    --header "Authorization: Bearer $token" \
    --max-examples "$examples" --seed 1 --workers 2 --request-timeout 20 \
    --no-color --output-sanitize true --generation-database none) || status=$?
if ((status != 0)); then
    echo "check-openapi: the fleet's log, last 40 lines:" >&2
    tail -n 40 "$work/fleet.log" >&2
    die "schemathesis found answers the description does not allow (exit $status)"
fi
echo "check-openapi: every operation answered as described (schemathesis $st_version)"
