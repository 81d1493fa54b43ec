# SPDX-License-Identifier: Apache-2.0
# slipway-fleetsim against a real slipway-server (SQLite or PostgreSQL, dbtarget.py): a CI-sized fleet in one group
# goes through a first deploy, a later deploy at maxParallelPct 100 and a rollback, each checked through the API
# (the deploy's successTotal/total, the stage's serving agents); failure injection; and the command line's errors.
# The tests share one server and one simulator run (module fixture) and run in file order.
import contextlib
import json
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from serverproc import BUILD_DIR, SERVER_BIN, ServerProcess, api_call  # noqa: E402

FLEETSIM_BIN = os.path.join(BUILD_DIR, "src", "fleetsim", "slipway-fleetsim")


def sanitizer_build():
    """True for a -DSANITIZE=ON build (CI's ASan/UBSan pass): ~5-10x slower per request, and that pass is there to
    find memory errors, not to measure scale, so it simulates a smaller fleet in the same time bounds."""
    try:
        with open(os.path.join(BUILD_DIR, "CMakeCache.txt")) as f:
            return any(line.strip() == "SANITIZE:BOOL=ON" for line in f)
    except OSError:
        return False


HOSTS = int(os.environ.get("SLIPWAY_FLEETSIM_TEST_HOSTS", "400" if sanitizer_build() else "2000"))
SIM_SECONDS = 240  # longer than the tests; the fixture stops it
DEPLOY_TIMEOUT = 60


def wait_for(cond, timeout, what, interval=0.25):
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = cond()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Server(ServerProcess):
    def args(self, extra=()):
        settings = ["port_file=%s" % self.port_file, "log_level=warn", "heartbeat_flush_period=1",
                    "transition_period=1", "event_poll_period=0.2"]
        return self.base_args() + ["--set", *settings, *extra]

    def api(self, method, path, body=None, **params):
        url = self.url + path
        if params:
            url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
        status, doc, raw = api_call(url, method, self.token, body)
        assert 200 <= status < 300, f"{method} {path} -> {status} {raw[:300]!r}"
        return doc


class Fleet:
    def __init__(self, root):
        self.server = Server(root / "server").start()
        s = self.server
        s.api("POST", "/v1/envs", {"envName": "sim", "stageName": "prod", "buildName": "simapp"})
        s.api("PUT", "/v1/envs/sim/prod/capacity", ["simgroup"], capacityType="GROUP")
        self.sim_log = open(root / "fleetsim.err", "wb")
        self.sim_out = root / "fleetsim.json"
        self.sim = subprocess.Popen(
            [FLEETSIM_BIN, "--server", s.url, "--token", s.token, "--group", "simgroup", "--hosts", str(HOSTS),
             "--duration", str(SIM_SECONDS), "--interval", "5", "--connections", "16", "--prefix", "ci"],
            stdout=open(self.sim_out, "wb"), stderr=self.sim_log)
        self.builds = {}

    def publish(self, commit):
        b = self.server.api("POST", "/v1/builds", {"name": "simapp", "repo": "acme/sim", "branch": "main",
                                                   "commit": commit, "artifactUrl": f"https://a.example/{commit}.tgz"})
        self.builds[commit] = b["id"]
        return b["id"]

    def serving(self):
        return self.server.api("GET", "/v1/envs/sim/prod/agents/count", actionType="SERVING")

    def wait_done(self, deploy_id):
        def done():
            d = self.server.api("GET", f"/v1/deploys/{deploy_id}")
            return d if d["successTotal"] == HOSTS and d["total"] == HOSTS else None
        try:
            return wait_for(done, DEPLOY_TIMEOUT, f"deploy {deploy_id} on {HOSTS} hosts")
        except AssertionError as e:
            raise AssertionError(f"{e}\nfleetsim: {self.progress_tail()}")

    def progress_tail(self):
        self.sim_log.flush()
        with open(self.sim_log.name, "rb") as f:
            return f.read()[-1500:].decode(errors="replace")

    def stop(self):
        if self.sim.poll() is None:
            self.sim.terminate()
            self.sim.wait(timeout=30)
        self.sim_log.close()
        self.server.stop()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    for b in (SERVER_BIN, FLEETSIM_BIN):
        if not os.access(b, os.X_OK):
            pytest.skip(f"{b} is not built")
    f = Fleet(tmp_path_factory.mktemp("fleetsim"))
    try:
        yield f
    finally:
        f.stop()


def test_first_deploy(fleet):
    """Every simulated host registers through its ping and walks the first deploy to SERVING_BUILD."""
    d = fleet.server.api("POST", "/v1/envs/sim/prod/deploys", buildId=fleet.publish("1111111aaaa"))
    fleet.deploys = {"first": d["id"]}
    fleet.wait_done(d["id"])
    assert fleet.serving() == HOSTS
    hosts = fleet.server.api("GET", "/v1/agents/ci-0000001")
    assert [a["deployStage"] for a in hosts] == ["SERVING_BUILD"], hosts
    assert [a["deployId"] for a in hosts] == [d["id"]]


def test_later_deploy_at_100_percent(fleet):
    fleet.server.api("PUT", "/v1/envs/sim/prod", {"maxParallelPct": 100})
    m0 = metrics(fleet.server)
    start = time.monotonic()
    d = fleet.server.api("POST", "/v1/envs/sim/prod/deploys", buildId=fleet.publish("2222222bbbb"))
    fleet.deploys["second"] = d["id"]
    done = fleet.wait_done(d["id"])
    assert done["state"] in ("SUCCEEDING", "SUCCEEDED"), done
    assert fleet.serving() == HOSTS
    last = fleet.server.api("GET", f"/v1/agents/ci-{HOSTS:07d}")
    assert [a["deployId"] for a in last] == [d["id"]], last
    print(f"later deploy to {HOSTS} hosts: {time.monotonic() - start:.1f}s")
    # every host's admission and its reports were written; pings served together committed together
    m = metrics(fleet.server)
    jobs = m["slipway_ping_write_jobs_total"] - m0["slipway_ping_write_jobs_total"]
    commits = m["slipway_ping_write_commits_total"] - m0["slipway_ping_write_commits_total"]
    print(f"ping writes: {jobs:.0f} jobs in {commits:.0f} commits")
    assert jobs >= 8 * HOSTS, (jobs, commits)
    if not sanitizer_build():
        # 2,000 hosts: 0.38-0.43 commits a job here. Under the sanitizers the fleet is 400 hosts and each run several
        # times slower, so fewer pings overlap: 0.79-0.96 measured, depending on how the simulator's pings bunch up
        # (it answers each as it arrives), which says nothing about the server; the width and the counts still hold
        assert commits <= 0.9 * jobs, (jobs, commits)


def test_rollback(fleet):
    r = fleet.server.api("POST", "/v1/envs/sim/prod/deploys/current/actions", actionType="ROLLBACK",
                         toDeployId=fleet.deploys["first"])
    assert r["type"] == "ROLLBACK" and r["buildId"] == fleet.builds["1111111aaaa"], r
    fleet.wait_done(r["id"])
    cur = fleet.server.api("GET", "/v1/envs/sim/prod/deploys/current")
    assert cur["id"] == r["id"]
    assert fleet.serving() == HOSTS


def test_simulator_summary(fleet):
    """The run ends on SIGTERM with exit 0 and one JSON summary whose counts match what the server saw."""
    fleet.sim.terminate()
    assert fleet.sim.wait(timeout=30) == 0
    out = json.loads(fleet.sim_out.read_text())
    assert out["hosts"] == HOSTS
    assert out["stages"] == {"SERVING_BUILD": HOSTS}, out["stages"]
    # three deploys, eight stages each, on every host
    assert out["stepsSucceeded"] >= 3 * 8 * HOSTS, out
    assert out["stepsFailed"] == 0 and out["answers"]["DEPLOY"] >= 2 * 8 * HOSTS, out
    assert out["answers"].get("ROLLBACK", 0) >= HOSTS
    assert "ci-0000001" not in fleet.progress_tail()  # progress lines are counts, not host names


@pytest.mark.parametrize("args", [
    [],
    ["--hosts", "10", "--duration", "5", "--token", "t", "--group", "g"],            # no --server
    ["--server", "http://127.0.0.1:1", "--token", "t", "--group", "g", "--hosts", "0", "--duration", "5"],
    ["--server", "http://127.0.0.1:1", "--token", "t", "--group", "g", "--hosts", "10000000", "--duration", "5"],
    ["--server", "127.0.0.1:1", "--token", "t", "--group", "g", "--hosts", "1", "--duration", "5"],
    ["--server", "http://127.0.0.1:1", "--token", "t", "--group", "g", "--hosts", "1", "--duration", "x"],
    ["--server", "http://127.0.0.1:1", "--token", "t", "--group", "g", "--hosts", "1", "--duration", "5",
     "--fail-rate", "1.5"],
    ["--server", "http://127.0.0.1:1", "--token", "t", "--group", "g", "--hosts", "1", "--duration", "5",
     "--fail-stage", "NOPE"],
    ["--server", "http://127.0.0.1:1", "--token", "t", "--group", "g", "--hosts", "1", "--duration", "5",
     "--wait", "61"],
    ["--server", "http://127.0.0.1:1", "--token", "t", "--group", "g", "--hosts", "1", "--duration", "5",
     "--bogus"],
    ["--server", "http://127.0.0.1:1", "--token", "t", "--group", "g", "--hosts", "1", "--duration", "5", "extra"],
    ["--server", "http://127.0.0.1:1", "--token", "t", "--group", "g", "--hosts", "1", "--duration", "5",
     "--serving", "envonly"],
])
def test_bad_flags_exit_64(args):
    if not os.access(FLEETSIM_BIN, os.X_OK):
        pytest.skip("slipway-fleetsim is not built")
    p = subprocess.run([FLEETSIM_BIN, *args], capture_output=True, timeout=10)
    assert p.returncode == 64, (p.returncode, p.stderr)
    assert b"usage: slipway-fleetsim" in p.stderr and p.stdout == b""


def test_help():
    if not os.access(FLEETSIM_BIN, os.X_OK):
        pytest.skip("slipway-fleetsim is not built")
    p = subprocess.run([FLEETSIM_BIN, "--help"], capture_output=True, timeout=10)
    assert p.returncode == 0 and b"--fail-stage" in p.stdout


def test_serving_resumes_a_seeded_fleet(tmp_path):
    """--serving ENV_ID:DEPLOY_ID: hosts that already serve a deploy (rows from an earlier run, as bench/scale seeds
    them) report it from their first ping, so the server answers NOOP instead of deploying it again; a simulator
    without it reports nothing and is sent the deploy from the start."""
    if not os.access(SERVER_BIN, os.X_OK) or not os.access(FLEETSIM_BIN, os.X_OK):
        pytest.skip("not built")
    s = Server(tmp_path / "server").start()
    n = 20

    def run(*extra):
        p = subprocess.run([FLEETSIM_BIN, "--server", s.url, "--token", s.token, "--group", "seedgroup", "--hosts",
                            str(n), "--duration", "4", "--interval", "1", "--connections", "4", *extra],
                           capture_output=True, timeout=30)
        assert p.returncode == 0, p.stderr[-500:]
        return json.loads(p.stdout)
    try:
        env = s.api("POST", "/v1/envs", {"envName": "seed", "stageName": "prod", "buildName": "simapp"})
        s.api("PUT", "/v1/envs/seed/prod/capacity", ["seedgroup"], capacityType="GROUP")
        b = s.api("POST", "/v1/builds", {"name": "simapp", "repo": "acme/sim", "branch": "main",
                                         "commit": "4444444dddd", "artifactUrl": "https://a.example/4.tgz"})
        d = s.api("POST", "/v1/envs/seed/prod/deploys", buildId=b["id"])
        first = run()
        assert first["stages"] == {"SERVING_BUILD": n} and first["answers"]["DEPLOY"] >= 8 * n, first
        assert s.api("GET", f"/v1/deploys/{d['id']}")["successTotal"] == n
        resumed = run("--serving", f"{env['id']}:{d['id']}")
        assert resumed["stages"] == {"SERVING_BUILD": n}, resumed
        assert set(resumed["answers"]) == {"NOOP"} and resumed["answers"]["NOOP"] >= n, resumed
        assert s.api("GET", f"/v1/deploys/{d['id']}")["successTotal"] == n
        again = run()  # the control: without --serving the same hosts are deployed again
        assert again["answers"].get("DEPLOY", 0) >= n, again
    finally:
        s.stop()


def test_failure_injection_and_server_away(tmp_path):
    """--fail-rate 1 at POST_RESTART: every host reports SCRIPT_FAILED there, which the server records. Then the
    server goes away: the simulator counts errors, backs off, and is answered again after a restart."""
    if not os.access(SERVER_BIN, os.X_OK) or not os.access(FLEETSIM_BIN, os.X_OK):
        pytest.skip("not built")
    import socket
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        port = so.getsockname()[1]
    s = Server(tmp_path / "server", listen=f"127.0.0.1:{port}").start()
    n = 50
    try:
        s.api("POST", "/v1/envs", {"envName": "bad", "stageName": "prod", "buildName": "simapp"})
        s.api("PUT", "/v1/envs/bad/prod/capacity", ["badgroup"], capacityType="GROUP")
        b = s.api("POST", "/v1/builds", {"name": "simapp", "repo": "acme/sim", "branch": "main",
                                         "commit": "3333333cccc", "artifactUrl": "https://a.example/3.tgz"})
        s.api("POST", "/v1/envs/bad/prod/deploys", buildId=b["id"])
        err = open(tmp_path / "sim.err", "wb")
        sim = subprocess.Popen([FLEETSIM_BIN, "--server", s.url, "--token", s.token, "--group", "badgroup",
                                "--hosts", str(n), "--duration", "40", "--interval", "1", "--connections", "4",
                                "--fail-stage", "post_restart", "--fail-rate", "1", "--json"],
                               stdout=subprocess.PIPE, stderr=err)
        try:
            def failed():
                rows = s.api("GET", "/v1/envs/bad/prod/agents")
                bad = [r for r in rows if r["deployStage"] == "POST_RESTART" and r["status"] == "SCRIPT_FAILED"]
                return len(bad) == n and rows
            rows = wait_for(failed, 40, "every host failed at POST_RESTART")
            assert all(r["hostName"].startswith("sim-") and len(r["hostName"]) == 11 for r in rows)
            s.stop()
            time.sleep(3)
            s.start()
            out, _ = sim.communicate(timeout=60)
        finally:
            if sim.poll() is None:
                sim.kill()
                sim.wait()
            err.close()
        assert sim.returncode == 0
        summary = json.loads(out)
        assert summary["errors"] > 0 and summary["stepsFailed"] >= n and summary["stepsSucceeded"] >= 6 * n, summary
        lines = [json.loads(x) for x in (tmp_path / "sim.err").read_text().splitlines()]
        # progress is one JSON object a second; pings were answered again after the restart
        assert len(lines) >= 30
        down = [i for i, x in enumerate(lines) if x["errors"] > 0]
        assert down and any(x["pings"] > x["errors"] for x in lines[down[-1] + 1:]), lines[-5:]
    finally:
        s.stop()


def metrics(s):
    """The server's /metrics as {name: value} (unlabelled samples only)."""
    import urllib.request
    req = urllib.request.Request(s.url + "/metrics", headers={"Authorization": "token " + s.token})
    with urllib.request.urlopen(req, timeout=20) as r:
        lines = r.read().decode().splitlines()
    return {ln.split()[0]: float(ln.split()[1]) for ln in lines if ln and not ln.startswith("#") and "{" not in ln}


@contextlib.contextmanager
def wake_server(tmp_path, batch, extra=()):
    """A server re-running woken held pings wake_batch at a time: (server, the simulators' stderr file, a list the
    test appends its simulators to), every simulator killed and the server stopped at the end."""
    if not os.access(SERVER_BIN, os.X_OK) or not os.access(FLEETSIM_BIN, os.X_OK):
        pytest.skip("not built")
    s = Server(tmp_path / "server").start(extra=["wake_batch=%d" % batch, "per_ip_connection_limit=0", *extra])
    err = open(tmp_path / "sim.err", "wb")
    sims = []
    try:
        yield s, err, sims
    finally:
        for sim in sims:
            if sim.poll() is None:
                sim.kill()
                sim.wait()
        err.close()
        s.stop()


def deploy_build(s, env, commit):
    """Publish a build of simapp and deploy it to env/prod; the new deploy."""
    b = s.api("POST", "/v1/builds", {"name": "simapp", "repo": "acme/sim", "branch": "main",
                                     "commit": commit, "artifactUrl": f"https://a.example/{commit}.tgz"})
    return s.api("POST", f"/v1/envs/{env}/prod/deploys", buildId=b["id"])


def test_a_wake_of_many_held_pings_runs_in_batches(tmp_path):
    """A later deploy at 100 % wakes every held ping of the stage at once; the server re-runs at most wake_batch of
    them at a time and the others in their turn, oldest wake first, and while more than a batch wait, other pings
    are answered 503 with Retry-After instead of queueing behind them: every held host gets its goal and walks the
    deploy to SERVING_BUILD, no ping fails otherwise (none times out), and the most woken pings ever re-running at
    once is exactly the batch (it is reached: the queue was longer)."""
    n, batch = (60 if sanitizer_build() else 300), 8
    with wake_server(tmp_path, batch) as (s, err, sims):
        s.api("POST", "/v1/envs", {"envName": "held", "stageName": "prod", "buildName": "simapp",
                                   "maxParallelPct": 100})
        s.api("PUT", "/v1/envs/held/prod/capacity", ["heldgroup"], capacityType="GROUP")

        def serving(d):
            return s.api("GET", f"/v1/deploys/{d['id']}")["successTotal"] == n

        first = deploy_build(s, "held", "5555555eeee")
        sim = subprocess.Popen([FLEETSIM_BIN, "--server", s.url, "--token", s.token, "--group", "heldgroup",
                                "--hosts", str(n), "--duration", "120", "--interval", "30", "--wait", "30",
                                "--connections", str(n), "--prefix", "held", "--json"],
                               stdout=subprocess.PIPE, stderr=err)
        sims.append(sim)
        wait_for(lambda: serving(first), 60, "the first deploy on every host")
        # a held ping returns NOOP after its wait and its host pings again 0-1 s later: most are held at any time
        wait_for(lambda: metrics(s)["slipway_pings_held"] >= n * 9 // 10, 30, "the hosts' idle pings held")
        assert metrics(s)["slipway_ping_wakes_running_peak"] <= batch
        later = deploy_build(s, "held", "6666666ffff")
        wait_for(lambda: serving(later), 60, "the later deploy on every host")
        m = metrics(s)
        assert m["slipway_ping_wakes_running_peak"] == batch, m
        assert m["slipway_ping_wakes_pending"] == 0 and m["slipway_ping_wakes_running"] == 0, m
        sim.terminate()
        out, _ = sim.communicate(timeout=30)
        summary = json.loads(out)
        assert summary["errors"] == summary["overloaded"], summary  # a 503 with Retry-After, waited as asked
        assert summary["stages"] == {"SERVING_BUILD": n}, summary


def test_reports_of_deploying_hosts_are_served_while_woken_pings_queue(tmp_path):
    """With wake_serve_reports: while the held pings a change woke wait for their turn, a ping that asks for new work
    is answered 503 with Retry-After, but the report of a host in the middle of a deploy is served (refusing it
    keeps its slot held). A host walks a deploy of another stage, one ping per step, while a later deploy's
    woken pings queue (wake_batch 1); every one of its pings is answered, also those sent while the queue was
    longer than a batch, and a host new to the server is refused meanwhile."""
    n, batch = (200 if sanitizer_build() else 1000), 1
    with wake_server(tmp_path, batch, ["wake_serve_reports=true"]) as (s, err, sims):
        def ping(host, group, reports):
            body = {"hostId": host, "hostName": host, "hostIp": "10.0.0.9", "groups": [group],
                    "agentVersion": "sim/1", "reports": reports}
            return api_call(s.url + "/v1/system/ping", "POST", s.token, body)

        def backlog():
            return metrics(s)["slipway_ping_wakes_pending"] > batch

        for env in ("held", "busy"):
            s.api("POST", "/v1/envs", {"envName": env, "stageName": "prod", "buildName": "simapp",
                                       "maxParallelPct": 100})
            s.api("PUT", f"/v1/envs/{env}/prod/capacity", [env + "group"], capacityType="GROUP")
        first = deploy_build(s, "held", "7777777aaaa")
        sims.append(subprocess.Popen([FLEETSIM_BIN, "--server", s.url, "--token", s.token, "--group", "heldgroup",
                                      "--hosts", str(n), "--duration", "120", "--interval", "30", "--wait", "30",
                                      "--connections", str(n), "--prefix", "held"],
                                     stdout=subprocess.DEVNULL, stderr=err))
        wait_for(lambda: s.api("GET", f"/v1/deploys/{first['id']}")["successTotal"] == n, 60,
                 "the first deploy on every held host")
        wait_for(lambda: metrics(s)["slipway_pings_held"] >= n * 9 // 10, 30, "the hosts' idle pings held")
        busy = deploy_build(s, "busy", "8888888bbbb")
        status, goal, raw = ping("busy-1", "busygroup", [])
        assert status == 200 and goal["opCode"] == "DEPLOY", raw
        deploy_build(s, "held", "9999999cccc")
        wait_for(backlog, 30, "the woken pings queued")
        served_in_backlog, fresh = 0, None
        while goal["opCode"] == "DEPLOY":
            g = goal["deployGoal"]
            report = {"envId": g["envId"], "deployId": g["deployId"], "deployStage": g["deployStage"],
                      "agentStatus": "SUCCEEDED", "errorCode": 0, "failCount": 0}
            before = backlog()
            status, goal, raw = ping("busy-1", "busygroup", [report])
            assert status == 200, (status, raw)  # never refused for the queue
            if before and backlog():
                served_in_backlog += 1
            if fresh is None and backlog():
                # a host the server never saw: it asks for new work
                r = ping("fresh-%d" % served_in_backlog, "heldgroup", [])
                if backlog():
                    fresh = r
        assert g["deployStage"] == "SERVING_BUILD" and goal["opCode"] == "NOOP", goal
        assert served_in_backlog >= 1, "the queue drained before a report was sent"
        assert fresh and fresh[0] == 503, fresh  # new work waits for the woken pings
        wait_for(lambda: s.api("GET", f"/v1/deploys/{busy['id']}")["successTotal"] == 1, 20,
                 "the busy stage's deploy counted")
