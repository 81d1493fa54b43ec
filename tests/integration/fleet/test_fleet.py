# SPDX-License-Identifier: Apache-2.0
# Fleet tests: one real slipway-server and 20 real slipway-agent processes (fleet-01..20) on loopback, deploying a
# tiny app tarball generated here (a python HTTP server per host and env on a free port, answering its VERSION).
# Env `hello`: stage staging = fleet-01..10, stage prod = fleet-11..20. Failure policies use their own envs
# (5 hosts each). The tests run in file order and share the fleet (module fixture): later ones build on the
# deploys of earlier ones (a later deploy, not a first deploy, is what maxParallel governs: PROTOCOL §5.5).
import os
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from fleet_support import AGENT_BIN, SERVER_BIN, Agent, Server, make_app, wait_for  # noqa: E402

N = 20
HOSTS = [f"fleet-{i:02d}" for i in range(1, N + 1)]
STAGING = HOSTS[:10]
PROD = HOSTS[10:]


class Fleet:
    def __init__(self, root):
        self.root = root
        self.artifacts = root / "artifacts"
        self.artifacts.mkdir()
        self.server = Server(root / "server")
        self.agents = {}
        for h in HOSTS:
            self.agents[h] = Agent(root / h, h, self.server, self.artifacts)
        self.deploys = {}

    def stop(self):
        for a in self.agents.values():
            a.stop()
        self.server.stop()

    # --- server helpers ---
    def env(self, env, stage, hosts, **fields):
        s = self.server
        s.ok("POST", "/v1/envs", {"envName": env, "stageName": stage, "buildName": "fleetapp", **fields})
        s.ok("PUT", f"/v1/envs/{env}/{stage}/capacity", hosts, params={"capacityType": "HOST"})

    def publish(self, version, bad=False):
        path = make_app(self.artifacts / f"{version}.tar.gz", version, bad=bad)
        b = self.server.ok("POST", "/v1/builds", {"name": "fleetapp", "repo": "slipway/fleet", "branch": "main",
                                                   "commit": version, "artifactUrl": "file://" + path})
        return b["id"], path

    def deploy(self, env, stage, build):
        d = self.server.ok("POST", f"/v1/envs/{env}/{stage}/deploys", params={"buildId": build})
        return d["id"]

    def deploy_state(self, deploy_id):
        status, d = self.server.api("GET", f"/v1/deploys/{deploy_id}")
        return d.get("state") if status == 200 else None

    def agents_of(self, env, stage):
        status, rows = self.server.api("GET", f"/v1/envs/{env}/{stage}/agents")
        return rows if status == 200 else None

    def wait_deploy(self, env, stage, deploy_id, hosts, states=("SUCCEEDING", "SUCCEEDED"), timeout=90):
        def done():
            st = self.deploy_state(deploy_id)
            rows = self.agents_of(env, stage) or []
            serving = [r for r in rows if r["deployId"] == deploy_id and r["deployStage"] == "SERVING_BUILD"]
            return st in states and len(serving) == len(hosts) and st
        try:
            return wait_for(done, timeout=timeout, what=f"deploy {deploy_id} of {env}/{stage} done")
        except AssertionError:
            raise AssertionError(self.describe(env, stage, deploy_id))

    def describe(self, env, stage, deploy_id):
        rows = self.agents_of(env, stage) or []
        lines = [f"deploy {deploy_id} state {self.deploy_state(deploy_id)}"]
        for r in sorted(rows, key=lambda r: r["hostName"]):
            lines.append(f"  {r['hostName']} {r['deployId']} {r['deployStage']} {r['state']} {r['status']} "
                         f"slot={r.get('holdsSlot')} removed={r.get('removed')}")
        return "\n".join(lines)

    def apps(self, env, hosts):
        return {h: self.agents[h].app(env) for h in hosts}

    def wait_apps(self, env, hosts, version, timeout=30):
        wait_for(lambda: all(v == version for v in self.apps(env, hosts).values()), timeout=timeout,
                 what=f"{env} apps answering {version}")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    for b in (SERVER_BIN, AGENT_BIN):
        if not os.access(b, os.X_OK):
            pytest.skip(f"{b} is not built")
    f = Fleet(tmp_path_factory.mktemp("fleet"))
    try:
        # every agent registered (pinged) before the tests start
        wait_for(lambda: all(f.server.api("GET", f"/v1/hosts/{h}")[0] == 200 and f.server.api("GET", f"/v1/hosts/{h}")[1]
                             for h in HOSTS), timeout=60, what="all agents pinged")
        yield f
    finally:
        f.stop()


class SlotWatch:
    """Polls GET .../agents in a thread and records the largest number of slot holders of a deploy at once."""

    def __init__(self, fleet, env, stage):
        self.fleet, self.env, self.stage = fleet, env, stage
        self.max = 0
        self.samples = 0
        self.running = True
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while self.running:
            try:
                rows = self.fleet.agents_of(self.env, self.stage)
            except OSError:
                rows = None  # the server is down for a moment
            if rows:
                held = sum(1 for r in rows if r.get("holdsSlot"))
                self.max = max(self.max, held)
                self.samples += 1
            time.sleep(0.05)

    def stop(self):
        self.running = False
        self.t.join()


def test_first_deploy_and_promote(fleet):
    """Publish → deploy staging (maxParallelPct 25, a first deploy: every host at once) → all SERVING_BUILD and the
    app answers on every host; promote to prod → SUCCEEDED and prod's apps answer."""
    fleet.env("hello", "staging", STAGING, maxParallelPct=25)
    fleet.env("hello", "prod", PROD, maxParallelPct=25)
    v1, _ = fleet.publish("v1")
    fleet.deploys["v1-build"] = v1
    d = fleet.deploy("hello", "staging", v1)
    fleet.deploys["staging-v1"] = d
    fleet.wait_deploy("hello", "staging", d, STAGING)
    fleet.wait_apps("hello", STAGING, "v1")

    p = fleet.server.ok("POST", "/v1/envs/hello/prod/deploys/current/actions",
                        params={"actionType": "PROMOTE", "fromDeployId": d})
    assert p["buildId"] == v1 and p["fromDeployId"] == d
    # a finished deploy is SUCCEEDING (acceptance AUTO → ACCEPTED); SUCCEEDED once a newer deploy supersedes it
    assert fleet.wait_deploy("hello", "prod", p["id"], PROD) == "SUCCEEDING"
    assert fleet.server.ok("GET", f"/v1/deploys/{p['id']}")["acceptanceStatus"] == "ACCEPTED"
    fleet.wait_apps("hello", PROD, "v1")


def test_later_deploy_respects_max_parallel_pct(fleet):
    """A second (not first) deploy with maxParallelPct 25 over 10 hosts: threshold floor(10 × 25 %) = 2 slot
    holders; polling GET .../agents never sees more."""
    v2, _ = fleet.publish("v2")
    watch = SlotWatch(fleet, "hello", "staging")
    try:
        d = fleet.deploy("hello", "staging", v2)
        fleet.deploys["staging-v2"] = d
        # the previous deploy is superseded: SUCCEEDING → SUCCEEDED
        assert fleet.deploy_state(fleet.deploys["staging-v1"]) == "SUCCEEDED"
        fleet.wait_deploy("hello", "staging", d, STAGING)
    finally:
        watch.stop()
    assert watch.samples > 20
    assert 1 <= watch.max <= 2, watch.max
    fleet.wait_apps("hello", STAGING, "v2")


def test_rollback_does_not_download(fleet):
    """Rollback to the previous build: the artifact file is deleted first, so success proves the agents reused the
    build tree they kept (no download, no leftover .tmp-* directory)."""
    os.unlink(fleet.artifacts / "v1.tar.gz")
    r = fleet.server.ok("POST", "/v1/envs/hello/staging/deploys/current/actions",
                        params={"actionType": "ROLLBACK", "toDeployId": fleet.deploys["staging-v1"]})
    assert r["buildId"] == fleet.deploys["v1-build"] and r["type"] == "ROLLBACK"
    fleet.wait_deploy("hello", "staging", r["id"], STAGING)
    fleet.wait_apps("hello", STAGING, "v1")
    for h in STAGING:
        leftovers = list((fleet.agents[h].root / "builds").glob("*/.tmp-*"))
        assert leftovers == [], leftovers


def test_server_kill9_mid_deploy(fleet):
    """kill -9 of the server while a deploy is rolling out on prod, restart on the same port and database: the
    deploy completes, and slot holders never exceed the threshold (2 of 10) before, during or after."""
    v3, _ = fleet.publish("v3")
    watch = SlotWatch(fleet, "hello", "prod")
    try:
        d = fleet.deploy("hello", "prod", v3)
        wait_for(lambda: any(r.get("holdsSlot") and r["deployId"] == d for r in fleet.agents_of("hello", "prod") or []),
                 timeout=30, interval=0.05, what="a prod host holding a slot")
        fleet.server.kill9()
        time.sleep(2)
        fleet.server.start()
        fleet.wait_deploy("hello", "prod", d, PROD, timeout=120)
    finally:
        watch.stop()
    assert 1 <= watch.max <= 2, watch.max
    fleet.wait_apps("hello", PROD, "v3")


def test_server_down_apps_keep_serving(fleet):
    """The server is stopped for 60 s (issue 4; SLIPWAY_FLEET_OUTAGE_S shortens it for local runs): every app keeps
    serving throughout; after the restart the agents resume and complete a deploy made after it."""
    fleet.server.stop()
    end = time.monotonic() + float(os.environ.get("SLIPWAY_FLEET_OUTAGE_S", "60"))
    while time.monotonic() < end:
        assert fleet.apps("hello", STAGING) == {h: "v1" for h in STAGING}
        assert fleet.apps("hello", PROD) == {h: "v3" for h in PROD}
        time.sleep(1)
    fleet.server.start()
    v4, _ = fleet.publish("v4")
    d = fleet.deploy("hello", "staging", v4)
    fleet.wait_deploy("hello", "staging", d, STAGING, timeout=120)
    fleet.wait_apps("hello", STAGING, "v4")


POLICY_HOSTS = {"HALT": HOSTS[0:5], "CONTINUE": HOSTS[5:10], "ROLLBACK": HOSTS[10:15], "REMOVE_HOST": HOSTS[15:20]}


def test_failure_policies(fleet):
    """A bad build whose POST_RESTART fails on some hosts, under each failure policy (one env per policy, 5 hosts,
    maxParallel 1, all four rolling out at the same time):
    HALT: every host fails → the first failed host keeps its slot, nobody else is admitted, deploy FAILING;
    CONTINUE: 2 hosts fail → they are parked, the rollout continues over the other 3, deploy FAILING;
    ROLLBACK: every host fails → deploy FAILING → automatic ROLLBACK deploy of the good build on every host;
    REMOVE_HOST: 2 hosts fail → removed and stopped, the other 3 serve, deploy SUCCEEDING (every non-removed host serves)."""
    fail = {"HALT": "*", "CONTINUE": ",".join(POLICY_HOSTS["CONTINUE"][1:3]), "ROLLBACK": "*",
            "REMOVE_HOST": ",".join(POLICY_HOSTS["REMOVE_HOST"][0:2])}
    good, _ = fleet.publish("good1")
    bad, _ = fleet.publish("bad1", bad=True)
    first = {}
    for pol, hosts in POLICY_HOSTS.items():
        env = "fp-" + pol.lower().replace("_", "-")
        fleet.env(env, "prod", hosts, maxParallel=1, failurePolicy=pol)
        fleet.server.ok("PUT", f"/v1/envs/{env}/prod/script_configs", {"FAIL_HOSTS": fail[pol]})
        first[pol] = fleet.deploy(env, "prod", good)
    for pol, hosts in POLICY_HOSTS.items():
        env = "fp-" + pol.lower().replace("_", "-")
        fleet.wait_deploy(env, "prod", first[pol], hosts)
    badd = {}
    for pol in POLICY_HOSTS:
        badd[pol] = fleet.deploy("fp-" + pol.lower().replace("_", "-"), "prod", bad)

    def rows(pol):
        return {r["hostName"]: r for r in fleet.agents_of("fp-" + pol.lower().replace("_", "-"), "prod") or []}

    # HALT: one host parked holding the only slot; the others stay on the good build
    wait_for(lambda: fleet.deploy_state(badd["HALT"]) == "FAILING", timeout=60, what="HALT deploy FAILING")
    time.sleep(3)  # give a wrongly admitted second host time to show up
    r = rows("HALT")
    parked = [h for h, x in r.items() if x["state"] == "PAUSED_BY_SYSTEM"]
    assert len(parked) == 1, fleet.describe("fp-halt", "prod", badd["HALT"])
    assert r[parked[0]]["holdsSlot"] and r[parked[0]]["deployId"] == badd["HALT"]
    others = [h for h in POLICY_HOSTS["HALT"] if h != parked[0]]
    assert all(r[h]["deployId"] == first["HALT"] and r[h]["deployStage"] == "SERVING_BUILD" for h in others)
    assert all(fleet.agents[h].app("fp-halt") == "good1" for h in others)

    # CONTINUE: the 2 failing hosts parked without a slot, the 3 others serve the bad build
    cont = POLICY_HOSTS["CONTINUE"]
    failing = set(fail["CONTINUE"].split(","))

    def cont_done():
        r = rows("CONTINUE")
        return (all(r[h]["state"] == "PAUSED_BY_SYSTEM" for h in failing)
                and all(r[h]["deployId"] == badd["CONTINUE"] and r[h]["deployStage"] == "SERVING_BUILD"
                        for h in cont if h not in failing))
    wait_for(cont_done, timeout=90, what="CONTINUE rollout over every host")
    r = rows("CONTINUE")
    assert not any(x["holdsSlot"] for x in r.values()), fleet.describe("fp-continue", "prod", badd["CONTINUE"])
    wait_for(lambda: fleet.deploy_state(badd["CONTINUE"]) == "FAILING", timeout=30, what="CONTINUE deploy FAILING")
    assert all(fleet.agents[h].app("fp-continue") == "bad1" for h in cont if h not in failing)

    # ROLLBACK: an automatic ROLLBACK deploy of the good build restores every host
    def auto_rollback():
        cur = fleet.server.api("GET", "/v1/envs/fp-rollback/prod/deploys/current")[1]
        return cur if cur and cur["id"] != badd["ROLLBACK"] else None
    rb = wait_for(auto_rollback, timeout=60, what="automatic rollback deploy")
    assert rb["type"] == "ROLLBACK" and rb["buildId"] == good and rb["operator"] == "system", rb
    assert fleet.deploy_state(badd["ROLLBACK"]) == "ABORTED"
    fleet.wait_deploy("fp-rollback", "prod", rb["id"], POLICY_HOSTS["ROLLBACK"], timeout=90)
    fleet.wait_apps("fp-rollback", POLICY_HOSTS["ROLLBACK"], "good1")

    # REMOVE_HOST: the 2 failing hosts removed and stopped, the others serve the new build, deploy SUCCEEDED
    rem = POLICY_HOSTS["REMOVE_HOST"]
    removed = set(fail["REMOVE_HOST"].split(","))

    def rem_done():
        r = rows("REMOVE_HOST")
        return (all(r[h]["removed"] and r[h]["deployStage"] == "STOPPED" for h in removed)
                and all(r[h]["deployId"] == badd["REMOVE_HOST"] and r[h]["deployStage"] == "SERVING_BUILD"
                        for h in rem if h not in removed))
    try:
        wait_for(rem_done, timeout=90, what="REMOVE_HOST rollout")
    except AssertionError:
        raise AssertionError(fleet.describe("fp-remove-host", "prod", badd["REMOVE_HOST"]))
    wait_for(lambda: fleet.deploy_state(badd["REMOVE_HOST"]) == "SUCCEEDING", timeout=30,
             what="REMOVE_HOST deploy SUCCEEDED")
    prog = fleet.server.ok("PUT", "/v1/envs/fp-remove-host/prod/deploys/current/progress")
    assert sorted(prog["removedHosts"]) == sorted(removed)
    assert all(fleet.agents[h].app("fp-remove-host") is None for h in removed)
    assert all(fleet.agents[h].app("fp-remove-host") == "bad1" for h in rem if h not in removed)
