#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make bench`: run every benchmark bench/<name>/run.sh (or only the names given) and append its results to
# bench/RESULTS.md under a header naming the date, the commit, the machine and the exact command.
# usage: bench/run.sh [NAME...]        environment: SLIPWAY_BUILD_DIR (default build), plus each bench's own knobs
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$ROOT"
export SLIPWAY_BUILD_DIR=${SLIPWAY_BUILD_DIR:-$ROOT/build}
RESULTS="$ROOT/bench/RESULTS.md"

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for f in bench/*/run.sh; do
		[ -x "$f" ] || continue
		d=${f%/run.sh}
		names+=("${d#bench/}")
	done
fi
[ ${#names[@]} -gt 0 ] || { echo "bench: no bench/*/run.sh found" >&2; exit 1; }

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || commit="$commit-dirty"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
[ -f "$RESULTS" ] || printf '# Benchmark results\n\nAppended by `make bench` (bench/run.sh); newest last. See bench/README.md.\n' >"$RESULTS"

status=0
for name in "${names[@]}"; do
	script="bench/$name/run.sh"
	[ -x "$script" ] || { echo "bench: $script does not exist" >&2; status=1; continue; }
	# the exact command, with the knobs that were set, so a result can be reproduced
	knobs=$(env | grep -E '^(BENCH_|SLIPWAY_BENCH_)' | sort | tr '\n' ' ' || true)
	cmd="${knobs}$script"
	echo "bench: running $cmd" >&2
	out=$(mktemp)
	start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	if "$script" >"$out"; then rc=0; else rc=$?; status=1; fi
	{
		printf '\n## %s — %s\n\n' "$name" "$start"
		printf -- '- command: `%s`\n' "$cmd"
		printf -- '- commit: %s\n' "$commit"
		printf -- '- machine: %s, %s cores, %s, kernel %s\n' "$(uname -n)" "$(nproc)" "${cpu:-unknown cpu}" "$(uname -r)"
		[ "$rc" -eq 0 ] || printf -- '- **failed with exit code %s**\n' "$rc"
		printf '\n'
		cat "$out"
	} >>"$RESULTS"
	cat "$out"
	rm -f "$out"
done
echo "bench: results appended to bench/RESULTS.md" >&2
exit "$status"
