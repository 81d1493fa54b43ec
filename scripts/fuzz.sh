#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Run every libFuzzer target for FUZZ_SECONDS (default 60) each, starting from a copy of its
# corpus, and print one line per target with the executions it ran. New findings (crash-*) are
# left in build-fuzz/findings/<target>/ and make the script exit 1. Arguments name targets to run
# only those (e.g. `scripts/fuzz.sh deploy-actions`); none = every target.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DFUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
status=0
if [ $# -gt 0 ]; then
	bins=()
	for t in "$@"; do
		cmake --build build-fuzz --target "fuzz-$t" -j "$(nproc)" >/dev/null
		bins+=("build-fuzz/tests/fuzz/fuzz-$t")
	done
else
	cmake --build build-fuzz -j "$(nproc)" >/dev/null
	bins=(build-fuzz/tests/fuzz/fuzz-*)
fi
for bin in "${bins[@]}"; do
	t=$(basename "$bin"); t=${t#fuzz-}
	work=build-fuzz/corpus/$t; out=build-fuzz/findings/$t
	mkdir -p "$work" "$out"
	cp -n tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
	log=build-fuzz/$t.log
	if "$bin" -max_total_time="$secs" -artifact_prefix="$out/" "$work" >"$log" 2>&1; then
		execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
		[ -n "$execs" ] || execs=$(grep -Eo '#[0-9]+' "$log" | tail -1 | tr -d '#')
		echo "$t: ${execs:-?} executions in ${secs}s, no finding"
	else
		echo "$t: FINDING, see $log and $out" >&2
		status=1
	fi
done
exit $status
