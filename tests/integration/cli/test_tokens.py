# SPDX-License-Identifier: Apache-2.0
# `slipway token create|list|set|revoke` and `slipway role user|group set|list|delete` against a real server.
import json
import time


def test_token_create_use_list_revoke(cli, server, names):
    name = names("tok")
    r = cli("token", "create", "--name", name, "--role", "READER", "--expires", "2")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    secret = lines[-1]
    assert secret and " " not in secret and name not in secret
    assert r.stdout.count(secret) == 1
    # the printed token works, with the role asked for
    status, who = server.api("GET", "/v1/system/whoami", token=secret)
    assert status == 200 and who["name"] == name and who["roles"][0]["role"] == "READER"
    status, _ = server.api("POST", "/v1/envs", {"envName": names(), "stageName": "s"}, token=secret)
    assert status == 403

    r = cli("token", "list", "--json")
    assert r.returncode == 0, r.stderr
    listed = {t["name"]: t for t in json.loads(r.stdout)}
    assert listed[name]["role"] == "READER" and listed[name]["type"] == "SYSTEM"
    days = (listed[name]["expireDate"] - time.time() * 1000) / 86400000
    assert 1.9 < days <= 2.0
    assert "token" not in listed[name]
    r = cli("token", "list")
    row = [ln.split() for ln in r.stdout.splitlines() if ln.startswith(name + " ")]
    assert row and row[0][1] == "READER" and secret not in r.stdout

    r = cli("token", "set", name, "--role", "OPERATOR", "--expires", "never")
    assert r.returncode == 0, r.stderr
    t = server.api("GET", f"/v1/system/token_roles/{name}")[1]
    assert t["role"] == "OPERATOR" and t["expireDate"] is None

    r = cli("token", "revoke", name)
    assert r.returncode == 0, r.stderr
    assert server.api("GET", "/v1/system/whoami", token=secret)[0] == 401
    r = cli("token", "revoke", name)
    assert r.returncode == 68, r.stderr


def test_token_env_scope_and_json(cli, server, names):
    env = names()
    assert cli("env", "create", f"{env}/prod").returncode == 0
    r = cli("token", "create", "--name", "ci", "--role", "PUBLISHER", "--env", env, "--json")
    assert r.returncode == 0, r.stderr
    t = json.loads(r.stdout)
    assert t["type"] == "ENV" and t["resource"] == env and t["role"] == "PUBLISHER" and t["token"]
    r = cli("token", "list", "--env", env, "--json")
    assert [x["name"] for x in json.loads(r.stdout)] == ["ci"]
    assert "ci" not in [x["name"] for x in json.loads(cli("token", "list", "--json").stdout)]
    # the same name again in that scope: 409
    r = cli("token", "create", "--name", "ci", "--role", "READER", "--env", env)
    assert r.returncode == 73, r.stderr
    assert cli("token", "revoke", "ci", "--env", env).returncode == 0
    assert server.api("GET", f"/v1/envs/{env}/token_roles/ci")[0] == 404


def test_token_bad_input(cli, server):
    for args, text in [
        (("token", "create", "--role", "READER"), "--name and --role"),
        (("token", "create", "--name", "x", "--role", "KING"), "unknown role 'KING'"),
        (("token", "create", "--name", "x", "--role", "READER", "--expires", "soon"), "--expires"),
        (("token", "create", "--name", "x", "--role", "READER", "--env", "a/b"), "not an env name"),
        (("token", "revoke"), "give one token NAME"),
        (("token", "set", "x"), "--role and/or --expires"),
        (("token", "list", "--role", "READER"), "does not apply"),
    ]:
        r = cli(*args)
        assert r.returncode == 64, (args, r.stderr)
        assert text in r.stderr, (args, r.stderr)
    # the server's own check: a reserved name is a 400 naming the field
    r = cli("token", "create", "--name", "anonymous", "--role", "READER")
    assert r.returncode == 65 and "name" in r.stderr
    # an unknown env
    r = cli("token", "list", "--env", "no-such-env-xyz")
    assert r.returncode == 68
    # not an ADMIN: 77
    reader = json.loads(cli("token", "create", "--name", "rdr", "--role", "READER", "--json").stdout)["token"]
    r = cli("token", "list", token=reader)
    assert r.returncode == 77, r.stderr
    assert cli("token", "revoke", "rdr").returncode == 0


def test_token_help(cli):
    for sub in ("create", "list", "set", "revoke"):
        r = cli("token", sub, "--help")
        assert r.returncode == 0 and r.stdout.startswith(f"usage: slipway token {sub}")
    r = cli("token", "--help")
    assert r.returncode == 0 and "revoke" in r.stdout


def test_role_bindings(cli, server, names):
    env = names()
    assert cli("env", "create", f"{env}/prod").returncode == 0
    for kind, who in (("user", "alice"), ("group", "web-team:ops")):
        r = cli("role", kind, "set", who, "--role", "OPERATOR", "--env", env)
        assert r.returncode == 0, r.stderr
        b = server.api("GET", f"/v1/envs/{env}/{kind}_roles/{who}")[1]
        assert b["role"] == "OPERATOR" and b["type"] == "ENV"
        # set again changes the role of the existing binding
        r = cli("role", kind, "set", who, "--role", "ADMIN", "--env", env)
        assert r.returncode == 0, r.stderr
        assert server.api("GET", f"/v1/envs/{env}/{kind}_roles/{who}")[1]["role"] == "ADMIN"
        r = cli("role", kind, "list", "--env", env, "--json")
        assert [(x["name"], x["role"]) for x in json.loads(r.stdout)] == [(who, "ADMIN")]
        r = cli("role", kind, "list", "--env", env)
        assert r.stdout.splitlines()[1].split()[:2] == [who, "ADMIN"]
        r = cli("role", kind, "delete", who, "--env", env)
        assert r.returncode == 0, r.stderr
        assert server.api("GET", f"/v1/envs/{env}/{kind}_roles/{who}")[0] == 404
        assert cli("role", kind, "delete", who, "--env", env).returncode == 68

    name = names("u")
    assert cli("role", "user", "set", name, "--role", "READER").returncode == 0
    assert server.api("GET", f"/v1/system/user_roles/{name}")[1]["role"] == "READER"
    assert cli("role", "user", "delete", name).returncode == 0

    r = cli("role", "user", "set", "bob", "--role", "BOSS")
    assert r.returncode == 64 and "unknown role" in r.stderr
    r = cli("role", "user", "set", "bob")
    assert r.returncode == 64
    r = cli("role", "user", "set", "bad name!", "--role", "READER")
    assert r.returncode == 65 and "name" in r.stderr
    r = cli("role", "robot", "list")
    assert r.returncode == 64
    assert cli("role", "group", "list", "--help").stdout.startswith("usage: slipway role group list")
