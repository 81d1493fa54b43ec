# SPDX-License-Identifier: Apache-2.0
# bench/agent: measure an idle slipway-agent. A private slipway-server gets one env (bench/idle) with examples/hello
# deployed to one local agent; once the host serves the build the agent is idle, and we sample /proc/PID/stat (CPU
# ticks), /proc/PID/smaps_rollup (Rss, Pss, Private_Dirty) and /proc/PID/status (VmHWM, threads) at the start and
# the end of an idle period, plus the server's ping counter. Mode 1: long_poll = true (default); mode 2: long_poll =
# false with ping_interval = BENCH_POLL_INTERVAL. Progress goes to stderr, the result table to stdout.
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("SLIPWAY_BUILD_DIR", os.path.join(REPO, "build"))
IDLE = float(os.environ.get("BENCH_IDLE_SECONDS", "60"))
WARMUP = float(os.environ.get("BENCH_WARMUP_SECONDS", "5"))
POLL = int(os.environ.get("BENCH_POLL_INTERVAL", "30"))
SERVER_BIN = os.path.join(BUILD, "src", "server", "slipway-server")
AGENT_BIN = os.path.join(BUILD, "src", "agent", "slipway-agent")


def log(msg):
    print(f"bench/agent: {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    raise SystemExit(f"bench/agent: timed out waiting for {what}")


class Api:
    def __init__(self, url, token):
        self.url, self.token = url, token

    def call(self, method, path, body=None, ok=(200, 201, 204)):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Authorization": "token " + self.token,
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                code, text = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            code, text = e.code, e.read().decode()
        if code not in ok:
            raise SystemExit(f"bench/agent: {method} {path} answered {code}: {text}")
        return json.loads(text) if text.strip().startswith(("{", "[")) else text


def proc_sample(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    mem = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            m = re.match(r"(\w+):\s+(\d+) kB", line)
            if m:
                mem[m.group(1)] = int(m.group(2))
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "Threads"):
                mem[k] = int(v.split()[0])
    mem["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    # the kept download helper (a child of the agent): its private dirty KiB, and the dirty memory the agent and its
    # children hold together (Pss_Dirty summed: a page they share counts once, split between them; the helper is
    # forked from the agent, so most of its dirty pages are the agent's and Private_Dirty alone would hide them)
    mem["helper_dirty"], mem["tree_pss_dirty"] = 0, mem.get("Pss_Dirty", 0)
    for d in os.listdir("/proc"):
        try:
            if d.isdigit() and int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1]) == pid:
                for line in open(f"/proc/{d}/smaps_rollup"):
                    if line.startswith("Private_Dirty:"):
                        mem["helper_dirty"] += int(line.split()[1])
                    elif line.startswith("Pss_Dirty:"):
                        mem["tree_pss_dirty"] += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
    return time.monotonic(), ticks, mem


def pings_total(api):
    text = api.call("GET", "/metrics")
    return sum(float(m.group(1)) for m in re.finditer(r"^slipway_pings_total(?:\{[^}]*\})? (\S+)$", text, re.M))


def main():
    for b in (SERVER_BIN, AGENT_BIN):
        if not os.access(b, os.X_OK):
            raise SystemExit(f"bench/agent: {b} is not built (make build)")
    tmp = tempfile.mkdtemp(prefix="slipway-bench-agent.")
    procs = []
    app_port = free_port()
    try:
        port_file = os.path.join(tmp, "port")
        server = subprocess.Popen([SERVER_BIN, "--listen", "127.0.0.1:0", "--port-file", port_file,
                                   "--db", f"sqlite:{tmp}/slipway.db", "--transition-period", "1",
                                   "--heartbeat-flush-period", "2"],
                                  stdout=open(os.path.join(tmp, "server.log"), "w"), stderr=subprocess.STDOUT,
                                  start_new_session=True)
        procs.append(server)
        addr = wait_for(lambda: os.path.exists(port_file) and open(port_file).read().strip(), 30, "server port")
        url = "http://" + addr
        token = wait_for(lambda: os.path.exists(f"{tmp}/admin.token") and open(f"{tmp}/admin.token").read().strip(),
                         30, "admin token")
        api = Api(url, token)
        api.call("POST", "/v1/envs", {"envName": "bench", "stageName": "idle"})
        api.call("PUT", "/v1/envs/bench/idle/capacity?capacityType=HOST", ["bench-agent"])
        api.call("PUT", "/v1/envs/bench/idle/script_configs", {"PORT": str(app_port)})
        out = subprocess.run([os.path.join(REPO, "examples", "hello", "pack.sh"), "--commit", "bench0001",
                              os.path.join(tmp, "artifacts", "hello.tar.gz")],
                             capture_output=True, text=True, check=True).stdout
        info = dict(line.split("=", 1) for line in out.split())
        build = api.call("POST", "/v1/builds", {"name": "bench", "repo": "slipway/bench", "branch": "main",
                                                "commit": info["commit"], "artifactUrl": "file://" + info["artifact"],
                                                "artifactSha256": info["sha256"]})
        deploy = api.call("POST", f"/v1/envs/bench/idle/deploys?buildId={build['id']}")
        adir = os.path.join(tmp, "agent")
        for d in ("state", "builds", "current", "log"):
            os.makedirs(os.path.join(adir, d), exist_ok=True)
        rows = []
        for mode, extra in (("long-poll (default)", "long_poll = true\n"),
                            (f"polling every {POLL} s", f"long_poll = false\nping_interval = {POLL}\n")):
            conf = os.path.join(adir, "agent.conf")
            with open(conf, "w") as f:
                f.write(f"server_url = {url}\ntoken = {token}\nhost_name = bench-agent\nhost_id = bench-agent\n"
                        f"state_dir = {adir}/state\nbuilds_dir = {adir}/builds\ntarget_dir = {adir}/current\n"
                        f"log_dir = {adir}/log\nmax_retry = 1\n"
                        f"download_allow_file_dirs = {tmp}/artifacts\n" + extra)
            os.chmod(conf, 0o600)
            agent = subprocess.Popen([AGENT_BIN, "--config", conf],
                                     stdout=open(os.path.join(tmp, "agent.log"), "a"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
            procs.append(agent)

            def serving():
                agents = api.call("GET", "/v1/envs/bench/idle/agents")
                d = api.call("GET", f"/v1/deploys/{deploy['id']}")
                return (any(a["deployStage"] == "SERVING_BUILD" and a["status"] == "SUCCEEDED" for a in agents)
                        and d["state"] in ("SUCCEEDING", "SUCCEEDED"))
            log(f"{mode}: waiting for the host to serve the build")
            wait_for(serving, 120, "the deploy to succeed")
            # steady state: after a pass with work the agent sleeps ping_interval once before it long-polls again
            # (AGENT.md §5.3), so wait for one more idle ping to complete before measuring
            p_serving = pings_total(api)
            wait_for(lambda: pings_total(api) > p_serving, 150, "the first idle ping after the deploy")
            time.sleep(WARMUP)
            p0 = pings_total(api)
            t0, c0, m0 = proc_sample(agent.pid)
            log(f"{mode}: idle for {IDLE:g} s")
            time.sleep(IDLE)
            t1, c1, m1 = proc_sample(agent.pid)
            time.sleep(2.5)  # let the server flush counters of the last ping
            p1 = pings_total(api)
            hz = os.sysconf("SC_CLK_TCK")
            cpu_ms = (c1 - c0) * 1000.0 / hz
            rows.append((mode, t1 - t0, m1, cpu_ms, cpu_ms / ((t1 - t0) * 10.0), p1 - p0))
            agent.send_signal(signal.SIGTERM)
            agent.wait(timeout=60)
            procs.remove(agent)
        print(f"Idle slipway-agent, one env serving examples/hello; samples start {WARMUP:g} s after the first idle "
              "ping that followed the deploy; "
              f"CPU over the idle period (user + system, clock tick {1000 // os.sysconf('SC_CLK_TCK')} ms).\n")
        print("| mode | idle s | RSS KiB | PSS KiB | private dirty KiB | children's private dirty KiB | "
              "dirty KiB of agent + children (Pss_Dirty sum) | peak RSS KiB | threads | fds | CPU ms | CPU % | pings |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for mode, secs, m, cpu_ms, pct, pings in rows:
            print(f"| {mode} | {secs:.0f} | {m.get('Rss', 0)} | {m.get('Pss', 0)} | {m.get('Private_Dirty', 0)} | "
                  f"{m['helper_dirty']} | {m['tree_pss_dirty']} | "
                  f"{m.get('VmHWM', 0)} | {m.get('Threads', 0)} | {m['fds']} | {cpu_ms:.0f} | {pct:.3f} | "
                  f"{pings:.0f} |")
    finally:
        run = os.path.join(tmp, "agent", "current", "bench.run", "hello.pid")
        try:
            os.kill(int(open(run).read().strip()), signal.SIGTERM)
        except (OSError, ValueError):
            pass
        for p in reversed(procs):
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(p.pid, signal.SIGKILL)
        if os.environ.get("BENCH_KEEP_TMP") != "1":
            subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
