# SPDX-License-Identifier: Apache-2.0
# Webhook queue overflow (PROTOCOL §7.5, §8): with a receiver that accepts connections and never
# answers, a small queue (--set webhook_queue_size=3) fills up; further hook jobs are dropped with
# a log line and counted in slipway_webhook_calls_total{result="dropped"}, while deploys are
# created and complete as fast as without hooks and the server keeps answering.
import os
import socket
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from pipe_support import current, poll, publish  # noqa: E402

QUEUE = 3
DEPLOYS = 12


@pytest.fixture
def silent_receiver():
    """A TCP listener that accepts every connection, reads what comes and never answers."""
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    lsock.settimeout(0.2)
    conns, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                c, _ = lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            c.settimeout(2)
            try:
                first = c.recv(4096).split(b"\r\n", 1)[0].decode(errors="replace")
            except OSError:
                first = ""
            conns.append((c, first))

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield "http://127.0.0.1:%d" % lsock.getsockname()[1], conns
    stop.set()
    t.join(5)
    for c, _ in conns:
        c.close()
    lsock.close()


def metric(s, result):
    for line in s.req("GET", "/metrics").text.splitlines():
        if line.startswith('slipway_webhook_calls_total{result="%s"}' % result):
            return int(line.split()[-1])
    return None


def test_full_queue_drops_and_counts_without_delaying_deploys(server_factory, silent_receiver):
    url, conns = silent_receiver
    s = server_factory(["webhook_queue_size=%d" % QUEUE])
    s.make_env("app", "staging")
    s.ok("PUT", "/v1/envs/app/staging/web_hooks", code=204,
         json={"preDeployHooks": [{"url": url + "/pre/$TELETRAAN_DEPLOY_ID"}],
               "postDeployHooks": [{"url": url + "/post/$TELETRAAN_DEPLOY_ID"}]})
    assert metric(s, "dropped") == 0
    builds = [publish(s)["id"] for _ in range(DEPLOYS)]

    # the first pre-deploy job hangs on the silent receiver; this stage's later jobs wait behind it
    slowest, last = 0.0, None
    for i, b in enumerate(builds):
        t0 = time.time()
        last = s.deploy("app", "staging", b)
        slowest = max(slowest, time.time() - t0)
        if i == 0:
            first_deploy = last
            poll(lambda: conns, timeout=10, what="the first hook call reaching the receiver")
    assert slowest < 2, "a deploy creation took %.2f s" % slowest

    # at most QUEUE jobs wait: the rest of the DEPLOYS - 1 pre-deploy jobs were dropped (one hook each)
    dropped = poll(lambda: (lambda n: n if n and n >= DEPLOYS - 1 - QUEUE else None)(metric(s, "dropped")),
                   timeout=10, what="dropped hooks counted")
    assert dropped >= DEPLOYS - 1 - QUEUE
    assert "webhook queue full" in s.logtext()
    assert metric(s, "ok") == 0 and metric(s, "failed") == 0

    # the deploys complete regardless: the empty stage's last deploy succeeds at the next transition
    poll(lambda: current(s, "app", "staging")["state"] == "SUCCEEDING", timeout=10, what="last deploy succeeding")
    assert current(s, "app", "staging")["id"] == last["id"]
    # its post-deploy hook found the queue full too: the counter keeps rising
    poll(lambda: metric(s, "dropped") > dropped, timeout=10, what="the post-deploy hook dropped")

    # the server stays responsive while a delivery thread hangs
    for _ in range(5):
        t0 = time.time()
        r = s.req("GET", "/healthz", timeout=5)
        assert r.status_code == 200 and time.time() - t0 < 1
    d = s.deploy("app", "staging", publish(s)["id"])
    assert s.ok("GET", "/v1/deploys/" + d["id"])["state"] in ("RUNNING", "SUCCEEDING")
    # only the first job's call (and its retries after the 20 s timeout) reached the receiver: one
    # stage's jobs run one at a time
    first = builds and "POST /pre/%s HTTP/1.1" % first_deploy["id"]
    assert conns and all(line == first for _, line in conns), [line for _, line in conns]
