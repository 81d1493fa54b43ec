# SPDX-License-Identifier: Apache-2.0
# Module fixtures of the HA tests (helpers in ha_support.py): `replicas`, three replicas on one PostgreSQL
# database, and `fleet`, 50 real agents that know every replica.
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ha_support import AGENT_BIN, N_AGENTS, SERVER_BIN, Fleet, Replicas, need_pg, wait_for  # noqa: E402


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    need_pg()
    for b in (SERVER_BIN, AGENT_BIN):
        if not os.access(b, os.X_OK):
            pytest.skip(f"{b} is not built")
    p = Replicas(tmp_path_factory.mktemp("ha"))
    try:
        yield p
    finally:
        p.stop()
        p.db.drop()


@pytest.fixture(scope="module")
def fleet(replicas, tmp_path_factory):
    f = Fleet(replicas, tmp_path_factory.mktemp("ha-agents"))
    try:
        wait_for(lambda: len(replicas.db.query("SELECT hostId FROM heartbeats")) == N_AGENTS, timeout=90,
                 what="all agents pinged")
        yield f
    finally:
        f.stop()
