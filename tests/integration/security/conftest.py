# SPDX-License-Identifier: Apache-2.0
# pytest fixtures for the security tests: real slipway-server processes (the server tests'
# srv_support.Server) plus the helpers shared by this directory (sec_support.py).
import os
import sys

import pytest

HERE = os.path.dirname(__file__)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "server"))
from srv_support import Server  # noqa: E402
import serverproc  # noqa: E402  (on sys.path through srv_support)


@pytest.fixture
def server_factory(tmp_path):
    yield from serverproc.factory(lambda extra=None, name="srv": Server(tmp_path, extra, name))


@pytest.fixture
def server(server_factory):
    return server_factory().start()
