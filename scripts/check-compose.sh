#!/usr/bin/env bash
# Validates docker-compose.yml and checks that the delivery service stays scalable
# (`docker compose up --scale delivery=N` needs no container_name and no host ports on it).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "check-compose: $*" >&2; exit 1; }
command -v docker-compose >/dev/null || die "docker-compose not installed (scripts/services.sh --ci-tools installs it)"
# The file requires an admin token for the producer; any value does for validation.
export HOOKFLEET_ADMIN_TOKEN=check

docker-compose -f docker-compose.yml config -q || die "docker-compose.yml is invalid"
config=$(docker-compose -f docker-compose.yml config)

# Debian's docker-compose runs on /usr/bin/python3, whose python3-yaml it depends on.
py=/usr/bin/python3; [[ -x $py ]] || py=python3
"$py" -c '
import sys, yaml
delivery = (yaml.safe_load(sys.stdin).get("services") or {}).get("delivery")
if delivery is None:
    sys.exit("check-compose: no delivery service in docker-compose.yml")
bad = [key for key in ("container_name", "ports") if key in delivery]
if bad:
    sys.exit("check-compose: delivery sets %s; it must stay scalable with --scale" % ", ".join(bad))
' <<<"$config"
# The cluster profile: three RabbitMQ nodes, each with its own data volume, forming from the
# mounted classic_config file.
services=$(docker-compose -f docker-compose.yml --profile cluster config --services)
for n in 1 2 3; do
    grep -qx "rabbit$n" <<<"$services" || die "the cluster profile lacks rabbit$n"
done
[[ -f deploy/rabbitmq-cluster.conf ]] || die "deploy/rabbitmq-cluster.conf is missing"
echo "check-compose: docker-compose.yml valid; delivery is scalable; the cluster profile has 3 nodes"
