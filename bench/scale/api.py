# SPDX-License-Identifier: Apache-2.0
"""bench/scale d): the API the board and the CLI read, on a stage of N hosts (BENCH_SCALE_API_HOSTS, comma-separated,
default 100000,1000000), SQLite. The hosts are seeded straight into the database (heartbeats, hosts, agent rows
SERVING_BUILD on the current deploy, as bench/ping does): a million simulated pings would take longer than the
reads measured here. Then each call the board's stage page (and the CLI) makes is timed a few times on the
running server: wall time of the whole answer (median of BENCH_SCALE_API_RUNS, default 3) and its size.
Markdown on stdout."""
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ping"))
from bench import Srv, log, make_stage, seed  # noqa: E402

HOSTS = [int(x) for x in os.environ.get("BENCH_SCALE_API_HOSTS", "100000,1000000").split(",")]
RUNS = int(os.environ.get("BENCH_SCALE_API_RUNS", "3"))
# BENCH_SCALE_API_BEFORE=<build dir of an older tree>: the same calls on that server too, on the same seeded
# database, in the same invocation (a call the older server does not know is marked "-")
BEFORE = os.environ.get("BENCH_SCALE_API_BEFORE")
SKIP_FULL = os.environ.get("BENCH_SCALE_API_SKIP_FULL") == "1"  # leave out the whole-list calls (minutes at 1M)


def timed(s, method, path, body=None):
    """(seconds, bytes) of one call, the body read whole."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(s.url + path, data=data, method=method,
                                 headers={"Authorization": "token " + s.token, "Content-Type": "application/json"})
    t0 = time.monotonic()
    with urllib.request.urlopen(req, timeout=600) as r:
        n = len(r.read())
    return time.monotonic() - t0, n


# what the board's stage page and the CLI ask for (the page: env, current deploy, its build, progress; the
# errors panel; the host search; the CLI's agent count and the deploy's agents); "full" marks the whole lists
CALLS = [
    ("stage (env)", "GET", "/v1/envs/bench/prod", False),
    ("current deploy (summary: successTotal/total)", "GET", "/v1/envs/bench/prod/deploys/current", False),
    ("agent summary: counts by deploy/step/state/result (board chips)", "GET", "/v1/envs/bench/prod/agents/summary",
     False),
    ("agent summary with provisioningHosts (CLI, once a deploy succeeded)", "GET",
     "/v1/envs/bench/prod/agents/summary?provisioning=true", False),
    ("progress, one row (CLI poll: runs the state transition)", "PUT",
     "/v1/envs/bench/prod/deploys/current/progress?limit=1", False),
    ("agent count (CLI)", "GET", "/v1/envs/bench/prod/agents/count?actionType=SERVING", False),
    ("failing hosts by error (board errors panel)", "GET", "/v1/envs/bench/prod/agents/errors", False),
    ("host search, one page of 50 (board)", "GET", "/v1/hosts?namePrefix=bench-12&limit=50", False),
    ("agents of the stage, one page of 1,000 (board grid, CLI)", "GET",
     "/v1/envs/bench/prod/agents?limit=1000&after=bench-5", False),
    ("failing agents, one page of 100 (board drill-down; none failing: walks the stage)", "GET",
     "/v1/envs/bench/prod/agents?limit=100&failing=true", False),
    ("progress, one page of 1,000", "PUT", "/v1/envs/bench/prod/deploys/current/progress?limit=1000&after=bench-5",
     False),
    ("agents of the deploy, one page of 1,000 (board deploy page)", "GET",
     "/v1/deploys/{deploy}/agents?limit=1000&after=bench-5", False),
    # host tags (every host tagged availabilityZone in 3 zones and team): the zone strip, the host page, the CLI
    ("zone strip / CLI hosts --tag before: the tag's hosts by value (whole)", "GET",
     "/v1/envs/bench/prod/host_tags/availabilityZone", True),
    ("zone strip: kept counts per value, with the deploy", "GET",
     "/v1/envs/bench/prod/host_tags/availabilityZone/counts?deployId={deploy}", False),
    ("a zone's hosts, one page of 100 (strip row opened, CLI hosts --tag)", "GET",
     "/v1/envs/bench/prod/host_tags/availabilityZone?value=us-east-1b&limit=100&after=bench-5", False),
    ("host page tags panel: one host's tags", "GET", "/v1/envs/bench/prod/host_tags?hostName=bench-50001", False),
    ("fleet host count (CLI)", "GET", "/v1/agents/hostcount", False),
    ("host page tags panel before: the stage's whole tag list", "GET", "/v1/envs/bench/prod/host_tags", True),
    ("progress: every agent row", "PUT", "/v1/envs/bench/prod/deploys/current/progress", True),
    ("agents of the stage (whole list)", "GET", "/v1/envs/bench/prod/agents", True),
    ("agents of the deploy (whole list)", "GET", "/v1/deploys/{deploy}/agents", True),
]


def run_calls(s, n, dep, label):
    rows = []
    for name, method, path, full in CALLS:
        if full and SKIP_FULL:
            continue
        path = path.replace("{deploy}", dep["id"])
        times, size = [], 0
        for _ in range(RUNS):
            try:
                t, size = timed(s, method, path)
            except urllib.error.HTTPError as e:
                log("api bench %d %s: %s -> %d" % (n, label, path, e.code))
                times = None
                break
            times.append(t)
        if times is None:
            rows.append((name, method, path, None, None, None))
            continue
        rows.append((name, method, path, statistics.median(times), max(times), size))
        log("api bench %d %s: %s %.3f s %d bytes" % (n, label, name, statistics.median(times), size))
    return rows


def measure(n):
    d = tempfile.mkdtemp(prefix="bench-scale-api-")
    s = Srv(d)
    try:
        env, dep = make_stage(s)
        t0 = time.monotonic()
        seed(os.path.join(d, "s.db"), n, env["id"], dep["id"], int(time.time() * 1000))
        seed_tags(os.path.join(d, "s.db"), n, int(time.time() * 1000))
        log("api bench: seeded %d hosts in %.0f s" % (n, time.monotonic() - t0))
        out = {}
        for label, build in (("before", BEFORE), ("after", None)):
            if label == "before" and not build:
                continue
            srv = Srv(d) if build is None else before_srv(d, build)
            srv.start()
            try:
                rows = run_calls(srv, n, dep, label)
                rss, hwm = srv.rss_kb()
            finally:
                srv.stop()
            out[label] = (rows, rss, hwm)
        return n, out
    finally:
        if s.proc and s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()
        shutil.rmtree(d, ignore_errors=True)


def seed_tags(db, n, now):
    """Each seeded host's tags as its pings would store them: availabilityZone (3 zones) and team (the triggers on
    host_tags fill the kept counts as they would under pings)."""
    c = sqlite3.connect(db)
    with c:
        for name, value in (("availabilityZone", lambda i: "us-east-1" + "abc"[i % 3]), ("team", lambda i: "web")):
            c.executemany("INSERT INTO host_tags(hostId, tagName, tagValue, hostName, createDate) VALUES(?, ?, ?, ?, ?)",
                          (("bench-%d" % i, name, value(i), "bench-%d" % i, now) for i in range(n)))
    c.close()


def before_srv(d, build):
    """A server of the older build on the same directory and database."""
    srv = Srv(d)
    srv.server = os.path.join(build, "src/server/slipway-server")
    if not os.path.exists(srv.server):
        raise SystemExit("no server at " + srv.server)
    return srv


def cell(v, fmt):
    return "-" if v is None else fmt % v


def main():
    for n in HOSTS:
        n, out = measure(n)
        labels = [x for x in ("before", "after") if x in out]
        print("### API at %d hosts (SQLite, seeded, median of %d)\n" % (n, RUNS))
        head = " | ".join("%s median s | %s answer bytes" % (x, x) for x in labels)
        print("| call | request | %s |\n|---|---|%s" % (head, "---|---|" * len(labels)))
        after = out["after"][0]
        for i, (name, method, path, _, _, _) in enumerate(after):
            cells = []
            for x in labels:
                r = out[x][0][i]
                cells.append("%s | %s" % (cell(r[3], "%.3f"), cell(r[5], "%d")))
            print("| %s | `%s %s` | %s |" % (name, method, path, " | ".join(cells)))
        for x in labels:
            print("\n%s: server RSS after the calls %.0f MB (peak %.0f MB)" % (x, out[x][1] / 1024, out[x][2] / 1024))
        print()
    print("load average at the end: %s (shared machine)" % open("/proc/loadavg").read().split()[0])


if __name__ == "__main__":
    main()
