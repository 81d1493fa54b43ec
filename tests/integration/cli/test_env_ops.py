# SPDX-License-Identifier: Apache-2.0
# `slipway env enable|disable|history` against a real server.
import json


def test_enable_disable(cli, server, names):
    env = names()
    assert cli("env", "create", f"{env}/prod").returncode == 0
    r = cli("env", "disable", f"{env}/prod", "--description", "freeze for audit")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{env}/prod disabled"
    assert server.api("GET", f"/v1/envs/{env}/prod")[1]["state"] == "DISABLED"
    code, tags = server.api("GET", f"/v1/tags/values/DISABLE_ENV")
    assert code == 200 and any(t["comments"] == "freeze for audit" for t in tags)
    r = cli("env", "enable", f"{env}/prod")
    assert r.returncode == 0, r.stderr
    assert server.api("GET", f"/v1/envs/{env}/prod")[1]["state"] == "NORMAL"

    assert cli("env", "enable", f"{env}/nope").returncode == 68
    assert cli("env", "enable").returncode == 64
    assert cli("env", "disable", "noslash").returncode == 64
    assert cli("env", "disable", f"{env}/prod", "--force").returncode == 64
    assert cli("env", "enable", "--help").stdout.startswith("usage: slipway env (enable | disable)")


def test_history_and_diff(cli, server, names):
    env = names()
    assert cli("env", "create", f"{env}/prod").returncode == 0
    assert cli("env", "config", "set", f"{env}/prod", "maxParallel=3").returncode == 0
    assert cli("env", "config", "set", f"{env}/prod", "maxParallel=5", "stuckThreshold=90").returncode == 0
    assert cli("env", "scripts", "set", f"{env}/prod", "A=1", "B=2").returncode == 0
    assert cli("env", "scripts", "set", f"{env}/prod", "A=9", "--unset", "B").returncode == 0

    r = cli("env", "history", f"{env}/prod", "--json")
    assert r.returncode == 0, r.stderr
    hist = json.loads(r.stdout)
    assert hist == server.api("GET", f"/v1/envs/{env}/prod/history")[1]
    assert hist[0]["type"] == "Env Script Config"

    r = cli("env", "history", f"{env}/prod")
    assert r.returncode == 0
    first = r.stdout.splitlines()[0]
    assert "Env Script Config" in first and first.endswith('{"A":"9"}')

    r = cli("env", "history", f"{env}/prod", "--diff")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert '    A: "1" -> "9"' in out
    assert '    B: "2" -> (unset)' in out
    assert "    maxParallel: 3 -> 5" in out
    assert "    stuckThreshold: (unset) -> 90" in out
    # the patch-style general config does not report the keys a change did not name as unset
    assert "maxParallel: 5 -> (unset)" not in out and "stuckThreshold: 90 -> (unset)" not in out

    r = cli("env", "history", f"{env}/prod", "--size", "1", "--json")
    assert len(json.loads(r.stdout)) == 1
    assert cli("env", "history", f"{env}/prod", "--size", "0").returncode == 64
    assert cli("env", "history", f"{env}/nope").returncode == 68
    assert cli("env", "history", "--help").stdout.startswith("usage: slipway env history")


def test_history_hidden_for_reader(cli, server, names):
    env = names()
    assert cli("env", "create", f"{env}/prod").returncode == 0
    assert cli("env", "scripts", "set", f"{env}/prod", "SECRET=hunter2").returncode == 0
    reader = json.loads(cli("token", "create", "--name", names("rd"), "--role", "READER", "--json").stdout)["token"]
    r = cli("env", "history", f"{env}/prod", "--diff", token=reader)
    assert r.returncode == 0, r.stderr
    assert "(hidden)" in r.stdout and "hunter2" not in r.stdout


def test_env_clone(cli, server, names, require_endpoint):
    env = names()
    require_endpoint(server, "POST", f"/v1/envs/{env}/x/clone")
    assert cli("env", "create", f"{env}/prod", "--set", "maxParallel=4", "--set", "chatroom=#ops").returncode == 0
    assert cli("env", "capacity", "add", f"{env}/prod", "--group", f"{env}-hosts").returncode == 0
    assert cli("env", "scripts", "set", f"{env}/prod", "PORT=8080").returncode == 0
    r = cli("env", "clone", f"{env}/prod", f"{env}/prod2")
    assert r.returncode == 0, r.stderr
    new_id = r.stdout.strip()
    got = server.api("GET", f"/v1/envs/{env}/prod2")[1]
    assert got["id"] == new_id and got["maxParallel"] == 4 and got["chatroom"] == "#ops"
    assert server.api("GET", f"/v1/envs/{env}/prod2/capacity")[1] == [f"{env}-hosts"]
    assert server.api("GET", f"/v1/envs/{env}/prod2/script_configs")[1] == {"PORT": "8080"}
    assert server.api("GET", f"/v1/envs/{env}/prod2/deploys/current")[0] == 404
    # --no-capacity into a new env; --json prints the stage
    other = names()
    r = cli("env", "clone", f"{env}/prod", f"{other}/prod", "--no-capacity", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["envName"] == other
    assert server.api("GET", f"/v1/envs/{other}/prod/capacity")[1] == []
    # an existing target: 409, exit 73, nothing changed
    r = cli("env", "clone", f"{env}/prod", f"{env}/prod2")
    assert r.returncode == 73 and "already exists" in r.stderr
    assert cli("env", "clone", f"{env}/prod").returncode == 64
    assert cli("env", "clone", f"{env}/nope", f"{env}/x").returncode == 68
    r = cli("env", "clone", "--help")
    assert r.returncode == 0 and "--no-capacity" in r.stdout
