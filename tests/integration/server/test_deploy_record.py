# SPDX-License-Identifier: Apache-2.0
# slipway-server: what a deploy ran with (GET /v1/deploys/{id}/config, the stage's config snapshot taken at the
# deploy's creation) and the per-host results of a replaced deploy (GET /v1/deploys/{id}/agents after its hosts
# moved on), kept until retention deletes the deploy.
import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from srv_support import add_agent, assert_error, db_query, make_env, publish, wait_for  # noqa: E402


def deploy(server, build_id, **params):
    q = "".join("&%s=%s" % kv for kv in params.items())
    r = server.post("/v1/envs/web/prod/deploys?buildId=%s%s" % (build_id, q))
    assert r.status_code == 201, r.text
    return r.json()


def reader_token(server):
    token = "tok-reader"
    db_query(server, "INSERT INTO tokens(id, name, resource, type, role, expireDate, tokenHash, createDate) "
             "VALUES(?,?,?,?,?,?,?,?)", ("reader", "reader", "*", "SYSTEM", "READER", None,
                                         hashlib.sha256(token.encode()).hexdigest(), 1))
    return token


def test_deploy_config_is_the_config_at_creation(server):
    make_env(server, maxParallel=3, failurePolicy="ROLLBACK")
    base = "/v1/envs/web/prod"
    assert server.put(base + "/script_configs", json={"PORT": "8080", "DB_PASSWORD": "s3cret"}).status_code == 204
    assert server.put(base + "/agent_configs", json={"process_timeout": "900"}).status_code == 204
    assert server.post(base + "/deploy_constraint", json={"constraintKey": "availabilityZone", "maxParallel": 2,
                                                          "constraintType": "GROUP_BY_GROUP",
                                                          "constraintOrder": ["us-east-1c"]}).status_code == 200
    d1 = deploy(server, publish(server, commit="aaaaaaa1")["id"])
    # the stage changes after d1 started: d1's snapshot keeps what it ran with, d2 gets the new config
    assert server.put(base + "/script_configs", json={"PORT": "9090"}).status_code == 204
    assert server.put(base, json={"maxParallel": 7}).status_code == 204
    assert server.delete(base + "/deploy_constraint").status_code == 204
    d2 = deploy(server, publish(server, commit="bbbbbbb2")["id"])

    c1 = server.get("/v1/deploys/%s/config" % d1["id"]).json()
    assert c1["deployId"] == d1["id"] and c1["envId"] == d1["envId"] and c1["configHidden"] is False
    assert c1["scriptConfigs"] == {"PORT": "8080", "DB_PASSWORD": "s3cret"}
    assert c1["agentConfigs"] == {"process_timeout": "900"}
    assert c1["rollout"]["maxParallel"] == 3 and c1["rollout"]["failurePolicy"] == "ROLLBACK"
    assert c1["constraint"] == {"constraintKey": "availabilityZone", "maxParallel": 2,
                                "constraintType": "GROUP_BY_GROUP", "constraintOrder": ["us-east-1c"]}
    assert c1["schedule"] is None
    c2 = server.get("/v1/deploys/%s/config" % d2["id"]).json()
    assert c2["scriptConfigs"] == {"PORT": "9090"} and c2["rollout"]["maxParallel"] == 7
    assert c2["constraint"] is None

    # secrets: below OPERATOR the script and agent configs are hidden, as the config history hides them
    r = server.get("/v1/deploys/%s/config" % d1["id"], token=reader_token(server)).json()
    assert r["configHidden"] is True and r["scriptConfigs"] is None and r["agentConfigs"] is None
    assert r["rollout"]["maxParallel"] == 3

    assert_error(server.get("/v1/deploys/nosuchdeploy/config"), 404)
    # a deploy created before snapshots were kept has none
    db_query(server, "DELETE FROM deploy_configs WHERE deployId=?", (d1["id"],))
    assert_error(server.get("/v1/deploys/%s/config" % d1["id"]), 404)


def test_host_results_of_a_replaced_deploy(server):
    env = make_env(server)
    d1 = deploy(server, publish(server, commit="aaaaaaa1")["id"])
    add_agent(server, env["id"], "i-1", "web-1", deploy_id=d1["id"], status="TOO_MANY_RETRY", stage="RESTARTING",
              state="PAUSED_BY_SYSTEM")
    add_agent(server, env["id"], "i-2", "web-2", deploy_id=d1["id"])
    db_query(server, "UPDATE agents SET lastErrno=3, failCount=4 WHERE hostId='i-1'")
    tail = "".join("line %04d\n" % i for i in range(200)) + "ERROR: cannot bind :8080"
    db_query(server, "INSERT INTO agent_errors(hostId, hostName, envId, errorMessage) VALUES(?,?,?,?)",
             ("i-1", "web-1", env["id"], tail))
    d2 = deploy(server, publish(server, commit="bbbbbbb2")["id"])
    # both hosts move on to d2 (the ping path rewrites their rows): d1's results stay
    add_agent(server, env["id"], "i-1", "web-1", deploy_id=d2["id"])
    add_agent(server, env["id"], "i-2", "web-2", deploy_id=d2["id"], stage="DOWNLOADING", status="UNKNOWN")
    db_query(server, "DELETE FROM agent_errors")

    rows = server.get("/v1/deploys/%s/agents" % d1["id"]).json()
    assert [(a["hostName"], a["status"], a["deployStage"], a["state"]) for a in rows] == [
        ("web-1", "TOO_MANY_RETRY", "RESTARTING", "PAUSED_BY_SYSTEM"), ("web-2", "SUCCEEDED", "SERVING_BUILD", "NORMAL")]
    assert all(a["deployId"] == d1["id"] and a["recordDate"] >= d1["startDate"] for a in rows)
    assert rows[0]["lastErrno"] == 3 and rows[0]["failCount"] == 4
    assert rows[0]["errorMessage"].endswith("ERROR: cannot bind :8080") and tail.endswith(rows[0]["errorMessage"])
    assert len(rows[0]["errorMessage"]) == 1024 and rows[1]["errorMessage"] is None
    # the current deploy still lists its live rows
    assert [(a["hostName"], a["deployStage"]) for a in server.get("/v1/deploys/%s/agents" % d2["id"]).json()] == [
        ("web-1", "SERVING_BUILD"), ("web-2", "DOWNLOADING")]
    # d2 replaced by d3: what d2's hosts had then is recorded, d1's results are unchanged
    d3 = deploy(server, publish(server, commit="ccccccc3")["id"])
    assert [a["deployStage"] for a in server.get("/v1/deploys/%s/agents" % d2["id"]).json()] == [
        "SERVING_BUILD", "DOWNLOADING"]
    assert server.get("/v1/deploys/%s/agents" % d1["id"]).json() == rows
    assert server.get("/v1/deploys/%s/agents" % d3["id"]).json() == []


def test_deploy_records_go_with_their_deploy(server_factory):
    s = server_factory(["--set", "retention_period=1", "transition_period=3600", "janitor_period=3600"]).start()
    env = make_env(s, maxDeployNum=1, maxDeployDay=1)
    b = publish(s)
    ids = []
    for i in range(3):
        ids.append(s.post("/v1/envs/web/prod/deploys?buildId=" + b["id"]).json()["id"])
        add_agent(s, env["id"], "i-1", "web-1", deploy_id=ids[-1])
    old = int(time.time() * 1000) - 3 * 86400 * 1000
    db_query(s, "UPDATE deploys SET lastUpdateDate=?", (old,))

    def kept(table):
        return {d for (d,) in db_query(s, "SELECT deployId FROM %s" % table)}

    wait_for(lambda: {d for (d,) in db_query(s, "SELECT id FROM deploys")} == {ids[2]})
    wait_for(lambda: kept("deploy_configs") == {ids[2]} and kept("deploy_host_results") == set())
