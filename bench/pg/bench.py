#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# bench/pg: idle ping throughput on PostgreSQL, one and two replicas, against SQLite in the same run; and the
# database writes an idle ping causes. Per configuration: private server(s) on a stage whose N hosts all serve the
# current deploy (seeded straight into the database), a warm-up wrk pass touching every host, then the measured
# wrk pass of idle pings (bench/ping/idle.lua; with two replicas one wrk per replica, at the same time, each over
# all N hosts as behind a round-robin load balancer). CPU per ping of the replicas, of PostgreSQL's backends and of
# the wrk clients, and how many cores they kept busy together (2 here: the machine is then saturated). Database
# writes: the servers' own count of synchronous ping writes (slipway_ping_writes_total) and, on PostgreSQL,
# pg_stat_database deltas of the test database (xact_commit, which counts read-only statements too, and tuples
# inserted + updated + deleted) over the measured pass plus the settle time that lets every backend report its
# counters. The heartbeat flusher is set to 3600 s so that the tuple count is what the pings themselves write; the
# flusher's own cost is one batched UPDATE per replica per heartbeat_flush_period (10 s) of the hosts that pinged
# it, whatever their ping rate.
# Cluster: SLIPWAY_TEST_PG_DSN if set, else a throwaway one (scripts/pg-test.sh) started and stopped here.
# Before/after in one run: BENCH_PG_BEFORE=<another build directory> adds the PostgreSQL rows of that build's
# slipway-server, each measured right before the same row of SLIPWAY_BUILD_DIR's.
# Prints a Markdown table on stdout, progress on stderr.
import os
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "ping"))
import bench as ping  # noqa: E402  (bench/ping/bench.py: Srv helpers, seed, wrk)

HOSTS = int(os.environ.get("BENCH_PG_HOSTS", "10000"))
BEFORE = os.environ.get("BENCH_PG_BEFORE", "").strip()
SECONDS = int(os.environ.get("BENCH_PG_SECONDS", "10"))
SETTLE = 12  # > PostgreSQL's 10 s idle stats flush of a backend and > heartbeat_flush_period


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def pg_connect(dsn):
    import psycopg2
    c = psycopg2.connect(dsn, connect_timeout=10)
    c.autocommit = True
    return c


def with_db(base, name):
    import urllib.parse
    u = urllib.parse.urlsplit(base)
    return urllib.parse.urlunsplit(u._replace(path="/" + name))


def seed_pg(dsn, n, env_id, deploy_id, now):
    c = pg_connect(dsn)
    c.autocommit = False
    with c, c.cursor() as cur:
        cur.execute("INSERT INTO heartbeats(hostId, hostName, ip, agentVersion, createDate, lastSeen) "
                    "SELECT 'bench-' || i, 'bench-' || i, '10.0.0.1', 'bench/1', %s, %s FROM generate_series(0, %s) i",
                    (now, now, n - 1))
        cur.execute("INSERT INTO hosts(hostName, groupName, ip, hostId, createDate, lastUpdateDate, state) "
                    "SELECT 'bench-' || i, 'bench', '10.0.0.1', 'bench-' || i, %s, %s, 'ACTIVE' "
                    "FROM generate_series(0, %s) i", (now, now, n - 1))
        cur.execute("INSERT INTO agents(hostId, hostName, envId, deployId, deployStage, state, status, startDate, "
                    "lastUpdateDate, lastOperator, lastErrno, failCount, firstDeploy, firstDeployDate, stageStartDate, "
                    "containerHealthStatus, holdsSlot, removed, version) SELECT 'bench-' || i, 'bench-' || i, %s, %s, "
                    "'SERVING_BUILD', 'NORMAL', 'SUCCEEDED', %s, %s, 'system', 0, 0, 0, %s, %s, '', 0, 0, 1 "
                    "FROM generate_series(0, %s) i", (env_id, deploy_id, now, now, now, now, n - 1))
    c.close()


def pg_stats(admin_dsn, name):
    c = pg_connect(admin_dsn)
    with c.cursor() as cur:
        cur.execute("SELECT xact_commit, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database "
                    "WHERE datname = %s", (name,))
        row = cur.fetchone()
    c.close()
    return row


def backend_cpu(admin_dsn, name, pids=None):
    """CPU seconds of the PostgreSQL backends serving database name (pids: those, else the ones connected now;
    readable when the bench runs as root or as the cluster's owner), and their pids."""
    if pids is None:
        c = pg_connect(admin_dsn)
        with c.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))
            pids = [r[0] for r in cur.fetchall()]
        c.close()
    total = 0.0
    for pid in pids:
        try:
            f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
            total += (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return total, pids


def run(kind, replicas, base_dsn, tmp):
    """kind: sqlite or pg. Returns the row of the table."""
    name = None
    if kind == "pg":
        name = "slipway_bench_" + secrets.token_hex(4)
        admin = with_db(base_dsn, "postgres")
        c = pg_connect(admin)
        c.cursor().execute('CREATE DATABASE "%s"' % name)
        c.close()
        db = with_db(base_dsn, name)
    else:
        db = "sqlite:" + os.path.join(tmp, "s.db")
    servers = [ping.Srv(os.path.join(tmp, "r%d" % i), db, os.path.join(tmp, "admin.token"),
                        ["heartbeat_flush_period=3600"]) for i in range(replicas)]
    for s in servers:
        os.makedirs(s.dir, exist_ok=True)
    try:
        first = servers[0]
        env, dep = ping.make_stage(first)
        log("pg bench: %s x%d (%s): seeding %d hosts" % (kind, replicas, ping.SERVER, HOSTS))
        now = int(time.time() * 1000)
        if kind == "pg":
            seed_pg(db, HOSTS, env["id"], dep["id"], now)
        else:
            ping.seed(os.path.join(tmp, "s.db"), HOSTS, env["id"], dep["id"], now)
        for s in servers:
            s.start()
        args = [HOSTS, env["id"], dep["id"], first.token, ping.THREADS]
        script = os.path.join(HERE, "..", "ping", "idle.lua")

        def wrk_all(seconds):
            out = [None] * len(servers)

            def one(i):
                out[i] = ping.wrk(servers[i].url, script, seconds, args)
            ts = [threading.Thread(target=one, args=(i,)) for i in range(len(servers))]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            return out

        log("pg bench: %s x%d: warm-up" % (kind, replicas))
        wrk_all(max(5, HOSTS // 2500))
        writes0 = sum(s.metric("slipway_ping_writes_total") for s in servers)
        cpu0 = [s.cpu_s() for s in servers]
        stats0 = pg_stats(admin, name) if kind == "pg" else None
        pg_cpu0, pids = backend_cpu(admin, name) if kind == "pg" else (0.0, [])
        log("pg bench: %s x%d: measuring %ds" % (kind, replicas, SECONDS))
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)  # the wrk clients (the servers still run)
        t0 = time.monotonic()
        res = wrk_all(SECONDS)
        wall = time.monotonic() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        wrk_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        cpu = sum(s.cpu_s() - c0 for s, c0 in zip(servers, cpu0))
        pg_cpu = backend_cpu(admin, name, pids)[0] - pg_cpu0 if kind == "pg" else None
        rss_mb = max(s.rss_kb()[0] for s in servers) / 1024
        requests = sum(r["requests"] for r in res)
        rps = sum(r["rps"] for r in res)
        writes = sum(s.metric("slipway_ping_writes_total") for s in servers) - writes0
        commits = tuples = None
        if kind == "pg":
            time.sleep(SETTLE)
            stats1 = pg_stats(admin, name)
            commits, tuples = stats1[0] - stats0[0], stats1[1] - stats0[1]
        errors = sum(r["errors"] + r["non2xx"] for r in res)
        return {"kind": kind, "replicas": replicas, "rps": rps, "p50": max(r["p50_ms"] for r in res),
                "p99": max(r["p99_ms"] for r in res), "cpu_us": cpu * 1e6 / max(1, requests), "requests": requests,
                "writes": writes, "pg_cpu_us": None if pg_cpu is None else pg_cpu * 1e6 / max(1, requests),
                "wrk_cpu_us": wrk_cpu * 1e6 / max(1, requests),
                "cores": (cpu + (pg_cpu or 0) + wrk_cpu) / wall,
                "rss_mb": rss_mb, "conns": len(pids), "commits": commits, "tuples": tuples, "errors": errors,
                "cmd": res[0]["cmd"]}
    finally:
        for s in servers:
            if s.proc and s.proc.poll() is None:
                s.stop()
        if name:
            c = pg_connect(admin)
            c.cursor().execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
            c.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    base = os.environ.get("SLIPWAY_TEST_PG_DSN", "").strip()
    cluster = None
    if not base:
        cluster = tempfile.mkdtemp(prefix="slipway-bench-pg-")
        os.chmod(cluster, 0o755)
        base = subprocess.run([os.path.join(ROOT, "scripts", "pg-test.sh"), "start", cluster + "/pg", str(free_port())],
                              check=True, capture_output=True, text=True).stdout.strip()
    rows = []
    after = ping.SERVER
    runs = [("sqlite", 1, "after")]
    for replicas in (1, 2):
        runs += ([("pg", replicas, "before")] if BEFORE else []) + [("pg", replicas, "after")]
    try:
        for kind, replicas, build in runs:
            ping.SERVER = os.path.join(BEFORE, "src/server/slipway-server") if build == "before" else after
            with tempfile.TemporaryDirectory(prefix="slipway-bench-pg-") as tmp:
                rows.append(run(kind, replicas, base, tmp))
                rows[-1]["build"] = build
    finally:
        if cluster:
            subprocess.run([os.path.join(ROOT, "scripts", "pg-test.sh"), "stop", cluster + "/pg"], check=False)
            subprocess.run(["rm", "-rf", cluster], check=False)
    print("| build | database | replicas | hosts | idle pings/s (total) | p50 ms | p99 ms | server CPU µs/ping | "
          "PostgreSQL backend CPU µs/ping | wrk CPU µs/ping | cores busy (servers + PostgreSQL + wrk) | "
          "RSS MB per replica | PostgreSQL connections | "
          "synchronous ping writes (server) | "
          "PostgreSQL transactions (read-only included) | "
          "PostgreSQL tuples written | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        pgc = "-" if r["commits"] is None else "%d (%.4f/ping)" % (r["commits"], r["commits"] / max(1, r["requests"]))
        pgt = "-" if r["tuples"] is None else "%d (%.4f/ping)" % (r["tuples"], r["tuples"] / max(1, r["requests"]))
        print("| %s | %s | %d | %d | %.0f | %.2f | %.2f | %.0f | %s | %.0f | %.2f | %.1f | %s | %d | %s | %s | %d |" % (
            r["build"] if BEFORE else "-", "SQLite" if r["kind"] == "sqlite" else "PostgreSQL", r["replicas"], HOSTS,
            r["rps"], r["p50"], r["p99"],
            r["cpu_us"], "-" if r["pg_cpu_us"] is None else "%.0f" % r["pg_cpu_us"], r["wrk_cpu_us"], r["cores"],
            r["rss_mb"],
            "-" if r["kind"] == "sqlite" else str(r["conns"]), r["writes"], pgc, pgt,
            r["errors"]))
    print()
    print("Load average at the end: %s (shared 2-core machine: the client wrk processes, PostgreSQL and the "
          "replicas share the same cores, so a second replica adds no CPU here; it shows that replicas on one "
          "database do not serialise idle pings). PostgreSQL counters cover the measured %d s pass plus %d s of "
          "settling, with heartbeat_flush_period=3600 (tuples written = what the pings wrote). wrk: `%s`, "
          "one per replica, each over all hosts." % (open("/proc/loadavg").read().split()[0], SECONDS, SETTLE,
                                                    rows[0]["cmd"].split(" -s ")[0]))


if __name__ == "__main__":
    main()
