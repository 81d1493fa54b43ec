# SPDX-License-Identifier: Apache-2.0
# slipway-server workers with short periods: state transitioner (§8.1) and agent janitor (§8.3).
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from srv_support import add_agent, db_query, make_env, publish, wait_for  # noqa: E402


def test_transition_worker_runs_without_progress_calls(server_factory):
    s = server_factory(["--set", "transition_period=1", "janitor_period=3600"]).start()
    env = make_env(s)
    b = publish(s)
    d = s.post("/v1/envs/web/prod/deploys?buildId=" + b["id"]).json()
    add_agent(s, env["id"], "h1", deploy_id=d["id"], stage="SERVING_BUILD", last_seen=int(time.time() * 1000) + 3600000)
    dep = wait_for(lambda: (lambda x: x if x["state"] == "SUCCEEDING" else None)(
        s.get("/v1/deploys/" + d["id"]).json()))
    assert dep["successTotal"] == 1 and dep["total"] == 1 and dep["acceptanceStatus"] == "ACCEPTED"
    m = s.get("/metrics").text
    assert 'slipway_deploy_transitions_total{to="SUCCEEDING"} 1' in m
    assert 'slipway_worker_runs_total{worker="transition",result="ok"}' in m


def test_janitor_marks_releases_and_expires(server_factory):
    s = server_factory(["--set", "janitor_period=1", "host_unreachable_after=2", "unreachable_slot_release=3",
                        "host_expire=8", "transition_period=3600"]).start()
    env = make_env(s)
    now = int(time.time() * 1000)
    add_agent(s, env["id"], "h-old", holds_slot=1, stage="STAGING", status="UNKNOWN", last_seen=now - 2500)
    add_agent(s, env["id"], "h-paused", state="PAUSED_BY_USER", last_seen=now - 2500)
    add_agent(s, env["id"], "h-fresh", last_seen=now + 3600 * 1000)

    def row(host):
        r = db_query(s, "SELECT state, holdsSlot FROM agents WHERE hostId=?", (host,))
        return r[0] if r else None

    assert wait_for(lambda: row("h-old")[0] == "UNREACHABLE")
    assert row("h-old")[1] == 1  # keeps its slot for unreachable_slot_release
    assert row("h-paused")[0] == "PAUSED_BY_USER"
    assert wait_for(lambda: row("h-old")[1] == 0)
    assert db_query(s, "SELECT count(*) FROM events WHERE kind='SLOT' AND hostId='h-old'")[0][0] >= 1
    # the board/API see it as unreachable
    agents = {a["hostId"]: a for a in s.get("/v1/envs/web/prod/agents").json()}
    assert agents["h-old"]["state"] == "UNREACHABLE" and agents["h-fresh"]["state"] == "NORMAL"
    assert 'slipway_hosts{state="unreachable"} 1' in s.get("/metrics").text
    # expiry deletes agent rows, host rows and the heartbeat record
    assert wait_for(lambda: row("h-old") is None, timeout=20)
    assert db_query(s, "SELECT count(*) FROM hosts WHERE hostId='h-old'")[0][0] == 0
    assert db_query(s, "SELECT count(*) FROM heartbeats WHERE hostId='h-old'")[0][0] == 0
    assert row("h-fresh")[0] == "NORMAL"


def test_retention_deletes_old_deploys_and_builds(server_factory):
    s = server_factory(["--set", "retention_period=1", "build_retention_count=1", "build_retention_days=1",
                        "transition_period=3600", "janitor_period=3600"]).start()
    make_env(s, maxDeployNum=2, maxDeployDay=1)
    old = int(time.time() * 1000) - 3 * 86400 * 1000
    b = publish(s, publishDate=old)
    deploys = [s.post("/v1/envs/web/prod/deploys?buildId=" + b["id"]).json()["id"] for _ in range(4)]
    db_query(s, "UPDATE deploys SET lastUpdateDate=?", (old,))
    unused = [publish(s, commit="c%07d" % i, publishDate=old + i)["id"] for i in range(3)]
    fresh = publish(s, commit="fffffff1")["id"]

    def left():
        return {d for (d,) in db_query(s, "SELECT id FROM deploys")}

    wait_for(lambda: left() == set(deploys[2:]))
    # builds: only one per name is kept beyond the age limit, never a referenced one
    wait_for(lambda: s.get("/v1/builds/" + unused[0]).status_code == 404)
    assert s.get("/v1/builds/" + b["id"]).status_code == 200
    assert s.get("/v1/builds/" + fresh).status_code == 200
    assert s.get("/v1/envs/web/prod/deploys/current").json()["id"] == deploys[3]
