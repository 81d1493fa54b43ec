# SPDX-License-Identifier: Apache-2.0
"""bench/scale: what the summary's kept counts (schema 009, agent_counts) cost an agent write, SQLite. A stage of N
hosts (BENCH_COUNT_WRITES_HOSTS, default 100000) is seeded as bench/scale/api.py does; then W agent rows
(BENCH_COUNT_WRITES, default 20000) each take one step of a deploy (deployStage and status change: what a report
ping writes), one transaction per write with the server's pragmas, first with the triggers of agent_counts, then the
same writes on other rows with those three triggers dropped (the admission counts' triggers stay in both). CPU
microseconds per write (this process) and wall time; Markdown on stdout."""
import os
import sqlite3
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ping"))
from bench import Srv, log, make_stage, seed  # noqa: E402

N = int(os.environ.get("BENCH_COUNT_WRITES_HOSTS", "100000"))
W = int(os.environ.get("BENCH_COUNT_WRITES", "20000"))
STEPS = [("DOWNLOADING", "UNKNOWN"), ("STAGING", "UNKNOWN"), ("RESTARTING", "UNKNOWN"), ("SERVING_BUILD", "SUCCEEDED")]


def writes(c, first):
    """W single-row transactions, each moving one agent row a step; (cpu µs per write, wall µs per write)."""
    cpu0, wall0 = time.process_time(), time.monotonic()
    for i in range(first, first + W):
        stage, status = STEPS[i % len(STEPS)]
        with c:
            c.execute("UPDATE agents SET deployStage = ?, status = ?, version = version + 1 WHERE hostId = ?",
                      (stage, status, "bench-%d" % i))
    return (time.process_time() - cpu0) * 1e6 / W, (time.monotonic() - wall0) * 1e6 / W


def main():
    with tempfile.TemporaryDirectory(prefix="bench-count-writes-") as d:
        s = Srv(d)
        env, dep = make_stage(s)
        db = os.path.join(d, "s.db")
        seed(db, N, env["id"], dep["id"], int(time.time() * 1000))
        c = sqlite3.connect(db, isolation_level=None)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=NORMAL")
        c.isolation_level = ""
        with_counts = writes(c, 0)
        for t in ("agents_summary_insert", "agents_summary_delete", "agents_summary_update"):
            c.execute("DROP TRIGGER " + t)
        c.commit()
        without = writes(c, W)
        c.close()
    log("count writes: with %.1f µs, without %.1f µs" % (with_counts[0], without[0]))
    print("### agent writes with and without the summary's kept counts (SQLite, %d hosts, %d writes each)\n" % (N, W))
    print("| triggers | CPU µs per write | wall µs per write |\n|---|---|---|")
    print("| with agent_counts | %.1f | %.1f |" % with_counts)
    print("| without (dropped) | %.1f | %.1f |" % without)
    print("\nCPU ratio with ÷ without: %.2f; load average at the end: %s" %
          (with_counts[0] / without[0], open("/proc/loadavg").read().split()[0]))


if __name__ == "__main__":
    main()
