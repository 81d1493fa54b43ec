# SPDX-License-Identifier: Apache-2.0
# The run pool (setting ping_run_threads): a ping that moves a deploy on (a report of a step under way) runs on one
# of the pool's threads while its connection waits, and so does a woken long-poll's re-run. The answers are the same
# with the pool off (0, every ping on its HTTP thread), with one thread (every run queued behind the one before) and
# with the default; a stopping server answers the runs still queued 503 with Retry-After: 0, as it answers its held
# pings, and lets the runs under way finish.
import signal
import sqlite3
import threading
import time

import pytest
import requests

import dbtarget
from ping_support import Host, converge, deploying, metric, ping_round, wait_for


@pytest.mark.parametrize("threads", [0, 1, 16])
def test_rollout_and_long_poll_answers_are_the_same_with_any_pool(server_factory, threads):
    s = server_factory(["ping_run_threads=%d" % threads]).start()
    n, width = 30, 3
    env = s.make_env("web", "prod", maxParallel=width)
    s.set_groups("web", "prod", ["g"])
    hosts = [Host(s, "h%02d" % i, groups=["g"]) for i in range(n)]
    d1 = s.deploy("web", "prod", s.publish(commit="1111111aaaa")["id"])
    for _ in range(12):
        ping_round(hosts, parallel=True)
    assert all(h.stage_of(env["id"]) == (d1["id"], "SERVING_BUILD", "SUCCEEDED") for h in hosts)
    ping_round(hosts, parallel=True)
    # a held ping is woken by the next deploy (its re-run goes through the pool too) and gets its goal
    held_host, out = hosts[0], {}
    t = threading.Thread(target=lambda: out.update(r=held_host.ping(wait=20, timeout=30)))
    t.start()
    assert wait_for(lambda: metric(s, "slipway_pings_held") == 1)
    d2 = s.deploy("web", "prod", s.publish(commit="2222222bbbb")["id"])
    t.join(10)
    assert not t.is_alive()
    assert out["r"]["opCode"] == "DEPLOY" and out["r"]["deployGoal"]["deployId"] == d2["id"]
    # every host pings at once; admission keeps the width exactly
    largest = 0
    for _ in range(40):
        ping_round(hosts, parallel=True)
        now = deploying(hosts, env["id"], d2["id"])
        assert now <= width
        largest = max(largest, now)
        if all(h.stage_of(env["id"]) == (d2["id"], "SERVING_BUILD", "SUCCEEDED") for h in hosts):
            break
    assert largest == width
    assert converge(hosts, env["id"], d2["id"])
    assert all(a["deployId"] == d2["id"] and a["deployStage"] == "SERVING_BUILD" for a in s.agents("web", "prod"))
    # the deploy's counts follow (the transitioner, every second here)
    assert wait_for(lambda: s.current("web", "prod")["successTotal"] == n), s.current("web", "prod")
    assert s.current("web", "prod")["id"] == d2["id"]
    assert metric(s, "slipway_ping_runs_queued") == 0
    # the woken re-run and the reports of steps under way ran on the pool when there is one
    if threads:
        assert metric(s, "slipway_ping_pool_runs_total") >= 1 + n * 7
    else:
        assert metric(s, "slipway_ping_pool_runs_total") == 0


@pytest.mark.skipif(dbtarget.is_pg(), reason="holds SQLite's write lock from outside the server")
def test_stop_answers_queued_runs_503_and_lets_the_running_one_finish(server_factory):
    # one run thread; SQLite's write lock taken by another process: the first new host's run waits for it (its
    # heartbeat record is a write), the next ones queue behind it. Each reports a step under way (a deploy this
    # server does not know: the run forgets it), so each goes to the pool.
    s = server_factory(["ping_run_threads=1", "request_read_timeout=60"]).start()
    assert Host(s, "warm").ping()["opCode"] == "NOOP"
    lock = sqlite3.connect(str(s.db.path), timeout=10, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    results = {}

    def ping(name):
        try:
            report = {"deployId": "d-gone", "envId": "e-gone", "deployStage": "DOWNLOADING",
                      "agentStatus": "SUCCEEDED"}
            r = requests.post(s.url + "/v1/system/ping", json={"hostId": name, "hostName": name, "reports": [report]},
                              headers={"Authorization": "token " + s.token}, timeout=30)
            results[name] = (r.status_code, r.headers.get("Retry-After"), r.json(), time.monotonic())
        except Exception as e:  # noqa: BLE001 - reported by the assertions below
            results[name] = (None, None, repr(e), time.monotonic())

    names = ["new%d" % i for i in range(5)]
    threads = []
    try:
        for name in names:
            threads.append(threading.Thread(target=ping, args=(name,)))
            threads[-1].start()
        assert wait_for(lambda: metric(s, "slipway_ping_runs_queued") == 4), metric(s, "slipway_ping_runs_queued")
        assert not results  # none answered while the one thread waits for the lock
        t0 = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        # the four queued runs are answered at once, 503 with Retry-After: 0 (the agent asks another replica)
        assert wait_for(lambda: len(results) >= 4, timeout=3), results
        refused = [v for v in results.values() if v[0] == 503]
        assert len(refused) == 4, results
        for status, retry, body, at in refused:
            assert retry == "0" and body["code"] == 503 and at - t0 < 3
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    for t in threads:
        t.join(15)
        assert not t.is_alive()
    # the run under way finished once the lock was free, and was answered
    answered = [v for v in results.values() if v[0] == 200]
    assert len(answered) == 1 and "opCode" in answered[0][2], results
    assert s.proc.wait(timeout=15) == 0
