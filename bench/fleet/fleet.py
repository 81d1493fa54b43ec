# SPDX-License-Identifier: Apache-2.0
# bench/fleet/fleet.py: N real slipway-agent processes on loopback against one slipway-server, trivial deploy scripts,
# a 1 MB artifact served by a private nginx. Measures, per fleet size: the first deploy (every host at once), a later
# deploy at maxParallelPct 100 and at 10 (time from deploy creation to all SERVING_BUILD, and until every agent has
# started PRE_DOWNLOAD), and a rollback. Prints a Markdown table on stdout, progress on stderr.
# Knobs: BENCH_FLEET_SIZES (default "100 500"), BENCH_FLEET_LONG_POLL_WAIT (25), SLIPWAY_BUILD_DIR.
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration", "fleet"))
from fleet_support import AGENT_BIN, Server, free_port, processes_mentioning, wait_for  # noqa: E402

SIZES = [int(x) for x in os.environ.get("BENCH_FLEET_SIZES", "100 500").split()]
LONG_POLL_WAIT = int(os.environ.get("BENCH_FLEET_LONG_POLL_WAIT", "25"))

SCRIPTS = {
    "PRE_DOWNLOAD": '#!/bin/sh\necho "$DEPLOY_ID $(date +%s.%N)" >>"$FLEET_ROOT/pre_download"\n',
    "RESTARTING": "#!/bin/sh\ntrue\n",
    "POST_RESTART": "#!/bin/sh\ntest -f \"$TARGET/VERSION\"\n",
}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def make_artifact(path, version):
    files = {"VERSION": (version + "\n").encode(), "payload.bin": os.urandom(1 << 20)}
    with tarfile.open(path, "w:gz") as tar:
        for name, body in SCRIPTS.items():
            ti = tarfile.TarInfo("teletraan/" + name)
            ti.size, ti.mode = len(body), 0o755
            tar.addfile(ti, io.BytesIO(body.encode()))
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), 0o644
            tar.addfile(ti, io.BytesIO(data))


def start_nginx(root, www):
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(f"""daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    sendfile on;
    server {{ listen 127.0.0.1:{port}; root {www}; }}
}}
""")
    p = subprocess.Popen(["/usr/sbin/nginx", "-c", str(conf), "-p", str(root)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    return p, port


class Agent:
    def __init__(self, root, name, server, nginx_port):
        self.root = root
        for sub in ("state", "builds", "current", "log"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        conf = root / "agent.conf"
        conf.write_text(f"""server_url = {server.url}
token_file = {server.dir / 'admin.token'}
host_name = {name}
host_id = {name}
host_ip = 127.0.0.1
state_dir = {root / 'state'}
builds_dir = {root / 'builds'}
target_dir = {root / 'current'}
log_dir = {root / 'log'}
allow_http = true
download_allow_hosts = 127.0.0.1:{nginx_port}
ping_interval = 1
long_poll = true
long_poll_wait = {LONG_POLL_WAIT}
heartbeat_interval = 5
max_retry = 2
""")
        conf.chmod(0o600)
        self.logf = open(root / "agent.log", "w")
        env = dict(os.environ, FLEET_ROOT=str(root))
        self.proc = subprocess.Popen([AGENT_BIN, "--config", str(conf)], stdout=self.logf, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)

    def pre_download(self, deploy_id):
        try:
            for line in (self.root / "pre_download").read_text().splitlines():
                d, t = line.split()
                if d == deploy_id:
                    return float(t)
        except OSError:
            pass
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def reap(self):
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.logf.close()


def serving(server, deploy_id, n):
    st, rows = server.api("GET", "/v1/envs/bench/prod/agents")
    if st != 200:
        return False
    parked = [r["hostName"] for r in rows if r["state"] == "PAUSED_BY_SYSTEM"]
    if parked:
        raise RuntimeError(f"hosts failed fatally: {parked[:5]}")
    return sum(1 for r in rows if r["deployId"] == deploy_id and r["deployStage"] == "SERVING_BUILD") == n


def measure(server, agents, n, label, create, timeout):
    """create() → deploy id; returns (label, seconds to all SERVING_BUILD, seconds until every PRE_DOWNLOAD began)."""
    t0 = time.time()
    deploy_id = create()
    wait_for(lambda: serving(server, deploy_id, n), timeout=timeout, interval=0.2, what=f"{label} on {n} hosts")
    total = time.time() - t0
    pre = [a.pre_download(deploy_id) for a in agents]
    pre_all = (max(pre) - t0) if all(p is not None for p in pre) else None
    log(f"  {label}: {total:.1f} s" + (f", all PRE_DOWNLOAD started after {pre_all:.1f} s" if pre_all else ""))
    return label, total, pre_all, deploy_id


def run_size(n, tmp):
    root = tmp / f"n{n}"
    www = root / "www"
    www.mkdir(parents=True)
    root.chmod(0o755)
    ngx, nport = start_nginx(root, www)
    server = Server(root / "server", settings=["per_ip_connection_limit=0"])  # every agent is on 127.0.0.1
    agents = []
    rows = []
    try:
        server.ok("POST", "/v1/envs", {"envName": "bench", "stageName": "prod", "buildName": "bench",
                                       "maxParallelPct": 100})
        names = [f"bench-{i:04d}" for i in range(n)]
        server.ok("PUT", "/v1/envs/bench/prod/capacity", names, params={"capacityType": "HOST"})
        builds = {}
        for v in ("v1", "v2", "v3"):
            make_artifact(www / f"{v}.tar.gz", v)
            builds[v] = server.ok("POST", "/v1/builds", {"name": "bench", "repo": "slipway/bench", "branch": "main",
                                                          "commit": v,
                                                          "artifactUrl": f"http://127.0.0.1:{nport}/{v}.tar.gz"})["id"]
        log(f"fleet: starting {n} agents")
        for name in names:
            agents.append(Agent(root / name, name, server, nport))
        wait_for(lambda: server.api("GET", "/v1/agents/hostcount")[1] is not None, timeout=10)
        # hosts appear in the capacity's host list once they pinged
        wait_for(lambda: len(server.api("GET", "/v1/envs/bench/prod/hosts")[1] or []) >= n, timeout=120,
                 interval=0.5, what="every agent registered")

        def deploy(b):
            return lambda: server.ok("POST", "/v1/envs/bench/prod/deploys", params={"buildId": builds[b]})["id"]

        def set_pct(p):
            server.ok("PUT", "/v1/envs/bench/prod", {"maxParallelPct": p})

        rows.append(measure(server, agents, n, "first deploy (every host at once)", deploy("v1"), 600))
        set_pct(100)
        rows.append(measure(server, agents, n, "later deploy, maxParallelPct 100", deploy("v2"), 600))
        good = rows[-1][3]
        set_pct(10)
        rows.append(measure(server, agents, n, "later deploy, maxParallelPct 10", deploy("v3"), 900))
        set_pct(100)
        rows.append(measure(server, agents, n, "rollback to v2 (build kept, no download), maxParallelPct 100",
                            lambda: server.ok("POST", "/v1/envs/bench/prod/deploys/current/actions",
                                              params={"actionType": "ROLLBACK", "toDeployId": good})["id"], 600))
        rss = 0
        for a in agents:
            try:
                for line in open(f"/proc/{a.proc.pid}/status"):
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
            except OSError:
                pass
        return [(n, *r[:3], rss / n / 1024) for r in rows]
    finally:
        for a in agents:
            a.stop()
        for a in agents:
            a.reap()
        server.stop()
        ngx.terminate()
        ngx.wait()
        for a in agents:
            for pid in processes_mentioning(a.root):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # clean up (finally) on timeout(1) too
    tmp = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    tmp.chmod(0o755)  # nginx workers run as an unprivileged user and must reach www/
    out = []
    try:
        for n in SIZES:
            out += run_size(n, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("| agents | deploy | all SERVING_BUILD s | all started PRE_DOWNLOAD s | agent RSS MB (mean) |")
    print("|---|---|---|---|---|")
    for n, label, total, pre, rss in out:
        print(f"| {n} | {label} | {total:.1f} | {'-' if pre is None else f'{pre:.1f}'} | {rss:.1f} |")
    print()
    print(f"Real slipway-agent processes on loopback, one stage, 1 MiB artifact (incompressible payload) over http "
          f"from a private nginx; trivial scripts (PRE_DOWNLOAD records a timestamp, RESTARTING true, POST_RESTART "
          f"checks VERSION). Agents: long_poll_wait {LONG_POLL_WAIT}, ping_interval 1. Server: SQLite, "
          f"transition_period=1. Times are from deploy creation (client side) to the last host's state in GET "
          f"…/agents (polled every 0.2 s). PRE_DOWNLOAD does not run on a first deploy. Later deploys measure "
          f"rollout width (PROTOCOL §5.5).")


if __name__ == "__main__":
    main()
