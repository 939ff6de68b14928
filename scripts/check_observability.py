#!/usr/bin/env python3
"""Checks the Grafana dashboard, the Prometheus alert rules and their wiring in the compose
stack, for scripts/check-compose.sh:

- every PromQL expression of the dashboard and of the alerts parses (promtool, with Grafana's
  $__ variables replaced);
- every hookfleet_* metric they read is one the fleet exports (a literal name in a
  metrics::counter!/gauge!/histogram! call under crates/*/src), so renaming a metric fails CI
  instead of leaving an empty panel or an alert that can never fire;
- every rabbitmq_detailed_* metric they read is in a family Prometheus asks the broker for;
- each alert has a `for:`, a severity label, a summary and a description;
- the grafana service mounts the provisioning read-only where Grafana reads it, publishes its
  port on 127.0.0.1 only, and Prometheus mounts the rule file where rule_files names it.

Usage: check_observability.py COMPOSE_CONFIG_YAML  (the output of `docker-compose config`)
       check_observability.py --scraped FILE...  (names seen on real /metrics: each must be
       one this script finds in the sources, or the source scan above is missing names)
"""
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = ROOT / "deploy/grafana/dashboards"
PROVISIONING = ROOT / "deploy/grafana/provisioning"
PROMETHEUS = ROOT / "deploy/prometheus.yml"
# Grafana's built-in variables, replaced by a plausible value so promtool can parse the query.
GRAFANA_VARS = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}
# rabbitmq_prometheus' /metrics/detailed families and the metrics each returns (prefixed
# rabbitmq_detailed_), from deps/rabbitmq_prometheus of RabbitMQ 3.13.
DETAILED_FAMILIES = {
    "queue_coarse_metrics": {
        "queue_messages_ready",
        "queue_messages_unacked",
        "queue_messages",
        "queue_process_reductions_total",
    },
    "queue_consumer_count": {"queue_consumers"},
}


# The script whose step this is, for its messages.
CALLER = ["check-compose"]


def fail(why):
    sys.exit("%s: %s" % (CALLER[0], why))


def exported_metrics():
    """hookfleet_* series names the fleet's code records, as Prometheus sees them."""
    call = re.compile(r'metrics::(counter|gauge|histogram)!\(\s*"(hookfleet_[a-z0-9_]+)"')
    names = set()
    for path in ROOT.glob("crates/*/src/**/*.rs"):
        for kind, name in call.findall(path.read_text()):
            if kind == "histogram":
                names |= {name + "_bucket", name + "_sum", name + "_count"}
            else:
                names.add(name)
    if not names:
        fail("found no metrics::counter!/gauge!/histogram! call under crates/*/src")
    return names


def dashboard_queries():
    """(where, expr, datasource uid) of every query of every provisioned dashboard."""
    files = sorted(DASHBOARDS.glob("*.json"))
    if not files:
        fail("no dashboard JSON in %s" % DASHBOARDS.relative_to(ROOT))
    out = []
    for path in files:
        try:
            dash = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            fail("%s does not parse: %s" % (path.relative_to(ROOT), e))
        stack = list(dash.get("panels") or [])
        if not stack:
            fail("%s has no panels" % path.relative_to(ROOT))
        while stack:
            panel = stack.pop(0)
            stack.extend(panel.get("panels") or [])  # a collapsed row holds its panels
            if panel.get("type") == "row":
                continue
            targets = panel.get("targets") or []
            where = "%s panel %r" % (path.name, panel.get("title"))
            if not targets:
                fail("%s has no query" % where)
            for t in targets:
                expr = (t.get("expr") or "").strip()
                if not expr:
                    fail("%s has an empty query" % where)
                uid = (t.get("datasource") or panel.get("datasource") or {}).get("uid")
                out.append((where, expr, uid))
    return out


def alert_rules(rules_path):
    doc = yaml.safe_load(rules_path.read_text()) or {}
    rules = [r for g in doc.get("groups") or [] for r in g.get("rules") or []]
    alerts = [r for r in rules if "alert" in r]
    if not alerts:
        fail("%s has no alert rules" % rules_path.relative_to(ROOT))
    for r in alerts:
        name = r["alert"]
        if not r.get("for"):
            fail("alert %s has no `for:`" % name)
        if (r.get("labels") or {}).get("severity") not in ("warning", "critical"):
            fail("alert %s has no severity label (warning or critical)" % name)
        notes = r.get("annotations") or {}
        for key in ("summary", "description"):
            if not notes.get(key):
                fail("alert %s has no %s annotation" % (name, key))
    return [("alert %s" % r["alert"], r["expr"]) for r in alerts]


def check_parses(queries):
    """Runs every expression through promtool as a recording rule: a parse error fails."""
    rules = []
    for n, (where, expr) in enumerate(queries):
        for var, value in GRAFANA_VARS.items():
            expr = expr.replace(var, value)
        if "$" in expr:
            fail("%s uses a variable this check does not know: %s" % (where, expr))
        rules.append({"record": "check:query_%d" % n, "expr": expr})
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
        yaml.safe_dump({"groups": [{"name": "queries", "rules": rules}]}, f)
        f.flush()
        run = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True, text=True)
    if run.returncode != 0:
        # promtool names the failing rule by its number: map it back.
        text = run.stdout + run.stderr
        for n, (where, expr) in enumerate(queries):
            if '"check:query_%d"' % n in text:
                fail("%s does not parse:\n%s\n%s" % (where, expr, text))
        fail("a dashboard or alert query does not parse:\n%s" % text)


def detailed_families(prometheus):
    """The /metrics/detailed families Prometheus' scrape jobs ask the broker for."""
    families = set()
    for job in prometheus.get("scrape_configs") or []:
        if job.get("metrics_path") == "/metrics/detailed":
            families |= set((job.get("params") or {}).get("family") or [])
    return families


def check_names(queries, prometheus):
    exported = exported_metrics()
    families = detailed_families(prometheus)
    detailed = {"rabbitmq_detailed_" + m for f in families for m in DETAILED_FAMILIES.get(f, ())}
    for where, expr in queries:
        for name in set(re.findall(r"\bhookfleet_[a-z0-9_]+", expr)):
            if name not in exported:
                fail("%s reads %s, which no crate exports (renamed?)" % (where, name))
        for name in set(re.findall(r"\brabbitmq_detailed_[a-z0-9_]+", expr)):
            if name not in detailed:
                fail(
                    "%s reads %s, which no /metrics/detailed family in deploy/prometheus.yml "
                    "returns (families asked: %s)" % (where, name, sorted(families) or "none")
                )


def mounts(service):
    """(source, target, read_only) of a service's volumes, in v1 or v2 `config` output."""
    out = []
    for v in service.get("volumes") or []:
        if isinstance(v, dict):
            out.append((v.get("source", ""), v.get("target", ""), bool(v.get("read_only"))))
        else:
            parts = v.split(":")
            out.append((parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")))
    return out


def host_ips(service):
    ips = []
    for p in service.get("ports") or []:
        if isinstance(p, dict):
            ips.append(p.get("host_ip", ""))
        else:
            parts = str(p).split(":")
            ips.append(parts[0] if len(parts) == 3 else "")
    return ips


def check_compose(config, rules_file):
    services = config.get("services") or {}
    grafana = services.get("grafana") or fail("no grafana service in docker-compose.yml")
    if not grafana.get("image", "").startswith("grafana/grafana:"):
        fail("grafana does not run a grafana/grafana image")
    if not grafana.get("ports") or any(ip != "127.0.0.1" for ip in host_ips(grafana)):
        fail("grafana must publish its port on 127.0.0.1 only")
    provider = yaml.safe_load((PROVISIONING / "dashboards/hookfleet.yml").read_text())
    dash_path = provider["providers"][0]["options"]["path"]
    wanted = {
        "/etc/grafana/provisioning/datasources": PROVISIONING / "datasources",
        "/etc/grafana/provisioning/dashboards": PROVISIONING / "dashboards",
        dash_path: DASHBOARDS,
    }
    got = {target: (Path(source), ro) for source, target, ro in mounts(grafana)}
    for target, source in wanted.items():
        if target not in got:
            fail("grafana does not mount %s at %s" % (source.relative_to(ROOT), target))
        if got[target][0].resolve() != source.resolve():
            fail("grafana mounts %s at %s, not %s" % (got[target][0], target, source))
        if not got[target][1]:
            fail("grafana's mount at %s is not read-only" % target)
    uids = set()
    for path in (PROVISIONING / "datasources").glob("*.yml"):
        for ds in yaml.safe_load(path.read_text()).get("datasources") or []:
            if ds.get("type") == "prometheus":
                uids.add(ds.get("uid"))
                if "//prometheus:9090" not in ds.get("url", ""):
                    fail("the Prometheus datasource does not point at the prometheus service")
    prom = services.get("prometheus") or fail("no prometheus service")
    prom_mounts = {target: Path(source) for source, target, _ in mounts(prom)}
    for rule_file in rules_file:
        target = "/etc/prometheus/" + rule_file
        if prom_mounts.get(target, Path("/nonexistent")).resolve() != (ROOT / "deploy" / rule_file).resolve():
            fail("prometheus does not mount deploy/%s at %s (rule_files names it)" % (rule_file, target))
    return uids


def check_scraped(files):
    exported = exported_metrics()
    seen = set()
    for path in files:
        for line in Path(path).read_text().splitlines():
            m = re.match(r"(hookfleet_[a-z0-9_]+)", line)
            if m:
                seen.add(m.group(1))
    missing = sorted(seen - exported)
    if missing:
        fail("real /metrics shows %s, which the source scan does not find" % ", ".join(missing))
    # A counter appears on /metrics only once it has counted, so a short run need not show
    # every name the dashboard reads: those are listed, not failed.
    prometheus = yaml.safe_load(PROMETHEUS.read_text())
    queries = [e for _, e, _ in dashboard_queries()]
    queries += [e for f in prometheus.get("rule_files") or [] for _, e in alert_rules(PROMETHEUS.parent / f)]
    used = {n for e in queries for n in re.findall(r"\bhookfleet_[a-z0-9_]+", e)}
    unseen = sorted(used - seen)
    print(
        "check-metrics: the %d hookfleet_* names on real /metrics are all found by the dashboard "
        "check's source scan; %d of the %d names the dashboard and alerts read were seen%s"
        % (len(seen), len(used & seen), len(used), "; not in this run: " + ", ".join(unseen) if unseen else "")
    )


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--scraped":
        CALLER[0] = "check-metrics"
        check_scraped(sys.argv[2:])
        return
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    config = yaml.safe_load(Path(sys.argv[1]).read_text())
    prometheus = yaml.safe_load(PROMETHEUS.read_text())
    rule_files = prometheus.get("rule_files") or fail("deploy/prometheus.yml loads no rule_files")
    uids = check_compose(config, rule_files)
    panels = dashboard_queries()
    for where, _, uid in panels:
        if uid not in uids:
            fail("%s uses datasource uid %r; the provisioned one is %s" % (where, uid, sorted(uids)))
    alerts = [q for f in rule_files for q in alert_rules(PROMETHEUS.parent / f)]
    queries = [(w, e) for w, e, _ in panels] + alerts
    check_parses(queries)
    check_names(queries, prometheus)
    print(
        "check-compose: grafana provisioned read-only on 127.0.0.1; %d dashboard queries and %d alerts parse and read only exported metrics"
        % (len(panels), len(alerts))
    )


if __name__ == "__main__":
    main()
