# SPDX-License-Identifier: Apache-2.0
# Webhooks in a pipeline (PROTOCOL §7.5): pre- and post-deploy calls of auto-promoted deploys with
# every placeholder substituted in url, headers and body; retries on 503 with their backoff; a
# hanging receiver delays neither the deploy nor the server's shutdown.
import http.server
import os
import signal
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from pipe_support import current, poll, publish, set_promote  # noqa: E402


class Receiver(http.server.BaseHTTPRequestHandler):
    calls = []
    fail = {}            # path prefix -> number of 503 answers still to give
    release = threading.Event()

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        Receiver.calls.append({"t": time.time(), "method": self.command, "path": self.path,
                               "headers": dict(self.headers), "body": body})
        if self.path.startswith("/hang"):
            Receiver.release.wait(30)
        status = 200
        for prefix, n in Receiver.fail.items():
            if self.path.startswith(prefix) and n > 0:
                Receiver.fail[prefix] = n - 1
                status = 503
        try:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
        except OSError:
            pass

    do_GET = do_POST = do_PUT = do_DELETE = handle_any

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.calls = []
    Receiver.fail = {}
    Receiver.release = threading.Event()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d" % srv.server_address[1]
    Receiver.release.set()
    srv.shutdown()
    srv.server_close()


def calls(prefix):
    return [c for c in Receiver.calls if c["path"].startswith(prefix)]


def metric(s, result):
    text = s.req("GET", "/metrics").text
    for line in text.splitlines():
        if line.startswith('slipway_webhook_calls_total{result="%s"}' % result):
            return int(line.split()[-1])
    return None


ALL = ("id=$TELETRAAN_DEPLOY_ID start=$TELETRAAN_DEPLOY_START state=$TELETRAAN_NUMERIC_DEPLOY_STATE "
       "type=$TELETRAAN_DEPLOY_TYPE env=$TELETRAAN_ENV_NAME stage=$TELETRAAN_STAGE_NAME "
       "commit=$TELETRAAN_BUILD_COMMIT")


def expected(d, b, state):
    return ("id=%s start=%d state=%d type=%s env=app stage=staging commit=%s"
            % (d["id"], d["startDate"], state, d["type"], b["commit"]))


def test_pre_and_post_hooks_of_an_auto_promoted_deploy(server, receiver):
    s = server
    s.make_env("app", "staging")
    hooks = {"preDeployHooks": [{"method": "PUT",
                                 "url": receiver + "/pre/$TELETRAAN_DEPLOY_ID/$TELETRAAN_STAGE_NAME"
                                                   "?s=$TELETRAAN_NUMERIC_DEPLOY_STATE",
                                 "headers": " X-Deploy : $TELETRAAN_DEPLOY_ID ;X-Commit:$TELETRAAN_BUILD_COMMIT;; "
                                            "X-Where: $TELETRAAN_ENV_NAME/$TELETRAAN_STAGE_NAME",
                                 "body": ALL}],
             "postDeployHooks": [{"url": receiver + "/post?type=$TELETRAAN_DEPLOY_TYPE", "body": ALL},
                                 {"method": "GET", "url": receiver + "/post-get?s=$TELETRAAN_NUMERIC_DEPLOY_STATE",
                                  "body": "ignored"}]}
    s.ok("PUT", "/v1/envs/app/staging/web_hooks", code=204, json=hooks)
    set_promote(s, "app", "staging", type="AUTO", predStage="BUILD")
    b = publish(s)
    d = poll(lambda: current(s, "app", "staging"))
    pre = poll(lambda: calls("/pre"), what="pre-deploy call")[0]
    assert pre["method"] == "PUT" and pre["path"] == "/pre/%s/staging?s=0" % d["id"]
    assert pre["headers"]["X-Deploy"] == d["id"] and pre["headers"]["X-Commit"] == b["commit"]
    assert pre["headers"]["X-Where"] == "app/staging"
    assert pre["body"] == expected(d, b, 0)
    # the empty stage succeeds at once: post hooks run in order, state 2 = SUCCEEDING
    poll(lambda: len(calls("/post")) == 2, what="post-deploy calls")
    post, get = calls("/post?"), calls("/post-get")
    assert post[0]["method"] == "POST" and post[0]["path"] == "/post?type=REGULAR"
    assert post[0]["body"] == expected(d, b, 2)
    assert get[0]["method"] == "GET" and get[0]["path"] == "/post-get?s=2" and get[0]["body"] == ""
    assert get[0]["t"] >= post[0]["t"]
    poll(lambda: metric(s, "ok") == 3, what="3 ok calls")
    assert metric(s, "failed") == 0 and metric(s, "dropped") == 0


def test_retry_on_503_then_ok(server, receiver):
    s = server
    s.make_env("app", "staging")
    Receiver.fail = {"/flaky": 2, "/down": 99}
    s.ok("PUT", "/v1/envs/app/staging/web_hooks", code=204,
         json={"preDeployHooks": [{"url": receiver + "/flaky"}, {"url": receiver + "/down"}]})
    s.deploy("app", "staging", publish(s)["id"])
    flaky = poll(lambda: (lambda c: c if len(c) == 3 else None)(calls("/flaky")), what="3 attempts")
    # waits of 0.5 s and 1 s between attempts
    assert 0.4 <= flaky[1]["t"] - flaky[0]["t"] < 3 and 0.9 <= flaky[2]["t"] - flaky[1]["t"] < 4
    down = poll(lambda: (lambda c: c if len(c) == 3 else None)(calls("/down")), what="3 failing attempts")
    poll(lambda: metric(s, "failed") == 1)
    assert metric(s, "ok") == 1
    time.sleep(1.6)  # no fourth attempt
    assert len(calls("/down")) == 3 and len(down) == 3


def test_hanging_receiver_delays_nothing(server, receiver):
    s = server
    s.make_env("app", "staging")
    s.ok("PUT", "/v1/envs/app/staging/web_hooks", code=204,
         json={"preDeployHooks": [{"url": receiver + "/hang"}], "postDeployHooks": [{"url": receiver + "/hang"}]})
    t0 = time.time()
    d = s.deploy("app", "staging", publish(s)["id"])
    assert time.time() - t0 < 2
    poll(lambda: calls("/hang"), what="the hanging call")
    # the deploy goes on while the hook hangs
    poll(lambda: current(s, "app", "staging")["state"] == "SUCCEEDING", what="deploy succeeding")
    assert current(s, "app", "staging")["id"] == d["id"]
    # another stage's hooks are delivered meanwhile
    s.make_env("app", "qa")
    s.ok("PUT", "/v1/envs/app/qa/web_hooks", code=204, json={"preDeployHooks": [{"url": receiver + "/quick"}]})
    t0 = time.time()
    s.deploy("app", "qa", publish(s)["id"])
    poll(lambda: calls("/quick"), timeout=5, what="the other stage's hook")
    assert time.time() - t0 < 3
    # while this stage's post-deploy hook waits for its pre-deploy hook (one stage's jobs run in order)
    assert len(calls("/hang")) == 1
    # and a shutdown aborts the call in flight instead of waiting for the 20 s timeout
    t0 = time.time()
    assert s.stop(signal.SIGTERM, timeout=10) == 0
    assert time.time() - t0 < 5
