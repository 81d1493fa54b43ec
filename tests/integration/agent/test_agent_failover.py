# SPDX-License-Identifier: Apache-2.0
# tests/integration/agent/test_agent_failover.py: AGENT.md §5.4 with two server URLs — a ping starts with the URL
# that last answered and moves to the next on a 5xx (first URL down: test_agent_cadence.py
# test_failover_to_second_url; real replicas killed mid-deploy: tests/integration/ha).
import os
import signal
import sys

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
