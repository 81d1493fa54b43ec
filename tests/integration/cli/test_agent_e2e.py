# SPDX-License-Identifier: Apache-2.0
# The CLI driving a real deploy end to end: slipway-server + one real slipway-agent + examples/hello.
# Every operator step goes through `slipway`; success must leave the app answering with the build,
# and a bad build must make `deploy --wait` exit 1 (FAILING).
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
AGENT_BIN = os.path.join(BUILD, "src", "agent", "slipway-agent")
PACK = os.path.join(REPO, "examples", "hello", "pack.sh")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes_mentioning(path):
    found = []
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
        if str(path).encode() in cmd or str(path).encode() in env:
            found.append(int(d))
    return found


@pytest.fixture
def agent(server, tmp_path):
    if not os.access(AGENT_BIN, os.X_OK):
        pytest.skip("slipway-agent is not built")
    root = tmp_path / "agent"
    for sub in ("state", "builds", "current", "log", "artifacts"):
        (root / sub).mkdir(parents=True)
    host = "cli-e2e-host"
    conf = root / "agent.conf"
    conf.write_text(f"""server_url = {server.url}
token_file = {server.dir / 'admin.token'}
host_name = {host}
host_id = {host}
state_dir = {root / 'state'}
builds_dir = {root / 'builds'}
target_dir = {root / 'current'}
log_dir = {root / 'log'}
download_allow_file_dirs = {root / 'artifacts'}
ping_interval = 1
long_poll = true
long_poll_wait = 5
heartbeat_interval = 1
termination_timeout = 5
max_retry = 1
backoff = 1
backoff_max = 2
""")
    conf.chmod(0o600)
    log = open(root / "agent.log", "w")
    env = dict(os.environ, HELLO_HOST_NAME=host, SLIPWAY_CLI_E2E=str(root))
    proc = subprocess.Popen([AGENT_BIN, "--config", str(conf)], stdout=log, stderr=subprocess.STDOUT, env=env)
    # wait for the agent's first ping: a host that never pinged is "missing" and does not count in a deploy
    # (PROTOCOL §3.5), and the tests below are about a host that is there but has no agent row yet
    token = (server.dir / "admin.token").read_text().split()[0]
    deadline = time.monotonic() + 60
    while True:
        req = urllib.request.Request(f"{server.url}/v1/hosts/{host}", headers={"Authorization": "token " + token})
        with urllib.request.urlopen(req, timeout=10) as resp:
            if json.loads(resp.read()):
                break
        assert proc.poll() is None, (root / "agent.log").read_text()
        assert time.monotonic() < deadline, "the agent never pinged: " + (root / "agent.log").read_text()[-2000:]
        time.sleep(0.1)
    yield host, root
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
    # the app the deploy scripts started runs in its own session: stop whatever still runs from our dir
    for pid in processes_mentioning(root):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def pack(root, *flags):
    out = root / "artifacts" / f"hello{len(list((root / 'artifacts').iterdir()))}.tar.gz"
    r = subprocess.run([PACK, *flags, str(out)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    info = dict(line.split("=", 1) for line in r.stdout.split())
    return info["artifact"], info["commit"]


def test_deploy_wait_with_real_agent(cli, server, agent, names):
    host, root = agent
    env = names("hello")
    port = free_port()
    assert cli("env", "create", f"{env}/staging", "--build-name", "hello").returncode == 0
    assert cli("env", "capacity", "add", f"{env}/staging", "--host", host).returncode == 0
    r = cli("env", "scripts", "set", f"{env}/staging", f"PORT={port}", "GREETING=hi from the cli test",
            "HEALTH_RETRIES=40")
    assert r.returncode == 0, r.stderr

    artifact, commit = pack(root, "--commit", "c11e2e0001")
    r = cli("build", "publish", "--name", "hello", "--repo", "slipway/hello", "--branch", "main", "--commit", commit,
            "--artifact-url", "file://" + artifact, "--artifact", artifact)
    assert r.returncode == 0, r.stderr
    build = r.stdout.strip()

    r = cli("deploy", f"{env}/staging", "--build", build, "--wait", "--interval", "0.5", "--timeout", "120",
            timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr + (root / "agent.log").read_text()[-3000:]
    print(r.stdout)
    # the host had no agent row when the deploy was created; --wait followed it until it served
    assert "1/1 hosts done" in r.stdout, r.stdout
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
        body = resp.read().decode()
    assert build in body and "hi from the cli test" in body

    r = cli("hosts", f"{env}/staging")
    assert any(ln.startswith(host) and "SERVING_BUILD" in ln for ln in r.stdout.splitlines()), r.stdout

    # a build whose POST_RESTART always fails: the host is parked and the deploy turns FAILING → exit 1
    artifact, commit = pack(root, "--commit", "c11e2e0002", "--bad")
    r = cli("build", "publish", "--name", "hello", "--repo", "slipway/hello", "--branch", "main", "--commit", commit,
            "--artifact-url", "file://" + artifact, "--artifact", artifact)
    assert r.returncode == 0, r.stderr
    bad = r.stdout.strip()
    start = time.monotonic()
    r = cli("deploy", f"{env}/staging", "--build", bad, "--wait", "--interval", "0.5", "--timeout", "150",
            timeout=200)
    assert r.returncode == 1, r.stdout + r.stderr + (root / "agent.log").read_text()[-3000:]
    assert "FAILING" in r.stderr
    assert time.monotonic() - start < 150
