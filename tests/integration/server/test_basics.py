# SPDX-License-Identifier: Apache-2.0
# slipway-server: the seed client, auth, errors, board, system endpoints, restarts and signals.
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import requests

sys.path.insert(0, os.path.dirname(__file__))
from srv_support import BUILD, SERVER_BIN, assert_error, make_env, publish  # noqa: E402
import dbtarget  # noqa: E402  (on sys.path through srv_support)


def test_seed_client_publishes_build(server):
    url = server.url
    # exactly as the upstream seed client does it: no token, data=json.dumps
    r = requests.post(url + "/v1/builds", data=json.dumps({
        "name": "web", "repo": "acme/web", "branch": "main", "commit": "4be1f0c93d0011aa",
        "artifactUrl": "https://art.example/web/4be1f0c.tar.gz", "type": "Github"}),
        headers={'Content-type': 'application/json'})
    assert r.status_code == 201, r.text
    b = r.json()
    assert len(b["id"]) == 30 and b["id"].endswith("_4be1f0c")
    assert r.headers["Location"] == "/v1/builds/" + b["id"]
    assert b["publisher"] == "anonymous"
    assert b["commitShort"] == "4be1f0c" and b["publishInfo"] == "UNKNOWN"
    got = server.get("/v1/builds/" + b["id"]).json()
    assert got == b
    # trailing slash as upstream clients send it
    r = requests.post(url + "/v1/builds/", data=json.dumps(BUILD), headers={'Content-type': 'application/json'})
    assert r.status_code == 201
    h = server.get("/healthz").json()
    assert h["warnings"] == ["anonymous_role is PUBLISHER"]


def test_without_anonymous_role_requests_need_a_token(server_factory):
    s = server_factory().start()
    r = requests.post(s.url + "/v1/builds", data=json.dumps(BUILD), headers={'Content-type': 'application/json'})
    assert_error(r, 401)
    assert s.get("/v1/builds?name=web").json() == []
    assert_error(s.get("/v1/envs", token="not-a-token"), 401)
    assert_error(s.get("/v1/envs", auth=False, headers={"Authorization": "Basic xyz"}), 401)
    assert s.get("/v1/envs", auth=False, headers={"Authorization": "Bearer " + s.token}).status_code == 200
    assert s.get("/healthz", auth=False).json() == {"status": "ok", "db": "ok", "warnings": []}
    assert oct(os.stat(s.dir / "admin.token").st_mode & 0o777) == "0o600"
    assert_error(requests.get(s.url + "/metrics"), 401)
    # anonymous PUBLISHER may publish but not create envs
    assert_error(requests.post(s.url + "/v1/envs", json={"envName": "a", "stageName": "b"}), 401)


def test_anonymous_publisher_cannot_operate(server):
    r = requests.post(server.url + "/v1/envs", json={"envName": "a", "stageName": "b"})
    assert_error(r, 403)
    assert server.get("/v1/envs").json() == []


def test_version_metrics_board(server):
    v = requests.get(server.url + "/v1/system/version").json()
    assert v["name"] == "slipway" and v["apiVersion"] == "v1" and v["longPoll"] is True
    assert v["schemaVersion"] >= 1
    # request counters are recorded when libmicrohttpd reports completion: poll briefly
    deadline = time.time() + 5
    while True:
        m = server.get("/metrics")
        assert m.status_code == 200 and "slipway_build_info" in m.text
        if 'slipway_http_requests_total{route="GET /v1/system/version",code="200"} 1' in m.text:
            break
        assert time.time() < deadline, m.text
        time.sleep(0.05)
    assert "slipway_deploys{state=\"RUNNING\"} 0" in m.text
    assert 'slipway_http_request_duration_seconds_count{route="GET /v1/system/version"} 1' in m.text
    assert 'slipway_http_request_duration_seconds_bucket{route="GET /v1/system/version",le="+Inf"} 1' in m.text
    # anonymous PUBLISHER ranks above READER: allowed; an unknown token is not
    assert requests.get(server.url + "/metrics").status_code == 200
    assert_error(server.get("/metrics", token="wrong"), 401)
    r = requests.get(server.url + "/")
    assert r.status_code == 200 and "Slipway" in r.text
    r = requests.get(server.url + "/env/web/prod")
    assert r.status_code == 200 and "Slipway" in r.text
    assert_error(requests.post(server.url + "/login"), 405)
    assert_error(requests.get(server.url + "/v1/nope"), 404)
    assert_error(requests.get(server.url + "/v1/hotfixes"), 404)


def test_wrong_method_and_limits(server):
    assert_error(server.delete("/v1/builds"), 405)
    assert_error(server.put("/v1/envs"), 405)
    # oversize body refused before reading, nothing stored
    big = b'{"name":"' + b"a" * (1024 * 1024 + 10) + b'"}'
    assert_error(server.post("/v1/builds", data=big), 413)
    assert_error(server.post("/v1/envs", data=big), 413)
    assert server.get("/v1/builds?name=web").json() == []
    # exactly at the limit is read (and then rejected as malformed, not 413)
    at = b" " * (1024 * 1024 - 2) + b"{}"
    assert_error(server.post("/v1/builds", data=at), 400)
    # malformed, too deep, duplicate keys
    assert_error(server.post("/v1/builds", data="{"), 400)
    assert_error(server.post("/v1/builds", data="[" * 40 + "]" * 40), 400)
    assert_error(server.post("/v1/builds", data='{"name":"a","name":"b"}'), 400)
    assert server.get("/v1/builds?name=web").json() == []


def test_bad_builds(server):
    for field, value in [("name", "bad name"), ("commit", "no/slash"), ("artifactUrl", "ftp://x/y"),
                         ("artifactSha256", "xyz"), ("artifactSignature", "AAAA")]:
        body = dict(BUILD)
        body[field] = value
        assert_error(server.post("/v1/builds", json=body), 400, field)
    body = dict(BUILD)
    del body["repo"]
    assert_error(server.post("/v1/builds", json=body), 400, "repo")
    assert server.get("/v1/builds?name=web").json() == []
    assert_error(server.get("/v1/builds/nope_1234567"), 404)
    assert_error(server.get("/v1/builds"), 400, "name")


def test_builds_queries_and_delete(server):
    b1 = publish(server, publishDate=1000, commit="aaaaaaa1")
    b2 = publish(server, publishDate=2000, commit="bbbbbbb2", branch="dev")
    b3 = publish(server, publishDate=3000, commit="ccccccc3", name="api")
    assert [b["id"] for b in server.get("/v1/builds?name=web").json()] == [b2["id"], b1["id"]]
    assert [b["id"] for b in server.get("/v1/builds?name=web&branch=dev").json()] == [b2["id"]]
    assert [b["id"] for b in server.get("/v1/builds?commit=aaaaaaa1ffff").json()] == [b1["id"]]
    assert [b["id"] for b in server.get("/v1/builds?name=web&after=1000&before=2000").json()] == [b2["id"]]
    assert [b["id"] for b in server.get("/v1/builds?name=web&pageSize=1&pageIndex=2").json()] == [b1["id"]]
    assert server.get("/v1/builds/names").json() == ["api", "web"]
    assert server.get("/v1/builds/names?filter=ap").json() == ["api"]
    assert server.get("/v1/builds/names/web/branches").json() == ["dev", "main"]
    # referenced build cannot be deleted
    make_env(server)
    assert server.post("/v1/envs/web/prod/deploys?buildId=" + b1["id"]).status_code == 201
    assert_error(server.delete("/v1/builds/" + b1["id"]), 409)
    assert server.delete("/v1/builds/" + b3["id"]).status_code == 204
    assert_error(server.get("/v1/builds/" + b3["id"]), 404)
    assert_error(server.delete("/v1/builds/" + b3["id"]), 404)
    t = server.get("/v1/builds/%s/tags" % b1["id"]).json()
    assert t["build"]["id"] == b1["id"] and t["tag"] is None


def test_sigkill_keeps_acknowledged_writes_and_sigterm_exits_zero(server_factory):
    s = server_factory(["--set", "anonymous_role=PUBLISHER"]).start()
    ids = [publish(s, commit="c%07d" % i)["id"] for i in range(20)]
    make_env(s, stage="canary")
    assert s.put("/v1/envs/web/canary/capacity?capacityType=HOST", json=["h1", "h2"]).status_code == 204
    assert s.stop(signal.SIGKILL) == -signal.SIGKILL
    s.start()
    for i in ids:
        assert s.get("/v1/builds/" + i).status_code == 200
    assert s.get("/v1/envs/web/canary/capacity?capacityType=HOST").json() == ["h1", "h2"]
    assert s.stop(signal.SIGTERM) == 0


@pytest.mark.skipif(dbtarget.is_pg(), reason="the SQLite file lock (§10); several servers share one PostgreSQL "
                    "database by design (tests/integration/ha)")
def test_second_server_on_same_db_refused(server_factory):
    a = server_factory(name="a").start()
    b = server_factory(name="a")
    try:
        b.start()
        assert False, "second server started"
    except RuntimeError as e:
        assert "exited with 2" in str(e)
    assert a.get("/healthz").status_code == 200


def test_check_and_config_errors(tmp_path):
    cfg = tmp_path / "s.conf"
    cfg.write_text("listen = 127.0.0.1:0\nmax_held_pings = 5\n")
    r = subprocess.run([SERVER_BIN, "--config", str(cfg), "--check"], capture_output=True, text=True)
    assert r.returncode == 0 and "configuration OK" in r.stdout
    cfg.write_text("listen = 127.0.0.1:0\nbogus = 1\n")
    r = subprocess.run([SERVER_BIN, "--config", str(cfg), "--check"], capture_output=True, text=True)
    assert r.returncode == 2 and "s.conf:2" in r.stderr
    cfg.write_text("listen = 127.0.0.1:0\nlisten = 127.0.0.1:1\n")
    r = subprocess.run([SERVER_BIN, "--config", str(cfg), "--check"], capture_output=True, text=True)
    assert r.returncode == 2 and "s.conf:2" in r.stderr and "repeated" in r.stderr
    r = subprocess.run([SERVER_BIN, "--set", "tls_cert=a.pem", "--check"], capture_output=True, text=True)
    assert r.returncode == 2 and "tls_key" in r.stderr
    r = subprocess.run([SERVER_BIN, "--event-poll-period", "0.25", "--max_body_bytes", "2M", "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([SERVER_BIN, "--janitor-period", "abc", "--check"], capture_output=True, text=True)
    assert r.returncode == 2 and "janitor" in r.stderr


def test_query_decoding_and_nul_paths(server):
    make_env(server)
    b = publish(server)
    r = server.post("/v1/envs/web/prod/deploys", params={"buildId": b["id"], "description": "a b+c%d"})
    assert r.status_code == 201, r.text
    assert r.json()["description"] == "a b+c%d"
    assert_error(server.get("/v1/envs/web%00/prod"), 404)
    assert_error(requests.get(server.url + "/index.html%00.js"), 400)
    assert requests.get(server.url + "/index.html").status_code == 200


def test_head_requests(server):
    r = requests.head(server.url + "/")
    assert r.status_code == 200 and r.text == ""
    r = requests.head(server.url + "/v1/system/version")
    assert r.status_code == 200 and r.text == ""
