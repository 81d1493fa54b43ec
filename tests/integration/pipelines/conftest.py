# SPDX-License-Identifier: Apache-2.0
# pytest fixtures for the release-pipeline tests (auto-promoter, schedules, webhooks); the server
# process and simulated hosts come from tests/integration/ping/ping_support.py.
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "ping"))
from ping_support import Server  # noqa: E402
import serverproc  # noqa: E402  (on sys.path through ping_support)

# the webhook receivers of these tests listen on loopback, which hooks reach only when allowed
FAST = ["promote_period=1", "transition_period=1", "janitor_period=3600", "webhook_allowed_networks=127.0.0.0/8"]


@pytest.fixture
def server_factory(tmp_path):
    # a clean SIGTERM stop must exit 0 in bounded time (also with a hanging webhook receiver)
    yield from serverproc.factory(lambda extra=None, name="srv": Server(tmp_path, FAST + list(extra or []), name),
                                  clean_exit=True, start=True)


@pytest.fixture
def server(server_factory):
    return server_factory()
