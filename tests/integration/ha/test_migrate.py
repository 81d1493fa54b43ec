# SPDX-License-Identifier: Apache-2.0
# `slipway-server migrate --from sqlite:PATH --to postgresql://…` (issue 8): a SQLite installation populated
# through the API (builds, envs, capacity, deploys, tokens, hosts that pinged) is copied while its server runs;
# the copy is verified per table (counts + SHA-256) and a server started on the PostgreSQL copy answers the same
# API calls with the same data, and the old admin token (and a token made before) still work there.
import os
import re
import subprocess
import sys

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "ping"))
import dbtarget  # noqa: E402
from ha_support import need_pg  # noqa: E402
from ping_support import Host, Server, converge  # noqa: E402
from serverproc import SERVER_BIN  # noqa: E402


def migrate(*args):
    return subprocess.run([SERVER_BIN, "migrate", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def source(tmp_path):
    need_pg()
    db = dbtarget.for_dir(tmp_path / "sqlite", backend="sqlite")
    s = Server(tmp_path, name="sqlite", db=db).start()
    yield s
    s.stop()


def populate(s):
    web = s.make_env("web", "prod", maxParallel=2, description="tab\there, newline\nthere, back\\slash, ünïcødé")
    s.make_env("web", "canary")
    s.set_groups("web", "prod", ["web-prod"])
    s.set_hosts("web", "canary", ["h-canary"])
    b1 = s.publish(commit="aaaaaaa1")
    b2 = s.publish(commit="bbbbbbb2")
    d1 = s.deploy("web", "prod", b1["id"])
    hosts = [Host(s, "h%d" % i, groups=["web-prod"], zone="z%d" % (i % 2)) for i in range(4)]
    assert converge(hosts, web["id"], d1["id"])
    d2 = s.deploy("web", "prod", b2["id"])
    assert converge(hosts, web["id"], d2["id"])
    s.action("web", "prod", "ROLLBACK", toDeployId=d1["id"])
    s.ok("PUT", "/v1/envs/web/prod/script_configs", json={"A": "1", "B": "x\ty"})
    tok = s.ok("POST", "/v1/system/token_roles", json={"name": "ci", "role": "PUBLISHER"})["token"]
    return tok


SNAPSHOT = ["/v1/envs", "/v1/envs/web/prod", "/v1/envs/web/canary", "/v1/envs/web/prod/capacity",
            "/v1/envs/web/canary/capacity?capacityType=HOST", "/v1/builds?name=web", "/v1/envs/web/prod/agents",
            "/v1/envs/web/prod/deploys/current", "/v1/envs/web/prod/history?pageSize=100",
            "/v1/envs/web/prod/script_configs", "/v1/system/token_roles", "/v1/hosts/h1",
            # kept counts: copied with the source, not counted a second time by the target's triggers
            "/v1/envs/web/prod/agents/summary", "/v1/envs/web/prod/host_tags/availabilityZone/counts",
            "/v1/agents/hostcount"]


def snapshot(s):
    out = {}
    for path in SNAPSHOT:
        r = s.req("GET", path)
        assert r.status_code == 200, (path, r.status_code, r.text)
        out[path] = r.json()
    env_id = out["/v1/envs/web/prod"]["id"]
    out["deploys"] = s.ok("GET", "/v1/deploys", params={"envId": env_id, "pageSize": 100})
    return out


def test_migrate_sqlite_to_postgresql(source, tmp_path):
    s = source
    ci_token = populate(s)
    before = snapshot(s)
    target = dbtarget.for_dir(tmp_path / "pg", backend="pg")

    # copied while the SQLite server runs (it takes no lock), verified table by table
    r = migrate("--from", s.db.dsn, "--to", target.dsn)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = {m.group(1): m for m in re.finditer(r"^(\w+)\s+(\d+)\s+(\d+)\s+([0-9a-f]{64})\s+ok$", r.stdout, re.M)}
    for table in ("agents", "builds", "deploys", "envs", "tokens", "hosts", "heartbeats", "config_history"):
        assert table in lines, r.stdout
        assert lines[table].group(2) == lines[table].group(3)
    assert int(lines["agents"].group(2)) == 4 and int(lines["builds"].group(2)) == 2
    assert "MISMATCH" not in r.stdout and "copied and verified" in r.stdout
    src_rows = dict(s.db.query("SELECT 'deploys', count(*) FROM deploys"))
    assert int(lines["deploys"].group(2)) == src_rows["deploys"]

    # a non-empty target is refused without --force; the cut-over copy runs with the old server stopped
    r = migrate("--from", s.db.dsn, "--to", target.dsn)
    assert r.returncode == 1 and "not empty" in r.stderr and "--force" in r.stderr
    s.stop()
    r = migrate("--from", s.db.dsn, "--to", target.dsn, "--force")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "copied and verified" in r.stdout

    # a server on the PostgreSQL copy: same data through the API, the old tokens work (the token table is not
    # empty, so it bootstraps no new token: the old admin token is the one to use)
    pg = Server(tmp_path, name="pg", db=target)
    target.token_file.write_text(s.token + "\n")
    try:
        pg.start()
        check_copy(pg, before, ci_token)
    finally:
        pg.stop()


def check_copy(pg, before, ci_token):
    after = snapshot(pg)
    for key in before:
        assert after[key] == before[key], key
    assert requests.get(pg.url + "/v1/envs", headers={"Authorization": "token " + ci_token}, timeout=10
                        ).status_code == 200
    # the identity sequences were moved past the copied seq values: new rows insert fine
    b3 = pg.publish(commit="ccccccc3")
    assert [b["id"] for b in pg.ok("GET", "/v1/builds", params={"name": "web"})][0] == b3["id"]
    pg.make_env("api", "prod", buildName="web")
    assert pg.deploy("api", "prod", b3["id"])["buildId"] == b3["id"]


def test_migrate_usage_errors(tmp_path):
    r = migrate("--from", "sqlite:" + str(tmp_path / "none.db"))
    assert r.returncode == 2 and "usage" in r.stderr
    r = migrate("--from", "postgresql://x/y", "--to", "postgresql://x/z")
    assert r.returncode == 2 and "sqlite:PATH" in r.stderr
    r = migrate("--from", "sqlite:a.db", "--to", "sqlite:b.db")
    assert r.returncode == 2 and "PostgreSQL" in r.stderr
    r = migrate("--bogus")
    assert r.returncode == 2
