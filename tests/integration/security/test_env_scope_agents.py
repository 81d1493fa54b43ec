# SPDX-License-Identifier: Apache-2.0
# The cross-env capacity claim with two real slipway-agent processes: team A's env owns host-a (through
# its group), team B's env ADMIN cannot take host-a into B's capacity, and B's deploy runs B's scripts
# on B's host only. The SYSTEM ADMIN may still put a host into two envs.
import io
import os
import sys
import tarfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fleet"))
from fleet_support import Agent, Server, wait_for  # noqa: E402

# every step leaves a marker naming the env whose script ran, in the agent's own directory
MARK = '#!/bin/sh\nset -eu\necho "$DEPLOY_ID" >>"$FLEET_ROOT/ran-$ENV_NAME"\n'


def make_app(path):
    with tarfile.open(path, "w:gz") as tar:
        for name, body in (("teletraan/RESTARTING", MARK), ("VERSION", "1\n")):
            data = body.encode()
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o755, 0
            tar.addfile(ti, io.BytesIO(data))
    return str(path)


def test_cross_env_claim_with_real_agents(tmp_path):
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    s = Server(tmp_path / "server")
    agents = []
    try:
        agents.append(Agent(tmp_path / "host-a", "host-a", s, artifacts, extra_conf="groups = team-a-hosts\n"))
        agents.append(Agent(tmp_path / "host-b", "host-b", s, artifacts, extra_conf="groups = team-b-hosts\n"))
        a, b = agents
        for env in ("teama", "teamb"):
            s.ok("POST", "/v1/envs", {"envName": env, "stageName": "prod", "buildName": "app"})
        s.ok("POST", "/v1/envs/teama/prod/capacity", "team-a-hosts")
        b_admin = s.ok("POST", "/v1/envs/teamb/token_roles", {"name": "b-admin", "role": "ADMIN"})["token"]
        s.token, sys_token = b_admin, s.token   # from here on, calls are team B's ADMIN's
        s.ok("POST", "/v1/envs/teamb/prod/capacity", "team-b-hosts")   # unclaimed: B's ADMIN claims it
        # host-a has pinged in, so the server knows it is in team A's group
        wait_for(lambda: s.api("GET", "/v1/hosts/host-a")[1], what="host-a known")
        for kind, name in (("GROUP", "team-a-hosts"), ("HOST", "host-a")):
            status, body = s.api("POST", "/v1/envs/teamb/prod/capacity", name, params={"capacityType": kind})
            assert status == 403, body
            assert "'teama'" in body["message"] and name in body["message"], body
        status, body = s.api("PUT", "/v1/envs/teamb/prod/capacity", ["host-b", "host-a"],
                             params={"capacityType": "HOST"})
        assert status == 403, body
        assert s.ok("GET", "/v1/envs/teamb/prod/capacity", params={"capacityType": "HOST"}) == []
        assert s.ok("GET", "/v1/envs/teamb/prod/capacity") == ["team-b-hosts"]
        # both envs deploy the same build; each one's script runs on its own host only
        build = s.ok("POST", "/v1/builds", {"name": "app", "repo": "acme/app", "branch": "main", "commit": "abc1234",
                                            "artifactUrl": "file://" + make_app(artifacts / "app.tar.gz")})
        s.token = sys_token
        da = s.ok("POST", "/v1/envs/teama/prod/deploys", params={"buildId": build["id"]})["id"]
        s.token = b_admin
        db = s.ok("POST", "/v1/envs/teamb/prod/deploys", params={"buildId": build["id"]})["id"]
        for host, env, deploy in ((a, "teama", da), (b, "teamb", db)):
            marker = host.root / f"ran-{env}"
            wait_for(lambda: marker.exists() and deploy in marker.read_text(), timeout=90,
                     what=f"{env}'s script on {host.name}")
        wait_for(lambda: s.api("GET", f"/v1/deploys/{db}")[1].get("state") in ("SUCCEEDING", "SUCCEEDED"),
                 timeout=60, what="team B's deploy done")
        assert not (a.root / "ran-teamb").exists()
        assert not (b.root / "ran-teama").exists()
        assert [r["hostName"] for r in s.ok("GET", "/v1/envs/teamb/prod/agents")] == ["host-b"]
        # the SYSTEM ADMIN may put team A's group into team B's capacity
        s.token = sys_token
        s.ok("POST", "/v1/envs/teamb/prod/capacity", "team-a-hosts")
        assert sorted(s.ok("GET", "/v1/envs/teamb/prod/capacity")) == ["team-a-hosts", "team-b-hosts"]
    finally:
        for ag in agents:
            ag.stop()
        s.stop()
