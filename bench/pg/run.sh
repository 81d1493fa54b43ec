#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Idle ping throughput on PostgreSQL (one and two replicas) against SQLite in the same run, and the database
# writes per idle ping. Knobs: BENCH_PG_HOSTS (10000), BENCH_PG_SECONDS (10), BENCH_PING_CONNECTIONS (64),
# BENCH_PING_THREADS (2), SLIPWAY_TEST_PG_DSN (default: a throwaway cluster), SLIPWAY_BUILD_DIR (build),
# BENCH_PG_BEFORE (another build directory: its PostgreSQL rows too, for a before/after in one run).
set -eu
exec /usr/bin/python3 "$(dirname "$0")/bench.py" "$@"
