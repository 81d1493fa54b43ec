# SPDX-License-Identifier: Apache-2.0
# pytest fixtures for the ping-path tests (helpers in ping_support.py).
import os
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from ping_support import Server  # noqa: E402


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
