# SPDX-License-Identifier: Apache-2.0
# pytest fixtures for the slipway-server tests (helpers live in srv_support.py).
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from srv_support import Server  # noqa: E402
import serverproc  # noqa: E402  (on sys.path through srv_support)


@pytest.fixture
def server_factory(tmp_path):
    # a clean SIGTERM stop must exit 0 (under ASan this also catches leaks)
    yield from serverproc.factory(lambda extra=None, name="srv": Server(tmp_path, extra, name), clean_exit=True)


@pytest.fixture
def server(server_factory):
    return server_factory(["--set", "anonymous_role=PUBLISHER"]).start()
