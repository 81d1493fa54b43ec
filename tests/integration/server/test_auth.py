# SPDX-License-Identifier: Apache-2.0
# slipway-server authentication and authorisation (§9): hashed tokens, expiry, scopes, roles.
import hashlib
import os
import sys
import time

import requests

sys.path.insert(0, os.path.dirname(__file__))
from srv_support import assert_error, db_query, make_env  # noqa: E402


def add_token(server, name, role, type_="ENV", resource="web", expire=None):
    token = "tok-" + name
    db_query(server, "INSERT INTO tokens(id, name, resource, type, role, expireDate, tokenHash, createDate) "
             "VALUES(?,?,?,?,?,?,?,?)", (name, name, resource, type_, role, expire,
                                         hashlib.sha256(token.encode()).hexdigest(), 1))
    return token


def test_tokens_are_hashed_and_expire(server_factory):
    s = server_factory().start()
    rows = db_query(s, "SELECT name, tokenHash FROM tokens")
    assert rows == [("bootstrap-admin", hashlib.sha256(s.token.encode()).hexdigest())]
    expired = add_token(s, "old", "ADMIN", "SYSTEM", "*", expire=int(time.time() * 1000) - 1000)
    body = assert_error(s.get("/v1/envs", token=expired), 401)
    assert "expired" in body["message"]
    never = add_token(s, "never", "READER", "SYSTEM", "*", expire=0)
    assert s.get("/v1/envs", token=never).status_code == 200
    assert_error(s.get("/v1/envs", auth=False, headers={"Authorization": "token " + "x" * 300}), 401)


def test_env_scoped_tokens(server_factory):
    s = server_factory().start()
    make_env(s, "web", "prod")
    make_env(s, "api", "prod")
    op = add_token(s, "web-op", "OPERATOR")
    reader = add_token(s, "reader", "READER", "SYSTEM", "*")
    pinger = add_token(s, "pinger", "PINGER", "SYSTEM", "*")
    legacy = add_token(s, "legacy", "EXECUTE")
    assert s.put("/v1/envs/web/prod", token=op, json={"maxParallel": 2}).status_code == 204
    assert s.put("/v1/envs/web/prod", token=legacy, json={"maxParallel": 3}).status_code == 204
    assert_error(s.put("/v1/envs/api/prod", token=op, json={"maxParallel": 2}), 403)
    # a new stage of its env is fine, a new env name needs SYSTEM scope
    assert s.post("/v1/envs", token=op, json={"envName": "web", "stageName": "canary"}).status_code == 201
    assert_error(s.post("/v1/envs", token=op, json={"envName": "new", "stageName": "prod"}), 403)
    # signingKey and systemPriority need ADMIN
    assert_error(s.put("/v1/envs/web/prod", token=op, json={"systemPriority": 5}), 403)
    assert_error(s.put("/v1/envs/web/prod", token=op, json={"signingKey": "A" * 43 + "="}), 403)
    assert s.put("/v1/envs/web/prod", json={"systemPriority": 5}).status_code == 204
    # readers read; PINGER and PUBLISHER are siblings
    assert s.get("/v1/envs/web/prod", token=reader).json()["maxParallel"] == 3
    assert_error(s.put("/v1/envs/web/prod", token=reader, json={"maxParallel": 9}), 403)
    assert_error(s.post("/v1/builds", token=pinger, json={}), 403)
    assert_error(s.delete("/v1/builds/x_1234567", token=op), 403)
    assert s.get("/v1/envs/web/prod").json()["maxParallel"] == 3
    assert requests.get(s.url + "/v1/envs").status_code == 401


def test_clone_capacity_to_another_env_needs_system_admin(server_factory):
    s = server_factory().start()
    make_env(s, "web", "prod")
    base = "/v1/envs/web/prod"
    assert s.put(base + "/capacity?capacityType=HOST", json=["web-1"]).status_code == 204
    op = add_token(s, "sys-op", "OPERATOR", "SYSTEM", "*")
    n = len(s.get("/v1/envs").json())
    body = assert_error(s.post(base + "/clone", token=op, json={"envName": "api", "stageName": "prod"}), 403)
    assert body.get("field") == "capacity" and "ADMIN" in body["message"]
    assert len(s.get("/v1/envs").json()) == n  # nothing created
    # the same operator may clone without the capacity, or within the env with it
    assert s.post(base + "/clone", token=op, json={"envName": "api", "stageName": "prod", "capacity": False}).status_code == 201
    assert s.get("/v1/envs/api/prod/capacity?capacityType=HOST").json() == []
    assert s.post(base + "/clone", token=op, json={"envName": "web", "stageName": "prod2"}).status_code == 201
    assert s.get("/v1/envs/web/prod2/capacity?capacityType=HOST").json() == ["web-1"]
    # a SYSTEM ADMIN may hand the capacity to another env
    assert s.post(base + "/clone", json={"envName": "ops", "stageName": "prod"}).status_code == 201
    assert s.get("/v1/envs/ops/prod/capacity?capacityType=HOST").json() == ["web-1"]
