# SPDX-License-Identifier: Apache-2.0
# Zone-aware rollouts (issue 17): host tags from the ping's ec2Tags and availabilityZone, the host_tags and
# deploy_constraint resources, and admission under a constraint: 30 hosts in 3 zones pinging concurrently.
import pytest

from ping_support import Host, converge, in_flight, ping_round

ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]


def zoned_stage(server, per_zone=10, untagged=0, **fields):
    e = server.make_env("web", "prod", **fields)
    server.set_groups("web", "prod", ["g"])
    hosts = [Host(server, "h%s%02d" % (z[-1], i), zone=z, groups=["g"], tags={"team": "web"})
             for i in range(per_zone) for z in ZONES]
    hosts += [Host(server, "u%02d" % i, groups=["g"]) for i in range(untagged)]
    return e, hosts


def first_deploy(server, e, hosts):
    d1 = server.deploy("web", "prod", server.publish(commit="1111111aaaa")["id"])
    assert converge(hosts, e["id"], d1["id"])
    return d1


def done(hosts, env_id, deploy_id):
    return {h.host_id for h in hosts if h.stage_of(env_id) == (deploy_id, "SERVING_BUILD", "SUCCEEDED")}


def test_host_tags_from_pings(server):
    e, hosts = zoned_stage(server, per_zone=1, untagged=1)
    hosts[0].tags["role"] = "api"
    ping_round(hosts)
    first_deploy(server, e, hosts)
    tags = server.ok("GET", "/v1/envs/web/prod/host_tags")
    assert {(t["hostId"], t["tagName"], t["tagValue"]) for t in tags} == {
        ("ha00", "availabilityZone", "us-east-1a"), ("hb00", "availabilityZone", "us-east-1b"),
        ("hc00", "availabilityZone", "us-east-1c"), ("ha00", "team", "web"), ("hb00", "team", "web"),
        ("hc00", "team", "web"), ("ha00", "role", "api")}
    assert all(t["hostName"] == t["hostId"] for t in tags)
    by = server.ok("GET", "/v1/envs/web/prod/host_tags/availabilityZone")
    assert sorted(by) == ZONES and [t["hostId"] for t in by["us-east-1b"]] == ["hb00"]
    assert server.ok("GET", "/v1/envs/web/prod/host_tags/nothing") == {}
    # tags change with the next ping that carries them
    hosts[0].tags = {"team": "search"}
    hosts[0].zone = "us-east-1b"
    hosts[0].ping()
    by = server.ok("GET", "/v1/envs/web/prod/host_tags/team")
    assert sorted(t["hostId"] for t in by["search"]) == ["ha00"]
    assert "role" not in {t["tagName"] for t in server.ok("GET", "/v1/envs/web/prod/host_tags")}
    by = server.ok("GET", "/v1/envs/web/prod/host_tags/availabilityZone")
    assert sorted(t["hostId"] for t in by["us-east-1b"]) == ["ha00", "hb00"]
    # delete forgets a tag on the stage's hosts
    server.ok("DELETE", "/v1/envs/web/prod/host_tags/team", code=204)
    assert server.ok("GET", "/v1/envs/web/prod/host_tags/team") == {}
    assert server.ok("GET", "/v1/envs/web/prod/host_tags/availabilityZone") != {}
    assert server.req("GET", "/v1/envs/web/prod/host_tags/bad%20name").status_code == 400


@pytest.mark.parametrize("tags,field", [
    ({"a b": "x"}, "ec2Tags"), ({"k": 5}, "ec2Tags.k"), ({"k": "v" * 257}, "ec2Tags.k"),
    ({"k%d" % i: "v" for i in range(33)}, "ec2Tags"), (["x"], "ec2Tags")])
def test_bad_tags_refused(server, tags, field):
    h = Host(server, "h1", tags=tags)
    r = server.session.post(server.url + "/v1/system/ping", json=h.body(),
                            headers={"Authorization": "token " + server.token}, timeout=10)
    assert r.status_code == 400 and r.json()["field"] == field, r.text


def test_constraint_resource(server):
    server.make_env("web", "prod")
    path = "/v1/envs/web/prod/deploy_constraint"
    none = server.req("GET", path)
    assert none.status_code == 204 and none.content == b""  # as upstream: no constraint, an empty answer
    for body, field in [({}, "constraintKey"), ({"constraintKey": "a b"}, "constraintKey"),
                        ({"constraintKey": "az", "maxParallel": 0}, "maxParallel"),
                        ({"constraintKey": "az", "maxParallel": "2"}, "maxParallel"),
                        ({"constraintKey": "az", "constraintType": "ZONES"}, "constraintType"),
                        ({"constraintKey": "az", "constraintOrder": "a,b"}, "constraintOrder"),
                        ({"constraintKey": "az", "constraintOrder": ["a", "a"]}, "constraintOrder")]:
        r = server.req("POST", path, json=body)
        assert r.status_code == 400 and r.json()["field"] == field, (body, r.text)
    assert server.req("GET", path).status_code == 204  # nothing half-applied: still none
    c = server.ok("POST", path, json={"constraintKey": "availabilityZone", "maxParallel": 2,
                                      "constraintType": "GROUP_BY_GROUP", "constraintOrder": ["us-east-1c"],
                                      "id": "mine", "state": "X", "startDate": 5})
    assert c["constraintKey"] == "availabilityZone" and c["maxParallel"] == 2
    assert c["constraintType"] == "GROUP_BY_GROUP" and c["constraintOrder"] == ["us-east-1c"]
    assert c["id"] != "mine" and c["state"] == "FINISHED" and c["startDate"] > 5 and c["lastUpdate"] >= c["startDate"]
    assert server.ok("GET", path) == c
    c2 = server.ok("POST", path, json={"constraintKey": "rack", "constraintType": "all_groups_in_parallel"})
    assert c2["id"] == c["id"] and c2["startDate"] == c["startDate"] and c2["maxParallel"] == 1
    assert c2["constraintType"] == "ALL_GROUPS_IN_PARALLEL" and c2["constraintOrder"] is None
    hist = server.ok("GET", "/v1/envs/web/prod/history")
    assert sum(1 for h in hist if h["type"] == "Env Deploy Constraint") == 2
    server.ok("DELETE", path, code=204)
    assert server.req("GET", path).status_code == 204
    assert server.req("DELETE", path).status_code == 404
    hist = server.ok("GET", "/v1/envs/web/prod/history")
    assert sum(1 for h in hist if h["type"] == "Env Deploy Constraint") == 3


def test_all_groups_in_parallel(server):
    e, hosts = zoned_stage(server, maxParallel=10)
    first_deploy(server, e, hosts)
    server.ok("POST", "/v1/envs/web/prod/deploy_constraint",
              json={"constraintKey": "availabilityZone", "maxParallel": 2, "constraintType": "ALL_GROUPS_IN_PARALLEL"})
    d2 = server.deploy("web", "prod", server.publish(commit="2222222bbbb")["id"])
    peak = {}
    for _ in range(60):
        ping_round(hosts, parallel=True)
        holders = {}
        for a in server.agents("web", "prod"):
            if a["holdsSlot"]:
                z = [h.zone for h in hosts if h.host_id == a["hostId"]][0]
                holders[z] = holders.get(z, 0) + 1
        for z, n in list(holders.items()) + list(in_flight(hosts, e["id"], d2["id"]).items()):
            assert n <= 2, (z, n)
            peak[z] = max(peak.get(z, 0), n)
        if len(done(hosts, e["id"], d2["id"])) == len(hosts):
            break
    assert len(done(hosts, e["id"], d2["id"])) == 30
    assert peak == {z: 2 for z in ZONES}


def group_by_group(server, order, expect, **fields):
    e, hosts = zoned_stage(server, untagged=3, maxParallel=10, **fields)
    first_deploy(server, e, hosts)
    body = {"constraintKey": "availabilityZone", "maxParallel": 5, "constraintType": "GROUP_BY_GROUP"}
    if order:
        body["constraintOrder"] = order
    server.ok("POST", "/v1/envs/web/prod/deploy_constraint", json=body)
    d2 = server.deploy("web", "prod", server.publish(commit="2222222bbbb")["id"])
    started = []  # zones in the order they started
    for _ in range(150):
        ping_round(hosts, parallel=True)
        fl = in_flight(hosts, e["id"], d2["id"])
        assert len(fl) <= 1, fl  # one zone at a time
        assert all(n <= 5 for n in fl.values()), fl
        for z in fl:
            if z not in started:
                # every host of the zones before it has finished
                fin = done(hosts, e["id"], d2["id"])
                assert all(h.host_id in fin for h in hosts if h.zone in started), (z, started)
                started.append(z)
        if len(done(hosts, e["id"], d2["id"])) == len(hosts):
            break
    assert len(done(hosts, e["id"], d2["id"])) == 33
    assert started == expect


def test_group_by_group(server):
    group_by_group(server, None, ZONES + [None])


def test_group_by_group_constraint_order(server):
    group_by_group(server, ["us-east-1c", "us-east-1a"], ["us-east-1c", "us-east-1a", "us-east-1b", None])


def test_held_pings_of_the_next_zone_wake(server):
    """Under GROUP_BY_GROUP, the hosts of the next zone are long-polling when the current zone finishes: they are
    woken at once (a released slot of a constrained stage wakes all of its held pings, not the oldest two)."""
    import threading
    import time

    e = server.make_env("web", "prod", maxParallel=5)
    server.set_groups("web", "prod", ["g"])
    zone = {"c1": "c", "c2": "c", "b1": "b", "a1": "a"}
    hosts = {h: Host(server, h, zone=z, groups=["g"]) for h, z in zone.items()}
    first_deploy(server, e, list(hosts.values()))
    server.ok("POST", "/v1/envs/web/prod/deploy_constraint",
              json={"constraintKey": "availabilityZone", "maxParallel": 1, "constraintType": "GROUP_BY_GROUP"})
    d2 = server.deploy("web", "prod", server.publish(commit="2222222bbbb")["id"])
    first_goal = {}
    stop = threading.Event()

    def run(h):
        while not stop.is_set():
            r = h.ping(wait=20, timeout=30)
            if r["opCode"] != "NOOP" and h.host_id not in first_goal:
                first_goal[h.host_id] = time.time()
            if h.stage_of(e["id"]) == (d2["id"], "SERVING_BUILD", "SUCCEEDED"):
                h.ping()
                return
    threads = []
    for name in ("c1", "c2", "b1"):  # held first, oldest first: the c hosts before b1
        threads.append(threading.Thread(target=run, args=(hosts[name],), daemon=True))
        threads[-1].start()
        time.sleep(0.3)
    threads.append(threading.Thread(target=run, args=(hosts["a1"],), daemon=True))
    threads[-1].start()
    t0 = time.time()
    for t in threads:
        t.join(timeout=25)
    stop.set()
    assert all(not t.is_alive() for t in threads), "the rollout stalled on held pings"
    assert sorted(first_goal, key=first_goal.get)[:2] == ["a1", "b1"]
    assert time.time() - t0 < 15


@pytest.mark.parametrize("policy", ["HALT", "CONTINUE", "REMOVE_HOST", "ROLLBACK"])
def test_failing_host_under_each_policy(server, policy):
    e, hosts = zoned_stage(server, per_zone=2, maxParallel=3, failurePolicy=policy)
    # the failing host is alone in the zone that goes first ("_" sorts before "a")
    failing = Host(server, "hx00", zone="us-east-1_", groups=["g"])
    hosts.insert(0, failing)
    d1 = first_deploy(server, e, hosts)
    server.progress("web", "prod")
    server.ok("POST", "/v1/envs/web/prod/deploy_constraint",
              json={"constraintKey": "availabilityZone", "maxParallel": 1, "constraintType": "GROUP_BY_GROUP"})
    failing.fail[(None, "RESTARTING")] = "SCRIPT_TIMEOUT"
    failing.fail_once = True
    d2 = server.deploy("web", "prod", server.publish(commit="2222222bbbb")["id"])
    for _ in range(60):
        ping_round(hosts, parallel=True)
        fl = in_flight([h for h in hosts if h is not failing], e["id"], d2["id"])
        assert len(fl) <= 1 and all(n <= 1 for n in fl.values()), fl
    server.progress("web", "prod")
    a = server.agents_by_host("web", "prod")
    others = [h.host_id for h in hosts if h is not failing]
    if policy == "ROLLBACK":
        cur = server.current("web", "prod")
        assert cur["type"] == "ROLLBACK" and cur["id"] != d2["id"]
        assert a["hx00"]["deployId"] in (d2["id"], cur["id"])
        return
    # the failed host is parked by its policy; the other zones went on one at a time and finished
    for h in others:
        assert a[h]["deployId"] == d2["id"] and a[h]["deployStage"] == "SERVING_BUILD", a[h]
    if policy == "HALT":  # it keeps its slot: the stage goes on with the others (maxParallel 3)
        assert a["hx00"]["state"] == "PAUSED_BY_SYSTEM" and a["hx00"]["holdsSlot"] is True
    elif policy == "CONTINUE":
        assert a["hx00"]["state"] == "PAUSED_BY_SYSTEM" and a["hx00"]["holdsSlot"] is False
    else:
        assert a["hx00"]["removed"] is True and a["hx00"]["holdsSlot"] is False
    assert server.current("web", "prod")["state"] in (("FAILING",) if policy != "REMOVE_HOST" else
                                                      ("SUCCEEDING", "SUCCEEDED"))
