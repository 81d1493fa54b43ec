# SPDX-License-Identifier: Apache-2.0
# Long-poll pings (§5.11): woken by a new deploy within 1 s, answered NOOP at the deadline, replaced by
# the host's next ping, woken by a released slot, bounded by max_held_pings, answered 503 with Retry-After: 0 at
# shutdown (the agent asks another replica at once); and a server restart keeps the fleet's state.
import signal
import threading
import time

import pytest
import requests

from ping_support import Host, converge, metric, ping_round, wait_for


class Held:
    """A ping with ?wait=N running in a thread."""

    def __init__(self, host, wait):
        self.host, self.wait = host, wait
        self.resp = None
        self.done_at = None
        self.error = None
        self.t = threading.Thread(target=self.run)
        self.started = time.monotonic()
        self.t.start()

    def run(self):
        try:
            self.resp = self.host.ping(wait=self.wait, timeout=self.wait + 15)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e
        self.done_at = time.monotonic()

    def join(self, timeout):
        self.t.join(timeout)
        assert not self.t.is_alive(), "held ping did not return"
        assert self.error is None, self.error
        return self.resp


def held_count(server):
    for line in server.req("GET", "/metrics").text.splitlines():
        if line.startswith("slipway_pings_held "):
            return int(line.split()[1])
    return None


def wait_held(server, n, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if held_count(server) == n:
            return True
        time.sleep(0.02)
    return False


def test_held_ping_wakes_on_new_deploy(server):
    e = server.make_env("web", "prod")
    server.set_groups("web", "prod", ["g"])
    h = Host(server, "h0", groups=["g"])
    assert h.ping()["opCode"] == "NOOP"
    held = Held(h, 20)
    assert wait_held(server, 1)
    t0 = time.monotonic()
    d = server.deploy("web", "prod", server.publish()["id"])
    resp = held.join(10)
    assert held.done_at - t0 < 1.0, held.done_at - t0
    assert resp["opCode"] == "DEPLOY" and resp["deployGoal"]["deployId"] == d["id"]
    assert resp["deployGoal"]["deployStage"] == "PRE_DOWNLOAD"
    assert wait_held(server, 0)


def test_held_ping_answers_noop_at_deadline(server):
    e = server.make_env("web", "prod")
    server.set_groups("web", "prod", ["g"])
    h = Host(server, "h0", groups=["g"])
    held = Held(h, 2)
    resp = held.join(10)
    took = held.done_at - held.started
    assert resp == {"opCode": "NOOP", "deployGoal": None}
    assert 1.9 <= took < 3.5, took


def test_non_noop_answers_at_once_and_wait_is_clamped(server):
    e = server.make_env("web", "prod")
    server.set_groups("web", "prod", ["g"])
    server.deploy("web", "prod", server.publish()["id"])
    h = Host(server, "h0", groups=["g"])
    t0 = time.monotonic()
    assert h.ping(wait=3600)["opCode"] == "DEPLOY"  # clamped to 60, but answered at once
    assert time.monotonic() - t0 < 1.0


def test_new_ping_of_same_host_replaces_held_one(server):
    e = server.make_env("web", "prod")
    server.set_groups("web", "prod", ["g"])
    h = Host(server, "h0", groups=["g"])
    held = Held(h, 30)
    assert wait_held(server, 1)
    t0 = time.monotonic()
    assert h.ping()["opCode"] == "NOOP"
    resp = held.join(5)
    assert resp["opCode"] == "NOOP" and held.done_at - t0 < 1.0


def second_deploy_width_one(server, n):
    """n hosts serving a first deploy of a stage one host wide, and a second deploy: (stage, hosts, deploy)."""
    e = server.make_env("web", "prod", maxParallel=1)
    server.set_groups("web", "prod", ["g"])
    hosts = [Host(server, "h%d" % i, groups=["g"]) for i in range(n)]
    d1 = server.deploy("web", "prod", server.publish(commit="1111111aaaa")["id"])
    assert converge(hosts, e["id"], d1["id"])
    return e, hosts, server.deploy("web", "prod", server.publish(commit="2222222bbbb")["id"])


def test_released_slot_wakes_a_waiting_host(server):
    e, hosts, d2 = second_deploy_width_one(server, 2)
    r = hosts[0].ping()
    assert r["opCode"] == "DEPLOY" and r["deployGoal"]["deployId"] == d2["id"]
    held = Held(hosts[1], 30)  # refused admission: held
    assert wait_held(server, 1)
    for _ in range(10):
        hosts[0].ping()
        if hosts[0].stage_of(e["id"]) == (d2["id"], "SERVING_BUILD", "SUCCEEDED"):
            break
    t0 = time.monotonic()
    hosts[0].ping()  # records SERVING_BUILD: the slot is released (SLOT event)
    resp = held.join(10)
    assert held.done_at - t0 < 1.5, held.done_at - t0
    assert resp["opCode"] == "DEPLOY" and resp["deployGoal"]["deployStage"] == "PRE_DOWNLOAD"


def finish(host, env_id, deploy_id, rounds=12):
    """Ping host until it serves deploy_id; True when it does."""
    for _ in range(rounds):
        if host.stage_of(env_id) == (deploy_id, "SERVING_BUILD", "SUCCEEDED"):
            return True
        host.ping()
    return host.stage_of(env_id) == (deploy_id, "SERVING_BUILD", "SUCCEEDED")


def events_read(server):
    """True once the server has read every wake event written so far (its held pings were woken by them)."""
    last = server.db.query("SELECT COALESCE(MAX(seq), 0) FROM events")[0][0]
    return metric(server, "slipway_ping_event_seq") >= last


def test_released_slot_wakes_only_hosts_refused_one(server):
    # h2 serves the new deploy already, h1 was refused its slot: both are held; h0's released slot wakes h1 only
    e, hosts, d2 = second_deploy_width_one(server, 3)
    assert finish(hosts[2], e["id"], d2["id"])
    assert hosts[0].ping()["opCode"] == "DEPLOY"  # h0 takes the slot h2 released
    h1 = Held(hosts[1], 30)  # refused admission: held
    h2 = Held(hosts[2], 30)  # nothing to install: held
    assert wait_held(server, 2)
    # the events so far (the new deploy, h2's released slot) have woken whom they wake, and they re-ran
    assert wait_for(lambda: events_read(server) and metric(server, "slipway_ping_wakes_running") == 0
                    and held_count(server) == 2)
    wakes, slot_wakes = metric(server, "slipway_ping_wakes_total"), metric(server, "slipway_ping_slot_wakes_total")
    t0 = time.monotonic()
    assert finish(hosts[0], e["id"], d2["id"])  # its last report releases the slot (SLOT event)
    resp = h1.join(10)
    assert h1.done_at - t0 < 2.5, h1.done_at - t0
    assert resp["opCode"] == "DEPLOY" and resp["deployGoal"]["deployId"] == d2["id"]
    assert wait_held(server, 1) and h2.done_at is None  # h2 was not woken: still held
    assert metric(server, "slipway_ping_slot_wakes_total") == slot_wakes + 1
    assert metric(server, "slipway_ping_wakes_total") == wakes + 1
    hosts[2].ping()  # step 1: answers the held one NOOP
    assert h2.join(5)["opCode"] == "NOOP"


def test_max_held_pings(server_factory):
    server = server_factory(["max_held_pings=1", "max_connections=64"]).start()
    e = server.make_env("web", "prod")
    server.set_groups("web", "prod", ["g"])
    a, b = Host(server, "a", groups=["g"]), Host(server, "b", groups=["g"])
    held = Held(a, 20)
    assert wait_held(server, 1)
    t0 = time.monotonic()
    assert b.ping(wait=20)["opCode"] == "NOOP"
    assert time.monotonic() - t0 < 1.0
    assert a.ping()["opCode"] == "NOOP"
    held.join(5)


class RawHeld(Held):
    """A held ping whose HTTP answer (status, headers, body) is kept as it came."""

    def run(self):
        try:
            self.resp = self.host.session.post(self.host.server.url + "/v1/system/ping", params={"wait": self.wait},
                                               json=self.host.body(), timeout=self.wait + 15,
                                               headers={"Authorization": "token " + self.host.server.token})
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e
        self.done_at = time.monotonic()


def test_shutdown_answers_held_pings_503_retry_after_0(server):
    # a stopping server sends its held pings elsewhere at once: 503, Retry-After: 0, the connection closed (a NOOP
    # would be an early answer, and an agent answered early leaves long-poll for ping_interval)
    e = server.make_env("web", "prod")
    server.set_groups("web", "prod", ["g"])
    hosts = [Host(server, "h%d" % i, groups=["g"]) for i in range(5)]
    helds = [RawHeld(h, 30) for h in hosts]
    assert wait_held(server, 5)
    url = server.url
    t0 = time.monotonic()
    assert server.stop(signal.SIGTERM) == 0
    for x in helds:
        r = x.join(10)
        assert r.status_code == 503, r.text
        assert r.headers.get("Retry-After") == "0", r.headers
        assert r.headers.get("Connection") == "close", r.headers
        assert r.json()["code"] == 503
        assert x.done_at - t0 < 2
    assert time.monotonic() - t0 < 10
    # and nothing listens any more
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/healthz", timeout=2)


def test_restart_keeps_state(server):
    e = server.make_env("web", "prod", maxParallel=2)
    server.set_groups("web", "prod", ["g"])
    hosts = [Host(server, "h%d" % i, groups=["g"]) for i in range(3)]
    d1 = server.deploy("web", "prod", server.publish(commit="1111111aaaa")["id"])
    assert converge(hosts, e["id"], d1["id"])
    d2 = server.deploy("web", "prod", server.publish(commit="2222222bbbb")["id"])
    ping_round(hosts)
    ping_round(hosts)
    assert server.stop(signal.SIGTERM) == 0
    server.start()
    a = server.agents_by_host("web", "prod")
    assert sum(1 for x in a.values() if x["holdsSlot"]) == 2
    seen = server.ok("GET", "/v1/hosts/id/h0")[0]["lastSeen"]
    assert seen is not None
    assert converge(hosts, e["id"], d2["id"])
