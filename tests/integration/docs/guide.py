# SPDX-License-Identifier: Apache-2.0
# Runs a guide of docs/ as written: its command blocks marked ```sh test are extracted from the file (not copied
# into the tests) and run in order, as root, in one bash, on a throwaway Debian 12 system (the chroot of
# tests/integration/packaging/system.py) where the programs were installed with `cmake --install` from this
# build, as getting-started.md's first step says; the source tree's packaging/ and examples/ are in /root/slipway,
# where the blocks start. What the tests change: the guide's ports become free ports on 127.0.0.1 (the machine is
# shared); `sudo` runs the command as root or, with `-u USER`, as that user; `systemctl` is a stand-in that
# starts a unit from its own [Service] lines (systemctl.sh), since no init system runs in the chroot.
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "packaging"))
from system import REPO, System  # noqa: E402

BUILD = Path(os.environ.get("SLIPWAY_BUILD_DIR", REPO / "build"))
SUDO = """#!/bin/sh
# sudo stand-in for the docs tests: the blocks already run as root
if [ "${1:-}" = -u ]; then
	user=$2
	shift 2
	cd /
	exec setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups -- "$@"
fi
exec "$@"
"""


def marked_blocks(text):
    """The ```sh test blocks of a guide, with the line each starts on."""
    return [(text[:m.start()].count("\n") + 2, m.group(1))
            for m in re.finditer(r"^```sh test\n(.*?)^```$", text, re.M | re.S)]


def script(name, blocks, ports):
    out = ["set -euo pipefail", "cd /root/slipway"]
    for line, body in blocks:
        for doc_port, port in ports.items():
            body = re.sub(rf"\b{doc_port}\b", str(port), body)
        out.append(f"echo '>>> {name} line {line}'")
        out.append(body)
    out.append("echo '>>> done'")
    return "\n".join(out) + "\n"


def new_system(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root (chroot, unshare)")
    if not (BUILD / "src" / "server" / "slipway-server").exists():
        pytest.skip("not built")
    cache = (BUILD / "CMakeCache.txt").read_text() if (BUILD / "CMakeCache.txt").exists() else ""
    if re.search(r"^SANITIZE:BOOL=ON$", cache, re.M):
        pytest.skip("a sanitizer build needs its runtime, which the guide's system does not have")
    system = System(tmp_path / "root")
    r = subprocess.run(["cmake", "--install", str(BUILD), "--prefix", "/usr/local"], capture_output=True, text=True,
                       env=dict(os.environ, DESTDIR=str(system.root)))
    assert r.returncode == 0, r.stdout + r.stderr
    src = system.path("/root/slipway")
    for d in ("packaging", "examples"):
        shutil.copytree(REPO / d, src / d)
    for name, text in (("sudo", SUDO), ("systemctl", (HERE / "systemctl.sh").read_text())):
        p = system.path("/usr/local/bin/" + name)
        p.write_text(text)
        p.chmod(0o755)
    return system


def run_guide(system, doc, ports, min_blocks):
    """Runs the marked blocks of docs/<doc>; asserts they all succeeded."""
    blocks = marked_blocks((REPO / "docs" / doc).read_text())
    assert len(blocks) >= min_blocks, f"{doc} has lost its tested blocks"
    r = system.run("bash", "-c", script(doc, blocks, ports), check=False, timeout=900)
    logs = "".join(f"\n--- {p}\n" + p.read_text(errors="replace")[-3000:]
                   for p in list(system.path("/var/log").glob("slipway*.log"))
                   + list(system.path("/var/lib/slipway-server").glob("*.log")))
    assert r.returncode == 0 and ">>> done" in r.stdout, (
        f"exit {r.returncode}\n{r.stdout[-6000:]}\n{r.stderr[-4000:]}{logs}")
    return r
