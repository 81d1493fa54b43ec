#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# bench/ping/callgrind.py: instructions per idle ping and per GET /healthz, counted by callgrind (reproducible on a
# busy machine, unlike wall-clock rates). A private slipway-server under `valgrind --tool=callgrind` with N seeded hosts
# (as bench.py); K hosts ping once (full run), the counters are zeroed, the same K hosts ping again over 4 keep-alive
# connections (every answer checked: 200 and NOOP), the counters are dumped; then K GET /healthz the same way.
# Counts include every server thread. Needs valgrind (not installed by scripts/deps.sh).
# usage: SLIPWAY_BUILD_DIR=build /usr/bin/python3 bench/ping/callgrind.py [N [K]]
import glob
import http.client
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402

BODY = ('{"hostId":"bench-%d","hostName":"bench-%d","hostIp":"10.0.0.1","groups":["bench"],"agentVersion":"bench/1",'
        '"reports":[{"envId":"%s","deployId":"%s","deployAlias":null,"deployStage":"SERVING_BUILD",'
        '"agentStatus":"SUCCEEDED","errorCode":0,"errorMessage":null,"failCount":0}]}')


def load(srv, env_id, dep_id, hosts, kind, conns=4):
    host, port = srv.url[len("http://"):].rsplit(":", 1)

    def worker(part):
        c = http.client.HTTPConnection(host, int(port), timeout=120)
        for h in part:
            if kind == "ping":
                c.request("POST", "/v1/system/ping", BODY % (h, h, env_id, dep_id),
                          {"Authorization": "token " + srv.token, "Content-Type": "application/json"})
            else:
                c.request("GET", "/healthz")
            r = c.getresponse()
            d = r.read()
            assert r.status == 200, (r.status, d)
            assert kind != "ping" or b'"NOOP"' in d, d
        c.close()
    ts = [threading.Thread(target=worker, args=(hosts[i::conns],)) for i in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def dumped(out, pid, trigger):
    subprocess.run(["callgrind_control", "-d", trigger, str(pid)], capture_output=True, check=True)
    for _ in range(600):
        fs = sorted(glob.glob("%s/cg.%d.*" % (out, pid)), key=lambda f: int(f.rsplit(".", 1)[1]))
        if fs and ("Trigger: dump " + trigger) in open(fs[-1]).read():
            return int(re.search(r"^(?:totals|summary): (\d+)", open(fs[-1]).read(), re.M).group(1))
        time.sleep(0.1)
    raise SystemExit("no callgrind dump for " + trigger)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    real = bench.SERVER
    with tempfile.TemporaryDirectory(prefix="slipway-callgrind-") as d:
        wrapper = os.path.join(d, "vg.sh")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file=%s/cg.%%p --dump-instr=no '
                    '%s "$@"\n' % (d, real))
        os.chmod(wrapper, 0o755)
        s = bench.Srv(d)
        s.start()
        env = s.call("POST", "/v1/envs", {"envName": "bench", "stageName": "prod"})
        s.call("PUT", "/v1/envs/bench/prod/capacity?capacityType=GROUP", ["bench"])
        b = s.call("POST", "/v1/builds", {"name": "bench", "repo": "acme/bench", "branch": "main",
                                          "commit": "abcdef0123456", "artifactUrl": "https://x.example/a.tgz"})
        dep = s.call("POST", "/v1/envs/bench/prod/deploys?buildId=" + b["id"])
        s.stop()
        bench.seed(os.path.join(d, "s.db"), n, env["id"], dep["id"], int(time.time() * 1000))
        bench.SERVER = wrapper
        try:
            start_slow(s)
            hosts = list(range(min(n, k)))
            load(s, env["id"], dep["id"], hosts, "ping")
            load(s, env["id"], dep["id"], list(range(50)), "healthz")
            subprocess.run(["callgrind_control", "-z", str(s.proc.pid)], capture_output=True, check=True)
            load(s, env["id"], dep["id"], hosts, "ping")
            ip = dumped(d, s.proc.pid, "ping")
            subprocess.run(["callgrind_control", "-z", str(s.proc.pid)], capture_output=True, check=True)
            load(s, env["id"], dep["id"], hosts, "healthz")
            ih = dumped(d, s.proc.pid, "healthz")
            s.stop()
        finally:
            if s.proc and s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait()
        k = len(hosts)
        print("| hosts | measured requests | instructions / idle ping | instructions / GET /healthz | ratio |")
        print("|---|---|---|---|---|")
        print("| %d | %d | %.0f | %.0f | %.2f |" % (n, k, ip / k, ih / k, ip / ih))


def start_slow(s):
    """bench.Srv.start with a longer wait for the port file (valgrind starts slowly)."""
    pf = os.path.join(s.dir, "port")
    if os.path.exists(pf):
        os.unlink(pf)
    s.log = open(os.path.join(s.dir, "server.log"), "ab")
    s.proc = subprocess.Popen([bench.SERVER, "--listen", "127.0.0.1:0", "--db", "sqlite:" + s.dir + "/s.db",
                               "--set", "port_file=" + pf, "log_level=warn", "http_threads=" + bench.HTTP_THREADS,
                               "transition_period=3600", "janitor_period=3600", "promote_period=3600"],
                              stdout=s.log, stderr=s.log)
    for _ in range(6000):
        if os.path.exists(pf) and open(pf).read().strip():
            break
        if s.proc.poll() is not None:
            raise SystemExit("server exited: see " + s.dir + "/server.log")
        time.sleep(0.02)
    s.url = "http://" + open(pf).read().strip()
    s.token = open(os.path.join(s.dir, "admin.token")).read().strip()


if __name__ == "__main__":
    main()
