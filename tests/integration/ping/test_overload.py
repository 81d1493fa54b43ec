# SPDX-License-Identifier: Apache-2.0
# Overload (issue 14 item 5): past overload_connections open connections a ping is answered 503 with Retry-After
# (and Connection: close) at once, before authentication or parsing, instead of queueing; other requests are still
# served. slipway-agent waits the Retry-After (jittered) and recovers when the flood ends; slipway-fleetsim, flooding
# a small server with more connections than it takes, gets 503s and still has its pings answered.
import json
import os
import socket
import subprocess
import time

import requests

from ping_support import Server, metric, wait_for
from serverproc import BUILD_DIR

AGENT_BIN = os.path.join(BUILD_DIR, "src", "agent", "slipway-agent")
FLEETSIM_BIN = os.path.join(BUILD_DIR, "src", "fleetsim", "slipway-fleetsim")
LIMIT = 20
RETRY_AFTER = 2
SETTINGS = ["max_connections=200", "max_held_pings=10", "overload_connections=%d" % LIMIT,
            "overload_retry_after=%d" % RETRY_AFTER, "request_read_timeout=60", "per_ip_connection_limit=0"]


class Flood:
    """n idle TCP connections to the server (each one a connection it holds open)."""

    def __init__(self, server, n):
        host, port = server.url[len("http://"):].rsplit(":", 1)
        self.socks = [socket.create_connection((host, int(port)), timeout=5) for _ in range(n)]

    def close(self):
        for s in self.socks:
            s.close()
        self.socks = []


def ping(s, host="h1"):
    return requests.post(s.url + "/v1/system/ping", json={"hostId": host, "hostName": host, "reports": []},
                         headers={"Authorization": "token " + s.token}, timeout=10)


def test_flooded_server_answers_503_retry_after_and_the_agent_backs_off(server_factory, tmp_path):
    s = server_factory(SETTINGS).start()
    assert ping(s).status_code == 200
    flood = Flood(s, LIMIT + 5)
    try:
        assert wait_for(lambda: metric(s, "slipway_http_connections") > LIMIT)
        t0 = time.monotonic()
        r = ping(s)
        assert time.monotonic() - t0 < 1
        assert r.status_code == 503, r.text
        assert r.headers.get("Retry-After") == str(RETRY_AFTER), r.headers
        assert r.headers.get("Connection") == "close", r.headers
        assert r.json()["code"] == 503
        # an operator still gets through
        assert s.req("GET", "/v1/envs").status_code == 200
        # an agent meets the overloaded server: it waits Retry-After (2-3 s) between attempts, not its 1 s backoff
        conf = tmp_path / "agent.conf"
        for d in ("state", "builds", "log", "current"):
            (tmp_path / d).mkdir()
        conf.write_text("".join("%s = %s\n" % kv for kv in {
            "server_url": s.url, "token_file": s.db.token_file, "host_id": "agent-1", "host_name": "agent-1",
            "state_dir": tmp_path / "state", "builds_dir": tmp_path / "builds", "log_dir": tmp_path / "log",
            "target_dir": tmp_path / "current", "long_poll": "true", "long_poll_wait": 5, "ping_interval": 30,
            "backoff": 1, "backoff_max": 30}.items()))
        before = metric(s, "slipway_pings_overloaded_total")
        agent = subprocess.Popen([AGENT_BIN, "--config", str(conf)], stdout=subprocess.DEVNULL,
                                 stderr=open(tmp_path / "agent.log", "wb"), start_new_session=True)
        try:
            assert wait_for(lambda: metric(s, "slipway_pings_overloaded_total") > before, timeout=10)
            first = time.monotonic()
            time.sleep(6.5)
            attempts = metric(s, "slipway_pings_overloaded_total") - before
            # after the first refusal at most one attempt per 2 s (a 1 s backoff would make 7-13)
            assert 2 <= attempts <= 4, attempts
            assert "overloaded" in (tmp_path / "agent.log").read_text()
            flood.close()
            # the flood ends: the agent's next attempt gets through, and it long-polls (its ping is held)
            assert wait_for(lambda: metric(s, "slipway_pings_held") == 1, timeout=RETRY_AFTER * 1.5 + 3)
            print("agent: %d refused attempts in 6.5 s, held %.1f s after the first refusal" % (
                attempts, time.monotonic() - first))
            assert s.db.query("SELECT count(*) FROM heartbeats WHERE hostId = ?", ("agent-1",))[0][0] == 1
        finally:
            agent.terminate()
            agent.wait(timeout=15)
    finally:
        flood.close()
    assert ping(s).status_code == 200


def test_fleetsim_honours_retry_after_and_recovers(server_factory):
    s = server_factory(SETTINGS).start()
    hosts = 200
    flood = Flood(s, LIMIT + 1)
    try:
        assert wait_for(lambda: metric(s, "slipway_http_connections") > LIMIT)
        sim = subprocess.Popen([FLEETSIM_BIN, "--server", s.url, "--token", s.token, "--group", "flood", "--hosts",
                                str(hosts), "--duration", "8", "--interval", "1", "--connections", "8", "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # every ping is refused for 2 s, then the flood ends
        assert wait_for(lambda: metric(s, "slipway_pings_overloaded_total") >= hosts / 2, timeout=10)
        time.sleep(1)
    finally:
        flood.close()
    out, err = sim.communicate(timeout=60)
    assert sim.returncode == 0, err[-2000:]
    summary = json.loads(out)
    total = summary.get("total", summary)
    print("fleetsim: %d pings, %d answered 503 (Retry-After %d s), answers %s" % (
        total["pings"], total["overloaded"], RETRY_AFTER, total["answers"]))
    assert total["overloaded"] > 0
    # each host waited its Retry-After before trying again: about one refusal per host while the flood lasted
    assert total["overloaded"] <= 2 * hosts, total
    # and it recovered: every host was answered afterwards
    assert total["answers"].get("NOOP", 0) >= hosts, total
