#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Fleet rollout timings with N real agents (BENCH_FLEET_SIZES, default "100 500"); see fleet.py. Markdown on stdout.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/fleet.py" "$@"
