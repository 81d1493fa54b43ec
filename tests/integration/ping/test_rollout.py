# SPDX-License-Identifier: Apache-2.0
# Rollouts through the ping path: a 10-host deploy to SUCCEEDED, rollout width (maxParallel and
# maxParallelPct) of a later deploy, and exact admission under hundreds of concurrent pings.
import threading

from ping_support import DEPLOY_PATH, Host, converge, deploying, ping_round, wait_for


def setup_stage(server, n, env="web", stage="prod", **fields):
    e = server.make_env(env, stage, **fields)
    server.set_groups(env, stage, ["%s-%s" % (env, stage)])
    hosts = [Host(server, "h%03d" % i, groups=["%s-%s" % (env, stage)]) for i in range(n)]
    return e, hosts


def test_ten_hosts_walk_every_stage(server):
    env, hosts = setup_stage(server, 10)
    # no deploy yet: NOOP, rows are created from the first reports only
    assert all(r["opCode"] == "NOOP" for r in ping_round(hosts))
    b = server.publish()
    d = server.deploy("web", "prod", b["id"])
    seen = {h.host_id: [] for h in hosts}

    def watch(hs):
        for h in hs:
            if h.last["opCode"] != "NOOP":
                g = h.last["deployGoal"]
                if not seen[h.host_id] or seen[h.host_id][-1] != g["deployStage"]:
                    seen[h.host_id].append(g["deployStage"])
    assert converge(hosts, env["id"], d["id"], watch=watch)
    for h in hosts:
        assert seen[h.host_id] == DEPLOY_PATH, seen[h.host_id]
        first = h.goals[0]
        assert first["opCode"] == "DEPLOY"
        g = first["deployGoal"]
        assert g["deployStage"] == "PRE_DOWNLOAD" and g["scriptVariables"] == {} and g["build"] is None
        assert g["firstDeploy"] is True and g["envName"] == "web" and g["stageName"] == "prod"
        dl = [x["deployGoal"] for x in h.goals if x["deployGoal"]["deployStage"] == "DOWNLOADING"][0]
        assert dl["build"]["id"] == b["id"] and dl["scriptVariables"] is None
    agents = server.agents("web", "prod")
    assert len(agents) == 10
    for a in agents:
        assert a["deployStage"] == "SERVING_BUILD" and a["state"] == "NORMAL" and a["deployId"] == d["id"]
        assert a["firstDeploy"] is False and a["holdsSlot"] is False
    prog = server.progress("web", "prod")
    assert len(prog["agents"]) == 10
    cur = server.current("web", "prod")
    assert cur["state"] in ("SUCCEEDING", "SUCCEEDED") and cur["successTotal"] == 10 and cur["total"] == 10
    # idle pings answer NOOP
    assert all(r["opCode"] == "NOOP" for r in ping_round(hosts))


def rollout_width(server, n, width_fields, expect):
    env, hosts = setup_stage(server, n, **width_fields)
    b1 = server.publish(commit="1111111aaaa")
    d1 = server.deploy("web", "prod", b1["id"])
    # first deploys bypass admission: all hosts at once
    ping_round(hosts)
    assert deploying(hosts, env["id"], d1["id"]) == n
    assert converge(hosts, env["id"], d1["id"])
    b2 = server.publish(commit="2222222bbbb")
    d2 = server.deploy("web", "prod", b2["id"])
    peak = [0]

    def watch(hs):
        peak[0] = max(peak[0], deploying(hs, env["id"], d2["id"]))
        assert peak[0] <= expect
    assert converge(hosts, env["id"], d2["id"], max_rounds=200, watch=watch)
    assert peak[0] == expect
    return env, hosts


def test_max_parallel_two(server):
    rollout_width(server, 10, {"maxParallel": 2}, 2)


def test_max_parallel_pct(server):
    # 30 % of 10 existing hosts = 3
    rollout_width(server, 10, {"maxParallelPct": 30}, 3)


def test_exact_admission_under_concurrency(server):
    n, width = 200, 3
    env, hosts = setup_stage(server, n, maxParallel=width)
    b1 = server.publish(commit="1111111aaaa")
    d1 = server.deploy("web", "prod", b1["id"])
    for _ in range(12):
        ping_round(hosts, parallel=True)
    assert all(h.stage_of(env["id"]) == (d1["id"], "SERVING_BUILD", "SUCCEEDED") for h in hosts)
    ping_round(hosts, parallel=True)
    b2 = server.publish(commit="2222222bbbb")
    d2 = server.deploy("web", "prod", b2["id"])
    largest = 0
    for _ in range(6):
        # every host pings at once; all of them are candidates for the new deploy
        ping_round(hosts, parallel=True)
        holders = [a for a in server.agents("web", "prod") if a["holdsSlot"]]
        largest = max(largest, len(holders), deploying(hosts, env["id"], d2["id"]))
        assert len(holders) <= width
        assert deploying(hosts, env["id"], d2["id"]) <= width
    assert largest == width
