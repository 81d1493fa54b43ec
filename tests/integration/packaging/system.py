# SPDX-License-Identifier: Apache-2.0
# A throwaway Debian 12 system for the package install test (test_install.py): a minimal chroot made once by
# debootstrap from Debian's archive and cached in the build tree (build/chroot/bookworm, SLIPWAY_CHROOT_CACHE), then
# copied for each run. Commands run in it through a private mount namespace (unshare) that mounts /proc and a
# /dev/shm (PostgreSQL needs one): nothing is
# ever mounted on the machine itself, so removing the copy cannot reach outside it. It shares the machine's network
# (loopback included), so the test talks to the installed server and app on 127.0.0.1.
# Units are "started" the way systemd would, from their [Service] lines: ExecStartPre, then ExecStart as User= and
# Group= in WorkingDirectory= with UMask=; stopped with KillSignal= to the main process only (the units'
# KillMode=process for the agent; the server's own children are none).
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SUITE = "bookworm"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# the private mount namespace's script: $0 is the root, the rest the command; UMASK and WD come from env -i
_ENTER = ('mount -t proc proc "$0/proc" && mount -t tmpfs -o mode=1777 shm "$0/dev/shm" && exec chroot "$0" /usr/bin/env -i PATH="$CPATH" HOME=/root LANG=C.UTF-8 '
          'DEBIAN_FRONTEND=noninteractive sh -c \'umask "$1"; cd "$2" && shift 2 && exec "$@"\' sh "$CUMASK" "$CWD" "$@"')


def _mounts_under(path):
    path = str(path).rstrip("/") + "/"
    with open("/proc/self/mounts") as f:
        return [line.split()[1] for line in f if (line.split()[1] + "/").startswith(path)]


def safe_rmtree(path):
    """rm -rf a chroot, refusing if anything is mounted below it (it never should be)."""
    if not os.path.exists(path):
        return
    mounted = _mounts_under(path)
    assert not mounted, f"refusing to delete {path}: mounted below it: {mounted}"
    shutil.rmtree(path)


def _mirror():
    """The Debian mirror this machine's apt uses (so a CI behind a local mirror uses it), else debootstrap's own."""
    if os.environ.get("SLIPWAY_DEBIAN_MIRROR"):
        return os.environ["SLIPWAY_DEBIAN_MIRROR"]
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for stanza in sources.read_text().split("\n\n"):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            suites = re.search(r"^Suites:(.*)$", stanza, re.M)
            if uris and suites and SUITE in suites.group(1).split():
                return uris.group(1)
    lst = Path("/etc/apt/sources.list")
    if lst.exists():
        m = re.search(rf"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+{SUITE}\s", lst.read_text(), re.M)
        if m:
            return m.group(1)
    return None


def base_system():
    """The cached minimal system, made by debootstrap on first use (about 2-3 minutes, 210 MB)."""
    cache = Path(os.environ.get("SLIPWAY_CHROOT_CACHE", REPO / "build" / "chroot")) / SUITE
    if (cache / ".complete").exists():
        return cache
    if not shutil.which("debootstrap"):
        raise RuntimeError("debootstrap is not installed (scripts/deps.sh package)")
    tmp = cache.with_name(SUITE + ".tmp")
    safe_rmtree(tmp)
    safe_rmtree(cache)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    mirror = _mirror()
    # in a private mount namespace: the /proc and /sys debootstrap mounts inside the target vanish with it
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "debootstrap", "--variant=minbase",
                        SUITE, str(tmp)] + ([mirror] if mirror else []),
                       capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    tmp.rename(cache)
    (cache / ".complete").write_text(time.strftime("%Y-%m-%d\n"))
    return cache


class System:
    """A copy of the base system under `root`; run() executes commands in it."""

    def __init__(self, root):
        self.root = Path(root)
        safe_rmtree(self.root)
        r = subprocess.run(["cp", "-a", str(base_system()), str(self.root)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        (self.root / ".complete").unlink()
        shutil.copy("/etc/resolv.conf", self.root / "etc" / "resolv.conf")
        (self.root / "dev" / "shm").mkdir(exist_ok=True)
        # no init system runs here: maintainer scripts must not try to start services
        policy = self.root / "usr" / "sbin" / "policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)

    def argv(self, argv, user=None, group=None):
        if user:
            argv = ["setpriv", "--reuid", user, "--regid", group or user, "--init-groups", "--"] + list(argv)
        return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", _ENTER, str(self.root)] + list(argv)

    def env(self, cwd="/", umask="0022"):
        return dict(os.environ, CPATH=PATH, CWD=cwd, CUMASK=umask)

    def run(self, *argv, check=True, timeout=600, **kw):
        r = subprocess.run(self.argv(argv, **kw), env=self.env(), capture_output=True, text=True, timeout=timeout)
        if check:
            assert r.returncode == 0, f"{' '.join(argv)}: exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        return r

    def path(self, p):
        return self.root / p.lstrip("/")

    def pids(self, name=None):
        """pids of the processes whose root directory is this system (servers, agents, deployed apps), or only
        those whose command is `name`."""
        found = []
        for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
            try:
                if os.readlink(f"/proc/{pid}/root") != str(self.root):
                    continue
                with open(f"/proc/{pid}/comm") as f:
                    if name is None or f.read().strip() == name:
                        found.append(int(pid))
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                pass
        return found

    def destroy(self):
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.1)
        safe_rmtree(self.root)


class Unit:
    """An installed systemd unit of the system, started and stopped from its own [Service] lines."""

    def __init__(self, system, name, log):
        self.system, self.name, self.log = system, name, log
        self.proc = None

    def service(self):
        text = self.system.path(f"/lib/systemd/system/{self.name}").read_text()
        svc = {}
        section = None
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("["):
                section = line
            elif section == "[Service]" and "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                svc.setdefault(key, []).append(value)
        return svc

    def _argv(self, svc, key):
        argv = shlex.split(svc[key][-1])
        kw = {"user": svc.get("User", [None])[-1], "group": svc.get("Group", [None])[-1]}
        return self.system.argv(argv, **kw), self.system.env(svc.get("WorkingDirectory", ["/"])[-1],
                                                             svc.get("UMask", ["0022"])[-1])

    def start(self):
        svc = self.service()
        for key in ("ExecStartPre",):
            if key in svc:
                argv, env = self._argv(svc, key)
                r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
                assert r.returncode == 0, f"{self.name} {key}: {r.stdout}{r.stderr}"
        argv, env = self._argv(svc, "ExecStart")
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self.proc

    def stop(self):
        """KillSignal= to the main process, as systemd does with KillMode=process; its exit code."""
        svc = self.service()
        sig = getattr(signal, svc.get("KillSignal", ["SIGTERM"])[-1])
        timeout = float(svc.get("TimeoutStopSec", ["90"])[-1])
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self.proc = None
        return rc

    def running(self):
        return self.proc is not None and self.proc.poll() is None
