# SPDX-License-Identifier: Apache-2.0
# `slipway env constraint` and `slipway hosts --tag` (zone-aware rollouts) against a real server.
import json

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
