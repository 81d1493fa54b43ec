#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the deploy board's browser tests (tests/browser): Debian chromium driven by npm playwright-core,
# against the slipway-server of the build directory. Installs playwright-core when node_modules is missing.
# Usage: scripts/browser-test.sh [test-name-pattern]   (SLIPWAY_BUILD_DIR defaults to ./build)
set -euo pipefail
cd "$(dirname "$0")/.."
export SLIPWAY_BUILD_DIR="${SLIPWAY_BUILD_DIR:-$PWD/build}"

if [ ! -x /usr/bin/chromium ]; then
	echo "browser-test: /usr/bin/chromium is missing (scripts/deps.sh test installs it)" >&2
	exit 1
fi
for tool in node npm; do
	command -v "$tool" >/dev/null || { echo "browser-test: $tool is missing" >&2; exit 1; }
done

cd tests/browser
if [ ! -f node_modules/playwright-core/package.json ]; then
	npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error
fi
args=()
[ $# -gt 0 ] && args=(--test-name-pattern "$1")
exec node --test --test-concurrency=1 "${args[@]}" board.test.mjs access.test.mjs agents.test.mjs oncall.test.mjs zones.test.mjs hosts.test.mjs records.test.mjs a11y.test.mjs safe.test.mjs scale.test.mjs
