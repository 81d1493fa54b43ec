# SPDX-License-Identifier: Apache-2.0
# `slipway host pause|resume|reset|stop` against a real server, with hosts played through the ping API.
import json
import re

from fakehost import FakeHost, publish, stage_with_host
from serverproc import api_call


def agent_of(server, env, host, stage="prod"):
    code, agents = server.api("GET", f"/v1/envs/{env}/{stage}/agents")
    assert code == 200, agents
    rows = [a for a in agents if a["hostName"] == host]
    return rows[0] if rows else None


def test_pause_resume_reset(cli, server, names):
    env = names("ha")
    host = stage_with_host(cli, server, env)
    assert agent_of(server, env, host.host)["state"] == "NORMAL"

    r = cli("host", "pause", f"{env}/prod", host.host)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{env}/prod: host {host.host} paused"
    assert agent_of(server, env, host.host)["state"] == "PAUSED_BY_USER"

    r = cli("host", "resume", f"{env}/prod", host.host)  # by name; the id is the same here
    assert r.returncode == 0, r.stderr
    assert agent_of(server, env, host.host)["state"] == "NORMAL"

    r = cli("host", "reset", f"{env}/prod", host.host)
    assert r.returncode == 0, r.stderr
    assert agent_of(server, env, host.host)["state"] == "RESET"


def test_reset_all_failed(cli, server, names):
    env = names("hf")
    host = stage_with_host(cli, server, env)
    assert cli("deploy", f"{env}/prod", "--build", publish(cli, env, "0f0f0f0f")).returncode == 0
    host.ping(status_for_goal="TOO_MANY_RETRY")
    host.ping()
    before = agent_of(server, env, host.host)
    assert before["status"] == "TOO_MANY_RETRY" and before["state"] != "RESET"
    r = cli("host", "reset", f"{env}/prod", "--all-failed")
    assert r.returncode == 0, r.stderr
    assert agent_of(server, env, host.host)["state"] == "RESET"


def test_stop(cli, server, names):
    env = names("hs")
    host = stage_with_host(cli, server, env)
    r = cli("host", "stop", f"{env}/prod", host.host, "--no-replace")
    assert r.returncode == 0, r.stderr
    assert agent_of(server, env, host.host)["state"] == "STOP"
    code, h = server.api("GET", f"/v1/hosts/{host.host}")
    assert code == 200
    states = {x["state"] for x in (h if isinstance(h, list) else [h])}
    assert states == {"PENDING_TERMINATE_NO_REPLACE"}


def test_host_bad_input(cli, server, names):
    env = names("hb")
    host = stage_with_host(cli, server, env)
    r = cli("host", "pause", f"{env}/prod", "no-such-host")
    assert r.returncode == 68 and "no-such-host" in r.stderr
    assert agent_of(server, env, host.host)["state"] == "NORMAL"
    # one unknown host among known ones: nothing is changed
    r = cli("host", "pause", f"{env}/prod", host.host, "typo-host")
    assert r.returncode == 68
    assert agent_of(server, env, host.host)["state"] == "NORMAL"
    for args in (("host", "pause", f"{env}/prod"), ("host", "pause", "noslash", host.host),
                 ("host", "reset", f"{env}/prod", host.host, "--all-failed"),
                 ("host", "pause", f"{env}/prod", host.host, "--all-failed"),
                 ("host", "pause", f"{env}/prod", host.host, "--no-replace"), ("host", "explode")):
        r = cli(*args)
        assert r.returncode == 64, (args, r.stderr)
    r = cli("host", "pause", "no-such-env/prod", "h")
    assert r.returncode == 68
    r = cli("host", "reset", f"{names('empty')}/prod", "--all-failed")
    assert r.returncode == 68
    for sub in ("pause", "resume", "reset", "stop"):
        assert cli("host", sub, "--help").stdout.startswith(f"usage: slipway host {sub} ")


def test_host_search(cli, server, names):
    env = names("hq")
    host = stage_with_host(cli, server, env)  # pings: one stage, a last-seen time
    for i in range(3):
        code, body = server.api("POST", "/v1/hosts", {"hostName": f"{env}-rec-{i}", "hostId": f"{env}-id-{i}",
                                                      "groupName": "g1"})
        assert code == 204, body
    r = cli("host", "search", f"{env}-rec", "--limit", "2")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["HOST", "STAGES", "LAST", "SEEN"]
    assert [ln.split()[0] for ln in lines[1:3]] == [f"{env}-rec-0", f"{env}-rec-1"]
    assert lines[1].split()[1:] == ["0", "never", "pinged"]
    assert lines[3] == f"more: slipway host search {env}-rec --after {env}-rec-1"
    r = cli("host", "search", f"{env}-rec", "--after", f"{env}-rec-1")
    assert [ln.split()[0] for ln in r.stdout.splitlines()[1:]] == [f"{env}-rec-2"]
    # substring by default, --prefix for names that start with it; --json is the server's answer
    part = host.host[1:]
    assert host.host in cli("host", "search", part).stdout
    assert "no host name starts with" in cli("host", "search", part, "--prefix").stdout
    r = cli("host", "search", host.host, "--prefix", "--json")
    body = json.loads(r.stdout)
    assert [h["hostName"] for h in body["hosts"]] == [host.host] and body["next"] is None
    assert body["hosts"][0]["stages"] == 1 and body["hosts"][0]["lastSeen"] > 0
    for args in (("host", "search"), ("host", "search", "a b"), ("host", "search", "x", "y"),
                 ("host", "search", "x", "--limit", "0"), ("host", "search", "x", "--after", "a/b")):
        assert cli(*args).returncode == 64, args
    assert cli("host", "search", "--help").stdout.startswith("usage: slipway host search ")


def stage_lists(server):
    """How often the server answered the stage's whole agent list (its per-route request counter)."""
    _, _, raw = api_call(server.url + "/metrics", "GET", server.token)
    return sum(int(n) for n in re.findall(r'^slipway_http_requests_total\{route="GET /v1/envs/\{env\}/\{stage\}/agents"'
                                          r'[^}]*\} (\d+)', raw.decode(), re.M))


def test_host_by_id_or_name_of_its_stage_only(cli, server, names):
    # the CLI resolves each HOST through the host's own rows (by name, then by id), not the stage's whole list
    # (440 MB for a stage of 1,000,000 hosts)
    env, other = names("hid"), names("hid")
    stage_with_host(cli, server, env)
    h2 = FakeHost(server, f"{env}-h2")
    h2.extra = {"hostId": f"i-{env}-2"}
    assert cli("env", "capacity", "add", f"{env}/prod", "--host", h2.host).returncode == 0
    h2.run_until_idle()
    assert agent_of(server, env, h2.host)["hostId"] == f"i-{env}-2"
    lists = stage_lists(server)
    r = cli("host", "pause", f"{env}/prod", f"i-{env}-2")
    assert r.returncode == 0, r.stderr
    assert agent_of(server, env, h2.host)["state"] == "PAUSED_BY_USER"
    r = cli("host", "resume", f"{env}/prod", h2.host)
    assert r.returncode == 0, r.stderr
    assert agent_of(server, env, h2.host)["state"] == "NORMAL"
    assert stage_lists(server) == lists + 2  # the two agent_of() checks above, none by the CLI
    # a host with rows in another stage only
    stage_with_host(cli, server, other)
    r = cli("host", "pause", f"{other}/prod", h2.host)
    assert r.returncode != 0 and f"host '{h2.host}' has no agent in {other}/prod" in r.stderr, r.stderr
    assert agent_of(server, env, h2.host)["state"] == "NORMAL"
