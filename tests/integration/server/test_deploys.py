# SPDX-License-Identifier: Apache-2.0
# slipway-server: deploys (PROTOCOL §4.5, §7): create, current, actions, progress + transition,
# list, acceptance, auto-rollback; agents and hosts (§4.6, §4.7).
import os
import sqlite3
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from srv_support import add_agent, assert_error, db_query, make_env, publish  # noqa: E402
import dbtarget  # noqa: E402  (on sys.path through srv_support)


def deploy(server, build_id, stage="prod", **params):
    q = "&".join("%s=%s" % kv for kv in params.items())
    r = server.post("/v1/envs/web/%s/deploys?buildId=%s%s" % (stage, build_id, "&" + q if q else ""))
    assert r.status_code == 201, r.text
    return r.json()


def test_deploy_create_current_and_finalise(server):
    env = make_env(server)
    b1 = publish(server, commit="aaaaaaa1")
    b2 = publish(server, commit="bbbbbbb2")
    assert_error(server.get("/v1/envs/web/prod/deploys/current"), 404)
    d1 = deploy(server, b1["id"], description="first")
    assert d1["state"] == "RUNNING" and d1["acceptanceStatus"] == "PENDING_DEPLOY" and d1["type"] == "REGULAR"
    assert d1["envId"] == env["id"] and d1["buildId"] == b1["id"] and d1["description"] == "first"
    assert d1["operator"] == "bootstrap-admin" and d1["total"] == 0
    assert server.get("/v1/envs/web/prod/deploys/current").json() == d1
    e = server.get("/v1/envs/web/prod").json()
    assert e["deployId"] == d1["id"] and e["deployType"] == "REGULAR"
    d2 = deploy(server, b2["id"], deliveryType="production")
    old = server.get("/v1/deploys/" + d1["id"]).json()
    assert old["state"] == "ABORTED" and old["acceptanceStatus"] == "TERMINATED"
    assert server.get("/v1/envs/web/prod").json()["stageType"] == "PRODUCTION"
    assert server.get("/v1/envs/web/prod/deploys/current").json()["id"] == d2["id"]
    hist = server.get("/v1/envs/web/prod/history").json()
    assert [h["type"] for h in hist[:2]] == ["Env Action", "Env Action"]
    assert '"DEPLOY"' in hist[0]["configChange"]
    assert server.get("/v1/deploys/dailycount").json() == 2
    # events for long-poll waiters
    assert db_query(server, "SELECT count(*) FROM events WHERE kind='ENV' AND envId=?", (env["id"],))[0][0] >= 2


def test_deploy_bad_input(server):
    make_env(server)
    b = publish(server)
    other = publish(server, name="api")
    assert_error(server.post("/v1/envs/web/prod/deploys"), 400, "buildId")
    assert_error(server.post("/v1/envs/web/prod/deploys?buildId=nope_1234567"), 404)
    assert_error(server.post("/v1/envs/web/none/deploys?buildId=" + b["id"]), 404)
    assert_error(server.post("/v1/envs/web/prod/deploys?buildId=" + other["id"]), 400, "buildId")
    assert_error(server.post("/v1/envs/web/prod/deploys?buildId=%s&deliveryType=NOPE" % b["id"]), 400, "deliveryType")
    assert_error(server.post("/v1/envs/web/prod/deploys?buildId=%s&force=maybe" % b["id"]), 400, "force")
    assert_error(server.put("/v1/envs/web/prod/deploys/current/progress"), 404)
    assert_error(server.post("/v1/envs/web/prod/deploys/current/actions?actionType=JUMP"), 400, "actionType")
    assert_error(server.post("/v1/envs/web/prod/deploys/current/actions?actionType=RESTART"), 409)
    assert_error(server.post("/v1/envs/web/prod/deploys/current/actions?actionType=ROLLBACK"), 409)
    assert_error(server.post("/v1/envs/web/prod/deploys/current/actions?actionType=PROMOTE"), 400, "fromDeployId")
    assert_error(server.get("/v1/deploys/nope"), 404)
    assert_error(server.delete("/v1/deploys/nope"), 405)
    assert server.get("/v1/deploys").json()["total"] == 0
    assert server.get("/v1/envs/web/prod").json()["deployId"] is None
    # signed stage refuses unsigned builds
    assert server.put("/v1/envs/web/prod", json={"signingKey": "A" * 43 + "="}).status_code == 204
    assert_error(server.post("/v1/envs/web/prod/deploys?buildId=" + b["id"]), 400, "buildId")


def test_actions_pause_resume_restart_promote_rollback(server):
    make_env(server, stage="canary")
    make_env(server, stage="prod")
    b1 = publish(server, commit="aaaaaaa1")
    b2 = publish(server, commit="bbbbbbb2")
    d1 = deploy(server, b1["id"])
    db_query(server, "UPDATE deploys SET state='SUCCEEDED' WHERE id=?", (d1["id"],))
    d2 = deploy(server, b2["id"])
    # pause / resume
    r = server.post("/v1/envs/web/prod/deploys/current/actions?actionType=pause")
    assert r.status_code == 201 and r.json()["id"] == d2["id"]
    assert server.get("/v1/envs/web/prod").json()["envState"] == "PAUSED"
    assert server.post("/v1/envs/web/prod/deploys/current/actions?actionType=RESUME").status_code == 201
    assert server.get("/v1/envs/web/prod").json()["envState"] == "NORMAL"
    assert server.post("/v1/envs/web/canary/deploys/current/actions?actionType=PAUSE").status_code == 204
    # restart
    r = server.post("/v1/envs/web/prod/deploys/current/actions?actionType=RESTART")
    assert r.status_code == 201
    d3 = r.json()
    assert d3["type"] == "RESTART" and d3["buildId"] == b2["id"]
    # rollback without target: newest SUCCEEDED deploy (d1)
    r = server.post("/v1/envs/web/prod/deploys/current/actions?actionType=ROLLBACK")
    assert r.status_code == 201, r.text
    d4 = r.json()
    assert d4["type"] == "ROLLBACK" and d4["alias"] == d1["id"] and d4["buildId"] == b1["id"]
    assert server.get("/v1/envs/web/prod").json()["deployType"] == "ROLLBACK"
    # rollback to a deploy of another stage
    c1 = deploy(server, b2["id"], stage="canary")
    assert_error(server.post("/v1/envs/web/prod/deploys/current/actions?actionType=ROLLBACK&toDeployId=" + c1["id"]),
                 400, "toDeployId")
    assert_error(server.post("/v1/envs/web/prod/deploys/current/actions?actionType=ROLLBACK&toDeployId=zzz"), 404)
    # promote canary's deploy into prod
    r = server.post("/v1/envs/web/prod/deploys/current/actions?actionType=PROMOTE&fromDeployId=" + c1["id"])
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["fromDeployId"] == c1["id"] and p["type"] == "REGULAR" and p["buildId"] == b2["id"]
    assert_error(server.post("/v1/envs/web/prod/deploys/current/actions?actionType=PROMOTE&fromDeployId=x"), 404)
    lst = server.get("/v1/deploys?envId=%s" % server.get("/v1/envs/web/prod").json()["id"]).json()
    assert lst["total"] == 5 and lst["truncated"] is False and lst["deployTags"] is None
    assert [d["id"] for d in lst["deploys"]][:1] == [p["id"]]


def test_bad_build_needs_force(server):
    env = make_env(server)
    b = publish(server, commit="aaaaaaa1")
    now = int(time.time() * 1000)
    import json as _json
    db_query(server, "INSERT INTO tags(id, value, targetType, targetId, operator, createdDate, comments, metaInfo) "
             "VALUES('t1','BAD_BUILD','BUILD','web','x',?, 'broken', ?)", (now, _json.dumps(b)))
    db_query(server, "INSERT INTO tags(id, value, targetType, targetId, operator, createdDate, comments, metaInfo) "
             "VALUES('t2','BAD_BUILD','BUILD','web','x',?, 'broken', ?)", (now, _json.dumps(b)))
    later = publish(server, commit="ccccccc3", commitDate=b["commitDate"] + 1000)
    assert_error(server.post("/v1/envs/web/prod/deploys?buildId=" + b["id"]), 409)
    assert_error(server.post("/v1/envs/web/prod/deploys?buildId=" + later["id"]), 409)
    d = deploy(server, b["id"], force="true")
    assert d["buildId"] == b["id"]
    assert '"force":true' in server.get("/v1/envs/web/prod/history").json()[0]["configChange"]
    other_branch = publish(server, commit="ddddddd4", branch="feature", commitDate=b["commitDate"] + 2000)
    deploy(server, other_branch["id"])
    assert server.get("/v1/builds/%s/tags" % later["id"]).json()["tag"]["value"] == "BAD_BUILD"
    assert env["id"]


def test_progress_transition_and_acceptance(server):
    env = make_env(server, acceptanceType="MANUAL")
    b = publish(server)
    d = deploy(server, b["id"])
    add_agent(server, env["id"], "h1", deploy_id=d["id"], stage="SERVING_BUILD", groups=("web-prod",))
    add_agent(server, env["id"], "h2", deploy_id=d["id"], stage="DOWNLOADING", status="UNKNOWN",
              groups=("web-prod",))
    assert server.put("/v1/envs/web/prod/capacity", json=["web-prod"]).status_code == 204
    assert server.put("/v1/envs/web/prod/capacity?capacityType=HOST", json=["never-seen"]).status_code == 204
    p = server.put("/v1/envs/web/prod/deploys/current/progress").json()
    assert sorted(a["hostId"] for a in p["agents"]) == ["h1", "h2"]
    assert p["missingHosts"] == ["never-seen"] and p["removedHosts"] == [] and p["provisioningHosts"] == []
    assert server.get("/v1/envs/web/prod/deploys/current/missing-hosts").json() == ["never-seen"]
    cur = server.get("/v1/deploys/" + d["id"]).json()
    assert cur["state"] == "RUNNING" and cur["successTotal"] == 1 and cur["total"] == 2
    db_query(server, "UPDATE agents SET deployStage='SERVING_BUILD', status='SUCCEEDED' WHERE hostId='h2'")
    server.put("/v1/envs/web/prod/deploys/current/progress")
    cur = server.get("/v1/deploys/" + d["id"]).json()
    assert cur["state"] == "SUCCEEDING" and cur["successDate"] and cur["acceptanceStatus"] == "OUTSTANDING"
    # acceptance
    assert_error(server.put("/v1/deploys/" + d["id"], json={"acceptanceStatus": "PENDING_DEPLOY"}), 400,
                 "acceptanceStatus")
    assert_error(server.put("/v1/deploys/" + d["id"], json={"acceptanceStatus": "NOPE"}), 400, "acceptanceStatus")
    assert_error(server.put("/v1/deploys/nope", json={"acceptanceStatus": "ACCEPTED"}), 404)
    assert server.put("/v1/deploys/" + d["id"], json={"acceptanceStatus": "accepted", "state": "ABORTED",
                                                      "description": "ok"}).status_code == 204
    cur = server.get("/v1/deploys/" + d["id"]).json()
    assert cur["acceptanceStatus"] == "ACCEPTED" and cur["state"] == "SUCCEEDING" and cur["description"] == "ok"
    # paused stages are frozen
    assert server.post("/v1/envs/web/prod/deploys/current/actions?actionType=PAUSE").status_code == 201
    db_query(server, "UPDATE agents SET state='PAUSED_BY_SYSTEM', status='SCRIPT_TIMEOUT' WHERE hostId='h2'")
    server.put("/v1/envs/web/prod/deploys/current/progress")
    assert server.get("/v1/deploys/" + d["id"]).json()["state"] == "SUCCEEDING"
    assert server.post("/v1/envs/web/prod/deploys/current/actions?actionType=RESUME").status_code == 201
    server.put("/v1/envs/web/prod/deploys/current/progress")
    assert server.get("/v1/deploys/" + d["id"]).json()["state"] == "FAILING"


def test_auto_rollback_on_failing(server):
    env = make_env(server, failurePolicy="ROLLBACK")
    good = publish(server, commit="aaaaaaa1")
    bad = publish(server, commit="bbbbbbb2", commitDate=good["commitDate"] + 1)
    d1 = deploy(server, good["id"])
    db_query(server, "UPDATE deploys SET state='SUCCEEDED' WHERE id=?", (d1["id"],))
    d2 = deploy(server, bad["id"])
    add_agent(server, env["id"], "h1", deploy_id=d2["id"], stage="STAGING", state="PAUSED_BY_SYSTEM",
              status="SCRIPT_TIMEOUT")
    server.put("/v1/envs/web/prod/deploys/current/progress")
    cur = server.get("/v1/envs/web/prod/deploys/current").json()
    assert cur["type"] == "ROLLBACK" and cur["alias"] == d1["id"] and cur["buildId"] == good["id"]
    assert cur["operator"] == "system" and d2["id"] in cur["description"]
    failed = server.get("/v1/deploys/" + d2["id"]).json()
    assert failed["state"] == "ABORTED"
    # the outcome says what happened: failed and rolled back, by which deploy
    assert failed["outcome"] == "ROLLED_BACK" and failed["replacedByDeployId"] == cur["id"]
    assert cur["rollbackFromDeployId"] == d2["id"] and cur["outcome"] == "RUNNING"
    listed = {d["id"]: d for d in server.get("/v1/deploys?envId=" + env["id"]).json()["deploys"]}
    assert listed[d2["id"]]["outcome"] == "ROLLED_BACK" and listed[d1["id"]]["outcome"] == "NO_HOSTS"  # d1 counted no host
    assert "replacedState" not in failed and "replacedByType" not in failed
    assert server.get("/v1/builds/%s/tags" % bad["id"]).json()["tag"]["value"] == "BAD_BUILD"
    assert_error(server.post("/v1/envs/web/prod/deploys?buildId=" + bad["id"]), 409)


def test_deploy_outcomes(server):
    env = make_env(server)
    b1 = publish(server, commit="aaaaaaa1")
    b2 = publish(server, commit="bbbbbbb2", commitDate=b1["commitDate"] + 1)

    def get(d):
        return server.get("/v1/deploys/" + d["id"]).json()

    # no host yet: the stage's deploy succeeds at once with 0 hosts
    d1 = deploy(server, b1["id"])
    assert d1["outcome"] == "RUNNING" and d1["replacedByDeployId"] is None and d1["rollbackFromDeployId"] is None
    server.put("/v1/envs/web/prod/deploys/current/progress")
    assert get(d1)["state"] == "SUCCEEDING" and get(d1)["outcome"] == "NO_HOSTS"
    # replaced while running, not failing
    d2 = deploy(server, b2["id"])
    add_agent(server, env["id"], "h1", deploy_id=d2["id"], stage="DOWNLOADING", status="UNKNOWN")
    d3 = deploy(server, b1["id"])
    assert get(d1)["outcome"] == "NO_HOSTS" and get(d1)["replacedByDeployId"] == d2["id"]
    assert get(d2)["outcome"] == "REPLACED" and get(d2)["replacedByDeployId"] == d3["id"]
    # succeeds with a host
    add_agent(server, env["id"], "h1", deploy_id=d3["id"], stage="SERVING_BUILD")
    server.put("/v1/envs/web/prod/deploys/current/progress")
    assert get(d3)["state"] == "SUCCEEDING" and get(d3)["outcome"] == "SUCCEEDED"
    # failing, replaced by a regular deploy: failed (not rolled back)
    d4 = deploy(server, b2["id"])
    add_agent(server, env["id"], "h1", deploy_id=d4["id"], stage="STAGING", state="PAUSED_BY_SYSTEM",
              status="SCRIPT_FAILED")
    server.put("/v1/envs/web/prod/deploys/current/progress")
    assert get(d4)["state"] == "FAILING" and get(d4)["outcome"] == "FAILED"
    d5 = deploy(server, b1["id"])
    assert get(d4)["state"] == "ABORTED" and get(d4)["outcome"] == "FAILED"
    # a succeeded deploy rolled back by hand stays succeeded; the rollback names where it came from
    add_agent(server, env["id"], "h1", deploy_id=d5["id"], stage="SERVING_BUILD")
    server.put("/v1/envs/web/prod/deploys/current/progress")
    r = server.post("/v1/envs/web/prod/deploys/current/actions?actionType=ROLLBACK&toDeployId=" + d3["id"])
    assert r.status_code == 201, r.text
    d6 = r.json()
    assert d6["type"] == "ROLLBACK" and d6["rollbackFromDeployId"] == d5["id"] and d6["outcome"] == "RUNNING"
    assert get(d5)["outcome"] == "SUCCEEDED" and get(d5)["replacedByDeployId"] == d6["id"]
    assert server.get("/v1/envs/web/prod/deploys/current").json()["outcome"] == "RUNNING"


def test_deploy_list_filters(server):
    make_env(server, stage="prod")
    e2 = make_env(server, stage="canary")
    b = publish(server)
    b2 = publish(server, commit="bbbbbbb2", branch="dev", repo="acme/other")
    ids = [deploy(server, b["id"])["id"] for _ in range(3)]
    c = deploy(server, b2["id"], stage="canary")
    all_ = server.get("/v1/deploys").json()
    assert all_["total"] == 4 and [d["id"] for d in all_["deploys"]] == [c["id"]] + ids[::-1]
    r = server.get("/v1/deploys?oldestFirst=True&pageSize=2").json()
    assert [d["id"] for d in r["deploys"]] == ids[:2] and r["truncated"] is True
    assert server.get("/v1/deploys?pageSize=2&pageIndex=2").json()["deploys"][1]["id"] == ids[0]
    assert [d["id"] for d in server.get("/v1/deploys?envId=" + e2["id"]).json()["deploys"]] == [c["id"]]
    assert server.get("/v1/deploys?deployState=aborted").json()["total"] == 2
    assert server.get("/v1/deploys?deployState=ABORTED&deployState=RUNNING").json()["total"] == 4
    assert server.get("/v1/deploys?repo=acme/other").json()["total"] == 1
    assert server.get("/v1/deploys?branch=dev&commit=xyz").json()["total"] == 1
    assert server.get("/v1/deploys?buildId=" + b2["id"]).json()["total"] == 1
    assert server.get("/v1/deploys?operator=nobody").json()["total"] == 0
    assert server.get("/v1/deploys?after=%d" % (int(time.time() * 1000) + 100000)).json()["total"] == 0
    assert_error(server.get("/v1/deploys?deployState=DONE"), 400, "deployState")
    assert_error(server.get("/v1/deploys?before=yesterday"), 400, "before")
    assert_error(server.get("/v1/deploys?oldestFirst=maybe"), 400, "oldestFirst")


def test_agents_and_host_actions(server):
    env = make_env(server)
    b = publish(server)
    d = deploy(server, b["id"])
    add_agent(server, env["id"], "i-1", "web-1", deploy_id=d["id"], holds_slot=1, stage="STAGING",
              status="UNKNOWN")
    add_agent(server, env["id"], "i-2", "web-2", deploy_id=d["id"], status="SCRIPT_FAILED", stage="STAGING")
    agents = server.get("/v1/envs/web/prod/agents").json()
    assert [a["hostName"] for a in agents] == ["web-1", "web-2"]
    assert agents[0]["holdsSlot"] is True and agents[0]["removed"] is False and agents[0]["firstDeploy"] is False
    assert server.get("/v1/agents/web-1").json()[0]["hostId"] == "i-1"
    assert server.get("/v1/agents/id/i-2").json()[0]["hostName"] == "web-2"
    assert server.get("/v1/agents/hostcount").json() == 2
    assert server.get("/v1/agents/env/%s/total" % env["id"]).json() == 2
    assert server.get("/v1/envs/web/prod/agents/count?actionType=SERVING").json() == 0
    assert_error(server.get("/v1/envs/web/prod/agents/count?actionType=X"), 400, "actionType")
    assert_error(server.get("/v1/envs/web/prod/agents/errors/web-1"), 404)
    # host action: pause releases the slot and emits HOST + SLOT events
    r = server.put("/v1/envs/web/prod/deploys/hostactions?actionType=PAUSED_BY_USER", json=["i-1", "unknown"])
    assert r.status_code == 204
    a1 = server.get("/v1/agents/id/i-1").json()[0]
    assert a1["state"] == "PAUSED_BY_USER" and a1["holdsSlot"] is False
    kinds = [k for (k,) in db_query(server, "SELECT kind FROM events WHERE hostId='i-1'")]
    assert "HOST" in kinds and "SLOT" in kinds
    assert_error(server.put("/v1/envs/web/prod/deploys/hostactions?actionType=STOP", json=["i-1"]), 400,
                 "actionType")
    assert_error(server.put("/v1/envs/web/prod/deploys/hostactions?actionType=RESET", json="i-1"), 400)
    # agent PUT
    assert server.put("/v1/envs/web/prod/agents/i-1", json={"state": "NORMAL", "deployStage": "STOPPED"}
                      ).status_code == 204
    a1 = server.get("/v1/agents/id/i-1").json()[0]
    assert a1["state"] == "NORMAL" and a1["deployStage"] == "STAGING"
    assert_error(server.put("/v1/envs/web/prod/agents/i-1", json={"state": "DELETE"}), 400, "state")
    assert_error(server.put("/v1/envs/web/prod/agents/i-9", json={"state": "RESET"}), 404)
    assert server.put("/v1/agents/id/i-2", json={"state": "RESET"}).status_code == 204
    assert server.get("/v1/agents/id/i-2").json()[0]["state"] == "RESET"
    # reset_failed_agents
    db_query(server, "UPDATE agents SET state='PAUSED_BY_SYSTEM', status='SCRIPT_TIMEOUT' WHERE hostId='i-1'")
    assert server.put("/v1/envs/web/prod/agents/reset_failed_agents/" + d["id"]).status_code == 204
    assert server.get("/v1/agents/id/i-1").json()[0]["state"] == "RESET"
    hist = [h["type"] for h in server.get("/v1/envs/web/prod/history").json()]
    assert hist.count("Host Action") >= 3


def test_agent_errors_list_is_bounded(server):
    env = make_env(server)
    d = deploy(server, publish(server)["id"])
    add_agent(server, env["id"], "i-1", "web-1", deploy_id=d["id"], status="TOO_MANY_RETRY", stage="RESTARTING")
    add_agent(server, env["id"], "i-2", "web-2", deploy_id=d["id"], status="SUCCEEDED")
    add_agent(server, env["id"], "i-3", "web-3", deploy_id=d["id"], status="SCRIPT_FAILED", stage="STAGING")
    # a long output tail on web-1 (lines of 100 bytes), an old error on web-2 (which succeeded since), none on web-3
    long_tail = "".join("line %04d %s\n" % (i, "x" * 89) for i in range(60)) + "ERROR: cannot bind :8080"
    for host_id, name, msg in (("i-1", "web-1", long_tail), ("i-2", "web-2", "old failure")):
        db_query(server, "INSERT INTO agent_errors(hostId, hostName, envId, errorMessage) VALUES(?,?,?,?)",
                 (host_id, name, env["id"], msg))
    r = server.get("/v1/envs/web/prod/agents/errors")
    assert r.status_code == 200
    body = r.json()
    assert body["truncated"] is False and body["tailBytes"] == 2048
    assert [e["hostName"] for e in body["errors"]] == ["web-1"]
    e = body["errors"][0]
    assert e["deployId"] == d["id"] and e["deployStage"] == "RESTARTING" and e["status"] == "TOO_MANY_RETRY"
    assert e["errorBytes"] == len(long_tail) and e["errorTruncated"] is True
    assert len(e["errorMessage"]) <= 2048 and e["errorMessage"].startswith("line ")
    assert e["errorMessage"].endswith("ERROR: cannot bind :8080") and long_tail.endswith(e["errorMessage"])
    # the single-host endpoint keeps the whole message
    assert server.get("/v1/envs/web/prod/agents/errors/web-1").json()["errorMessage"] == long_tail
    assert_error(server.get("/v1/envs/web/nostage/agents/errors"), 404)


def test_agents_of_a_deploy(server):
    env = make_env(server)
    d1 = deploy(server, publish(server)["id"])
    add_agent(server, env["id"], "i-1", "web-1", deploy_id=d1["id"], status="TOO_MANY_RETRY", stage="RESTARTING")
    add_agent(server, env["id"], "i-2", "web-2", deploy_id=d1["id"])
    d2 = deploy(server, publish(server, commit="b" * 40)["id"], force="true")
    add_agent(server, env["id"], "i-3", "web-3", deploy_id=d2["id"])
    rows = server.get("/v1/deploys/%s/agents" % d1["id"]).json()
    assert [(a["hostName"], a["status"], a["deployStage"]) for a in rows] == [
        ("web-1", "TOO_MANY_RETRY", "RESTARTING"), ("web-2", "SUCCEEDED", "SERVING_BUILD")]
    assert [a["hostName"] for a in server.get("/v1/deploys/%s/agents" % d2["id"]).json()] == ["web-3"]
    assert_error(server.get("/v1/deploys/nosuchdeploy/agents"), 404)


def test_hosts_and_stop_flow(server):
    env = make_env(server)
    assert server.put("/v1/envs/web/prod/capacity", json=["g1"]).status_code == 204
    add_agent(server, env["id"], "i-1", "web-1", groups=("g1",))
    add_agent(server, env["id"], "i-2", "web-2", groups=("g1", "g2"))
    hosts = server.get("/v1/envs/web/prod/hosts").json()
    assert [h["hostName"] for h in hosts] == ["web-1", "web-2"]
    assert hosts[0]["lastSeen"] and hosts[0]["pendingTerminate"] is False and hosts[0]["canRetire"] == 0
    assert [h["groupName"] for h in server.get("/v1/hosts/web-2").json()] == ["g1", "g2"]
    assert len(server.get("/v1/hosts/id/i-2").json()) == 2
    assert len(server.get("/v1/envs/web/prod/hosts/web-1").json()) == 1
    assert_error(server.delete("/v1/envs/web/prod/hosts", json=["i-1", "i-9"]), 404)
    assert server.get("/v1/agents/id/i-1").json()[0]["state"] == "NORMAL"
    assert server.delete("/v1/envs/web/prod/hosts?replaceHost=false", json=["i-1"]).status_code == 204
    assert server.get("/v1/agents/id/i-1").json()[0]["state"] == "STOP"
    h = server.get("/v1/hosts/id/i-1").json()[0]
    assert h["state"] == "PENDING_TERMINATE_NO_REPLACE" and h["pendingTerminate"] is True
    assert server.delete("/v1/hosts/i-2").status_code == 204
    assert all(h["state"] == "PENDING_TERMINATE" for h in server.get("/v1/hosts/id/i-2").json())
    # registration and update
    assert server.post("/v1/hosts", json={"hostName": "new-1", "hostId": "i-3", "groupName": "g1"}).status_code == 204
    assert server.get("/v1/hosts/new-1").json()[0]["state"] == "PROVISIONED"
    assert_error(server.post("/v1/hosts", json={"hostName": "new-1", "hostId": "i-3"}), 400, "groupName")
    assert server.put("/v1/hosts/i-3", json={"state": "ACTIVE", "ip": "10.0.0.3"}).status_code == 204
    assert server.get("/v1/hosts/id/i-3").json()[0]["ip"] == "10.0.0.3"
    assert_error(server.put("/v1/hosts/i-3", json={"state": "GONE"}), 400, "state")
    assert_error(server.put("/v1/hosts/i-404", json={"ip": "1.2.3.4"}), 404)
    assert server.post("/v1/hosts/active", json=["i-3", "i-1"]).json() == ["i-3"]


@pytest.mark.skipif(dbtarget.is_pg(), reason="builds a version-1 SQLite file by hand; the PostgreSQL variant of the "
                    "migration runs in every PostgreSQL suite")
def test_outcome_links_of_existing_deploys(server_factory):
    """A database of schema version 1 gets the replacement and rollback links from creation order."""
    s = server_factory(name="old")
    schema = os.path.join(os.path.dirname(__file__), "..", "..", "..", "src", "server", "store", "schema")
    con = sqlite3.connect(str(s.db.path))
    with con:
        con.executescript(open(os.path.join(schema, "001_init.sql")).read())
        con.execute("CREATE TABLE IF NOT EXISTS schema_meta(version INTEGER NOT NULL)")
        con.execute("INSERT INTO schema_meta(version) VALUES(1)")
        con.execute("INSERT INTO envs(id, envName, stageName, deployId) VALUES('e1', 'web', 'prod', 'd3')")
        con.execute("INSERT INTO builds(id, name, artifactUrl, \"commit\", commitDate, publishDate) "
                    "VALUES('b1', 'web', 'https://a.example/x.tgz', 'c1', 1, 1)")
        rows = [("d1", "REGULAR", "SUCCEEDED", 0), ("d2", "REGULAR", "ABORTED", 1), ("d3", "ROLLBACK", "RUNNING", 0)]
        for i, (d, t, st, failed) in enumerate(rows):
            con.execute("INSERT INTO deploys(id, envId, buildId, type, state, startDate, lastUpdateDate, total, "
                        "failTotal, acceptanceStatus) VALUES(?, 'e1', 'b1', ?, ?, ?, ?, 1, ?, 'TERMINATED')",
                        (d, t, st, 1000 + i, 1000 + i, failed))
    con.close()
    s.start()
    got = {d["id"]: d for d in s.get("/v1/deploys").json()["deploys"]}
    assert [got[d]["replacedByDeployId"] for d in ("d1", "d2", "d3")] == ["d2", "d3", None]
    assert [got[d]["rollbackFromDeployId"] for d in ("d1", "d2", "d3")] == [None, None, "d2"]
    assert [got[d]["outcome"] for d in ("d1", "d2", "d3")] == ["SUCCEEDED", "ROLLED_BACK", "RUNNING"]
