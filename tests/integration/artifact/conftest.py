# SPDX-License-Identifier: Apache-2.0
# Fixtures for the artifact tests: the download helper runner, a local HTTP server with scripted
# routes, archive builders and a moto S3 server. The helper is `slipway-agent --internal-download`
# when the agent binary exists, else the unit-test binary unit-agent-test-download, which calls
# the same download_helper_main() (override with SLIPWAY_DOWNLOAD_HELPER="path [args]").
import hashlib
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.request
import zipfile

import pytest

import sys

sys.path.insert(0, os.path.dirname(__file__))
from artifact_util import free_port, snapshot  # noqa: E402

BUILD_DIR = os.environ.get("SLIPWAY_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../../build"))


def helper_argv():
    override = os.environ.get("SLIPWAY_DOWNLOAD_HELPER")
    if override:
        return override.split()
    agent = os.path.join(BUILD_DIR, "src/agent/slipway-agent")
    if os.access(agent, os.X_OK):
        return [agent, "--internal-download"]
    driver = os.path.join(BUILD_DIR, "tests/unit/unit-agent-test-download")
    if os.access(driver, os.X_OK):
        return [driver, "--internal-download"]
    pytest.fail("no download helper binary; build first (SLIPWAY_BUILD_DIR)")


class Result:
    def __init__(self, code, result, log, tmp):
        self.code, self.result, self.log, self.tmp = code, result, log, tmp

    def __repr__(self):
        return f"Result(code={self.code}, result={self.result}, log={self.log!r})"


@pytest.fixture
def run_helper(tmp_path):
    """run_helper(job) -> Result; the helper's cwd is <tmp_path>/env/.tmp-b1-x, and the test
    fails if anything outside that dir appeared under tmp_path."""
    counter = [0]

    def run(job, timeout=60, expect_clean=True):
        counter[0] += 1
        env_dir = tmp_path / "env"
        env_dir.mkdir(exist_ok=True)
        tmp = env_dir / f".tmp-b1-{counter[0]}"
        tmp.mkdir()
        before = snapshot(str(tmp_path), str(tmp))
        r, w = os.pipe()
        argv = ["bash", "-c", "fd=$1; shift; exec \"$@\" 3>&$fd", "bash", str(w)] + helper_argv()
        p = subprocess.Popen(argv, cwd=tmp, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, pass_fds=(w,))
        os.close(w)
        try:
            log, _ = p.communicate(json.dumps(job).encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            os.close(r)
            raise
        with os.fdopen(r, "rb") as f:
            raw = f.read()
        result = json.loads(raw) if raw else None
        after = snapshot(str(tmp_path), str(tmp))
        if expect_clean:
            assert after - before == set(), f"helper wrote outside its tmp dir: {after - before}"
        return Result(p.returncode, result, log.decode(errors="replace"), tmp)

    return run


class Routes:
    def __init__(self):
        self.routes = {}  # path -> (status, headers dict, body, truncate_to)
        self.hits = []

    def add(self, path, body=b"", status=200, headers=None, truncate_to=None, stall_s=0):
        self.routes[path] = (status, headers or {}, body, truncate_to, stall_s)


@pytest.fixture
def http_server():
    routes = Routes()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            routes.hits.append((self.path, dict(self.headers)))
            path = self.path
            if path not in routes.routes:
                path = path.split("?")[0]
            if path not in routes.routes:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status, headers, body, trunc, stall_s = routes.routes[path]
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body if trunc is None else body[:trunc])
                self.wfile.flush()
                if stall_s:
                    time.sleep(stall_s)
            except (BrokenPipeError, ConnectionResetError):
                pass
            if trunc is not None:
                self.close_connection = True

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    th = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    th.start()
    routes.base = f"http://127.0.0.1:{srv.server_address[1]}"
    routes.port = srv.server_address[1]
    yield routes
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def moto():
    exe = shutil.which("moto_server")
    if not exe:
        if os.environ.get("CI") == "true":
            pytest.fail("moto_server not on PATH (required in CI)")
        pytest.skip("moto_server not on PATH")
    port = free_port()
    p = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                urllib.request.urlopen(base + "/", timeout=1).read()
                break
            except urllib.error.HTTPError:
                break
            except Exception:
                if p.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("moto_server did not start")
                time.sleep(0.1)
        yield base
    finally:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


