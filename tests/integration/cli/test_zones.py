# SPDX-License-Identifier: Apache-2.0
# `slipway env constraint` and `slipway hosts --tag` (zone-aware rollouts) against a real server.
import contextlib
import http.server
import json
import threading
import urllib.parse
import urllib.request

from fakehost import FakeHost, make_stage, publish


def test_env_constraint(cli, server, names):
    env = names()
    make_stage(cli, env)
    r = cli("env", "constraint", f"{env}/prod")
    assert r.returncode == 0 and "has no deploy constraint" in r.stdout, r.stdout + r.stderr
    r = cli("env", "constraint", f"{env}/prod", "--key", "availabilityZone", "--max", "2", "--type", "GROUP_BY_GROUP",
            "--order", "us-east-1c,us-east-1a")
    assert r.returncode == 0, r.stderr
    assert "availabilityZone" in r.stdout and "GROUP_BY_GROUP" in r.stdout and "us-east-1c, us-east-1a" in r.stdout
    code, c = server.api("GET", f"/v1/envs/{env}/prod/deploy_constraint")
    assert code == 200 and c["maxParallel"] == 2 and c["constraintOrder"] == ["us-east-1c", "us-east-1a"]
    r = cli("env", "constraint", f"{env}/prod", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == c
    # the server names a bad field; the CLI refuses what it can judge itself
    r = cli("env", "constraint", f"{env}/prod", "--key", "availabilityZone", "--type", "ZONES")
    assert r.returncode != 0 and "constraintType" in r.stderr
    assert cli("env", "constraint", f"{env}/prod", "--max", "0", "--key", "k").returncode == 64
    assert cli("env", "constraint", f"{env}/prod", "--max", "3").returncode == 64
    assert cli("env", "constraint", f"{env}/prod", "--delete", "--key", "k").returncode == 64
    assert server.api("GET", f"/v1/envs/{env}/prod/deploy_constraint")[1] == c  # unchanged
    r = cli("env", "constraint", f"{env}/prod", "--delete")
    assert r.returncode == 0, r.stderr
    assert server.api("GET", f"/v1/envs/{env}/prod/deploy_constraint")[0] == 204
    r = cli("env", "constraint", f"{env}/prod")
    assert r.returncode == 0 and "has no deploy constraint" in r.stdout, r.stdout + r.stderr
    assert cli("env", "constraint", "--help").stdout.startswith("usage: slipway env constraint")


def test_hosts_by_tag(cli, server, names):
    env = names()
    make_stage(cli, env)
    hosts = [FakeHost(server, f"{env}-h{i}") for i in range(3)]
    for i, h in enumerate(hosts):
        h.extra = {"availabilityZone": "z%d" % (i % 2), "ec2Tags": {"team": "web"}}
        assert cli("env", "capacity", "add", f"{env}/prod", "--host", h.host).returncode == 0
    assert cli("deploy", f"{env}/prod", "--build", publish(cli, env, "0000aaaa")).returncode == 0
    for h in hosts:
        h.run_until_idle()
    r = cli("hosts", f"{env}/prod", "--tag", "availabilityZone=z0")
    assert r.returncode == 0, r.stderr
    assert f"{env}-h0" in r.stdout and f"{env}-h2" in r.stdout and f"{env}-h1" not in r.stdout
    r = cli("hosts", f"{env}/prod", "--tag", "availabilityZone=z1", "--json")
    doc = json.loads(r.stdout)
    assert [h["hostId"] for h in doc["agents"]] == [f"{env}-h1"]
    assert {h["hostId"] for h in doc["hosts"]} <= {f"{env}-h1"}
    r = cli("hosts", f"{env}/prod", "--tag", "team=nobody", "--json")
    assert json.loads(r.stdout)["agents"] == []
    assert cli("hosts", f"{env}/prod", "--tag", "novalue").returncode == 64


@contextlib.contextmanager
def recording_proxy(target):
    """A proxy on 127.0.0.1 that forwards GETs to target and records their (path, query) in .seen."""
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            u = urllib.parse.urlsplit(self.path)
            seen.append((u.path, urllib.parse.parse_qs(u.query, keep_blank_values=True)))
            req = urllib.request.Request(target + self.path, headers={"Authorization": self.headers["Authorization"]})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    code, body = r.status, r.read()
            except urllib.error.HTTPError as e:
                code, body = e.code, e.read()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield "http://127.0.0.1:%d" % srv.server_address[1], seen
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(timeout=10)


def test_hosts_reads_pages_and_one_value(cli, server, names):
    # `slipway hosts` reads the stage's host lists a page at a time, and --tag only the hosts of that value (pages
    # of …/host_tags/KEY?value=V), never a whole list that grows with the stage
    env = names()
    make_stage(cli, env)
    hosts = [FakeHost(server, f"{env}-h{i}") for i in range(3)]
    for i, h in enumerate(hosts):
        h.extra = {"availabilityZone": "z%d" % (i % 2)}
        assert cli("env", "capacity", "add", f"{env}/prod", "--host", h.host).returncode == 0
    assert cli("deploy", f"{env}/prod", "--build", publish(cli, env, "0000bbbb")).returncode == 0
    for h in hosts:
        h.run_until_idle()
    with recording_proxy(server.url) as (url, seen):
        r = cli("hosts", f"{env}/prod", "--tag", "availabilityZone=z0", extra_env={"SLIPWAY_SERVER": url})
        assert r.returncode == 0, r.stderr
        assert f"{env}-h0" in r.stdout and f"{env}-h2" in r.stdout and f"{env}-h1" not in r.stdout
        r = cli("hosts", f"{env}/prod", extra_env={"SLIPWAY_SERVER": url})
        assert r.returncode == 0 and all(f"{env}-h{i}" in r.stdout for i in range(3)), r.stdout + r.stderr
    lists = [(p, q) for p, q in seen if p.rsplit("/", 1)[-1] in ("hosts", "agents")
             or "/host_tags" in p]
    assert {p.rsplit("/", 1)[-1] for p, _ in lists} == {"hosts", "agents", "availabilityZone"}, seen
    for p, q in lists:
        assert q.get("limit") == ["10000"], (p, q)
        if "/host_tags/" in p:
            assert q.get("value") == ["z0"], (p, q)
