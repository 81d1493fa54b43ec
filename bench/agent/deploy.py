# SPDX-License-Identifier: Apache-2.0
# bench/agent/deploy.py: CPU of one slipway-agent (the agent process, its reaped children and any helper it keeps
# alive) per deploy. One real slipway-server, one private nginx serving 1 MiB artifacts (incompressible payload,
# artifactSha256 set, so every build is verified), five trivial deploy scripts (PRE_DOWNLOAD, POST_DOWNLOAD,
# PRE_RESTART, RESTARTING, POST_RESTART). Every agent binary named gets its own env and host; their deploys are
# interleaved (one deploy on each in turn) so machine load hits them alike. Each deploy uses a new build, so each one
# downloads, verifies and extracts. Idle CPU (measured over BENCH_DEPLOY_IDLE seconds before the deploys) is
# subtracted per deploy at the same rate.
# Usage: deploy.py [LABEL=AGENT_BINARY ...] (default: "this build=<SLIPWAY_BUILD_DIR>/src/agent/slipway-agent").
# Knobs: BENCH_DEPLOYS (20), BENCH_DEPLOY_IDLE (5). Progress on stderr, the Markdown table on stdout.
import hashlib
import io
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration", "fleet"))
sys.path.insert(0, os.path.join(HERE, "..", "fleet"))
from fleet import start_nginx  # noqa: E402
from fleet_support import AGENT_BIN, Server, wait_for  # noqa: E402

DEPLOYS = int(os.environ.get("BENCH_DEPLOYS", "20"))
IDLE = float(os.environ.get("BENCH_DEPLOY_IDLE", "5"))
STAGES = ("PRE_DOWNLOAD", "POST_DOWNLOAD", "PRE_RESTART", "RESTARTING", "POST_RESTART")
HZ = os.sysconf("SC_CLK_TCK")


def log(*a):
    print("bench/agent/deploy:", *a, file=sys.stderr, flush=True)


def make_artifact(path):
    with tarfile.open(path, "w:gz") as tar:
        for name in STAGES:
            body = b"#!/bin/sh\nexit 0\n"
            ti = tarfile.TarInfo("teletraan/" + name)
            ti.size, ti.mode = len(body), 0o755
            tar.addfile(ti, io.BytesIO(body))
        data = os.urandom(1 << 20)
        ti = tarfile.TarInfo("payload.bin")
        ti.size, ti.mode = len(data), 0o644
        tar.addfile(ti, io.BytesIO(data))
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def stat_ticks(pid, with_children):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if with_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks, int(fields[1])  # (ticks, ppid)


def tree_ticks(root):
    """(CPU ticks of root itself, of its reaped children plus every live descendant with its reaped children)."""
    parents = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                parents[int(d)] = stat_ticks(int(d), True)
            except (OSError, IndexError):
                pass
    own = stat_ticks(root, False)[0]
    total, frontier = parents.get(root, (0, 0))[0], [root]
    while frontier:
        p = frontier.pop()
        for pid, (ticks, ppid) in parents.items():
            if ppid == p:
                total += ticks
                frontier.append(pid)
    return own, total - own


class Agent:
    def __init__(self, label, binary, root, server, nport, env):
        self.label, self.env = label, env
        for sub in ("state", "builds", "current", "log"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        conf = root / "agent.conf"
        conf.write_text(f"server_url = {server.url}\ntoken_file = {server.dir / 'admin.token'}\n"
                        f"host_name = {env}-host\nhost_id = {env}-host\nhost_ip = 127.0.0.1\n"
                        f"state_dir = {root / 'state'}\nbuilds_dir = {root / 'builds'}\n"
                        f"target_dir = {root / 'current'}\nlog_dir = {root / 'log'}\nallow_http = true\n"
                        f"download_allow_hosts = 127.0.0.1:{nport}\nlong_poll_wait = 25\nmax_retry = 1\n")
        conf.chmod(0o600)
        self.logf = open(root / "agent.log", "w")
        wrap = os.environ.get("BENCH_AGENT_WRAP", "").split()  # e.g. "perf record -g -o FILE --" (profiling only)
        self.proc = subprocess.Popen(wrap + [binary, "--config", str(conf)], stdout=self.logf, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.cpu_ms, self.own_ms, self.wall, self.idle_rate = [], [], [], 0.0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.logf.close()


def serving(server, env, deploy_id):
    st, rows = server.api("GET", f"/v1/envs/{env}/prod/agents")
    if st != 200 or not rows:
        return False
    r = rows[0]
    if r["state"] == "PAUSED_BY_SYSTEM" or r.get("status") not in (None, "SUCCEEDED", "UNKNOWN"):
        raise SystemExit(f"bench/agent/deploy: {env}: host failed: {r}")
    return r["deployId"] == deploy_id and r["deployStage"] == "SERVING_BUILD"


def main():
    pairs = [a.split("=", 1) for a in sys.argv[1:]] or [["this build", AGENT_BIN]]
    tmp = Path(tempfile.mkdtemp(prefix="slipway-bench-deploy."))
    tmp.chmod(0o755)
    www = tmp / "www"
    www.mkdir()
    ngx, nport = start_nginx(tmp, www)
    server = Server(tmp / "server")
    agents = []
    try:
        builds = []
        for i in range(DEPLOYS + 1):
            sha = make_artifact(www / f"b{i}.tar.gz")
            builds.append(server.ok("POST", "/v1/builds", {
                "name": "bench", "repo": "slipway/bench", "branch": "main", "commit": f"c{i:06d}",
                "artifactUrl": f"http://127.0.0.1:{nport}/b{i}.tar.gz", "artifactSha256": sha})["id"])
        for n, (label, binary) in enumerate(pairs):
            env = f"bench{n}"
            server.ok("POST", "/v1/envs", {"envName": env, "stageName": "prod", "buildName": "bench"})
            server.ok("PUT", f"/v1/envs/{env}/prod/capacity", [f"{env}-host"], params={"capacityType": "HOST"})
            agents.append(Agent(label, binary, tmp / env, server, nport, env))
        for a in agents:  # the first deploy (no PRE_DOWNLOAD) warms up and is not counted
            d = server.ok("POST", f"/v1/envs/{a.env}/prod/deploys", params={"buildId": builds[0]})["id"]
            wait_for(lambda: serving(server, a.env, d), timeout=120, interval=0.1, what=f"{a.label} first deploy")
        time.sleep(2)  # the agent's last report and its first idle long-poll
        for a in agents:
            t0, c0 = time.monotonic(), sum(tree_ticks(a.proc.pid))
            time.sleep(IDLE)
            a.idle_rate = (sum(tree_ticks(a.proc.pid)) - c0) * 1000.0 / HZ / (time.monotonic() - t0)
        for i in range(1, DEPLOYS + 1):
            for a in agents:
                t0, (o0, k0) = time.monotonic(), tree_ticks(a.proc.pid)
                d = server.ok("POST", f"/v1/envs/{a.env}/prod/deploys", params={"buildId": builds[i]})["id"]
                wait_for(lambda: serving(server, a.env, d), timeout=120, interval=0.05, what=f"{a.label} deploy {i}")
                t1 = time.monotonic()
                time.sleep(0.3)  # the agent's report of SERVING_BUILD and the NOOP that follows
                t2 = time.monotonic()
                o1, k1 = tree_ticks(a.proc.pid)
                a.cpu_ms.append((o1 + k1 - o0 - k0) * 1000.0 / HZ - a.idle_rate * (t2 - t0))
                a.own_ms.append((o1 - o0) * 1000.0 / HZ)
                a.wall.append(t1 - t0)
            log(f"deploy {i}/{DEPLOYS}: " + ", ".join(f"{a.label} {a.cpu_ms[-1]:.0f} ms" for a in agents))
        print(f"CPU of slipway-agent and its children per deploy (1 MiB verified artifact over http, five trivial "
              f"scripts), {DEPLOYS} deploys each, interleaved; idle CPU subtracted; clock tick {1000 // HZ} ms.\n")
        print("| agent | CPU ms/deploy (mean) | median | min | max | of which the agent process (mean) | "
              "idle CPU ms/s | deploy wall s (median) |")
        print("|---|---|---|---|---|---|---|---|")
        for a in agents:
            c, w = sorted(a.cpu_ms), sorted(a.wall)
            print(f"| {a.label} | {sum(c) / len(c):.1f} | {c[len(c) // 2]:.0f} | {c[0]:.0f} | {c[-1]:.0f} | "
                  f"{sum(a.own_ms) / len(a.own_ms):.1f} | {a.idle_rate:.2f} | {w[len(w) // 2]:.2f} |")
    finally:
        for a in agents:
            a.stop()
        server.stop()
        ngx.terminate()
        ngx.wait()
        if os.environ.get("BENCH_KEEP_TMP") != "1":
            subprocess.run(["rm", "-rf", str(tmp)])


if __name__ == "__main__":
    main()
