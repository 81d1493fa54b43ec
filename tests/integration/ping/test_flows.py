# SPDX-License-Identifier: Apache-2.0
# Special flows through the ping path (§5.9, §4.6): rollback to an earlier deploy, restart, stage
# pause/resume, host pause/reset, reset_failed_agents, removal from capacity, the idle ping's write
# budget, and the upstream Python agent's ping shape.
import re

from ping_support import Host, converge, deploying, ping_round, wait_for


def fleet(server, n=4, **fields):
    e = server.make_env("web", "prod", **fields)
    server.set_groups("web", "prod", ["g"])
    hosts = [Host(server, "h%d" % i, groups=["g"]) for i in range(n)]
    return e, hosts


def deploy_all(server, e, hosts, commit):
    d = server.deploy("web", "prod", server.publish(commit=commit)["id"])
    assert converge(hosts, e["id"], d["id"], max_rounds=120)
    server.progress("web", "prod")
    return d


def metric(server, name):
    text = server.req("GET", "/metrics").text
    m = re.search(r"^%s (\d+)" % re.escape(name), text, re.M)
    return int(m.group(1)) if m else None


def test_rollback_to_earlier_deploy_needs_no_work(server):
    e, hosts = fleet(server, 4, maxParallel=4)
    d1 = deploy_all(server, e, hosts, "1111111aaaa")
    d2 = server.deploy("web", "prod", server.publish(commit="2222222bbbb")["id"])
    # only h0 and h1 take the new deploy (h2, h3 do not ping)
    for _ in range(12):
        ping_round(hosts[:2])
    assert all(h.stage_of(e["id"])[0] == d2["id"] for h in hosts[:2])
    rb = server.action("web", "prod", "ROLLBACK", toDeployId=d1["id"])
    assert rb["type"] == "ROLLBACK" and rb["alias"] == d1["id"]
    # hosts still on D1: idle at once (alias swap), row stored under the rollback's id
    for h in hosts[2:]:
        assert h.ping()["opCode"] == "NOOP"
    a = server.agents_by_host("web", "prod")
    assert a["h2"]["deployId"] == rb["id"] and a["h2"]["deployStage"] == "SERVING_BUILD"
    # hosts on D2 redeploy D1's build with opCode ROLLBACK
    r = hosts[0].ping()
    assert r["opCode"] == "ROLLBACK" and r["deployGoal"]["deployStage"] == "PRE_DOWNLOAD"
    assert r["deployGoal"]["deployId"] == rb["id"] and r["deployGoal"]["deployAlias"] is None
    assert converge(hosts[:2], e["id"], rb["id"])
    # swapped hosts keep the id they know and never get work
    assert all(h.ping()["opCode"] == "NOOP" and h.stage_of(e["id"])[0] == d1["id"] for h in hosts[2:])
    a = server.agents_by_host("web", "prod")
    assert all(x["deployId"] == rb["id"] and x["deployStage"] == "SERVING_BUILD" for x in a.values())
    server.progress("web", "prod")
    assert server.current("web", "prod")["state"] in ("SUCCEEDING", "SUCCEEDED")


def test_restart_walks_all_stages_under_admission(server):
    e, hosts = fleet(server, 4, maxParallel=2)
    d1 = deploy_all(server, e, hosts, "1111111aaaa")
    rs = server.action("web", "prod", "RESTART")
    assert rs["type"] == "RESTART" and rs["buildId"] == d1["buildId"]
    peak = [0]

    def watch(hs):
        peak[0] = max(peak[0], deploying(hs, e["id"], rs["id"]))
        assert peak[0] <= 2
    assert converge(hosts, e["id"], rs["id"], watch=watch)
    assert peak[0] == 2
    assert all(g["opCode"] == "RESTART" for h in hosts for g in h.goals if g["deployGoal"]["deployId"] == rs["id"])


def test_pause_and_resume_stage(server):
    e, hosts = fleet(server, 3, maxParallel=3)
    deploy_all(server, e, hosts, "1111111aaaa")
    d2 = server.deploy("web", "prod", server.publish(commit="2222222bbbb")["id"])
    server.action("web", "prod", "PAUSE")
    assert server.ok("GET", "/v1/envs/web/prod")["envState"] == "PAUSED"
    assert all(r["opCode"] == "NOOP" for r in ping_round(hosts))
    # a brand-new host still gets its first deploy while the stage is paused
    newbie = Host(server, "new1", groups=["g"])
    r = newbie.ping()
    assert r["opCode"] == "DEPLOY" and r["deployGoal"]["firstDeploy"] is True
    server.action("web", "prod", "RESUME")
    assert converge(hosts + [newbie], e["id"], d2["id"])


def test_host_pause_and_reset(server):
    e, hosts = fleet(server, 2, maxParallel=2)
    d1 = deploy_all(server, e, hosts, "1111111aaaa")
    server.ok("PUT", "/v1/envs/web/prod/deploys/hostactions", params={"actionType": "PAUSED_BY_USER"}, json=["h0"])
    d2 = server.deploy("web", "prod", server.publish(commit="2222222bbbb")["id"])
    for _ in range(12):
        assert hosts[0].ping()["opCode"] == "NOOP"
        hosts[1].ping()
    a = server.agents_by_host("web", "prod")
    assert a["h0"]["state"] == "PAUSED_BY_USER" and a["h0"]["deployId"] == d1["id"]
    assert a["h1"]["deployId"] == d2["id"] and a["h1"]["deployStage"] == "SERVING_BUILD"
    # RESET: the host restarts the current deploy from PRE_DOWNLOAD
    server.ok("PUT", "/v1/envs/web/prod/agents/h0", json={"state": "RESET"})
    r = hosts[0].ping()
    assert r["opCode"] == "DEPLOY" and r["deployGoal"]["deployStage"] == "PRE_DOWNLOAD"
    assert converge(hosts, e["id"], d2["id"])
    # RESET of a host already serving the current deploy restarts it too
    server.ok("PUT", "/v1/envs/web/prod/deploys/hostactions", params={"actionType": "RESET"}, json=["h1"])
    r = hosts[1].ping()
    assert r["opCode"] == "DEPLOY" and r["deployGoal"]["deployStage"] == "PRE_DOWNLOAD"
    assert r["deployGoal"]["deployId"] == d2["id"]


def test_reset_failed_agents(server):
    e, hosts = fleet(server, 3, maxParallel=3, failurePolicy="CONTINUE")
    deploy_all(server, e, hosts, "1111111aaaa")
    hosts[1].fail[(None, "STAGING")] = "TOO_MANY_RETRY"
    d2 = server.deploy("web", "prod", server.publish(commit="2222222bbbb")["id"])
    for _ in range(15):
        ping_round(hosts)
    a = server.agents_by_host("web", "prod")
    assert a["h1"]["state"] == "PAUSED_BY_SYSTEM" and a["h1"]["status"] == "TOO_MANY_RETRY"
    assert hosts[1].ping()["opCode"] == "NOOP"  # parked
    hosts[1].fail.clear()
    server.ok("PUT", "/v1/envs/web/prod/agents/reset_failed_agents/%s" % d2["id"])
    assert server.agents_by_host("web", "prod")["h1"]["state"] == "RESET"
    assert converge(hosts, e["id"], d2["id"])
    a = server.agents_by_host("web", "prod")
    assert a["h1"]["state"] == "NORMAL" and a["h1"]["deployStage"] == "SERVING_BUILD"


def test_host_removed_from_capacity_gets_delete(server):
    e, hosts = fleet(server, 2, maxParallel=2)
    d1 = deploy_all(server, e, hosts, "1111111aaaa")
    hosts[1].groups = ["other"]
    r = hosts[1].ping()
    assert r["opCode"] == "DELETE"
    g = r["deployGoal"]
    assert g["envId"] == e["id"] and g["deployId"] == d1["id"] and g["deployStage"] == "SERVING_BUILD"
    assert g["envName"] == "web" and g["stageName"] == "prod" and g["firstDeploy"] is False
    assert g["build"] is None and g["scriptVariables"] is None
    assert server.agents_by_host("web", "prod")["h1"]["state"] == "DELETE"
    # the agent forgot the env: the next ping deletes the row
    assert hosts[1].ping()["opCode"] == "NOOP"
    assert "h1" not in server.agents_by_host("web", "prod")
    assert "h0" in server.agents_by_host("web", "prod")
    # the stage can now lose its capacity and be deleted once h0 leaves too
    server.set_groups("web", "prod", [])
    assert hosts[0].ping()["opCode"] == "DELETE"
    assert hosts[0].ping()["opCode"] == "NOOP"
    assert server.agents("web", "prod") == []
    server.ok("DELETE", "/v1/envs/web/prod")


def test_host_capacity_and_goal_attachments(server):
    e = server.make_env("web", "prod")
    server.set_hosts("web", "prod", ["solo"])
    server.ok("PUT", "/v1/envs/web/prod/script_configs", json={"PORT": "8080"})
    server.ok("PUT", "/v1/envs/web/prod/agent_configs",
              json={"process_timeout": "900", "STAGING.process_timeout": "60", "DOWNLOADING.x": "1"})
    h = Host(server, "i-solo", host_name="solo")
    d = server.deploy("web", "prod", server.publish()["id"])
    goals = {}
    for _ in range(10):
        r = h.ping()
        if r["opCode"] != "NOOP":
            goals[r["deployGoal"]["deployStage"]] = r["deployGoal"]
    assert goals["PRE_DOWNLOAD"]["scriptVariables"] == {"PORT": "8080"}
    assert goals["DOWNLOADING"]["scriptVariables"] is None
    assert goals["STAGING"]["agentConfigs"] == {"process_timeout": "60", "DOWNLOADING.x": "1"}
    assert goals["DOWNLOADING"]["agentConfigs"] == {"process_timeout": "900", "STAGING.process_timeout": "60",
                                                    "x": "1"}
    assert goals["DOWNLOADING"]["build"]["artifactUrl"].startswith("https://")
    assert all(goals[s]["build"] is None for s in goals if s != "DOWNLOADING")
    assert h.stage_of(e["id"]) == (d["id"], "SERVING_BUILD", "SUCCEEDED")


def test_idle_pings_write_nothing(server):
    e, hosts = fleet(server, 3, maxParallel=3)
    deploy_all(server, e, hosts, "1111111aaaa")
    ping_round(hosts)
    before = metric(server, "slipway_ping_writes_total")
    for _ in range(20):
        assert all(r["opCode"] == "NOOP" for r in ping_round(hosts))
    assert metric(server, "slipway_ping_writes_total") == before
    # lastSeen still advances (in memory, flushed in batches; the host API shows pending values)
    seen = server.ok("GET", "/v1/hosts/id/h0")
    assert seen and seen[0]["lastSeen"] is not None


def test_upstream_python_agent_ping_shape(server):
    e = server.make_env("web", "prod")
    server.set_groups("web", "prod", ["web-prod"])
    d = server.deploy("web", "prod", server.publish()["id"])
    body = {"hostId": "i-0abc", "hostName": "web-1", "hostIp": "10.1.2.3", "groups": ["web-prod"],
            "accountId": None, "autoscalingGroup": "web-asg", "availabilityZone": "us-east-1a",
            "ec2Tags": "{\"Name\": \"web-1\"}", "stageType": "PRODUCTION", "agentVersion": "1.2.60",
            "normandieStatus": "ERROR", "knoxStatus": "ERROR",
            "reports": [{"envId": e["id"], "deployId": None, "deployStage": "UNKNOWN", "agentStatus": "UNKNOWN",
                         "errorCode": 0, "errorMessage": None, "failCount": 0, "deployAlias": None,
                         "containerHealthStatus": None, "agentState": None, "extraInfo": None}]}
    r = server.req("POST", "/v1/system/ping/", json=body)
    assert r.status_code == 200, r.text
    resp = r.json()
    assert resp["opCode"] == "DEPLOY" and resp["deployGoal"]["deployId"] == d["id"]
    assert set(resp["deployGoal"]) >= {"deployId", "deployAlias", "deployType", "envId", "envName", "stageName",
                                       "stageType", "deployStage", "build", "scriptVariables", "agentConfigs",
                                       "firstDeploy", "isDocker"}
    # unknown stage in a report is a 400 naming the field; a missing hostId too
    bad = dict(body, reports=[dict(body["reports"][0], deployStage="NOPE")])
    r = server.req("POST", "/v1/system/ping", json=bad)
    assert r.status_code == 400 and r.json()["field"] == "reports[0].deployStage"
    r = server.req("POST", "/v1/system/ping", json={"reports": []})
    assert r.status_code == 400 and r.json()["field"] == "hostId"
    r = server.req("POST", "/v1/system/ping", data="{not json")
    assert r.status_code == 400
    r = server.req("POST", "/v1/system/ping", params={"wait": "-1"}, json=body)
    assert r.status_code == 400 and r.json()["field"] == "wait"
    # heartbeat attributes are recorded
    host = server.ok("GET", "/v1/hosts/id/i-0abc")
    assert host[0]["agentVersion"] == "1.2.60" and host[0]["groupName"] == "web-prod"


def test_stop_flow_and_membership(server):
    e, hosts = fleet(server, 2, maxParallel=1)
    d1 = deploy_all(server, e, hosts, "1111111aaaa")
    # a STOP of h0: STOPPING (opCode STOP), then STOPPED with the normal opCode, then idle
    server.ok("DELETE", "/v1/hosts/h0", params={"replaceHost": "false"})
    r = hosts[0].ping()
    assert r["opCode"] == "STOP" and r["deployGoal"]["deployStage"] == "STOPPING"
    r = hosts[0].ping()
    assert r["opCode"] == "DEPLOY" and r["deployGoal"]["deployStage"] == "STOPPED"
    assert hosts[0].ping()["opCode"] == "NOOP"
    a = server.agents_by_host("web", "prod")
    assert a["h0"]["state"] == "STOP" and a["h0"]["deployStage"] == "STOPPED" and a["h0"]["holdsSlot"] is False
    # the host row stays PENDING_TERMINATE_NO_REPLACE although the host keeps pinging its group
    rows = server.ok("GET", "/v1/hosts/id/h0")
    assert [x["state"] for x in rows] == ["PENDING_TERMINATE_NO_REPLACE"]
    # a STOPPED host does not block a maxParallel = 1 rollout of the others
    d2 = server.deploy("web", "prod", server.publish(commit="2222222bbbb")["id"])
    assert converge(hosts[1:], e["id"], d2["id"])
    # membership: a PROVISIONED registration turns ACTIVE on the first ping; dropped groups are deleted
    server.ok("POST", "/v1/hosts", json={"hostName": "h9", "hostId": "h9", "groupName": "g"})
    assert server.ok("GET", "/v1/hosts/id/h9")[0]["state"] == "PROVISIONED"
    h9 = Host(server, "h9", groups=["g", "extra"])
    h9.ping()
    rows = {x["groupName"]: x for x in server.ok("GET", "/v1/hosts/id/h9")}
    assert set(rows) == {"g", "extra"} and all(x["state"] == "ACTIVE" for x in rows.values())
    assert rows["g"]["ip"] == "10.0.0.1"
    h9.groups = ["extra"]
    h9.ping()
    assert [x["groupName"] for x in server.ok("GET", "/v1/hosts/id/h9")] == ["extra"]
    # no groups: the placeholder group NULL
    h9.groups = []
    h9.ping()
    assert [x["groupName"] for x in server.ok("GET", "/v1/hosts/id/h9")] == ["NULL"]


def test_multiple_envs_per_host_and_stage_move(server):
    web = server.make_env("web", "prod")
    side = server.make_env("logs", "prod")
    server.update_env("logs", "prod", systemPriority=10)
    server.set_groups("web", "prod", ["g"])
    server.set_groups("logs", "prod", ["g"])
    dw = server.deploy("web", "prod", server.publish()["id"])
    ds = server.deploy("logs", "prod", server.publish(name="logs", commit="5555555eeee")["id"])
    h = Host(server, "h0", groups=["g"])
    first = h.ping()
    # the sidecar (small systemPriority) deploys first; one goal per ping; both converge
    assert first["deployGoal"]["envName"] == "logs"
    for _ in range(30):
        h.ping()
    assert h.stage_of(web["id"]) == (dw["id"], "SERVING_BUILD", "SUCCEEDED")
    assert h.stage_of(side["id"]) == (ds["id"], "SERVING_BUILD", "SUCCEEDED")
    # a running step of one env is repeated before the other env gets a goal (rule 0)
    d2 = server.deploy("web", "prod", server.publish(commit="6666666ffff")["id"])
    r = h.ping()
    assert r["deployGoal"]["envName"] == "web" and r["deployGoal"]["deployStage"] == "PRE_DOWNLOAD"
    h.reports[web["id"]]["agentStatus"] = "UNKNOWN"  # still running PRE_DOWNLOAD
    server.deploy("logs", "prod", server.publish(name="logs", commit="7777777aaaa")["id"])
    r = h.ping(apply=False)
    assert r["deployGoal"]["envName"] == "web" and r["deployGoal"]["deployStage"] == "PRE_DOWNLOAD"
    # moving the host to another stage of the same env is not a first deploy: it queues for a slot
    canary = server.make_env("web", "canary", maxParallel=1)
    server.set_groups("web", "prod", [])
    server.set_groups("web", "canary", ["g"])
    dc = server.deploy("web", "canary", server.publish(commit="8888888bbbb")["id"])
    goals = []
    for _ in range(40):
        r = h.ping()
        if r["opCode"] != "NOOP" and r["deployGoal"]["envId"] == canary["id"]:
            goals.append(r["deployGoal"])
    assert goals and goals[0]["deployStage"] == "PRE_DOWNLOAD" and goals[0]["firstDeploy"] is False
    assert h.stage_of(canary["id"]) == (dc["id"], "SERVING_BUILD", "SUCCEEDED")
    assert web["id"] not in h.reports  # the prod stage was uninstalled (DELETE)
    assert server.agents("web", "prod") == []
