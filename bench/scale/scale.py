# SPDX-License-Identifier: Apache-2.0
"""bench/scale: one SQLite slipway-server and one slipway-fleetsim of N hosts in one group (issue "Scale").

a) idle: the fleet registers and then pings every BENCH_SCALE_INTERVAL s (default 60); over the last
   BENCH_SCALE_IDLE_SECONDS of the idle phase: the server's CPU µs per ping (user + system from /proc), pings/s,
   the simulator's p99, the server's RSS per host.
b) deploys: a first deploy (every host at once), then a later deploy at maxParallelPct BENCH_SCALE_LATER_PCT
   (100): the time until the first host and until every host is SERVING_BUILD with it (the deploy's
   successTotal), and when each host got its first goal of the deploy (p50/p99/max of its agent row's startDate
   after the deploy's, read from the SQLite file once the deploy is done).
   Each waits at most BENCH_SCALE_DEPLOY_TIMEOUT s; what was reached by then is reported.
c) during the later deploy, once a second: the rows holding a slot and the hosts deploying it (on the deploy,
   not yet SERVING_BUILD), read from the server's database; their maximum against the width.
Knobs: BENCH_SCALE_HOSTS (100000), BENCH_SCALE_LATER_PCT (100), BENCH_SCALE_INTERVAL (60), BENCH_SCALE_WAIT (0; >0: long-poll, and then
BENCH_SCALE_CONNECTIONS should be N), BENCH_SCALE_CONNECTIONS (256), BENCH_SCALE_IDLE_SECONDS (60),
BENCH_SCALE_DEPLOY_TIMEOUT (900), BENCH_KEEP_TMP=1."""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ping"))
from bench import BUILD, Srv, log  # noqa: E402

FLEETSIM = os.path.join(BUILD, "src", "fleetsim", "slipway-fleetsim")
N = int(os.environ.get("BENCH_SCALE_HOSTS", "100000"))
INTERVAL = int(os.environ.get("BENCH_SCALE_INTERVAL", "60"))
WAIT = int(os.environ.get("BENCH_SCALE_WAIT", "0"))
CONN = int(os.environ.get("BENCH_SCALE_CONNECTIONS", "256"))
IDLE_S = int(os.environ.get("BENCH_SCALE_IDLE_SECONDS", "60"))
DEPLOY_TIMEOUT = int(os.environ.get("BENCH_SCALE_DEPLOY_TIMEOUT", "900"))
LATER_PCT = int(os.environ.get("BENCH_SCALE_LATER_PCT", "100"))


def pings_total(s):
    """slipway_pings_total summed over its opcode labels."""
    req = urllib.request.Request(s.url + "/metrics", headers={"Authorization": "token " + s.token})
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read().decode()
    return sum(int(m) for m in re.findall(r"^slipway_pings_total\{[^}]*\} (\d+)", text, re.M))


def wait_until(cond, timeout, step=1.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return None


def db_read(s, sql, args=()):
    """One read of the server's SQLite file (WAL: it does not block the server)."""
    c = sqlite3.connect("file:%s/s.db?mode=ro" % s.dir, uri=True, timeout=30)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


def goal_times(s, d):
    """Seconds from the deploy's creation to each host's first goal of it (its row's startDate), sorted."""
    start = db_read(s, "SELECT startDate FROM deploys WHERE id = ?", (d["id"],))[0][0]
    rows = db_read(s, "SELECT startDate FROM agents WHERE deployId = ?", (d["id"],))
    return sorted((r[0] - start) / 1000.0 for r in rows)


def width_sample(s, d, got):
    holding = db_read(s, "SELECT COUNT(*) FROM agents WHERE holdsSlot = 1")[0][0]
    deploying = db_read(s, "SELECT COUNT(*) FROM agents WHERE deployId = ? AND deployStage <> 'SERVING_BUILD'",
                        (d["id"],))[0][0]
    got["maxHolding"] = max(got.get("maxHolding", 0), holding)
    got["maxDeploying"] = max(got.get("maxDeploying", 0), deploying)
    got["samples"] = got.get("samples", 0) + 1


def timed_deploy(s, build_commit, t0_label, sample=False):
    b = s.call("POST", "/v1/builds", {"name": "scaleapp", "repo": "acme/scale", "branch": "main",
                                      "commit": build_commit, "artifactUrl": "https://a.example/%s.tgz" % build_commit})
    t0 = time.monotonic()
    d = s.call("POST", "/v1/envs/scale/prod/deploys?buildId=" + b["id"])
    got = {}

    def state():
        x = s.call("GET", "/v1/deploys/" + d["id"])
        if sample:
            width_sample(s, d, got)
        if "first" not in got and x["successTotal"] > 0:
            got["first"] = time.monotonic() - t0
        if x["successTotal"] >= N:
            got["done"] = time.monotonic() - t0
            return True
        got["last"] = (x["total"], x["successTotal"])
        return False
    wait_until(state, DEPLOY_TIMEOUT)
    g = goal_times(s, d)
    if g:
        got["goal"] = (len(g), g[len(g) // 2], g[min(len(g) - 1, int(len(g) * 0.99))], g[-1])
    log("%s: %s" % (t0_label, got))
    return got


def fmt_goal(got):
    if "goal" not in got:
        return "no host had its goal"
    n, p50, p99, mx = got["goal"]
    return "%s%.1f s / %.1f s / %.1f s" % ("" if n >= N else "(%d of %d hosts) " % (n, N), p50, p99, mx)


def fmt(got, key):
    if key in got:
        return "%.1f s" % got[key]
    succ = got.get("last", (0, 0))[1]
    return "not within %d s (%d of %d serving)" % (DEPLOY_TIMEOUT, succ, N)


def main():
    tmp = tempfile.mkdtemp(prefix="bench-scale-")
    s = Srv(tmp, extra=["transition_period=1", "max_connections=%d" % max(16384, CONN + 1024),
                        "max_held_pings=%d" % max(10000, CONN), "max_connections_per_ip=0"])
    s.start()
    sim = None
    try:
        s.call("POST", "/v1/envs", {"envName": "scale", "stageName": "prod", "buildName": "scaleapp"})
        s.call("PUT", "/v1/envs/scale/prod/capacity?capacityType=GROUP", ["scale"])
        cmd = [FLEETSIM, "--server", s.url, "--token", s.token, "--group", "scale", "--hosts", str(N),
               "--duration", "86400", "--interval", str(INTERVAL), "--wait", str(WAIT), "--connections", str(CONN),
               "--json"]
        err = open(os.path.join(tmp, "fleetsim.err"), "wb")
        sim = subprocess.Popen(cmd, stdout=open(os.path.join(tmp, "fleetsim.json"), "wb"), stderr=err)
        log("fleetsim: " + " ".join(cmd[:2] + ["URL", "--token", "T"] + cmd[5:]))
        # a) every host registered (its first ping), then the idle window
        wait_until(lambda: pings_total(s) >= N, INTERVAL * 3 + 600, 2)
        time.sleep(INTERVAL * 1.2)  # every host's second (idle) ping, past the registration burst
        cpu0, p0, t0 = s.cpu_s(), pings_total(s), time.monotonic()
        time.sleep(IDLE_S)
        cpu1, p1, t1 = s.cpu_s(), pings_total(s), time.monotonic()
        rss, hwm = s.rss_kb()
        lines = [json.loads(x) for x in open(err.name).read().splitlines()[-IDLE_S:] if x.startswith("{")]
        p99 = max((x["p99Ms"] for x in lines), default=0)
        pings = p1 - p0
        # b) a first deploy, then a later one at 100 %
        first = timed_deploy(s, "1111111aaaa", "first deploy")
        s.call("PUT", "/v1/envs/scale/prod", {"maxParallelPct": LATER_PCT})
        later = timed_deploy(s, "2222222bbbb", "later deploy at %d %%" % LATER_PCT, sample=True)
        print("### scale — %d simulated hosts, interval %d s, %s, %d connections, SQLite\n" %
              (N, INTERVAL, "long-poll wait %d s" % WAIT if WAIT else "polling", CONN))
        print("| measure | value |\n|---|---|")
        print("| idle pings/s (server counter, %d s window) | %.0f |" % (IDLE_S, pings / (t1 - t0)))
        print("| server CPU per idle ping | %.1f µs |" % ((cpu1 - cpu0) * 1e6 / pings if pings else 0))
        print("| worst per-second p99 latency seen by the simulator | %d ms |" % p99)
        print("| server RSS (peak) / per host | %.0f MB (%.0f MB) / %.0f bytes |" % (rss / 1024, hwm / 1024,
                                                                                  rss * 1024 / N))
        print("| first deploy: first host / every host SERVING_BUILD | %s / %s |" % (fmt(first, "first"),
                                                                                          fmt(first, "done")))
        print("| first deploy: every host's first goal p50 / p99 / max | %s |" % fmt_goal(first))
        print("| later deploy at %d %%: first host / every host SERVING_BUILD | %s / %s |" %
              (LATER_PCT, fmt(later, "first"), fmt(later, "done")))
        print("| later deploy at %d %%: every host's first goal p50 / p99 / max | %s |" % (LATER_PCT,
                                                                                         fmt_goal(later)))
        width = max(1, N * LATER_PCT // 100)
        print("| later deploy: most rows holding a slot / hosts deploying, %d samples (width %d) | %d / %d |" %
              (later.get("samples", 0), width, later.get("maxHolding", 0), later.get("maxDeploying", 0)))
        print("\nload average at the end: %s (the machine is shared: the simulator and other work run on the same "
              "cores)" % open("/proc/loadavg").read().split()[0])
    finally:
        if sim and sim.poll() is None:
            sim.terminate()
            sim.wait(timeout=60)
        s.stop()
        if os.environ.get("BENCH_KEEP_TMP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log("kept " + tmp)


if __name__ == "__main__":
    main()
