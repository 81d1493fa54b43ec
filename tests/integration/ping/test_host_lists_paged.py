# SPDX-License-Identifier: Apache-2.0
# The host lists the board and the CLI read, at any stage size: a stage's agent counts in one small answer
# (GET …/agents/summary), the failing hosts a page at a time (…/agents?limit=&failing=true), a deploy's hosts
# (GET /v1/deploys/{id}/agents?limit=&after=) and the progress (PUT …/progress?limit=&after=) a page at a time;
# without limit every answer is the whole list, as before.
from collections import Counter

from ping_support import Host, converge, ping_round


def pages(server, method, path, limit, key=None):
    """Every page of a paged list, following `after` until a page is short; (pages, rows)."""
    out, after = [], None
    while True:
        q = "limit=%d" % limit + ("&after=" + after if after else "")
        ans = server.ok(method, path + ("&" if "?" in path else "?") + q)
        page = ans[key] if key else ans
        out.append(ans)
        if len(page) < limit:
            return out, [row for a in out for row in (a[key] if key else a)]
        after = page[-1]["hostName"]


def stage_with_failures(server):
    """A stage of 9 hosts on a later deploy: 3 of them failed its DOWNLOAD, one never reported on it."""
    env = server.make_env("web", "prod", maxParallelPct=100)
    server.set_groups("web", "prod", ["web-prod"])
    hosts = [Host(server, "q%02d" % i, groups=["web-prod"]) for i in (4, 1, 8, 0, 6, 2, 7, 3, 5)]
    d1 = server.deploy("web", "prod", server.publish()["id"])
    assert converge(hosts, env["id"], d1["id"])
    d2 = server.deploy("web", "prod", server.publish(commit="2222222bbbb")["id"])
    for h in hosts[:3]:
        h.fail[(None, "DOWNLOADING")] = "SCRIPT_FAILED"
    assert converge(hosts[3:8], env["id"], d2["id"])
    for _ in range(4):
        ping_round(hosts[:3])
    return env, d1, d2, hosts


def test_summary_counts_every_row_once(server):
    env, d1, d2, hosts = stage_with_failures(server)
    rows = server.agents("web", "prod")
    s = server.ok("GET", "/v1/envs/web/prod/agents/summary")
    assert s["deployId"] == d2["id"] and s["total"] == len(rows) == 9
    want = Counter((a["deployId"] == d2["id"], a["deployStage"], a["state"], a["status"], a["removed"]) for a in rows)
    got = Counter()
    for c in s["counts"]:
        assert set(c) == {"onDeploy", "deployStage", "state", "status", "removed", "n"} and c["n"] > 0
        got[(c["onDeploy"], c["deployStage"], c["state"], c["status"], c["removed"])] += c["n"]
    assert got == want
    # the failed hosts and the one left behind are there as such, not as serving hosts of the deploy
    assert sum(c["n"] for c in s["counts"] if c["onDeploy"] and c["deployStage"] == "SERVING_BUILD") == 5
    assert sum(c["n"] for c in s["counts"] if c["status"] == "SCRIPT_FAILED") == 3
    # provisioningHosts walks the capacity's hosts: only when asked
    assert s["missingHosts"] == 0 and s["provisioningHosts"] is None
    assert server.ok("GET", "/v1/envs/web/prod/agents/summary?provisioning=true")["provisioningHosts"] == 0
    assert server.req("GET", "/v1/envs/web/prod/agents/summary?provisioning=maybe").json()["field"] == "provisioning"

    # a HOST capacity name that never pinged is missing; a live host of a group the stage takes on later is
    # provisioning until its next ping
    server.set_hosts("web", "prod", ["never-seen"])
    Host(server, "z02", groups=["late"]).ping()
    server.set_groups("web", "prod", ["web-prod", "late"])
    s = server.ok("GET", "/v1/envs/web/prod/agents/summary?provisioning=true")
    prog = server.progress("web", "prod")
    assert (s["missingHosts"], s["provisioningHosts"]) == (1, 1) and s["total"] == 9
    assert prog["missingHosts"] == ["never-seen"] and [h["hostId"] for h in prog["provisioningHosts"]] == ["z02"]
    empty = server.make_env("api", "prod")
    e = server.ok("GET", "/v1/envs/api/prod/agents/summary")
    assert e == {"deployId": None, "total": 0, "counts": [], "missingHosts": 0, "provisioningHosts": None}, empty
    assert server.req("GET", "/v1/envs/web/nope/agents/summary").status_code == 404


def test_failing_pages_and_deploy_pages(server):
    env, d1, d2, hosts = stage_with_failures(server)
    rows = server.agents("web", "prod")
    failing = [a for a in rows if a["status"] not in ("SUCCEEDED", "UNKNOWN")
               or a["state"] in ("UNREACHABLE", "PAUSED_BY_SYSTEM")]
    assert len(failing) == 3
    got_pages, got = pages(server, "GET", "/v1/envs/web/prod/agents?failing=true", 2)
    assert [len(p) for p in got_pages] == [2, 1] and got == failing
    assert server.ok("GET", "/v1/envs/web/prod/agents?failing=false&limit=100") == rows

    # the deploy's hosts: the current deploy's agent rows, then (once replaced) its recorded results
    on_d2 = server.ok("GET", "/v1/deploys/%s/agents" % d2["id"])
    assert len(on_d2) == 8
    got_pages, got = pages(server, "GET", "/v1/deploys/%s/agents" % d2["id"], 3)
    assert [len(p) for p in got_pages] == [3, 3, 2] and got == on_d2
    server.deploy("web", "prod", server.publish(commit="3333333cccc")["id"])
    recorded = server.ok("GET", "/v1/deploys/%s/agents" % d2["id"])
    assert sorted(a["hostName"] for a in recorded) == sorted(a["hostName"] for a in on_d2)
    assert "recordDate" in recorded[0]
    got_pages, got = pages(server, "GET", "/v1/deploys/%s/agents" % d2["id"], 4)
    assert [len(p) for p in got_pages] == [4, 4, 0] and got == recorded

    for path in ("/v1/envs/web/prod/agents?", "/v1/deploys/%s/agents?" % d2["id"],
                 "/v1/envs/web/prod/deploys/current/progress?"):
        method = "PUT" if "progress" in path else "GET"
        for bad, field in (("limit=0", "limit"), ("limit=10001", "limit"), ("after=q01", "after"),
                           ("limit=2&after=a%20b", "after")):
            r = server.req(method, path + bad)
            assert r.status_code == 400 and r.json()["field"] == field, (path, bad, r.text)
    for bad in ("failing=true", "limit=5&failing=yes"):
        r = server.req("GET", "/v1/envs/web/prod/agents?" + bad)
        assert r.status_code == 400 and r.json()["field"] == "failing", (bad, r.text)


def test_progress_pages(server):
    env, d1, d2, hosts = stage_with_failures(server)
    whole = server.progress("web", "prod")
    assert len(whole["agents"]) == 9 and "next" not in whole
    got_pages, got = pages(server, "PUT", "/v1/envs/web/prod/deploys/current/progress", 4, key="agents")
    assert [len(p["agents"]) for p in got_pages] == [4, 4, 1] and got == whole["agents"]
    assert [p["next"] for p in got_pages] == [got[3]["hostName"], got[7]["hostName"], None]
    for p in got_pages:
        assert (p["missingHosts"], p["provisioningHosts"], p["removedHosts"]) == ([], None, [])
    # a page's provisioningHosts (a walk of the capacity's hosts) only when asked; the whole progress always has it
    q = "/v1/envs/web/prod/deploys/current/progress?limit=4&provisioning=true"
    assert server.ok("PUT", q)["provisioningHosts"] == []
    for bad in ("provisioning=false", "limit=2&provisioning=maybe"):
        r = server.req("PUT", "/v1/envs/web/prod/deploys/current/progress?" + bad)
        assert r.status_code == 400 and r.json()["field"] == "provisioning", (bad, r.text)
    # the lists are cut to the page size too
    server.set_hosts("web", "prod", ["never-a", "never-b", "never-c"])
    p = server.ok("PUT", "/v1/envs/web/prod/deploys/current/progress?limit=2")
    assert p["missingHosts"] == ["never-a", "never-b"]
    assert server.progress("web", "prod")["missingHosts"] == ["never-a", "never-b", "never-c"]


def test_hosts_and_host_tags_pages(server):
    # GET …/hosts and …/host_tags a page of hosts at a time; without limit the whole lists, as before
    server.make_env("web", "prod", maxParallelPct=100)
    server.set_groups("web", "prod", ["web-prod", "web-extra"])
    hosts = [Host(server, "t%02d" % i, groups=["web-prod"] + (["web-extra"] if i % 3 == 0 else []),
                  zone="zone-%d" % (i % 2), tags={"rack": "r%d" % (i % 3)}) for i in (4, 1, 8, 0, 6, 2, 7, 3, 5)]
    d = server.deploy("web", "prod", server.publish()["id"])
    for h in hosts:
        h.ping()

    whole = server.ok("GET", "/v1/envs/web/prod/hosts")
    assert len(whole) == 9 + 3  # t00, t03 and t06 are in both groups: a row each
    got, after, names = [], None, []
    while True:
        page = server.ok("GET", "/v1/envs/web/prod/hosts?limit=4" + ("&after=" + after if after else ""))
        page_names = sorted({h["hostName"] for h in page})
        names.append(page_names)
        got += page
        if len(page_names) < 4:
            break
        after = page_names[-1]
    # every row of a host is on the page of its name: the pages are the whole list, in its order
    assert names == [["t00", "t01", "t02", "t03"], ["t04", "t05", "t06", "t07"], ["t08"]]
    assert [(h["hostName"], h["groupName"]) for h in got] == [(h["hostName"], h["groupName"]) for h in whole]

    tags = server.ok("GET", "/v1/envs/web/prod/host_tags")
    key = lambda t: (t["hostName"], t["tagName"])  # noqa: E731
    got, after, nexts = [], None, []
    while True:
        ans = server.ok("GET", "/v1/envs/web/prod/host_tags?limit=4" + ("&after=" + after if after else ""))
        got += ans["tags"]
        nexts.append(ans["next"])
        if ans["next"] is None:
            break
        after = ans["next"]
    assert nexts == ["t03", "t07", None]
    assert [key(t) for t in got] == sorted(key(t) for t in tags) and len(got) == 18
    assert sorted(got, key=key) == sorted(tags, key=key)
    zone = server.ok("GET", "/v1/envs/web/prod/host_tags/availabilityZone?limit=4&after=t03")
    assert zone["next"] == "t07"
    assert {v: [t["hostName"] for t in ts] for v, ts in zone["tags"].items()} == \
        {"zone-0": ["t04", "t06"], "zone-1": ["t05", "t07"]}
    for path in ("/v1/envs/web/prod/hosts?", "/v1/envs/web/prod/host_tags?", "/v1/envs/web/prod/host_tags/rack?"):
        for bad, field in (("limit=0", "limit"), ("after=t01", "after")):
            r = server.req("GET", path + bad)
            assert r.status_code == 400 and r.json()["field"] == field, (path, bad, r.text)
    assert d
