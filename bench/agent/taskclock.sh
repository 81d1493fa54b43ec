#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# bench/agent/taskclock.sh: a BENCH_AGENT_WRAP for deploy.py that counts the CPU time of the whole agent tree (the
# agent, its helper, every job and script) with perf's task-clock, in nanoseconds instead of deploy.py's 10 ms ticks.
# One file per env: $TASKCLOCK_DIR/$TASKCLOCK_TAG.<env>. The total includes start-up, the first deploy and the
# idle wait, so run deploy.py twice (e.g. BENCH_DEPLOYS=5 and 25) with different tags and divide the difference
# by the difference of deploys. deploy.py stops the agent with SIGTERM; perf stat only prints its counts on
# SIGINT, which the agent also takes as a stop.
# Usage: TASKCLOCK_DIR=/tmp/tc TASKCLOCK_TAG=n25 BENCH_AGENT_WRAP=bench/agent/taskclock.sh BENCH_DEPLOYS=25 \
#        /usr/bin/python3 bench/agent/deploy.py ...
set -u
env=$(basename "$(dirname "$3")") # deploy.py runs: AGENT --config <root>/<env>/agent.conf
trap : INT
trap 'kill -INT 0' TERM
perf stat -e task-clock -x, -o "${TASKCLOCK_DIR:-/tmp}/${TASKCLOCK_TAG:-run}.$env" -- "$@" &
p=$!
wait $p
wait $p
