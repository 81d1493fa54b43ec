# SPDX-License-Identifier: Apache-2.0
# Three slipway-server replicas on one PostgreSQL database (PROTOCOL §5.7, §5.11, §8; issues 8, 15):
# - a change made through one replica is seen by the very next request on the others (envs, token revocation);
# - the auto-promoter of all three replicas racing every second promotes each candidate exactly once;
# - 50 real agents, each with the three URLs in random order: a later deploy with maxParallel 5 never has more
#   than 5 hosts deploying at any sampled moment (admission exact across three replicas), also while replica a is
#   killed with SIGKILL mid-deploy (the agents fail over to b or c and the deploy completes) and while PostgreSQL
#   restarts mid-deploy (every replica recovers by itself, the deploy completes).
# The tests run in file order and share the replicas and the fleet (module fixtures in conftest.py).
import collections
import json
import os
import signal
import sys
import threading
import time

import pytest
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dbtarget  # noqa: E402
from ha_support import HOSTS, N_AGENTS, make_app, need_pg, wait_for  # noqa: E402

ENV, STAGE = "ha", "prod"
MAX_PARALLEL = 5
DEPLOYING = ("PRE_DOWNLOAD", "DOWNLOADING", "POST_DOWNLOAD", "STAGING", "PRE_RESTART", "RESTARTING",
             "POST_RESTART")


def call(server, method, path, token=None, **kw):
    return requests.request(method, server.url + path, headers={"Authorization": "token " + (token or server.token)},
                            timeout=20, **kw)


def ok(server, method, path, **kw):
    r = call(server, method, path, **kw)
    assert 200 <= r.status_code < 300, "%s %s -> %d %s" % (method, path, r.status_code, r.text)
    return r.json() if r.content else None


def current_build(server, env, stage):
    r = call(server, "GET", "/v1/envs/%s/%s/deploys/current" % (env, stage))
    return r.json()["buildId"] if r.status_code == 200 and r.content else None


# ---- consistency across replicas (no cache may serve stale data) ----

def test_change_on_a_is_seen_by_the_next_request_on_b(replicas):
    a, b, c = replicas.all
    for i in range(5):
        name = "cons%d" % i
        ok(a, "POST", "/v1/envs", json={"envName": name, "stageName": "prod", "maxParallel": 3})
        got = call(b, "GET", "/v1/envs/%s/prod" % name)
        assert got.status_code == 200, got.text
        assert got.json()["maxParallel"] == 3
        ok(b, "PUT", "/v1/envs/%s/prod" % name, json={"maxParallel": 7})
        assert ok(a, "GET", "/v1/envs/%s/prod" % name)["maxParallel"] == 7
        assert ok(c, "GET", "/v1/envs/%s/prod" % name)["maxParallel"] == 7
    # a token created on a works on b at once; revoked on a it is refused on b at once
    for i in range(3):
        t = ok(a, "POST", "/v1/system/token_roles", json={"name": "ha-ci-%d" % i, "role": "READER"})["token"]
        assert call(b, "GET", "/v1/envs", token=t).status_code == 200
        assert call(a, "DELETE", "/v1/system/token_roles/ha-ci-%d" % i).status_code == 204
        for other in (b, c):
            r = call(other, "GET", "/v1/envs", token=t)
            assert r.status_code == 401, r.text
        # and a role change is seen as well
    t = ok(b, "POST", "/v1/system/token_roles", json={"name": "ha-op", "role": "ADMIN"})["token"]
    assert call(a, "GET", "/v1/system/token_roles", token=t).status_code == 200
    assert call(b, "PUT", "/v1/system/token_roles/ha-op", json={"role": "READER"}).status_code == 204
    assert call(a, "GET", "/v1/system/token_roles", token=t).status_code == 403


# ---- the promoter runs once per candidate across replicas ----

def test_promoter_never_promotes_twice(replicas):
    a, b, c = replicas.all
    ok(a, "POST", "/v1/envs", json={"envName": "promo", "stageName": "prod", "buildName": "promoapp"})
    r = call(b, "PUT", "/v1/envs/promo/prod/promotes", json={"type": "AUTO", "predStage": "BUILD"})
    assert r.status_code == 204, r.text
    env_id = ok(a, "GET", "/v1/envs/promo/prod")["id"]
    builds = []
    for i in range(4):
        src = (a, b, c)[i % 3]
        build = ok(src, "POST", "/v1/builds", json={
            "name": "promoapp", "repo": "acme/promo", "branch": "master", "commit": "%040x" % (0xabc0 + i),
            "commitDate": int(time.time() * 1000), "artifactUrl": "https://art.example/promo/%d.tar.gz" % i,
            "type": "Github"})
        builds.append(build["id"])
        wait_for(lambda: current_build(b, "promo", "prod") == build["id"], timeout=30, interval=0.1,
                 what="auto promote of build %d" % i)
    # a few more periods of the three promoters: nothing else happens
    time.sleep(3)
    deploys = ok(a, "GET", "/v1/deploys", params={"envId": env_id, "pageSize": 100})["deploys"]
    per_build = collections.Counter(d["buildId"] for d in deploys)
    assert per_build == collections.Counter(builds), per_build
    assert all(d["operator"] == "AutoPromoter" for d in deploys)
    hist = ok(b, "GET", "/v1/envs/promo/prod/history", params={"pageSize": 100})
    acts = [json.loads(e["configChange"]) for e in hist if e["type"] == "Env Action"]
    assert sum(1 for x in acts if x.get("action") == "AUTO_PROMOTE") == len(builds), acts


# ---- 50 agents, maxParallel 5, a replica killed, PostgreSQL restarted ----

class Sampler:
    """Samples the database every ~30 ms: hosts in the deploying stages of deploy_id, and slot holders."""

    def __init__(self, db, env_id, deploy_id):
        self.db = db.session()
        self.env_id, self.deploy_id = env_id, deploy_id
        self.max_deploying = 0
        self.max_slots = 0
        self.samples = 0
        self.errors = 0
        self.running = True
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        marks = ",".join("?" * len(DEPLOYING))
        while self.running:
            try:
                dep = self.db.query("SELECT count(*) FROM agents WHERE envId = ? AND deployId = ? AND removed = 0 "
                                    "AND deployStage IN (%s)" % marks, (self.env_id, self.deploy_id) + DEPLOYING)
                held = self.db.query("SELECT count(*) FROM agents WHERE envId = ? AND holdsSlot = 1", (self.env_id,))
                self.max_deploying = max(self.max_deploying, dep[0][0])
                self.max_slots = max(self.max_slots, held[0][0])
                self.samples += 1
            except Exception:
                self.errors += 1  # PostgreSQL is restarting
                self.db._close_con()
            time.sleep(0.03)

    def stop(self):
        self.running = False
        self.t.join()
        self.db._close_con()


class Rollout:
    def __init__(self, replicas, fleet):
        self.replicas, self.fleet = replicas, fleet
        self.env_id = None
        self.n = 0

    def publish_and_deploy(self, via, step_seconds):
        self.n += 1
        version = "v%d" % self.n
        path = make_app(self.fleet.artifacts / ("%s.tar.gz" % version), version, step_seconds)
        build = ok(via, "POST", "/v1/builds", json={"name": "haapp", "repo": "acme/ha", "branch": "main",
                                                   "commit": "%040x" % (0xfeed00 + self.n),
                                                   "artifactUrl": "file://" + path})
        return ok(via, "POST", "/v1/envs/%s/%s/deploys" % (ENV, STAGE), params={"buildId": build["id"]})["id"]

    def serving(self, deploy_id):
        rows = self.replicas.db.query("SELECT count(*) FROM agents WHERE envId = ? AND deployId = ? AND "
                                  "deployStage = 'SERVING_BUILD' AND status = 'SUCCEEDED'", (self.env_id, deploy_id))
        return rows[0][0]

    def describe(self, deploy_id):
        rows = self.replicas.db.query("SELECT hostName, deployId, deployStage, state, status, holdsSlot FROM agents "
                                  "WHERE envId = ? ORDER BY hostName", (self.env_id,))
        return "deploy %s\n" % deploy_id + "\n".join("  " + " ".join(str(c) for c in r) for r in rows)

    def wait_done(self, via, deploy_id, timeout):
        def done():
            try:
                st = call(via, "GET", "/v1/deploys/" + deploy_id).json().get("state")
            except (requests.RequestException, ValueError):
                return False
            return st in ("SUCCEEDING", "SUCCEEDED") and self.serving(deploy_id) == N_AGENTS
        try:
            wait_for(done, timeout=timeout, interval=0.3, what="deploy %s done" % deploy_id)
        except AssertionError:
            raise AssertionError(self.describe(deploy_id))


@pytest.fixture(scope="module")
def rollout(replicas, fleet):
    need_pg()
    r = Rollout(replicas, fleet)
    env = ok(replicas.a, "POST", "/v1/envs", json={"envName": ENV, "stageName": STAGE, "buildName": "haapp",
                                               "maxParallel": MAX_PARALLEL})
    r.env_id = env["id"]
    ok(replicas.b, "PUT", "/v1/envs/%s/%s/capacity" % (ENV, STAGE), params={"capacityType": "HOST"}, json=HOSTS)
    # the first deploy runs on every host at once (it bypasses admission, §5.5); maxParallel governs later ones
    d1 = r.publish_and_deploy(replicas.b, 0)
    r.wait_done(replicas.b, d1, timeout=180)
    return r


def test_rollout_width_holds_and_a_killed_replica_is_failed_over(replicas, fleet, rollout):
    assert 0 < len(fleet.a_first) < N_AGENTS  # some agents try a first, some another replica
    d2 = rollout.publish_and_deploy(replicas.a, 0.5)
    sampler = Sampler(replicas.db, rollout.env_id, d2)
    try:
        wait_for(lambda: rollout.serving(d2) >= 10, timeout=120, interval=0.1, what="10 hosts on the new deploy")
        assert replicas.a.stop(signal.SIGKILL) == -signal.SIGKILL
        killed_at = rollout.serving(d2)
        assert killed_at < N_AGENTS
        rollout.wait_done(replicas.b, d2, timeout=240)
    finally:
        sampler.stop()
    print("kill -9: %d samples, max deploying %d, max slot holders %d, %d hosts done at the kill" % (
        sampler.samples, sampler.max_deploying, sampler.max_slots, killed_at))
    assert sampler.samples > 50
    assert sampler.max_deploying <= MAX_PARALLEL, sampler.max_deploying
    assert sampler.max_slots <= MAX_PARALLEL, sampler.max_slots
    assert sampler.max_deploying >= 2  # the rollout really ran hosts in parallel
    # agents that tried a first were served by b or c after the kill
    assert all(ok(s, "GET", "/healthz")["db"] == "ok" for s in (replicas.b, replicas.c))
    replicas.a.start()  # back at the same URL for the next test
    assert ok(replicas.a, "GET", "/healthz")["db"] == "ok"


def test_postgresql_restart_mid_deploy(replicas, fleet, rollout):
    if not os.environ.get("SLIPWAY_TEST_PG_DIR"):
        if dbtarget.IN_CI:
            pytest.fail("SLIPWAY_TEST_PG_DIR is not set (CI=true: not skipped)")
        pytest.skip("SLIPWAY_TEST_PG_DIR (the scripts/pg-test.sh directory) is needed to restart PostgreSQL")
    d3 = rollout.publish_and_deploy(replicas.b, 0.5)
    sampler = Sampler(replicas.db, rollout.env_id, d3)
    try:
        wait_for(lambda: rollout.serving(d3) >= 10, timeout=120, interval=0.1, what="10 hosts on the new deploy")
        assert dbtarget.pg_restart()
        replicas.db._close_con()
        restarted_at = rollout.serving(d3)
        assert restarted_at < N_AGENTS
        # every replica recovers by itself (same processes, no restart)
        for s in replicas.all:
            wait_for(lambda: call(s, "GET", "/healthz").json().get("db") == "ok", timeout=60, interval=0.2,
                     what="%s healthy again" % s.url)
        rollout.wait_done(replicas.a, d3, timeout=240)
        assert all(s.running() for s in replicas.all)
    finally:
        sampler.stop()
    print("PostgreSQL restart: %d samples (%d failed while it restarted), max deploying %d, max slot holders %d, "
          "%d hosts done at the restart" % (sampler.samples, sampler.errors, sampler.max_deploying, sampler.max_slots,
                                            restarted_at))
    assert sampler.samples > 50
    assert sampler.max_deploying <= MAX_PARALLEL, sampler.max_deploying
    assert sampler.max_slots <= MAX_PARALLEL, sampler.max_slots
    # the replicas answer API calls again
    assert ok(replicas.b, "GET", "/v1/deploys/" + d3)["state"] in ("SUCCEEDING", "SUCCEEDED")
    assert ok(replicas.a, "GET", "/v1/envs/%s/%s" % (ENV, STAGE))["deployId"] == d3
    assert ok(replicas.c, "GET", "/v1/envs/%s/%s" % (ENV, STAGE))["deployId"] == d3
