# SPDX-License-Identifier: Apache-2.0
# `slipway config promote|webhooks|schedule|capacity|scripts|agent ENV/STAGE [--set ...] [--file F]`.
import json


def stage(cli, names, *stages):
    env = names()
    for s in stages or ("prod",):
        assert cli("env", "create", f"{env}/{s}").returncode == 0
    return env


def test_promote(cli, server, names):
    env = stage(cli, names, "staging", "prod")
    r = cli("config", "promote", f"{env}/prod", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["type"] == "MANUAL"
    r = cli("config", "promote", f"{env}/prod", "--set", "type=AUTO", "--set", "predStage=staging",
            "--set", "delay=5")
    assert r.returncode == 0, r.stderr
    p = server.api("GET", f"/v1/envs/{env}/prod/promotes")[1]
    assert (p["type"], p["predStage"], p["delay"]) == ("AUTO", "staging", 5)
    r = cli("config", "promote", f"{env}/prod")
    assert "predStage = staging" in r.stdout.splitlines() and "delay = 5" in r.stdout.splitlines()
    # the server's validation: 65 naming the field, nothing changed
    r = cli("config", "promote", f"{env}/prod", "--set", "queueSize=99")
    assert r.returncode == 65 and "queueSize" in r.stderr
    assert server.api("GET", f"/v1/envs/{env}/prod/promotes")[1]["queueSize"] == p["queueSize"]


def test_webhooks_file(cli, server, names, tmp_path):
    env = stage(cli, names)
    f = tmp_path / "hooks.json"
    hooks = {"preDeployHooks": [], "postDeployHooks": [{"method": "POST", "url": "https://hooks.example/done"}]}
    f.write_text(json.dumps(hooks))
    r = cli("config", "webhooks", f"{env}/prod", "--file", str(f))
    assert r.returncode == 0, r.stderr
    got = server.api("GET", f"/v1/envs/{env}/prod/web_hooks")[1]
    assert [h["url"] for h in got["postDeployHooks"]] == ["https://hooks.example/done"]
    r = cli("config", "webhooks", f"{env}/prod", "--json")
    assert json.loads(r.stdout)["postDeployHooks"][0]["url"] == "https://hooks.example/done"
    assert cli("config", "webhooks", f"{env}/prod", "--file", str(tmp_path / "missing.json")).returncode == 66
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert cli("config", "webhooks", f"{env}/prod", "--file", str(bad)).returncode == 64


def test_schedule(cli, server, names):
    env = stage(cli, names)
    r = cli("config", "schedule", f"{env}/prod", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {}
    r = cli("config", "schedule", f"{env}/prod", "--set", "totalSessions=2", "--set", "hostNumbers=1,50%",
            "--set", "cooldownTimes=5,10")
    assert r.returncode == 0, r.stderr
    e = server.api("GET", f"/v1/envs/{env}/prod")[1]
    assert e["scheduleId"]
    s = json.loads(cli("config", "schedule", f"{env}/prod", "--json").stdout)
    assert s["totalSessions"] == 2 and s["hostNumbers"] == "1,50%" and s["cooldownTimes"] == "5,10"
    r = cli("config", "schedule", f"{env}/prod", "--set", "totalSessions=3")
    assert r.returncode == 65, r.stderr  # 3 sessions, 2 host numbers


def test_capacity(cli, server, names):
    env = stage(cli, names)
    r = cli("config", "capacity", f"{env}/prod", "--set", f"hosts={env}-h1,{env}-h2", "--set", f'groups=["{env}-g"]')
    assert r.returncode == 0, r.stderr
    assert sorted(server.api("GET", f"/v1/envs/{env}/prod/capacity?capacityType=HOST")[1]) == [f"{env}-h1",
                                                                                                f"{env}-h2"]
    assert server.api("GET", f"/v1/envs/{env}/prod/capacity?capacityType=GROUP")[1] == [f"{env}-g"]
    doc = json.loads(cli("config", "capacity", f"{env}/prod", "--json").stdout)
    assert sorted(doc["hosts"]) == [f"{env}-h1", f"{env}-h2"] and doc["groups"] == [f"{env}-g"]
    r = cli("config", "capacity", f"{env}/prod", "--set", "hosts=", "--set", "groups=[]")
    assert r.returncode == 0, r.stderr
    assert json.loads(cli("config", "capacity", f"{env}/prod", "--json").stdout) == {"hosts": [], "groups": []}
    r = cli("config", "capacity", f"{env}/prod", "--set", "racks=a")
    assert r.returncode == 64 and "racks" in r.stderr


def test_scripts_and_agent(cli, server, names):
    env = stage(cli, names)
    for kind, res in (("scripts", "script_configs"), ("agent", "agent_configs")):
        r = cli("config", kind, f"{env}/prod", "--set", "PORT=8080", "--set", "MODE=blue")
        assert r.returncode == 0, r.stderr
        assert server.api("GET", f"/v1/envs/{env}/prod/{res}")[1] == {"PORT": "8080", "MODE": "blue"}
        r = cli("config", kind, f"{env}/prod", "--set", "MODE=green")
        assert server.api("GET", f"/v1/envs/{env}/prod/{res}")[1] == {"PORT": "8080", "MODE": "green"}
        r = cli("config", kind, f"{env}/prod")
        assert sorted(r.stdout.splitlines()) == ["MODE = green", "PORT = 8080"]
    r = cli("config", "scripts", f"{env}/prod", "--set", "PATH=/tmp")
    assert r.returncode == 65 and "PATH" in r.stderr


def test_config_bad_input(cli, names):
    env = stage(cli, names)
    assert cli("config", "promote").returncode == 64
    assert cli("config", "promote", "noslash").returncode == 64
    assert cli("config", "promote", f"{env}/prod", "--set", "novalue").returncode == 64
    assert cli("config", "alarms", f"{env}/prod").returncode == 64
    assert cli("config", "promote", f"{env}/nope").returncode == 68
    for kind in ("promote", "webhooks", "schedule", "capacity", "scripts", "agent"):
        r = cli("config", kind, "--help")
        assert r.returncode == 0 and r.stdout.startswith(f"usage: slipway config {kind} ENV/STAGE")
