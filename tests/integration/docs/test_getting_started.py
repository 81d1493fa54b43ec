# SPDX-License-Identifier: Apache-2.0
# docs/getting-started.md, run as written: its command blocks marked ```sh test are extracted from the file (not
# copied here) and run in order, as root, in one shell, on a throwaway Debian 12 system (the chroot of
# tests/integration/packaging/system.py) where the programs were installed with `cmake --install` from this
# build, as the guide's first step says. They install the runtime libraries with apt, set up the server and two
# agents, publish, deploy, promote and roll back examples/hello. What the test changes: the guide's ports (8080
# for the server, 8081 and 8082 for the app) become free ports and the server listens on 127.0.0.1 (the machine is
# shared); `sudo` runs the command as is (the blocks run as root); `systemctl` is a stand-in that starts a unit
# from its own [Service] lines (systemctl.sh), since no init system runs in the chroot.
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "packaging"))
sys.path.insert(0, str(HERE.parent / "examples"))
from system import REPO, System  # noqa: E402
from hello_support import free_port  # noqa: E402

BUILD = Path(os.environ.get("SLIPWAY_BUILD_DIR", REPO / "build"))
GUIDE = REPO / "docs" / "getting-started.md"


def marked_blocks(text):
    """The ```sh test blocks of a guide, with the line each starts on."""
    return [(text[:m.start()].count("\n") + 2, m.group(1))
            for m in re.finditer(r"^```sh test\n(.*?)^```$", text, re.M | re.S)]


def script(blocks, ports):
    out = ["set -euo pipefail", "cd /root/slipway"]
    for line, body in blocks:
        for doc_port, port in ports.items():
            body = re.sub(rf"\b{doc_port}\b", str(port), body)
        out.append(f"echo '>>> getting-started.md line {line}'")
        out.append(body)
    out.append("echo '>>> done'")
    return "\n".join(out) + "\n"


@pytest.fixture
def system(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root (chroot, unshare)")
    if not (BUILD / "src" / "server" / "slipway-server").exists():
        pytest.skip("not built")
    cache = (BUILD / "CMakeCache.txt").read_text() if (BUILD / "CMakeCache.txt").exists() else ""
    if re.search(r"^SANITIZE:BOOL=ON$", cache, re.M):
        pytest.skip("a sanitizer build needs its runtime, which the guide's system does not have")
    s = System(tmp_path / "root")
    try:
        yield s
    finally:
        s.destroy()


def install(system):
    """The guide's first step, `sudo cmake --install build`, into the system; its source tree in /root/slipway."""
    r = subprocess.run(["cmake", "--install", str(BUILD), "--prefix", "/usr/local"], capture_output=True, text=True,
                       env=dict(os.environ, DESTDIR=str(system.root)))
    assert r.returncode == 0, r.stdout + r.stderr
    src = system.path("/root/slipway")
    for d in ("packaging", "examples"):
        shutil.copytree(REPO / d, src / d)
    for name, text in (("sudo", '#!/bin/sh\nexec "$@"\n'), ("systemctl", (HERE / "systemctl.sh").read_text())):
        p = system.path("/usr/local/bin/" + name)
        p.write_text(text)
        p.chmod(0o755)


def test_getting_started_runs_as_written(system):
    blocks = marked_blocks(GUIDE.read_text())
    assert len(blocks) >= 8, "getting-started.md has lost its tested blocks"
    install(system)
    ports = {8080: free_port(), 8081: free_port(), 8082: free_port()}
    conf = system.path("/root/slipway/packaging/server.conf.example")
    text = conf.read_text()
    assert "listen = 0.0.0.0:8080" in text
    conf.write_text(text.replace("listen = 0.0.0.0:8080", f"listen = 127.0.0.1:{ports[8080]}"))

    r = system.run("bash", "-c", script(blocks, ports), check=False, timeout=900)
    logs = "".join(f"\n--- {p.name}\n" + p.read_text()[-3000:] for p in system.path("/var/log").glob("slipway*.log"))
    assert r.returncode == 0 and ">>> done" in r.stdout, (
        f"exit {r.returncode}\n{r.stdout[-6000:]}\n{r.stderr[-4000:]}{logs}")

    # where the guide ends: prod was promoted twice and rolled back to the first build, staging serves the second
    def info(port):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/info", timeout=5) as resp:
            return json.loads(resp.read())
    staging, prod = info(ports[8081]), info(ports[8082])
    assert staging["buildId"] != prod["buildId"], (staging, prod)
    assert prod["commit"].startswith("1111111"), prod
    assert staging["commit"].startswith("2222222"), staging
