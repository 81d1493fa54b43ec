# SPDX-License-Identifier: Apache-2.0
# The packages of `make package` installed for real, with apt, into a throwaway Debian 12 system (system.py: a
# chroot from Debian's archive, cached in build/chroot): the maintainer scripts run, the server and an agent start
# from the installed units' command lines, the installed CLI publishes and deploys examples/hello; then both
# packages are upgraded to a higher version (the same packages re-packed with a higher version number: dpkg's
# upgrade path, conffiles and maintainer scripts are what is tested) while the app keeps serving; `apt remove`
# keeps configuration and data, `apt purge` removes them. The tests run in order and share one system.
import glob
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
from system import REPO, System, Unit  # noqa: E402
from hello_support import free_port, pack, wait_for  # noqa: E402

DEB_DIR = Path(os.environ.get("SLIPWAY_DEB_DIR", REPO / "build" / "package"))
# run by `make package-test` (run.sh sets SLIPWAY_DEB_DIR), not by the integration suites: packages of an older
# tree may be lying in build/package
pytestmark = pytest.mark.skipif("SLIPWAY_DEB_DIR" not in os.environ, reason="make package-test runs this suite")
PACKAGES = ("slipway-server", "slipway-agent", "slipway")
HOST = "pkg-host"


def debs():
    """The newest slipway-server, slipway-agent and slipway packages of one version."""
    found = sorted(glob.glob(str(DEB_DIR / "slipway-server_*.deb")), key=os.path.getmtime)
    if not found:
        pytest.skip(f"no slipway-server_*.deb in {DEB_DIR} (run make package)")
    version = os.path.basename(found[-1]).split("_")[1]
    paths = {p: glob.glob(str(DEB_DIR / f"{p}_{version}_*.deb")) for p in PACKAGES}
    assert all(len(v) == 1 for v in paths.values()), paths
    return version, {p: Path(v[0]) for p, v in paths.items()}


def repack(deb, version, out):
    """deb with its Version raised to `version` (the upgrade)."""
    tree = out / (deb.name + ".d")
    subprocess.run(["dpkg-deb", "-R", str(deb), str(tree)], check=True)
    control = tree / "DEBIAN" / "control"
    text = control.read_text()
    old = next(line for line in text.splitlines() if line.startswith("Version: "))
    control.write_text(text.replace(old, "Version: " + version))
    new = out / deb.name.replace(old.split()[1], version)
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "-b", str(tree), str(new)], check=True,
                   capture_output=True)
    shutil.rmtree(tree)
    return new


class Api:
    def __init__(self, url, token):
        self.url, self.token = url, token

    def get(self, path):
        req = urllib.request.Request(self.url + path, headers={"Authorization": "token " + self.token})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")

    def post(self, path, body):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": "token " + self.token})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")


def app_info(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/info", timeout=5) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def st(tmp_path_factory):
    """The shared state of the ordered tests below: the system, its units, the server's URL and tokens."""
    if os.geteuid() != 0:
        pytest.skip("needs root (chroot, unshare)")
    version, packages = debs()
    work = tmp_path_factory.mktemp("install")
    system = System(work / "root")
    state = {"system": system, "work": work, "version": version, "debs": packages, "failed": False}
    try:
        yield state
    finally:
        system.destroy()


@pytest.fixture(autouse=True)
def in_order(st, request):
    """Each step needs the ones before it: after a failure the rest are skipped."""
    if st["failed"]:
        pytest.skip("an earlier step failed")
    before = request.session.testsfailed
    yield
    if request.session.testsfailed != before:
        st["failed"] = True


def apt(system, *args):
    return system.run("apt-get", "-y", "-q", "-o", "Dpkg::Use-Pty=0", *args, timeout=900)


def install(st, packages):
    """apt install of local .deb files, copied into the system first."""
    system = st["system"]
    (system.path("/tmp/debs")).mkdir(exist_ok=True)
    names = []
    for p in packages:
        shutil.copy(p, system.path("/tmp/debs"))
        names.append("/tmp/debs/" + p.name)
    return apt(system, "install", "--no-install-recommends", *names)


def dpkg_status(system, pkg):
    r = system.run("dpkg-query", "-W", "-f", "${Status} ${Version}", pkg, check=False)
    return r.stdout.strip() if r.returncode == 0 else ""


def test_install_with_apt(st):
    system = st["system"]
    apt(system, "update")
    install(st, st["debs"].values())
    for p in PACKAGES:
        assert dpkg_status(system, p) == "install ok installed " + st["version"]
    passwd = system.path("/etc/passwd").read_text()
    assert any(line.startswith("slipway:") for line in passwd.splitlines())
    # postinst: owners and modes; the units enabled (the agent's too, started by the admin once configured)
    stat = system.run("stat", "-c", "%U:%G %a %n", "/var/lib/slipway-server", "/etc/slipway/server.conf",
                      "/etc/slipway/agent.conf", "/var/lib/slipway/agent").stdout.split("\n")
    assert stat[:4] == ["slipway:slipway 750 /var/lib/slipway-server", "root:slipway 640 /etc/slipway/server.conf",
                        "root:root 600 /etc/slipway/agent.conf", "root:root 700 /var/lib/slipway/agent"], stat
    wants = system.path("/etc/systemd/system/multi-user.target.wants")
    assert (wants / "slipway-server.service").is_symlink() and (wants / "slipway-agent.service").is_symlink()
    assert system.run("slipway", "--version").stdout.startswith("slipway ")
    assert system.path("/usr/share/man/man1/slipway-server.1.gz").exists()
    assert system.path("/usr/share/man/man8/slipway-agent.8.gz").exists()
    assert system.path("/usr/share/doc/slipway-server/getting-started.md").exists()


def configure_server(st):
    system = st["system"]
    port = free_port()
    conf = system.path("/etc/slipway/server.conf")
    text = conf.read_text()
    lines = [f"listen = 127.0.0.1:{port}" if line.startswith("listen =") else line for line in text.splitlines()]
    assert lines != text.splitlines(), "server.conf has no listen line"
    conf.write_text("\n".join(lines) + "\n")
    st["url"] = f"http://127.0.0.1:{port}"


def wait_healthy(st, unit):
    def healthy():
        assert unit.running(), Path(unit.log).read_text()
        try:
            with urllib.request.urlopen(st["url"] + "/healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False
    wait_for(healthy, 30, "the server to answer /healthz")


def test_server_starts_from_its_unit(st):
    system = st["system"]
    configure_server(st)
    st["server"] = Unit(system, "slipway-server.service", st["work"] / "server.log")
    st["server"].start()
    wait_healthy(st, st["server"])
    token_file = system.path("/var/lib/slipway-server/admin.token")
    assert system.run("stat", "-c", "%U %a", "/var/lib/slipway-server/admin.token").stdout.strip() == "slipway 600"
    st["admin"] = token_file.read_text().strip()
    st["api"] = Api(st["url"], st["admin"])
    # the agent gets a PINGER token, as getting-started.md says
    st["pinger"] = st["api"].post("/v1/system/token_roles", {"name": "agents", "role": "PINGER", "expireDate": 0})[
        "token"]


def test_agent_starts_from_its_unit_and_registers(st):
    system = st["system"]
    conf = system.path("/etc/slipway/agent.conf")
    text = conf.read_text()
    lines = [line for line in text.splitlines() if not line.startswith(("server_url =", "token ="))]
    lines += [f"server_url = {st['url']}", f"token = {st['pinger']}", f"host_name = {HOST}", f"host_id = {HOST}",
              "download_allow_file_dirs = /srv/artifacts"]
    conf.write_text("\n".join(lines) + "\n")
    st["agent"] = Unit(system, "slipway-agent.service", st["work"] / "agent.log")
    st["agent"].start()

    def registered():
        assert st["agent"].running(), Path(st["agent"].log).read_text()
        try:
            return bool(st["api"].get(f"/v1/hosts/{HOST}"))
        except urllib.error.HTTPError:
            return False
    wait_for(registered, 60, "the agent to register its host")


def slipway(st, *args):
    """The installed CLI, run in the system."""
    return st["system"].run("slipway", "--server", st["url"], "--token", st["admin"], *args, timeout=120)


def publish(st, commit, *flags):
    system = st["system"]
    artifacts = system.path("/srv/artifacts")
    artifacts.mkdir(parents=True, exist_ok=True)
    info = pack(artifacts / f"hello-{commit}.tar.gz", "--commit", commit, *flags)
    inside = "/srv/artifacts/" + os.path.basename(info["artifact"])
    out = slipway(st, "--json", "build", "publish", "--name", "hello", "--repo", "acme/hello", "--branch", "main",
                  "--commit", info["commit"], "--artifact-url", "file://" + inside, "--artifact", inside).stdout
    return json.loads(out)["id"]


def deployed(st, build_id):
    """Waits until the app serves build_id and the deploy succeeded; the app's pid."""
    def serving():
        try:
            return app_info(st["app_port"])["buildId"] == build_id
        except (OSError, ValueError, KeyError):
            return False
    wait_for(serving, 120, f"the app to serve build {build_id}")
    wait_for(lambda: st["api"].get("/v1/envs/hello/staging/deploys/current")["state"] in ("SUCCEEDING", "SUCCEEDED"),
             60, "the deploy to succeed")
    return app_info(st["app_port"])["pid"]


def test_cli_deploys_a_build(st):
    st["app_port"] = free_port()
    slipway(st, "env", "create", "hello/staging")
    slipway(st, "env", "capacity", "add", "hello/staging", "--host", HOST)
    slipway(st, "env", "scripts", "set", "hello/staging", f"PORT={st['app_port']}", "GREETING=Hello packaged")
    st["build1"] = publish(st, "1a1a1a1a")
    slipway(st, "deploy", "hello/staging", "--build", st["build1"])
    st["app_pid"] = deployed(st, st["build1"])
    st["deploy1"] = st["api"].get("/v1/envs/hello/staging/deploys/current")["id"]
    assert "hello/staging" in slipway(st, "status", "hello/staging").stdout


class Poller(threading.Thread):
    """GET /health of the app every 50 ms; counts answers and failures."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.ok, self.failures, self.stop = port, 0, [], threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                    self.ok += 1 if r.status == 200 else 0
            except OSError as e:
                self.failures.append(repr(e))
            time.sleep(0.05)


def test_upgrade_keeps_everything_and_the_app_serving(st):
    system = st["system"]
    newer = st["version"] + "+up1"
    assert subprocess.run(["dpkg", "--compare-versions", newer, "gt", st["version"]]).returncode == 0
    out = st["work"] / "newer"
    out.mkdir()
    new = {p: repack(d, newer, out) for p, d in st["debs"].items()}
    agent_state = sorted(p.name for p in system.path("/var/lib/slipway/agent").iterdir())
    poller = Poller(st["app_port"])
    poller.start()

    # the agent: the package is upgraded under the running agent, then restarted (systemd's try-restart)
    install(st, [new["slipway-agent"]])
    assert st["agent"].stop() == 0
    assert system.pids("hello-server"), "the app stopped with the agent"
    st["agent"].start()
    assert app_info(st["app_port"])["pid"] == st["app_pid"]

    # the server: stopped, upgraded with the CLI, started again (it migrates its schema at start)
    assert st["server"].stop() == 0
    install(st, [new["slipway-server"], new["slipway"]])
    for p in PACKAGES:
        assert dpkg_status(system, p) == "install ok installed " + newer
    st["server"].start()
    wait_healthy(st, st["server"])
    poller.stop.set()
    poller.join()
    assert not poller.failures and poller.ok > 0, poller.failures[:5]

    # nothing lost: the edited conffiles, the admin token, the build, the deploy, the agent's state
    assert f"listen = {st['url'][7:]}" in system.path("/etc/slipway/server.conf").read_text()
    assert f"host_name = {HOST}" in system.path("/etc/slipway/agent.conf").read_text()
    assert system.path("/var/lib/slipway-server/admin.token").read_text().strip() == st["admin"]
    assert st["api"].get(f"/v1/builds/{st['build1']}")["commit"].startswith("1a1a1a1a")
    assert st["api"].get("/v1/envs/hello/staging/deploys/current")["id"] == st["deploy1"]
    assert sorted(p.name for p in system.path("/var/lib/slipway/agent").iterdir()) == agent_state
    assert app_info(st["app_port"])["pid"] == st["app_pid"]
    # and the upgraded pair deploys: a second build replaces the first
    build2 = publish(st, "2b2b2b2b")
    slipway(st, "deploy", "hello/staging", "--build", build2)
    assert deployed(st, build2) != st["app_pid"]


def test_remove_keeps_configuration_and_data(st):
    system = st["system"]
    assert st["agent"].stop() == 0
    assert st["server"].stop() == 0
    apt(system, "remove", *PACKAGES)
    for p in ("slipway-server", "slipway-agent"):
        assert dpkg_status(system, p).startswith("deinstall ok config-files"), dpkg_status(system, p)
    assert dpkg_status(system, "slipway") in ("", "unknown ok not-installed ")  # no conffiles: nothing kept
    for gone in ("/usr/bin/slipway-server", "/usr/sbin/slipway-agent", "/usr/bin/slipway"):
        assert not system.path(gone).exists(), gone
    for kept in ("/etc/slipway/server.conf", "/etc/slipway/agent.conf", "/var/lib/slipway-server/slipway.db",
                 "/var/lib/slipway-server/admin.token", "/var/lib/slipway/agent", "/var/lib/slipway/builds/hello",
                 "/var/log/slipway/hello.log"):
        assert system.path(kept).exists(), kept


def test_purge_removes_them(st):
    system = st["system"]
    apt(system, "purge", "slipway-server", "slipway-agent")
    for p in PACKAGES:
        assert dpkg_status(system, p) in ("", "unknown ok not-installed "), dpkg_status(system, p)
    for gone in ("/etc/slipway", "/var/lib/slipway-server", "/var/lib/slipway/agent", "/var/lib/slipway/builds",
                 "/var/lib/slipway/current", "/var/log/slipway", "/var/lib/slipway"):
        assert not os.path.lexists(system.path(gone)), gone
