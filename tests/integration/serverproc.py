# SPDX-License-Identifier: Apache-2.0
# One slipway-server process for the integration tests: started on loopback with the test database of
# dbtarget.py (SQLite file or a PostgreSQL database), the bound address read from port_file, the
# admin token from the database's token file. The per-directory support modules (server/srv_support.py,
# ping/ping_support.py, fleet/fleet_support.py, …) subclass it for their argument style and helpers.
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dbtarget  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.environ.get("SLIPWAY_BUILD_DIR", os.path.join(REPO, "build"))
SERVER_BIN = os.path.join(BUILD_DIR, "src", "server", "slipway-server")


def api_call(url, method, token, body=None, timeout=20):
    """One JSON API call: (status, parsed JSON body or None, raw body bytes); HTTP errors are returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", "token " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, (json.loads(raw) if raw else None), raw
    except ValueError:
        return status, None, raw


class ServerProcess:
    """A restartable slipway-server in `workdir` on database `db` (default: the directory's own)."""

    start_timeout = 20
    log_name = "server.log"

    def __init__(self, workdir, db=None, listen="127.0.0.1:0"):
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db = db if db is not None else dbtarget.for_dir(self.dir)
        self.port_file = self.dir / "port"
        self.listen = listen
        self.proc = None
        self.log = None
        self.url = None
        self.token = None

    def base_args(self):
        return [SERVER_BIN, "--listen", self.listen] + self.db.server_args()

    def args(self, extra=()):
        """The full command line; subclasses add their settings."""
        return self.base_args() + ["--set", "port_file=%s" % self.port_file] + list(extra)

    def start(self, extra=None):
        if self.port_file.exists():
            self.port_file.unlink()
        self.log = open(self.dir / self.log_name, "ab")
        self.proc = subprocess.Popen(self.args(list(extra or [])), stdout=self.log, stderr=self.log)
        deadline = time.time() + self.start_timeout
        while time.time() < deadline:
            if self.port_file.exists() and self.port_file.read_text().strip():
                break
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                self.log.close()
                raise RuntimeError("server exited with %d: %s" % (rc, self.logtext()))
            time.sleep(0.02)
        else:
            raise RuntimeError("server did not start: %s" % self.logtext())
        self.url = "http://" + self.port_file.read_text().strip()
        self.token = self.db.token_file.read_text().strip()
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def logtext(self):
        try:
            return (self.dir / self.log_name).read_text()[-4000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Stop with sig (SIGKILL: kill -9); returns the exit status (None if not running)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        self.log.close()
        return rc


def factory(make_server, clean_exit=False, start=False):
    """Body of a `server_factory` fixture (use with `yield from`): yields make(*args) -> a new server
    (started when start=True); at teardown stops every server it made. clean_exit: a running server
    must stop on SIGTERM with status 0 (under ASan this also catches leaks); otherwise SIGKILL."""
    started = []

    def make(*args, **kw):
        s = make_server(*args, **kw)
        started.append(s)
        return s.start() if start else s

    yield make
    bad = []
    for s in started:
        if clean_exit and s.running():
            rc = s.stop(signal.SIGTERM, timeout=10)
            if rc != 0:
                bad.append((rc, s.logtext()[-2000:]))
        else:
            s.stop(signal.SIGKILL)
    assert not bad, bad
