# SPDX-License-Identifier: Apache-2.0
# tests/integration/agent/test_agent_hello.py: the examples/hello app deployed by a real agent (fake ping server):
# the full walk starts the app, which keeps running after the agent exits; the STOP flow stops it.
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from agent_support import Walk  # noqa: E402
from test_agent_deploy import FULL, build_record  # noqa: E402

PACK = os.path.join(os.path.dirname(__file__), "../../../examples/hello/pack.sh")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
        return r.status, r.read().decode()


def test_hello_deploy_and_stop(server, make_agent, tmp_path):
    art = tmp_path / "hello.tar.gz"
    out = subprocess.run(["sh", PACK, "--commit", "4be1f0c93dabc", str(art)], capture_output=True, text=True,
                         check=True).stdout
    sha = dict(l.split("=", 1) for l in out.split())["sha256"]
    port = free_port()
    agent = make_agent(server.url)
    run_dir = agent.target_dir / "hello.run"
    b = build_record("HelloBuildAAAAAAAAAA_4be1f0c", art, sha, "4be1f0c93dabc")
    server.decide = Walk(env="hello", stages=FULL, build=b, script_variables={"PORT": str(port), "GREETING": "hi"})
    try:
        r = agent.once(timeout=120)
        assert r.returncode == 0, r.stderr
        e = agent.state()["envs"]["hello"]
        assert (e["deployStage"], e["status"]) == ("SERVING_BUILD", "SUCCEEDED"), (e, r.stderr)
        # the daemon started by RESTARTING outlives the agent (own session, not in the step's process group)
        status, body = get(port, "/health")
        assert status == 200 and body.strip() == "ok"
        status, body = get(port, "/info")
        info = json.loads(body)
        assert info["buildId"] == b["id"] and info["greeting"] == "hi" and info["env"] == "hello"
        assert (run_dir / "serving").exists()

        def stop(req):
            rep = (req["reports"] or [None])[0]
            if rep and rep["deployStage"] == "SERVING_BUILD":
                return Walk(env="hello", op_code="STOP").goal("STOPPING")
            if rep and rep["deployStage"] == "STOPPING" and rep["agentStatus"] == "SUCCEEDED":
                return Walk(env="hello").goal("STOPPED")
            return None

        server.decide = stop
        r = agent.once(timeout=120)
        assert r.returncode == 0, r.stderr
        e = agent.state()["envs"]["hello"]
        assert (e["deployStage"], e["status"]) == ("STOPPED", "SUCCEEDED")
        try:
            get(port, "/health")
            raise AssertionError("the app still answers after STOPPING")
        except OSError:
            pass
    finally:
        pidfile = run_dir / "hello.pid"
        if pidfile.exists():
            try:
                os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
            except (OSError, ValueError):
                pass
