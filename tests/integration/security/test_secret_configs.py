# SPDX-License-Identifier: Apache-2.0
# script_configs, web_hooks and agent_configs carry secrets: reading them needs OPERATOR on that env (or at
# SYSTEM scope); a READER gets 403, and the config history shows readers who changed them, not the values.
import os
import sys

import pytest

HERE = os.path.dirname(__file__)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "server"))
from srv_support import Server, assert_error, make_env  # noqa: E402

SECRET = "hunter2-" + "s3cr3t"
SECRETS = {
    "script_configs": {"DB_PASSWORD": SECRET},
    "agent_configs": {"s3_secret": SECRET},
    "web_hooks": {"preDeployHooks": [{"method": "POST", "url": "https://hooks.example/x",
                                      "headers": "X-Api-Key: " + SECRET, "body": "{}"}],
                  "postDeployHooks": []},
}


def token(s, path, name, role):
    r = s.post(path, json={"name": name, "role": role})
    assert r.status_code == 201, r.text
    return r.json()["token"]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("secrets")).start()
    try:
        make_env(s, "web", "prod")
        make_env(s, "api", "prod")
        for kind, value in SECRETS.items():
            r = s.put("/v1/envs/web/prod/" + kind, json=value)
            assert r.status_code == 204, (kind, r.text)
        toks = {
            "sys-reader": token(s, "/v1/system/token_roles", "sys-reader", "READER"),
            "sys-operator": token(s, "/v1/system/token_roles", "sys-operator", "OPERATOR"),
            "web-reader": token(s, "/v1/envs/web/token_roles", "web-reader", "READER"),
            "web-publisher": token(s, "/v1/envs/web/token_roles", "web-publisher", "PUBLISHER"),
            "web-operator": token(s, "/v1/envs/web/token_roles", "web-operator", "OPERATOR"),
            "api-operator": token(s, "/v1/envs/api/token_roles", "api-operator", "OPERATOR"),
        }
        yield s, toks
    finally:
        s.stop()


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_secret_configs_need_operator_on_the_env(fleet, kind):
    s, toks = fleet
    path = "/v1/envs/web/prod/" + kind
    for who in ("sys-reader", "web-reader", "web-publisher", "api-operator"):
        r = s.get(path, token=toks[who])
        body = assert_error(r, 403)
        assert SECRET not in r.text, who
        assert "OPERATOR" in body["message"], body
    for who in ("web-operator", "sys-operator", None):  # None: the bootstrap admin
        r = s.get(path, token=toks[who] if who else None)
        assert r.status_code == 200, (who, r.text)
        assert SECRET in r.text, who


def test_other_stage_data_stays_readable(fleet):
    s, toks = fleet
    for path in ("/v1/envs/web/prod", "/v1/envs/web/prod/metrics", "/v1/envs/web/prod/alarms",
                 "/v1/envs/web/prod/history"):
        r = s.get(path, token=toks["web-reader"])
        assert r.status_code == 200, (path, r.text)
        assert SECRET not in r.text, path


def test_history_hides_secret_values_from_readers(fleet):
    s, toks = fleet
    r = s.put("/v1/envs/web/prod", json={"description": "visible to all"})
    assert r.status_code == 204, r.text
    seen = s.get("/v1/envs/web/prod/history", token=toks["web-reader"]).json()
    by_type = {}
    for h in seen:  # newest first: keep the newest entry of each type
        by_type.setdefault(h["type"], h)
    for t in ("Env Script Config", "Env Advanced Config", "Env Webhook Config"):
        assert by_type[t]["configChange"] is None and by_type[t]["configHidden"] is True, by_type[t]
        assert by_type[t]["operator"]  # who and when stay visible
    assert "visible to all" in by_type["Env General Config"]["configChange"]
    assert "configHidden" not in by_type["Env General Config"]
    # OPERATOR on the env (or SYSTEM) sees the values
    for who in ("web-operator", "sys-operator"):
        full = s.get("/v1/envs/web/prod/history", token=toks[who]).json()
        assert SECRET in str([h["configChange"] for h in full]), who
        assert not any(h.get("configHidden") for h in full), who
    # an OPERATOR of another env is a reader here
    other = s.get("/v1/envs/web/prod/history", token=toks["api-operator"]).text
    assert SECRET not in other


def test_proxy_user_reader_and_operator(tmp_path):
    s = Server(tmp_path, ["--set", "trusted_user_header=X-Forwarded-User", "trusted_proxies=127.0.0.1"]).start()
    try:
        make_env(s, "web", "prod")
        assert s.put("/v1/envs/web/prod/script_configs", json={"DB_PASSWORD": SECRET}).status_code == 204
        for name, role in (("rita", "READER"), ("olga", "OPERATOR")):
            r = s.post("/v1/envs/web/user_roles", json={"name": name, "role": role})
            assert r.status_code == 201, r.text
        rita, olga = {"X-Forwarded-User": "rita"}, {"X-Forwarded-User": "olga"}
        assert_error(s.get("/v1/envs/web/prod/script_configs", auth=False, headers=rita), 403)
        r = s.get("/v1/envs/web/prod/script_configs", auth=False, headers=olga)
        assert r.status_code == 200 and r.json() == {"DB_PASSWORD": SECRET}
        assert SECRET not in s.get("/v1/envs/web/prod/history", auth=False, headers=rita).text
    finally:
        s.stop()
