# SPDX-License-Identifier: Apache-2.0
# Fixtures for the `slipway` CLI tests: a real slipway-server on 127.0.0.1:0 on the test database
# (tests/integration/dbtarget.py), and a runner for the CLI binary with a private HOME (no user config leaks in).
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # fakehost.py
from serverproc import BUILD_DIR as BUILD, REPO, SERVER_BIN, ServerProcess, api_call  # noqa: E402,F401

CLI_BIN = os.path.join(BUILD, "src", "cli", "slipway")


class Server(ServerProcess):
    def __init__(self, workdir, *settings):
        super().__init__(workdir)
        self.settings = list(settings)
        self.start()

    def args(self, extra=()):
        return super().args(self.settings + list(extra))

    def api(self, method, path, body=None, token=None):
        """Direct HTTP call (for setup and for checking what the CLI did): (status, json or None)."""
        status, doc, _ = api_call(self.url + path, method, token or self.token, body)
        return status, doc



def need_binaries():
    for b in (SERVER_BIN, CLI_BIN):
        if not os.access(b, os.X_OK):
            pytest.skip(f"{b} is not built")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    need_binaries()
    s = Server(tmp_path_factory.mktemp("server"))
    yield s
    s.stop()


@pytest.fixture
def make_server(tmp_path):
    """Start an extra server with settings, e.g. make_server("--set", "artifact_url_allow=^https://ok/")."""
    need_binaries()
    started = []

    def make(*settings):
        s = Server(tmp_path / f"server{len(started)}", *settings)
        started.append(s)
        return s
    yield make
    for s in started:
        s.stop()


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def cli(server, home):
    """cli(*args, server=..., token=..., env=..., timeout=...) → CompletedProcess (text)."""
    def run(*args, srv=None, token="default", extra_env=None, timeout=60, use_env=True):
        srv = srv or server
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LC_ALL": "C.UTF-8"}
        if use_env:
            env["SLIPWAY_SERVER"] = srv.url
            if token == "default":
                env["SLIPWAY_TOKEN"] = srv.token
            elif token is not None:
                env["SLIPWAY_TOKEN"] = token
        env.update(extra_env or {})
        return subprocess.run([CLI_BIN, *args], env=env, capture_output=True, text=True, timeout=timeout)
    return run


@pytest.fixture
def cli_bg(server, home):
    """cli_bg(*args) → a running Popen of the CLI (stdout/stderr pipes, text); killed at teardown."""
    procs = []

    def start(*args, srv=None):
        srv = srv or server
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LC_ALL": "C.UTF-8",
               "SLIPWAY_SERVER": srv.url, "SLIPWAY_TOKEN": srv.token}
        p = subprocess.Popen([CLI_BIN, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(p)
        return p
    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.communicate()


@pytest.fixture
def names(request):
    """Unique env names per test (the module's server is shared)."""
    counter = [0]

    def make(prefix="e"):
        counter[0] += 1
        base = request.node.name.replace("test_", "").replace("[", "-").replace("]", "")
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in base)[:40]
        return f"{prefix}-{safe}-{counter[0]}"
    return make


@pytest.fixture
def require_endpoint():
    return _require_endpoint


def _require_endpoint(server, method, path):
    """Skip the test when the server under test does not route method+path at all (it answers
    'no such endpoint' / 'not allowed on'), so a missing server feature shows as a skip, not a pass."""
    status, body = server.api(method, path, body=[] if method in ("PUT", "POST") else None)
    msg = (body or {}).get("message", "") if isinstance(body, dict) else ""
    if (status == 404 and msg.startswith("no such endpoint")) or (status == 405 and "not allowed on" in msg):
        pytest.skip(f"the server does not provide {method} {path} yet")
