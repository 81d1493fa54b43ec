# SPDX-License-Identifier: Apache-2.0
# A fatal failure under each failure policy (§6): host states, slots, deploy state and the automatic
# rollback deploy.
import pytest

from ping_support import Host, converge, ping_round, wait_for


def two_deploys(server, policy, n=4):
    e = server.make_env("web", "prod", maxParallel=1, failurePolicy=policy)
    server.set_groups("web", "prod", ["g"])
    hosts = [Host(server, "h%d" % i, groups=["g"]) for i in range(n)]
    d1 = server.deploy("web", "prod", server.publish(commit="1111111aaaa")["id"])
    assert converge(hosts, e["id"], d1["id"])
    server.progress("web", "prod")  # D1 becomes SUCCEEDING (then SUCCEEDED when replaced)
    assert server.current("web", "prod")["state"] == "SUCCEEDING"
    # h0 fails fatally at RESTARTING of the next deploy; it pings first, so it takes the only slot
    hosts[0].fail[(None, "RESTARTING")] = "SCRIPT_TIMEOUT"
    hosts[0].fail_once = True
    d2 = server.deploy("web", "prod", server.publish(commit="2222222bbbb")["id"])
    for _ in range(40):
        ping_round(hosts)
    return e, hosts, d1, d2


def state(server, env, stage, host_id):
    return server.agents_by_host(env, stage)[host_id]


def test_halt_stops_the_rollout(server):
    e, hosts, d1, d2 = two_deploys(server, "HALT")
    a = server.agents_by_host("web", "prod")
    assert a["h0"]["state"] == "PAUSED_BY_SYSTEM" and a["h0"]["holdsSlot"] is True
    assert a["h0"]["deployStage"] == "RESTARTING" and a["h0"]["status"] == "SCRIPT_TIMEOUT"
    for h in ("h1", "h2", "h3"):
        assert a[h]["deployId"] == d1["id"] and a[h]["deployStage"] == "SERVING_BUILD"
    assert server.progress("web", "prod") is not None
    assert server.current("web", "prod")["state"] == "FAILING"
    # the error message of the fatal report is kept
    err = server.ok("GET", "/v1/envs/web/prod/agents/errors/h0")
    assert "RESTARTING" in err["errorMessage"]


def test_continue_releases_the_slot(server):
    e, hosts, d1, d2 = two_deploys(server, "CONTINUE")
    a = server.agents_by_host("web", "prod")
    assert a["h0"]["state"] == "PAUSED_BY_SYSTEM" and a["h0"]["holdsSlot"] is False
    for h in ("h1", "h2", "h3"):
        assert a[h]["deployId"] == d2["id"] and a[h]["deployStage"] == "SERVING_BUILD", a[h]
    server.progress("web", "prod")
    cur = server.current("web", "prod")
    assert cur["state"] == "FAILING" and cur["successTotal"] == 3 and cur["failTotal"] == 1


def test_remove_host_stops_the_failed_host(server):
    e, hosts, d1, d2 = two_deploys(server, "REMOVE_HOST")
    a = server.agents_by_host("web", "prod")
    assert a["h0"]["state"] == "STOP" and a["h0"]["removed"] is True and a["h0"]["holdsSlot"] is False
    assert a["h0"]["deployStage"] == "STOPPED"
    ops = [g["opCode"] for g in hosts[0].goals]
    assert "STOP" in ops
    stop_goal = [g for g in hosts[0].goals if g["opCode"] == "STOP"][0]["deployGoal"]
    assert stop_goal["deployStage"] == "STOPPING"
    for h in ("h1", "h2", "h3"):
        assert a[h]["deployId"] == d2["id"] and a[h]["deployStage"] == "SERVING_BUILD"
    server.progress("web", "prod")
    cur = server.current("web", "prod")
    assert cur["state"] in ("SUCCEEDING", "SUCCEEDED") and cur["total"] == 3
    prog = server.progress("web", "prod")
    assert prog["removedHosts"] == ["h0"]
    # a removed host stays out of later deploys until a user RESET
    d3 = server.deploy("web", "prod", server.publish(commit="3333333cccc")["id"])
    hosts[0].fail.clear()
    for _ in range(30):
        ping_round(hosts)
    a = server.agents_by_host("web", "prod")
    assert a["h0"]["state"] == "STOP" and a["h0"]["removed"] is True
    assert all(a[h]["deployId"] == d3["id"] for h in ("h1", "h2", "h3"))
    server.ok("PUT", "/v1/envs/web/prod/deploys/hostactions", params={"actionType": "RESET"}, json=["h0"])
    assert converge(hosts, e["id"], d3["id"])
    a = server.agents_by_host("web", "prod")
    assert a["h0"]["removed"] is False and a["h0"]["state"] == "NORMAL" and a["h0"]["deployId"] == d3["id"]


def test_rollback_policy_rolls_back_automatically(server_factory):
    # only this test's progress call runs the transition (the worker would race the assertions below)
    server = server_factory(["transition_period=3600"]).start()
    e, hosts, d1, d2 = two_deploys(server, "ROLLBACK")
    assert server.current("web", "prod")["id"] == d2["id"]
    server.progress("web", "prod")
    cur = wait_for(lambda: (lambda c: c if c["type"] == "ROLLBACK" else None)(server.current("web", "prod")))
    assert cur, server.current("web", "prod")
    assert cur["alias"] == d1["id"] and cur["operator"] == "system"
    failed = server.ok("GET", "/v1/deploys/%s" % d2["id"])
    assert failed["state"] == "ABORTED" and failed["outcome"] == "ROLLED_BACK"
    assert failed["replacedByDeployId"] == cur["id"] and cur["rollbackFromDeployId"] == d2["id"]
    assert "RESTARTING" in server.ok("GET", "/v1/envs/web/prod/agents/errors/h0")["errorMessage"]
    # hosts still on D1 need no work: their pings are idle at once
    for h in hosts[1:]:
        assert h.ping()["opCode"] == "NOOP"
    # h0 (which had failed on D2) redeploys the old build under opCode ROLLBACK
    before = len(hosts[0].goals)
    for _ in range(20):
        ping_round(hosts)
    new = hosts[0].goals[before:]
    assert [g["deployGoal"]["deployStage"] for g in new][0] == "PRE_DOWNLOAD"
    assert {g["opCode"] for g in new} == {"ROLLBACK"}
    assert {g["deployGoal"]["deployId"] for g in new} == {cur["id"]}
    dl = [g["deployGoal"] for g in new if g["deployGoal"]["deployStage"] == "DOWNLOADING"][0]
    assert dl["build"]["id"] == d1["buildId"]
    for h in hosts[1:]:
        assert h.goals[-1]["deployGoal"]["deployId"] == d1["id"]  # nothing new for them
    a = server.agents_by_host("web", "prod")
    assert all(x["deployId"] == cur["id"] and x["deployStage"] == "SERVING_BUILD" for x in a.values()), a
    server.progress("web", "prod")
    assert server.current("web", "prod")["state"] in ("SUCCEEDING", "SUCCEEDED")
    # h0 succeeded on the rollback: its old error is over
    r = server.req("GET", "/v1/envs/web/prod/agents/errors/h0")
    assert r.status_code == 404, r.text
