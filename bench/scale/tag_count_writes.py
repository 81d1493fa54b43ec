# SPDX-License-Identifier: Apache-2.0
"""bench/scale: what the host tag counts (schema 010, host_tag_counts) cost the agent writes that move them, SQLite.
A stage of N hosts (BENCH_COUNT_WRITES_HOSTS, default 100000), each with two tags, is seeded as bench/scale/api.py
does; then W agent rows (BENCH_COUNT_WRITES, default 20000) each take the first step of a new deploy (deployId and
deployStage change: the write that moves a host's tags from one deploy's counts to the other's), one transaction per
write with the server's pragmas, first with the triggers of host_tag_counts, then the same writes on other rows with
those three agents triggers dropped (agent_counts' triggers stay in both). CPU microseconds per write (this process)
and wall time; Markdown on stdout."""
import os
import sqlite3
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "ping"))
from bench import Srv, log, make_stage, seed  # noqa: E402
from api import seed_tags  # noqa: E402

N = int(os.environ.get("BENCH_COUNT_WRITES_HOSTS", "100000"))
W = int(os.environ.get("BENCH_COUNT_WRITES", "20000"))


def writes(c, first):
    """W single-row transactions, each moving one agent row to a new deploy; (cpu µs per write, wall µs per write)."""
    cpu0, wall0 = time.process_time(), time.monotonic()
    for i in range(first, first + W):
        with c:
            c.execute("UPDATE agents SET deployId = 'next-deploy', deployStage = 'PRE_DOWNLOAD', status = 'UNKNOWN', "
                      "version = version + 1 WHERE hostId = ?", ("bench-%d" % i,))
    return (time.process_time() - cpu0) * 1e6 / W, (time.monotonic() - wall0) * 1e6 / W


def main():
    with tempfile.TemporaryDirectory(prefix="bench-tag-count-writes-") as d:
        s = Srv(d)
        env, dep = make_stage(s)
        db = os.path.join(d, "s.db")
        now = int(time.time() * 1000)
        seed(db, N, env["id"], dep["id"], now)
        seed_tags(db, N, now)
        c = sqlite3.connect(db, isolation_level=None)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=NORMAL")
        c.isolation_level = ""
        with_counts = writes(c, 0)
        for t in ("agents_tag_count_insert", "agents_tag_count_delete", "agents_tag_count_update"):
            c.execute("DROP TRIGGER " + t)
        c.commit()
        without = writes(c, W)
        c.close()
    log("tag count writes: with %.1f µs, without %.1f µs" % (with_counts[0], without[0]))
    print("### agent writes moving a host to a new deploy, with and without the host tag counts (SQLite, %d hosts "
          "with 2 tags, %d writes each)\n" % (N, W))
    print("| triggers | CPU µs per write | wall µs per write |\n|---|---|---|")
    print("| with host_tag_counts | %.1f | %.1f |" % with_counts)
    print("| without (dropped) | %.1f | %.1f |" % without)
    print("\nCPU ratio with ÷ without: %.2f; load average at the end: %s" %
          (with_counts[0] / without[0], open("/proc/loadavg").read().split()[0]))


if __name__ == "__main__":
    main()
