# SPDX-License-Identifier: Apache-2.0
# Helpers for black-box tests of slipway-server: a real process on 127.0.0.1:0 on the test database of
# tests/integration/dbtarget.py (SQLite by default, PostgreSQL with SLIPWAY_TEST_DB_BACKEND=pg); the
# bound address comes from port_file and the admin token from the token file.
import os
import sys
import time

import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from serverproc import BUILD_DIR, SERVER_BIN, ServerProcess  # noqa: E402,F401


class Server(ServerProcess):
    """extra: raw command-line arguments (e.g. ["--set", "anonymous_role=PUBLISHER"])."""

    def __init__(self, tmp_path, extra=None, name="srv", db=None):
        super().__init__(tmp_path / name, db)
        self.extra = list(extra or [])

    def args(self, extra=()):
        return self.base_args() + ["--set", "port_file=%s" % self.port_file, "log_level=warn"] + \
            self.extra + list(extra)

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
    import time
    now = int(time.time() * 1000)
    host_name = host_name or host_id
    server.db.query("INSERT INTO agents(hostId, hostName, envId, deployId, deployStage, state, status, "
                    "startDate, lastUpdateDate, lastOperator, firstDeploy, holdsSlot, removed) "
                    "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(hostId, envId) DO UPDATE SET "
                    "hostName=excluded.hostName, deployId=excluded.deployId, deployStage=excluded.deployStage, "
                    "state=excluded.state, status=excluded.status, startDate=excluded.startDate, "
                    "lastUpdateDate=excluded.lastUpdateDate, lastOperator=excluded.lastOperator, "
                    "firstDeploy=excluded.firstDeploy, holdsSlot=excluded.holdsSlot, removed=excluded.removed",
                    (host_id, host_name, env_id, deploy_id, stage, state, status, now, now, "system",
                     int(first_deploy), int(holds_slot), int(removed)))
    server.db.query("INSERT INTO heartbeats(hostId, hostName, createDate, lastSeen) VALUES(?,?,?,?) "
                    "ON CONFLICT DO NOTHING", (host_id, host_name, now, last_seen if last_seen is not None else now))
    for g in groups:
        server.db.query("INSERT INTO hosts(hostName, groupName, hostId, createDate, lastUpdateDate, state) "
                        "VALUES(?,?,?,?,?,'ACTIVE') ON CONFLICT DO NOTHING", (host_name, g, host_id, now, now))


def wait_for(cond, timeout=15, step=0.1):
    """Poll cond until it returns something true (returned), for at most timeout seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise AssertionError("condition not met in %ss" % timeout)


def db_query(server, sql, args=()):
    return server.db.query(sql, args)
