# SPDX-License-Identifier: Apache-2.0
# Deploy-route inputs over HTTP (PROTOCOL §4.5, §7.2; validated by api/deploy_input.c, fuzzed by
# tests/fuzz/fuzz-deploy-actions.c): query values that are not UTF-8, bounds of description and of
# the hostactions array, and acceptance bodies; every refusal is a 400 JSON error naming the field,
# and nothing is created or changed by a refused request.
import os
import sys

HERE = os.path.dirname(__file__)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "server"))
from srv_support import assert_error, make_env, publish  # noqa: E402


def deploys(s):
    return s.get("/v1/deploys").json()["total"]


def test_deploy_query_values(server):
    s = server
    make_env(s, "web", "prod")
    b = publish(s)
    base = "/v1/envs/web/prod/deploys?buildId=" + b["id"]
    # percent-decoded bytes that are not UTF-8: refused, not stored, not echoed into the JSON error
    assert_error(s.post(base + "&description=%FF%FE"), 400, "description")
    assert_error(s.post(base + "&description=" + "d" * 2049), 400, "description")
    body = assert_error(s.post(base + "&deliveryType=%C3"), 400, "deliveryType")
    assert "not UTF-8" in body["message"]
    assert_error(s.post("/v1/envs/web/prod/deploys?buildId="), 400, "buildId")
    assert deploys(s) == 0
    d = s.post(base + "&description=d%C3%A9ploy+" + "d" * 2000).json()
    assert d["description"].startswith("d\u00e9ploy ")

    act = "/v1/envs/web/prod/deploys/current/actions?actionType="
    body = assert_error(s.post(act + "%FF%FE"), 400, "actionType")
    assert "not UTF-8" in body["message"]
    assert_error(s.post(act), 400, "actionType")
    assert_error(s.post(act + "PROMOTE&fromDeployId="), 400, "fromDeployId")
    assert_error(s.post(act + "RESTART&description=%80"), 400, "description")
    assert_error(s.post(act + "PAUSE&force=1"), 400, "force")
    assert s.get("/v1/envs/web/prod").json()["envState"] == "NORMAL"
    assert deploys(s) == 1
    # valid: lower-case action names work
    r = s.post(act + "restart&description=again")
    assert r.status_code == 201, r.text
    assert r.json()["type"] == "RESTART" and r.json()["description"] == "again"


def test_hostactions_and_acceptance_bodies(server):
    s = server
    make_env(s, "web", "prod")
    d = s.post("/v1/envs/web/prod/deploys?buildId=" + publish(s)["id"]).json()
    ha = "/v1/envs/web/prod/deploys/hostactions?actionType="
    assert s.put(ha + "PAUSED_BY_USER", json=["i-%d" % i for i in range(10000)]).status_code == 204
    body = assert_error(s.put(ha + "PAUSED_BY_USER", json=["i-%d" % i for i in range(10001)]), 400)
    assert "10000" in body["message"]
    assert_error(s.put(ha + "RESET", json=["i-1", "not a host"]), 400, "[1]")
    assert_error(s.put(ha + "RESET", data=b"", headers={"Content-Type": "application/json"}), 400)
    assert_error(s.put(ha + "%FF", json=["i-1"]), 400, "actionType")

    url = "/v1/deploys/" + d["id"]
    assert_error(s.put(url, json={"acceptanceStatus": "ACCEPTED", "description": "a\u0000b"}), 400, "description")
    assert_error(s.put(url, json={"acceptanceStatus": "ACCEPTED", "description": "x" * 2049}), 400, "description")
    assert_error(s.put(url, json={"acceptanceStatus": ["ACCEPTED"]}), 400, "acceptanceStatus")
    body = assert_error(s.put(url, json={"acceptanceStatus": "OUTSTANDING"}), 400, "acceptanceStatus")
    assert "OUTSTANDING" in body["message"]
    assert_error(s.put(url, json=[]), 400)
    assert s.get(url).json()["acceptanceStatus"] == "PENDING_DEPLOY"
    assert s.put(url, json={"acceptanceStatus": "rejected", "description": "qa said no",
                            "state": "SUCCEEDED"}).status_code == 204
    got = s.get(url).json()
    assert got["acceptanceStatus"] == "REJECTED" and got["description"] == "qa said no"
    assert got["state"] != "SUCCEEDED"


def test_non_utf8_values_echoed_in_errors_get_an_answer(server):
    """An error message that quotes a request value which is not UTF-8 is still answered (the
    value made ASCII), instead of leaving the client waiting for the connection timeout."""
    s = server
    make_env(s, "web", "prod")
    for path, field in [("/v1/deploys?deployState=%FF%FEx", "deployState"), ("/v1/envs?stageType=%C3", None)]:
        r = s.get(path)
        body = assert_error(r, 400, field)
        assert "\ufffd" not in body["message"]
