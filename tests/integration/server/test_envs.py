# SPDX-License-Identifier: Apache-2.0
# slipway-server: env stages, capacity and configuration documents (PROTOCOL §4.3, §4.4, §4.8).
import os
import sys

import requests

sys.path.insert(0, os.path.dirname(__file__))
from srv_support import assert_error, db_query, make_env, publish  # noqa: E402


def test_env_create_defaults_and_get(server):
    e = make_env(server, "web", "prod")
    assert len(e["id"]) == 22
    assert e["description"] == "prod stage for env web"
    assert e["buildName"] == "web" and e["branch"] == "master"
    assert e["maxParallel"] == 1 and e["maxParallelPct"] == 0 and e["successThreshold"] == 10000
    assert e["stuckThreshold"] == 600 and e["stageType"] == "DEFAULT" and e["failurePolicy"] == "HALT"
    assert e["envState"] == "NORMAL" and e["state"] == "NORMAL" and e["deployId"] is None
    assert e["scriptConfigId"] is None and e["signingKey"] is None
    r = server.get("/v1/envs/web/prod")
    assert r.json() == e
    assert server.get("/v1/envs/" + e["id"]).json() == e
    assert server.get("/v1/envs/web/prod/").json() == e
    make_env(server, "web", "canary", stageType="canary", maxParallelPct=20)
    c = server.get("/v1/envs/web/canary").json()
    assert c["stageType"] == "CANARY" and c["maxParallelPct"] == 20 and c["maxParallel"] == 0
    assert [x["stageName"] for x in server.get("/v1/envs?envName=web").json()] == ["canary", "prod"]
    assert [x["stageName"] for x in server.get("/v1/envs?envName=web&stageType=CANARY").json()] == ["canary"]
    assert server.get("/v1/envs/names").json() == ["web"]
    assert server.get("/v1/envs/names?nameFilter=zz").json() == []
    assert e["id"] in server.get("/v1/envs/ids").json()
    assert_error(server.get("/v1/envs?stageType=bogus"), 400, "stageType")


def test_env_create_validation_and_conflicts(server):
    make_env(server, "web", "prod")
    assert_error(server.post("/v1/envs", json={"envName": "web", "stageName": "prod"}), 409)
    assert_error(server.post("/v1/envs", json={"envName": "WEB", "stageName": "other"}), 409)
    assert_error(server.post("/v1/envs", json={"envName": "web", "stageName": "PROD"}), 409)
    for body, field in [({"stageName": "x"}, "envName"), ({"envName": "a b", "stageName": "x"}, "envName"),
                        ({"envName": "a", "stageName": "token_roles"}, "stageName"),
                        ({"envName": "a", "stageName": "x", "stageType": "DEFAULT"}, "stageType"),
                        ({"envName": "a", "stageName": "x", "stageType": "NOPE"}, "stageType"),
                        ({"envName": "a", "stageName": "x", "maxParallel": 10001}, "maxParallel"),
                        ({"envName": "a", "stageName": "x", "priority": "URGENT"}, "priority"),
                        ({"envName": "a", "stageName": "x", "failurePolicy": "PANIC"}, "failurePolicy"),
                        ({"envName": "a", "stageName": "x", "signingKey": "AAAA"}, "signingKey"),
                        ({"envName": "a", "stageName": "x", "chatroom": "bad$room"}, "chatroom")]:
        assert_error(server.post("/v1/envs", json=body), 400, field)
    assert_error(server.post("/v1/envs", data="{"), 400)
    assert server.get("/v1/envs/names").json() == ["web"]


def test_env_update_is_a_patch(server):
    e = make_env(server, "web", "prod", stageType="PRODUCTION", chatroom="#ops")
    assert server.put("/v1/envs/web/prod", json={"maxParallel": 5, "description": "<b>x</b>",
                                                 "envState": "PAUSED", "envName": "other"}).status_code == 204
    u = server.get("/v1/envs/web/prod").json()
    assert u["maxParallel"] == 5 and u["maxParallelPct"] == 0
    assert u["description"] == "&lt;b&gt;x&lt;/b&gt;"
    assert u["envState"] == "NORMAL" and u["envName"] == "web" and u["chatroom"] == "#ops"
    assert server.put("/v1/envs/web/prod", json={"chatroom": ""}).status_code == 204
    assert server.get("/v1/envs/web/prod").json()["chatroom"] is None
    assert_error(server.put("/v1/envs/web/prod", json={"stageType": "DEV"}), 400, "stageType")
    assert_error(server.put("/v1/envs/web/prod", json={"successThreshold": -1}), 400, "successThreshold")
    assert_error(server.put("/v1/envs/web/prod", data="[1,"), 400)
    assert_error(server.put("/v1/envs/web/nope", json={"maxParallel": 2}), 404)
    after = server.get("/v1/envs/web/prod").json()
    assert after["maxParallel"] == 5 and after["stageType"] == "PRODUCTION"
    hist = server.get("/v1/envs/web/prod/history").json()
    assert len(hist) == 3 and all(h["id"] == e["id"] for h in hist)
    assert hist[0]["type"] == "Env General Config"


def test_env_scoped_permissions_need_env_scope(server):
    # anonymous (PUBLISHER) cannot change a stage
    make_env(server, "web", "prod")
    r = requests.put(server.url + "/v1/envs/web/prod", json={"maxParallel": 3})
    assert_error(r, 403)
    assert server.get("/v1/envs/web/prod").json()["maxParallel"] == 1


def test_env_delete(server):
    make_env(server, "web", "prod")
    assert server.put("/v1/envs/web/prod/capacity?capacityType=HOST", json=["h1"]).status_code == 204
    assert_error(server.delete("/v1/envs/web/prod"), 409)
    assert server.put("/v1/envs/web/prod/capacity?capacityType=HOST", json=[]).status_code == 204
    assert server.put("/v1/envs/web/prod/script_configs", json={"A": "1"}).status_code == 204
    assert server.delete("/v1/envs/web/prod").status_code == 204
    assert_error(server.get("/v1/envs/web/prod"), 404)
    assert_error(server.delete("/v1/envs/web/prod"), 404)
    make_env(server, "web", "prod")
    assert server.get("/v1/envs/web/prod/script_configs").json() == {}
    assert len(server.get("/v1/envs/web/prod/history").json()) == 1


def test_capacity(server):
    make_env(server, "web", "prod")
    base = "/v1/envs/web/prod/capacity"
    assert server.get(base).json() == []
    assert server.put(base, json=["web-prod", "web-canary"]).status_code == 204
    assert server.get(base).json() == ["web-canary", "web-prod"]
    assert server.get(base + "?capacityType=group").json() == ["web-canary", "web-prod"]
    assert server.post(base + "?capacityType=HOST", data='"host-1"').status_code == 204
    assert server.post(base + "?capacityType=HOST", data='host-2').status_code == 204
    assert server.post(base + "?capacityType=HOST", data='host-2').status_code == 204
    assert server.get(base + "?capacityType=HOST").json() == ["host-1", "host-2"]
    assert server.delete(base + "?capacityType=HOST", data='"host-1"').status_code == 204
    assert server.delete(base + "?capacityType=HOST", data='"host-1"').status_code == 204
    assert server.get(base + "?capacityType=HOST").json() == ["host-2"]
    assert_error(server.put(base, json=["NULL"]), 400)
    assert_error(server.put(base, json=["ok", 5]), 400, "[1]")
    assert_error(server.put(base, json={"a": 1}), 400)
    assert_error(server.put(base + "?capacityType=RACK", json=[]), 400, "capacityType")
    assert_error(server.post(base + "?capacityType=HOST", data='"bad host"'), 400)
    assert_error(server.get("/v1/envs/web/none/capacity"), 404)
    assert server.get(base).json() == ["web-canary", "web-prod"]
    hist = server.get("/v1/envs/web/prod/history").json()
    types = [h["type"] for h in hist]
    assert "Env Group Capacity Config" in types and "Env Host Capacity Config" in types
    # the env list by group
    assert [e["stageName"] for e in server.get("/v1/envs?groupName=web-prod").json()] == ["prod"]


def test_configs(server):
    make_env(server, "web", "prod")
    for kind, empty in [("script_configs", {}), ("agent_configs", {}), ("metrics", []), ("alarms", [])]:
        assert server.get("/v1/envs/web/prod/" + kind).json() == empty
    assert server.put("/v1/envs/web/prod/script_configs", json={"PORT": "8080", "X": ""}).status_code == 204
    assert server.get("/v1/envs/web/prod/script_configs").json() == {"PORT": "8080", "X": ""}
    assert server.put("/v1/envs/web/prod/script_configs", json={"ONLY": "1"}).status_code == 204
    assert server.get("/v1/envs/web/prod/script_configs").json() == {"ONLY": "1"}
    assert server.put("/v1/envs/web/prod/agent_configs", json={"process_timeout": " 900 "}).status_code == 204
    assert server.get("/v1/envs/web/prod/agent_configs").json() == {"process_timeout": "900"}
    m = [{"title": "cpu", "url": "http://m/x", "specs": [{"min": 0, "max": 1, "color": "red"}]}]
    assert server.put("/v1/envs/web/prod/metrics", json=m).status_code == 204
    assert server.get("/v1/envs/web/prod/metrics").json() == m
    e = server.get("/v1/envs/web/prod").json()
    assert e["scriptConfigId"] and e["advancedConfigId"] and e["metricsConfigId"] and e["alarmConfigId"] is None
    assert_error(server.put("/v1/envs/web/prod/script_configs", json={"A": 1}), 400, "A")
    assert_error(server.put("/v1/envs/web/prod/script_configs", json={"A=B": "1"}), 400, "A=B")
    assert_error(server.put("/v1/envs/web/prod/script_configs", json=["x"]), 400)
    assert_error(server.put("/v1/envs/web/prod/script_configs", json={"k%d" % i: "v" for i in range(501)}), 400)
    assert_error(server.put("/v1/envs/web/prod/metrics", json={"a": 1}), 400)
    assert_error(server.put("/v1/envs/web/prod/alarms", data="nope"), 400)
    assert_error(server.get("/v1/envs/web/nope/script_configs"), 404)
    assert server.get("/v1/envs/web/prod/script_configs").json() == {"ONLY": "1"}
    types = [h["type"] for h in server.get("/v1/envs/web/prod/history").json()]
    assert "Env Script Config" in types and "Env Advanced Config" in types and "Env Metrics Config" in types


def test_failure_policy_continue_releases_parked_slots(server):
    e = make_env(server)
    for host, state in [("h1", "PAUSED_BY_SYSTEM"), ("h2", "NORMAL")]:
        db_query(server, "INSERT INTO agents(hostId, hostName, envId, deployId, deployStage, state, status, "
                 "startDate, lastUpdateDate, holdsSlot) VALUES(?,?,?,'d1','STAGING',?,'SCRIPT_TIMEOUT',1,1,1)",
                 (host, host, e["id"], state))
    assert_error(server.put("/v1/envs/web/prod", json={"failurePolicy": "GIVE_UP"}), 400, "failurePolicy")
    assert server.put("/v1/envs/web/prod", json={"failurePolicy": "continue"}).status_code == 204
    rows = dict(db_query(server, "SELECT hostId, holdsSlot FROM agents"))
    slots = db_query(server, "SELECT count(*) FROM events WHERE kind='SLOT' AND envId=?", (e["id"],))[0][0]
    assert rows == {"h1": 0, "h2": 1} and slots >= 1
    assert server.get("/v1/envs/web/prod").json()["failurePolicy"] == "CONTINUE"


def test_clone_copies_every_per_stage_config_and_never_deploys(server):
    src = make_env(server, stage="prod", maxParallel=3, failurePolicy="ROLLBACK", chatroom="#web",
                   emailRecipients="ops@example.com", buildName="web")
    base = "/v1/envs/web/prod"
    assert server.put(base + "/capacity", json=["web-prod"]).status_code == 204
    assert server.put(base + "/capacity?capacityType=HOST", json=["web-1"]).status_code == 204
    assert server.put(base + "/script_configs", json={"PORT": "8080"}).status_code == 204
    assert server.put(base + "/agent_configs", json={"process_timeout": "900"}).status_code == 204
    assert server.put(base + "/metrics", json=[{"title": "cpu", "url": "https://m.example/cpu"}]).status_code == 204
    assert server.put(base + "/alarms", json=[{"name": "5xx", "alarmUrl": "https://a.example/5xx"}]).status_code == 204
    hooks = {"preDeployHooks": [{"method": "POST", "url": "https://hooks.example/pre"}], "postDeployHooks": []}
    assert server.put(base + "/web_hooks", json=hooks).status_code == 204
    analysis = {"queries": [{"name": "errors", "query": "sum(rate(e[5m]))", "min": None, "max": 1}]}
    assert server.put(base + "/analysis", json=analysis).status_code == 204
    make_env(server, stage="canary")
    b = publish(server)
    assert server.post(base + "/deploys?buildId=" + b["id"]).status_code == 201
    assert server.put(base + "/promotes", json={"type": "AUTO", "predStage": "canary", "delay": 5}).status_code == 204
    assert server.put("/v1/schedules/web/prod/schedules", json={"totalSessions": 2, "hostNumbers": "1,2",
                                                                "cooldownTimes": "1,1"}).status_code in (200, 201, 204)
    r = server.post(base + "/clone", json={"envName": "web", "stageName": "prod2"})
    assert r.status_code == 201, r.text
    new = r.json()
    assert r.headers["Location"].endswith("/v1/envs/web/prod2")
    assert new["id"] != src["id"] and new["stageName"] == "prod2" and new["deployId"] is None
    for k in ("maxParallel", "failurePolicy", "chatroom", "emailRecipients", "buildName"):
        assert new[k] == src[k] or new[k] == server.get(base).json()[k], k
    c = "/v1/envs/web/prod2"
    assert server.get(c + "/capacity").json() == ["web-prod"]
    assert server.get(c + "/capacity?capacityType=HOST").json() == ["web-1"]
    assert server.get(c + "/script_configs").json() == {"PORT": "8080"}
    assert server.get(c + "/agent_configs").json() == {"process_timeout": "900"}
    assert server.get(c + "/metrics").json() == server.get(base + "/metrics").json()
    assert server.get(c + "/alarms").json() == server.get(base + "/alarms").json()
    assert server.get(c + "/web_hooks").json()["preDeployHooks"][0]["url"] == "https://hooks.example/pre"
    assert server.get(c + "/analysis").json() == server.get(base + "/analysis").json()
    assert server.get(c + "/analysis").json()["queries"][0]["name"] == "errors"
    p = server.get(c + "/promotes").json()
    assert p["type"] == "MANUAL" and p["predStage"] == "canary" and p["delay"] == 5  # never promotes by itself
    assert server.get(c + "/deploys/current").status_code == 404  # never deploys
    assert server.get("/v1/deploys?envId=" + new["id"]).json()["total"] == 0
    assert any("clonedFromStage" in (h["configChange"] or "") for h in server.get(c + "/history").json())
    # the source is untouched
    assert server.get(base + "/promotes").json()["type"] == "AUTO"

    # a new env, without capacity
    r = server.post(base + "/clone", json={"envName": "api", "stageName": "prod", "capacity": False})
    assert r.status_code == 201, r.text
    assert server.get("/v1/envs/api/prod/capacity").json() == []
    assert server.get("/v1/envs/api/prod/script_configs").json() == {"PORT": "8080"}


def test_clone_refusals_change_nothing(server):
    make_env(server, stage="prod")
    make_env(server, stage="canary")
    base = "/v1/envs/web/prod"
    n = len(server.get("/v1/envs").json())
    assert_error(server.post(base + "/clone", json={"envName": "web", "stageName": "canary"}), 409, "stageName")
    assert_error(server.post(base + "/clone", json={"envName": "web", "stageName": "CANARY"}), 409, "stageName")
    assert_error(server.post(base + "/clone", json={"envName": "web"}), 400, "stageName")
    assert_error(server.post(base + "/clone", json={"envName": "bad name", "stageName": "x"}), 400, "envName")
    assert_error(server.post(base + "/clone", json={"envName": "web", "stageName": "x", "capacity": "no"}), 400,
                 "capacity")
    assert_error(server.post("/v1/envs/web/nope/clone", json={"envName": "web", "stageName": "x"}), 404)
    assert len(server.get("/v1/envs").json()) == n
