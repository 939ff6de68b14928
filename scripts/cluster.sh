#!/usr/bin/env bash
# A 3-node RabbitMQ cluster on loopback for failover tests, run with the machine's own
# rabbitmq-server installation (Debian's package; no Docker) beside any broker already running
# (e.g. rabbit@localhost on :5672, which this script never touches):
#
#   cluster.sh up        start hookfleet1..3@localhost, cluster 2 and 3 onto 1, check that a
#                        quorum queue gets a member on each node, print the AMQP URLs (idempotent)
#   cluster.sh down      stop the three nodes and remove the base dir (and nothing else)
#   cluster.sh status    each node's state, then cluster_status from a live node
#   cluster.sh stop N    stop node N (1..3); it stays a cluster member
#   cluster.sh start N   start node N again (detached) and wait until it runs
#
# Node N: AMQP 127.0.0.1:568N (guest/guest, loopback only), management http://127.0.0.1:1568N,
# Erlang distribution 127.0.0.1:2568N. Each node's config, data and logs live under
# ${HOOKFLEET_CLUSTER_DIR:-/tmp/hookfleet-cluster}/nodeN (set through the RABBITMQ_* variables
# below, so /etc/rabbitmq is not read). Every wait is bounded by HOOKFLEET_CLUSTER_TIMEOUT
# seconds (default 120); a node that does not come up has its log tail printed.
# Run as root, the nodes run as the `rabbitmq` user (like Debian's own broker) and share its
# ~/.erlang.cookie; run as anyone else, they run as that user with that user's cookie.
set -euo pipefail

BASE_DIR=${HOOKFLEET_CLUSTER_DIR:-/tmp/hookfleet-cluster}
TIMEOUT=${HOOKFLEET_CLUSTER_TIMEOUT:-120}
NODES=(1 2 3)
NODE_PREFIX=hookfleet
NODE_HOST=localhost
AMQP_PORT_BASE=5680  # node N listens on AMQP_PORT_BASE + N
MGMT_PORT_BASE=15680
DIST_PORT_BASE=25680
MARKER=.hookfleet-cluster # a base dir without it is never removed

die() { echo "cluster.sh: $*" >&2; exit 1; }
say() { echo "cluster.sh: $*"; }

usage() {
  echo "usage: $0 up|down|status|stop N|start N   (N in 1..3)" >&2
  exit 2
}

# --- where RabbitMQ is and who runs it ---------------------------------------------------------

if [[ -n ${HOOKFLEET_RABBITMQ_SBIN:-} ]]; then
  SBIN=$HOOKFLEET_RABBITMQ_SBIN
elif [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]]; then
  SBIN=/usr/lib/rabbitmq/bin # Debian: /usr/sbin/rabbitmq* are wrappers that su to rabbitmq
else
  SBIN=$(dirname "$(command -v rabbitmq-server 2>/dev/null || echo /nonexistent/x)")
fi
[[ -x $SBIN/rabbitmq-server && -x $SBIN/rabbitmqctl ]] ||
  die "rabbitmq-server not found (install Debian's rabbitmq-server or set HOOKFLEET_RABBITMQ_SBIN)"

ME=$(id -un)
if [[ -n ${HOOKFLEET_CLUSTER_USER:-} ]]; then
  RUN_AS=$HOOKFLEET_CLUSTER_USER
elif ((EUID == 0)) && id -u rabbitmq >/dev/null 2>&1; then
  RUN_AS=rabbitmq
else
  RUN_AS=$ME
fi
RUN_HOME=$(getent passwd "$RUN_AS" | cut -d: -f6)
[[ -n $RUN_HOME ]] || die "no home directory for user $RUN_AS"
[[ $RUN_AS == "$ME" ]] || ((EUID == 0)) || die "only root can run the nodes as $RUN_AS"

node_name() { echo "$NODE_PREFIX$1@$NODE_HOST"; }
node_dir() { echo "$BASE_DIR/node$1"; }
amqp_port() { echo $((AMQP_PORT_BASE + $1)); }
mgmt_port() { echo $((MGMT_PORT_BASE + $1)); }
dist_port() { echo $((DIST_PORT_BASE + $1)); }
node_log() { echo "$(node_dir "$1")/log/$(node_name "$1").log"; }

# The variables a node (and the CLI talking to it) runs with, one NAME=value a line.
node_env() {
  local n=$1 d
  d=$(node_dir "$n")
  cat <<EOF
HOME=$RUN_HOME
RABBITMQ_NODENAME=$(node_name "$n")
RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
RABBITMQ_NODE_PORT=$(amqp_port "$n")
RABBITMQ_DIST_PORT=$(dist_port "$n")
RABBITMQ_CONF_ENV_FILE=$d/rabbitmq-env.conf
RABBITMQ_CONFIG_FILE=$d/rabbitmq.conf
RABBITMQ_ADVANCED_CONFIG_FILE=$d/advanced.config
RABBITMQ_ENABLED_PLUGINS_FILE=$d/enabled_plugins
RABBITMQ_MNESIA_BASE=$d/mnesia
RABBITMQ_MNESIA_DIR=$d/mnesia/$(node_name "$n")
RABBITMQ_FEATURE_FLAGS_FILE=$d/mnesia/$(node_name "$n")-feature_flags
RABBITMQ_PLUGINS_EXPAND_DIR=$d/mnesia/$(node_name "$n")-plugins-expand
RABBITMQ_LOG_BASE=$d/log
RABBITMQ_PID_FILE=$d/$(node_name "$n").pid
RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}
ERL_EPMD_ADDRESS=127.0.0.1
EOF
}

# as_node N CMD...: CMD as RUN_AS with node N's variables, from the base dir, bounded in time,
# with the open-files limit raised from runuser's 1024 (the node sizes its socket budget by it).
as_node() {
  local n=$1 envs cmd
  shift
  mapfile -t envs < <(node_env "$n")
  # shellcheck disable=SC2016 # expanded by sh -c
  cmd=(timeout -k 5 "$TIMEOUT" env "${envs[@]}"
    sh -c 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || :; exec "$@"' sh "$@")
  (
    cd "$BASE_DIR"
    if [[ $RUN_AS == "$ME" ]]; then
      exec "${cmd[@]}"
    else
      exec runuser -u "$RUN_AS" -- "${cmd[@]}"
    fi
  )
}
ctl() { local n=$1; shift; as_node "$n" "$SBIN/rabbitmqctl" -n "$(node_name "$n")" "$@"; }

# --- node state ---------------------------------------------------------------------------------

# The OS pid of node N's VM (from its environment, so no pid file is needed), or nothing.
node_pid() {
  local want_name want_base pid env
  want_name="RABBITMQ_NODENAME=$(node_name "$1")"
  want_base="RABBITMQ_MNESIA_BASE=$(node_dir "$1")/mnesia"
  for pid in $(pgrep -x beam.smp || true); do
    env=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null) || continue
    if grep -qxF "$want_name" <<<"$env" && grep -qxF "$want_base" <<<"$env"; then
      echo "$pid"
      return
    fi
  done
}
node_alive() { [[ -n $(node_pid "$1") ]]; }

# Members (running ones if $2 = running) of the cluster as node N sees it, one a line.
cluster_nodes() {
  local key=disk_nodes json
  [[ ${2:-} == running ]] && key=running_nodes
  json=$(ctl "$1" -q cluster_status --formatter json 2>/dev/null) || return 0
  grep -o "\"$key\":\[[^]]*\]" <<<"$json" | grep -o "$NODE_PREFIX[0-9]*@[^\"]*" | sort -u || true
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

log_tail() {
  local n=$1 f
  for f in "$(node_dir "$n")/log/startup.log" "$(node_log "$n")"; do
    [[ -s $f ]] || continue
    echo "---- last lines of $f" >&2
    tail -n 40 "$f" >&2
  done
}

# --- set-up -------------------------------------------------------------------------------------

prepare_dirs() {
  if [[ -d $BASE_DIR && ! -e $BASE_DIR/$MARKER && -n $(ls -A "$BASE_DIR") ]]; then
    die "$BASE_DIR exists, is not empty and was not made by this script; set HOOKFLEET_CLUSTER_DIR"
  fi
  mkdir -p "$BASE_DIR"
  touch "$BASE_DIR/$MARKER"
  local n d
  for n in "${NODES[@]}"; do
    d=$(node_dir "$n")
    mkdir -p "$d/mnesia" "$d/log"
    [[ -e $d/rabbitmq.conf ]] || cat >"$d/rabbitmq.conf" <<EOF
# $(node_name "$n"), written by scripts/cluster.sh
listeners.tcp.default = 127.0.0.1:$(amqp_port "$n")
management.tcp.ip = 127.0.0.1
management.tcp.port = $(mgmt_port "$n")
# guest/guest may log in from loopback only (the default, said explicitly)
loopback_users.guest = true
cluster_name = hookfleet-local
log.file.level = info
log.console = false
EOF
    # Every quorum queue starts with a member on each of the 3 nodes (3 is also the built-in
    # default; 3.10's rabbitmq.conf schema has no key for it, hence advanced.config).
    [[ -e $d/advanced.config ]] || echo '[{rabbit, [{quorum_cluster_size, 3}]}].' >"$d/advanced.config"
    [[ -e $d/enabled_plugins ]] || echo '[rabbitmq_management].' >"$d/enabled_plugins"
    # Read instead of /etc/rabbitmq/rabbitmq-env.conf; the same values as node_env, so that
    # RABBITMQ_CONF_ENV_FILE=$d/rabbitmq-env.conf rabbitmqctl ... also reaches this node.
    [[ -e $d/rabbitmq-env.conf ]] || node_env "$n" | grep '^RABBITMQ_' | grep -v -e CONF_ENV_FILE -e ADDITIONAL_ERL_ARGS |
      sed -e 's/^RABBITMQ_//' >"$d/rabbitmq-env.conf"
  done
  [[ $RUN_AS == "$ME" ]] || chown -R "$RUN_AS:" "$BASE_DIR"
}

# Wait until node N's rabbit app runs; on failure print its log tail and exit.
wait_node() {
  local n=$1 node deadline left
  node=$(node_name "$n")
  deadline=$((SECONDS + TIMEOUT))
  while :; do
    left=$((deadline - SECONDS))
    if ((left <= 0)); then
      log_tail "$n"
      die "$node did not start within ${TIMEOUT}s (a clustered node started while every other one is down may be waiting for the node that stopped last: start that one too)"
    fi
    if ctl "$n" -q await_startup --timeout "$left" >/dev/null 2>&1; then
      return 0
    fi
    # A node that failed during boot may still have its VM up for a moment; give it a few seconds.
    if ! node_alive "$n"; then
      sleep 3
      if ! node_alive "$n"; then
        log_tail "$n"
        die "$node exited while starting"
      fi
    fi
    sleep 2
  done
}

# Launch node N detached unless it runs already; wait_node then waits for it.
launch_node() {
  local n=$1 node p
  node=$(node_name "$n")
  node_alive "$n" && return 0
  for p in "$(amqp_port "$n")" "$(mgmt_port "$n")" "$(dist_port "$n")"; do
    ! port_busy "$p" || die "port 127.0.0.1:$p is taken by another process; $node cannot start"
  done
  rm -f "$(node_dir "$n")/$node.pid"
  say "starting $node (AMQP 127.0.0.1:$(amqp_port "$n"), management 127.0.0.1:$(mgmt_port "$n"))"
  as_node "$n" "$SBIN/rabbitmq-server" -detached >>"$(node_dir "$n")/log/startup.log" 2>&1 || {
    log_tail "$n"
    die "rabbitmq-server -detached failed for $node"
  }
}

stop_node() { # N: stop it; it stays a member of the cluster
  local n=$1 node pid deadline
  node=$(node_name "$n")
  pid=$(node_pid "$n")
  if [[ -z $pid ]]; then
    say "$node is not running"
    return 0
  fi
  say "stopping $node (pid $pid)"
  ctl "$n" -q stop >/dev/null 2>&1 || say "rabbitmqctl stop failed for $node; waiting for its VM anyway"
  deadline=$((SECONDS + TIMEOUT))
  while [[ -d /proc/$pid ]] && ((SECONDS < deadline)); do sleep 1; done
  if [[ -d /proc/$pid ]]; then
    say "$node (pid $pid) still runs after ${TIMEOUT}s: sending SIGTERM, then SIGKILL"
    kill -TERM "$pid" 2>/dev/null || true
    sleep 10
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

# Node N (2 or 3) joins node 1's cluster unless it is a member already.
join_node() {
  local n=$1 node first
  node=$(node_name "$n")
  first=$(node_name 1)
  if cluster_nodes "$n" | grep -qxF "$first"; then
    return 0
  fi
  say "joining $node to $first"
  local out
  out=$({ ctl "$n" -q stop_app && ctl "$n" -q reset && ctl "$n" -q join_cluster "$first" &&
    ctl "$n" -q start_app; } 2>&1) || {
    echo "$out" >&2
    log_tail "$n"
    die "$node could not join $first"
  }
  wait_node "$n"
}

# Wait until node 1 sees all three nodes running.
wait_cluster() {
  local deadline=$((SECONDS + TIMEOUT)) running
  while :; do
    running=$(cluster_nodes 1 running | wc -l)
    ((running == ${#NODES[@]})) && return 0
    if ((SECONDS >= deadline)); then
      ctl 1 cluster_status >&2 || true
      die "only $running of ${#NODES[@]} nodes running in the cluster after ${TIMEOUT}s"
    fi
    sleep 2
  done
}

# Declare a quorum queue through node 1 (AMQP with pika if python3 has it, else the management
# API), check it has a member on every node, delete it.
check_quorum() {
  local q="hookfleet-cluster-check-$$" py=${HOOKFLEET_CLUSTER_PYTHON:-python3} members
  if "$py" -c 'import pika' 2>/dev/null; then
    "$py" - "$(amqp_port 1)" "$q" <<'EOF'
import sys, pika
port, queue = int(sys.argv[1]), sys.argv[2]
params = pika.ConnectionParameters("127.0.0.1", port, "/", pika.PlainCredentials("guest", "guest"),
                                   socket_timeout=10, blocked_connection_timeout=10)
with pika.BlockingConnection(params) as conn:
    conn.channel().queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
EOF
  else
    curl -fsS --max-time 10 -u guest:guest -X PUT -H 'content-type: application/json' \
      -d '{"durable":true,"arguments":{"x-queue-type":"quorum"}}' \
      "http://127.0.0.1:$(mgmt_port 1)/api/queues/%2f/$q" >/dev/null
  fi
  members=$(ctl 1 -q list_queues name members --no-table-headers | awk -v q="$q" '$1 == q' |
    grep -o "$NODE_PREFIX[0-9]*@$NODE_HOST" | sort -u | wc -l) || members=0
  ctl 1 -q delete_queue "$q" >/dev/null || say "could not delete test queue $q"
  ((members == ${#NODES[@]})) ||
    die "test quorum queue $q had $members member(s), not ${#NODES[@]}"
  say "a new quorum queue gets $members members (one per node)"
}

print_urls() {
  local n urls=()
  for n in "${NODES[@]}"; do urls+=("amqp://guest:guest@127.0.0.1:$(amqp_port "$n")/%2f"); done
  echo "AMQP URLs:"
  (IFS=,; echo "${urls[*]}")
}

# --- subcommands --------------------------------------------------------------------------------

cmd_status() {
  local n pid live=""
  for n in "${NODES[@]}"; do
    pid=$(node_pid "$n")
    if [[ -n $pid ]]; then
      [[ -n $live ]] || live=$n
      printf '%-22s running (pid %s)  amqp 127.0.0.1:%s  management http://127.0.0.1:%s\n' \
        "$(node_name "$n")" "$pid" "$(amqp_port "$n")" "$(mgmt_port "$n")"
    else
      printf '%-22s stopped\n' "$(node_name "$n")"
    fi
  done
  if [[ -z $live ]]; then
    echo "no node of the cluster is running"
    return 0
  fi
  ctl "$live" cluster_status
}

cmd_up() {
  local started=$SECONDS n all_up=true
  for n in "${NODES[@]}"; do node_alive "$n" || all_up=false; done
  if $all_up && [[ -e $BASE_DIR/$MARKER ]] && (($(cluster_nodes 1 running | wc -l) == ${#NODES[@]})); then
    say "cluster already up"
    cmd_status
    print_urls
    return 0
  fi
  prepare_dirs
  # All at once: a clustered node that restarts waits for the one that stopped last.
  for n in "${NODES[@]}"; do launch_node "$n"; done
  for n in "${NODES[@]}"; do wait_node "$n"; done
  for n in "${NODES[@]:1}"; do join_node "$n"; done
  wait_cluster
  check_quorum
  say "cluster up in $((SECONDS - started))s: $(cluster_nodes 1 running | tr '\n' ' ')"
  print_urls
}

cmd_down() {
  local n
  for n in "${NODES[@]}"; do stop_node "$n"; done
  if [[ -d $BASE_DIR ]]; then
    [[ -e $BASE_DIR/$MARKER ]] || die "$BASE_DIR was not made by this script; left in place"
    rm -rf -- "$BASE_DIR"
    say "removed $BASE_DIR"
  fi
}

node_arg() {
  [[ ${1:-} =~ ^[1-3]$ ]] || usage
  [[ -e $BASE_DIR/$MARKER ]] || die "no cluster in $BASE_DIR; run '$0 up' first"
}

case "${1:-}" in
  up) [[ $# -eq 1 ]] || usage; cmd_up ;;
  down) [[ $# -eq 1 ]] || usage; cmd_down ;;
  status) [[ $# -eq 1 ]] || usage; cmd_status ;;
  stop) [[ $# -eq 2 ]] || usage; node_arg "$2"; stop_node "$2" ;;
  start) [[ $# -eq 2 ]] || usage; node_arg "$2"; launch_node "$2"; wait_node "$2"; say "$(node_name "$2") is running" ;;
  *) usage ;;
esac
