# SPDX-License-Identifier: Apache-2.0
# Agent hardening (AGENT §2, §10.3, §12, §15): scripts run as `run_as` (a throwaway system user made
# here with useradd, root only), state and logs are not world-readable, and the token appears in no
# log, no script environment, no --status / --check-config output. What the server sends cannot make
# the agent write outside its directories: a TARGET stays under target_dir (or allowed_target_roots),
# file:// artifacts come only from allowed directories, an artifact with a hash is checked before
# anything of it is extracted, and staging never chowns a hard link.
import hashlib
import io
import os
import pwd
import shutil
import subprocess
import sys
import tarfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

HERE = os.path.dirname(__file__)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "agent"))
from agent_support import SCRIPT_STAGES, Agent, FakeServer, Walk, wait_for  # noqa: E402

TOKEN = "SecretTok-" + uuid.uuid4().hex


@pytest.fixture
def fake():
    s = FakeServer()
    yield s
    s.stop()


@pytest.fixture
def agent_dir(tmp_path):
    agents = []

    def make(url, root=None, **kw):
        if root:
            root.mkdir(parents=True, exist_ok=True)
        a = Agent(root or tmp_path, url, **kw)
        agents.append(a)
        return a

    yield make
    for a in agents:
        a.stop_all()


def env_dump_script(out):
    return "#!/bin/sh\n{ echo \"uid=$(id -u) gid=$(id -g) user=$USER home=$HOME\"; env; } > %s/$DEPLOY_STEP\n" % out


def test_token_never_leaks_and_files_are_private(fake, agent_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    agent = agent_dir(fake.url, token=TOKEN, log_level="debug")
    agent.make_build("web", "b1", {s: env_dump_script(out) for s in SCRIPT_STAGES})
    fake.decide = Walk()
    r = agent.once()
    assert r.returncode == 0, r.stderr
    assert agent.state()["envs"]["web"]["status"] == "SUCCEEDED"
    # the token was sent to the server...
    assert fake.bodies(), "no ping reached the fake server"
    # ...and is nowhere else: agent log (debug level), env log, scripts' environment, status, config check
    assert TOKEN not in r.stderr and TOKEN not in r.stdout
    for p in list(agent.log_dir.rglob("*")) + list(agent.state_dir.rglob("*")) + list(out.iterdir()):
        if p.is_file():
            assert TOKEN not in p.read_text(errors="replace"), p
    for args in (["--status"], ["--status", "--json"], ["--check-config"]):
        res = agent.run(*args)
        assert res.returncode == 0, (args, res.stderr)
        assert TOKEN not in res.stdout and TOKEN not in res.stderr, args
    assert "***" in agent.run("--check-config").stdout
    # modes: state dir 0700 and state 0600; log dir 0750 and logs 0640 (never world-readable)
    assert os.stat(agent.state_dir).st_mode & 0o777 == 0o700
    assert os.stat(agent.state_dir / "state.json").st_mode & 0o777 == 0o600
    assert os.stat(agent.log_dir).st_mode & 0o777 == 0o750
    for p in agent.log_dir.iterdir():
        assert os.stat(p).st_mode & 0o007 == 0, p
    for p in agent.state_dir.iterdir():
        # the metrics file (and the spare it is rewritten through) is for the node exporter: world-readable
        assert os.stat(p).st_mode & 0o007 == 0 or p.name.endswith((".prom", ".prom.spare")), p


def test_world_readable_token_file_warns(fake, agent_dir):
    agent = agent_dir(fake.url, token=TOKEN)
    os.chmod(agent.conf, 0o644)
    r = agent.run("--check-config")
    assert r.returncode == 0
    assert "holds a token and is world-readable" in r.stderr, r.stderr
    assert TOKEN not in r.stdout + r.stderr
    os.chmod(agent.conf, 0o600)
    r = agent.run("--check-config")
    assert r.returncode == 0 and "world-readable" not in r.stderr


@pytest.fixture
def throwaway_user():
    if os.getuid() != 0:
        pytest.skip("needs root to create a user and switch to it")
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        pytest.skip("useradd/userdel not installed")
    name = "slwsec%05d" % (os.getpid() % 100000)
    subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell",
                    "/usr/sbin/nologin", name], check=True, capture_output=True, timeout=30)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True, timeout=30)


def test_scripts_run_as_configured_user(fake, agent_dir, tmp_path, throwaway_user):
    u = throwaway_user
    p = tmp_path
    while str(p) != "/":  # every directory on the way must be traversable by the user
        os.chmod(p, os.stat(p).st_mode | 0o111)
        p = p.parent
    out = tmp_path / "out"
    out.mkdir()
    os.chmod(out, 0o777)
    agent = agent_dir(fake.url, token=TOKEN, run_as=u.pw_name)
    tree = agent.make_build("web", "b1", {s: env_dump_script(out) for s in SCRIPT_STAGES})
    for d in [tree] + [x for x in tree.rglob("*") if x.is_dir()]:
        os.chmod(d, 0o755)
    fake.decide = Walk()
    r = agent.once()
    assert r.returncode == 0, r.stderr
    assert agent.state()["envs"]["web"]["status"] == "SUCCEEDED"
    for stage in SCRIPT_STAGES:
        first = (out / stage).read_text().splitlines()[0]
        assert first == "uid=%d gid=%d user=%s home=/nonexistent" % (u.pw_uid, u.pw_gid, u.pw_name), first
        assert os.stat(out / stage).st_uid == u.pw_uid
    # the env log stays the agent's (root) and private
    st = os.stat(agent.log_dir / "web.log")
    assert st.st_uid == 0 and st.st_mode & 0o777 == 0o640
    assert TOKEN not in "".join((out / s).read_text() for s in SCRIPT_STAGES)


# ---- what the server can make the agent write (issue: agent hardening) ------------------------------

DOWNLOAD_STAGE = ["DOWNLOADING", "STAGING"]


def tarball(entries):
    """An uncompressed tar of (name, bytes) regular files: its first member is extractable early."""
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in entries:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), 0o644
            t.addfile(ti, io.BytesIO(data))
    return bio.getvalue()


def build_record(build_id, url, sha):
    return {"id": build_id, "name": "web", "artifactUrl": url, "type": "Github", "repo": "acme/web",
            "branch": "main", "commit": "abc1234def", "commitShort": "abc1234", "commitInfo": None,
            "commitDate": 1767225600000, "publishInfo": None, "publishDate": 1767225700000, "publisher": "ci",
            "artifactSha256": sha, "artifactSignature": None}


def file_build(path, build_id="BuildAAAAAAAAAAAAAAA_abc1234"):
    data = tarball([("teletraan/app.conf", b"port=1\n")])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return build_record(build_id, "file://" + str(path), hashlib.sha256(data).hexdigest())


def deploy(fake, agent, build, deploy_id, agent_configs=None, stages=DOWNLOAD_STAGE):
    fake.decide = Walk(stages=stages, build=build, deploy_id=deploy_id, agent_configs=agent_configs,
                       first_deploy=False)
    r = agent.once()
    assert r.returncode == 0, r.stderr
    return agent.state()["envs"]["web"]


def last_report(fake):
    return [r for r in fake.reports() if r.get("agentStatus") != "UNKNOWN"][-1]


def test_server_target_stays_under_target_dir(fake, agent_dir, tmp_path):
    agent = agent_dir(fake.url)
    b = file_build(tmp_path / "artifacts" / "web.tar")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, agent.target_dir / "escape")
    attempts = [
        str(elsewhere / "web"),                           # plainly outside
        str(agent.target_dir) + "/../elsewhere/web",      # climbing out with ..
        str(agent.target_dir / "escape" / "web"),         # a symlink inside target_dir leading out
        str(tmp_path / "state2"),                         # next to state_dir, outside target_dir
    ]
    for n, target in enumerate(attempts):
        e = deploy(fake, agent, b, "DeployT%dAAAAAAAAAAAAAAA" % n, {"target": target})
        assert (e["deployStage"], e["status"]) == ("STAGING", "AGENT_FAILED"), (target, e)
        assert "target" in e["errorMessage"], e
        rep = last_report(fake)
        assert rep["deployStage"] == "STAGING" and rep["agentStatus"] == "AGENT_FAILED", rep
        assert "target" in rep.get("errorMessage", ""), rep
        # nothing written: no link, no .slipway-tmp, nothing in the escape directory
        assert not os.listdir(elsewhere), target
        assert not os.path.lexists(tmp_path / "state2")
    assert "not under target_dir or allowed_target_roots" in e["errorMessage"]
    # the same targets are fine once the operator allows that root (and under target_dir anyway)
    agent2 = agent_dir(fake.url, root=tmp_path / "a2", allowed_target_roots=str(elsewhere),
                       download_allow_file_dirs=str(tmp_path))
    e = deploy(fake, agent2, b, "DeployOkAAAAAAAAAAAAAAA", {"target": str(elsewhere / "web")})
    assert e["status"] == "SUCCEEDED", e
    assert os.readlink(elsewhere / "web") == str(agent2.builds_dir / "web" / b["id"])
    e = deploy(fake, agent2, b, "DeployOk2AAAAAAAAAAAAAA", {"target": str(agent2.target_dir / "sub-web")})
    assert e["status"] == "SUCCEEDED", e


class SlowArtifact:
    """Serves `data` over http on 127.0.0.1, pausing after `first` bytes until released."""

    def __init__(self, data, first):
        self.data, self.first = data, first
        self.paused, self.release = threading.Event(), threading.Event()
        art = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", str(len(art.data)))
                self.end_headers()
                self.wfile.write(art.data[:art.first])
                self.wfile.flush()
                art.paused.set()
                art.release.wait(30)
                self.wfile.write(art.data[art.first:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d/web.tar" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def files_named(root, name):
    return [p for p in root.rglob(name)]


def process_tree(root_pid):
    """root_pid and every process below it."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    tree = {root_pid}
    while True:
        more = {pid for pid, pp in parent.items() if pp in tree} - tree
        if not more:
            return tree
        tree |= more


def held_artifact_sizes(builds_dir, root_pid):
    """Sizes of the agent's private artifact copies: files named artifact, and memory files named artifact
    open in the agent's process tree."""
    sizes = [f.stat().st_size for f in files_named(builds_dir, "artifact")]
    for pid in process_tree(root_pid):
        try:
            fds = os.listdir("/proc/%d/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("/memfd:artifact"):
                    sizes.append(os.stat("/proc/%d/fd/%s" % (pid, fd)).st_size)
            except OSError:
                pass
    return sizes


def test_tampered_artifact_is_never_extracted(fake, agent_dir, tmp_path):
    agent = agent_dir(fake.url, allow_http="true", max_retry=1)
    genuine = tarball([("teletraan/PWNED", b"genuine\n"), ("big.bin", os.urandom(1024 * 1024))])
    tampered = tarball([("teletraan/PWNED", b"#!/bin/sh\nevil\n"), ("big.bin", os.urandom(1024 * 1024))])
    art = SlowArtifact(tampered, 256 * 1024)  # the first member and part of the second, then a pause
    try:
        b = build_record("BuildEvilAAAAAAAAAAA_abc1234", art.url, hashlib.sha256(genuine).hexdigest())
        fake.decide = Walk(stages=DOWNLOAD_STAGE, build=b, deploy_id="DeployEvilAAAAAAAAAAAAA", first_deploy=False)
        p = agent.start("--once", "--no-jitter")
        assert art.paused.wait(30), "the agent never fetched the artifact"
        # the agent holds the first bytes (its private copy has them: a memory file up to 16 MiB, a file beyond)...
        wait_for(lambda: max(held_artifact_sizes(agent.builds_dir, p.pid), default=0) >= art.first,
                 what="the first bytes on the agent's side")
        # ...and extracts none of them before the whole artifact is checked (extracting while downloading
        # would make the first member appear at once)
        with pytest.raises(AssertionError):
            wait_for(lambda: files_named(tmp_path, "PWNED"), timeout=2, what="an extracted file")
        # the copy is private: a memory file has no path at all; a file on disk is 0600 in a private directory
        for f in files_named(agent.builds_dir, "artifact"):
            assert f.stat().st_mode & 0o777 == 0o600 and f.parent.stat().st_mode & 0o777 == 0o700
        art.release.set()
        assert p.wait(timeout=60) == 0
    finally:
        art.stop()
    e = agent.state()["envs"]["web"]
    assert (e["deployStage"], e["status"]) == ("DOWNLOADING", "AGENT_FAILED"), e
    assert "sha256 mismatch" in e["errorMessage"]
    assert not files_named(tmp_path, "PWNED") and not files_named(tmp_path, "big.bin")
    assert not [n for n in os.listdir(agent.builds_dir / "web") if n.startswith(".tmp-")]


def test_file_artifacts_need_an_allowed_directory(fake, agent_dir, tmp_path):
    allowed = tmp_path / "artifacts"
    outside = file_build(tmp_path / "private" / "web.tar")
    inside = file_build(allowed / "web.tar", "BuildInAAAAAAAAAAAAA_abc1234")
    os.symlink(tmp_path / "private" / "web.tar", allowed / "link.tar")
    # default (no download_allow_file_dirs): every file:// artifact is refused
    agent = agent_dir(fake.url, download_allow_file_dirs="")
    e = deploy(fake, agent, inside, "DeployF0AAAAAAAAAAAAAAA")
    assert (e["deployStage"], e["status"]) == ("DOWNLOADING", "AGENT_FAILED"), e
    assert "download_allow_file_dirs" in e["errorMessage"]
    assert not files_named(agent.builds_dir, "app.conf")
    # with the allow-list: outside it, through "..", through a symlink: refused; inside: fine
    agent = agent_dir(fake.url, root=tmp_path / "a2", download_allow_file_dirs=str(allowed))
    for n, url in enumerate(["file://" + str(tmp_path / "private" / "web.tar"),
                             "file://%s/../private/web.tar" % allowed,
                             "file://" + str(allowed / "link.tar")]):
        e = deploy(fake, agent, dict(outside, artifactUrl=url), "DeployF%dBBBBBBBBBBBBBBB" % (n + 1))
        assert (e["deployStage"], e["status"]) == ("DOWNLOADING", "AGENT_FAILED"), (url, e)
        assert "download_allow_file_dirs" in e["errorMessage"], (url, e)
    assert not files_named(agent.builds_dir, "app.conf")
    e = deploy(fake, agent, inside, "DeployF9CCCCCCCCCCCCCCC")
    assert e["status"] == "SUCCEEDED", e
    assert (agent.builds_dir / "web" / inside["id"] / "teletraan" / "app.conf").exists()


def test_staging_does_not_chown_hard_links(fake, agent_dir, tmp_path, throwaway_user):
    u = throwaway_user
    agent = agent_dir(fake.url, run_as=u.pw_name)
    b = file_build(tmp_path / "artifacts" / "web.tar")
    e = deploy(fake, agent, b, "DeployH1AAAAAAAAAAAAAAA")
    assert e["status"] == "SUCCEEDED", e
    tree = agent.builds_dir / "web" / b["id"]
    assert os.stat(tree / "teletraan" / "app.conf").st_uid == u.pw_uid
    # run_as owns the tree now; say it plants a hard link to a root-owned file outside it
    secret = tmp_path / "secret"
    secret.write_text("root only\n")
    os.chmod(secret, 0o600)
    os.link(secret, tree / "teletraan" / "innocent.conf")
    (tree / "teletraan" / "plain.conf").write_text("x\n")
    assert os.stat(tree / "teletraan" / "plain.conf").st_uid == 0
    e = deploy(fake, agent, b, "DeployH2BBBBBBBBBBBBBBB")  # the build is reused: staging runs again
    assert e["status"] == "SUCCEEDED", e
    assert os.stat(secret).st_uid == 0 and os.stat(secret).st_gid == 0, "staging handed a foreign file over"
    assert os.stat(tree / "teletraan" / "plain.conf").st_uid == u.pw_uid  # single-link files still are
