# SPDX-License-Identifier: Apache-2.0
# tests/integration/agent/test_agent_upstream.py: slipway-agent as a drop-in for upstream's deploy-agent: upstream's
# command line (-f FILE -d, -n, -g, --use-host-info, -e, --use-facter), upstream's INI config ([default_config]),
# upstream's host_info (identity, availability-zone, tag.<key> lines sent as ec2Tags) and the import of an upstream
# env_status on the first start; deploys, a rollback and a restart through a real slipway-server.
import json
import os
import signal
import subprocess
import sys

import pytest
import requests

sys.path.insert(0, os.path.dirname(__file__))
from agent_support import AGENT_BIN, stop_procs, wait_for  # noqa: E402
from test_agent_deploy import make_tarball  # noqa: E402

HOST_INFO = ("hostname=web-7\nid=i-0abc7\nip=127.0.0.1\ngroups=web-prod\navailability-zone=us-east-1a\n"
             "tag.team=payments, web\ntag.rack=r12\n")


class UpstreamHost:
    """An upstream-style host: deploy_agent_dir with host_info, an INI config, agents started with -f."""

    def __init__(self, tmp_path, url, token, extra=""):
        self.root = tmp_path / "deployd"
        self.builds_dir, self.log_dir = self.root / "builds", self.root / "logs"
        self.target_dir = self.root / "target"
        for d in (self.root, self.builds_dir, self.log_dir, self.target_dir):
            d.mkdir(parents=True, exist_ok=True)
        (self.root / "host_info").write_text(HOST_INFO)
        self.conf = tmp_path / "agent.conf"
        self.conf.write_text(f"""# upstream deploy-agent configuration
[default_config]
teletraan_service_url = {url}
teletraan_service_version = v1
teletraan_service_token = {token}
deploy_agent_dir = {self.root}
builds_dir = {self.builds_dir}
log_directory = {self.log_dir}
target_default_dir = {self.target_dir}
daemon_sleep_time = 1
max_retry = 2
num_builds_to_retain = 2
log_level = INFO
minion_config_dir = /etc/minion
# Slipway's own keys are read in the same section
download_allow_file_dirs = {tmp_path}
long_poll_wait = 2
heartbeat_interval = 1
tags = tier=front
{extra}""")
        self.conf.chmod(0o600)
        self.procs = []

    def run(self, *args, timeout=60):
        return subprocess.run([AGENT_BIN, "-f", str(self.conf), *args], capture_output=True, text=True,
                              timeout=timeout)

    def start(self, *args):
        log = open(self.root / f"agent-{len(self.procs)}.out", "w")
        p = subprocess.Popen([AGENT_BIN, "-f", str(self.conf), *args], stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
        log.close()
        self.procs.append(p)
        return p

    def output(self, i):
        return (self.root / f"agent-{i}.out").read_text()

    def state(self):
        return json.loads((self.root / "state.json").read_text())

    def stop_all(self):
        stop_procs(self.procs)


@pytest.fixture
def hosts():
    made = []
    yield made
    for h in made:
        h.stop_all()


class Api:
    def __init__(self, srv):
        self.url, self.h = srv.url, {"Authorization": "token " + srv.token}

    def __call__(self, method, path, ok=(200, 201, 204), **kw):
        r = requests.request(method, self.url + path, headers=self.h, timeout=10, **kw)
        assert r.status_code in ok, (method, path, r.status_code, r.text)
        return r.json() if r.text.strip() else None


def publish(api, tmp_path, seen, version):
    art = tmp_path / f"web-{version}.tar.gz"
    sha = make_tarball(art, seen, version)
    return api("POST", "/v1/builds", json={"name": "web", "repo": "acme/web", "branch": "main",
                                           "commit": f"4be1f0c93d00{version}ab", "artifactUrl": "file://" + str(art),
                                           "type": "Github", "artifactSha256": sha})


def host_row(api):
    rows = api("GET", "/v1/envs/web/prod/agents")
    return rows[0] if rows else {}


def serving(api, deploy_id):
    r = host_row(api)
    return r.get("deployId") == deploy_id and r.get("deployStage") == "SERVING_BUILD" and r.get("status") == "SUCCEEDED"


def test_upstream_config_and_command_line_deploy_rollback_restart(real_server, hosts, tmp_path):
    api = Api(real_server)
    seen = tmp_path / "seen.log"
    api("POST", "/v1/envs", json={"envName": "web", "stageName": "prod"})
    api("PUT", "/v1/envs/web/prod/capacity?capacityType=GROUP", json=["web-prod"])
    b1, b2 = publish(api, tmp_path, seen, "v1"), publish(api, tmp_path, seen, "v2")
    host = UpstreamHost(tmp_path, real_server.url, real_server.token)
    hosts.append(host)

    d1 = api("POST", "/v1/envs/web/prod/deploys?buildId=" + b1["id"])
    p = host.start("-d", "--use-host-info", "-e", "prod")
    wait_for(lambda: serving(api, d1["id"]), timeout=60, what="the first deploy")
    # the host is who host_info says, and the target link is where upstream puts it
    row = host_row(api)
    assert (row["hostId"], row["hostName"]) == ("i-0abc7", "web-7")
    assert os.readlink(host.target_dir / "web") == str(host.builds_dir / "web" / b1["id"])
    # its tags (host_info's tag lines, the config's tags, host_info's availability-zone) reached the server
    tags = {(t["hostId"], t["tagName"], t["tagValue"]) for t in api("GET", "/v1/envs/web/prod/host_tags")}
    assert tags == {("i-0abc7", "team", "payments, web"), ("i-0abc7", "rack", "r12"), ("i-0abc7", "tier", "front"),
                    ("i-0abc7", "availabilityZone", "us-east-1a")}

    d2 = api("POST", "/v1/envs/web/prod/deploys?buildId=" + b2["id"])
    wait_for(lambda: serving(api, d2["id"]), timeout=60, what="the second deploy")
    assert os.readlink(host.target_dir / "web") == str(host.builds_dir / "web" / b2["id"])
    assert "version=v2" in seen.read_text().splitlines()[-1]

    rb = api("POST", "/v1/envs/web/prod/deploys/current/actions",
             params={"actionType": "ROLLBACK", "toDeployId": d1["id"]})
    wait_for(lambda: serving(api, rb["id"]), timeout=60, what="the rollback")
    assert os.readlink(host.target_dir / "web") == str(host.builds_dir / "web" / b1["id"])
    assert "version=v1" in seen.read_text().splitlines()[-1]

    # a restart resumes serving: nothing runs again
    lines = len(seen.read_text().splitlines())
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=15) == 0
    out = host.output(0)
    assert "-e/--server_stage 'prod' is ignored" in out
    assert "'minion_config_dir' is not used by slipway-agent" in out
    p = host.start("--daemon")
    wait_for(lambda: "starting: host_id=i-0abc7" in host.output(1), timeout=20, what="the restarted agent")
    wait_for(lambda: host.state()["envs"]["web"]["deployId"] == rb["id"], timeout=20, what="state after restart")
    wait_for(lambda: serving(api, rb["id"]), timeout=20, what="the host serving after the restart")
    assert len(seen.read_text().splitlines()) == lines
    assert p.poll() is None  # -d keeps running


def test_host_info_tags_and_zone_are_sent(server, tmp_path):
    host = UpstreamHost(tmp_path, server.url, "t0ken")
    r = host.run("--use-host-info")  # without -d: one pass, as upstream's agent
    assert r.returncode == 0, r.stderr
    body = server.bodies()[-1]
    assert (body["hostId"], body["hostName"], body["groups"]) == ("i-0abc7", "web-7", ["web-prod"])
    assert body["availabilityZone"] == "us-east-1a"
    assert body["ec2Tags"] == {"team": "payments, web", "rack": "r12", "tier": "front"}
    headers = server.requests[-1][1]
    assert headers.get("Authorization") == "token t0ken"


@pytest.mark.parametrize("tags, named", [("bad key=1", "tag key 'bad key'"), ("zone", "tag 'zone' has no '='"),
                                         (",".join(f"k{i}=v" for i in range(33)), "at most 32")])
def test_bad_tags_are_a_config_error(server, tmp_path, tags, named):
    host = UpstreamHost(tmp_path, server.url, "t0ken")
    host.conf.write_text(host.conf.read_text().replace("tags = tier=front", "tags = " + tags))
    r = host.run()
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert named in r.stderr
    assert server.bodies() == []  # nothing was sent


def test_upstream_flags(server, tmp_path):
    host = UpstreamHost(tmp_path, server.url, "t0ken")
    # a bad command line is a usage error (64, EX_USAGE, as the CLI's); a bad configuration stays 2
    r = host.run("--use-facter")
    assert r.returncode == 64 and "--use-facter is not supported" in r.stderr
    r = host.run("--no-such-flag")
    assert r.returncode == 64 and "usage:" in r.stderr
    r = host.run("-d", "--once")
    assert r.returncode == 64
    r = host.run("stray-argument")
    assert r.returncode == 64 and "unexpected argument" in r.stderr
    r = host.run("--log-level", "loud")
    assert r.returncode == 64 and "invalid log level" in r.stderr
    # -n and -g win over host_info, as upstream's --host and --group
    r = host.run("-n", "web-8", "-g", "web-canary,web-prod")
    assert r.returncode == 0, r.stderr
    body = server.bodies()[-1]
    assert (body["hostName"], body["groups"]) == ("web-8", ["web-canary", "web-prod"])
    # --use-host-info needs the file
    (host.root / "host_info").unlink()
    r = host.run("--use-host-info")
    assert r.returncode == 2 and "host_info" in r.stderr


def test_env_status_import_serves_without_running_scripts(real_server, hosts, tmp_path):
    api = Api(real_server)
    seen = tmp_path / "seen.log"
    env = api("POST", "/v1/envs", json={"envName": "web", "stageName": "prod"})
    api("PUT", "/v1/envs/web/prod/capacity?capacityType=GROUP", json=["web-prod"])
    b1 = publish(api, tmp_path, seen, "v1")
    d1 = api("POST", "/v1/envs/web/prod/deploys?buildId=" + b1["id"])
    host = UpstreamHost(tmp_path, real_server.url, real_server.token)
    hosts.append(host)
    # what upstream's agent left: the build in place, the target link, its env_status
    build_dir = host.builds_dir / "web" / "web_4be1f0c"
    build_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-xzf", str(tmp_path / "web-v1.tar.gz"), "-C", str(build_dir)], check=True)
    (host.target_dir / "web").symlink_to(build_dir)
    (host.root / "env_status").write_text(json.dumps({"web": {
        "report": {"envId": env["id"], "deployId": d1["id"], "deployStage": "SERVING_BUILD",
                   "status": "SUCCEEDED", "errorCode": 0, "errorMessage": None, "failCount": 0,
                   "envName": "web", "stageName": "prod", "deployAlias": None, "containerHealthStatus": None,
                   "agentState": "NORMAL", "extraInfo": None},
        "build_info": {"build_id": b1["id"], "build_name": "web", "build_commit": b1["commit"],
                       "build_repo": "acme/web", "build_branch": "main", "build_url": b1["artifactUrl"]},
        "runtime_config": {}, "script_variables": {}, "op_code": "NOOP", "first_deploy": False,
        "is_docker": False}}))
    p = host.start("-d")
    wait_for(lambda: serving(api, d1["id"]), timeout=30, what="the imported host serving the deploy")
    assert "imported 1 env(s) from upstream env_status" in host.output(0)
    e = host.state()["envs"]["web"]
    assert (e["deployId"], e["deployStage"], e["status"]) == (d1["id"], "SERVING_BUILD", "SUCCEEDED")
    assert e["build"]["id"] == b1["id"]
    assert e["targetBuildId"] == "web_4be1f0c"
    assert not seen.exists()  # no script ran
    assert os.readlink(host.target_dir / "web") == str(build_dir)  # and nothing was redeployed
    assert p.poll() is None
