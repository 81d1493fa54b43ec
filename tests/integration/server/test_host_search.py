# SPDX-License-Identifier: Apache-2.0
# slipway-server: host search by partial name (GET /v1/hosts?nameContains= | namePrefix=), paged by name.
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from srv_support import add_agent, assert_error, make_env  # noqa: E402


def names(resp):
    assert resp.status_code == 200, resp.text
    return [h["hostName"] for h in resp.json()["hosts"]]


def test_search_by_prefix_and_substring(server):
    env = make_env(server)
    for i, name in enumerate(["web-1", "web-10", "web-2", "api-web-1", "db-1", "web_1"]):
        add_agent(server, env["id"], "i-%d" % i, name)
    # a second group row of web-1 and a record of a host that never pinged
    assert server.post("/v1/hosts", json={"hostName": "web-1", "hostId": "i-0", "groupName": "g2"}).status_code == 204
    assert server.post("/v1/hosts", json={"hostName": "web-3", "hostId": "i-9", "groupName": "g1"}).status_code == 204

    assert names(server.get("/v1/hosts?namePrefix=web-1")) == ["web-1", "web-10"]
    assert names(server.get("/v1/hosts?nameContains=web-1")) == ["api-web-1", "web-1", "web-10"]
    assert names(server.get("/v1/hosts?namePrefix=web")) == ["web-1", "web-10", "web-2", "web-3", "web_1"]
    assert names(server.get("/v1/hosts?nameContains=b-")) == ["api-web-1", "db-1", "web-1", "web-10", "web-2",
                                                               "web-3"]
    assert names(server.get("/v1/hosts?namePrefix=nothing")) == []
    # case matters, as in host names
    assert names(server.get("/v1/hosts?namePrefix=WEB")) == []
    body = server.get("/v1/hosts?namePrefix=web-").json()
    by_name = {h["hostName"]: h for h in body["hosts"]}
    assert by_name["web-1"]["stages"] == 1 and by_name["web-1"]["lastSeen"] > 0
    assert by_name["web-3"]["stages"] == 0 and by_name["web-3"]["lastSeen"] is None
    assert body["next"] is None


def test_search_pages(server):
    env = make_env(server)
    for i in range(7):
        add_agent(server, env["id"], "i-%d" % i, "node-%02d" % i)
    seen, after = [], None
    for _ in range(4):
        r = server.get("/v1/hosts", params={"nameContains": "ode", "limit": 3, **({"after": after} if after else {})})
        body = r.json()
        seen += [h["hostName"] for h in body["hosts"]]
        after = body["next"]
        if not after:
            break
    assert seen == ["node-%02d" % i for i in range(7)] and after is None
    # a full last page still says where to go on; the page after it is empty
    r = server.get("/v1/hosts?namePrefix=node&limit=7").json()
    assert len(r["hosts"]) == 7 and r["next"] == "node-06"
    assert server.get("/v1/hosts?namePrefix=node&after=node-06").json() == {"hosts": [], "next": None}


def test_search_bad_input(server_factory):
    server = server_factory().start()
    assert_error(server.get("/v1/hosts"), 400, "nameContains")
    assert_error(server.get("/v1/hosts?nameContains=a&namePrefix=b"), 400, "namePrefix")
    assert_error(server.get("/v1/hosts?nameContains="), 400, "nameContains")
    assert_error(server.get("/v1/hosts?namePrefix=a%25b"), 400, "namePrefix")
    assert_error(server.get("/v1/hosts?nameContains=" + "x" * 65), 400, "nameContains")
    assert_error(server.get("/v1/hosts?nameContains=web&limit=0"), 400, "limit")
    assert_error(server.get("/v1/hosts?nameContains=web&limit=201"), 400, "limit")
    assert_error(server.get("/v1/hosts?nameContains=web&limit=ten"), 400, "limit")
    assert_error(server.get("/v1/hosts?nameContains=web&after=a%20b"), 400, "after")
    # readers may search; nobody else
    assert_error(server.get("/v1/hosts?nameContains=web", auth=False), 401)
