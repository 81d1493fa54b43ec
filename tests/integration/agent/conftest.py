# SPDX-License-Identifier: Apache-2.0
# tests/integration/agent/conftest.py: fixtures (fake ping server, agents under tmp_path).
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from agent_support import Agent, FakeServer  # noqa: E402


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


