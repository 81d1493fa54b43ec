#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# slipway-agent: the idle footprint (idle.py: memory from /proc/PID/smaps_rollup, CPU over an idle period, with
# long-polling and with plain polling) and the CPU per deploy (deploy.py: the agent and its children, idle
# subtracted). Prints Markdown tables on stdout.
# Knobs: BENCH_IDLE_SECONDS (60), BENCH_WARMUP_SECONDS (5), BENCH_POLL_INTERVAL (30), BENCH_DEPLOYS (20),
# BENCH_AGENT_BASELINE (another slipway-agent binary, e.g. a build of main, measured in the same run),
# SLIPWAY_BUILD_DIR (build).
set -eu
here=$(dirname "$0")
/usr/bin/python3 "$here/idle.py" "$@"
echo
agent="${SLIPWAY_BUILD_DIR:-$here/../../build}/src/agent/slipway-agent"
if [ -n "${BENCH_AGENT_BASELINE:-}" ]; then
	exec /usr/bin/python3 "$here/deploy.py" "baseline=$BENCH_AGENT_BASELINE" "this build=$agent"
fi
exec /usr/bin/python3 "$here/deploy.py" "this build=$agent"
