# SPDX-License-Identifier: Apache-2.0
# slipway-server auto-promoter (PROTOCOL §8.2) with promote_period=1.
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from srv_support import make_env, publish, wait_for  # noqa: E402


def current(s, stage):
    r = s.get("/v1/envs/web/%s/deploys/current" % stage)
    return r.json() if r.status_code == 200 else None


def test_promote_from_build_and_stage(server_factory):
    s = server_factory(["--set", "promote_period=1", "transition_period=3600"]).start()
    make_env(s, stage="canary", branch="main")  # builds of other branches are not promoted
    make_env(s, stage="prod")
    publish(s, commit="9999999x", branch="feature")
    assert s.put("/v1/envs/web/canary/promotes", json={"type": "AUTO", "predStage": "BUILD"}).status_code == 204
    assert s.put("/v1/envs/web/prod/promotes", json={"type": "AUTO", "predStage": "canary",
                                                     "failPolicy": "DISABLE"}).status_code == 204
    b1 = publish(s, commit="aaaaaaa1")
    c1 = wait_for(lambda: current(s, "canary"))
    assert c1["buildId"] == b1["id"] and c1["operator"] == "AutoPromoter"
    assert c1["description"] == "Auto promote build " + b1["id"]
    # the canary deploy is not accepted yet: a newer build waits
    b2 = publish(s, commit="bbbbbbb2")
    time.sleep(2.5)
    assert current(s, "canary")["id"] == c1["id"]
    assert current(s, "prod") is None
    # accepting it lets prod promote it, and canary move on to b2
    assert s.put("/v1/deploys/" + c1["id"], json={"acceptanceStatus": "ACCEPTED"}).status_code == 204
    p1 = wait_for(lambda: current(s, "prod"))
    assert p1["fromDeployId"] == c1["id"] and p1["buildId"] == b1["id"] and p1["operator"] == "AutoPromoter"
    c2 = wait_for(lambda: (lambda c: c if c and c["buildId"] == b2["id"] else None)(current(s, "canary")))
    assert s.get("/v1/envs/web/canary/promotes").json()["type"] == "AUTO"
    # prod's deploy rejected with failPolicy DISABLE: auto-promote turns MANUAL
    assert s.put("/v1/deploys/" + p1["id"], json={"acceptanceStatus": "REJECTED"}).status_code == 204
    wait_for(lambda: s.get("/v1/envs/web/prod/promotes").json()["type"] == "MANUAL")
    assert s.put("/v1/deploys/" + c2["id"], json={"acceptanceStatus": "ACCEPTED"}).status_code == 204
    time.sleep(2.5)
    assert current(s, "prod")["id"] == p1["id"]


def test_bad_builds_and_disabled_stages_are_skipped(server_factory):
    s = server_factory(["--set", "promote_period=1", "transition_period=3600"]).start()
    make_env(s, stage="canary")
    bad = publish(s, commit="aaaaaaa1")
    assert s.post("/v1/tags", json={"value": "BAD_BUILD", "targetType": "BUILD", "targetId": bad["id"]}
                  ).status_code == 201
    assert s.post("/v1/envs/web/canary/actions?actionType=DISABLE&description=freeze").status_code == 204
    assert s.put("/v1/envs/web/canary/promotes", json={"type": "AUTO", "predStage": "BUILD"}).status_code == 204
    time.sleep(2.5)
    assert current(s, "canary") is None
    assert s.post("/v1/envs/web/canary/actions?actionType=ENABLE&description=go").status_code == 204
    time.sleep(2.5)
    assert current(s, "canary") is None  # the only build is BAD_BUILD
    good = publish(s, commit="ccccccc3", branch="other")
    assert s.put("/v1/envs/web/canary", json={"branch": "other"}).status_code == 204
    c = wait_for(lambda: current(s, "canary"))
    assert c["buildId"] == good["id"]


def test_auto_without_pred_stage_is_accepted_and_never_promotes(server_factory):
    """Upstream's board sends {"type": "AUTO", "disablePolicy": "AUTO"} without predStage: accepted, never promotes."""
    s = server_factory(["--set", "promote_period=1", "transition_period=3600"]).start()
    make_env(s, stage="canary")
    make_env(s, stage="prod")
    r = s.put("/v1/envs/web/prod/promotes", json={"type": "AUTO", "disablePolicy": "AUTO"})
    assert r.status_code == 204, r.text
    p = s.get("/v1/envs/web/prod/promotes").json()
    assert p["type"] == "AUTO" and p["predStage"] is None and p["disablePolicy"] == "AUTO"
    b = publish(s, commit="aaaaaaa1")
    c = s.post("/v1/envs/web/canary/deploys?buildId=" + b["id"]).json()
    assert s.put("/v1/deploys/" + c["id"], json={"acceptanceStatus": "ACCEPTED"}).status_code == 204
    time.sleep(2.5)  # two promoter periods: nothing may appear
    assert current(s, "prod") is None
    assert s.get("/v1/envs/web/prod/promotes").json()["type"] == "AUTO"
