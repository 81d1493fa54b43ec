# SPDX-License-Identifier: Apache-2.0
# `slipway env create|list|show|delete|config|capacity|scripts|agent-config` against a real server.
import json


def test_create_list_show_delete(cli, server, names):
    env = names()
    r = cli("env", "create", f"{env}/prod", "--stage-type", "PRODUCTION", "--description", "the prod stage",
            "--set", "maxParallel=3", "--set", "failurePolicy=ROLLBACK")
    assert r.returncode == 0, r.stderr
    env_id = r.stdout.strip()
    status, e = server.api("GET", f"/v1/envs/{env}/prod")
    assert status == 200
    assert e["id"] == env_id and e["stageType"] == "PRODUCTION" and e["maxParallel"] == 3
    assert e["failurePolicy"] == "ROLLBACK" and e["description"] == "the prod stage"
    assert cli("env", "create", f"{env}/canary").returncode == 0

    r = cli("env", "create", f"{env}/prod")
    assert r.returncode == 73, r.stderr
    assert "HTTP 409" in r.stderr

    r = cli("env", "list", "--env", env, "--json")
    assert r.returncode == 0
    assert sorted(x["stageName"] for x in json.loads(r.stdout)) == ["canary", "prod"]
    r = cli("env", "list", "--env", env)
    rows = [ln.split() for ln in r.stdout.splitlines()[1:]]
    assert sorted((row[0], row[1]) for row in rows) == [(env, "canary"), (env, "prod")]

    r = cli("env", "show", f"{env}/prod")
    assert r.returncode == 0
    shown = dict(ln.split(" = ", 1) for ln in r.stdout.splitlines())
    assert shown["envName"] == env and shown["maxParallel"] == "3" and shown["signingKey"] == "-"
    r = cli("env", "show", f"{env}/prod", "--json")
    assert json.loads(r.stdout)["id"] == env_id

    r = cli("env", "delete", f"{env}/canary")
    assert r.returncode == 0, r.stderr
    assert server.api("GET", f"/v1/envs/{env}/canary")[0] == 404
    r = cli("env", "show", f"{env}/canary")
    assert r.returncode == 68


def test_create_rejected_field(cli, names):
    env = names()
    r = cli("env", "create", f"{env}/prod", "--set", "maxParallel=-1")
    assert r.returncode == 65
    assert "maxParallel" in r.stderr


def test_config_get_set(cli, server, names):
    env = names()
    assert cli("env", "create", f"{env}/prod").returncode == 0
    r = cli("env", "config", "set", f"{env}/prod", "maxParallel=7", "stuckThreshold=120", "description=two words")
    assert r.returncode == 0, r.stderr
    e = server.api("GET", f"/v1/envs/{env}/prod")[1]
    assert e["maxParallel"] == 7 and e["stuckThreshold"] == 120 and e["description"] == "two words"
    r = cli("env", "config", "get", f"{env}/prod", "maxParallel")
    assert r.returncode == 0 and r.stdout.strip() == "7"
    r = cli("env", "config", "get", f"{env}/prod", "stuckThreshold", "--json")
    assert json.loads(r.stdout) == 120
    r = cli("env", "config", "get", f"{env}/prod", "noSuchField")
    assert r.returncode == 68
    r = cli("env", "config", "set", f"{env}/prod", "successThreshold=20000")
    assert r.returncode == 65 and "successThreshold" in r.stderr
    r = cli("env", "config", "set", f"{env}/prod", "novalue")
    assert r.returncode == 64


def test_config_set_is_the_set_of_create(cli, server, names):
    """One way to set stage fields: --set KEY=VALUE, on `env create` and on `env config`."""
    env = names()
    assert cli("env", "create", f"{env}/prod", "--set", "maxParallel=3").returncode == 0
    r = cli("env", "config", f"{env}/prod", "--set", "maxParallel=5", "--set", "failurePolicy=ROLLBACK",
            "--set", "description=two words")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"{env}/prod updated"
    e = server.api("GET", f"/v1/envs/{env}/prod")[1]
    assert e["maxParallel"] == 5 and e["failurePolicy"] == "ROLLBACK" and e["description"] == "two words"
    # without --set it reads, like `env config get`
    r = cli("env", "config", f"{env}/prod", "maxParallel")
    assert r.returncode == 0 and r.stdout.strip() == "5"
    r = cli("env", "config", f"{env}/prod")
    assert r.returncode == 0 and "failurePolicy = ROLLBACK" in r.stdout
    assert json.loads(cli("env", "config", f"{env}/prod", "--json").stdout)["maxParallel"] == 5
    # a refused value changes nothing
    r = cli("env", "config", f"{env}/prod", "--set", "maxParallel=9", "--set", "successThreshold=20000")
    assert r.returncode == 65 and "successThreshold" in r.stderr
    assert server.api("GET", f"/v1/envs/{env}/prod")[1]["maxParallel"] == 5
    # usage errors
    assert cli("env", "config", f"{env}/prod", "--set", "novalue").returncode == 64
    assert cli("env", "config", f"{env}/prod", "extra", "--set", "maxParallel=1").returncode == 64
    assert cli("env", "config", "--set", "maxParallel=1").returncode == 64
    r = cli("env", "config", "--help")
    assert r.returncode == 0 and "--set KEY=VALUE" in r.stdout


def test_capacity(cli, server, names, require_endpoint):
    env = names()
    assert cli("env", "create", f"{env}/prod").returncode == 0
    require_endpoint(server, "GET", f"/v1/envs/{env}/prod/capacity")
    r = cli("env", "capacity", "add", f"{env}/prod", "--host", "web-01", "web-02.example.com")
    assert r.returncode == 0, r.stderr
    r = cli("env", "capacity", "add", f"{env}/prod", "--group", "web-prod")
    assert r.returncode == 0, r.stderr
    assert sorted(server.api("GET", f"/v1/envs/{env}/prod/capacity?capacityType=HOST")[1]) == [
        "web-01", "web-02.example.com"]
    assert server.api("GET", f"/v1/envs/{env}/prod/capacity?capacityType=GROUP")[1] == ["web-prod"]
    r = cli("env", "capacity", "list", f"{env}/prod", "--json")
    got = json.loads(r.stdout)
    assert sorted(got["hosts"]) == ["web-01", "web-02.example.com"] and got["groups"] == ["web-prod"]
    r = cli("env", "capacity", "list", f"{env}/prod")
    assert sorted(r.stdout.splitlines()) == ["group web-prod", "host  web-01", "host  web-02.example.com"]
    r = cli("env", "capacity", "remove", f"{env}/prod", "--host", "web-01")
    assert r.returncode == 0, r.stderr
    assert server.api("GET", f"/v1/envs/{env}/prod/capacity?capacityType=HOST")[1] == ["web-02.example.com"]
    # the reserved group name is refused by the server
    r = cli("env", "capacity", "add", f"{env}/prod", "--group", "NULL")
    assert r.returncode == 65, r.stderr
    # a stage with capacity cannot be deleted
    r = cli("env", "delete", f"{env}/prod")
    assert r.returncode == 73, r.stderr


def test_scripts_and_agent_configs(cli, server, names, tmp_path, require_endpoint):
    env = names()
    assert cli("env", "create", f"{env}/prod").returncode == 0
    require_endpoint(server, "GET", f"/v1/envs/{env}/prod/script_configs")
    r = cli("env", "scripts", "set", f"{env}/prod", "PORT=8080", "GREETING=hello world")
    assert r.returncode == 0, r.stderr
    assert server.api("GET", f"/v1/envs/{env}/prod/script_configs")[1] == {"PORT": "8080",
                                                                            "GREETING": "hello world"}
    # merge by default, --unset removes
    r = cli("env", "scripts", "set", f"{env}/prod", "MODE=fast", "--unset", "GREETING")
    assert r.returncode == 0, r.stderr
    assert server.api("GET", f"/v1/envs/{env}/prod/script_configs")[1] == {"PORT": "8080", "MODE": "fast"}
    r = cli("env", "scripts", "get", f"{env}/prod")
    assert sorted(r.stdout.splitlines()) == ["MODE=fast", "PORT=8080"]
    # --replace with a file of KEY = VALUE lines
    f = tmp_path / "vars"
    f.write_text("# vars\nA = 1\nB = two words\n")
    r = cli("env", "scripts", "set", f"{env}/prod", "--replace", "--file", str(f))
    assert r.returncode == 0, r.stderr
    assert server.api("GET", f"/v1/envs/{env}/prod/script_configs")[1] == {"A": "1", "B": "two words"}
    r = cli("env", "scripts", "get", f"{env}/prod", "--json")
    assert json.loads(r.stdout) == {"A": "1", "B": "two words"}

    r = cli("env", "agent-config", "set", f"{env}/prod", "process_timeout=900")
    assert r.returncode == 0, r.stderr
    assert server.api("GET", f"/v1/envs/{env}/prod/agent_configs")[1] == {"process_timeout": "900"}
    r = cli("env", "agent-config", "get", f"{env}/prod")
    assert r.stdout.strip() == "process_timeout=900"
