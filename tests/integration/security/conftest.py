# SPDX-License-Identifier: Apache-2.0
# pytest fixtures for the security tests: real slipway-server processes (the server tests'
# srv_support.Server) plus the helpers shared by this directory (sec_support.py).
import os
import signal
import sys

import pytest

HERE = os.path.dirname(__file__)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "server"))
from srv_support import Server  # noqa: E402


@pytest.fixture
def server_factory(tmp_path):
    started = []

    def make(extra=None, name="srv"):
        s = Server(tmp_path, extra, name)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop(signal.SIGKILL)


@pytest.fixture
def server(server_factory):
    return server_factory().start()
