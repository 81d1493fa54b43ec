# SPDX-License-Identifier: Apache-2.0
# bench/artifact: time `slipway-agent --internal-download` (download to <tmp>/artifact with streaming SHA-256, then
# checked extraction into <tmp>/tree) against `curl -s URL | tar xzf -` for the same tar.gz from a local nginx.
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
BUILD = os.environ.get("SLIPWAY_BUILD_DIR", os.path.join(ROOT, "build"))
MB = int(os.environ.get("BENCH_ARTIFACT_MB", "200"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def make_artifact(tmp):
    src = os.path.join(tmp, "src")
    os.makedirs(src)
    chunk = 4 * 1024 * 1024
    text = (b"line of a fairly compressible log or config file 0123456789\n" * (chunk // 61 + 1))[:chunk]
    for i in range(max(1, MB // 4)):
        with open(os.path.join(src, f"f{i:04d}.bin"), "wb") as f:
            # mostly incompressible, so the tar.gz itself is about MB (the "200 MB tar.gz")
            f.write(os.urandom(chunk) if i % 8 else text)
    www = os.path.join(tmp, "www")
    os.makedirs(www)
    art = os.path.join(www, "app.tar.gz")
    subprocess.run(["tar", "czf", art, "-C", src, "."], check=True)
    shutil.rmtree(src)
    return art


def start_nginx(tmp, port):
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/cb; proxy_temp_path {tmp}/px; fastcgi_temp_path {tmp}/fc;
    uwsgi_temp_path {tmp}/uw; scgi_temp_path {tmp}/sc;
    sendfile on;
    server {{ listen 127.0.0.1:{port}; root {tmp}/www; }}
}}
""")
    user = ["-g", "user root;"] if os.geteuid() == 0 else []
    p = subprocess.Popen(["nginx", "-c", conf, "-p", tmp] + user, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return p
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise SystemExit("nginx did not start")


PEAK_PRIVATE_KB = []


def helper_argv():
    agent = os.path.join(BUILD, "src/agent/slipway-agent")
    if not os.access(agent, os.X_OK):
        raise SystemExit(f"{agent} not built")
    return [agent, "--internal-download"]


def run_helper(url, work):
    os.makedirs(work)
    job = json.dumps({"url": url, "allowHttp": True, "maxArtifactBytes": 1 << 40, "maxExtractedBytes": 1 << 40})
    t = time.monotonic()
    errf = tempfile.TemporaryFile()
    p = subprocess.Popen(helper_argv(), cwd=work, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errf)
    p.stdin.write(job.encode())
    p.stdin.close()
    peak_private_kb = 0
    while p.poll() is None:
        # private memory = Private_Clean + Private_Dirty of the helper (shared libraries excluded)
        try:
            with open(f"/proc/{p.pid}/smaps_rollup") as f:
                kb = sum(int(line.split()[1]) for line in f if line.startswith(("Private_Clean:", "Private_Dirty:")))
            peak_private_kb = max(peak_private_kb, kb)
        except (OSError, ValueError):
            pass
        time.sleep(0.01)
    dt = time.monotonic() - t
    PEAK_PRIVATE_KB.append(peak_private_kb)
    if p.returncode != 0:
        errf.seek(0)
        raise SystemExit(f"helper failed: {errf.read().decode(errors='replace')}")
    return dt


def run_curl_tar(url, work):
    os.makedirs(work)
    t = time.monotonic()
    subprocess.run(["sh", "-c", 'curl -sf "$1" | tar xzf - -C "$2"', "sh", url, work], check=True)
    return time.monotonic() - t


def main():
    tmp = tempfile.mkdtemp(prefix="bench-artifact-")
    os.chmod(tmp, 0o755)
    nginx = None
    try:
        log(f"bench/artifact: building a {MB} MB tar.gz")
        art = make_artifact(tmp)
        size = os.path.getsize(art)
        port = free_port()
        nginx = start_nginx(tmp, port)
        url = f"http://127.0.0.1:{port}/app.tar.gz"
        results = {"helper": [], "curl|tar": []}
        for i in range(RUNS):
            for name, fn in (("helper", run_helper), ("curl|tar", run_curl_tar)):
                work = os.path.join(tmp, f"{name.replace('|', '_')}-{i}")
                subprocess.run(["sync"])
                dt = fn(url, work)
                results[name].append(dt)
                log(f"bench/artifact: run {i + 1}/{RUNS} {name}: {dt:.2f} s")
                shutil.rmtree(work)
        print(f"Artifact: {size / 1e6:.0f} MB tar.gz ({MB} MB extracted, 7/8 random), nginx on loopback, "
              f"{RUNS} runs each, median.\n")
        print("| method | median s | min s | MB/s (artifact) |")
        print("|---|---|---|---|")
        for name, xs in results.items():
            med = statistics.median(xs)
            print(f"| {name} | {med:.2f} | {min(xs):.2f} | {size / 1e6 / med:.0f} |")
        h, c = statistics.median(results["helper"]), statistics.median(results["curl|tar"])
        print(f"\nhelper / curl|tar = {h / c:.2f} (the helper also hashes with SHA-256, checks every entry, and "
              f"writes the archive to disk before extracting it)")
        print(f"\nhelper peak private memory (Private_Clean + Private_Dirty, sampled every 10 ms): "
              f"max {max(PEAK_PRIVATE_KB) / 1024:.1f} MiB over {len(PEAK_PRIVATE_KB)} runs")
    finally:
        if nginx:
            nginx.terminate()
            try:
                nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                nginx.kill()
                nginx.wait()
        if os.environ.get("BENCH_KEEP_TMP") == "1":
            log(f"bench/artifact: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
