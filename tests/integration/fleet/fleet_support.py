# SPDX-License-Identifier: Apache-2.0
# tests/integration/fleet/fleet_support.py: a real slipway-server (restartable on the same port and database
# of tests/integration/dbtarget.py),
# N real slipway-agent processes on loopback, and a tiny fleet app tarball whose scripts start a python HTTP
# server on a free port per host and env (the port is written to <agent root>/run/<env>/port).
import io
import os
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from serverproc import BUILD_DIR as BUILD, REPO, SERVER_BIN, ServerProcess, api_call  # noqa: E402,F401

AGENT_BIN = os.path.join(BUILD, "src", "agent", "slipway-agent")
PYTHON = "/usr/bin/python3"

SERVER_SETTINGS = ["transition_period=1", "promote_period=1", "janitor_period=1", "heartbeat_flush_period=1",
                   "event_poll_period=0.2"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout=60.0, interval=0.2, what="condition"):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = cond()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Server(ServerProcess):
    """slipway-server on a fixed loopback port (so it can be restarted on the same port and database);
    db: share another server's database (several replicas, PostgreSQL only). Starts at once."""

    def __init__(self, workdir, db=None, settings=()):
        self.port = free_port()
        super().__init__(workdir, db, listen=f"127.0.0.1:{self.port}")
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = list(SERVER_SETTINGS) + list(settings)
        self.starts = 0
        self.start()

    def args(self, extra=()):
        return self.base_args() + ["--set", f"port_file={self.port_file}", *self.settings, *extra]

    def start(self, extra=None):
        deadline = time.monotonic() + 20
        while True:
            self.starts += 1
            self.log_name = f"server{self.starts}.log"
            try:
                return super().start(extra)
            except RuntimeError:
                # the port may still be in TIME_WAIT/bound right after a kill: retry for a while
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def kill9(self):
        self.stop(signal.SIGKILL)

    def api(self, method, path, body=None, params=None):
        url = self.url + path
        if params:
            url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
        status, doc, raw = api_call(url, method, self.token, body)
        if doc is None and status >= 400:
            return status, raw.decode(errors="replace")
        return status, doc

    def ok(self, method, path, body=None, params=None):
        status, out = self.api(method, path, body, params)
        assert 200 <= status < 300, f"{method} {path} -> {status} {out}"
        return out


APP_PY = r'''
import os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
tree, run = sys.argv[1], sys.argv[2]
version = open(os.path.join(tree, "VERSION")).read().strip()
class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        body = ("%s %s\n" % (version, os.environ.get("FLEET_HOST", "?"))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(os.path.join(run, "port.tmp"), "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(os.path.join(run, "port.tmp"), os.path.join(run, "port"))
srv.serve_forever()
'''

# RUN = <agent root>/run/<env>: pid, port, log. FLEET_ROOT and FLEET_HOST come from each agent's environment.
COMMON_SH = '''#!/bin/sh
set -eu
RUN="$FLEET_ROOT/run/$ENV_NAME"
mkdir -p "$RUN"
stop_app() {
	if [ -f "$RUN/pid" ]; then
		pid=$(cat "$RUN/pid")
		kill "$pid" 2>/dev/null || true
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$pid" 2>/dev/null || true
		rm -f "$RUN/pid" "$RUN/port"
	fi
}
'''

SCRIPTS = {
    "RESTARTING": COMMON_SH + '''stop_app
tree=$(readlink -f "$TARGET")
setsid /usr/bin/python3 "$tree/bin/app.py" "$tree" "$RUN" </dev/null >"$RUN/app.log" 2>&1 &
echo $! >"$RUN/pid"
i=0
while [ ! -s "$RUN/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$RUN/port" ]
''',
    "POST_RESTART": COMMON_SH + '''tree=$(readlink -f "$TARGET")
want=$(cat "$tree/VERSION")
got=$(curl -fsS --max-time 5 "http://127.0.0.1:$(cat "$RUN/port")/" | cut -d' ' -f1)
[ "$got" = "$want" ] || { echo "app answers '$got', want '$want'" >&2; exit 1; }
if [ -f "$tree/BAD" ]; then
	case ",${FAIL_HOSTS:-*}," in
	*",$FLEET_HOST,"*|",*,") echo "bad build fails on $FLEET_HOST" >&2; exit 1 ;;
	esac
fi
''',
    "STOPPING": COMMON_SH + "stop_app\n",
    "PRE_DOWNLOAD": COMMON_SH + 'echo "$DEPLOY_ID" >>"$RUN/pre_download"\n',
}


def make_app(path, version, bad=False):
    """Write a fleet app tarball (bin/app.py, teletraan/*, VERSION[, BAD]) to path."""
    files = {"bin/app.py": (APP_PY, 0o755), "VERSION": (version + "\n", 0o644)}
    for name, body in SCRIPTS.items():
        files["teletraan/" + name] = (body, 0o755)
    if bad:
        files["BAD"] = ("fails POST_RESTART on FAIL_HOSTS\n", 0o644)
    with tarfile.open(path, "w:gz") as tar:
        for name in sorted(files):
            body, mode = files[name]
            data = body.encode()
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = mode
            ti.mtime = 0
            tar.addfile(ti, io.BytesIO(data))
    return str(path)


def processes_mentioning(path):
    found = []
    me = str(path).encode()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read()
        except OSError:
            continue
        if me in cmd or me in env:
            found.append(int(d))
    return found


class Agent:
    def __init__(self, root, name, server, artifacts, server_url=None, extra_conf=""):
        self.root = root
        self.name = name
        for sub in ("state", "builds", "current", "log", "run"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self.conf = root / "agent.conf"
        self.conf.write_text(f"""server_url = {server_url or server.url}
token_file = {server.db.token_file}
host_name = {name}
host_id = {name}
host_ip = 127.0.0.1
state_dir = {root / 'state'}
builds_dir = {root / 'builds'}
target_dir = {root / 'current'}
log_dir = {root / 'log'}
download_allow_file_dirs = {artifacts}
ping_interval = 1
long_poll = true
long_poll_wait = 5
http_timeout = 5
heartbeat_interval = 1
termination_timeout = 5
max_retry = 1
backoff = 1
backoff_max = 2
""" + extra_conf)
        self.conf.chmod(0o600)
        self.log = open(root / "agent.log", "w")
        env = dict(os.environ, FLEET_ROOT=str(root), FLEET_HOST=name)
        self.proc = subprocess.Popen([AGENT_BIN, "--config", str(self.conf)], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def app_port(self, env):
        try:
            return int((self.root / "run" / env / "port").read_text())
        except (OSError, ValueError):
            return None

    def app(self, env):
        """What the host's app of env answers (first word: the VERSION), or None."""
        port = self.app_port(env)
        if port is None:
            return None
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=3) as r:
                return r.read().decode().split()[0]
        except OSError:
            return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        for pid in processes_mentioning(self.root):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
