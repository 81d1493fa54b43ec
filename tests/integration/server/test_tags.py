# SPDX-License-Identifier: Apache-2.0
# slipway-server tags and env ENABLE/DISABLE (PROTOCOL §4.3, §4.9).
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from srv_support import assert_error, make_env, publish  # noqa: E402


def test_build_tags_and_effective_tag(server):
    make_env(server)
    b1 = publish(server, commit="aaaaaaa1", commitDate=1000)
    b2 = publish(server, commit="bbbbbbb2", commitDate=2000)
    b3 = publish(server, commit="ccccccc3", commitDate=3000)
    other = publish(server, commit="ddddddd4", commitDate=2500, branch="feature")
    r = server.post("/v1/tags", json={"value": "bad_build", "targetType": "BUILD", "targetId": b2["id"],
                                      "comments": "broken"})
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["targetId"] == "web" and t["value"] == "BAD_BUILD" and t["operator"] == "bootstrap-admin"
    assert b2["id"] in t["metaInfo"]
    assert server.get("/v1/tags/" + t["id"]).json() == t
    assert server.get("/v1/builds/%s/tags" % b1["id"]).json()["tag"] is None
    assert server.get("/v1/builds/%s/tags" % b3["id"]).json()["tag"]["id"] == t["id"]
    assert server.get("/v1/builds/%s/tags" % other["id"]).json()["tag"] is None
    bt = server.get("/v1/builds/tags?name=web").json()
    assert [x["tag"]["id"] if x["tag"] else None for x in bt] == [None, t["id"], t["id"], None]
    assert_error(server.post("/v1/envs/web/prod/deploys?buildId=" + b3["id"]), 409)
    # a newer GOOD tag overrides for later builds
    g = server.post("/v1/tags", json={"value": "GOOD_BUILD", "targetType": "BUILD", "targetId": b3["id"]}).json()
    assert server.get("/v1/builds/%s/tags" % b3["id"]).json()["tag"]["id"] == g["id"]
    assert server.post("/v1/envs/web/prod/deploys?buildId=" + b3["id"]).status_code == 201
    assert [x["id"] for x in server.get("/v1/tags/targets/web").json()] == [g["id"], t["id"]]
    assert server.get("/v1/tags/targets/web/latest").json()["id"] == g["id"]
    assert [x["id"] for x in server.get("/v1/tags/values/BAD_BUILD").json()] == [t["id"]]
    assert server.delete("/v1/tags/" + t["id"]).status_code == 204
    assert_error(server.get("/v1/tags/" + t["id"]), 404)
    assert server.post("/v1/envs/web/prod/deploys?buildId=" + b2["id"]).status_code == 201


def test_tag_bad_input(server):
    b = publish(server)
    for body, field in [({"targetType": "BUILD", "targetId": b["id"]}, "value"),
                        ({"value": "MEH", "targetType": "BUILD", "targetId": b["id"]}, "value"),
                        ({"value": "BAD_BUILD", "targetType": "ROCK", "targetId": b["id"]}, "targetType"),
                        ({"value": "BAD_BUILD", "targetType": "BUILD"}, "targetId")]:
        assert_error(server.post("/v1/tags", json=body), 400, field)
    assert_error(server.post("/v1/tags", json={"value": "BAD_BUILD", "targetType": "BUILD",
                                               "targetId": "nope_1234567"}), 404)
    assert_error(server.post("/v1/tags", data="{x"), 400)
    assert_error(server.get("/v1/tags/values/NOPE"), 400, "value")
    assert_error(server.get("/v1/tags/targets/none/latest"), 404)
    assert server.get("/v1/tags/values/BAD_BUILD").json() == []


def test_env_enable_disable_blocks_promote(server):
    make_env(server, stage="canary")
    prod = make_env(server, stage="prod")
    b = publish(server)
    c = server.post("/v1/envs/web/canary/deploys?buildId=" + b["id"]).json()
    promote = "/v1/envs/web/prod/deploys/current/actions?actionType=PROMOTE&fromDeployId=" + c["id"]
    assert_error(server.post("/v1/envs/web/prod/actions?actionType=DISABLE"), 400, "description")
    assert_error(server.post("/v1/envs/web/prod/actions?actionType=NAP&description=x"), 400, "actionType")
    assert server.post("/v1/envs/web/prod/actions?actionType=DISABLE&description=freeze").status_code == 204
    assert server.get("/v1/envs/web/prod").json()["state"] == "DISABLED"
    assert server.get("/v1/tags/targets/%s/latest" % prod["id"]).json()["value"] == "DISABLE_ENV"
    assert_error(server.post(promote), 409)
    assert server.post("/v1/envs/web/prod/actions?actionType=enable&description=thaw").status_code == 204
    assert server.post(promote).status_code == 201
    # global disable: every stage, and a TELETRAAN tag blocks promotion
    assert server.post("/v1/envs/actions?actionType=DISABLE&description=all").status_code == 204
    assert {e["state"] for e in server.get("/v1/envs").json()} == {"DISABLED"}
    assert server.post("/v1/envs/web/prod/actions?actionType=ENABLE&description=one").status_code == 204
    assert_error(server.post(promote), 409)
    assert server.post("/v1/envs/actions?actionType=ENABLE&description=all").status_code == 204
    assert server.post(promote).status_code == 201
    types = [h["type"] for h in server.get("/v1/envs/web/prod/history").json()]
    assert types.count("Env Action") >= 6
