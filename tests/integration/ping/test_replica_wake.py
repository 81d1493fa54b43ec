# SPDX-License-Identifier: Apache-2.0
# Two replicas on one PostgreSQL database (issue 15 item 1): replica b remembers idle answers too, and learns
# of what happens through replica a from its wake listener (LISTEN/NOTIFY, docs/operations.md):
# - idle pings on b are answered from memory;
# - for each wake kind (new deploy, pause/resume, capacity change, host action) made through a, a host
#   long-polling b, and a host idle-pinging b, get the new goal within the wake bound (1 s);
# - a ping of the same host through a that writes its rows ends b's memory of it;
# - with b's listening connection killed (pg_terminate_backend), stalled (SIGSTOP of its backend) or
#   PostgreSQL restarted, no answer repeated from memory is older than the staleness bound (1 s).
# PostgreSQL only (the SQLite pass skips it: one server per SQLite file).
import os
import re
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ping_support import Host, converge, listener_pid, listener_stalled, replica_pair  # noqa: E402
import dbtarget  # noqa: E402  (on sys.path through ping_support)

BOUND = 1.0       # the wake bound and the staleness bound (docs/operations.md)
SLACK = 0.3       # the test's own round trips on a shared machine


@pytest.fixture
def pair(tmp_path):
    yield from replica_pair(tmp_path)


def metric(server, name):
    m = re.search(r"^%s (\d+)" % re.escape(name), server.req("GET", "/metrics").text, re.M)
    return int(m.group(1)) if m else 0


def on_b(b, host):
    """The same host (same id, groups and reports) pinging b."""
    h = Host(b, host.host_id, groups=host.groups)
    h.reports = host.reports
    return h


def idle_hosts(a, b, names=("h0", "h1")):
    """Hosts that converged on a deploy of web/prod (maxParallel 2) through a, then idle on b, which answers them
    from memory. Returns (env, hosts on a, the same hosts on b, deploy)."""
    e = a.make_env("web", "prod", maxParallel=2)
    a.set_groups("web", "prod", ["g"])
    on_a = [Host(a, n, groups=["g"]) for n in names]
    d = a.deploy("web", "prod", a.publish(commit="1111111aaaa")["id"])
    assert converge(on_a, e["id"], d["id"])
    hb = [on_b(b, h) for h in on_a]
    repeats_on(b, hb)
    return e, on_a, hb, d


def repeats_on(b, hosts, n=2, timeout=5):
    """Idle pings of hosts on b until b answered each n times from memory (its listener starts with its first
    ping, and nothing is repeated before it proved itself fresh)."""
    deadline = time.monotonic() + timeout
    before = metric(b, "slipway_ping_idle_repeats_total")
    while metric(b, "slipway_ping_idle_repeats_total") < before + n * len(hosts):
        assert time.monotonic() < deadline, "b repeats idle answers from memory"
        for h in hosts:
            assert h.ping()["opCode"] == "NOOP"
        time.sleep(0.02)


def first_goal(host, deadline_s, tolerate=False):
    """Idle pings (wait=0) until the answer is not NOOP: (answer, seconds). tolerate: a failed ping is retried
    (PostgreSQL restarting)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < deadline_s:
        try:
            r = host.ping(apply=False)
        except (AssertionError, OSError):
            if not tolerate:
                raise
            time.sleep(0.02)
            continue
        if r["opCode"] != "NOOP":
            return r, time.monotonic() - t0
        time.sleep(0.02)
    return None, time.monotonic() - t0


class Held:
    """A ping of host held by its server (wait=30) in a thread; .answer and .at when it returns."""

    def __init__(self, host):
        self.answer, self.at = None, None
        self.t = threading.Thread(target=self.run, args=(host,), daemon=True)
        self.t.start()

    def run(self, host):
        self.answer = host.ping(wait=30, timeout=40, apply=False)
        self.at = time.monotonic()

    def result(self):
        self.t.join(40)
        return self.answer, self.at


def held_on(b, host):
    """Hold a ping of host on b; returns once b counts it held."""
    n = metric(b, "slipway_pings_held")
    w = Held(host)
    deadline = time.time() + 5
    while metric(b, "slipway_pings_held") <= n and time.time() < deadline:
        time.sleep(0.02)
    assert metric(b, "slipway_pings_held") > n, "the ping is held"
    return w


def test_idle_pings_are_repeated_from_memory(pair):
    a, b = pair
    e, on_a, hb, d = idle_hosts(a, b, ("h0",))
    before = metric(b, "slipway_ping_idle_repeats_total")
    for _ in range(20):
        assert hb[0].ping()["opCode"] == "NOOP"
    assert metric(b, "slipway_ping_idle_repeats_total") == before + 20


# ---- each wake kind made through a: a ping held on b and a host idle-pinging b see it within BOUND ----
# setup(a, b) -> (host to hold on b, host idle-pinging b); change(a) makes the change through a.

def setup_converged(a, b):
    e, on_a, hb, d = idle_hosts(a, b)
    return hb[0], hb[1]


def setup_paused(a, b):
    held, idle = setup_converged(a, b)
    a.action("web", "prod", "PAUSE")
    a.deploy("web", "prod", a.publish(commit="2222222bbbb")["id"])
    repeats_on(b, [idle])  # paused stage: no goal
    return held, idle


def setup_outside_capacity(a, b):
    setup_converged(a, b)
    new = [Host(b, n, groups=["g2"]) for n in ("n0", "n1")]
    repeats_on(b, new)  # in no stage's capacity
    return new[0], new[1]


def new_deploy(a):
    a.deploy("web", "prod", a.publish(commit="2222222bbbb")["id"])


def resume(a):
    a.action("web", "prod", "RESUME")


def add_capacity(a):
    a.set_groups("web", "prod", ["g", "g2"])


def host_action(a):
    a.ok("PUT", "/v1/envs/web/prod/deploys/hostactions", params={"actionType": "RESET"}, json=["h0", "h1"])


KINDS = {
    "new-deploy": (setup_converged, new_deploy),
    "pause": (setup_paused, resume),
    "capacity": (setup_outside_capacity, add_capacity),
    "host-action": (setup_converged, host_action),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_change_on_a_reaches_b_within_the_wake_bound(pair, kind):
    a, b = pair
    setup, change = KINDS[kind]
    held_host, idle_host = setup(a, b)
    held = held_on(b, held_host)
    t0 = time.monotonic()
    change(a)
    idle_answer, idle_s = first_goal(idle_host, BOUND + SLACK)
    answer, at = held.result()
    assert answer is not None and answer["opCode"] == "DEPLOY", answer
    held_s = at - t0
    assert idle_answer is not None and idle_answer["opCode"] == "DEPLOY", "idle pings on b NOOP for %.2f s" % idle_s
    print("%s: held ping woken on b after %.3f s, idle pings saw it after %.3f s" % (kind, held_s, idle_s))
    assert held_s <= BOUND, "held ping woken after %.2f s" % held_s
    assert idle_s <= BOUND, "idle pings answered NOOP for %.2f s" % idle_s


# ---- another replica's ping writing the host's rows ----

def fail_on_a_then_back_on_b(a, b, e, on_a, hb, bound):
    """Through a, h0 reports a fatal failure (its row is parked); back on b with the body b remembers, b must run
    it in full (writing the row back to NORMAL) within bound."""
    h = on_a[0]
    good = dict(h.reports[e["id"]])
    h.reports[e["id"]] = dict(good, agentStatus="AGENT_FAILED", errorCode=1, errorMessage="boom", failCount=1)
    assert h.ping()["opCode"] == "NOOP"
    assert a.agents_by_host("web", "prod")["h0"]["state"] == "PAUSED_BY_SYSTEM"
    h.reports[e["id"]] = good
    t0 = time.monotonic()
    while b.agents_by_host("web", "prod")["h0"]["state"] != "NORMAL":
        assert time.monotonic() - t0 <= bound, "b repeated its memory of h0 for %.2f s" % (time.monotonic() - t0)
        assert hb[0].ping()["opCode"] == "NOOP"
        time.sleep(0.02)
    return time.monotonic() - t0


def test_a_ping_writing_the_hosts_rows_on_a_ends_bs_memory(pair):
    a, b = pair
    e, on_a, hb, d = idle_hosts(a, b, ("h0",))
    s = fail_on_a_then_back_on_b(a, b, e, on_a, hb, BOUND)
    print("a's write of h0's row ended b's memory after %.3f s" % s)


# ---- the listener lost, stalled, PostgreSQL restarted ----

def test_killing_the_listening_connection(pair):
    a, b = pair
    e, on_a, hb, d = idle_hosts(a, b, ("h0",))
    pid = listener_pid(b)
    assert a.db.query("SELECT pg_terminate_backend(?)", (pid,))[0][0]
    t0 = time.monotonic()
    a.deploy("web", "prod", a.publish(commit="2222222bbbb")["id"])
    r, s = first_goal(hb[0], BOUND + SLACK)
    assert r is not None and r["opCode"] == "DEPLOY" and s <= BOUND, "NOOP from b for %.2f s" % s
    # the listener is back on a new connection, and b repeats idle answers again
    new = listener_pid(b)
    assert new != pid
    print("listener killed: b answered the deploy after %.3f s; new connection after %.2f s"
          % (s, time.monotonic() - t0))
    hb[0].apply(r)
    converge(hb, e["id"], r["deployGoal"]["deployId"])
    repeats_on(b, hb, timeout=10)


def test_a_stalled_listener_stops_the_repeats_within_the_bound(pair):
    a, b = pair
    e, on_a, hb, d = idle_hosts(a, b, ("h0",))
    with listener_stalled(b):
        # b's listener gets neither a's notifications nor answers to its probes
        s = fail_on_a_then_back_on_b(a, b, e, on_a, hb, BOUND + SLACK)
        print("stalled listener: b ran the ping in full after %.3f s" % s)


def test_postgresql_restart(pair):
    a, b = pair
    if not os.environ.get("SLIPWAY_TEST_PG_DIR"):
        if dbtarget.IN_CI:
            pytest.fail("SLIPWAY_TEST_PG_DIR is not set (CI=true: not skipped)")
        pytest.skip("SLIPWAY_TEST_PG_DIR (the scripts/pg-test.sh directory) is needed to restart PostgreSQL")
    e, on_a, hb, d = idle_hosts(a, b, ("h0",))
    pid = listener_pid(b)
    assert dbtarget.pg_restart()
    # the first deploy a manages to create after the restart reaches b's idle host within the bound
    deadline = time.monotonic() + 30
    build = None
    while True:
        assert time.monotonic() < deadline, "a creates a deploy after the restart"
        try:
            build = build or a.publish(commit="2222222bbbb")["id"]
            a.deploy("web", "prod", build)
            break
        except (AssertionError, OSError):
            time.sleep(0.1)  # the connections reconnect
    r, s = first_goal(hb[0], 30, tolerate=True)
    assert r is not None and r["opCode"] == "DEPLOY", r
    print("PostgreSQL restart: b answered the new deploy after %.3f s" % s)
    assert s <= BOUND, "NOOP from b for %.2f s after the deploy was created" % s
    assert listener_pid(b) != pid
