#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Idle footprint of slipway-agent: memory (RSS, PSS, private dirty from /proc/PID/smaps_rollup) and CPU over an idle
# period, once with long-polling (the default) and once with plain polling. Prints a Markdown table on stdout.
# Knobs: BENCH_IDLE_SECONDS (60), BENCH_WARMUP_SECONDS (5), BENCH_POLL_INTERVAL (30), SLIPWAY_BUILD_DIR (build).
set -eu
exec /usr/bin/python3 "$(dirname "$0")/idle.py" "$@"
