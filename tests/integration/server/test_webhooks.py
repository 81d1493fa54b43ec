# SPDX-License-Identifier: Apache-2.0
# slipway-server webhooks (PROTOCOL §4.9, §7.5): configuration, placeholders, retries.
import http.server
import os
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from srv_support import add_agent, assert_error, make_env, publish  # noqa: E402


class Recorder(http.server.BaseHTTPRequestHandler):
    calls = []
    fail_first = set()

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        Recorder.calls.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                               "body": body})
        status = 200
        if self.path in Recorder.fail_first:
            Recorder.fail_first.discard(self.path)
            status = 503
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = do_DELETE = handle_any

    def log_message(self, *args):
        pass


@pytest.fixture
def hook_server():
    Recorder.calls = []
    Recorder.fail_first = set()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def server(server_factory):
    # the receivers below listen on loopback, which hooks reach only when allowed
    return server_factory(["--set", "anonymous_role=PUBLISHER", "webhook_allowed_networks=127.0.0.0/8"]).start()


def wait_calls(n, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len(Recorder.calls) >= n:
            return Recorder.calls
        time.sleep(0.05)
    raise AssertionError("expected %d webhook calls, got %r" % (n, Recorder.calls))


def wait_metric(server, line, timeout=5):
    """Wait until /metrics shows line: the receiver records a call before the server has read its answer and
    counted it."""
    deadline = time.time() + timeout
    while line not in server.get("/metrics").text:
        assert time.time() < deadline, server.get("/metrics").text
        time.sleep(0.05)


def test_webhook_config_validation(server):
    make_env(server)
    # a stage without hooks answers as upstream does
    assert server.get("/v1/envs/web/prod/web_hooks").json() == {"preDeployHooks": None, "postDeployHooks": None}
    assert_error(server.put("/v1/envs/web/prod/web_hooks", json={"preDeployHooks": [{"method": "PATCH",
                                                                                     "url": "http://x"}]}),
                 400, "preDeployHooks[0].method")
    assert_error(server.put("/v1/envs/web/prod/web_hooks", json={"postDeployHooks": [{"body": "x"}]}), 400,
                 "postDeployHooks[0].url")
    assert_error(server.put("/v1/envs/web/prod/web_hooks", json={"preDeployHooks": [{"url": "x"}] * 21}), 400,
                 "preDeployHooks")
    assert server.put("/v1/envs/web/prod/web_hooks", json={"preDeployHooks": [{"url": "example.com/x"}]}
                      ).status_code == 204
    got = server.get("/v1/envs/web/prod/web_hooks").json()
    assert got["preDeployHooks"][0]["method"] == "POST" and got["preDeployHooks"][0]["url"] == "example.com/x"
    assert server.get("/v1/envs/web/prod").json()["webhooksConfigId"]


def test_pre_and_post_deploy_hooks(server, hook_server):
    env = make_env(server)
    hooks = {"preDeployHooks": [{"method": "post", "url": hook_server + "/pre/$TELETRAAN_DEPLOY_ID",
                                 "headers": "X-Env: $TELETRAAN_ENV_NAME ; X-Stage:$TELETRAAN_STAGE_NAME;;",
                                 "body": "state=$TELETRAAN_NUMERIC_DEPLOY_STATE type=$TELETRAAN_DEPLOY_TYPE "
                                         "commit=$TELETRAAN_BUILD_COMMIT start=$TELETRAAN_DEPLOY_START"}],
             "postDeployHooks": [{"method": "GET", "url": hook_server + "/post?s=$TELETRAAN_NUMERIC_DEPLOY_STATE"}]}
    assert server.put("/v1/envs/web/prod/web_hooks", json=hooks).status_code == 204
    b = publish(server)
    d = server.post("/v1/envs/web/prod/deploys?buildId=" + b["id"]).json()
    calls = wait_calls(1)
    pre = calls[0]
    assert pre["method"] == "POST" and pre["path"] == "/pre/" + d["id"]
    assert pre["headers"]["X-Env"] == "web" and pre["headers"]["X-Stage"] == "prod"
    assert pre["body"] == "state=0 type=REGULAR commit=%s start=%d" % (b["commit"], d["startDate"])
    add_agent(server, env["id"], "h1", deploy_id=d["id"])
    server.put("/v1/envs/web/prod/deploys/current/progress")
    calls = wait_calls(2)
    assert calls[1]["method"] == "GET" and calls[1]["path"] == "/post?s=2"
    wait_metric(server, 'slipway_webhook_calls_total{result="ok"} 2')


def test_webhook_retries_on_5xx(server, hook_server):
    make_env(server)
    b = publish(server)
    hooks = {"preDeployHooks": [{"url": hook_server + "/flaky"}, {"url": "ftp://nope/x"}]}
    assert server.put("/v1/envs/web/prod/web_hooks", json=hooks).status_code == 204
    Recorder.fail_first.add("/flaky")
    assert server.post("/v1/envs/web/prod/deploys?buildId=" + b["id"]).status_code == 201
    calls = wait_calls(2)
    assert [c["path"] for c in calls] == ["/flaky", "/flaky"]
    wait_metric(server, 'slipway_webhook_calls_total{result="failed"} 1')
    assert 'slipway_webhook_calls_total{result="ok"} 1' in server.get("/metrics").text
