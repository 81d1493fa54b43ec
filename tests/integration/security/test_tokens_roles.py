# SPDX-License-Identifier: Apache-2.0
# token_roles, user_roles, group_roles, whoami (PROTOCOL §4.10, §4.1) and users behind a trusted
# proxy (§9.1, §9.5).
import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "server"))
from srv_support import BUILD, assert_error, db_query, make_env  # noqa: E402

DAY_MS = 24 * 3600 * 1000


def test_system_token_lifecycle(server):
    s = server
    now = int(time.time() * 1000)
    r = s.post("/v1/system/token_roles", json={"name": "ci", "role": "publisher"})
    assert r.status_code == 201, r.text
    t = r.json()
    assert r.headers["Location"].endswith("/v1/system/token_roles/ci")
    assert t["name"] == "ci" and t["type"] == "SYSTEM" and t["resource"] == "*" and t["role"] == "PUBLISHER"
    assert len(t["token"]) == 43
    assert abs(t["expireDate"] - (now + 180 * DAY_MS)) < 60_000
    # stored only as a hash; never shown again
    rows = db_query(s, "SELECT tokenHash FROM tokens WHERE name = 'ci'")
    assert rows == [(hashlib.sha256(t["token"].encode()).hexdigest(),)]
    one = s.get("/v1/system/token_roles/ci").json()
    assert "token" not in one and "tokenHash" not in one and one["role"] == "PUBLISHER"
    listed = s.get("/v1/system/token_roles").json()
    assert sorted(x["name"] for x in listed) == ["bootstrap-admin", "ci"]
    assert all("token" not in x and "tokenHash" not in x for x in listed)
    # the new token works, with its role only
    assert s.get("/v1/envs", token=t["token"]).status_code == 200
    assert_error(s.get("/v1/system/token_roles", token=t["token"]), 403)
    who = s.get("/v1/system/whoami", token=t["token"]).json()
    assert who == {"name": "ci", "kind": "TOKEN", "roles": [{"type": "SYSTEM", "resource": "*",
                                                             "role": "PUBLISHER"}]}
    # duplicate name → 409
    assert_error(s.post("/v1/system/token_roles", json={"name": "ci", "role": "READER"}), 409)
    # aliases map; bad input is a 400 naming the field
    assert_error(s.post("/v1/system/token_roles", json={"name": "x", "role": "ROOT"}), 400, "role")
    assert_error(s.post("/v1/system/token_roles", json={"name": "bad name", "role": "READER"}), 400, "name")
    assert_error(s.post("/v1/system/token_roles", json={"role": "READER"}), 400, "name")
    r = s.post("/v1/system/token_roles", json={"name": "legacy", "role": "MANAGE_SCRIPT_TOKEN", "expireDate": 0})
    assert r.status_code == 201 and r.json()["role"] == "ADMIN" and r.json()["expireDate"] is None
    # PUT patches role / expireDate; expiry is enforced
    assert s.put("/v1/system/token_roles/ci", json={"role": "EXECUTE"}).status_code == 204
    assert s.get("/v1/system/token_roles/ci").json()["role"] == "OPERATOR"
    assert s.put("/v1/system/token_roles/ci", json={"expireDate": now - 1000}).status_code == 204
    body = assert_error(s.get("/v1/envs", token=t["token"]), 401)
    assert "expired" in body["message"]
    assert s.put("/v1/system/token_roles/ci", json={"expireDate": -1}).status_code == 204
    assert s.get("/v1/system/token_roles/ci").json()["expireDate"] is None
    assert s.get("/v1/envs", token=t["token"]).status_code == 200
    assert_error(s.put("/v1/system/token_roles/nope", json={"role": "READER"}), 404)
    # DELETE revokes at once
    assert s.delete("/v1/system/token_roles/ci").status_code == 204
    assert_error(s.get("/v1/envs", token=t["token"]), 401)
    assert_error(s.delete("/v1/system/token_roles/ci"), 404)
    assert_error(s.get("/v1/system/token_roles/ci"), 404)


def test_env_tokens_are_scoped(server):
    s = server
    make_env(s, "web", "prod")
    make_env(s, "api", "prod")
    assert_error(s.post("/v1/envs/nope/token_roles", json={"name": "x", "role": "ADMIN"}), 404)
    r = s.post("/v1/envs/web/token_roles", json={"name": "web-admin", "role": "ADMIN"})
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["type"] == "ENV" and t["resource"] == "web"
    assert r.headers["Location"].endswith("/v1/envs/web/token_roles/web-admin")
    # the same name in another env is another token
    assert s.post("/v1/envs/api/token_roles", json={"name": "web-admin", "role": "READER"}).status_code == 201
    assert [x["name"] for x in s.get("/v1/envs/web/token_roles").json()] == ["web-admin"]
    tok = t["token"]
    # an env ADMIN manages its env's tokens and users, nothing else
    r = s.post("/v1/envs/web/token_roles", token=tok, json={"name": "deployer", "role": "OPERATOR"})
    assert r.status_code == 201
    assert_error(s.get("/v1/envs/api/token_roles", token=tok), 403)
    assert_error(s.get("/v1/system/token_roles", token=tok), 403)
    assert_error(s.post("/v1/system/token_roles", token=tok, json={"name": "x", "role": "ADMIN"}), 403)
    assert s.put("/v1/envs/web/prod", token=tok, json={"systemPriority": 3}).status_code == 204
    assert_error(s.put("/v1/envs/api/prod", token=tok, json={"maxParallel": 3}), 403)
    assert s.post("/v1/envs/web/user_roles", token=tok, json={"name": "bob", "role": "OPERATOR"}).status_code == 201
    assert_error(s.post("/v1/envs/api/user_roles", token=tok, json={"name": "bob", "role": "OPERATOR"}), 403)


def test_user_and_group_role_crud(server):
    s = server
    make_env(s, "web", "prod")
    for kind in ("user_roles", "group_roles"):
        for base in ("/v1/system/" + kind, "/v1/envs/web/" + kind):
            name = "ops-team" if kind == "group_roles" else "alice@example.com"
            r = s.post(base, json={"name": name, "role": "read"})
            assert r.status_code == 201, r.text
            assert r.json()["role"] == "READER" and r.headers["Location"].endswith(base + "/" + name)
            assert_error(s.post(base, json={"name": name, "role": "ADMIN"}), 409)
            assert_error(s.post(base, json={"name": name}), 400, "role")
            assert s.put(base + "/" + name, json={"role": "OPERATOR"}).status_code == 204
            got = s.get(base + "/" + name).json()
            assert got["role"] == "OPERATOR" and got["name"] == name
            assert got["type"] == ("SYSTEM" if "system" in base else "ENV")
            assert [x["name"] for x in s.get(base).json()] == [name]
            assert s.delete(base + "/" + name).status_code == 204
            assert_error(s.get(base + "/" + name), 404)
            assert s.get(base).json() == []


def proxy_server(server_factory, extra=()):
    return server_factory(["--set", "trusted_user_header=X-Forwarded-User",
                           "trusted_groups_header=X-Forwarded-Groups", "trusted_proxies=10.0.0.0/8,127.0.0.1"]
                          + list(extra)).start()


def test_trusted_proxy_users(server_factory):
    # env_self_service: users create envs themselves (without it that needs SYSTEM OPERATOR, test_env_scope.py)
    s = proxy_server(server_factory, ["--set", "env_self_service=true"])
    make_env(s, "web", "prod")
    alice = {"X-Forwarded-User": "alice"}
    who = s.get("/v1/system/whoami", auth=False, headers=alice).json()
    assert who == {"name": "alice", "kind": "USER", "roles": [{"type": "SYSTEM", "resource": "*",
                                                               "role": "READER"}]}
    # default READER reads, cannot change
    assert s.get("/v1/envs/web/prod", auth=False, headers=alice).status_code == 200
    assert_error(s.put("/v1/envs/web/prod", auth=False, headers=alice, json={"maxParallel": 2}), 403)
    # a group binding on the env gives OPERATOR there
    assert s.post("/v1/envs/web/group_roles", json={"name": "web-ops", "role": "OPERATOR"}).status_code == 201
    hdr = {"X-Forwarded-User": "alice", "X-Forwarded-Groups": "staff, web-ops"}
    assert s.put("/v1/envs/web/prod", auth=False, headers=hdr, json={"maxParallel": 2}).status_code == 204
    hist = s.get("/v1/envs/web/prod/history").json()
    assert hist[0]["operator"] == "alice"
    who = s.get("/v1/system/whoami", auth=False, headers=hdr).json()
    assert {"type": "ENV", "resource": "web", "role": "OPERATOR", "group": "web-ops"} in who["roles"]
    # a user binding at SYSTEM scope
    assert s.post("/v1/system/user_roles", json={"name": "bob", "role": "PUBLISHER"}).status_code == 201
    r = s.post("/v1/builds", auth=False, headers={"X-Forwarded-User": "bob"},
               json=dict(BUILD, publisher="mallory"))
    assert r.status_code == 201, r.text
    assert r.json()["publisher"] == "bob"   # never the body's value
    # any user may create a NEW env and becomes its ADMIN; an existing env needs OPERATOR on it
    carol = {"X-Forwarded-User": "carol"}
    r = s.post("/v1/envs", auth=False, headers=carol, json={"envName": "carols", "stageName": "dev"})
    assert r.status_code == 201, r.text
    assert s.get("/v1/envs/carols/user_roles/carol").json()["role"] == "ADMIN"
    assert s.post("/v1/envs", auth=False, headers=carol,
                  json={"envName": "carols", "stageName": "prod"}).status_code == 201
    assert s.post("/v1/envs/carols/token_roles", auth=False, headers=carol,
                  json={"name": "carol-ci", "role": "OPERATOR"}).status_code == 201
    assert_error(s.post("/v1/envs", auth=False, headers=carol, json={"envName": "web", "stageName": "x"}), 403)
    # a token still wins over the header; a bad user name is 401
    assert s.get("/v1/system/whoami", headers=alice).json()["kind"] == "TOKEN"
    assert_error(s.get("/v1/envs", auth=False, headers={"X-Forwarded-User": "a b/../c"}), 401)


def test_untrusted_proxy_is_ignored(server_factory):
    s = server_factory(["--set", "trusted_user_header=X-Forwarded-User", "trusted_proxies=10.1.2.3, ::1"]).start()
    make_env(s, "web", "prod")
    assert s.post("/v1/system/user_roles", json={"name": "admin", "role": "ADMIN"}).status_code == 201
    # 127.0.0.1 is not a trusted proxy: the header is ignored and the request has no credentials
    assert_error(s.get("/v1/envs", auth=False, headers={"X-Forwarded-User": "admin"}), 401)
    assert_error(s.delete("/v1/envs/web/prod", auth=False, headers={"X-Forwarded-User": "admin"}), 401)


def test_anonymous_publisher(server_factory):
    s = server_factory(["--set", "anonymous_role=PUBLISHER"]).start()
    assert s.get("/healthz").json()["warnings"] == ["anonymous_role is PUBLISHER"]
    assert "anonymous_role is PUBLISHER" in s.logtext()
    r = s.post("/v1/builds", auth=False, json=BUILD)
    assert r.status_code == 201 and r.json()["publisher"] == "anonymous"
    assert s.get("/v1/system/whoami", auth=False).json()["kind"] == "ANONYMOUS"
    assert_error(s.post("/v1/envs", auth=False, json={"envName": "x", "stageName": "y"}), 403)
    # a bad token is never anonymous
    assert_error(s.get("/v1/envs", auth=False, headers={"Authorization": "token nope"}), 401)
    plain = server_factory(name="plain").start()
    assert plain.get("/healthz").json()["warnings"] == []
    assert_error(plain.get("/v1/system/whoami", auth=False), 401)


def test_a_revoked_or_expired_token_is_refused_on_the_next_request_of_a_kept_connection(server):
    # an agent pings over one keep-alive connection with one token for hours: the server remembers what it can of
    # the token between its requests (its hash, the row for a moment), never what it grants past a change
    import http.client
    import json
    import urllib.parse

    s = server
    u = urllib.parse.urlsplit(s.url)
    body = json.dumps({"hostId": "kept-1", "hostName": "kept-1", "hostIp": "10.0.0.9", "groups": [],
                       "agentVersion": "test/1", "reports": []})

    def pinger(name):
        r = s.post("/v1/system/token_roles", json={"name": name, "role": "PINGER"})
        assert r.status_code == 201, r.text
        return r.json()["token"]

    def ping(conn, token, sock=None):
        conn.request("POST", "/v1/system/ping", body=body,
                     headers={"Authorization": "token " + token, "Content-Type": "application/json"})
        assert sock is None or conn.sock is sock  # sent on the kept connection (a refusal then closes it)
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"null")

    def kept_connection(token):
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        for _ in range(3):  # the token's hash and row are remembered by now
            assert ping(conn, token)[0] == 200
        return conn, conn.sock

    # revoked (DELETE), on another connection: the very next request of the kept one is refused
    t = pinger("kept-revoked")
    conn, sock = kept_connection(t)
    assert s.delete("/v1/system/token_roles/kept-revoked").status_code == 204
    status, err = ping(conn, t, sock)
    assert status == 401 and "invalid token" in err["message"], (status, err)
    conn.close()

    # expired by a change of its expiry date
    t = pinger("kept-expired")
    conn, sock = kept_connection(t)
    now = int(time.time() * 1000)
    assert s.put("/v1/system/token_roles/kept-expired", json={"expireDate": now - 1000}).status_code == 204
    status, err = ping(conn, t, sock)
    assert status == 401 and "expired" in err["message"], (status, err)
    conn.close()

    # expired by time alone, while the connection pings on (no change to the table)
    r = s.post("/v1/system/token_roles", json={"name": "kept-short", "role": "PINGER",
                                                "expireDate": int(time.time() * 1000) + 1500})
    assert r.status_code == 201, r.text
    t = r.json()["token"]
    conn, sock = kept_connection(t)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status, err = ping(conn, t, sock)
        if status != 200:
            break
        assert time.time() * 1000 < r.json()["expireDate"] + 1000  # never served past its expiry (+ clock slack)
    assert status == 401 and "expired" in err["message"], (status, err)
    assert time.time() * 1000 >= r.json()["expireDate"]
    conn.close()
