# SPDX-License-Identifier: Apache-2.0
# Staged deploy schedules (PROTOCOL §4.9, §8.1): sessions admit hosts through the ping path, the state
# worker moves RUNNING -> COOLING_DOWN -> RUNNING(next) -> FINAL, a negative cooldown waits for the
# override endpoint; and an auto-promoted deploy that fails on its hosts is rolled back (failPolicy
# ROLLBACK). Hosts are simulated agents (tests/integration/ping/ping_support.py).
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from pipe_support import current, history, poll, publish  # noqa: E402
from ping_support import Host, ping_round  # noqa: E402


def on_deploy(hosts, env_id, deploy_id):
    return sum(1 for h in hosts if h.stage_of(env_id) and h.stage_of(env_id)[0] == deploy_id)


def schedule(s, env, stage):
    e = s.ok("GET", "/v1/envs/%s/%s" % (env, stage))
    return s.ok("GET", "/v1/schedules/%s/%s/%s" % (env, stage, e["scheduleId"]))


def ping_until(hosts, cond, timeout=15):
    """Ping rounds (the hosts advance one stage per ping) until cond() holds or timeout seconds pass."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        ping_round(hosts)
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    return cond()


def first_deploy(s, hosts, env):
    """Hosts' first deploy bypasses admission (§5.5); schedules govern later deploys."""
    d0 = s.deploy("app", "prod", publish(s)["id"])
    assert ping_until(hosts, lambda: all(h.stage_of(env["id"]) == (d0["id"], "SERVING_BUILD", "SUCCEEDED")
                                         for h in hosts))
    ping_round(hosts)
    return d0


def test_sessions_cooldown_and_override(server):
    s = server
    env = s.make_env("app", "prod", maxParallel=10)
    s.set_groups("app", "prod", ["app-prod"])
    hosts = [Host(s, "h%d" % i, groups=["app-prod"]) for i in range(4)]
    first_deploy(s, hosts, env)

    # validation
    for body in [{"totalSessions": 2, "hostNumbers": "1", "cooldownTimes": "0,0"},
                 {"totalSessions": 2, "hostNumbers": "1,0", "cooldownTimes": "0,0"},
                 {"totalSessions": 2, "hostNumbers": "1,101%", "cooldownTimes": "0,0"},
                 {"totalSessions": 2, "hostNumbers": "1,2", "cooldownTimes": "0,x"},
                 {"hostNumbers": "1", "cooldownTimes": "0"}]:
        r = s.req("PUT", "/v1/schedules/app/prod/schedules", json=body)
        assert r.status_code == 400, (body, r.text)
    # session 1: one host, then wait for an override; session 2: three more (plain numbers add up)
    sch = s.ok("PUT", "/v1/schedules/app/prod/schedules",
               json={"totalSessions": 2, "hostNumbers": "1,3", "cooldownTimes": "-1,0"})
    assert set(sch) == {"id", "totalSessions", "cooldownTimes", "hostNumbers", "currentSession", "state",
                        "stateStartTime"}
    assert sch["state"] == "NOT_STARTED" and sch["currentSession"] == 0
    assert s.ok("GET", "/v1/envs/app/prod")["scheduleId"] == sch["id"]
    r = s.req("PUT", "/v1/schedules/app/prod/override", params={"sessionNumber": 1})
    assert r.status_code == 409, r.text

    b = publish(s)
    d = s.deploy("app", "prod", b["id"])
    got = schedule(s, "app", "prod")
    assert got["state"] == "RUNNING" and got["currentSession"] == 1  # a REGULAR deploy starts the schedule

    # the first host deploys; the worker sees it serving and starts the (manual) cooldown
    assert ping_until(hosts, lambda: schedule(s, "app", "prod")["state"] == "COOLING_DOWN")
    assert schedule(s, "app", "prod")["currentSession"] == 1
    for _ in range(5):
        ping_round(hosts)
    assert on_deploy(hosts, env["id"], d["id"]) == 1, [h.stage_of(env["id"]) for h in hosts]
    assert current(s, "app", "prod")["state"] in ("RUNNING", "FAILING")

    r = s.req("PUT", "/v1/schedules/app/prod/override", params={"sessionNumber": 2})
    assert r.status_code == 409, r.text
    s.ok("PUT", "/v1/schedules/app/prod/override", code=204, params={"sessionNumber": 1})
    got = schedule(s, "app", "prod")
    assert got["state"] == "RUNNING" and got["currentSession"] == 2
    assert history(s, "app", "prod", "Env Schedule Config")

    # session 2 takes the rest; its cooldown of 0 minutes ends the schedule
    assert ping_until(hosts, lambda: on_deploy(hosts, env["id"], d["id"]) == 4)
    assert ping_until(hosts, lambda: all(h.stage_of(env["id"]) == (d["id"], "SERVING_BUILD", "SUCCEEDED")
                                         for h in hosts))
    poll(lambda: schedule(s, "app", "prod")["state"] == "FINAL", what="schedule FINAL")
    poll(lambda: current(s, "app", "prod")["state"] == "SUCCEEDING", what="deploy SUCCEEDING")

    # a RESTART starts the schedule again (§7.1 step 5)
    s.action("app", "prod", "RESTART")
    got = schedule(s, "app", "prod")
    assert got["state"] == "RUNNING" and got["currentSession"] == 1

    # totalSessions = 0 deletes it
    assert s.req("PUT", "/v1/schedules/app/prod/schedules", json={"totalSessions": 0}).status_code == 204
    assert s.ok("GET", "/v1/envs/app/prod")["scheduleId"] is None
    assert s.req("GET", "/v1/schedules/app/prod/" + sch["id"]).status_code == 404


def test_percent_sessions(server):
    s = server
    env = s.make_env("app", "prod", maxParallel=10)
    s.set_groups("app", "prod", ["app-prod"])
    hosts = [Host(s, "h%d" % i, groups=["app-prod"]) for i in range(4)]
    first_deploy(s, hosts, env)
    # 50% of 4 hosts = 2, then 100% (a share of the whole stage, not cumulative)
    s.ok("PUT", "/v1/schedules/app/prod/schedules",
         json={"totalSessions": 2, "hostNumbers": "50%,100%", "cooldownTimes": "-1,-1"})
    d = s.deploy("app", "prod", publish(s)["id"])
    assert ping_until(hosts, lambda: schedule(s, "app", "prod")["state"] == "COOLING_DOWN")
    for _ in range(4):
        ping_round(hosts)
    assert on_deploy(hosts, env["id"], d["id"]) == 2
    s.ok("PUT", "/v1/schedules/app/prod/override", code=204, params={"sessionNumber": 1})
    assert ping_until(hosts, lambda: schedule(s, "app", "prod")["state"] == "COOLING_DOWN")
    assert schedule(s, "app", "prod")["currentSession"] == 2
    assert on_deploy(hosts, env["id"], d["id"]) == 4
    # the last session's override ends the schedule
    s.ok("PUT", "/v1/schedules/app/prod/override", code=204, params={"sessionNumber": 2})
    assert schedule(s, "app", "prod")["state"] == "FINAL"


def test_failing_promoted_deploy_is_rolled_back(server):
    """failPolicy ROLLBACK on a deploy that turns FAILING through the hosts (not a rejection)."""
    s = server
    env = s.make_env("app", "prod", maxParallel=10)
    s.set_groups("app", "prod", ["app-prod"])
    hosts = [Host(s, "h%d" % i, groups=["app-prod"]) for i in range(2)]
    d0 = first_deploy(s, hosts, env)
    poll(lambda: current(s, "app", "prod")["state"] == "SUCCEEDING")
    s.ok("PUT", "/v1/envs/app/prod/promotes", code=204,
         json={"type": "AUTO", "predStage": "BUILD", "failPolicy": "ROLLBACK"})
    for h in hosts:
        h.fail[(None, "RESTARTING")] = "SCRIPT_TIMEOUT"
    b2 = publish(s)
    d2 = poll(lambda: (lambda c: c if c and c["buildId"] == b2["id"] else None)(current(s, "app", "prod")))
    assert d2["operator"] == "AutoPromoter"
    # both hosts fail fatally -> FAILING -> the promoter rolls back to d0's build and turns MANUAL
    for h in hosts:
        h.fail_once = True
    rb = ping_until(hosts, lambda: (lambda c: c if c and c["type"] == "ROLLBACK" else None)(
        current(s, "app", "prod")))
    assert rb, current(s, "app", "prod")
    assert rb["alias"] == d0["id"] and rb["buildId"] == d0["buildId"] and rb["operator"] == "AutoPromoter"
    assert s.ok("GET", "/v1/deploys/" + d2["id"])["state"] == "ABORTED"
    assert s.ok("GET", "/v1/envs/app/prod/promotes")["type"] == "MANUAL"
    # the hosts return to the old build
    assert ping_until(hosts, lambda: all(h.stage_of(env["id"]) == (rb["id"], "SERVING_BUILD", "SUCCEEDED")
                                         for h in hosts))
