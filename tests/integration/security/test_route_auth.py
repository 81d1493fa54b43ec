# SPDX-License-Identifier: Apache-2.0
# Walks the server's one route table (slipway-server --dump-routes) and checks, for EVERY route, the
# authorisation layer (PROTOCOL §9): no token → 401; a role below the declared one → 403; an ENV
# token of another env (ENV routes) or any ENV token (SYSTEM routes) → 403, each with the JSON error
# body; the declared role (at SYSTEM scope, and on the env for ENV routes) passes the layer.
import json
import os
import re
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "server"))
from srv_support import SERVER_BIN, assert_error, make_env  # noqa: E402

ROLES = ["READER", "PINGER", "PUBLISHER", "OPERATOR", "ADMIN"]
# a role that does not satisfy the key (§9.3: PINGER and PUBLISHER are siblings)
LOWER = {"PINGER": ["READER", "PUBLISHER"], "PUBLISHER": ["READER", "PINGER"],
         "OPERATOR": ["PUBLISHER", "PINGER"], "ADMIN": ["OPERATOR"], "READER": []}
PARAMS = {"env": "web", "stage": "prod", "name": "nobody", "value": "BAD_BUILD"}


def routes():
    out = subprocess.run([SERVER_BIN, "--dump-routes"], check=True, capture_output=True, text=True, timeout=30)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def concrete(pattern):
    return re.sub(r"\{([A-Za-z]+)\}", lambda m: PARAMS.get(m.group(1), "x1"), pattern)


def call(s, route, token=None, auth=True, **kw):
    if route["method"] in ("POST", "PUT"):
        kw["json"] = {}
    return s.req(route["method"], concrete(route["path"]), token=token, auth=auth, **kw)


def test_dump_routes_is_complete():
    table = routes()
    assert len(table) > 100
    keys = [(r["method"], r["path"]) for r in table]
    assert len(keys) == len(set(keys)), "duplicate routes"
    for r in table:
        assert r["role"] in ROLES and r["scope"] in ("PUBLIC", "ANY", "SYSTEM", "ENV", "NEW_ENV"), r
        if r["scope"] == "ENV":
            assert "{env}" in r["path"], r
    # the security endpoints are declared with their roles (§4.10)
    want = {("GET", "/v1/system/token_roles"): ("ADMIN", "SYSTEM"),
            ("POST", "/v1/envs/{env}/token_roles"): ("ADMIN", "ENV"),
            ("DELETE", "/v1/system/user_roles/{name}"): ("ADMIN", "SYSTEM"),
            ("GET", "/v1/envs/{env}/group_roles"): ("READER", "ANY"),
            ("GET", "/v1/system/whoami"): ("READER", "ANY"),
            ("POST", "/v1/system/ping"): ("PINGER", "SYSTEM")}
    got = {(r["method"], r["path"]): (r["role"], r["scope"]) for r in table}
    for k, v in want.items():
        assert got.get(k) == v, k


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    from srv_support import Server
    s = Server(tmp_path_factory.mktemp("routeauth"), ["--set", "log_level=error"]).start()
    try:
        make_env(s, "web", "prod")
        # a second stage: deleting web/prod (a DELETE route below) must not be deleting web's last
        # stage, which would take web's tokens with it
        make_env(s, "web", "dev")
        make_env(s, "api", "prod")
        toks = {}
        for role in ROLES:
            r = s.post("/v1/system/token_roles", json={"name": "sys-" + role.lower(), "role": role})
            assert r.status_code == 201, r.text
            toks[("SYSTEM", role)] = r.json()["token"]
            r = s.post("/v1/envs/web/token_roles", json={"name": "web-" + role.lower(), "role": role})
            assert r.status_code == 201, r.text
            toks[("web", role)] = r.json()["token"]
        r = s.post("/v1/envs/api/token_roles", json={"name": "api-admin", "role": "ADMIN"})
        toks[("api", "ADMIN")] = r.json()["token"]
        yield s, toks
    finally:
        s.stop()


def test_every_route_denies_without_credentials(fleet):
    s, _ = fleet
    for route in routes():
        resp = call(s, route, auth=False)
        if route["scope"] == "PUBLIC" and route["path"] != "/metrics":
            assert resp.status_code not in (401, 403), route
            continue
        # /metrics is declared PUBLIC because public_metrics may open it; by default it needs READER
        assert_error(resp, 401)
        resp = call(s, route, auth=False, headers={"Authorization": "token not-a-token"})
        assert_error(resp, 401)


def test_every_route_denies_a_lower_role(fleet):
    s, toks = fleet
    checked = 0
    for route in routes():
        if route["scope"] == "PUBLIC":
            continue
        for low in LOWER[route["role"]]:
            body = assert_error(call(s, route, token=toks[("SYSTEM", low)]), 403)
            assert "needs role" in body["message"], (route, body)
            checked += 1
    assert checked > 50


def test_every_route_denies_the_wrong_scope(fleet):
    s, toks = fleet
    checked = 0
    for route in routes():
        if route["scope"] == "ENV":
            # an ADMIN of another env may do nothing here
            assert_error(call(s, route, token=toks[("api", "ADMIN")]), 403)
            checked += 1
        elif route["scope"] == "SYSTEM":
            assert_error(call(s, route, token=toks[("web", "ADMIN")]), 403)
            checked += 1
    assert checked > 30


def test_every_route_admits_its_role(fleet):
    s, toks = fleet
    table = routes()
    # destructive calls last, so the env exists for the others
    table.sort(key=lambda r: r["method"] == "DELETE")
    for route in table:
        if route["scope"] == "PUBLIC":
            continue
        resp = call(s, route, token=toks[("SYSTEM", route["role"])])
        assert resp.status_code not in (401, 403), (route, resp.status_code, resp.text)
        if resp.status_code >= 400:
            assert resp.json()["code"] == resp.status_code
        if route["scope"] == "ENV":
            resp = call(s, route, token=toks[("web", route["role"])])
            assert resp.status_code not in (401, 403), (route, resp.status_code, resp.text)
