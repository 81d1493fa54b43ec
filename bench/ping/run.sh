#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Idle ping throughput of slipway-server: wrk posts realistic idle pings from N distinct hosts (all already serving
# the current build) and, as a ceiling, GET /healthz; prints pings/s, p50/p99, the ratio and the server's RSS.
# Knobs: BENCH_PING_HOSTS (10000,100000), BENCH_PING_SECONDS (10), BENCH_PING_CONNECTIONS (64),
# BENCH_PING_THREADS (2), SLIPWAY_BUILD_DIR (build).
set -eu
exec /usr/bin/python3 "$(dirname "$0")/bench.py" "$@"
