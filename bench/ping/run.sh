#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Idle ping throughput of slipway-server: wrk posts realistic idle pings from N distinct hosts (all already serving
# the current build) and, as a ceiling, GET /healthz; prints pings/s, p50/p99, the ratio and the server's RSS.
# Knobs: BENCH_PING_HOSTS (10000,100000), BENCH_PING_SECONDS (10), BENCH_PING_CONNECTIONS (64),
# BENCH_PING_THREADS (2), SLIPWAY_BUILD_DIR (build), BENCH_PING_COLD_SECONDS (3: the first pass, every host's first
# ping after the start), BENCH_PING_SEED (1; 0: hosts unknown, the first pass registers them),
# BENCH_PING_SERVERS ("label=binary[;name=value...],...": before/after in one run, each N on every binary in turn).
set -eu
exec /usr/bin/python3 "$(dirname "$0")/bench.py" "$@"
