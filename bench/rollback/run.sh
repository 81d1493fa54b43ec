#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Rollback to a kept build: time the agent takes for a whole ROLLBACK deploy (all stages, no download, a symlink
# flip) against a scripted in-process ping server, and subtract the scripts' own run time measured the same way.
# Knobs: BENCH_ROLLBACKS (20), SLIPWAY_BUILD_DIR (build).
set -eu
exec /usr/bin/python3 "$(dirname "$0")/bench.py" "$@"
