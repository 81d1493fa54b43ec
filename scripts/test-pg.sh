#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs pytest integration suites against the PostgreSQL backend (SLIPWAY_TEST_DB_BACKEND=pg, see
# tests/integration/dbtarget.py): every test server gets its own fresh database on one cluster.
# Usage: scripts/test-pg.sh SUITE...   (pytest paths; SLIPWAY_BUILD_DIR defaults to ./build)
# The cluster: SLIPWAY_TEST_PG_DSN (+ SLIPWAY_TEST_PG_DIR, its scripts/pg-test.sh DIR) when set (e.g. .ci/run's), else a throwaway one started here with
# scripts/pg-test.sh in a temp dir on a free port and stopped at exit. PostgreSQL unavailable: with
# CI=true the run fails; otherwise it is skipped with a warning (exit 0) so `make test` still works on a
# machine without PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
export SLIPWAY_BUILD_DIR="${SLIPWAY_BUILD_DIR:-$PWD/build}"
PYTEST=${PYTEST:-/usr/bin/python3 -m pytest}
[ $# -gt 0 ] || { echo "usage: $0 SUITE..." >&2; exit 2; }

unavailable() {
	if [ "${CI:-}" = "true" ]; then
		echo "test-pg: $1 (CI=true: failing, not skipping)" >&2
		exit 1
	fi
	echo "test-pg: WARNING: $1; the PostgreSQL pass is skipped" >&2
	exit 0
}

if [ -z "${SLIPWAY_TEST_PG_DSN:-}" ]; then
	tmp=$(mktemp -d /tmp/slipway-pg.XXXXXX)
	chmod 755 "$tmp"
	trap 'scripts/pg-test.sh stop "$tmp/pg" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
	port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	SLIPWAY_TEST_PG_DSN=$(scripts/pg-test.sh start "$tmp/pg" "$port") || unavailable "cannot start a PostgreSQL cluster"
	# the HA tests restart the cluster (pg_ctl restart) through its directory
	export SLIPWAY_TEST_PG_DSN SLIPWAY_TEST_PG_DIR="$tmp/pg"
fi
command -v psql >/dev/null || unavailable "psql is missing (postgresql-client)"
psql "$SLIPWAY_TEST_PG_DSN" -qAtc "SELECT 1" >/dev/null ||
	unavailable "PostgreSQL at $SLIPWAY_TEST_PG_DSN is not reachable"
/usr/bin/python3 -c "import psycopg2" 2>/dev/null || unavailable "python3-psycopg2 is missing (scripts/deps.sh test)"

echo "test-pg: integration suites on PostgreSQL at $SLIPWAY_TEST_PG_DSN" >&2
SLIPWAY_TEST_DB_BACKEND=pg $PYTEST -q "$@"
