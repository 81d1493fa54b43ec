#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Start or stop a throwaway PostgreSQL cluster for tests (trust auth, loopback only).
# Usage: scripts/pg-test.sh start DIR PORT   -> prints the base DSN postgresql://postgres@127.0.0.1:PORT
#        scripts/pg-test.sh stop DIR
#        scripts/pg-test.sh dsn DIR PORT
# Idempotent: start on a running cluster only prints the DSN, stop on a stopped one does nothing.
# As root the cluster is owned by and runs as the `postgres` user (PostgreSQL refuses to run as root).
set -euo pipefail

usage() {
	echo "usage: $0 start DIR PORT | stop DIR | dsn DIR PORT" >&2
	exit 2
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$(realpath -m "$2")

if [ -z "$(command -v pg_ctl)" ]; then
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/pg_ctl" ] && PATH="$d:$PATH"
	done
fi
command -v pg_ctl >/dev/null || { echo "pg-test: pg_ctl not found (install postgresql)" >&2; exit 1; }

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- env PATH="$PATH" "$@"
	else
		"$@"
	fi
}

case "$cmd" in
start)
	[ $# -eq 3 ] || usage
	port=$3
	mkdir -p "$dir"
	[ "$(id -u)" -eq 0 ] && chown postgres "$dir"
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		as_owner initdb -D "$dir/data" -A trust -U postgres -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
			{ cat "$dir/initdb.log" >&2; exit 1; }
	fi
	if ! as_owner pg_ctl -D "$dir/data" status >/dev/null 2>&1; then
		as_owner pg_ctl -D "$dir/data" -w -t 60 -l "$dir/log" \
			-o "-k $dir -c listen_addresses=127.0.0.1 -p $port -c max_connections=300 -c fsync=off" \
			start >/dev/null || { tail -n 20 "$dir/log" >&2; exit 1; }
	fi
	echo "postgresql://postgres@127.0.0.1:$port"
	;;
dsn)
	[ $# -eq 3 ] || usage
	echo "postgresql://postgres@127.0.0.1:$3"
	;;
stop)
	[ -f "$dir/data/PG_VERSION" ] || exit 0
	if as_owner pg_ctl -D "$dir/data" status >/dev/null 2>&1; then
		as_owner pg_ctl -D "$dir/data" -w -t 60 -m fast stop >/dev/null
	fi
	;;
*)
	usage
	;;
esac
