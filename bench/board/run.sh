#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Page load of the board's stage page with 10,000 real hosts in Debian chromium (bench/board/load.mjs): first
# visit, repeat visit (ETag revalidation) and repeat visit without the browser cache. Uses the browser tests'
# playwright-core (installed into tests/browser by npm ci when missing).
# Knobs: BENCH_BOARD_HOSTS (10000), BENCH_BOARD_RUNS (5), SLIPWAY_BUILD_DIR (build).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
[ -x /usr/bin/chromium ] || { echo "bench/board: /usr/bin/chromium is missing" >&2; exit 1; }
if [ ! -f "$ROOT/tests/browser/node_modules/playwright-core/package.json" ]; then
	(cd "$ROOT/tests/browser" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
export SLIPWAY_BUILD_DIR="${SLIPWAY_BUILD_DIR:-$ROOT/build}"
exec node "$ROOT/bench/board/load.mjs"
