# SPDX-License-Identifier: Apache-2.0
# pytest fixtures for the release-pipeline tests (auto-promoter, schedules, webhooks); the server
# process and simulated hosts come from tests/integration/ping/ping_support.py.
import os
import signal
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "ping"))
from ping_support import Server  # noqa: E402

FAST = ["promote_period=1", "transition_period=1", "janitor_period=3600"]


@pytest.fixture
def server_factory(tmp_path):
    started = []

    def make(extra=None, name="srv"):
        s = Server(tmp_path, FAST + list(extra or []), name)
        started.append(s)
        return s.start()

    yield make
    # a clean SIGTERM stop must exit 0 in bounded time (also with a hanging webhook receiver)
    bad = []
    for s in started:
        if s.proc is not None and s.proc.poll() is None:
            rc = s.stop(signal.SIGTERM, timeout=10)
            if rc != 0:
                bad.append((rc, s.logtext()[-2000:]))
    assert not bad, bad


@pytest.fixture
def server(server_factory):
    return server_factory()
