# SPDX-License-Identifier: Apache-2.0
# tests/integration/agent/test_agent_failover.py: AGENT.md §5.4 with two server URLs — a ping starts with the URL
# that last answered and moves to the next on a 5xx (first URL down: test_agent_cadence.py
# test_failover_to_second_url; real replicas killed mid-deploy: tests/integration/ha); a 503 with Retry-After:
# 0 (a stopping server) is retried at once and keeps long-poll, a larger Retry-After (an overloaded server) is
# waited for, jittered, and the agent recovers.
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from agent_support import FakeServer, wait_for  # noqa: E402


def test_failover_sticks_to_the_url_that_answered(server, make_agent):
    a, b = server, FakeServer()
    try:
        a.fail_status = 503
        agent = make_agent(a.url + "," + b.url)
        p = agent.start()
        wait_for(lambda: len(b.requests) >= 3, timeout=20, what="pings answered by the second URL")
        assert len(a.requests) == 1  # a failed once; later pings start with b, the last that answered
        # now b goes down and a is back: the next ping fails over to a and stays there
        a.fail_status, b.fail_status = None, 503
        wait_for(lambda: len(a.requests) >= 2, timeout=20, what="a ping answered by the first URL again")
        seen_a, seen_b = len(a.requests), len(b.requests)
        wait_for(lambda: len(a.requests) >= seen_a + 3, timeout=20, what="more pings to the first URL")
        assert len(b.requests) == seen_b  # sticks to a: b is not tried first any more
        assert all(req is not None and req["hostId"] == "host-1" for req in a.bodies() + b.bodies())
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=15) == 0
    finally:
        b.stop()


def gaps(server, start):
    """Seconds between consecutive requests to server from request index start on."""
    with server.lock:
        t = server.times[start:]
    return [b - a for a, b in zip(t, t[1:])]


def test_retry_after_0_is_retried_at_once_and_keeps_long_poll(server, make_agent):
    # one URL (a load balancer in front of replicas): a 503 with Retry-After: 0 is retried within a second,
    # not after the failure backoff (5 s here), and the agent stays in long-poll mode
    server.hold = True
    agent = make_agent(server.url, long_poll="true", long_poll_wait=3, ping_interval=30, backoff=5, backoff_max=30)
    p = agent.start()
    wait_for(lambda: len(server.requests) >= 2, timeout=20, what="a held ping and the next")
    server.fail_status, server.retry_after = 503, 0
    n = len(server.requests)
    wait_for(lambda: len(server.requests) >= n + 1, timeout=10, what="a ping answered 503")
    failed = len(server.requests) - 1
    server.fail_status = None
    wait_for(lambda: len(server.requests) >= failed + 3, timeout=20, what="pings after the 503")
    g = gaps(server, failed)
    assert g[0] < 1.5, g  # retried at once (the failure backoff would wait 2.5-5 s)
    assert g[1] >= 2.5, g  # held again (long_poll_wait 3)
    assert g[1] < 5, g  # ... and the next idle ping follows at once: long-poll, not ping_interval (27-33 s)
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=15) == 0
    assert "shutting down" in p.stderr.read()


def test_overloaded_server_is_waited_for_and_the_agent_recovers(server, make_agent):
    server.fail_status, server.retry_after = 503, 2
    agent = make_agent(server.url, long_poll="false", ping_interval=1, backoff=1, backoff_max=30)
    p = agent.start()
    wait_for(lambda: len(server.requests) >= 4, timeout=30, what="4 pings to an overloaded server")
    g = gaps(server, 0)
    # Retry-After: 2, jittered over [2, 3] s (the failure backoff of 1 s would retry after 0.5-1 s)
    assert all(2.0 <= x < 3.8 for x in g), g
    assert len(set(round(x, 2) for x in g)) > 1, g  # jittered, not a fixed period
    server.fail_status = None
    n = len(server.requests)
    wait_for(lambda: len(server.requests) >= n + 3, timeout=20, what="pings once the server recovered")
    g = gaps(server, n)
    assert all(x < 1.6 for x in g), g  # back to ping_interval (1 s ±10 %)
    assert agent.state()["hostId"] == "host-1"
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=15) == 0
    assert "overloaded" in p.stderr.read()
