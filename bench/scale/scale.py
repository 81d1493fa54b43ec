# SPDX-License-Identifier: Apache-2.0
"""bench/scale: one SQLite slipway-server and slipway-fleetsim processes of N hosts in all, one group (issue "Scale").

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
BENCH_SCALE_DEPLOY_TIMEOUT (900), BENCH_KEEP_TMP=1;
BENCH_SCALE_SEED=1: register the fleet by cloning one real registration's rows (seed.py) instead of N first pings;
BENCH_SCALE_HELD=K: K of the N hosts (prefixes `held1`, `held2`, …) run in simulators with long-poll (`--wait`
BENCH_SCALE_WAIT, default 30, one connection each, BENCH_SCALE_HELD_PER_PROCESS (2000) per process), the other N-K
(prefix `sim`) poll: the server cannot hold more connections than its descriptor limit (20,000 here);
BENCH_SCALE_SEED_DEPLOY=1 (with SEED): the seeded hosts also carry a first deploy's SERVING_BUILD rows (the
simulators start with `--serving` on it);
BENCH_SCALE_DEPLOYS (first,later): the deploy phases to run (empty: idle only);
BENCH_SCALE_SERVERS=label=PATH,label=PATH: the whole run once per server binary, in this order, in one invocation
(before/after comparisons; default: the server of SLIPWAY_BUILD_DIR), one table each; PATH+name=value+… adds
settings for that server only."""
import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ping"))
from bench import BUILD, Srv, log, proc_cpu_s  # noqa: E402
import seed  # noqa: E402

FLEETSIM = os.path.join(BUILD, "src", "fleetsim", "slipway-fleetsim")
N = int(os.environ.get("BENCH_SCALE_HOSTS", "100000"))
INTERVAL = int(os.environ.get("BENCH_SCALE_INTERVAL", "60"))
HELD = int(os.environ.get("BENCH_SCALE_HELD", "0"))
WAIT = int(os.environ.get("BENCH_SCALE_WAIT", "30" if HELD else "0"))
CONN = int(os.environ.get("BENCH_SCALE_CONNECTIONS", "256"))
IDLE_S = int(os.environ.get("BENCH_SCALE_IDLE_SECONDS", "60"))
DEPLOY_TIMEOUT = int(os.environ.get("BENCH_SCALE_DEPLOY_TIMEOUT", "900"))
LATER_PCT = int(os.environ.get("BENCH_SCALE_LATER_PCT", "100"))
SEED = os.environ.get("BENCH_SCALE_SEED") == "1"
SEED_DEPLOY = SEED and os.environ.get("BENCH_SCALE_SEED_DEPLOY") == "1"
SERVING = []  # --serving ENV_ID:DEPLOY_ID of the seed deploy
DEPLOYS = [x for x in os.environ.get("BENCH_SCALE_DEPLOYS", "first,later").split(",") if x]
# libcurl's multi interface (7.88) spends time linear in its connections on every transfer, so a simulator
# process holding 18,000 connections stalls for seconds per loop; the held hosts are spread over processes of at
# most HELD_PER_PROC connections each.
HELD_PER_PROC = int(os.environ.get("BENCH_SCALE_HELD_PER_PROCESS", "2000"))


def fleets():
    """(prefix, hosts, --wait, --connections, group) of each simulator process; group: `sim` (polling, or all
    hosts when nothing is held) or `held` (long-poll, one connection per host: prefixes held1, held2, …)."""
    out = [("sim", N - HELD, 0 if HELD else WAIT, min(CONN, N - HELD), "sim")] if N > HELD else []
    procs = -(-HELD // HELD_PER_PROC)
    for k in range(procs):
        n = HELD // procs + (1 if k < HELD % procs else 0)
        out.append(("held%d" % (k + 1), n, WAIT, n, "held"))
    return out


FLEETS = fleets()
SERVERS = [tuple(x.split("=", 1)) for x in os.environ.get("BENCH_SCALE_SERVERS", "").split(",") if x]
GROUPS = sorted({f[4] for f in FLEETS}, reverse=True)


def pings_total(s):
    """slipway_pings_total summed over its opcode labels."""
    req = urllib.request.Request(s.url + "/metrics", headers={"Authorization": "token " + s.token})
    with urllib.request.urlopen(req, timeout=120) as r:
        text = r.read().decode()
    return sum(int(m) for m in re.findall(r"^slipway_pings_total\{[^}]*\} (\d+)", text, re.M))


def wait_until(cond, timeout, step=1.0):
    """cond() until true; a call the busy server does not answer in time counts as false."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            v = cond()
        except OSError as e:  # a timeout: the server queues the call behind the fleet's pings
            log("wait: %s" % e)
            v = None
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


def goal_times(s, d, prefix=None):
    """Seconds from the deploy's creation to each host's first goal of it (its row's startDate), sorted; only the
    hosts whose name starts with prefix when it is given."""
    start = db_read(s, "SELECT startDate FROM deploys WHERE id = ?", (d["id"],))[0][0]
    sql, args = "SELECT startDate FROM agents WHERE deployId = ?", (d["id"],)
    if prefix:
        sql += " AND hostName >= ? AND hostName < ?"
        args += (prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1))
    return sorted((r[0] - start) / 1000.0 for r in db_read(s, sql, args))


def goal_summary(g, n):
    return (len(g), g[len(g) // 2], g[min(len(g) - 1, int(len(g) * 0.99))], g[-1], n) if g else None


def width_sample(s, d, got):
    holding = db_read(s, "SELECT COUNT(*) FROM agents WHERE holdsSlot = 1")[0][0]
    deploying = db_read(s, "SELECT COUNT(*) FROM agents WHERE deployId = ? AND deployStage <> 'SERVING_BUILD'",
                        (d["id"],))[0][0]
    got["maxHolding"] = max(got.get("maxHolding", 0), holding)
    got["maxDeploying"] = max(got.get("maxDeploying", 0), deploying)
    got["samples"] = got.get("samples", 0) + 1


def publish_and_deploy(s, build_commit):
    b = s.call("POST", "/v1/builds", {"name": "scaleapp", "repo": "acme/scale", "branch": "main",
                                      "commit": build_commit, "artifactUrl": "https://a.example/%s.tgz" % build_commit})
    return s.call("POST", "/v1/envs/scale/prod/deploys?buildId=" + b["id"])


def sim_lines(sims):
    """The progress lines each simulator has written so far."""
    return [[json.loads(x) for x in open(err).read().splitlines() if x.startswith("{")] for _, _, err in sims]


def write_counts(s):
    """[jobs, commits] of the ping path's group commit ([0, 0]: no such counters, or no answer in time)."""
    try:
        return [s.metric("slipway_ping_write_%s_total" % k) for k in ("jobs", "commits")]
    except OSError as e:
        log("metrics: %s" % e)
        return [0, 0]


def timed_deploy(s, sims, build_commit, t0_label, sample=False):
    t0 = time.monotonic()
    marks = [len(x) for x in sim_lines(sims)]
    w0 = write_counts(s)
    cpu0, sim0 = s.cpu_s(), proc_cpu_s([p.pid for _, p, _ in sims])
    d = publish_and_deploy(s, build_commit)
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
    # who used the cores over the deploy: the server, and the simulators beside it on the same machine
    secs, cpu = time.monotonic() - t0, s.cpu_s() - cpu0
    got["cpu"] = [cpu / secs, (proc_cpu_s([p.pid for _, p, _ in sims]) - sim0) / secs, cpu]
    # the ping path's admissions and agent-row writes and the transactions that committed them (group commit;
    # 0 / 0 on a server without those counters)
    got["writes"] = [b - a for a, b in zip(w0, write_counts(s))] + [time.monotonic() - t0]
    for (grp, _, _), lines, m in zip(sims, sim_lines(sims), marks):
        k = "failed " + grp
        got[k] = got.get(k, 0) + sum(x["errors"] for x in lines[m:])
        k = "503 " + grp
        got[k] = got.get(k, 0) + sum(x.get("overloaded", 0) for x in lines[m:])
    got["goal"] = goal_summary(goal_times(s, d), N)
    if len(GROUPS) > 1:
        for g in GROUPS:
            got["goal " + g] = goal_summary(goal_times(s, d, g), sum(f[1] for f in FLEETS if f[4] == g))
    log("%s: %s" % (t0_label, got))
    return got


def fmt_goal(got, key="goal"):
    if not got.get(key):
        return "no host had its goal"
    n, p50, p99, mx, want = got[key]
    return "%s%.1f s / %.1f s / %.1f s" % ("" if n >= want else "(%d of %d hosts) " % (n, want), p50, p99, mx)


def fmt(got, key):
    if key in got:
        return "%.1f s" % got[key]
    succ = got.get("last", (0, 0))[1]
    return "not within %d s (%d of %d serving)" % (DEPLOY_TIMEOUT, succ, N)


def server_settings():
    if not HELD:
        return ["transition_period=1", "max_connections=%d" % max(16384, CONN + 1024),
                "max_held_pings=%d" % max(10000, CONN), "max_connections_per_ip=0"]
    # every held ping is a descriptor of the server: stay under its limit
    conns, limit = HELD + CONN + 512, resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if conns + 100 > limit:
        raise SystemExit("BENCH_SCALE_HELD=%d needs %d descriptors; the limit is %d" % (HELD, conns + 100, limit))
    return ["transition_period=1", "max_connections=%d" % conns, "max_held_pings=%d" % (HELD + 64),
            "max_connections_per_ip=0"]


def registered(s):
    """(hosts rows, heartbeat rows, the newest membership row write)."""
    return tuple(db_read(s, "SELECT (SELECT COUNT(*) FROM hosts), (SELECT COUNT(*) FROM heartbeats), "
                            "(SELECT MAX(lastUpdateDate) FROM hosts)")[0])


def seed_fleet(s):
    """BENCH_SCALE_SEED: one real registration per simulator, cloned for the other hosts (seed.py); with
    BENCH_SCALE_SEED_DEPLOY=1 the template hosts first walk a first deploy to SERVING_BUILD, so the clones carry
    its agent rows (the later deploy then meets a fleet on a previous deploy, as it would in production)."""
    if SEED_DEPLOY:
        d = publish_and_deploy(s, "0000000seed")
        SERVING.extend(["--serving", "%s:%s" % (d["envId"], d["id"])])
    for prefix, _, _, _, _ in FLEETS:
        seed.register_template(FLEETSIM, s.url, s.token, "scale", prefix, 6 if SEED_DEPLOY else 3)
    if SEED_DEPLOY:
        rows = db_read(s, "SELECT hostName, deployStage FROM agents")
        if len(rows) != len(FLEETS) or any(r[1] != "SERVING_BUILD" for r in rows):
            raise SystemExit("the template hosts did not finish the seed deploy: %s" % rows)
    s.stop()
    t0, added = time.monotonic(), {}
    for prefix, n, _, _, _ in FLEETS:
        for t, k in seed.clone_hosts(os.path.join(s.dir, "s.db"), prefix, n).items():
            added[t] = added.get(t, 0) + k
    took = time.monotonic() - t0
    log("seeded %s in %.0f s" % (added, took))
    s.start()
    return took


def start_fleets(s, tmp):
    sims = []
    for prefix, n, wait, conn, group in FLEETS:
        cmd = [FLEETSIM, "--server", s.url, "--token", s.token, "--group", "scale", "--hosts", str(n),
               "--duration", "86400", "--interval", str(INTERVAL), "--wait", str(wait), "--connections", str(conn),
               "--prefix", prefix, "--json"] + SERVING
        err = os.path.join(tmp, "fleetsim-%s.err" % prefix)
        sims.append((group, subprocess.Popen(cmd, stdout=open(os.path.join(tmp, "fleetsim-%s.json" % prefix), "wb"),
                                             stderr=open(err, "wb")), err))
        log("fleetsim: " + " ".join(cmd[:2] + ["URL", "--token", "T"] + cmd[5:]))
    return sims


def window_lines(err):
    return [json.loads(x) for x in open(err).read().splitlines()[-IDLE_S:] if x.startswith("{")]


def group_window(sims, g):
    """(worst per-second p99, failed pings) over the idle window's progress lines of group g's simulators."""
    lines = [x for grp, _, err in sims if grp == g for x in window_lines(err)]
    return max((x["p99Ms"] for x in lines), default=0), sum(x["errors"] for x in lines)


def print_results(s, reg, idle, deploys, label=None):
    fleets = " + ".join("%d %s (%s, %d connections%s)" % (
        sum(f[1] for f in FLEETS if f[4] == g), g, "long-poll wait %d s" % f0[2] if f0[2] else "polling",
        sum(f[3] for f in FLEETS if f[4] == g), ", %d processes" % k if k > 1 else "")
        for g in GROUPS for f0, k in [([f for f in FLEETS if f[4] == g][0], sum(1 for f in FLEETS if f[4] == g))])
    print("### scale — %d simulated hosts, interval %d s: %s, SQLite%s\n" % (
        N, INTERVAL, fleets, ", server `%s` (%s)" % label if label else ""))
    print("| measure | value |\n|---|---|")
    if SEED:
        print("| fleet registered by cloning one real registration per prefix | %.0f s for %d hosts |" %
              (reg["seed_s"], N))
        print("| seeded hosts' first pings (all %d): time / rows written by them | %.0f s / %s |" %
              (N, reg["first_s"], reg["rows"]))
    else:
        print("| every host's first ping (registration) | %.0f s |" % reg["first_s"])
    print("| idle pings/s (server counter, %d s window) | %.0f |" % (IDLE_S, idle["pps"]))
    print("| server CPU per idle ping | %.1f µs (%.2f cores) |" % (idle["us"], idle["cores"]))
    for g, (p99, errors) in idle["p99"]:
        print("| `%s` simulators: worst per-second p99 latency (held pings not counted) / failed pings | %d ms / %d |" %
              (g, p99, errors))
    print("| pings held by the server at the end of the window | %d |" % idle["held"])
    print("| server RSS (peak) / per host | %.0f MB (%.0f MB) / %.0f bytes |" %
          (idle["rss"] / 1024, idle["hwm"] / 1024, idle["rss"] * 1024 / N))
    for label, got in deploys:
        print("| %s: first host / every host SERVING_BUILD | %s / %s |" % (label, fmt(got, "first"), fmt(got, "done")))
        print("| %s: every host's first goal p50 / p99 / max | %s |" % (label, fmt_goal(got)))
        for g in GROUPS if len(GROUPS) > 1 else ():
            print("| %s: first goal p50 / p99 / max of the `%s` hosts | %s |" % (label, g, fmt_goal(got, "goal " + g)))
        print("| %s: failed pings (of them answered 503) during the deploy | %s |" % (label, ", ".join(
            "`%s` %d (%d)" % (g, got.get("failed " + g, 0), got.get("503 " + g, 0)) for g in GROUPS)))
        if got.get("writes", [0])[0]:
            jobs, commits, secs = got["writes"]
            print("| %s: ping-path writes / their commits (commits/s) | %d / %d (%.0f/s) |" %
                  (label, jobs, commits, commits / secs))
            if "cpu" in got:
                print("| %s: server / simulators CPU over the deploy; server CPU per ping-path write | "
                      "%.2f / %.2f cores; %.0f µs |" % (label, got["cpu"][0], got["cpu"][1], got["cpu"][2] * 1e6 / jobs))
        if "samples" in got:
            width = max(1, N * LATER_PCT // 100)
            print("| %s: most rows holding a slot / hosts deploying, %d samples (width %d) | %d / %d |" %
                  (label, got["samples"], width, got.get("maxHolding", 0), got.get("maxDeploying", 0)))
    print("\nload average at the end: %s (the machine is shared: the simulator and other work run on the same "
          "cores)" % open("/proc/loadavg").read().split()[0])


def idle_window(s, sims):
    time.sleep(INTERVAL * 1.2)  # every host's second (idle) ping, past the registration burst
    p0 = pings_total(s)  # the counter as of its answer: CPU and clock read right after it
    cpu0, t0 = s.cpu_s(), time.monotonic()
    time.sleep(IDLE_S)
    p1 = pings_total(s)
    cpu1, t1 = s.cpu_s(), time.monotonic()
    rss, hwm = s.rss_kb()
    pings = p1 - p0
    held = wait_until(lambda: s.metric("slipway_pings_held") + 1, 300) - 1
    return {"pps": pings / (t1 - t0), "us": (cpu1 - cpu0) * 1e6 / pings if pings else 0,
            "cores": (cpu1 - cpu0) / (t1 - t0), "rss": rss, "hwm": hwm, "held": held,
            "p99": [(g, group_window(sims, g)) for g in GROUPS]}


def on_term(sig, frame):
    raise SystemExit("signal %d" % sig)  # the finally blocks stop the simulators and the server


def main():
    signal.signal(signal.SIGTERM, on_term)
    for label, server in SERVERS or [(None, None)]:
        run(label and (label, server), server)


def run(label, server):
    del SERVING[:]  # the --serving flags of this run's seed deploy
    tmp = tempfile.mkdtemp(prefix="bench-scale-")
    server, *settings = server.split("+") if server else [None]
    s = Srv(tmp, extra=server_settings() + settings)
    if server:
        s.server = server
    s.start()
    sims = []
    try:
        s.call("POST", "/v1/envs", {"envName": "scale", "stageName": "prod", "buildName": "scaleapp"})
        s.call("PUT", "/v1/envs/scale/prod/capacity?capacityType=GROUP", ["scale"])
        reg = {"seed_s": seed_fleet(s)} if SEED else {}
        before = registered(s)
        t0 = time.monotonic()
        sims = start_fleets(s, tmp)
        # a) every host's first ping, then the idle window
        wait_until(lambda: pings_total(s) >= N, INTERVAL * 3 + 1800, 2)
        reg["first_s"] = time.monotonic() - t0
        after = registered(s)
        reg["rows"] = "none" if after == before else "%s -> %s (hosts, heartbeats, newest host write)" % (before, after)
        log("registration: %s" % reg)
        idle = idle_window(s, sims)
        log("idle: %s" % idle)
        # b) a first deploy, then a later one at LATER_PCT
        deploys = []
        if "first" in DEPLOYS:
            deploys.append(("first deploy", timed_deploy(s, sims, "1111111aaaa", "first deploy")))
        if "later" in DEPLOYS:
            s.call("PUT", "/v1/envs/scale/prod", {"maxParallelPct": LATER_PCT})
            name = "later deploy at %d %%" % LATER_PCT
            deploys.append((name, timed_deploy(s, sims, "2222222bbbb", name, sample=True)))
        print_results(s, reg, idle, deploys, label)
    finally:
        for _, sim, _ in sims:
            if sim.poll() is None:
                sim.terminate()
                sim.wait(timeout=60)
        s.stop()
        if os.environ.get("BENCH_KEEP_TMP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log("kept " + tmp)


if __name__ == "__main__":
    main()
