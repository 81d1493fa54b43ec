#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# bench/ping: idle ping throughput. For each N in BENCH_PING_HOSTS: a private slipway-server with a stage whose
# N hosts all serve the current deploy (seeded straight into SQLite while the server is stopped), a warm-up wrk
# pass that touches every host once, then the measured wrk pass of idle pings, a wrk pass of GET /healthz and the
# same ping pass against a private nginx that answers every request with a fixed body (the static ceiling).
# Prints a Markdown table on stdout, progress on stderr.
import json
import math
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("SLIPWAY_BUILD_DIR", os.path.join(HERE, "../../build"))
SERVER = os.path.join(BUILD, "src/server/slipway-server")
HOSTS = [int(x) for x in os.environ.get("BENCH_PING_HOSTS", "10000,100000").split(",")]
SECONDS = int(os.environ.get("BENCH_PING_SECONDS", "10"))
CONNS = int(os.environ.get("BENCH_PING_CONNECTIONS", "64"))
THREADS = int(os.environ.get("BENCH_PING_THREADS", "2"))
HTTP_THREADS = os.environ.get("BENCH_PING_HTTP_THREADS", "4")
# the first pass right after the server starts: every ping of it is a host's first (the verifying path: a known
# host's rows read, an unseeded one's written); short enough not to wrap around the hosts
COLD_SECONDS = int(os.environ.get("BENCH_PING_COLD_SECONDS", "3"))
# 0: the hosts are not seeded, so the first pass registers them (heartbeat record, membership, agent row)
SEED = os.environ.get("BENCH_PING_SEED", "1") != "0"
# before/after in one run: "label=path/to/slipway-server[;name=value...],label=..." (each N runs every binary in
# turn, each with its own extra settings)
SERVERS = [tuple(x.split("=", 1)) for x in os.environ.get("BENCH_PING_SERVERS", "=" + SERVER).split(",")]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Srv:
    """A private server in directory d; db and the token file default to SQLite files there (bench/pg passes a
    PostgreSQL DSN and a token file shared by its replicas); extra: more `name=value` settings."""

    def __init__(self, d, db=None, token_file=None, extra=()):
        self.dir = d
        self.db = db or "sqlite:" + d + "/s.db"
        self.token_file = token_file or os.path.join(d, "admin.token")
        self.extra = list(extra)
        self.proc = None
        self.server = SERVER  # another build's binary for a before/after run

    def start(self):
        pf = os.path.join(self.dir, "port")
        if os.path.exists(pf):
            os.unlink(pf)
        self.log = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen([self.server, "--listen", "127.0.0.1:0", "--db", self.db, "--admin-token-file",
                                      self.token_file, "--set", "port_file=" + pf, "log_level=warn",
                                      "http_threads=" + HTTP_THREADS, "transition_period=3600", "janitor_period=3600",
                                      "promote_period=3600"] + self.extra,
                                     stdout=self.log, stderr=self.log)
        for _ in range(500):
            if os.path.exists(pf) and open(pf).read().strip():
                break
            if self.proc.poll() is not None:
                raise SystemExit("server exited: see " + self.dir + "/server.log")
            time.sleep(0.02)
        self.url = "http://" + open(pf).read().strip()
        self.token = open(self.token_file).read().strip()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.log.close()

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Authorization": "token " + self.token,
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return json.loads(raw) if raw else None

    def metric(self, name):
        req = urllib.request.Request(self.url + "/metrics", headers={"Authorization": "token " + self.token})
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read().decode()
        m = re.search(r"^%s (\d+)" % re.escape(name), text, re.M)
        return int(m.group(1)) if m else 0

    def cpu_s(self):
        return proc_cpu_s([self.proc.pid])

    def io(self):
        """(write syscalls, bytes written) of the process so far: database and socket writes alike."""
        f = dict(line.split(": ") for line in open("/proc/%d/io" % self.proc.pid).read().splitlines())
        return int(f["syscw"]), int(f["wchar"])

    def rss_kb(self):
        st = open("/proc/%d/status" % self.proc.pid).read()
        return (int(re.search(r"VmRSS:\s+(\d+)", st).group(1)), int(re.search(r"VmHWM:\s+(\d+)", st).group(1)))


def seed(db, n, env_id, deploy_id, now):
    c = sqlite3.connect(db)
    c.execute("PRAGMA journal_mode=WAL")
    with c:
        c.executemany("INSERT INTO heartbeats(hostId, hostName, ip, agentVersion, createDate, lastSeen) "
                      "VALUES(?, ?, '10.0.0.1', 'bench/1', ?, ?)",
                      (("bench-%d" % i, "bench-%d" % i, now, now) for i in range(n)))
        c.executemany("INSERT INTO hosts(hostName, groupName, ip, hostId, createDate, lastUpdateDate, state) "
                      "VALUES(?, 'bench', '10.0.0.1', ?, ?, ?, 'ACTIVE')",
                      (("bench-%d" % i, "bench-%d" % i, now, now) for i in range(n)))
        c.executemany("INSERT INTO agents(hostId, hostName, envId, deployId, deployStage, state, status, startDate, "
                      "lastUpdateDate, lastOperator, lastErrno, failCount, firstDeploy, firstDeployDate, "
                      "stageStartDate, containerHealthStatus, holdsSlot, removed, version) VALUES(?, ?, ?, ?, "
                      "'SERVING_BUILD', 'NORMAL', 'SUCCEEDED', ?, ?, 'system', 0, 0, 0, ?, ?, '', 0, 0, 1)",
                      (("bench-%d" % i, "bench-%d" % i, env_id, deploy_id, now, now, now, now) for i in range(n)))
    c.close()


def wrk(url, script, seconds, args=None):
    cmd = ["wrk", "-t", str(THREADS), "-c", str(CONNS), "-d", "%ds" % seconds, "--timeout", "10s", "-s", script, url]
    if args:
        cmd += ["--"] + [str(a) for a in args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120).stdout
    m = re.search(r"RESULT requests=(\d+) duration_us=(\d+) p50_us=(\d+) p99_us=(\d+) errors=(\d+) non2xx=(\d+)", out)
    if not m:
        raise SystemExit("wrk failed: " + out)
    req, dur, p50, p99, err, non2xx = (int(x) for x in m.groups())
    return {"rps": req / (dur / 1e6), "p50_ms": p50 / 1000, "p99_ms": p99 / 1000, "errors": err, "non2xx": non2xx,
            "requests": req, "cmd": " ".join(cmd)}


def free_port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def proc_cpu_s(pids):
    """user + system CPU seconds of these processes so far."""
    t = 0
    for pid in pids:
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        t += int(f[11]) + int(f[12])
    return t / os.sysconf("SC_CLK_TCK")


def nginx_static(d, seconds, args):
    """The ceiling of a static answer: a private nginx (loopback, free port, 2 workers like the server's 2 cores)
    answering every request with a fixed NOOP body, driven by the same wrk ping script; stopped after."""
    root = os.path.join(d, "nginx")
    os.makedirs(root, exist_ok=True)
    port = free_port()
    conf = os.path.join(root, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""daemon off;
worker_processes 2;
pid %(r)s/nginx.pid;
error_log %(r)s/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %(r)s/body;
    proxy_temp_path %(r)s/proxy;
    fastcgi_temp_path %(r)s/fastcgi;
    uwsgi_temp_path %(r)s/uwsgi;
    scgi_temp_path %(r)s/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:%(p)d;
        default_type application/json;
        location / { return 200 '{"opCode":"NOOP","deployGoal":null}'; }
    }
}
""" % {"r": root, "p": port})
    ngx = subprocess.Popen(["/usr/sbin/nginx", "-c", conf, "-p", root], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        url = "http://127.0.0.1:%d" % port
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(url + "/", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or ngx.poll() is not None:
                    raise SystemExit("nginx did not start (see %s/error.log)" % root)
                time.sleep(0.05)
        pids = [ngx.pid] + [int(x) for x in open("/proc/%d/task/%d/children" % (ngx.pid, ngx.pid)).read().split()]
        cpu0 = proc_cpu_s(pids)
        g = wrk(url, os.path.join(HERE, "idle.lua"), seconds, args)
        g["cpu_us"] = (proc_cpu_s(pids) - cpu0) * 1e6 / max(1, g["requests"])
        return g
    finally:
        ngx.send_signal(signal.SIGQUIT)
        try:
            ngx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            ngx.kill()
            ngx.wait()


def run_one(n, spec):
    binary, *extra = spec.split(";")
    with tempfile.TemporaryDirectory(prefix="slipway-bench-ping-") as d:
        s = Srv(d, extra=extra)
        s.server = binary
        try:
            return measure(s, d, n)
        finally:
            if s.proc and s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait()


def make_stage(s):
    """Starts s, creates stage bench/prod (group bench) with a current deploy, stops s; returns (env, deploy)."""
    s.start()
    env = s.call("POST", "/v1/envs", {"envName": "bench", "stageName": "prod"})
    s.call("PUT", "/v1/envs/bench/prod/capacity?capacityType=GROUP", ["bench"])
    b = s.call("POST", "/v1/builds", {"name": "bench", "repo": "acme/bench", "branch": "main",
                                      "commit": "abcdef0123456", "artifactUrl": "https://x.example/a.tgz"})
    dep = s.call("POST", "/v1/envs/bench/prod/deploys?buildId=" + b["id"])
    s.stop()
    return env, dep


def measure(s, d, n):
    env, dep = make_stage(s)
    if SEED:
        log("ping bench: seeding %d hosts" % n)
        seed(os.path.join(d, "s.db"), n, env["id"], dep["id"], int(time.time() * 1000))
    s.start()
    args = [n, env["id"], dep["id"], s.token, THREADS]
    script = os.path.join(HERE, "idle.lua")
    idle0 = s.metric("slipway_ping_idle_repeats_total")
    cpu0 = s.cpu_s()
    io0 = s.io()
    c = wrk(s.url, script, COLD_SECONDS, args)
    c["cpu_us"] = (s.cpu_s() - cpu0) * 1e6 / max(1, c["requests"])
    io1 = s.io()
    c["syscw"] = (io1[0] - io0[0]) / max(1, c["requests"])
    c["wkb"] = (io1[1] - io0[1]) / 1024 / max(1, c["requests"])
    c["full"] = c["requests"] - (s.metric("slipway_ping_idle_repeats_total") - idle0)
    log("ping bench: first pass %ds: %.0f pings/s, %.0f µs of CPU and %.1f write calls (%.1f KB) each, %d of %d ran "
        "in full" % (COLD_SECONDS, c["rps"], c["cpu_us"], c["syscw"], c["wkb"], c["full"], c["requests"]))
    warm = max(5, math.ceil(n / 2500))
    log("ping bench: warm-up %ds over %d hosts" % (warm, n))
    w = wrk(s.url, script, warm, args)
    writes0 = s.metric("slipway_ping_writes_total")
    noop0 = s.metric('slipway_pings_total{opcode="NOOP"}')
    idle0 = s.metric("slipway_ping_idle_repeats_total")
    log("ping bench: measuring %ds (warm-up ran %.0f pings/s)" % (SECONDS, w["rps"]))
    cpu0 = s.cpu_s()
    p = wrk(s.url, script, SECONDS, args)
    p["cpu_us"] = (s.cpu_s() - cpu0) * 1e6 / max(1, p["requests"])
    writes = s.metric("slipway_ping_writes_total") - writes0
    noops = s.metric('slipway_pings_total{opcode="NOOP"}') - noop0
    p["idle"] = s.metric("slipway_ping_idle_repeats_total") - idle0
    rss, hwm = s.rss_kb()
    cpu0 = s.cpu_s()
    h = wrk(s.url + "/healthz", os.path.join(HERE, "healthz.lua"), SECONDS)
    h["cpu_us"] = (s.cpu_s() - cpu0) * 1e6 / max(1, h["requests"])
    s.stop()
    log("ping bench: static nginx answer, %ds" % SECONDS)
    g = nginx_static(d, SECONDS, args)
    return n, c, p, h, g, writes, noops, rss, hwm


def main():
    rows = []
    for n in HOSTS:
        for label, spec in SERVERS:
            log("ping bench: %d hosts, server %s" % (n, label or spec))
            rows.append((label,) + run_one(n, spec))
    print("| server | hosts | first-pass pings/s | CPU µs/first ping | write calls (KB)/first ping | idle pings/s | "
          "p50 ms | p99 ms | "
          "server CPU µs/ping | /healthz req/s | p50 ms | p99 ms | CPU µs/req | ping/healthz | static nginx req/s | "
          "p99 ms | CPU µs/req | ping/nginx | server RSS MB (peak) | writes during run | NOOP answers | "
          "idle repeats | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for label, n, c, p, h, g, writes, noops, rss, hwm in rows:
        print("| %s | %d | %.0f%s | %.0f | %.1f (%.1f) | %.0f | %.2f | %.2f | %.0f | %.0f | %.2f | %.2f | %.0f | %.2f "
              "| %.0f | %.2f | %.0f | %.2f | %.1f (%.1f) | %d | %d/%d | %d | %d |" % (
                  label or "-", n, c["rps"], "" if c["full"] >= c["requests"] else " (wrapped)", c["cpu_us"],
                  c["syscw"], c["wkb"],
                  p["rps"], p["p50_ms"], p["p99_ms"], p["cpu_us"], h["rps"], h["p50_ms"], h["p99_ms"], h["cpu_us"],
                  p["rps"] / h["rps"], g["rps"], g["p99_ms"], g["cpu_us"], p["rps"] / g["rps"], rss / 1024,
                  hwm / 1024, writes, noops, p["requests"], p["idle"], p["errors"] + p["non2xx"]))
    print()
    print("Load average at the end: %s. The machine is shared: absolute rates depend on what else runs; the "
          "server's CPU time per request (user + system, from /proc) is the steadier figure — 1e6 / (µs/ping) is "
          "the idle pings/s one core sustains." % open("/proc/loadavg").read().split()[0])
    print("wrk: `%s` (the ping script takes `-- N ENV_ID DEPLOY_ID TOKEN THREADS`); /healthz the same without a "
          "body. Server: `http_threads=%s`, SQLite, %s; the first pass (%ds right after the server started) is every "
          "host's first ping, then a warm-up pass touched every host. Static nginx: the same wrk ping script against "
          "a private nginx (2 workers, loopback) answering every request with a fixed NOOP body, right after the "
          "server's passes." % (rows[0][4]["cmd"].split(" -s ")[0], HTTP_THREADS,
                                "all hosts seeded as SERVING_BUILD of the current deploy" if SEED else
                                "no host seeded (the first pass registers them)", COLD_SECONDS))


if __name__ == "__main__":
    main()
