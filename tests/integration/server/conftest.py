# SPDX-License-Identifier: Apache-2.0
# pytest fixtures for the slipway-server tests (helpers live in srv_support.py).
import os
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from srv_support import Server  # noqa: E402

@pytest.fixture
def server_factory(tmp_path):
    started = []

    def make(extra=None, name="srv"):
        s = Server(tmp_path, extra, name)
        started.append(s)
        return s

    yield make
    # a clean SIGTERM stop must exit 0 (under ASan this also catches leaks)
    bad = []
    for s in started:
        if s.proc is not None and s.proc.poll() is None:
            rc = s.stop(signal.SIGTERM)
            if rc != 0:
                bad.append((rc, s.logtext()[-2000:]))
        else:
            s.stop(signal.SIGKILL)
    assert not bad, bad


@pytest.fixture
def server(server_factory):
    return server_factory(["--set", "anonymous_role=PUBLISHER"]).start()


