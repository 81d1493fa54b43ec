# SPDX-License-Identifier: Apache-2.0
# tests/integration/agent/agent_support.py: a scripted fake ping server (http.server on 127.0.0.1:0) and
# helpers to run a real slipway-agent against it with all of its directories under tmp_path.
import json
import os
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


BUILD_DIR = os.environ.get("SLIPWAY_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../../build"))
AGENT_BIN = os.path.join(BUILD_DIR, "src/agent/slipway-agent")

ENV_ID = "EnvIdAAAAAAAAAAAAAAAAA"
DEPLOY_ID = "DeployIdBBBBBBBBBBBBBBB"

SCRIPT_STAGES = ["PRE_RESTART", "RESTARTING", "POST_RESTART", "SERVING_BUILD"]


def wait_for(cond, timeout=20.0, interval=0.05, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)


class Walk:
    """A minimal server-side engine for one env: hands out `stages` in order, re-sends a stage the agent
    reports as UNKNOWN (still running / re-run after a crash), stops at a fatal status."""

    def __init__(self, env="web", stages=None, env_id=ENV_ID, deploy_id=DEPLOY_ID, op_code="DEPLOY",
                 script_variables=None, agent_configs=None, build=None, first_deploy=True):
        self.env = env
        self.stages = list(stages or SCRIPT_STAGES)
        self.env_id = env_id
        self.deploy_id = deploy_id
        self.op_code = op_code
        self.script_variables = script_variables if script_variables is not None else {"PORT": "8080"}
        self.agent_configs = agent_configs
        self.build = build
        self.first_deploy = first_deploy
        self.done = False

    def goal(self, stage):
        return {
            "opCode": self.op_code,
            "deployGoal": {
                "deployId": self.deploy_id, "deployAlias": None, "deployType": "REGULAR",
                "envId": self.env_id, "envName": self.env, "stageName": "prod", "stageType": "DEFAULT",
                "deployStage": stage,
                "build": self.build if stage == "DOWNLOADING" else None,
                "scriptVariables": self.script_variables if stage == self.stages[0] else None,
                "agentConfigs": self.agent_configs,
                "firstDeploy": self.first_deploy, "isDocker": False, "signingKey": None,
            },
        }

    def __call__(self, req):
        rep = next((r for r in req.get("reports", []) if r.get("envId") == self.env_id), None)
        if rep is None or (rep.get("deployId") != self.deploy_id and not self.done):
            return None if self.done else self.goal(self.stages[0])
        stage, status = rep["deployStage"], rep["agentStatus"]
        if stage not in self.stages:
            return None
        if status == "SUCCEEDED":
            i = self.stages.index(stage)
            if i + 1 < len(self.stages):
                return self.goal(self.stages[i + 1])
            self.done = True
            return None
        if status in ("UNKNOWN", "SCRIPT_FAILED"):
            return self.goal(stage)
        return None  # fatal: parked


class FakeServer:
    def __init__(self, tls=None):
        self.requests = []  # (path, headers, json)
        self.decide = lambda req: None
        self.fail_status = None  # e.g. 503 while "down"
        self.retry_after = None  # sent as Retry-After with fail_status
        self.times = []  # time.monotonic() of each request, in the order of requests
        self.hold = False  # honour ?wait=N by holding a NOOP answer for N seconds
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                try:
                    req = json.loads(body)
                except ValueError:
                    req = None
                with server.lock:
                    server.requests.append((self.path, dict(self.headers), req))
                    server.times.append(time.monotonic())
                    retry_after = None
                    if server.fail_status:
                        status, answer = server.fail_status, {"code": server.fail_status, "message": "down"}
                        retry_after = server.retry_after
                    else:
                        status, answer = 200, server.decide(req) or {"opCode": "NOOP", "deployGoal": None}
                if server.hold and "wait=" in self.path and answer.get("opCode") == "NOOP":
                    time.sleep(int(self.path.split("wait=")[1].split("&")[0]))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if retry_after is not None:
                    self.send_header("Retry-After", str(retry_after))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        scheme = "http"
        if tls:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = "%s://127.0.0.1:%d" % (scheme, self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def reports(self):
        with self.lock:
            return [r for (_, _, req) in self.requests if req for r in req.get("reports", [])]

    def bodies(self):
        with self.lock:
            return [req for (_, _, req) in self.requests]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Agent:
    def __init__(self, tmp_path, server_url, **overrides):
        self.tmp = tmp_path
        self.state_dir = tmp_path / "state"
        self.builds_dir = tmp_path / "builds"
        self.log_dir = tmp_path / "logs"
        self.target_dir = tmp_path / "current"
        self.conf = tmp_path / "agent.conf"
        self.procs = []
        cfg = {
            "server_url": server_url,
            "state_dir": str(self.state_dir),
            "builds_dir": str(self.builds_dir),
            "log_dir": str(self.log_dir),
            "target_dir": str(self.target_dir),
            "ping_interval": "1",
            "long_poll": "false",
            "http_timeout": "5",
            "heartbeat_interval": "1",
            "backoff": "1",
            "backoff_max": "1",
            "termination_timeout": "2",
            "host_id": "host-1",
            "host_name": "host-1",
            "host_ip": "127.0.0.1",
            "groups": "web-prod",
            # the tests build their file:// artifacts under tmp_path
            "download_allow_file_dirs": str(tmp_path),
        }
        cfg.update({k: str(v) for k, v in overrides.items()})
        self.write_conf(cfg)
        self.target_dir.mkdir(parents=True, exist_ok=True)

    def write_conf(self, cfg):
        self.conf.write_text("".join("%s = %s\n" % kv for kv in cfg.items()))

    def cmd(self, *args):
        return [AGENT_BIN, "--config", str(self.conf)] + list(args)

    def run(self, *args, timeout=60):
        return subprocess.run(self.cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout)

    def once(self, timeout=60):
        return self.run("--once", "--no-jitter", timeout=timeout)

    def start(self, *args):
        p = subprocess.Popen(self.cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
        self.procs.append(p)
        return p

    def state(self):
        return json.loads((self.state_dir / "state.json").read_text())

    def stop_all(self):
        stop_procs(self.procs)

    def make_build(self, env, build_id, scripts, sub=None):
        """A build tree with teletraan scripts, pointed to by TARGET (what STAGING would leave)."""
        tree = self.builds_dir / env / build_id
        sdir = tree / "teletraan" if sub is None else tree / "teletraan" / sub
        sdir.mkdir(parents=True, exist_ok=True)
        for name, body in scripts.items():
            f = sdir / name
            f.write_text(body)
            f.chmod(0o755)
        link = self.target_dir / env
        if link.is_symlink():
            link.unlink()
        link.symlink_to(tree)
        return tree


def stop_procs(procs):
    """SIGTERM every process still running, SIGKILL after 15 s, close their pipes."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p.stdout:
            p.stdout.close()
        if p.stderr:
            p.stderr.close()


def recorder(log_path, extra=""):
    """A script body that appends its stage and selected environment to log_path."""
    return """#!/bin/sh
{ echo "step=$DEPLOY_STEP env=$ENV_NAME stage=$STAGE_NAME op=$OPCODE type=$DEPLOY_TYPE target=$TARGET \
first=${FIRST_DEPLOY-unset} docker=${IS_DOCKER-unset} compute=$COMPUTE_ENV_TYPE port=$PORT deploy=$DEPLOY_ID \
builds=$BUILDS_DIR pwd=$(pwd)"; } >> %s
%s
""" % (log_path, extra)


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return False
    state = data[data.rindex(")") + 2]
    return state not in ("Z", "X")
