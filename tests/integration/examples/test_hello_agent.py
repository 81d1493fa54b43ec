# SPDX-License-Identifier: Apache-2.0
# examples/hello deployed for real: a private slipway-server and one slipway-agent deploy the packed app (download,
# verify, template rendering, scripts), then a deliberately bad build fails POST_RESTART on the host, the deploy
# turns FAILING with the script's message as the host error, and a rollback brings the good build back.
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hello_support import hello_pids, pack, port_open  # noqa: E402
from hello_support import free_port, wait_for  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import dbtarget  # noqa: E402

BUILD = os.environ.get("SLIPWAY_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "..", "build"))
SERVER = os.path.join(BUILD, "src", "server", "slipway-server")
AGENT = os.path.join(BUILD, "src", "agent", "slipway-agent")


class Api:
    def __init__(self, url, token):
        self.url, self.token = url, token

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Authorization": "token " + self.token})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                code, text = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            code, text = e.code, e.read().decode()
        return code, (json.loads(text) if text.strip()[:1] in ("{", "[") else text)

    def ok(self, method, path, body=None):
        code, doc = self.call(method, path, body)
        assert code in (200, 201, 204), f"{method} {path}: {code} {doc}"
        return doc


@pytest.fixture
def fleet(tmp_path):
    for b in (SERVER, AGENT):
        if not os.access(b, os.X_OK):
            pytest.skip(f"{b} is not built")
    procs = []
    port_file = tmp_path / "port"
    db = dbtarget.for_dir(tmp_path, "slipway.db")
    procs.append(subprocess.Popen([SERVER, "--listen", "127.0.0.1:0", "--port-file", str(port_file),
                                   *db.server_args(), "--transition-period", "1"],
                                  stdout=open(tmp_path / "server.log", "w"), stderr=subprocess.STDOUT,
                                  start_new_session=True))
    wait_for(lambda: port_file.exists() and port_file.read_text().strip(), 20, "server port file")
    url = "http://" + port_file.read_text().strip()
    wait_for(lambda: db.token_file.exists(), 20, "admin token")
    token = db.token_file.read_text().strip()
    api = Api(url, token)
    agent_dir = tmp_path / "agent"
    for d in ("state", "builds", "current", "log"):
        (agent_dir / d).mkdir(parents=True)
    conf = agent_dir / "agent.conf"
    conf.write_text(f"server_url = {url}\ntoken = {token}\nhost_name = e2e-host\nhost_id = e2e-host\n"
                    f"state_dir = {agent_dir}/state\nbuilds_dir = {agent_dir}/builds\n"
                    f"target_dir = {agent_dir}/current\nlog_dir = {agent_dir}/log\n"
                    f"download_allow_file_dirs = {tmp_path}/artifacts\n"
                    "max_retry = 2\nbackoff = 1\nbackoff_max = 1\nlong_poll_wait = 5\nheartbeat_interval = 2\n"
                    # after a pass with work the agent polls once more after ping_interval (AGENT.md §5.3)
                    "ping_interval = 2\n")
    conf.chmod(0o600)
    procs.append(subprocess.Popen([AGENT, "--config", str(conf)], stdout=open(tmp_path / "agent.log", "w"),
                                  stderr=subprocess.STDOUT, start_new_session=True,
                                  env=dict(os.environ, HELLO_HOST_NAME="e2e-host")))
    run_dir = str(agent_dir / "current" / "hello.run")
    yield api, tmp_path, agent_dir, procs
    for p in reversed(procs):
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    for pid in hello_pids(run_dir):
        os.kill(pid, signal.SIGKILL)


def publish(api, tmp_path, commit, *flags):
    info = pack(tmp_path / "artifacts" / f"hello-{commit}.tar.gz", "--commit", commit, *flags)
    return api.ok("POST", "/v1/builds", {"name": "hello", "repo": "acme/hello", "branch": "main",
                                          "commit": info["commit"], "artifactUrl": "file://" + info["artifact"],
                                          "artifactSha256": info["sha256"]})["id"]


def app(port, path="/info"):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return json.loads(r.read()) if path == "/info" else r.read().decode()


def test_deploy_bad_build_and_rollback(fleet):
    api, tmp_path, agent_dir, _ = fleet
    port = free_port()
    api.ok("POST", "/v1/envs", {"envName": "hello", "stageName": "staging"})
    api.ok("PUT", "/v1/envs/hello/staging/capacity?capacityType=HOST", ["e2e-host"])
    api.ok("PUT", "/v1/envs/hello/staging/script_configs", {"PORT": str(port), "GREETING": "Hi e2e"})

    good = publish(api, tmp_path, "600d0001")
    good_deploy = api.ok("POST", f"/v1/envs/hello/staging/deploys?buildId={good}")["id"]

    def serving(build_id):
        try:
            return port_open(port) and app(port)["buildId"] == build_id
        except (OSError, ValueError):
            return False
    wait_for(lambda: serving(good), 60, "the good build to serve")
    wait_for(lambda: api.ok("GET", f"/v1/deploys/{good_deploy}")["state"] in ("SUCCEEDING", "SUCCEEDED"), 30,
             "the good deploy to succeed")
    # the template was rendered by the agent from the stage's script variables
    target = agent_dir / "current" / "hello"
    conf = (target / "teletraan" / "config" / "app.conf").read_text()
    assert f"port = {port}\n" in conf and "greeting = Hi e2e\n" in conf
    assert (target / "teletraan_template" / "config" / "app.conf.tmpl").exists()
    assert app(port, "/").startswith("Hi e2e from hello\n")
    good_pid = app(port)["pid"]

    bad = publish(api, tmp_path, "bad00001", "--bad")
    bad_deploy = api.ok("POST", f"/v1/envs/hello/staging/deploys?buildId={bad}")["id"]
    wait_for(lambda: api.ok("GET", f"/v1/deploys/{bad_deploy}")["state"] == "FAILING", 90,
             "the bad deploy to turn FAILING")
    agents = api.ok("GET", "/v1/envs/hello/staging/agents")
    assert [(a["deployStage"], a["status"]) for a in agents] == [("POST_RESTART", "TOO_MANY_RETRY")]
    err = api.ok("GET", "/v1/envs/hello/staging/agents/errors/e2e-host")
    assert "BAD_BUILD marker" in err["errorMessage"]
    # the bad build did start (RESTARTING succeeded): the failure is the health check's verdict
    assert app(port)["buildId"] == bad

    code, doc = api.call("POST", "/v1/envs/hello/staging/deploys/current/actions?actionType=ROLLBACK")
    assert code == 201, doc
    wait_for(lambda: serving(good), 60, "the rollback to serve the good build again")
    assert app(port)["pid"] != good_pid
    # the rolled-back build's process may still be on its way out when the good one answers
    wait_for(lambda: len(hello_pids(str(agent_dir / "current" / "hello.run"))) == 1, 10, "one hello process")


def restart(procs, i, log):
    """Stop procs[i] with SIGTERM the way systemd stops the unit for a package upgrade, start the same command."""
    old = procs[i]
    os.kill(old.pid, signal.SIGTERM)
    assert old.wait(timeout=60) == 0
    procs[i] = subprocess.Popen(old.args, stdout=open(log, "a"), stderr=subprocess.STDOUT, start_new_session=True,
                                env=dict(os.environ, HELLO_HOST_NAME="e2e-host"))


def test_restarts_keep_app_and_data(fleet):
    """What a package upgrade does to a host and the server: the app keeps serving, nothing is lost."""
    api, tmp_path, agent_dir, procs = fleet
    port = free_port()
    api.ok("POST", "/v1/envs", {"envName": "hello", "stageName": "staging"})
    api.ok("PUT", "/v1/envs/hello/staging/capacity?capacityType=HOST", ["e2e-host"])
    api.ok("PUT", "/v1/envs/hello/staging/script_configs", {"PORT": str(port), "GREETING": "Hi"})
    good = publish(api, tmp_path, "600d0002")
    deploy = api.ok("POST", f"/v1/envs/hello/staging/deploys?buildId={good}")["id"]
    wait_for(lambda: api.ok("GET", f"/v1/deploys/{deploy}")["state"] in ("SUCCEEDING", "SUCCEEDED"), 90,
             "the deploy to succeed")
    pid = app(port)["pid"]

    # the agent restarts: the app is not touched, and the new agent process takes the host over as it is
    metrics = agent_dir / "state" / "slipway_agent.prom"

    def metric(name):
        m = re.search(rf"^{name} ([0-9.]+)$", metrics.read_text() if metrics.exists() else "", re.M)
        return float(m.group(1)) if m else 0.0
    restarted = time.time()
    restart(procs, 1, tmp_path / "agent.log")
    assert app(port)["pid"] == pid
    wait_for(lambda: metric("slipway_agent_last_successful_ping_timestamp_seconds") > restarted, 40,
             "the restarted agent to ping")
    assert metric("slipway_agent_download_bytes_total") == 0  # the new process downloaded nothing again
    agents = api.ok("GET", "/v1/envs/hello/staging/agents")
    assert [(a["deployStage"], a["state"]) for a in agents] == [("SERVING_BUILD", "NORMAL")], agents
    assert app(port)["pid"] == pid and app(port)["buildId"] == good

    # the server restarts on the same database: the admin token, the build and the deploy are still there
    port_file = tmp_path / "port"
    port_file.unlink()
    restart(procs, 0, tmp_path / "server.log")
    wait_for(lambda: port_file.exists() and port_file.read_text().strip(), 20, "server port file")
    api2 = Api("http://" + port_file.read_text().strip(), api.token)
    assert api2.ok("GET", "/v1/envs/hello/staging")["deployId"] == deploy
    assert api2.ok("GET", f"/v1/builds/{good}")["commit"].startswith("600d0002")
    assert app(port)["pid"] == pid
