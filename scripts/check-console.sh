#!/usr/bin/env bash
# The web console in headless Chromium (scripts/console_test.py, Playwright from PyPI): signs
# in, creates a subscription, sends a test event and sees it delivered, makes the receiver fail
# and watches the retries appear, reads the log, resends, and saves a PNG of each page under
# target/console-screenshots/. The fleet is the debug build's `hookfleet all` on a vhost,
# database and ports of its own, with a retry ladder of seconds.
# Installs what it needs if missing: Playwright (pinned) in a venv under target/, and Debian's
# chromium (Playwright's own browser download is not used).
set -euo pipefail
cd "$(dirname "$0")/.."
PLAYWRIGHT_VERSION=1.65.2
venv=target/console-venv
shots=target/console-screenshots
vhost="con_console-ci-$$"
db=con_console_ci
port=19080
metrics_port=19081
work=$(mktemp -d)
fleet=
cleanup() {
    if [[ -n $fleet ]]; then
        kill -TERM "$fleet" 2>/dev/null || true
        wait "$fleet" 2>/dev/null || true
    fi
    bash scripts/vhost.sh delete "$vhost"
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
die() { echo "check-console: $*" >&2; [[ -f $work/fleet.log ]] && tail -n 40 "$work/fleet.log" >&2; exit 1; }

if [[ ! -x /usr/bin/chromium ]]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! "$venv/bin/python" -c "import playwright, sys; from importlib.metadata import version; sys.exit(version('playwright') != '$PLAYWRIGHT_VERSION')" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "playwright==$PLAYWRIGHT_VERSION"
fi
[[ -x target/debug/hookfleet ]] || cargo build -q -p hookfleet

bash scripts/vhost.sh add "$vhost"
token="console-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
HOOKFLEET_AMQP_URL="amqp://guest:guest@127.0.0.1:5672/$vhost" \
HOOKFLEET_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" \
HOOKFLEET_HTTP_ADDR=127.0.0.1:$port HOOKFLEET_METRICS_ADDR=127.0.0.1:$metrics_port \
HOOKFLEET_ADMIN_TOKEN="$token" HOOKFLEET_ALLOW_PRIVATE_TARGETS=true \
HOOKFLEET_RETRY_LADDER=3s,3s,3s RUST_LOG=warn,lapin=off \
    target/debug/hookfleet all >"$work/fleet.log" 2>&1 &
fleet=$!
for _ in $(seq 1 120); do
    curl -sf -m 1 "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    kill -0 "$fleet" 2>/dev/null || die "the fleet exited"
    sleep 0.5
done
curl -sf -m 1 "http://127.0.0.1:$port/readyz" >/dev/null || die "the fleet was not ready within 60 s"

rm -rf "$shots"
CONSOLE_BASE="http://127.0.0.1:$port" CONSOLE_TOKEN="$token" SCREENSHOT_DIR="$shots" \
CHROMIUM=/usr/bin/chromium timeout 300 "$venv/bin/python" scripts/console_test.py \
    || die "the console test failed"
count=$(find "$shots" -name '*.png' | wc -l)
[[ $count -ge 7 ]] || die "expected 7 screenshots, found $count"
echo "check-console: the console test passed; screenshots in $shots/"
