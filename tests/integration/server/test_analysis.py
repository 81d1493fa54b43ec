# SPDX-License-Identifier: Apache-2.0
# slipway-server: the Prometheus analysis of deploys: GET/PUT {env}/{stage}/analysis (validation naming the
# field), and the worker against a stand-in for Prometheus's instant query API whose value the test sets: out of
# bounds failAfter times rolls back and tags the build BAD_BUILD; in bounds for durationSeconds passes.
import http.server
import json
import os
import sys
import threading
import urllib.parse

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from srv_support import add_agent, assert_error, db_query, make_env, publish, wait_for  # noqa: E402

ANALYSIS = "/v1/envs/web/prod/analysis"


class FakePrometheus:
    """Answers /api/v1/query with a vector of one sample whose value is self.value (None: an empty vector)."""

    def __init__(self):
        self.value, self.queries = 0.0, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                u = urllib.parse.urlparse(self.path)
                q = urllib.parse.parse_qs(u.query)
                outer.queries.append(q["query"][0])
                result = [] if outer.value is None else [{"metric": {}, "value": [1, str(outer.value)]}]
                body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}})
                self.send_response(200 if u.path == "/api/v1/query" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def prom():
    p = FakePrometheus()
    yield p
    p.stop()


def test_analysis_config_and_validation(server):
    make_env(server)
    got = server.get(ANALYSIS).json()
    assert got == {"queries": [], "intervalSeconds": 60, "failAfter": 3, "durationSeconds": 600,
                   "noData": "IGNORE", "action": "ROLLBACK"}
    body = {"queries": [{"name": "errors", "query": 'sum(rate(errors{env="${ENV}"}[1m]))', "max": 0.5}],
            "intervalSeconds": 5, "failAfter": 2, "durationSeconds": 30, "noData": "FAIL", "action": "HALT"}
    assert server.put(ANALYSIS, json=body).status_code == 204
    got = server.get(ANALYSIS).json()
    assert got["queries"] == [{"name": "errors", "query": body["queries"][0]["query"], "min": None, "max": 0.5}]
    assert got["action"] == "HALT" and got["noData"] == "FAIL" and got["intervalSeconds"] == 5
    hist = server.get("/v1/envs/web/prod/history").json()
    assert hist[0]["type"] == "Env Analysis Config"
    q = {"name": "e", "query": "up"}
    for bad, field in [({"action": "REBOOT"}, "action"), ({"noData": "MAYBE"}, "noData"),
                       ({"intervalSeconds": 0}, "intervalSeconds"), ({"failAfter": "3"}, "failAfter"),
                       ({"queries": [dict(q, min=2, max=1)]}, "queries[0].min"),
                       ({"queries": [q, dict(q, query="")]}, "queries[1].name"),
                       ({"queries": [q, dict(q, name="f", query="")]}, "queries[1].query"),
                       ({"queries": [dict(q, query="x" * 4097)]}, "queries[0].query"),
                       ({"queries": [dict(q, max="high")]}, "queries[0].max"),
                       ({"queries": "up"}, "queries"), ({"colour": 1}, "colour")]:
        assert_error(server.put(ANALYSIS, json=bad), 400, field)
    assert server.get(ANALYSIS).json() == got  # nothing half-applied


def stage(server, prom, failure_action="ROLLBACK", **cfg):
    env = make_env(server)
    good = publish(server, commit="aaaaaaa1111")
    bad = publish(server, commit="bbbbbbb2222", commitDate=good["commitDate"] + 1)
    d1 = server.post("/v1/envs/web/prod/deploys?buildId=" + good["id"]).json()
    db_query(server, "UPDATE deploys SET state='SUCCEEDED' WHERE id=?", (d1["id"],))
    doc = {"queries": [{"name": "error_rate", "query": 'errors{env="${ENV}",stage="${STAGE}",commit="${COMMIT}"}',
                        "max": 0.05}], "intervalSeconds": 1, "failAfter": 2, "durationSeconds": 3,
           "action": failure_action}
    doc.update(cfg)
    assert server.put(ANALYSIS, json=doc).status_code == 204
    return env, good, bad, d1


def test_bad_build_is_rolled_back_and_tagged(server_factory, prom):
    server = server_factory(["--set", "prometheus_url=" + prom.url]).start()
    env, good, bad, d1 = stage(server, prom)
    prom.value = 0.3
    d2 = server.post("/v1/envs/web/prod/deploys?buildId=" + bad["id"]).json()
    assert d2["analysisStatus"] == "NONE"
    cur = wait_for(lambda: (lambda c: c if c["id"] != d2["id"] else None)(
        server.get("/v1/envs/web/prod/deploys/current").json()), timeout=20)
    assert cur["type"] == "ROLLBACK" and cur["alias"] == d1["id"] and "error_rate" in cur["description"]
    a = server.get("/v1/deploys/%s/analysis" % d2["id"]).json()
    assert a["analysisStatus"] == "FAILED" and a["failCounts"] == {"error_rate": 2}
    assert [(e["query"], e["value"], e["verdict"]) for e in a["evaluations"]] == [("error_rate", 0.3, "FAIL")] * 2
    assert server.get("/v1/deploys/" + d2["id"]).json()["analysisStatus"] == "FAILED"
    assert server.get("/v1/builds/%s/tags" % bad["id"]).json()["tag"]["value"] == "BAD_BUILD"
    assert prom.queries[0] == 'errors{env="web",stage="prod",commit="bbbbbbb2222"}'
    changes = [json.loads(h["configChange"]) for h in server.get("/v1/envs/web/prod/history").json()
               if h["type"] == "Env Action"]
    assert {"ANALYSIS_ROLLBACK", "ANALYSIS_FAILED"} <= {c["action"] for c in changes}
    # the rollback deploy is not analysed
    n = len(prom.queries)
    wait_for(lambda: server.get("/v1/deploys/%s/analysis" % cur["id"]).json()["analysisStatus"] == "NONE")
    assert len(prom.queries) == n


def test_halt_pauses_the_stage(server_factory, prom):
    server = server_factory(["--set", "prometheus_url=" + prom.url]).start()
    stage(server, prom, failure_action="HALT", noData="FAIL")
    prom.value = None  # no data counts as out of bounds with noData FAIL
    d2 = server.post("/v1/envs/web/prod/deploys?buildId=" + publish(server, commit="ccccccc3")["id"]).json()
    wait_for(lambda: server.get("/v1/envs/web/prod").json()["envState"] == "PAUSED", timeout=20)
    assert server.get("/v1/envs/web/prod/deploys/current").json()["id"] == d2["id"]
    a = server.get("/v1/deploys/%s/analysis" % d2["id"]).json()
    assert a["analysisStatus"] == "FAILED" and a["evaluations"][0]["value"] is None


def test_healthy_build_passes_after_the_window(server_factory, prom):
    server = server_factory(["--set", "prometheus_url=" + prom.url]).start()
    env, good, bad, d1 = stage(server, prom)
    prom.value = 0.01
    d2 = server.post("/v1/envs/web/prod/deploys?buildId=" + bad["id"]).json()
    wait_for(lambda: server.get("/v1/deploys/" + d2["id"]).json()["analysisStatus"] == "RUNNING")
    add_agent(server, env["id"], "h1", deploy_id=d2["id"], stage="SERVING_BUILD")
    server.put("/v1/envs/web/prod/deploys/current/progress")
    assert server.get("/v1/deploys/" + d2["id"]).json()["state"] == "SUCCEEDING"
    wait_for(lambda: server.get("/v1/deploys/" + d2["id"]).json()["analysisStatus"] == "PASSED", timeout=20)
    assert server.get("/v1/envs/web/prod/deploys/current").json()["id"] == d2["id"]
    assert server.get("/v1/builds/%s/tags" % bad["id"]).json().get("tag") is None
    evals = server.get("/v1/deploys/%s/analysis" % d2["id"]).json()["evaluations"]
    assert evals and all(e["verdict"] == "PASS" for e in evals)
