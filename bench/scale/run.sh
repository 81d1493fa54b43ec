#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The server at fleet scale, driven by slipway-fleetsim (BENCH_SCALE_HOSTS, default 100000); see scale.py.
# Markdown on stdout.
set -eu
exec /usr/bin/python3 "$(dirname "$0")/scale.py" "$@"
