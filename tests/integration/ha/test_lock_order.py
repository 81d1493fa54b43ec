# SPDX-License-Identifier: Apache-2.0
# Row-lock order on PostgreSQL (issue 15): a ping's write transaction takes no advisory lock, the host actions and
# the janitor's multi-row writes do. When both change several agent rows of one host, they must take the row locks
# in one order (hostId, envId), or PostgreSQL finds a deadlock and aborts one of them (a 503 for the action, a
# logged error and a lost write for the ping). Here 12 hosts with a row in each of two stages ping replica a
# concurrently, every ping changing both rows (a new containerHealthStatus each time), while replicas b and c set
# the same hosts NORMAL across all their stages (PUT /v1/agents/id/{hostId}: one UPDATE of both rows) as fast as
# they answer. Every action must succeed and no server may log a deadlock.
import os
import sys
import threading
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ping"))
from ping_support import Host, converge  # noqa: E402

N_HOSTS = 3
PINGERS = 6
SECONDS = 8
STAGES = ("lockx", "locky")


def ok(server, method, path, **kw):
    r = requests.request(method, server.url + path, headers={"Authorization": "token " + server.token},
                         timeout=20, **kw)
    assert 200 <= r.status_code < 300, "%s %s -> %d %s" % (method, path, r.status_code, r.text)
    return r.json() if r.content else None


def test_pings_and_host_actions_on_other_replicas_never_deadlock(replicas):
    a, others = replicas.a, replicas.all[1:]
    envs = {}
    b = ok(a, "POST", "/v1/builds", json={"name": "lockapp", "repo": "acme/lock", "branch": "main",
                                          "commit": "abcdef1234567", "type": "Github",
                                          "artifactUrl": "https://art.example/lock/abcdef1.tgz"})
    for name in STAGES:
        envs[name] = ok(a, "POST", "/v1/envs", json={"envName": name, "stageName": "prod", "buildName": "lockapp",
                                                     "maxParallel": N_HOSTS})
        ok(a, "PUT", "/v1/envs/%s/prod/capacity" % name, params={"capacityType": "GROUP"}, json=["lock-g"])
    deploys = {name: ok(a, "POST", "/v1/envs/%s/prod/deploys" % name, params={"buildId": b["id"]})
               for name in STAGES}
    hosts = [Host(a, "lock-%02d" % i, groups=["lock-g"]) for i in range(N_HOSTS)]
    for name in STAGES:
        converge(hosts, envs[name]["id"], deploys[name]["id"])
    assert all(len(h.reports) == 2 for h in hosts)

    stop = time.monotonic() + SECONDS
    failures, counts = [], {"pings": 0, "actions": 0}
    lock = threading.Lock()

    def pinger(k):
        # a copy of every host, its reports in one order or the other: the two rows are written in either order
        mine = []
        for h in hosts:
            c = Host(a, h.host_id, groups=h.groups)
            c.reports = {e: dict(r) for e, r in (list(h.reports.items())[::-1] if k % 2 else h.reports.items())}
            mine.append(c)
        n = 0
        while time.monotonic() < stop:
            for h in mine:
                n += 1
                for rep in h.reports.values():
                    rep["containerHealthStatus"] = "c%d-%d" % (k, n)  # both rows change: one write transaction
                try:
                    h.ping(apply=False)
                except AssertionError as e:
                    with lock:
                        failures.append("ping %s: %s" % (h.host_id, e))
                with lock:
                    counts["pings"] += 1

    def actor(server):
        s = requests.Session()
        while time.monotonic() < stop:
            for h in hosts:
                r = s.put(server.url + "/v1/agents/id/" + h.host_id, json={"state": "NORMAL"},
                          headers={"Authorization": "token " + server.token}, timeout=20)
                with lock:
                    counts["actions"] += 1
                    if r.status_code >= 300:
                        failures.append("action %s on %s: %d %s" % (h.host_id, server.url, r.status_code, r.text))

    threads = [threading.Thread(target=pinger, args=(k,)) for k in range(PINGERS)]
    threads += [threading.Thread(target=actor, args=(s,)) for s in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    logs = {s.url: (s.dir / s.log_name).read_text(errors="replace") for s in replicas.all}
    deadlocks = [u for u, text in logs.items() if "deadlock" in text]
    assert not failures, failures[:5]
    assert not deadlocks, {u: logs[u][-1500:] for u in deadlocks}
    print("lock order: %d pings, %d host actions in %d s" % (counts["pings"], counts["actions"], SECONDS))
    assert counts["pings"] > 50 and counts["actions"] > 50, counts
