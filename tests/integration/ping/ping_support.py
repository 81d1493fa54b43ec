# SPDX-License-Identifier: Apache-2.0
# Helpers for the ping-path tests: a real slipway-server on 127.0.0.1:0 on the test database (dbtarget.py),
# REST helpers, and simulated hosts that ping like an agent that finishes one stage per ping.
import contextlib
import os
import sys
import threading
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from serverproc import BUILD_DIR, SERVER_BIN, ServerProcess  # noqa: E402,F401
import dbtarget  # noqa: E402

DEPLOY_PATH = ["PRE_DOWNLOAD", "DOWNLOADING", "POST_DOWNLOAD", "STAGING", "PRE_RESTART", "RESTARTING",
               "POST_RESTART", "SERVING_BUILD"]
IN_FLIGHT = set(DEPLOY_PATH[:-1])


class Server(ServerProcess):
    """extra: "key=value" settings that override the fast worker periods below."""

    def __init__(self, tmp_path, extra=None, name="srv", db=None):
        super().__init__(tmp_path / name, db)
        self.extra = list(extra or [])
        self.session = requests.Session()

    def args(self, extra=()):
        settings = {"port_file": str(self.port_file), "log_level": "warn", "heartbeat_flush_period": "1",
                    "event_poll_period": "0.1", "transition_period": "1"}
        for kv in self.extra + list(extra):  # "key=value" entries override the defaults above
            k, v = kv.split("=", 1)
            settings[k] = v
        return self.base_args() + ["--set"] + ["%s=%s" % kv for kv in settings.items()]

    def req(self, method, path, timeout=10, **kw):
        headers = kw.pop("headers", {})
        headers["Authorization"] = "token " + self.token
        return requests.request(method, self.url + path, headers=headers, timeout=timeout, **kw)

    def ok(self, method, path, code=None, **kw):
        r = self.req(method, path, **kw)
        if code is None:
            assert 200 <= r.status_code < 300, "%s %s -> %d %s" % (method, path, r.status_code, r.text)
        else:
            assert r.status_code == code, "%s %s -> %d %s" % (method, path, r.status_code, r.text)
        return r.json() if r.content else None

    # ---- domain helpers ----
    def make_env(self, env="web", stage="prod", **fields):
        body = {"envName": env, "stageName": stage}
        body.update(fields)
        return self.ok("POST", "/v1/envs", json=body)

    def update_env(self, env, stage, **fields):
        self.ok("PUT", "/v1/envs/%s/%s" % (env, stage), json=fields)

    def set_groups(self, env, stage, groups):
        self.ok("PUT", "/v1/envs/%s/%s/capacity" % (env, stage), params={"capacityType": "GROUP"}, json=groups)

    def set_hosts(self, env, stage, hosts):
        self.ok("PUT", "/v1/envs/%s/%s/capacity" % (env, stage), params={"capacityType": "HOST"}, json=hosts)

    def publish(self, name="web", commit="4be1f0c93d0011aa", **over):
        body = {"name": name, "repo": "acme/web", "branch": "main", "commit": commit,
                "artifactUrl": "https://art.example/web/%s.tar.gz" % commit[:7], "type": "Github"}
        body.update(over)
        return self.ok("POST", "/v1/builds", json=body)

    def deploy(self, env, stage, build_id):
        return self.ok("POST", "/v1/envs/%s/%s/deploys" % (env, stage), params={"buildId": build_id})

    def action(self, env, stage, action, **params):
        params["actionType"] = action
        return self.ok("POST", "/v1/envs/%s/%s/deploys/current/actions" % (env, stage), params=params)

    def current(self, env, stage):
        return self.ok("GET", "/v1/envs/%s/%s/deploys/current" % (env, stage))

    def progress(self, env, stage):
        return self.ok("PUT", "/v1/envs/%s/%s/deploys/current/progress" % (env, stage))

    def agents(self, env, stage):
        return self.ok("GET", "/v1/envs/%s/%s/agents" % (env, stage))

    def agents_by_host(self, env, stage):
        return {a["hostId"]: a for a in self.agents(env, stage)}


class Host:
    """A simulated agent: it runs the stage of every goal at once and reports the result on its next ping."""

    def __init__(self, server, host_id, groups=None, host_name=None, zone=None, tags=None):
        self.server = server
        self.host_id = host_id
        self.host_name = host_name or host_id
        self.groups = groups or []
        self.zone = zone           # availabilityZone, sent when set
        self.tags = tags or {}     # ec2Tags, sent when not empty
        self.reports = {}          # envId -> report
        self.fail = {}             # (envId or None, stage) -> agentStatus to report instead of SUCCEEDED
        self.fail_once = False     # forget a failure once it has been reported
        self.last = None
        self.goals = []
        self.session = requests.Session()

    def body(self):
        b = {"hostId": self.host_id, "hostName": self.host_name, "hostIp": "10.0.0.1",
             "groups": self.groups, "agentVersion": "sim/1", "reports": list(self.reports.values())}
        if self.zone:
            b["availabilityZone"] = self.zone
        if self.tags:
            b["ec2Tags"] = self.tags
        return b

    def ping(self, wait=None, timeout=10, apply=True):
        params = {"wait": wait} if wait is not None else None
        r = self.session.post(self.server.url + "/v1/system/ping", params=params, json=self.body(),
                              headers={"Authorization": "token " + self.server.token}, timeout=timeout)
        assert r.status_code == 200, r.text
        resp = r.json()
        self.last = resp
        if apply:
            self.apply(resp)
        return resp

    def apply(self, resp):
        op, goal = resp["opCode"], resp["deployGoal"]
        if op == "NOOP":
            assert goal is None
            return
        self.goals.append(resp)
        env_id = goal["envId"]
        if op == "DELETE":
            self.reports.pop(env_id, None)
            return
        stage = goal["deployStage"]
        status = self.fail.get((env_id, stage), self.fail.get((None, stage), "SUCCEEDED"))
        if status != "SUCCEEDED" and self.fail_once:
            self.fail.pop((env_id, stage), None)
            self.fail.pop((None, stage), None)
        self.reports[env_id] = {"envId": env_id, "deployId": goal["deployId"], "deployAlias": goal["deployAlias"],
                                "deployStage": stage, "agentStatus": status,
                                "errorCode": 0 if status == "SUCCEEDED" else 1,
                                "errorMessage": None if status == "SUCCEEDED" else "boom at " + stage,
                                "failCount": 0 if status == "SUCCEEDED" else 1}

    def stage_of(self, env_id):
        rep = self.reports.get(env_id)
        return (rep["deployId"], rep["deployStage"], rep["agentStatus"]) if rep else None


def ping_round(hosts, parallel=False):
    if not parallel:
        return [h.ping() for h in hosts]
    out = [None] * len(hosts)

    def run(i):
        out[i] = hosts[i].ping()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(hosts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def converge(hosts, env_id, deploy_id, max_rounds=60, watch=None):
    """Ping rounds until every host reports SERVING_BUILD SUCCEEDED of deploy_id; watch(hosts) after each ping."""
    for _ in range(max_rounds):
        for h in hosts:
            h.ping()
            if watch:
                watch(hosts)
        if all(h.stage_of(env_id) == (deploy_id, "SERVING_BUILD", "SUCCEEDED") for h in hosts):
            # one more ping each so the server records SERVING_BUILD (the idle state)
            for h in hosts:
                h.ping()
            return True
    return False


def deploying(hosts, env_id, deploy_id):
    """Hosts part-way through deploy_id (got a goal of it and have not finished SERVING_BUILD)."""
    n = 0
    for h in hosts:
        s = h.stage_of(env_id)
        if s and s[0] == deploy_id and (s[1] in IN_FLIGHT or (s[1] == "SERVING_BUILD" and s[2] != "SUCCEEDED")):
            n += 1
        elif s and s[0] == deploy_id and s[1] == "SERVING_BUILD":
            pass
    return n


def metric(server, name):
    """The value of an unlabelled metric in the server's /metrics; a missing one fails the test."""
    for line in server.req("GET", "/metrics").text.splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    raise AssertionError("no %s in /metrics" % name)


def wait_for(cond, timeout=10, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()


def in_flight(hosts, env_id, deploy_id):
    """zone -> hosts part-way through deploy_id"""
    out = {}
    for h in hosts:
        s = h.stage_of(env_id)
        if s and s[0] == deploy_id and (s[1] in IN_FLIGHT or (s[1] == "SERVING_BUILD" and s[2] != "SUCCEEDED")):
            out[h.zone] = out.get(h.zone, 0) + 1
    return out


# ---- two replicas on one PostgreSQL database ----

LISTENER = "slipway-listener:%d"  # the application_name of a replica's wake listener (its pid)


def replica_pair(tmp_path):
    """The body of a fixture: replicas a and b on one PostgreSQL database, yielded as (a, b) and killed after;
    skipped on SQLite (one server per SQLite file)."""
    import pytest
    import signal
    if not dbtarget.is_pg():
        pytest.skip("replicas share a PostgreSQL database only (SLIPWAY_TEST_DB_BACKEND=pg)")
    a = Server(tmp_path, name="a")
    b = Server(tmp_path, name="b", db=a.db)
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        for s in (b, a):
            s.stop(signal.SIGKILL)


def listener_pid(server, timeout=10):
    """The backend pid of server's listening connection (its application_name carries the server's pid)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            rows = server.db.query("SELECT pid FROM pg_stat_activity WHERE application_name = ?",
                                   (LISTENER % server.proc.pid,))
        except Exception:  # PostgreSQL restarting
            rows = []
        if rows:
            return rows[0][0]
        time.sleep(0.05)
    raise AssertionError("no listener of pid %d in pg_stat_activity" % server.proc.pid)


@contextlib.contextmanager
def listener_stalled(server):
    """server's listening backend stopped (SIGSTOP) for the with block: neither notifications nor answers to its
    probes reach the server, though its connection looks alive. Skips the test when the backend is not ours."""
    import pytest
    import signal
    pid = listener_pid(server)
    try:
        os.kill(pid, signal.SIGSTOP)
    except PermissionError:
        pytest.skip("cannot stop PostgreSQL's backend process (another user)")
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)
