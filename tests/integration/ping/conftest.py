# SPDX-License-Identifier: Apache-2.0
# pytest fixtures for the ping-path tests (helpers in ping_support.py).
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from ping_support import Server  # noqa: E402
import serverproc  # noqa: E402  (on sys.path through ping_support)


@pytest.fixture
def server_factory(tmp_path):
    yield from serverproc.factory(lambda extra=None, name="srv": Server(tmp_path, extra, name))


@pytest.fixture
def server(server_factory):
    return server_factory().start()
