# SPDX-License-Identifier: Apache-2.0
# Agent hardening (AGENT §2, §10.3, §12, §15): scripts run as `run_as` (a throwaway system user made
# here with useradd, root only), state and logs are not world-readable, and the token appears in no
# log, no script environment, no --status / --check-config output.
import os
import pwd
import shutil
import subprocess
import sys
import uuid

import pytest

HERE = os.path.dirname(__file__)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "agent"))
from agent_support import SCRIPT_STAGES, Agent, FakeServer, Walk  # noqa: E402

TOKEN = "SecretTok-" + uuid.uuid4().hex


@pytest.fixture
def fake():
    s = FakeServer()
    yield s
    s.stop()


@pytest.fixture
def agent_dir(tmp_path):
    agents = []

    def make(url, **kw):
        a = Agent(tmp_path, url, **kw)
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
        assert os.stat(p).st_mode & 0o007 == 0 or p.name.endswith(".prom"), p


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
