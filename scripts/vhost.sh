#!/usr/bin/env bash
# A RabbitMQ vhost of its own for one check, so no run meets another's queues:
#   vhost.sh add NAME      creates it and lets guest use it
#   vhost.sh delete NAME   removes it with everything in it (quietly; for clean-up traps)
set -euo pipefail
case "${1:-} ${2:-}" in
  'add '?*)
    rabbitmqctl -q add_vhost "$2" >/dev/null
    rabbitmqctl -q set_permissions -p "$2" guest '.*' '.*' '.*' >/dev/null ;;
  'delete '?*)
    rabbitmqctl -q delete_vhost "$2" >/dev/null 2>&1 || true ;;
  *) echo "usage: $0 add|delete NAME" >&2; exit 2 ;;
esac
