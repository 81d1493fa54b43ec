# SPDX-License-Identifier: Apache-2.0
# The Debian packages of `make package` (SLIPWAY_DEB_DIR, set by run.sh): lintian has no errors; each
# package unpacked with `dpkg -x` into a throwaway root (the machine's own dpkg database is not touched) has its
# files, conffiles, modes, units and maintainer scripts; `systemd-analyze verify` is clean for both units and the
# server's unit rates 2.0 or better; the server and the agent start from their units' ExecStart lines (paths moved
# into the throwaway root). `make package-test` then deploys a build with these binaries
# (tests/integration/examples/test_hello_agent.py: deploy, rollback, and the restarts an upgrade does).
import glob
import json
import os
import re
import shlex
import subprocess
import time
import urllib.error
import urllib.request

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DEB_DIR = os.environ.get("SLIPWAY_DEB_DIR", os.path.join(REPO, "build", "package"))
# run by `make package-test` (run.sh sets SLIPWAY_DEB_DIR), not by the integration suites: packages of an older
# tree may be lying in build/package
pytestmark = pytest.mark.skipif("SLIPWAY_DEB_DIR" not in os.environ, reason="make package-test runs this suite")
PACKAGES = ("slipway-server", "slipway-agent", "slipway")


def deb(name):
    found = sorted(glob.glob(os.path.join(DEB_DIR, f"{name}_*.deb")), key=os.path.getmtime)
    if not found:
        pytest.skip(f"no {name}_*.deb in {DEB_DIR} (run make package)")
    return found[-1]


def run(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=kw.pop("timeout", 300), **kw)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = tmp_path_factory.mktemp("root")
    for p in PACKAGES:
        x = run("dpkg-deb", "-x", deb(p), str(r))
        assert x.returncode == 0, x.stderr
    return r


def control(pkg, field):
    return run("dpkg-deb", "-f", deb(pkg), field).stdout.strip()


def member(pkg, name):
    r = run("dpkg-deb", "-I", deb(pkg), name)
    return r.stdout if r.returncode == 0 else None


def exec_line(unit_text, key):
    m = re.search(rf"^{key}=(.*)$", unit_text, re.M)
    assert m, key
    return shlex.split(m.group(1))


def test_lintian_has_no_errors():
    changes = sorted(glob.glob(os.path.join(DEB_DIR, "slipway_*.changes")), key=os.path.getmtime)
    if not changes:
        pytest.skip("no .changes (run make package)")
    r = run("lintian", "--allow-root", changes[-1], timeout=600)
    errors = [line for line in r.stdout.splitlines() if line.startswith("E:")]
    assert not errors, r.stdout
    assert r.returncode == 0, r.stdout + r.stderr


def test_files_conffiles_and_modes(root):
    assert os.access(root / "usr/bin/slipway-server", os.X_OK)
    assert os.access(root / "usr/sbin/slipway-agent", os.X_OK)
    assert os.access(root / "usr/bin/slipway", os.X_OK)
    assert "complete" in (root / "usr/share/bash-completion/completions/slipway").read_text()
    assert (root / "usr/share/zsh/vendor-completions/_slipway").read_text().startswith("#compdef slipway")
    assert "complete -c slipway" in (root / "usr/share/fish/vendor_completions.d/slipway.fish").read_text()
    assert member("slipway-server", "conffiles").split() == ["/etc/slipway/server.conf"]
    assert member("slipway-agent", "conffiles").split() == ["/etc/slipway/agent.conf"]
    assert oct(os.stat(root / "etc/slipway/agent.conf").st_mode & 0o777) == "0o600"
    assert oct(os.stat(root / "var/lib/slipway/agent").st_mode & 0o777) == "0o700"
    for d in ("var/lib/slipway-server", "var/lib/slipway/builds", "var/log/slipway"):
        assert (root / d).is_dir(), d
    # Depends computed from the shared libraries
    assert "libmicrohttpd" in control("slipway-server", "Depends")
    assert "libarchive" in control("slipway-agent", "Depends")
    assert "libcurl" in control("slipway", "Depends")
    versions = {control(p, "Version") for p in PACKAGES}
    assert len(versions) == 1, versions


def test_maintainer_scripts():
    post = member("slipway-server", "postinst")
    assert "adduser --system" in post and "chown slipway:slipway /var/lib/slipway-server" in post
    assert "deb-systemd-helper" in post  # the unit is enabled
    assert "rm -rf /var/lib/slipway-server" in member("slipway-server", "postrm")
    agent_post = member("slipway-agent", "postinst")
    assert "try-restart slipway-agent.service" in agent_post
    assert "rm -rf /var/lib/slipway/agent /var/lib/slipway/builds" in member("slipway-agent", "postrm")
    for pkg in ("slipway-server", "slipway-agent"):
        for script in ("postinst", "postrm", "prerm"):
            text = member(pkg, script)
            if text is not None:
                r = subprocess.run(["sh", "-n"], input=text, capture_output=True, text=True)
                assert r.returncode == 0, f"{pkg} {script}: {r.stderr}"


def test_units_verify_and_server_security(root, tmp_path):
    # verify checks that ExecStart's programs exist: the copies name the unpacked ones (the host's own units,
    # e.g. network-online.target, are the dependencies)
    units = []
    for u in ("slipway-server.service", "slipway-agent.service"):
        text = (root / "lib/systemd/system" / u).read_text()
        # Documentation= points only at what the packages install
        for doc in re.search(r"^Documentation=(.*)$", text, re.M).group(1).split():
            if doc.startswith("file://"):
                assert (root / doc[len("file:///"):]).is_file(), f"{u}: {doc}"
            else:
                assert doc.startswith("man:"), f"{u}: {doc}"
        text = re.sub(r"(Exec\w+=)/usr/", rf"\g<1>{root}/usr/", text)
        assert text.count(str(root)) == 2, text
        (tmp_path / u).write_text(text)
        units.append(str(tmp_path / u))
    # Documentation= names the man pages: `man` finds them in the unpacked root
    r = run("systemd-analyze", "verify", *units, env=dict(os.environ, MANPATH=str(root / "usr/share/man")))
    assert r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(), r.stdout + r.stderr
    r = run("systemd-analyze", "security", "--offline=yes", "--threshold=20", units[0])
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"Overall exposure level for slipway-server.service: ([0-9.]+)", r.stdout)
    assert m and float(m.group(1)) <= 2.0, r.stdout


def test_server_and_agent_start_from_unit_command_lines(root, tmp_path):
    unit = (root / "lib/systemd/system/slipway-server.service").read_text()
    conf = tmp_path / "server.conf"
    text = (root / "etc/slipway/server.conf").read_text()
    text = re.sub(r"^listen = .*$", "listen = 127.0.0.1:0", text, flags=re.M)
    text = re.sub(r"^db = .*$", f"db = sqlite:{tmp_path}/slipway.db", text, flags=re.M)
    conf.write_text(text + f"port_file = {tmp_path}/port\n")

    def local(argv):
        out = []
        for a in argv:
            a = a.replace("/etc/slipway/server.conf", str(conf))
            out.append(str(root) + a if a.startswith("/usr/") else a)
        return out

    pre = run(*local(exec_line(unit, "ExecStartPre")), cwd=tmp_path)
    assert pre.returncode == 0, pre.stdout + pre.stderr
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen(local(exec_line(unit, "ExecStart")), cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not ((tmp_path / "port").exists() and (tmp_path / "port").read_text().strip()):
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "no port file"
            time.sleep(0.05)
        addr = (tmp_path / "port").read_text().strip()
        url = "http://" + (addr if ":" in addr else "127.0.0.1:" + addr)
        with urllib.request.urlopen(url + "/healthz", timeout=10) as resp:
            assert resp.status == 200
        token = (tmp_path / "admin.token").read_text().strip()
        assert token

        # the agent's unit: its config check on the packaged agent.conf pointed at this server
        aunit = (root / "lib/systemd/system/slipway-agent.service").read_text()
        aconf = tmp_path / "agent.conf"
        atext = (root / "etc/slipway/agent.conf").read_text()
        atext = re.sub(r"^server_url = .*$", f"server_url = {url}", atext, flags=re.M)
        atext = re.sub(r"^token =.*$", f"token = {token}", atext, flags=re.M)
        for key in ("state_dir", "builds_dir", "target_dir", "log_dir"):
            atext += f"{key} = {tmp_path}/agent/{key}\n"
        atext += "allow_http = true\nhost_name = pkgtest-host\nhost_id = pkgtest-host\nlong_poll = false\n"
        aconf.write_text(atext)
        aconf.chmod(0o600)
        def agent_argv(key):
            argv = [a.replace("/etc/slipway/agent.conf", str(aconf)) for a in exec_line(aunit, key)]
            return [str(root) + a if a.startswith("/usr/") else a for a in argv]

        r = run(*agent_argv("ExecStartPre"))
        assert r.returncode == 0, r.stdout + r.stderr
        alog = open(tmp_path / "agent.log", "w")
        agent = subprocess.Popen(agent_argv("ExecStart"), stdout=alog, stderr=subprocess.STDOUT)
        try:
            # the agent's first ping registers the host
            deadline = time.monotonic() + 30
            while True:
                assert agent.poll() is None, (tmp_path / "agent.log").read_text()
                req = urllib.request.Request(url + "/v1/hosts/pkgtest-host", headers={"Authorization": "token " + token})
                try:
                    with urllib.request.urlopen(req, timeout=10) as resp:
                        if json.loads(resp.read() or b"null"):
                            break
                except urllib.error.HTTPError:
                    pass
                assert time.monotonic() < deadline, (tmp_path / "agent.log").read_text()
                time.sleep(0.1)
        finally:
            agent.terminate()
            agent.wait(timeout=60)
            alog.close()
        assert agent.returncode == 0, (tmp_path / "agent.log").read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    assert proc.returncode == 0, (tmp_path / "server.log").read_text()
