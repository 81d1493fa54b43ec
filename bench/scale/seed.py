# SPDX-License-Identifier: Apache-2.0
"""bench/scale: register a simulated fleet without a million first pings.

A first ping of an unknown host is a write (its heartbeat row and its group membership row, each in its own write
transaction under the server's single ping write lock; on SQLite every commit appends the B-tree pages it touched to
the WAL and every ~1,000 pages a checkpoint copies them back with an fdatasync), so registering 1,000,000 hosts one
ping at a time takes ~17 minutes on this machine. The steady state is what the bench measures, so:

1. one host of each name prefix registers through the API for real (slipway-fleetsim --hosts 1 against the running
   server), which writes exactly the rows a first ping writes;
2. with the server stopped, every table holding a row of that template host (any table with a hostId column but the
   events log) gets the same rows for hosts 2..N, with the host's name and address substituted
   (slipway-fleetsim's names `P-0000002`… and addresses 10.a.b.c from the host's number).

The fleet's first pings then find their rows as they would have written them and write nothing; scale.py checks
that (no new rows, no membership row rewritten) and reports the time those first pings took."""
import sqlite3
import subprocess

SKIP_TABLES = {"events"}


def host_name(prefix, i):
    """slipway-fleetsim's name of host i (1-based)."""
    return "%s-%07d" % (prefix, i)


def host_ip(i):
    """slipway-fleetsim's address of host i (1-based)."""
    return "10.%d.%d.%d" % ((i >> 16) & 255, (i >> 8) & 255, i & 255)


def register_template(fleetsim, url, token, group, prefix, seconds=3):
    """Host 1 of prefix pings for real (its rows become the template): its first ping, and when the stage has a
    deploy, its walk to SERVING_BUILD (script time 0: within the first seconds)."""
    subprocess.run([fleetsim, "--server", url, "--token", token, "--group", group, "--hosts", "1", "--duration",
                    str(seconds), "--interval", "1", "--prefix", prefix], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True, timeout=60)


def clone_hosts(db, prefix, n):
    """Give hosts 2..n of prefix the template host's rows (the server must be stopped). Returns {table: rows}."""
    c = sqlite3.connect(db)
    c.execute("PRAGMA journal_mode=WAL")
    name0, ip0 = host_name(prefix, 1), host_ip(1)
    added = {}
    with c:
        tables = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for t in tables:
            cols = [r[1] for r in c.execute("PRAGMA table_info(%s)" % t)]
            if t in SKIP_TABLES or "hostId" not in cols:
                continue
            rows = c.execute("SELECT * FROM %s WHERE hostId = ?" % t, (name0,)).fetchall()
            if not rows:
                continue
            sql = "INSERT INTO %s(%s) VALUES(%s)" % (t, ", ".join(cols), ", ".join("?" * len(cols)))

            def gen(rows=rows):
                for i in range(2, n + 1):
                    name, ip = host_name(prefix, i), host_ip(i)
                    for row in rows:
                        yield tuple(name if v == name0 else ip if v == ip0 else v for v in row)
            c.executemany(sql, gen())
            added[t] = len(rows) * (n - 1)
    c.close()
    return added
