# SPDX-License-Identifier: Apache-2.0
# bench/rollback/bench.py: see run.sh. Uses the agent tests' scripted fake ping server.
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("SLIPWAY_BUILD_DIR", str(ROOT / "build"))
sys.path.insert(0, str(ROOT / "tests/integration/agent"))
import agent_support as A  # noqa: E402

N = int(os.environ.get("BENCH_ROLLBACKS", "20"))
STAGES = ["PRE_DOWNLOAD", "DOWNLOADING", "POST_DOWNLOAD", "STAGING", "PRE_RESTART", "RESTARTING",
          "POST_RESTART", "SERVING_BUILD"]
SCRIPT = "#!/bin/sh\nexit 0\n"  # the only required script; every other stage has none


def make_artifact(tmp, name):
    src = tmp / ("src-" + name)
    (src / "teletraan").mkdir(parents=True)
    (src / "teletraan" / "RESTARTING").write_text(SCRIPT)
    (src / "teletraan" / "RESTARTING").chmod(0o755)
    (src / "app.txt").write_text(name * 1000)
    art = tmp / (name + ".tar.gz")
    with tarfile.open(art, "w:gz") as t:
        t.add(src, arcname=".")
    return art, hashlib.sha256(art.read_bytes()).hexdigest()


class Timed(A.Walk):
    """A Walk that notes when it handed out its first goal and when the agent reported SERVING_BUILD done."""

    def __init__(self, **kw):
        super().__init__(stages=STAGES, first_deploy=False, **kw)
        self.t_start = None
        self.t_end = None
        self.finished = threading.Event()

    def __call__(self, req):
        ans = super().__call__(req)
        now = time.monotonic()
        if ans and self.t_start is None:
            self.t_start = now
        if self.done and not self.finished.is_set():
            self.t_end = now
            self.finished.set()
        return ans


def script_time(tree, runs=200):
    """The scripts' own run time: fork + exec of the RESTARTING script, as the agent does it."""
    path = str(tree / "teletraan" / "RESTARTING")
    t = time.monotonic()
    for _ in range(runs):
        subprocess.run([path], check=True)
    return (time.monotonic() - t) / runs


def main():
    tmp = Path(tempfile.mkdtemp(prefix="bench-rollback-"))
    server = A.FakeServer()
    agent = A.Agent(tmp, server.url, long_poll="false", ping_interval="1", heartbeat_interval="60")
    try:
        builds = {}
        for name in ("b1", "b2"):
            art, sha = make_artifact(tmp, name)
            builds[name] = {"id": "Build%sAAAAAAAAAAAAAAA_c0ffee0" % name.upper(), "name": "web",
                            "artifactUrl": "file://" + str(art), "artifactSha256": sha, "repo": "r",
                            "branch": "main", "commit": "c0ffee0" + name, "type": "Github"}
        agent.start()

        def deploy(build, op, i):
            w = Timed(deploy_id="Deploy%03dBBBBBBBBBBBBBBB" % i, op_code=op, build=build, script_variables={})
            server.decide = w
            if not w.finished.wait(60):
                agent.procs[0].terminate()
                print(agent.procs[0].stderr.read(), file=sys.stderr)
                print(server.reports()[-3:], file=sys.stderr)
                raise SystemExit("deploy %d did not finish" % i)
            return w.t_end - w.t_start

        deploy(builds["b1"], "DEPLOY", 0)
        deploy(builds["b2"], "DEPLOY", 1)
        for name in ("b1", "b2"):  # a rollback must never download: take the artifacts away
            os.unlink(builds[name]["artifactUrl"][len("file://"):])
        times = []
        for i in range(N):
            name = "b1" if i % 2 == 0 else "b2"
            times.append(deploy(builds[name], "ROLLBACK", 2 + i))
        # the 8 ping round trips themselves, measured apart: one curl process posting 8 times to the same
        # server (which answers NOOP now), like the agent's 8 sequential pings of one deploy
        server.decide = lambda req: None
        rtts = []
        for _ in range(N):
            t = time.monotonic()
            subprocess.run(["curl", "-s", "-o", "/dev/null"] + ["-X", "POST", "-d", "{}"] +
                           [server.url + "/v1/system/ping"] * 8, check=True, stdout=subprocess.DEVNULL)
            rtts.append(time.monotonic() - t)
        rtt = statistics.median(rtts)
        link = os.readlink(agent.target_dir / "web")
        tree = Path(link)
        st = script_time(tree)
        med = statistics.median(times)
        print("Rollback to a kept build: %d rollbacks alternating between two kept builds (artifacts deleted, so "
              "any download would fail), 8 stages each against an in-process scripted ping server.\n" % N)
        print("| rollbacks | whole deploy median ms | min ms | max ms | 8 ping round trips ms (curl, apart) "
              "| scripts ms (RESTARTING, apart) | agent ms excluding scripts and round trips (median) |")
        print("|---|---|---|---|---|---|---|")
        print("| %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |" % (
            N, med * 1000, min(times) * 1000, max(times) * 1000, rtt * 1000, st * 1000, (med - st - rtt) * 1000))
    finally:
        agent.stop_all()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
