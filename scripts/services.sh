#!/usr/bin/env bash
# Makes RabbitMQ answer on 127.0.0.1:5672 (guest/guest) and PostgreSQL on 127.0.0.1:5432 (trust
# for user postgres, database `test` present), and `node` on the PATH (the tests run source document
# 002's own receiver code with it). Idempotent; runs as root; a running service is left alone. `--ci-tools` also installs, if missing, `prometheus` (promtool) and `docker-compose`.
set -euo pipefail

WAIT_SECS=${WAIT_SECS:-60}          # how long a service may take to accept connections
APT_LOCK_WAIT=${APT_LOCK_WAIT:-600} # how long to wait for another apt/dpkg to finish
export PGCONNECT_TIMEOUT=5

ci_tools=false
case "${1:-}" in
  '') ;;
  --ci-tools) ci_tools=true ;;
  *) echo "usage: $0 [--ci-tools]" >&2; exit 2 ;;
esac

die() { echo "services.sh: $*" >&2; exit 1; }
installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == 'install ok installed' ]]; }
rabbit_up() { timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/5672' 2>/dev/null; }
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
pg_version() { ls /etc/postgresql | sort -V | tail -n1; }
# The postgresql-client package alone also brings pg_ctlcluster: a server means a cluster exists.
pg_installed() { [[ -d /etc/postgresql && -n $(ls /etc/postgresql) ]] && command -v pg_ctlcluster >/dev/null; }

# apt-get, retried while another apt/dpkg holds a lock: DPkg::Lock::Timeout covers only dpkg's
# lock, not the lists lock that `apt-get update` takes.
apt_get() {
  local deadline=$((SECONDS + APT_LOCK_WAIT)) err said=false
  err=$(mktemp)
  until DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=60 "$@" 2>"$err"; do
    if ! grep -q 'Could not get lock' "$err"; then cat "$err" >&2; rm -f "$err"; die "apt-get $* failed"; fi
    ((SECONDS < deadline)) || { cat "$err" >&2; rm -f "$err"; die "apt/dpkg lock still held after ${APT_LOCK_WAIT}s"; }
    $said || echo "services.sh: another apt/dpkg holds its lock; waiting up to ${APT_LOCK_WAIT}s" >&2
    said=true; sleep 5
  done
  cat "$err" >&2; rm -f "$err"
}

wait_for() { # NAME COMMAND...
  local name=$1 deadline=$((SECONDS + WAIT_SECS)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "$name does not accept connections on 127.0.0.1 after ${WAIT_SECS}s"
    sleep 1
  done
}

# One apt run for everything missing.
missing=()
command -v rabbitmq-server >/dev/null || missing+=(rabbitmq-server)
pg_installed || missing+=(postgresql)
command -v node >/dev/null || missing+=(nodejs)
if $ci_tools; then
  for pkg in prometheus docker-compose; do installed "$pkg" || missing+=("$pkg"); done
fi
if ((${#missing[@]})); then
  [[ $EUID -eq 0 ]] || die "must run as root to install: ${missing[*]}"
  apt_get update -q
  apt_get install -y -q "${missing[@]}"
fi
[[ " ${missing[*]} " == *' rabbitmq-server '* ]] && rabbit_did=installed || rabbit_did=
[[ " ${missing[*]} " == *' postgresql '* ]] && pg_did=installed || pg_did=

# RabbitMQ sizes its file handle cache from its open-files limit. At the packaged 1024, a node
# holding ~1,000 quorum queues with consumers stops accepting connections and management calls
# hang (BENCHMARKS.md, "1,000 subscriptions"). The packaged start script goes through `su`,
# which drops a raised limit, so as root the node is started with setpriv instead.
start_rabbit() {
  if [[ $EUID -eq 0 ]] && command -v setpriv >/dev/null && [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]]; then
    local hard; hard=$(ulimit -Hn)
    [[ $hard == unlimited || $hard -gt 65536 ]] && hard=65536
    (ulimit -n "$hard"; cd /var/lib/rabbitmq \
      && setpriv --reuid rabbitmq --regid rabbitmq --init-groups \
        env HOME=/var/lib/rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server -detached)
  else
    rabbitmq-server -detached
  fi
}
rabbit_files() {
  local pid; pid=$(pgrep -u rabbitmq -f 'beam.smp.*rabbit' | head -1)
  [[ -n $pid ]] && awk '/Max open files/ {print $4}' "/proc/$pid/limits" 2>/dev/null
}

# RabbitMQ. The package's postinst may already have started it.
if rabbit_up; then
  rabbit_did=${rabbit_did:-already running}
elif timeout 30 rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
  rabbit_did=${rabbit_did:-was booting} # node is up, listener not yet: a second start would fail
else
  start_rabbit
  rabbit_did="${rabbit_did:+$rabbit_did, }started"
fi
wait_for RabbitMQ rabbit_up
files=$(rabbit_files || true)
if [[ -n $files && $files -lt 4096 ]]; then
  echo "services: note: RabbitMQ may open only $files files: enough for the demo and the tests, not for thousands of subscriptions. To raise it, restart RabbitMQ through this script as root: sudo rabbitmqctl stop && sudo bash scripts/services.sh" >&2
fi

# RabbitMQ's management API: pull subscriptions' users are made through it. Enabling a plugin
# on a running node needs no restart.
mgmt_up() { timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/15672' 2>/dev/null; }
mgmt_up || rabbitmq-plugins enable rabbitmq_management >/dev/null
wait_for "RabbitMQ's management API" mgmt_up

# The pull-subscriber test reads its queue with Python's pika, a client hookfleet did not write.
if ! python3 -c 'import pika' 2>/dev/null; then
  python3 -m pip install -q pika 2>/dev/null || apt_get install -y -q python3-pika
fi

# PostgreSQL. Only a cluster this script created gets its pg_hba.conf changed.
pgv=$(pg_version)
if [[ -n $pg_did ]]; then
  hba=/etc/postgresql/$pgv/main/pg_hba.conf
  # First matching line wins, so trust lines put on top override the packaged peer/scram ones.
  if ! grep -q '^# hookfleet: trust' "$hba"; then
    printf '%s\n' '# hookfleet: trust local connections (dev/CI only)' \
      'local all all trust' 'host all all 127.0.0.1/32 trust' 'host all all ::1/128 trust' \
      | cat - "$hba" >"$hba.new"
    chown --reference="$hba" "$hba.new"; chmod --reference="$hba" "$hba.new"; mv "$hba.new" "$hba"
  fi
  if pg_ctlcluster "$pgv" main status >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$pgv" main reload
  fi
fi
if pg_up; then
  pg_did=${pg_did:-already running}
elif pg_ctlcluster "$pgv" main status >/dev/null 2>&1; then
  pg_did=${pg_did:-was starting}
else
  pg_ctlcluster --skip-systemctl-redirect "$pgv" main start
  pg_did="${pg_did:+$pg_did, }started"
fi
wait_for PostgreSQL pg_up

# -w: fail instead of prompting when the server does not trust user postgres.
psql_q() { psql -h 127.0.0.1 -U postgres -w -d postgres -v ON_ERROR_STOP=1 -tAc "$1"; }
has_test=$(psql_q "SELECT 1 FROM pg_database WHERE datname = 'test'") \
  || die "cannot connect to PostgreSQL as postgres without a password (pg_hba.conf must trust 127.0.0.1)"
if [[ $has_test == 1 ]]; then
  pg_did+="; database test present"
else
  psql_q 'CREATE DATABASE test' >/dev/null
  pg_did+="; database test created"
fi

echo "rabbitmq: $rabbit_did (127.0.0.1:5672)"
echo "postgres: $pg_did (127.0.0.1:5432)"
if $ci_tools; then
  tools=()
  for pkg in prometheus docker-compose; do
    [[ " ${missing[*]} " == *" $pkg "* ]] && tools+=("$pkg installed") || tools+=("$pkg present")
  done
  echo "ci-tools: ${tools[*]}"
fi
