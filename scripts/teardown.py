#!/usr/bin/env python3
"""Removes what README's demo and examples leave on this machine, once their fleets are stopped.

- the demo's RabbitMQ vhost (`hookfleet-demo`, with everything in it) and database
  (`hookfleet_demo`);
- the examples' fleet: its database (`HOOKFLEET_DATABASE_URL`, default `hookfleet`) and, in its
  vhost (`HOOKFLEET_AMQP_URL`, default `/`, which other programs may share and so stays), every
  queue and exchange named `hookfleet.*`;
- the broker users of pull subscriptions (`hookfleet-pull-*`) allowed on either vhost.

The same settings as the fleet say where: `HOOKFLEET_AMQP_URL`, `HOOKFLEET_DATABASE_URL`,
`HOOKFLEET_RABBITMQ_MANAGEMENT_URL` (the first URL of a list). It prints one line per thing
removed, is quiet about what is already gone, and exits non-zero if something could not be
removed. Never run it against a fleet whose data you want to keep.
"""
import base64
import json
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

DEMO_VHOST = "hookfleet-demo"
DEMO_DATABASE = "hookfleet_demo"
PREFIX = "hookfleet."
PULL_USER = "hookfleet-pull-"


def setting(name, default):
    return os.environ.get(name) or default


class Management:
    """RabbitMQ's management API (users, vhosts, queues, exchanges)."""

    def __init__(self, url):
        parts = urllib.parse.urlsplit(url.split(",")[0].strip())
        user = urllib.parse.unquote(parts.username or "guest")
        password = urllib.parse.unquote(parts.password or "guest")
        self.base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}"
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.auth = {"Authorization": f"Basic {token}"}

    def call(self, method, path):
        req = urllib.request.Request(self.base + path, method=method, headers=self.auth)
        try:
            with urllib.request.urlopen(req, timeout=10) as res:
                body = res.read()
                return json.loads(body) if body else None
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise SystemExit(f"teardown: the management API answered {e.code} to {method} {path}")
        except urllib.error.URLError as e:
            raise SystemExit(f"teardown: the management API at {self.base} is unreachable: {e.reason}")


def q(name):
    return urllib.parse.quote(name, safe="")


def vhost_of(amqp_url):
    path = urllib.parse.urlsplit(amqp_url.split(",")[0].strip()).path
    return urllib.parse.unquote(path[1:]) if len(path) > 1 else "/"


def drop_database(db_url, name):
    parts = urllib.parse.urlsplit(db_url)
    admin = urllib.parse.urlunsplit(parts._replace(path="/postgres", query=""))
    quoted = '"' + name.replace('"', '""') + '"'
    exists = subprocess.run(
        ["psql", admin, "-Atc", f"SELECT 1 FROM pg_database WHERE datname = '{name.replace(chr(39), chr(39) * 2)}'"],
        capture_output=True, text=True,
    )
    if exists.returncode != 0:
        raise SystemExit(f"teardown: cannot reach PostgreSQL: {exists.stderr.strip()}")
    if exists.stdout.strip() != "1":
        return
    subprocess.run(["psql", admin, "-qc", f"DROP DATABASE {quoted} WITH (FORCE)"], check=True)
    print(f"teardown: dropped database {name}")


def main():
    amqp = setting("HOOKFLEET_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f")
    db_url = setting("HOOKFLEET_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hookfleet")
    api = Management(setting("HOOKFLEET_RABBITMQ_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:15672"))
    vhost = vhost_of(amqp)

    for v in dict.fromkeys([vhost, DEMO_VHOST]):
        for p in api.call("GET", f"/api/vhosts/{q(v)}/permissions") or []:
            if p["user"].startswith(PULL_USER):
                api.call("DELETE", f"/api/users/{q(p['user'])}")
                print(f"teardown: deleted pull user {p['user']}")
    if vhost != DEMO_VHOST:
        for kind in ("queues", "exchanges"):
            for item in api.call("GET", f"/api/{kind}/{q(vhost)}?columns=name") or []:
                if item["name"].startswith(PREFIX):
                    api.call("DELETE", f"/api/{kind}/{q(vhost)}/{q(item['name'])}")
                    print(f"teardown: deleted {kind[:-1]} {item['name']} (vhost {vhost})")
    if api.call("GET", f"/api/vhosts/{q(DEMO_VHOST)}") is not None:
        api.call("DELETE", f"/api/vhosts/{q(DEMO_VHOST)}")
        print(f"teardown: deleted vhost {DEMO_VHOST}")

    name = urllib.parse.unquote(urllib.parse.urlsplit(db_url).path.lstrip("/")) or "postgres"
    for db in dict.fromkeys([name, DEMO_DATABASE]):
        if db in ("postgres", "template0", "template1"):
            print(f"teardown: kept database {db} (not hookfleet's own)")
            continue
        drop_database(db_url, db)


if __name__ == "__main__":
    sys.exit(main())
