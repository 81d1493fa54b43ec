# SPDX-License-Identifier: Apache-2.0
# Script variables that change how shells, loaders or interpreters behave (docs/deploy-scripts.md): the
# server refuses them at PUT (400 naming the variable, nothing stored), and an agent that receives one anyway
# (an older server, a value stored before the upgrade) leaves it out of the script's environment and warns.
import os
import sys

import pytest

HERE = os.path.dirname(__file__)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "agent"))
sys.path.insert(0, os.path.join(HERE, "..", "server"))
from agent_support import Agent, FakeServer, Walk  # noqa: E402
from srv_support import assert_error, make_env  # noqa: E402

# one name of every class the issue lists, prefix classes with a name beyond the prefix, plus siblings
REFUSED = ["BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "IFS", "PATH", "LD_PRELOAD", "LD_LIBRARY_PATH",
           "PYTHONPATH", "PYTHONSTARTUP", "PERL5OPT", "PERL5LIB", "PERLLIB", "RUBYOPT", "NODE_OPTIONS",
           "JAVA_TOOL_OPTIONS", "GCONV_PATH", "HOSTALIASES", "LOCALDOMAIN", "RES_OPTIONS", "BASH_FUNC_ls%%",
           "GLIBC_TUNABLES", "CDPATH"]


@pytest.mark.parametrize("name", REFUSED)
def test_put_refuses_behaviour_changing_names(server, name):
    make_env(server, "web", "prod")
    path = "/v1/envs/web/prod/script_configs"
    assert server.put(path, json={"PORT": "8080"}).status_code == 204
    before = server.get("/v1/envs/web/prod/history").json()
    body = assert_error(server.put(path, json={"GREETING": "hi", name: "/tmp/evil"}), 400, name)
    assert name in body["message"], body
    # nothing stored: the old value stays, no history entry was written
    assert server.get(path).json() == {"PORT": "8080"}
    assert server.get("/v1/envs/web/prod/history").json() == before


def test_put_keeps_ordinary_names(server):
    make_env(server, "web", "prod")
    ok = {"PORT": "8080", "path": "/srv", "ENV_NAME_X": "1", "NODE_ENV": "production", "JAVA_OPTS": "-Xmx1g",
          "MY_PATH": "/a"}
    assert server.put("/v1/envs/web/prod/script_configs", json=ok).status_code == 204
    assert server.get("/v1/envs/web/prod/script_configs").json() == ok
    # agent configs are no script environment: their names are not checked against the list
    assert server.put("/v1/envs/web/prod/agent_configs", json={"PATH": "x"}).status_code == 204


@pytest.fixture
def fake():
    s = FakeServer()
    yield s
    s.stop()


def test_agent_drops_refused_names_sent_anyway(fake, tmp_path):
    out, marker = tmp_path / "env.txt", tmp_path / "bash_env_ran"
    evil = tmp_path / "evil.sh"
    evil.write_text("touch %s\n" % marker)
    (tmp_path / "agent").mkdir()
    agent = Agent(tmp_path / "agent", fake.url)
    try:
        # bash reads BASH_ENV before a non-interactive script's first line: the attack is real if it gets through
        agent.make_build("web", "b1", {"RESTARTING": "#!/bin/bash\nenv > %s\n" % out})
        fake.decide = Walk(stages=["RESTARTING"], script_variables={
            "PORT": "8080", "BASH_ENV": str(evil), "PATH": str(tmp_path), "LD_PRELOAD": "/nonexistent/x.so",
            "PYTHONPATH": str(tmp_path), "NODE_OPTIONS": "--require /tmp/x.js"})
        r = agent.once()
        assert r.returncode == 0, r.stderr
        assert agent.state()["envs"]["web"]["status"] == "SUCCEEDED", agent.state()
        env = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
        assert env.get("PORT") == "8080"
        for name in ("BASH_ENV", "LD_PRELOAD", "PYTHONPATH", "NODE_OPTIONS"):
            assert name not in env, name
            assert "script variable '%s' of env 'web' is not passed" % name in r.stderr, r.stderr
        assert env["PATH"] != str(tmp_path)  # the agent's own PATH, not the delivered one
        assert "script variable 'PATH' of env 'web' is not passed" in r.stderr
        assert not marker.exists()
    finally:
        agent.stop_all()
