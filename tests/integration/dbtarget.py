# SPDX-License-Identifier: Apache-2.0
# The database every integration test server runs on, chosen once per pytest run:
#   default                              a SQLite file in the server's directory (sqlite:DIR/s.db)
#   SLIPWAY_TEST_DB_BACKEND=pg           a fresh, uniquely named PostgreSQL database per server directory,
#   SLIPWAY_TEST_PG_DSN=postgresql://…   created on the cluster at that base DSN and dropped at teardown
# Servers get `--db DSN --admin-token-file DIR/admin.token` from Database.server_args() (with PostgreSQL
# there is no directory beside the database for the bootstrap token, PROTOCOL §10). Tests that look
# at or seed rows directly use Database.query(), which takes SQLite-style SQL ('?' placeholders,
# unquoted camelCase column names) and runs it on either backend; write it in the common dialect
# (ON CONFLICT instead of INSERT OR …; boolean columns are 0/1 integers on both).
import os
import re
import secrets
import sqlite3
import threading
import urllib.parse

BACKEND = os.environ.get("SLIPWAY_TEST_DB_BACKEND", "sqlite").strip().lower() or "sqlite"
if BACKEND in ("postgresql", "postgres"):
    BACKEND = "pg"
if BACKEND not in ("sqlite", "pg"):
    raise RuntimeError("SLIPWAY_TEST_DB_BACKEND must be sqlite or pg, not %r" % BACKEND)
PG_DSN = os.environ.get("SLIPWAY_TEST_PG_DSN", "").strip()
IN_CI = os.environ.get("CI", "").lower() == "true"

_lock = threading.Lock()
_by_dir = {}      # server directory -> Database (servers restarted in one directory share the database)
_live = set()     # PostgreSQL databases created and not yet dropped


def is_pg():
    return BACKEND == "pg"


def _pg():
    try:
        import psycopg2
    except ImportError as e:  # python3-psycopg2 is in scripts/deps.sh test_pkgs
        raise RuntimeError("SLIPWAY_TEST_DB_BACKEND=pg needs python3-psycopg2") from e
    return psycopg2


def pg_dsn(dbname):
    """The base DSN with its database replaced by dbname (URI form, as libpq takes it)."""
    if not PG_DSN:
        raise RuntimeError("SLIPWAY_TEST_DB_BACKEND=pg needs SLIPWAY_TEST_PG_DSN (scripts/pg-test.sh start DIR PORT)")
    u = urllib.parse.urlsplit(PG_DSN)
    if u.scheme not in ("postgresql", "postgres"):
        raise RuntimeError("SLIPWAY_TEST_PG_DSN must be a postgresql:// URI, not %r" % PG_DSN)
    return urllib.parse.urlunsplit(u._replace(path="/" + dbname))


def pg_admin(sql):
    """Run one statement on the cluster's maintenance database (autocommit: CREATE/DROP DATABASE)."""
    con = _pg().connect(pg_dsn("postgres"), connect_timeout=10)
    try:
        con.autocommit = True
        with con.cursor() as cur:
            cur.execute(sql)
    finally:
        con.close()


def pg_check():
    """Fail loudly when the pg backend is selected but the cluster is not reachable (never a skip)."""
    pg_admin("SELECT 1")


_CAMEL = re.compile(r"(?<![\w\"'])([a-z]+[A-Z]\w*)\b")


class Database:
    """One test database: a SQLite file, or a PostgreSQL database created for it."""

    def __init__(self, workdir, file_name="s.db", backend=None):
        self.workdir = workdir
        self.token_file = workdir / "admin.token"
        self.backend = backend or BACKEND
        self._con = None
        self._quote = None
        if self.backend == "pg":
            self.name = "slipway_t_" + secrets.token_hex(6)
            pg_admin('CREATE DATABASE "%s"' % self.name)
            with _lock:
                _live.add(self.name)
            self.dsn = pg_dsn(self.name)
            self.path = None
        else:
            self.name = None
            self.path = workdir / file_name
            self.dsn = "sqlite:%s" % self.path

    def server_args(self):
        return ["--db", self.dsn, "--admin-token-file", str(self.token_file)]

    def __str__(self):
        return self.dsn

    # ---- direct access for tests that seed or inspect rows ----
    def _pg_sql(self, sql):
        if self._quote is None:
            # quote camelCase names only when the PostgreSQL schema created them case-sensitively
            rows = self._pg_run("SELECT column_name FROM information_schema.columns WHERE table_name = 'agents'",
                                (), raw=True)
            self._quote = any(c != c.lower() for (c,) in rows)
        sql = sql.replace("%", "%%").replace("?", "%s")
        if self._quote:
            sql = _CAMEL.sub(r'"\1"', sql)
        return sql

    def _pg_run(self, sql, args, many=False, raw=False):
        pg = _pg()
        q = sql if raw else self._pg_sql(sql)
        for attempt in (0, 1):
            if self._con is None or self._con.closed:
                self._con = pg.connect(self.dsn, connect_timeout=10)
            try:
                with self._con:
                    with self._con.cursor() as cur:
                        if many:
                            cur.executemany(q, args)
                        else:
                            cur.execute(q, args)
                        return cur.fetchall() if cur.description else []
            except (pg.OperationalError, pg.InterfaceError):
                # the server restarted under us (the HA tests restart PostgreSQL): reconnect once
                self._close_con()
                if attempt:
                    raise
        return []

    def query(self, sql, args=()):
        """Run one statement in its own transaction; returns the rows (a list of tuples)."""
        if self.backend == "pg":
            return self._pg_run(sql, tuple(args))
        con = sqlite3.connect(str(self.path), timeout=10)
        try:
            with con:
                return con.execute(sql, tuple(args)).fetchall()
        finally:
            con.close()

    def executemany(self, sql, rows):
        if self.backend == "pg":
            return self._pg_run(sql, [tuple(r) for r in rows], many=True)
        con = sqlite3.connect(str(self.path), timeout=10)
        try:
            with con:
                con.executemany(sql, rows)
        finally:
            con.close()
        return []

    def session(self):
        """Another handle on the same database with its own connection (for a sampling thread);
        dropping it does nothing."""
        other = object.__new__(Database)
        other.__dict__.update(self.__dict__)
        other._con = None
        other.name = None
        return other

    def _close_con(self):
        if self._con is not None:
            try:
                self._con.close()
            except Exception:
                pass
            self._con = None

    def drop(self):
        """Drop the PostgreSQL database (terminating leftover sessions); a SQLite file stays in tmp_path."""
        self._close_con()
        with _lock:
            for k, v in list(_by_dir.items()):
                if v is self:
                    del _by_dir[k]
            if self.name not in _live:
                return
            _live.discard(self.name)
        pg_admin('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % self.name)


def for_dir(workdir, file_name="s.db", backend=None):
    """The database of a server directory: created on first use, shared by later servers started there
    (a restart, or a second server on the same database). backend: "sqlite" or "pg" instead of the run's."""
    key = str(workdir)
    with _lock:
        db = _by_dir.get(key)
    if db is None:
        db = Database(workdir, file_name, backend)
        with _lock:
            _by_dir[key] = db
    return db


def drop_all():
    """Drop every database this process created and has not dropped yet (end of session)."""
    with _lock:
        left = [v for v in _by_dir.values()]
    for db in left:
        db.drop()
    with _lock:
        names = list(_live)
        _live.clear()
    for n in names:
        pg_admin('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % n)


def pg_restart():
    """Restart the test cluster (pg_ctl restart -m fast, as its owner) when its data directory is known
    (SLIPWAY_TEST_PG_DIR, set by scripts/test-pg.sh and .ci/run: the DIR of scripts/pg-test.sh start DIR PORT).
    Returns False when it is not."""
    import shutil
    import subprocess
    base = os.environ.get("SLIPWAY_TEST_PG_DIR", "").strip()
    if not base or not os.path.isfile(os.path.join(base, "data", "PG_VERSION")):
        return False
    pg_ctl = shutil.which("pg_ctl")
    if not pg_ctl:
        for d in sorted(os.listdir("/usr/lib/postgresql"), reverse=True):
            cand = os.path.join("/usr/lib/postgresql", d, "bin", "pg_ctl")
            if os.access(cand, os.X_OK):
                pg_ctl = cand
                break
    cmd = [pg_ctl, "-D", os.path.join(base, "data"), "-w", "-t", "60", "-m", "fast", "restart"]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
    return True


def drop_under(path):
    """Drop the databases of every server directory below path (a test's tmp_path)."""
    prefix = str(path).rstrip("/") + "/"
    with _lock:
        dbs = [v for k, v in _by_dir.items() if (k + "/").startswith(prefix)]
    for db in dbs:
        db.drop()
