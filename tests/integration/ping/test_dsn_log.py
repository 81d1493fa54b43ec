# SPDX-License-Identifier: Apache-2.0
# A server whose PostgreSQL DSN carries a password never writes that password to its log: not while it starts,
# serves pings (the ping pipeline opens its own database handle) and stops, and not when the database cannot be
# opened; `slipway-server migrate` never prints its target's either. The DSN is shown without its secret
# (store/dsn.c). Needs the PostgreSQL test cluster (trust authentication, so any password connects); skipped
# without SLIPWAY_TEST_PG_DSN outside CI.
import os
import signal
import subprocess
import urllib.parse

import pytest

from ping_support import SERVER_BIN, Host, Server
import dbtarget

SECRET = "s3cretpw"


@pytest.fixture
def pg_cluster():
    if not dbtarget.PG_DSN:
        if dbtarget.IN_CI:
            pytest.fail("SLIPWAY_TEST_PG_DSN is not set")
        pytest.skip("needs the PostgreSQL test cluster (SLIPWAY_TEST_PG_DSN)")
    return urllib.parse.urlsplit(dbtarget.pg_dsn("postgres"))


def url_with_password(dsn):
    u = urllib.parse.urlsplit(dsn)
    host = u.hostname + (":%d" % u.port if u.port else "")
    return urllib.parse.urlunsplit(u._replace(netloc="%s:%s@%s" % (u.username or "postgres", SECRET, host)))


def keyvalue_with_password(dsn):
    u = urllib.parse.urlsplit(dsn)
    return "host=%s port=%d user=%s password=%s dbname=%s" % (u.hostname, u.port or 5432, u.username or "postgres",
                                                             SECRET, u.path.lstrip("/"))


@pytest.mark.parametrize("form", [url_with_password, keyvalue_with_password])
def test_running_server_never_logs_the_password(tmp_path, pg_cluster, form):
    db = dbtarget.Database(tmp_path / "srv", backend="pg")
    try:
        db.dsn = form(db.dsn)
        s = Server(tmp_path, ["log_level=debug"], db=db)
        s.start()
        try:
            s.make_env("web", "prod")
            s.set_groups("web", "prod", ["web-fleet"])
            s.deploy("web", "prod", s.publish()["id"])
            hosts = [Host(s, "h%d" % i, groups=["web-fleet"]) for i in range(3)]
            for _ in range(12):  # through admission, every stage and the idle answers
                for h in hosts:
                    h.ping()
            assert all(h.last["opCode"] == "NOOP" for h in hosts)
            assert hosts[0].ping(wait=1)["opCode"] == "NOOP"  # a held ping, answered at its deadline
        finally:
            assert s.stop(signal.SIGTERM) == 0
        log = (s.dir / s.log_name).read_text()
        assert SECRET not in log
        # the DSN is logged, redacted
        assert "password=***" in log, log[-2000:]
        assert "dbname=%s" % db.name in log
    finally:
        db.drop()


@pytest.mark.parametrize("form", [url_with_password, keyvalue_with_password])
def test_unopenable_database_never_logs_the_password(tmp_path, pg_cluster, form):
    missing = urllib.parse.urlunsplit(pg_cluster._replace(path="/slipway_t_missing_%s" % os.urandom(4).hex()))
    p = subprocess.run([SERVER_BIN, "--listen", "127.0.0.1:0", "--db", form(missing), "--admin-token-file",
                        str(tmp_path / "admin.token")], capture_output=True, text=True, timeout=30)
    out = p.stdout + p.stderr
    assert p.returncode != 0, out
    assert "cannot open database" in out, out
    assert "password=***" in out, out
    assert SECRET not in out


@pytest.mark.parametrize("form", [url_with_password, keyvalue_with_password])
def test_migrate_never_prints_the_password(tmp_path, pg_cluster, form):
    src = Server(tmp_path, name="sqlite", db=dbtarget.for_dir(tmp_path / "sqlite", backend="sqlite"))
    src.start()  # a slipway database to copy from
    assert src.stop(signal.SIGTERM) == 0
    missing = urllib.parse.urlunsplit(pg_cluster._replace(path="/slipway_t_missing_%s" % os.urandom(4).hex()))
    p = subprocess.run([SERVER_BIN, "migrate", "--from", src.db.dsn, "--to", form(missing)], capture_output=True,
                       text=True, timeout=60)
    out = p.stdout + p.stderr
    assert p.returncode != 0, out
    assert "cannot open the target database" in out, out
    assert "password=***" in out, out
    assert SECRET not in out
