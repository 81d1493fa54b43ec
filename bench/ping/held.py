#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# bench/ping/held.py: what a held ping and an idle keep-alive connection cost the server in memory. A private
# slipway-server with N seeded hosts (as bench.py), every host pinged once (so the heartbeat cache and the idle
# memory exist), then N keep-alive connections each answered one idle ping and left open, RSS compared with before;
# the same on a fresh server with N connections each holding a long-poll ping (`?wait=`).
# Knobs: BENCH_HELD_HOSTS (5000), BENCH_HELD_SERVERS ("label=binary[;name=value...],..."; default the build's
# server: several in one run, each with its own extra settings), SLIPWAY_BUILD_DIR.
import os
import resource
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

N = int(os.environ.get("BENCH_HELD_HOSTS", "5000"))
SERVERS = [tuple(x.split("=", 1)) for x in os.environ.get("BENCH_HELD_SERVERS", "=" + bench.SERVER).split(",")]


def body(i, env_id, deploy_id):
    return ('{"hostId":"bench-%d","hostName":"bench-%d","hostIp":"10.0.0.1","groups":["bench"],'
            '"agentVersion":"bench/1","reports":[{"envId":"%s","deployId":"%s","deployAlias":null,'
            '"deployStage":"SERVING_BUILD","agentStatus":"SUCCEEDED","errorCode":0,"errorMessage":null,'
            '"failCount":0}]}' % (i, i, env_id, deploy_id)).encode()


def request(s, b, wait):
    return (("POST /v1/system/ping%s HTTP/1.1\r\nHost: x\r\nAuthorization: token %s\r\nContent-Type: "
             "application/json\r\nContent-Length: %d\r\n\r\n") % ("?wait=%d" % wait if wait else "", s.token,
                                                                  len(b))).encode() + b


def read_answer(c):
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"}"):
        chunk = c.recv(4096)
        if not chunk:
            raise SystemExit("connection closed before the answer")
        data += chunk
    if not data.startswith(b"HTTP/1.1 200"):
        raise SystemExit("unexpected answer: %r" % data[:200])


def wait_metric(s, name, want, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        v = s.metric(name)
        if v == want:
            return
        if time.monotonic() > deadline:
            raise SystemExit("%s stayed at %d (want %d)" % (name, v, want))
        time.sleep(0.2)


def settle_rss(s):
    """RSS once it stops moving (the server's threads finish what the last requests started)."""
    last = None
    for _ in range(20):
        time.sleep(0.3)
        rss = s.rss_kb()[0]
        if rss == last:
            return rss
        last = rss
    return last


def run(binary, extra, held):
    """RSS before and with N connections: idle keep-alive ones, or (held) each holding a long-poll ping. A server
    of its own for each: memory freed by closed connections is not given back to the system, and would be reused."""
    with tempfile.TemporaryDirectory(prefix="slipway-bench-held-") as d:
        s = bench.Srv(d, extra=["per_ip_connection_limit=0", "max_held_pings=%d" % (N + 10),
                                "max_connections=%d" % (2 * N + 100), "overload_connections=%d" % (2 * N + 50),
                                "connection_timeout=600", "log_level=warn"] + extra)
        s.server = binary
        conns = []
        try:
            env, dep = bench.make_stage(s)
            bench.seed(os.path.join(d, "s.db"), N, env["id"], dep["id"], int(time.time() * 1000))
            s.start()
            addr = s.url[len("http://"):].rsplit(":", 1)
            addr = (addr[0], int(addr[1]))
            # every host once, over one connection: the heartbeat cache and idle memory exist from here on
            c = socket.create_connection(addr, timeout=30)
            for i in range(N):
                c.sendall(request(s, body(i, env["id"], dep["id"]), 0))
                read_answer(c)
            c.close()
            base = settle_rss(s)
            for i in range(N):
                h = socket.create_connection(addr, timeout=30)
                h.sendall(request(s, body(i, env["id"], dep["id"]), 600 if held else 0))
                if not held:
                    read_answer(h)
                conns.append(h)
            if held:
                wait_metric(s, "slipway_pings_held", N)
            return base, settle_rss(s)
        finally:
            for h in conns:
                h.close()
            if s.proc and s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait()


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2 * N + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2 * N + 200), hard))
    rows = []
    for label, spec in SERVERS:
        binary, *extra = spec.split(";")
        bench.log("held bench: %d connections, server %s %s" % (N, label or binary, " ".join(extra)))
        rows.append((label + (" (%s)" % ", ".join(extra) if extra else ""),) + run(binary, extra, False) +
                    run(binary, extra, True))
    print("| server | RSS before, MB | with %d idle keep-alive connections, MB | per idle connection, KB | RSS before, "
          "MB | with %d held pings, MB | per held ping, KB |" % (N, N))
    print("|---|---|---|---|---|---|---|")
    for label, base, idle, base2, held in rows:
        print("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |" % (
            label or "-", base / 1024, idle / 1024, (idle - base) / N, base2 / 1024, held / 1024,
            (held - base2) / N))
    print()
    print("Every host pinged once first (heartbeat cache and idle memory in the base); RSS (VmRSS) read once it "
          "stopped moving; a fresh server for each measure.")


if __name__ == "__main__":
    main()
