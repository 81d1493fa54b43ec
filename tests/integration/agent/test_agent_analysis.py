# SPDX-License-Identifier: Apache-2.0
# tests/integration/agent/test_agent_analysis.py: the Prometheus analysis end to end. Debian's prometheus scrapes a
# small exporter whose error ratio the test sets; a real slipway-server queries it; two real agents deploy. A
# healthy build passes its analysis and stays; a build whose error ratio climbs is rolled back to the healthy one
# on both hosts and tagged BAD_BUILD.
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

sys.path.insert(0, os.path.dirname(__file__))
from agent_support import Agent, wait_for  # noqa: E402
from test_agent_deploy import make_tarball  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from serverproc import SERVER_BIN, ServerProcess  # noqa: E402

PROMETHEUS = shutil.which("prometheus")


class Exporter:
    """/metrics with one gauge, app_error_ratio, whose value the test sets."""

    def __init__(self):
        self.ratio = 0.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = ("# TYPE app_error_ratio gauge\napp_error_ratio %f\n" % outer.ratio).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.addr = "127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def prometheus(tmp_path):
    if not PROMETHEUS:
        pytest.skip("prometheus is not installed (scripts/deps.sh test)")
    exp = Exporter()
    d = tmp_path / "prom"
    d.mkdir()
    (d / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['%s']\n" % exp.addr)
    port = free_port()
    log = open(d / "prometheus.log", "wb")
    p = subprocess.Popen([PROMETHEUS, "--config.file=%s" % (d / "prometheus.yml"), "--storage.tsdb.path=%s" % (d / "data"),
                          "--web.listen-address=127.0.0.1:%d" % port], stdout=log, stderr=log)
    url = "http://127.0.0.1:%d" % port

    def has_sample():
        try:
            r = requests.get(url + "/api/v1/query", params={"query": "app_error_ratio"}, timeout=2).json()
            return r["data"]["result"]
        except (requests.RequestException, ValueError, KeyError):
            return None
    try:
        wait_for(has_sample, timeout=30, interval=0.2, what="prometheus to scrape the exporter")
        yield url, exp
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        log.close()
        exp.stop()


def test_analysis_keeps_a_healthy_build_and_rolls_back_a_bad_one(prometheus, tmp_path):
    if not os.path.exists(SERVER_BIN):
        pytest.skip("slipway-server is not built")
    prom_url, exporter = prometheus
    srv = ServerProcess(tmp_path / "srv")
    agents = []
    try:
        srv.start(["log_level=warn", "prometheus_url=" + prom_url, "transition_period=1"])
        h = {"Authorization": "token " + srv.token}

        def call(method, path, **kw):
            r = requests.request(method, srv.url + path, headers=h, timeout=10, **kw)
            assert r.status_code < 300, (method, path, r.status_code, r.text)
            return r.json() if r.text else None

        call("POST", "/v1/envs", json={"envName": "web", "stageName": "prod"})
        call("PUT", "/v1/envs/web/prod/capacity?capacityType=GROUP", json=["web-prod"])
        call("PUT", "/v1/envs/web/prod/analysis", json={
            "queries": [{"name": "errors", "query": "max(app_error_ratio)", "max": 0.05}],
            "intervalSeconds": 1, "failAfter": 2, "durationSeconds": 3, "action": "ROLLBACK"})
        builds = []
        for i, version in enumerate(("v1", "v2")):
            art = tmp_path / ("web-%s.tar.gz" % version)
            sha = make_tarball(art, tmp_path / "seen.log", version)
            builds.append(call("POST", "/v1/builds", json={
                "name": "web", "repo": "acme/web", "branch": "main", "commit": "%d4be1f0c93d0011" % (i + 1),
                "artifactUrl": "file://" + str(art), "type": "Github", "artifactSha256": sha,
                "commitDate": 1767225600000 + i}))
        for n in (1, 2):
            (tmp_path / ("host%d" % n)).mkdir()
            a = Agent(tmp_path / ("host%d" % n), srv.url, token=srv.token, host_id="host-%d" % n,
                      host_name="host-%d" % n, long_poll="true", long_poll_wait=2,
                      download_allow_file_dirs=str(tmp_path))
            agents.append(a)
            a.start()

        def serving(build):
            want = lambda a: os.path.realpath(a.target_dir / "web").endswith("/" + build["id"])  # noqa: E731
            return all(a.target_dir.joinpath("web").is_symlink() and want(a) for a in agents)

        # healthy: the analysis passes and the deploy stays
        d1 = call("POST", "/v1/envs/web/prod/deploys?buildId=" + builds[0]["id"])
        wait_for(lambda: serving(builds[0]), timeout=90, what="both hosts on v1")
        wait_for(lambda: call("GET", "/v1/deploys/" + d1["id"])["analysisStatus"] == "PASSED", timeout=60,
                 what="v1's analysis to pass")
        assert call("GET", "/v1/envs/web/prod/deploys/current")["id"] == d1["id"]
        evals = call("GET", "/v1/deploys/%s/analysis" % d1["id"])["evaluations"]
        assert evals and all(e["verdict"] == "PASS" and e["value"] == 0 for e in evals)

        # bad: the error ratio climbs once v2 is out; the analysis rolls back to v1 on both hosts
        exporter.ratio = 0.4
        d2 = call("POST", "/v1/envs/web/prod/deploys?buildId=" + builds[1]["id"])
        wait_for(lambda: call("GET", "/v1/deploys/" + d2["id"])["analysisStatus"] == "FAILED", timeout=60,
                 what="v2's analysis to fail")
        cur = call("GET", "/v1/envs/web/prod/deploys/current")
        assert cur["type"] == "ROLLBACK" and cur["buildId"] == builds[0]["id"] and cur["alias"] == d1["id"]
        assert call("GET", "/v1/builds/%s/tags" % builds[1]["id"])["tag"]["value"] == "BAD_BUILD"
        a2 = call("GET", "/v1/deploys/%s/analysis" % d2["id"])
        assert a2["failCounts"] == {"errors": 2}
        assert [e["verdict"] for e in a2["evaluations"][:2]] == ["FAIL", "FAIL"]
        wait_for(lambda: serving(builds[0]) and all(
            a.state()["envs"]["web"].get("deployId") == cur["id"]
            and a.state()["envs"]["web"].get("deployStage") == "SERVING_BUILD" for a in agents),
            timeout=90, what="both hosts to serve v1 through the rollback deploy")
        assert call("GET", "/v1/envs/web/prod/deploys/current")["id"] == cur["id"]
    finally:
        for a in agents:
            a.stop_all()
        srv.stop(signal.SIGTERM)
