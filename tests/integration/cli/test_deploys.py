# SPDX-License-Identifier: Apache-2.0
# deploy / promote / rollback / restart / pause / resume / status / hosts / agents against a real server.
# Hosts are played by the test itself through POST /v1/system/ping (a scripted agent), so every
# deploy outcome (success, FAILING, ABORTED) is reached deterministically and fast.
import json
import time

import pytest
from fakehost import make_stage, publish, stage_with_host


@pytest.fixture
def deploys_supported(server, require_endpoint):
    require_endpoint(server, "POST", "/v1/envs/x/y/deploys")
    require_endpoint(server, "PUT", "/v1/envs/x/y/deploys/current/progress")
    require_endpoint(server, "POST", "/v1/envs/x/y/deploys/current/actions")


@pytest.fixture
def ping_supported(server, require_endpoint):
    require_endpoint(server, "POST", "/v1/system/ping")
    require_endpoint(server, "POST", "/v1/envs/x/y/capacity")


def deploy_of(server, env, stage="prod"):
    code, d = server.api("GET", f"/v1/envs/{env}/{stage}/deploys/current")
    assert code == 200, d
    return d


def test_deploy_wait_empty_stage(cli, server, names, deploys_supported):
    env = names("dw")
    make_stage(cli, env)
    build = publish(cli, env, "a1a1a1a1")
    # a stage without hosts succeeds at once (PROTOCOL §7.3): --wait says nothing was deployed and exits 3
    r = cli("deploy", f"{env}/prod", "--build", build, "--description", "first", "--wait", "--interval", "0.2",
            "--timeout", "30")
    assert r.returncode == 3, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    deploy_id = lines[0]
    d = deploy_of(server, env)
    assert d["id"] == deploy_id and d["buildId"] == build and d["description"] == "first"
    assert d["state"] in ("SUCCEEDING", "SUCCEEDED") and d["outcome"] == "NO_HOSTS"
    # the first progress line is true: no "0/0 hosts done"
    assert lines[1].startswith(f"deploy {deploy_id} ") and "no hosts in the stage" in lines[1], r.stdout
    assert "0/0" not in r.stdout
    assert f"deploy {deploy_id} succeeded with no hosts: nothing was deployed" in r.stderr
    # --allow-empty takes it as a success
    r = cli("deploy", f"{env}/prod", "--build", build, "--wait", "--allow-empty", "--interval", "0.2",
            "--timeout", "30")
    assert r.returncode == 0, r.stdout + r.stderr
    deploy_id = r.stdout.splitlines()[0]
    assert "succeeded with no hosts" in r.stdout and "--allow-empty" in r.stdout
    r = cli("deploy", f"{env}/prod", "--build", build, "--allow-empty")
    assert r.returncode == 64 and "--allow-empty goes with --wait" in r.stderr

    r = cli("status", f"{env}/prod")
    assert r.returncode == 0
    assert deploy_id in r.stdout and build in r.stdout
    r = cli("status", f"{env}/prod", "--json")
    got = json.loads(r.stdout)
    assert got["deploy"]["id"] == deploy_id and got["env"]["stageName"] == "prod"
    # the stage's summary (never a list of every host) and the failing hosts' first page
    assert got["summary"]["total"] == 0 and got["summary"]["deployId"] == deploy_id and got["failing"] == []
    assert got["deploy"]["outcome"] == "NO_HOSTS"
    assert "outcome    NO_HOSTS" in cli("status", f"{env}/prod").stdout
    r = cli("status", f"{env}/prod", "--watch", "--interval", "0.2", "--timeout", "30")
    assert r.returncode == 3, r.stderr
    r = cli("status", f"{env}/prod", "--watch", "--allow-empty", "--interval", "0.2", "--timeout", "30")
    assert r.returncode == 0, r.stderr


def test_status_of_stage_without_deploy(cli, names, deploys_supported):
    env = names("nd")
    make_stage(cli, env)
    r = cli("status", f"{env}/prod")
    assert r.returncode == 0, r.stderr
    assert "deploy     none" in r.stdout
    r = cli("status", "nosuchenv/prod")
    assert r.returncode == 68


def test_deploy_latest_and_wrong_build_name(cli, server, names, deploys_supported):
    env = names("dl")
    make_stage(cli, env)
    publish(cli, env, "b1b1b1b1")
    newest = publish(cli, env, "b2b2b2b2")
    r = cli("deploy", f"{env}/prod", "--latest")
    assert r.returncode == 0, r.stderr
    assert deploy_of(server, env)["buildId"] == newest
    # a build whose name differs from the stage's buildName is refused by the server
    other = publish(cli, env + "-other", "c1c1c1c1")
    r = cli("deploy", f"{env}/prod", "--build", other)
    assert r.returncode == 65, r.stderr
    r = cli("deploy", f"{env}/prod", "--build", "nosuchbuild_1234567")
    assert r.returncode in (65, 68), r.stderr
    # --latest with no build of that name
    env2 = names("dl")
    make_stage(cli, env2)
    r = cli("deploy", f"{env2}/prod", "--latest")
    assert r.returncode == 68 and "no build" in r.stderr


def test_promote_rollback_restart(cli, server, names, deploys_supported):
    env = names("pr")
    make_stage(cli, env, "staging")
    make_stage(cli, env, "prod")
    b1 = publish(cli, env, "d1d1d1d1")
    b2 = publish(cli, env, "d2d2d2d2")
    assert cli("deploy", f"{env}/staging", "--build", b1).returncode == 0
    r = cli("promote", f"{env}/prod", "--from", "staging", "--wait", "--allow-empty", "--interval", "0.2",
            "--timeout", "30")
    assert r.returncode == 0, r.stdout + r.stderr
    first_prod = deploy_of(server, env)
    assert first_prod["buildId"] == b1
    staging_deploy = deploy_of(server, env, "staging")
    assert first_prod.get("fromDeployId") == staging_deploy["id"]

    r = cli("deploy", f"{env}/prod", "--build", b2, "--wait", "--interval", "0.2", "--timeout", "30")
    assert r.returncode == 3, r.stderr
    r = cli("rollback", f"{env}/prod", "--to", first_prod["id"], "--json")
    assert r.returncode == 0, r.stderr
    rb = json.loads(r.stdout)
    assert rb["type"] == "ROLLBACK" and rb["buildId"] == b1
    assert deploy_of(server, env)["id"] == rb["id"]

    r = cli("restart", f"{env}/prod")
    assert r.returncode == 0, r.stderr
    d = deploy_of(server, env)
    assert d["id"] == r.stdout.strip() and d["type"] == "RESTART" and d["buildId"] == b1

    # the demo's spelling: `deploy promote ENV/STAGE --from ENV/OTHER`
    r = cli("deploy", "promote", f"{env}/prod", "--from", f"{env}/staging")
    assert r.returncode == 0, r.stderr
    d = deploy_of(server, env)
    assert d["id"] == r.stdout.strip() and d["buildId"] == b1 and d["fromDeployId"] == staging_deploy["id"]

    # promoting from a stage without a deploy is a 404
    make_stage(cli, env, "empty")
    r = cli("promote", f"{env}/prod", "--from", f"{env}/empty")
    assert r.returncode == 68, r.stderr


def test_pause_resume(cli, server, names, deploys_supported):
    env = names("pa")
    make_stage(cli, env)
    assert cli("deploy", f"{env}/prod", "--build", publish(cli, env, "e1e1e1e1")).returncode == 0
    r = cli("pause", f"{env}/prod")
    assert r.returncode == 0, r.stderr
    assert server.api("GET", f"/v1/envs/{env}/prod")[1]["envState"] == "PAUSED"
    r = cli("status", f"{env}/prod")
    assert "[PAUSED]" in r.stdout
    r = cli("resume", f"{env}/prod")
    assert r.returncode == 0, r.stderr
    assert server.api("GET", f"/v1/envs/{env}/prod")[1]["envState"] == "NORMAL"


def test_wait_follows_hosts_to_success(cli, cli_bg, server, names, deploys_supported, ping_supported):
    env = names("ok")
    host = stage_with_host(cli, server, env)
    build = publish(cli, env, "f1f1f1f1")
    p = cli_bg("deploy", f"{env}/prod", "--build", build, "--wait", "--interval", "0.1", "--timeout", "60")
    deploy_id = p.stdout.readline().strip()
    assert deploy_id
    host.run_until_idle()
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, out + err
    assert f"deploy {deploy_id} SUCCEEDING: 1/1 hosts done" in out or f"deploy {deploy_id} SUCCEEDED" in out

    # hosts and agents show the host at SERVING_BUILD
    r = cli("hosts", f"{env}/prod")
    assert r.returncode == 0, r.stderr
    row = [ln.split() for ln in r.stdout.splitlines() if ln.startswith(host.host)]
    assert row and "SERVING_BUILD" in row[0] and "SUCCEEDED" in row[0], r.stdout
    r = cli("hosts", f"{env}/prod", "--json")
    got = json.loads(r.stdout)
    assert [a["hostId"] for a in got["agents"]] == [host.host]
    r = cli("agents", host.host)
    assert r.returncode == 0, r.stderr
    assert f"{env}/prod" in r.stdout and deploy_id in r.stdout and "SERVING_BUILD" in r.stdout
    r = cli("agents", host.host, "--json")
    assert [a["deployId"] for a in json.loads(r.stdout)] == [deploy_id]
    # an unknown host has no agent rows: an empty table, not an error
    r = cli("agents", "no-such-host")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 1


def test_wait_reports_failing(cli, cli_bg, server, names, deploys_supported, ping_supported):
    env = names("fail")
    host = stage_with_host(cli, server, env)
    build = publish(cli, env, "0f0f0f0f")
    p = cli_bg("deploy", f"{env}/prod", "--build", build, "--wait", "--interval", "0.1", "--timeout", "60")
    deploy_id = p.stdout.readline().strip()
    # the host fails fatally in its first step: parked (PAUSED_BY_SYSTEM), 1 of 1 failed → FAILING
    assert host.ping(status_for_goal="TOO_MANY_RETRY")["deployId"] == deploy_id
    host.ping()
    out, err = p.communicate(timeout=60)
    assert p.returncode == 1, out + err
    assert "FAILING" in err and deploy_id in err


def test_wait_reports_aborted(cli, cli_bg, server, names, deploys_supported, ping_supported):
    env = names("abort")
    host = stage_with_host(cli, server, env)
    b1 = publish(cli, env, "1a2b3c4d")
    p = cli_bg("deploy", f"{env}/prod", "--build", b1, "--wait", "--interval", "0.1", "--timeout", "60")
    first = p.stdout.readline().strip()
    host.ping(status_for_goal="UNKNOWN")  # the host starts and stays busy: the deploy keeps RUNNING
    deadline = time.monotonic() + 30
    line = ""
    while "RUNNING" not in line and time.monotonic() < deadline:
        line = p.stdout.readline()
    assert "RUNNING" in line
    # a newer deploy replaces it: the first one is ABORTED
    b2 = publish(cli, env, "5e6f7a8b")
    assert cli("deploy", f"{env}/prod", "--build", b2).returncode == 0
    out, err = p.communicate(timeout=60)
    assert p.returncode == 2, out + err
    assert server.api("GET", f"/v1/deploys/{first}")[1]["state"] == "ABORTED"


def test_wait_timeout(cli, cli_bg, server, names, deploys_supported, ping_supported):
    env = names("slow")
    host = stage_with_host(cli, server, env)
    r = cli("deploy", f"{env}/prod", "--build", publish(cli, env, "9a9a9a9a"))
    assert r.returncode == 0
    host.ping(status_for_goal="UNKNOWN")
    r = cli("status", f"{env}/prod", "--watch", "--interval", "0.2", "--timeout", "1")
    assert r.returncode == 75, r.stdout + r.stderr
    assert "still RUNNING" in r.stderr


def test_hosts_with_multibyte_health_status(cli, server, names, deploys_supported, ping_supported):
    # 32 three-byte characters (96 bytes): the agent row keeps all of them and stays readable
    env = names("utf")
    host = stage_with_host(cli, server, env)
    r = cli("deploy", f"{env}/prod", "--build", publish(cli, env, "7e7e7e7e"))
    assert r.returncode == 0, r.stderr
    goal = host.ping(status_for_goal="UNKNOWN")
    host.reports[goal["envId"]]["containerHealthStatus"] = "€" * 40
    host.ping(status_for_goal="UNKNOWN")
    r = cli("hosts", f"{env}/prod", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["agents"][0]["containerHealthStatus"] == "€" * 32
    r = cli("status", f"{env}/prod")
    assert r.returncode == 0, r.stderr
