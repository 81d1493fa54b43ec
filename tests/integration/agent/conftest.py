# SPDX-License-Identifier: Apache-2.0
# tests/integration/agent/conftest.py: fixtures (fake ping server, agents under tmp_path).
import os
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from agent_support import Agent, FakeServer  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from serverproc import SERVER_BIN, ServerProcess  # noqa: E402


@pytest.fixture
def server():
    s = FakeServer()
    yield s
    s.stop()


@pytest.fixture
def make_agent(tmp_path):
    agents = []

    def make(server_url, **overrides):
        a = Agent(tmp_path, server_url, **overrides)
        agents.append(a)
        return a

    yield make
    for a in agents:
        a.stop_all()




@pytest.fixture
def real_server(tmp_path):
    """A real slipway-server on the test database (ServerProcess: .url, .token)."""
    if not os.path.exists(SERVER_BIN):
        pytest.skip("slipway-server is not built")
    s = ServerProcess(tmp_path / "srv")
    try:
        s.start(["log_level=warn"])
        yield s
    finally:
        s.stop(signal.SIGTERM)
