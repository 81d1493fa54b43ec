# SPDX-License-Identifier: Apache-2.0
# tests/integration/agent/test_agent_e2e.py: a real slipway-agent against a real slipway-server (test database):
# publish a file:// build, deploy it to a host group, and watch the agent walk every stage to SERVING_BUILD.
import os
import signal
import sys
import time

import requests

sys.path.insert(0, os.path.dirname(__file__))
from agent_support import wait_for  # noqa: E402
from test_agent_deploy import make_tarball  # noqa: E402


def test_deploy_through_real_server(real_server, make_agent, tmp_path):
    url, token = real_server.url, real_server.token
    h = {"Authorization": "token " + token}

    def call(method, path, **kw):
        return requests.request(method, url + path, headers=h, timeout=10, **kw)

    seen = tmp_path / "seen.log"
    art = tmp_path / "web.tar.gz"
    sha = make_tarball(art, seen, "v1")
    r = call("POST", "/v1/envs", json={"envName": "web", "stageName": "prod"})
    assert r.status_code == 201, r.text
    assert call("PUT", "/v1/envs/web/prod/capacity?capacityType=GROUP", json=["web-prod"]).status_code == 204
    r = call("POST", "/v1/builds", json={"name": "web", "repo": "acme/web", "branch": "main",
                                         "commit": "4be1f0c93d0011aa", "artifactUrl": "file://" + str(art),
                                         "type": "Github", "artifactSha256": sha})
    assert r.status_code == 201, r.text
    build = r.json()
    r = call("POST", "/v1/envs/web/prod/deploys?buildId=" + build["id"])
    assert r.status_code in (200, 201), r.text

    agent = make_agent(url, token=token, long_poll="true", long_poll_wait=2)
    p = agent.start()
    wait_for(lambda: (agent.state_dir / "state.json").exists()
             and agent.state()["envs"].get("web", {}).get("deployStage") == "SERVING_BUILD"
             and agent.state()["envs"]["web"].get("status") == "SUCCEEDED", timeout=60, what="SERVING_BUILD")
    steps = [l.split()[0] for l in seen.read_text().splitlines() if l.startswith("step=")]
    assert steps == ["step=" + s for s in ["PRE_RESTART", "RESTARTING", "POST_RESTART", "SERVING_BUILD"]]
    assert os.readlink(agent.target_dir / "web") == str(agent.builds_dir / "web" / build["id"])
    # the server sees the host serving the build
    wait_for(lambda: any(a.get("deployStage") == "SERVING_BUILD" and a.get("status") == "SUCCEEDED"
                         for a in call("GET", "/v1/envs/web/prod/agents").json()), timeout=20,
             what="server-side agent row")
    p.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    assert p.wait(timeout=15) == 0
    assert time.monotonic() - t0 < 5  # a held long-poll is abandoned at once
