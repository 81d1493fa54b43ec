# SPDX-License-Identifier: Apache-2.0
# A stage's host tags counted per value (issue 14): the board's zone strip and the CLI read
# GET …/host_tags/{tagName}/counts, kept by triggers on host_tags and agents (on PostgreSQL as deltas the janitor
# folds), and the hosts of one value a page at a time (…/host_tags/{tagName}?value=V&limit=N&after=H). These tests
# drive every kind of write that changes what is counted (the pings' tags, deploys walking the hosts, a host's
# deletion, hosts leaving the stage, the tag DELETE, the janitor's expiry) and check after each that the kept counts
# equal a GROUP BY of the rows and that the endpoint answers them, on whichever backend the run uses.
from ping_support import Host, converge, ping_round, wait_for

SCAN = ("SELECT t.tagName, t.tagValue, COALESCE(a.deployId, ''), "
        "CASE WHEN a.deployStage = 'SERVING_BUILD' THEN 1 ELSE 0 END, COUNT(*) "
        "FROM agents a JOIN host_tags t ON t.hostId = a.hostId WHERE a.envId = ? "
        "GROUP BY t.tagName, t.tagValue, COALESCE(a.deployId, ''), "
        "CASE WHEN a.deployStage = 'SERVING_BUILD' THEN 1 ELSE 0 END")
KEPT = ("SELECT tagName, tagValue, deployId, serving, SUM(n) FROM (SELECT tagName, tagValue, deployId, serving, n "
        "FROM host_tag_counts WHERE envId = ? UNION ALL SELECT tagName, tagValue, deployId, serving, n "
        "FROM host_tag_count_deltas WHERE envId = ?) x GROUP BY tagName, tagValue, deployId, serving")
STAGE_ROWS = ("SELECT COUNT(*), COALESCE(SUM(CASE WHEN deployId = ? THEN 1 ELSE 0 END), 0), "
              "COALESCE(SUM(CASE WHEN deployId = ? AND deployStage = 'SERVING_BUILD' THEN 1 ELSE 0 END), 0) "
              "FROM agents WHERE envId = ?")


def as_dict(rows):
    return {(r[0], r[1], r[2], int(r[3])): int(r[4]) for r in rows if int(r[4])}


def expected_answer(scanned, tag, deploy_id, stage_rows):
    values, on, serving = {}, {}, {}
    for (name, value, dep, srv), n in scanned.items():
        if name != tag:
            continue
        values[value] = values.get(value, 0) + n
        on[value] = on.get(value, 0) + (n if dep == deploy_id else 0)
        serving[value] = serving.get(value, 0) + (n if dep == deploy_id and srv else 0)
    total, total_on, total_serving = (int(v) for v in stage_rows)
    want = {"tagName": tag, "values": values, "untagged": total - sum(values.values())}
    if deploy_id:
        want.update({"deployId": deploy_id, "onDeploy": on, "serving": serving,
                     "untaggedOnDeploy": total_on - sum(on.values()),
                     "untaggedServing": total_serving - sum(serving.values())})
    return want


def check(server, env_id, what, stage=("web", "prod"), tags=("availabilityZone", "team")):
    kept = as_dict(server.db.query(KEPT, (env_id, env_id)))
    scanned = as_dict(server.db.query(SCAN, (env_id,)))
    assert kept == scanned, "%s: kept %r, rows %r" % (what, kept, scanned)
    base = "/v1/envs/%s/%s/host_tags/" % stage
    cur = server.req("GET", "/v1/envs/%s/%s/deploys/current" % stage)
    deploy_id = cur.json()["id"] if cur.status_code == 200 and cur.content else None
    hosts = int(server.db.query("SELECT COUNT(DISTINCT hostId) FROM agents")[0][0])
    assert server.ok("GET", "/v1/agents/hostcount") == hosts, what
    for tag in tags:
        got = server.ok("GET", base + tag + "/counts")
        assert got == expected_answer(scanned, tag, None, server.db.query(STAGE_ROWS, ("", "", env_id))[0]), what
        if deploy_id:
            got = server.ok("GET", base + tag + "/counts", params={"deployId": deploy_id})
            rows = server.db.query(STAGE_ROWS, (deploy_id, deploy_id, env_id))[0]
            assert got == expected_answer(scanned, tag, deploy_id, rows), "%s: %r" % (what, got)
    return scanned


def zoned(server, prefix, zones, per_zone, groups, untagged=0):
    hosts = [Host(server, "%s%s%02d" % (prefix, z[-1], i), zone=z, groups=groups, tags={"team": "web"})
             for i in range(per_zone) for z in zones]
    return hosts + [Host(server, "%su%02d" % (prefix, i), groups=groups) for i in range(untagged)]


def test_counts_follow_every_host_tag_write(server):
    env = server.make_env("web", "prod", maxParallelPct=100)
    other = server.make_env("api", "canary", maxParallelPct=100, buildName="web")
    server.set_groups("web", "prod", ["g"])
    server.set_groups("api", "canary", ["c"])
    hosts = zoned(server, "h", ["us-east-1a", "us-east-1b", "us-east-1c"], 3, ["g"], untagged=2)
    both = Host(server, "both", zone="us-east-1a", groups=["g", "c"], tags={"team": "db"})
    ping_round(hosts + [both])
    check(server, env["id"], "pings before any deploy")
    d1 = server.deploy("web", "prod", server.publish()["id"])
    dc = server.deploy("api", "canary", server.publish(commit="ccccccc1")["id"])
    ping_round(hosts + [both], parallel=True)
    scanned = check(server, env["id"], "first deploy started")
    assert sum(n for k, n in scanned.items() if k[0] == "availabilityZone") >= 9
    assert converge(hosts + [both], env["id"], d1["id"])
    assert converge([both], other["id"], dc["id"])
    scanned = check(server, env["id"], "first deploy done")
    assert scanned[("availabilityZone", "us-east-1a", d1["id"], 1)] == 4
    assert sum(n for k, n in scanned.items() if k[0] == "availabilityZone") == 10
    check(server, other["id"], "canary done", stage=("api", "canary"))

    # tags change with the pings that carry them: a new zone, a tag dropped, a tag added (both stages of `both`)
    hosts[0].zone = "us-east-1c"
    hosts[1].tags = {}
    both.tags = {"team": "web", "rack": "r1"}
    for h in (hosts[0], hosts[1], both):
        h.ping()
    check(server, env["id"], "tags changed")
    check(server, other["id"], "tags changed (canary)", stage=("api", "canary"), tags=("team", "rack"))

    # a later deploy part-way: rows move from one deploy to the other, serving to not serving
    d2 = server.deploy("web", "prod", server.publish(commit="2222222bbbb")["id"])
    ping_round(hosts[:5], parallel=True)
    scanned = check(server, env["id"], "later deploy under way")
    assert any(k[2] == d2["id"] for k in scanned)

    # the stage's DELETE of a tag, brought back by the next ping
    server.ok("DELETE", "/v1/envs/web/prod/host_tags/team", code=204)
    check(server, env["id"], "team deleted")
    check(server, other["id"], "team deleted on prod (canary)", stage=("api", "canary"), tags=("team", "rack"))
    ping_round(hosts + [both])
    check(server, env["id"], "team back")

    # a host deleted (its rows stop, then leave), a host removed from the stage, a host leaving the capacity
    server.ok("DELETE", "/v1/hosts/%s" % hosts[2].host_id)
    check(server, env["id"], "host deleted")
    ping_round(hosts[2:4])
    check(server, env["id"], "deleted host pinged")
    server.ok("DELETE", "/v1/envs/web/prod/hosts", json=[hosts[4].host_id], params={"replaceHost": "false"})
    check(server, env["id"], "host removed")
    server.set_groups("api", "canary", [])
    both.ping()
    check(server, other["id"], "left the canary", stage=("api", "canary"), tags=("team", "rack"))
    check(server, env["id"], "still on prod")
    assert converge([h for h in hosts[5:]], env["id"], d2["id"])
    check(server, env["id"], "later deploy done")


def test_counts_follow_the_janitor(server_factory):
    # silent hosts become UNREACHABLE and their rows are deleted: no counts left behind, deltas folded
    server = server_factory(["host_unreachable_after=2", "host_expire=4", "janitor_period=1"]).start()
    env = server.make_env("web", "prod", maxParallelPct=100)
    other = server.make_env("api", "prod", maxParallelPct=100, buildName="web")
    server.set_groups("web", "prod", ["g"])
    server.set_groups("api", "prod", ["g"])  # every host has two agent rows, deleted together on expiry
    hosts = zoned(server, "j", ["za", "zb"], 2, ["g"])
    d = server.deploy("web", "prod", server.publish()["id"])
    d2 = server.deploy("api", "prod", server.publish(commit="3333333cccc")["id"])
    assert converge(hosts, env["id"], d["id"]) and converge(hosts, other["id"], d2["id"])
    check(server, env["id"], "deployed")
    assert server.ok("GET", "/v1/agents/hostcount") == 4
    assert wait_for(lambda: not server.db.query(SCAN, (env["id"],)), timeout=30)
    assert check(server, env["id"], "expired") == {}
    assert wait_for(lambda: not server.db.query("SELECT 1 FROM agents"), timeout=30)
    assert server.ok("GET", "/v1/agents/hostcount") == 0
    # the janitor folded the deltas (PostgreSQL) and dropped the counts at 0: nothing left in either table
    assert wait_for(lambda: int(server.db.query("SELECT COUNT(*) FROM host_tag_count_deltas")[0][0]) == 0,
                    timeout=20)
    assert int(server.db.query("SELECT COUNT(*) FROM host_tag_counts WHERE envId = ?", (env["id"],))[0][0]) == 0


def test_janitor_folds_the_tag_deltas(server_factory):
    server = server_factory(["janitor_period=3600"]).start()
    env = server.make_env("web", "prod", maxParallelPct=100)
    server.set_groups("web", "prod", ["g"])
    hosts = zoned(server, "f", ["za", "zb"], 3, ["g"])
    d = server.deploy("web", "prod", server.publish()["id"])
    assert converge(hosts, env["id"], d["id"])
    pending = "SELECT COUNT(*) FROM host_tag_count_deltas WHERE envId = ?"
    assert (int(server.db.query(pending, (env["id"],))[0][0]) > 0) == (server.db.backend == "pg")
    check(server, env["id"], "deltas pending")
    server.stop()
    server.start(["janitor_period=1"])
    assert wait_for(lambda: int(server.db.query(pending, (env["id"],))[0][0]) == 0, timeout=20)
    check(server, env["id"], "folded")
    only = server.db.query("SELECT tagName, tagValue, deployId, serving, n FROM host_tag_counts WHERE envId = ?",
                           (env["id"],))
    assert as_dict(only) == as_dict(server.db.query(SCAN, (env["id"],)))
    assert as_dict(only)[("availabilityZone", "za", d["id"], 1)] == 3


def test_value_pages_and_bad_input(server):
    env = server.make_env("web", "prod", maxParallelPct=100)
    server.make_env("web", "canary")
    server.set_groups("web", "prod", ["g"])
    hosts = zoned(server, "p", ["za", "zb"], 5, ["g"], untagged=1)
    # a host of zone za outside the stage: never in its pages or counts
    stranger = Host(server, "pa99", zone="za", groups=["elsewhere"])
    d = server.deploy("web", "prod", server.publish()["id"])
    assert converge(hosts, env["id"], d["id"])
    stranger.ping()
    counts = server.ok("GET", "/v1/envs/web/prod/host_tags/availabilityZone/counts")
    assert counts == {"tagName": "availabilityZone", "values": {"za": 5, "zb": 5}, "untagged": 1}
    assert server.ok("GET", "/v1/envs/web/prod/host_tags/nothing/counts") == {
        "tagName": "nothing", "values": {}, "untagged": 11}
    base = "/v1/envs/web/prod/host_tags/availabilityZone"
    seen, after, pages = [], None, 0
    while True:
        params = {"value": "za", "limit": 2}
        if after:
            params["after"] = after
        page = server.ok("GET", base, params=params)
        assert list(page["tags"]) == ["za"] and len(page["tags"]["za"]) <= 2
        seen += [t["hostName"] for t in page["tags"]["za"]]
        assert all(t["tagName"] == "availabilityZone" and t["tagValue"] == "za" for t in page["tags"]["za"])
        pages += 1
        after = page["next"]
        if not after:
            break
    assert seen == ["pa%02d" % i for i in range(5)] and pages == 3
    assert server.ok("GET", base, params={"value": "nowhere", "limit": 5}) == {"tags": {"nowhere": []},
                                                                                "next": None}
    # one host's tags, by name or id; none for a host without an agent row on the stage
    mine = server.ok("GET", "/v1/envs/web/prod/host_tags", params={"hostName": "pb03"})
    assert [(t["tagName"], t["tagValue"]) for t in mine] == [("availabilityZone", "zb"), ("team", "web")]
    assert server.ok("GET", "/v1/envs/web/prod/host_tags", params={"hostName": "pa99"}) == []
    # the unpaged answers are unchanged
    assert sorted(server.ok("GET", base)) == ["za", "zb"]
    for path, params, field in [
            (base, {"value": "za"}, "value"),                        # value without limit
            ("/v1/envs/web/prod/host_tags", {"value": "za", "limit": 2}, "value"),  # value without a tag name
            (base, {"value": "v" * 257, "limit": 2}, "value"),
            (base, {"value": "za", "limit": 0}, "limit"),
            (base, {"value": "za", "after": "pa01"}, "after"),
            (base, {"value": "za", "limit": 2, "after": "bad name"}, "after"),
            ("/v1/envs/web/prod/host_tags/bad%20name/counts", {}, "tagName"),
            (base + "/counts", {"deployId": "bad id!"}, "deployId"),
            ("/v1/envs/web/prod/host_tags", {"hostName": "bad name"}, "hostName"),
            ("/v1/envs/web/prod/host_tags", {"hostName": "pa01", "limit": 2}, "hostName"),
            (base, {"hostName": "pa01"}, "hostName")]:
        r = server.req("GET", path, params=params)
        assert r.status_code == 400 and r.json()["field"] == field, (path, params, r.text)
    assert server.req("GET", "/v1/envs/web/nope/host_tags/availabilityZone/counts").status_code == 404
    with_deploy = server.ok("GET", base + "/counts", params={"deployId": d["id"]})
    assert with_deploy["serving"] == {"za": 5, "zb": 5} and with_deploy["untaggedServing"] == 1
    assert server.ok("GET", "/v1/envs/web/canary/host_tags/availabilityZone/counts")["values"] == {}


def test_counts_filled_when_the_schema_is_applied(server):
    # a database of the schema before the counts (two files less) with tagged hosts: applying the schema fills them
    env = server.make_env("web", "prod", maxParallelPct=100)
    server.set_groups("web", "prod", ["g"])
    hosts = zoned(server, "m", ["za", "zb"], 2, ["g"], untagged=1)
    d = server.deploy("web", "prod", server.publish()["id"])
    assert converge(hosts, env["id"], d["id"])
    server.stop()
    if server.db.backend == "pg":
        drop = ["DROP FUNCTION slipway_host_tags_count() CASCADE", "DROP FUNCTION slipway_agents_tag_count() CASCADE",
                "DROP FUNCTION slipway_agents_host_count_insert() CASCADE",
                "DROP FUNCTION slipway_agents_host_count_delete() CASCADE"]
    else:
        drop = ["DROP TRIGGER %s" % t for t in ("host_tags_count_insert", "host_tags_count_delete",
                                                "host_tags_count_update", "agents_tag_count_insert",
                                                "agents_tag_count_delete", "agents_tag_count_update",
                                                "agents_host_count_insert", "agents_host_count_delete")]
    # schema files 010 (tag counts) and 011 (host count) undone
    for sql in drop + ["DROP TABLE host_tag_counts", "DROP TABLE host_tag_count_deltas",
                       "DROP INDEX host_tags_value_name", "DROP TABLE agent_host_count",
                       "DROP TABLE agent_host_count_deltas", "UPDATE schema_meta SET version = version - 2"]:
        server.db.query(sql)
    server.start()
    scanned = check(server, env["id"], "schema applied")
    assert scanned[("availabilityZone", "za", d["id"], 1)] == 2
    # and the triggers are back: a host's zone changes
    hosts[0].zone = "zb"
    hosts[0].ping()
    assert check(server, env["id"], "after the upgrade")[("availabilityZone", "zb", d["id"], 1)] == 3
