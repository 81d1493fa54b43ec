# SPDX-License-Identifier: Apache-2.0
# Helpers for black-box tests of slipway-server: a real process on 127.0.0.1:0 with a temp SQLite
# database; the bound address comes from port_file and the admin token from admin.token.
import os
import signal
import subprocess
import time

import pytest
import requests

BUILD_DIR = os.environ.get("SLIPWAY_BUILD_DIR", os.path.join(os.path.dirname(__file__), "../../../build"))
SERVER_BIN = os.path.join(BUILD_DIR, "src/server/slipway-server")


class Server:
    def __init__(self, tmp_path, extra=None, name="srv"):
        self.dir = tmp_path / name
        self.dir.mkdir(exist_ok=True)
        self.db = self.dir / "s.db"
        self.port_file = self.dir / "port"
        self.extra = list(extra or [])
        self.proc = None
        self.log = None
        self.url = None
        self.token = None

    def start(self, extra=None):
        if self.port_file.exists():
            self.port_file.unlink()
        args = [SERVER_BIN, "--listen", "127.0.0.1:0", "--db", "sqlite:%s" % self.db,
                "--set", "port_file=%s" % self.port_file, "log_level=warn"] + self.extra + list(extra or [])
        self.log = open(self.dir / "server.log", "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.port_file.exists() and self.port_file.read_text().strip():
                break
            if self.proc.poll() is not None:
                raise RuntimeError("server exited with %d: %s" % (self.proc.returncode, self.logtext()))
            time.sleep(0.02)
        else:
            raise RuntimeError("server did not start: %s" % self.logtext())
        self.url = "http://" + self.port_file.read_text().strip()
        self.token = (self.dir / "admin.token").read_text().strip()
        return self

    def logtext(self):
        try:
            return (self.dir / "server.log").read_text()[-4000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        self.log.close()
        return rc

    def headers(self, token=None):
        return {"Authorization": "token " + (token or self.token)}

    def req(self, method, path, token=None, auth=True, **kw):
        headers = kw.pop("headers", {})
        if auth:
            headers.update(self.headers(token))
        return requests.request(method, self.url + path, headers=headers, timeout=10, **kw)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, **kw):
        return self.req("POST", path, **kw)

    def put(self, path, **kw):
        return self.req("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)


def assert_error(resp, code, field=None):
    assert resp.status_code == code, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    if field is not None:
        assert body["field"] == field, body
    return body


BUILD = {"name": "web", "repo": "acme/web", "branch": "main", "commit": "4be1f0c93d0011aa",
         "artifactUrl": "https://art.example/web/4be1f0c.tar.gz", "type": "Github"}


def publish(server, **over):
    body = dict(BUILD)
    body.update(over)
    r = server.post("/v1/builds", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def make_env(server, env="web", stage="prod", **fields):
    body = {"envName": env, "stageName": stage}
    body.update(fields)
    r = server.post("/v1/envs", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def add_agent(server, env_id, host_id, host_name=None, deploy_id=None, stage="SERVING_BUILD", state="NORMAL",
              status="SUCCEEDED", holds_slot=0, removed=0, first_deploy=0, last_seen=None, groups=("g1",)):
    """Insert an agent row (and its heartbeat and host rows) the way the ping path would."""
    import sqlite3
    import time
    now = int(time.time() * 1000)
    host_name = host_name or host_id
    db = sqlite3.connect(str(server.db), timeout=10)
    with db:
        db.execute("INSERT OR REPLACE INTO agents(hostId, hostName, envId, deployId, deployStage, state, status, "
                   "startDate, lastUpdateDate, lastOperator, firstDeploy, holdsSlot, removed) "
                   "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   (host_id, host_name, env_id, deploy_id, stage, state, status, now, now, "system",
                    first_deploy, holds_slot, removed))
        db.execute("INSERT OR IGNORE INTO heartbeats(hostId, hostName, createDate, lastSeen) VALUES(?,?,?,?)",
                   (host_id, host_name, now, last_seen if last_seen is not None else now))
        for g in groups:
            db.execute("INSERT OR IGNORE INTO hosts(hostName, groupName, hostId, createDate, lastUpdateDate, state) "
                       "VALUES(?,?,?,?,?,'ACTIVE')", (host_name, g, host_id, now, now))
    db.close()


def db_query(server, sql, args=()):
    import sqlite3
    db = sqlite3.connect(str(server.db), timeout=10)
    try:
        with db:
            return db.execute(sql, args).fetchall()
    finally:
        db.close()
