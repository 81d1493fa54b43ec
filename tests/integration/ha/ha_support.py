# SPDX-License-Identifier: Apache-2.0
# Helpers of the HA tests: three slipway-server replicas (a, b, c) on one PostgreSQL database, each on a fixed
# loopback port so a killed replica comes back at the same URL, and a fleet of real slipway-agent processes
# that each know every URL, in random order (agent server_url = URL1,URL2,URL3; failover to the next one).
# Only meaningful on the pg backend (SLIPWAY_TEST_DB_BACKEND=pg, `make integration-pg`): elsewhere the
# suite is skipped, except under CI=true where that is a failure (the pg pass must run it).
import io
import os
import random
import sys
import tarfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "fleet"))
import dbtarget  # noqa: E402
from fleet_support import AGENT_BIN, SERVER_BIN, Agent, Server, wait_for  # noqa: E402,F401

N_AGENTS = 50
HOSTS = ["ha-%02d" % i for i in range(1, N_AGENTS + 1)]
# promote_period=1: the promoter of every replica races every second (PROTOCOL §8, §8.2)
SETTINGS = ["promote_period=1", "log_level=warn"]


def need_pg():
    if dbtarget.is_pg():
        return
    if dbtarget.IN_CI:
        pytest.fail("tests/integration/ha needs SLIPWAY_TEST_DB_BACKEND=pg (CI=true: not skipped)")
    pytest.skip("several servers share a PostgreSQL database only (SLIPWAY_TEST_DB_BACKEND=pg)")


def make_app(path, version, step_seconds):
    """A build whose only script, RESTARTING, takes step_seconds (so a rollout has a measurable width)."""
    files = {"VERSION": (version + "\n", 0o644),
             "teletraan/RESTARTING": ("#!/bin/sh\nsleep %s\n" % step_seconds, 0o755)}
    with tarfile.open(path, "w:gz") as tar:
        for name in sorted(files):
            body, mode = files[name]
            data = body.encode()
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = mode
            ti.mtime = 0
            tar.addfile(ti, io.BytesIO(data))
    return str(path)


class Replicas:
    """Replicas a, b and c on one database (all: the three, a first)."""

    def __init__(self, root):
        self.root = root
        self.a = Server(root / "a", settings=SETTINGS)
        self.all = [self.a]
        try:
            for name in ("b", "c"):
                s = Server(root / name, db=self.a.db, settings=SETTINGS)
                s.token = self.a.token  # one token table: the bootstrap token was written by a
                self.all.append(s)
        except BaseException:
            self.stop()
            self.a.db.drop()
            raise
        self.b, self.c = self.all[1], self.all[2]
        self.db = self.a.db

    def stop(self):
        for s in self.all:
            s.stop()


class Fleet:
    """N_AGENTS agents that know every replica; extra_conf: agent settings appended to each agent.conf."""

    def __init__(self, replicas, root, extra_conf=""):
        self.replicas = replicas
        self.root = root
        self.artifacts = root / "artifacts"
        self.artifacts.mkdir(parents=True, exist_ok=True)
        rnd = random.Random(8)
        self.agents = {}
        self.a_first = []
        for h in HOSTS:
            urls = [s.url for s in replicas.all]
            rnd.shuffle(urls)
            if urls[0] == replicas.a.url:
                self.a_first.append(h)
            self.agents[h] = Agent(root / h, h, replicas.a, self.artifacts, server_url=",".join(urls),
                                   extra_conf=extra_conf)

    def stop(self):
        for a in self.agents.values():
            a.stop()
