# SPDX-License-Identifier: Apache-2.0
# An env is a boundary around hosts: who creates envs (env_self_service), who may put a host or group
# into a stage's capacity when another env (or none) holds it, what an env's publisher may publish, and
# an env's principals going with its last stage; reserved principal names.
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "server"))
from srv_support import BUILD, assert_error, db_query, make_env  # noqa: E402

PROXY = ["--set", "trusted_user_header=X-Forwarded-User", "trusted_groups_header=X-Forwarded-Groups",
         "trusted_proxies=127.0.0.1"]


def token(s, base, name, role):
    r = s.post(base + "/token_roles", json={"name": name, "role": role})
    assert r.status_code == 201, r.text
    return r.json()["token"]


def test_env_creation_needs_system_operator(server_factory):
    s = server_factory(PROXY).start()
    make_env(s, "web", "prod")
    carol = {"X-Forwarded-User": "carol"}
    # a plain signed-in user (default role READER) cannot make an env, nor become anyone's ADMIN
    body = assert_error(s.post("/v1/envs", auth=False, headers=carol, json={"envName": "carols", "stageName": "dev"}),
                        403)
    assert "OPERATOR at SYSTEM scope" in body["message"] and "env_self_service" in body["message"]
    assert s.get("/v1/envs", params={"envName": "carols"}).json() == []
    assert db_query(s, "SELECT name FROM user_roles WHERE resource = 'carols'") == []
    # neither can a READER token, nor an env's OPERATOR (or ADMIN) token make another env
    reader = token(s, "/v1/system", "reader", "READER")
    assert_error(s.post("/v1/envs", token=reader, json={"envName": "r", "stageName": "dev"}), 403)
    web_admin = token(s, "/v1/envs/web", "web-admin", "ADMIN")
    assert_error(s.post("/v1/envs", token=web_admin, json={"envName": "other", "stageName": "dev"}), 403)
    # ... but the env's own new stage, yes
    assert s.post("/v1/envs", token=web_admin, json={"envName": "web", "stageName": "dev"}).status_code == 201
    # a SYSTEM OPERATOR does; a user who is one becomes the new env's ADMIN
    op = token(s, "/v1/system", "sys-op", "OPERATOR")
    assert s.post("/v1/envs", token=op, json={"envName": "ops", "stageName": "prod"}).status_code == 201
    assert s.post("/v1/system/user_roles", json={"name": "dave", "role": "OPERATOR"}).status_code == 201
    r = s.post("/v1/envs", auth=False, headers={"X-Forwarded-User": "dave"}, json={"envName": "daves", "stageName": "a"})
    assert r.status_code == 201, r.text
    assert s.get("/v1/envs/daves/user_roles/dave").json()["role"] == "ADMIN"


def test_env_self_service(server_factory):
    s = server_factory(PROXY + ["--set", "env_self_service=true"]).start()
    carol = {"X-Forwarded-User": "carol"}
    r = s.post("/v1/envs", auth=False, headers=carol, json={"envName": "carols", "stageName": "dev"})
    assert r.status_code == 201, r.text
    assert s.get("/v1/envs/carols/user_roles/carol").json()["role"] == "ADMIN"
    # tokens have their own role: a READER token still cannot
    reader = token(s, "/v1/system", "reader", "READER")
    assert_error(s.post("/v1/envs", token=reader, json={"envName": "r", "stageName": "dev"}), 403)
    # and an existing env still needs OPERATOR on it
    assert_error(s.post("/v1/envs", auth=False, headers={"X-Forwarded-User": "eve"},
                        json={"envName": "carols", "stageName": "x"}), 403)


def capacity(s, env, stage, kind="GROUP"):
    return s.get(f"/v1/envs/{env}/{stage}/capacity", params={"capacityType": kind}).json()


def test_capacity_claims(server):
    s = server
    make_env(s, "teama", "prod")
    make_env(s, "teama", "dev")
    make_env(s, "teamb", "prod")
    for host, group in (("a-1", "a-hosts"), ("a-2", "a-hosts"), ("b-1", "b-hosts")):
        assert s.post("/v1/hosts", json={"hostName": host, "hostId": host, "groupName": group}).status_code == 204
    a_admin = token(s, "/v1/envs/teama", "a-admin", "ADMIN")
    a_op = token(s, "/v1/envs/teama", "a-op", "OPERATOR")
    b_admin = token(s, "/v1/envs/teamb", "b-admin", "ADMIN")
    sys_op = token(s, "/v1/system", "sys-op", "OPERATOR")
    cap = "/v1/envs/%s/%s/capacity"
    # unclaimed: the env's ADMIN claims it; an OPERATOR (even at SYSTEM scope) cannot
    body = assert_error(s.post(cap % ("teama", "prod"), token=a_op, json="a-hosts"), 403)
    assert "a-hosts" in body["message"] and "ADMIN on env teama" in body["message"]
    assert_error(s.post(cap % ("teama", "prod"), token=sys_op, json="a-hosts"), 403)
    assert s.post(cap % ("teama", "prod"), token=a_admin, json="a-hosts").status_code == 204
    # what the env holds, its OPERATOR may add to its other stages (the group, a host of it)
    assert s.post(cap % ("teama", "dev"), token=a_op, json="a-hosts").status_code == 204
    assert s.post(cap % ("teama", "dev") + "?capacityType=HOST", token=a_op, json="a-1").status_code == 204
    # another env's group, or a host of it, is refused to teamb's ADMIN, naming teama
    for kind, name in (("GROUP", "a-hosts"), ("HOST", "a-2")):
        body = assert_error(s.post(cap % ("teamb", "prod") + "?capacityType=" + kind, token=b_admin, json=name), 403)
        assert "'teama'" in body["message"] and name in body["message"] and "SYSTEM" in body["message"]
    # nothing half-applied: a replace with one foreign name writes none of them
    assert_error(s.put(cap % ("teamb", "prod") + "?capacityType=HOST", token=b_admin, json=["b-1", "a-2"]), 403)
    assert capacity(s, "teamb", "prod", "HOST") == []
    assert s.put(cap % ("teamb", "prod") + "?capacityType=HOST", token=b_admin, json=["b-1"]).status_code == 204
    # a host of teamb's cannot be put into teama's group by a SYSTEM OPERATOR (it would join teama)
    body = assert_error(s.post("/v1/hosts", token=sys_op, json={"hostName": "b-1", "hostId": "b-1",
                                                                  "groupName": "a-hosts"}), 403)
    assert "'teamb'" in body["message"]
    assert db_query(s, "SELECT groupName FROM hosts WHERE hostName = 'b-1'") == [("b-hosts",)]
    # removing stays the OPERATOR's; the SYSTEM ADMIN may cross envs
    assert s.delete(cap % ("teama", "dev") + "?capacityType=HOST", token=a_op, json="a-1").status_code == 204
    assert s.post(cap % ("teamb", "prod"), json="a-hosts").status_code == 204
    assert capacity(s, "teamb", "prod") == ["a-hosts"]


def test_env_publisher_publishes_its_builds_only(server_factory):
    s = server_factory(PROXY).start()
    make_env(s, "web", "prod", buildName="web-app")
    make_env(s, "web", "dev", buildName="web-tools")
    make_env(s, "api", "prod", buildName="api-app")
    pub = token(s, "/v1/envs/web", "web-ci", "PUBLISHER")
    for name in ("web-app", "web-tools"):
        r = s.post("/v1/builds", token=pub, json=dict(BUILD, name=name))
        assert r.status_code == 201, r.text
    body = assert_error(s.post("/v1/builds", token=pub, json=dict(BUILD, name="api-app")), 403, "name")
    assert "'api-app'" in body["message"]
    # an env OPERATOR token publishes under the same rule
    op = token(s, "/v1/envs/web", "web-op", "OPERATOR")
    assert_error(s.post("/v1/builds", token=op, json=dict(BUILD, name="api-app")), 403, "name")
    # so does a user whose publisher role comes from an env binding
    assert s.post("/v1/envs/web/user_roles", json={"name": "pat", "role": "PUBLISHER"}).status_code == 201
    pat = {"X-Forwarded-User": "pat"}
    assert s.post("/v1/builds", auth=False, headers=pat, json=dict(BUILD, name="web-app")).status_code == 201
    assert_error(s.post("/v1/builds", auth=False, headers=pat, json=dict(BUILD, name="api-app")), 403, "name")
    # a SYSTEM publisher publishes any name
    sys_pub = token(s, "/v1/system", "ci", "PUBLISHER")
    assert s.post("/v1/builds", token=sys_pub, json=dict(BUILD, name="api-app")).status_code == 201
    assert [b["name"] for b in s.get("/v1/builds", params={"name": "api-app"}).json()] == ["api-app"]


def test_last_stage_takes_the_envs_principals(server):
    s = server
    make_env(s, "web", "prod")
    make_env(s, "web", "dev")
    make_env(s, "api", "prod")
    web_tok = token(s, "/v1/envs/web", "web-ci", "OPERATOR")
    api_tok = token(s, "/v1/envs/api", "api-ci", "OPERATOR")
    for kind in ("user_roles", "group_roles"):
        assert s.post("/v1/envs/web/" + kind, json={"name": "ops", "role": "ADMIN"}).status_code == 201
        assert s.post("/v1/envs/api/" + kind, json={"name": "ops", "role": "ADMIN"}).status_code == 201
    # a stage is left: everything stays
    assert s.delete("/v1/envs/web/dev").status_code == 204
    assert s.get("/v1/envs/web/prod", token=web_tok).status_code == 200
    assert [t["name"] for t in s.get("/v1/envs/web/token_roles").json()] == ["web-ci"]
    # the last stage: the env's tokens stop working at once, its bindings are gone
    assert s.delete("/v1/envs/web/prod", token=web_tok).status_code == 204
    assert_error(s.get("/v1/envs", token=web_tok), 401)
    assert db_query(s, "SELECT kind FROM user_roles WHERE resource = 'web'") == []
    # a new env of the same name starts with none
    make_env(s, "web", "prod")
    assert s.get("/v1/envs/web/token_roles").json() == []
    assert s.get("/v1/envs/web/user_roles").json() == []
    assert s.get("/v1/envs/web/group_roles").json() == []
    # other envs keep theirs
    assert s.get("/v1/envs", token=api_tok).status_code == 200
    assert [b["name"] for b in s.get("/v1/envs/api/user_roles").json()] == ["ops"]


def test_reserved_names(server_factory):
    s = server_factory(PROXY).start()
    make_env(s, "web", "prod")
    # nor may the proxy name a user so (an audit entry naming them would be forged)
    for name in ("anonymous", "bootstrap-admin"):
        body = assert_error(s.get("/v1/envs", auth=False, headers={"X-Forwarded-User": name}), 401)
        assert "reserved" in body["message"]
    for base in ("/v1/system", "/v1/envs/web"):
        for kind in ("token_roles", "user_roles", "group_roles"):
            for name in ("anonymous", "bootstrap-admin", "Anonymous", "BOOTSTRAP-ADMIN"):
                body = assert_error(s.post(base + "/" + kind, json={"name": name, "role": "READER"}), 400, "name")
                assert "reserved" in body["message"]
    assert db_query(s, "SELECT count(*) FROM user_roles") == [(0,)]
    assert db_query(s, "SELECT name FROM tokens") == [("bootstrap-admin",)]
