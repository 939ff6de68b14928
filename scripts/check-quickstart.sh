#!/usr/bin/env bash
# Runs README's "Quickstart with curl" block as pasted (on the debug build, a vhost and a
# database of its own): it must print a delivered attempt and "signature verified".
set -euo pipefail
cd "$(dirname "$0")/.."
vhost="hookfleet-ci-quickstart-$$"
db=hookfleet_ci_quickstart
work=$(mktemp -d)
cleanup() {
    bash scripts/vhost.sh delete "$vhost"
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work" /tmp/hookfleet-last.json /tmp/hookfleet-quickstart.log
}
trap cleanup EXIT
die() { echo "check-quickstart: $*" >&2; exit 1; }
bash scripts/vhost.sh add "$vhost"
# The block: the fenced lines after the quickstart marker. CI has the debug build only.
awk '/<!-- quickstart:/ {on=1; next} on && /^```sh/ {inside=1; next} inside && /^```/ {exit} inside {print}' README.md \
    | sed 's#target/release/hookfleet#target/debug/hookfleet#' >"$work/quickstart.sh"
[[ -s "$work/quickstart.sh" ]] || die "no quickstart block found in README.md"
HOOKFLEET_AMQP_URL="amqp://guest:guest@127.0.0.1:5672/$vhost" \
HOOKFLEET_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" \
    timeout 120 bash -e "$work/quickstart.sh" >"$work/out" 2>&1 || { cat "$work/out"; die "the block failed"; }
cat "$work/out"
grep -q '"status":"delivered"' "$work/out" || die "the delivery log shows no delivered attempt"
grep -qx "signature verified" "$work/out" || die "the signature was not verified"
# The block's last line stops its fleet; let it finish draining before its vhost goes.
for _ in $(seq 1 60); do
    curl -sf -m 1 http://127.0.0.1:8080/healthz >/dev/null 2>&1 || break
    sleep 0.5
done
echo "check-quickstart: README's curl quickstart runs as pasted"
