# Sourced by the CI checks that run the real binary: the debug build (built if missing) and
# the environment of a fleet in a vhost and a database of its own, so no run meets another's.
#   source scripts/ci-fleet.sh DATABASE VHOST HTTP_PORT
# It also defines `free_port`, which prints a TCP port nothing on 127.0.0.1 listens on now, so
# two runs of a check never meet on a port.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
bin=target/debug/hookfleet
[ -x "$bin" ] || cargo build -p hookfleet
export HOOKFLEET_AMQP_URL="amqp://guest:guest@127.0.0.1:5672/$2"
export HOOKFLEET_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$1"
export HOOKFLEET_ADMIN_TOKEN="ci-token"
export HOOKFLEET_ALLOW_PRIVATE_TARGETS=true
export HOOKFLEET_HTTP_ADDR="127.0.0.1:$3"
