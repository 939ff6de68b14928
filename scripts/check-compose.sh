#!/usr/bin/env bash
# Validates docker-compose.yml and checks that the delivery service stays scalable
# (`docker compose up --scale delivery=N` needs no container_name and no host ports on it),
# the Prometheus configuration and alert rules (with their unit tests), and Grafana's
# provisioning and dashboard (scripts/check_observability.py).
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
# What a user running the file relies on: one build, pinned images, ready roles, and the
# private-targets switch reaching every role that checks targets.
"$py" -c '
import re, sys, yaml
services = yaml.safe_load(sys.stdin).get("services") or {}
def fail(why):
    sys.exit("check-compose: " + why)
builders = sorted(n for n, s in services.items() if "build" in s)
if builders != ["migrate"]:
    fail("only migrate should build the image; these do: %s" % builders)
for name, s in services.items():
    image = s.get("image", "")
    tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else ""
    # A version to the minor at least (postgres:16 moves; postgres:16.4 does not); the
    # image the file builds itself is exempt.
    if image != "hookfleet:local" and not re.match(r"v?\d+\.\d+", tag):
        fail("%s uses an unpinned image (%r)" % (name, image))
for role in ("producer", "router", "delivery"):
    s = services.get(role) or fail("no %s service" % role)
    test = " ".join((s.get("healthcheck") or {}).get("test") or [])
    if "hookfleet ready" not in test:
        fail("%s has no healthcheck on its /readyz (hookfleet ready)" % role)
for role in ("producer", "delivery"):
    env = services[role].get("environment") or {}
    if "HOOKFLEET_ALLOW_PRIVATE_TARGETS" not in env:
        fail("HOOKFLEET_ALLOW_PRIVATE_TARGETS does not reach %s" % role)
' <<<"$config"
# The cluster profile: three RabbitMQ nodes, each with its own data volume, forming from the
# mounted classic_config file.
services=$(docker-compose -f docker-compose.yml --profile cluster config --services)
for n in 1 2 3; do
    grep -qx "rabbit$n" <<<"$services" || die "the cluster profile lacks rabbit$n"
done
[[ -f deploy/rabbitmq-cluster.conf ]] || die "deploy/rabbitmq-cluster.conf is missing"
# Every RabbitMQ node the file can run (any profile) is scraped by the Prometheus it mounts.
"$py" - "$(docker-compose -f docker-compose.yml --profile cluster config)" <<'PY' || exit 1
import sys, yaml
services = yaml.safe_load(sys.argv[1]).get("services") or {}
prom = yaml.safe_load(open("deploy/prometheus.yml"))
scraped = set()
for job in prom.get("scrape_configs") or []:
    for sc in job.get("static_configs") or []:
        scraped.update(t.split(":")[0] for t in sc.get("targets") or [])
    for sd in job.get("dns_sd_configs") or []:
        scraped.update(sd.get("names") or [])
nodes = sorted(n for n, s in services.items() if s.get("image", "").startswith("rabbitmq:"))
missing = [n for n in nodes if n not in scraped]
if missing:
    sys.exit("check-compose: RabbitMQ nodes not scraped by deploy/prometheus.yml: %s" % ", ".join(missing))
PY
# The Prometheus configuration the stack mounts.
command -v promtool >/dev/null || die "promtool not installed (scripts/services.sh --ci-tools installs it)"
promtool check config deploy/prometheus.yml >/dev/null || die "deploy/prometheus.yml is invalid"
# The alert rules it loads, and their unit tests: each alert fires on series that should fire
# it and not on others.
promtool check rules deploy/prometheus/alerts.yml >/dev/null || die "deploy/prometheus/alerts.yml is invalid"
promtool test rules deploy/prometheus/alerts_test.yml >/dev/null \
    || { promtool test rules deploy/prometheus/alerts_test.yml >&2; die "the alert rules' unit tests fail"; }
# Grafana and the dashboard: provisioning mounted read-only, loopback only, every panel's and
# alert's PromQL parses and reads only metrics the code exports.
"$py" scripts/check_observability.py <(printf '%s\n' "$config")
echo "check-compose: docker-compose.yml valid; one build, pinned images, roles checked on /readyz, private targets agreed; delivery is scalable; the cluster profile has 3 nodes; alert rules pass their tests"
