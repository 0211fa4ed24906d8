#!/bin/bash
# Run each libFuzzer target for SECONDS from its seeds; close with "N passed, N failed, 0 skipped".
#   tests/fuzz/run.sh [BUILD_DIR] [SECONDS] [NAME]
# Targets are BUILD/fuzz/bin/fuzz_* (make fuzz-build); NAME, a shell pattern, picks some. Seeds come
# from tests/fuzz/corpus/TARGET (read only); what the fuzzer adds goes to BUILD/fuzz/corpus/TARGET,
# so a later run starts from there. A target fails on any crash, sanitizer report, leak, timeout
# (10 s for one input) or memory blow-up (2 GiB): the input is kept as
# BUILD/fuzz/crashes/TARGET-crash-SHA1 (or -leak-, -timeout-, -oom-) and the log's tail printed.
# Replay one: BUILD/fuzz/bin/TARGET BUILD/fuzz/crashes/TARGET-crash-...
# Targets run one after the other at nice 19: the machine is shared.
# tests/fuzz/TARGET.flags, if present, holds extra libFuzzer flags for that target.
set -u
BUILD=${1:-build}
SECS=${2:-60}
ONLY=${3:-*}
FZ=$BUILD/fuzz
PASSED=0
FAILED=0
FAILED_NAMES=()

mkdir -p "$FZ/crashes" "$FZ/corpus" "$FZ/logs"
for bin in "$FZ"/bin/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	# shellcheck disable=SC2053 # ONLY is a pattern
	[[ $name == $ONLY ]] || continue
	seeds=tests/fuzz/corpus/$name
	work=$FZ/corpus/$name
	log=$FZ/logs/$name.log
	flags=()
	[ -f "tests/fuzz/$name.flags" ] && read -ra flags <"tests/fuzz/$name.flags"
	mkdir -p "$work"
	[ -d "$seeds" ] || seeds=
	nice -n 19 "$bin" "${flags[@]}" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$FZ/crashes/$name-" -print_final_stats=1 "$work" ${seeds:+"$seeds"} \
		>"$log" 2>&1 </dev/null
	rc=$?
	runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -1)
	cov=$(grep -E '^#[0-9]+' "$log" | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' | tail -1)
	if [ "$rc" -eq 0 ]; then
		PASSED=$((PASSED + 1))
		echo "ok - $name: ${runs:-?} runs in ${SECS} s, ${cov:-no coverage line}"
	else
		FAILED=$((FAILED + 1))
		FAILED_NAMES+=("$name")
		echo "not ok - $name: exit $rc after ${runs:-?} runs; input kept in $FZ/crashes/, log $log:"
		grep -aE 'ERROR|SUMMARY|runtime error|Test unit written|^whole|not idempotent' "$log" |
			head -20 | sed 's/^/    /'
	fi
done
if [ $((PASSED + FAILED)) -eq 0 ]; then
	echo "no fuzz target matched '$ONLY' in $FZ/bin (did make fuzz-build run?)"
	FAILED=1
fi
[ ${#FAILED_NAMES[@]} -gt 0 ] && echo "failed: ${FAILED_NAMES[*]}"
echo "$PASSED passed, $FAILED failed, 0 skipped"
[ "$FAILED" -eq 0 ]
