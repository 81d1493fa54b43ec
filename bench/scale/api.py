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
import statistics
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ping"))
from bench import Srv, log, make_stage, seed  # noqa: E402

HOSTS = [int(x) for x in os.environ.get("BENCH_SCALE_API_HOSTS", "100000,1000000").split(",")]
RUNS = int(os.environ.get("BENCH_SCALE_API_RUNS", "3"))


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
# errors panel; the host search; the CLI's agent count and the deploy's agents)
CALLS = [
    ("stage (env)", "GET", "/v1/envs/bench/prod"),
    ("current deploy (summary: successTotal/total)", "GET", "/v1/envs/bench/prod/deploys/current"),
    ("agent count (CLI)", "GET", "/v1/envs/bench/prod/agents/count?actionType=SERVING"),
    ("failing hosts by error (board errors panel)", "GET", "/v1/envs/bench/prod/agents/errors"),
    ("host search, one page of 50 (board)", "GET", "/v1/hosts?namePrefix=bench-12&limit=50"),
    ("agents of the stage, one page of 1,000 (board grid, CLI)", "GET",
     "/v1/envs/bench/prod/agents?limit=1000&after=bench-5"),
    ("progress: every agent row (board grid)", "PUT", "/v1/envs/bench/prod/deploys/current/progress"),
    ("agents of the stage (board without deploy, CLI)", "GET", "/v1/envs/bench/prod/agents"),
    ("agents of the deploy (board deploy page)", "GET", "/v1/deploys/{deploy}/agents"),
]


def measure(n):
    d = tempfile.mkdtemp(prefix="bench-scale-api-")
    s = Srv(d)
    try:
        env, dep = make_stage(s)
        t0 = time.monotonic()
        seed(os.path.join(d, "s.db"), n, env["id"], dep["id"], int(time.time() * 1000))
        log("api bench: seeded %d hosts in %.0f s" % (n, time.monotonic() - t0))
        s.start()
        rows = []
        for name, method, path in CALLS:
            path = path.replace("{deploy}", dep["id"])
            times, size = [], 0
            for _ in range(RUNS):
                t, size = timed(s, method, path)
                times.append(t)
            rows.append((name, method, path, statistics.median(times), max(times), size))
            log("api bench %d: %s %.3f s %d bytes" % (n, name, statistics.median(times), size))
        rss, hwm = s.rss_kb()
        s.stop()
        return n, rows, rss, hwm
    finally:
        if s.proc and s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()
        shutil.rmtree(d, ignore_errors=True)


def main():
    for n in HOSTS:
        n, rows, rss, hwm = measure(n)
        print("### API at %d hosts (SQLite, seeded, median of %d)\n" % (n, RUNS))
        print("| call | request | median s | max s | answer bytes |\n|---|---|---|---|---|")
        for name, method, path, med, mx, size in rows:
            print("| %s | `%s %s` | %.3f | %.3f | %d |" % (name, method, path, med, mx, size))
        print("\nserver RSS after the calls: %.0f MB (peak %.0f MB)\n" % (rss / 1024, hwm / 1024))
    print("load average at the end: %s (shared machine)" % open("/proc/loadavg").read().split()[0])


if __name__ == "__main__":
    main()
