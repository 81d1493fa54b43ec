# SPDX-License-Identifier: Apache-2.0
# GET /v1/envs/{env}/{stage}/agents?limit=N&after=NAME: a stage's agent rows a page at a time in host name order
# (the whole list without limit, as before), so a client of a 1,000,000-host stage never needs one giant answer.
from ping_support import Host, ping_round


def test_agents_pages_cover_the_stage_once(server):
    server.make_env("web", "prod")
    server.set_groups("web", "prod", ["web-prod"])
    hosts = [Host(server, "p%02d" % i, groups=["web-prod"]) for i in (7, 3, 11, 0, 5, 9, 1)]
    server.deploy("web", "prod", server.publish()["id"])
    ping_round(hosts)
    whole = server.ok("GET", "/v1/envs/web/prod/agents")
    assert [a["hostName"] for a in whole] == sorted(h.host_id for h in hosts)
    pages, after = [], None
    while True:
        q = "limit=3" + ("&after=" + after if after else "")
        page = server.ok("GET", "/v1/envs/web/prod/agents?" + q)
        pages.append(page)
        if len(page) < 3:
            break
        after = page[-1]["hostName"]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [a for p in pages for a in p] == whole
    for bad, field in (("limit=0", "limit"), ("limit=10001", "limit"), ("limit=x", "limit"),
                       ("after=p03", "after"), ("limit=2&after=no%20such", "after")):
        r = server.req("GET", "/v1/envs/web/prod/agents?" + bad)
        assert r.status_code == 400 and field in r.json()["message"], (bad, r.text)
