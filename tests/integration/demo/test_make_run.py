# SPDX-License-Identifier: Apache-2.0
# `make run` end to end: scripts/run-demo.sh with DEMO_EXIT_AFTER_READY=1 on free ports and a private var/ starts the
# server and two agents, publishes examples/hello, deploys it to hello/staging, and exits once the app answers.
# A second run on the same var/ must work too (existing envs, build and agent state), and nothing may be left running.
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BUILD = os.environ.get("SLIPWAY_BUILD_DIR", os.path.join(REPO, "build"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def our_processes(var):
    """pids of processes whose command line mentions the private var dir (server, agents, apps)."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{d}/stat") as f:
                if f.read().split(")")[-1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        if str(var).encode() in cmd:
            found.append(int(d))
    return found


@pytest.fixture
def demo(tmp_path):
    for b in ("src/server/slipway-server", "src/agent/slipway-agent"):
        if not os.access(os.path.join(BUILD, b), os.X_OK):
            pytest.skip(f"{b} is not built")
    var = tmp_path / "var"
    ports = {"SLIPWAY_DEMO_PORT": free_port(), "SLIPWAY_DEMO_STAGING_PORT": free_port(),
             "SLIPWAY_DEMO_PROD_PORT": free_port()}
    env = dict(os.environ, DEMO_EXIT_AFTER_READY="1", SLIPWAY_DEMO_VAR=str(var), SLIPWAY_BUILD_DIR=BUILD,
               SLIPWAY_DEMO_TIMEOUT="90", **{k: str(v) for k, v in ports.items()})

    def run():
        return subprocess.run([os.path.join(REPO, "scripts", "run-demo.sh")], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=150)
    yield run, var, ports
    for pid in our_processes(var):
        os.kill(pid, signal.SIGKILL)


def check_run(r, var, ports):
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    with open(var / "demo-ready.json") as f:
        ready = json.load(f)
    # the staging app answered with the deployed build, its commit and the greeting rendered from script variables
    assert ready["appUrl"] == f"http://127.0.0.1:{ports['SLIPWAY_DEMO_STAGING_PORT']}/"
    assert ready["buildId"] in ready["appResponse"]
    assert ready["commit"] in ready["appResponse"]
    assert "Hello from staging from hello" in ready["appResponse"]
    assert "env:    hello/staging" in ready["appResponse"]
    assert f"http://127.0.0.1:{ports['SLIPWAY_DEMO_PORT']}" in r.stdout
    assert "admin.token" in r.stdout
    token = (var / "admin.token").read_text().split()[0]
    assert f"http://127.0.0.1:{ports['SLIPWAY_DEMO_PORT']}/login#token={token}" in r.stdout
    # everything it started is stopped again
    for p in ports.values():
        assert not port_open(p), f"port {p} still open after the demo exited"
    assert our_processes(var) == []
    return ready


def test_make_run_twice(demo):
    run, var, ports = demo
    first = check_run(run(), var, ports)
    assert os.stat(var / "admin.token").st_mode & 0o077 == 0
    second = check_run(run(), var, ports)
    # same content, same build: the second run reuses the published build and deploys it afresh
    assert second["buildId"] == first["buildId"]
    assert second["deployId"] != first["deployId"]


def test_ctrl_c_stops_everything(demo):
    run, var, ports = demo
    env = dict(os.environ, SLIPWAY_DEMO_VAR=str(var), SLIPWAY_BUILD_DIR=BUILD, SLIPWAY_DEMO_TIMEOUT="90",
               **{k: str(v) for k, v in ports.items()})
    env.pop("DEMO_EXIT_AFTER_READY", None)
    log = open(var.parent / "demo.log", "w+")
    # a terminal's shell leaves SIGINT at its default for the commands it starts; a test run started in the
    # background (e.g. by CI, without job control) inherits it ignored, and a script cannot trap a signal that was
    # ignored when it started: give run-demo.sh the terminal's disposition
    p = subprocess.Popen([os.path.join(REPO, "scripts", "run-demo.sh")], cwd=REPO, env=env, stdout=log,
                         stderr=subprocess.STDOUT, start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 120
        while "Press Ctrl-C" not in open(var.parent / "demo.log").read():
            assert p.poll() is None, open(var.parent / "demo.log").read()
            assert time.monotonic() < deadline, "the demo did not become ready"
            time.sleep(0.2)
        assert port_open(ports["SLIPWAY_DEMO_STAGING_PORT"])
        try_next(var, ports)
        # what a terminal does on Ctrl-C: SIGINT to the foreground process group
        os.killpg(p.pid, signal.SIGINT)
        # run-demo.sh gives each agent and the server up to 20 s to stop (an agent lets a running script step
        # finish first), so 60 s can be too short on a loaded machine: wait for its own worst case, and say
        # where the time went if even that is not enough
        try:
            p.wait(timeout=90)
        except subprocess.TimeoutExpired:
            raise AssertionError("Ctrl-C did not stop the demo within 90 s:\n" + open(var.parent / "demo.log").read()
                                 + "".join(f"\n--- {f.name}\n" + f.read_text()[-3000:]
                                           for f in sorted((var / "log").glob("*.log"))))
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    out = open(var.parent / "demo.log").read()
    assert "==> stopped" in out
    for port in ports.values():
        assert not port_open(port), f"port {port} still open after Ctrl-C"
    assert our_processes(var) == []


def try_next(var, ports):
    """The 'Try next' commands the demo prints: promote to prod, a failing bad build, a rollback."""
    cli_env = dict(os.environ, SLIPWAY_SERVER=f"http://127.0.0.1:{ports['SLIPWAY_DEMO_PORT']}",
                   SLIPWAY_TOKEN=(var / "admin.token").read_text().strip())
    cli = os.path.join(BUILD, "src", "cli", "slipway")

    def slipway(*args):
        return subprocess.run([cli, *args], env=cli_env, capture_output=True, text=True, timeout=120)

    def app(port):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=3) as r:
                return r.read().decode()
        except OSError:
            return ""

    r = slipway("status", "hello/staging")
    assert r.returncode == 0 and "SERVING_BUILD 1" in r.stdout, r.stdout + r.stderr
    staging_build = json.load(open(var / "demo-ready.json"))["buildId"]
    r = slipway("promote", "hello/prod", "--from", "staging", "--wait", "--timeout", "60")
    assert r.returncode == 0, r.stdout + r.stderr
    deadline = time.monotonic() + 60
    while "Hello from prod" not in app(ports["SLIPWAY_DEMO_PROD_PORT"]):
        assert time.monotonic() < deadline, "prod did not serve after the promote"
        time.sleep(0.2)
    assert staging_build in app(ports["SLIPWAY_DEMO_PROD_PORT"])

    bad = var / "artifacts" / "hello-bad.tar.gz"
    subprocess.run([os.path.join(REPO, "examples", "hello", "pack.sh"), "--bad", str(bad)], check=True,
                   capture_output=True)
    r = slipway("build", "publish", "--name", "hello", "--repo", "slipway/examples-hello", "--branch", "main",
                "--commit", "bad1", "--artifact-url", f"file://{bad}", "--artifact", str(bad))
    assert r.returncode == 0, r.stderr
    bad_id = r.stdout.strip()
    r = slipway("deploy", "hello/staging", "--build", bad_id, "--wait", "--timeout", "90")
    assert r.returncode == 1, r.stdout + r.stderr  # FAILING
    r = slipway("rollback", "hello/staging", "--wait", "--timeout", "90")
    assert r.returncode == 0, r.stdout + r.stderr
    deadline = time.monotonic() + 60
    while staging_build not in app(ports["SLIPWAY_DEMO_STAGING_PORT"]):
        assert time.monotonic() < deadline, "staging did not serve the good build after the rollback"
        time.sleep(0.2)
