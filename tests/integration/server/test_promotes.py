# SPDX-License-Identifier: Apache-2.0
# slipway-server promote configuration and deploy schedules (PROTOCOL §4.9).
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from srv_support import add_agent, assert_error, db_query, make_env, publish  # noqa: E402


def test_promote_config(server):
    env = make_env(server, stage="canary")
    make_env(server, stage="prod")
    d = server.get("/v1/envs/web/prod/promotes").json()
    assert d["type"] == "MANUAL" and d["predStage"] is None and d["queueSize"] == 1 and d["delay"] == 0
    assert d["disablePolicy"] == "AUTO" and d["failPolicy"] == "CONTINUE" and d["schedule"] is None
    for body, field in [({"predStage": "nope"}, "predStage"),
                        ({"predStage": "prod"}, "predStage"), ({"queueSize": 11}, "queueSize"),
                        ({"delay": -1}, "delay"), ({"schedule": "0 0 12 L * ?"}, "schedule"),
                        ({"schedule": "* * * * *"}, "schedule"), ({"failPolicy": "PANIC"}, "failPolicy"),
                        ({"type": "SOMETIMES"}, "type")]:
        assert_error(server.put("/v1/envs/web/prod/promotes", json=body), 400, field)
    assert server.get("/v1/envs/web/prod/promotes").json()["lastUpdate"] is None
    assert server.put("/v1/envs/web/prod/promotes", json={"type": "auto", "predStage": "canary",
                                                          "schedule": "0 0/30 * ? * MON-FRI", "delay": 5}
                      ).status_code == 204
    p = server.get("/v1/envs/web/prod/promotes").json()
    assert p["type"] == "AUTO" and p["predStage"] == "canary" and p["delay"] == 5 and p["queueSize"] == 1
    assert p["lastOperator"] == "bootstrap-admin" and p["schedule"] == "0 0/30 * ? * MON-FRI"
    assert server.put("/v1/envs/web/prod/promotes", json={"schedule": "", "queueSize": 3}).status_code == 204
    p = server.get("/v1/envs/web/prod/promotes").json()
    assert p["schedule"] is None and p["queueSize"] == 3 and p["type"] == "AUTO"
    # a manual deploy disables auto-promote (disablePolicy AUTO) and records it
    b = publish(server)
    assert server.post("/v1/envs/web/prod/deploys?buildId=" + b["id"]).status_code == 201
    assert server.get("/v1/envs/web/prod/promotes").json()["type"] == "MANUAL"
    types = [h["type"] for h in server.get("/v1/envs/web/prod/history").json()]
    assert types.count("Env Promote Config") >= 3
    assert env["id"]


def test_schedules_and_override(server):
    env = make_env(server)
    base = "/v1/schedules/web/prod"
    assert_error(server.put(base + "/schedules", json={"totalSessions": 2, "hostNumbers": "1",
                                                       "cooldownTimes": "1,2"}), 400, "hostNumbers")
    assert_error(server.put(base + "/schedules", json={"totalSessions": 2, "hostNumbers": "1,101%",
                                                       "cooldownTimes": "1,2"}), 400, "hostNumbers")
    assert_error(server.put(base + "/schedules", json={"totalSessions": 2, "hostNumbers": "1,50%",
                                                       "cooldownTimes": "1,x"}), 400, "cooldownTimes")
    assert_error(server.put(base + "/schedules", json={"hostNumbers": "1"}), 400, "totalSessions")
    r = server.put(base + "/schedules", json={"totalSessions": 2, "hostNumbers": "1,50%", "cooldownTimes": "-1,0"})
    assert r.status_code == 200, r.text
    sch = r.json()
    assert set(sch) == {"id", "totalSessions", "cooldownTimes", "hostNumbers", "currentSession", "state",
                        "stateStartTime"}
    assert sch["state"] == "NOT_STARTED" and sch["currentSession"] == 0
    assert server.get(base + "/" + sch["id"]).json() == sch
    assert server.get("/v1/envs/web/prod").json()["scheduleId"] == sch["id"]
    assert_error(server.get(base + "/nope"), 404)
    assert_error(server.put(base + "/override?sessionNumber=1"), 409)
    # a REGULAR deploy starts session 1; the transition moves it to COOLING_DOWN after 1 host
    b = publish(server)
    d = server.post("/v1/envs/web/prod/deploys?buildId=" + b["id"]).json()
    s1 = server.get(base + "/" + sch["id"]).json()
    assert s1["state"] == "RUNNING" and s1["currentSession"] == 1
    add_agent(server, env["id"], "h1", deploy_id=d["id"])
    add_agent(server, env["id"], "h2", deploy_id="old", stage="SERVING_BUILD")
    server.put("/v1/envs/web/prod/deploys/current/progress")
    s2 = server.get(base + "/" + sch["id"]).json()
    assert s2["state"] == "COOLING_DOWN" and s2["currentSession"] == 1
    # cooldown -1 waits for the override
    server.put("/v1/envs/web/prod/deploys/current/progress")
    assert server.get(base + "/" + sch["id"]).json()["state"] == "COOLING_DOWN"
    assert_error(server.put(base + "/override?sessionNumber=2"), 409)
    assert_error(server.put(base + "/override"), 400, "sessionNumber")
    assert server.put(base + "/override?sessionNumber=1").status_code == 204
    s3 = server.get(base + "/" + sch["id"]).json()
    assert s3["state"] == "RUNNING" and s3["currentSession"] == 2
    assert db_query(server, "SELECT count(*) FROM events WHERE kind='ENV' AND envId=?", (env["id"],))[0][0] >= 4
    # totalSessions 0 deletes
    assert server.put(base + "/schedules", json={"totalSessions": 0}).status_code == 204
    assert_error(server.get(base + "/" + sch["id"]), 404)
    assert server.get("/v1/envs/web/prod").json()["scheduleId"] is None
