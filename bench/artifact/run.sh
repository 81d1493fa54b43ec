#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Artifact download + extraction: slipway-agent's download helper vs `curl -s URL | tar xz`, for one tar.gz served by
# a private nginx on loopback. Prints a Markdown table on stdout.
# Knobs: BENCH_ARTIFACT_MB (200), BENCH_RUNS (3), BENCH_KEEP_TMP=1, SLIPWAY_BUILD_DIR (build).
set -eu
exec /usr/bin/python3 "$(dirname "$0")/download.py" "$@"
