#!/bin/bash
# Run skiff's tests and close with one line: "N passed, N failed, N skipped".
#   tests/run.sh [BUILD_DIR] [all|unit|deploy|kernel|lab|fuzz|SUITE,SUITE...] [NAME]
# unit:   cmocka binaries in BUILD/tests/unit (no root needed)
# deploy: tests/deploy/test_*.sh (root: chroot): deploy/'s manifests against the Kubernetes
#         schemas and skiffd's code, and the image from `make image`. They do not depend on the
#         kernel, so `all` leaves them out inside a vmtest guest (SKIFF_VMTEST set).
# kernel: cmocka binaries in BUILD/tests/kernel (root: real BPF programs, netns, cgroups)
# lab:    tests/lab/test_*.sh (root: skiff-lab clusters of network namespaces + skiffd)
# fuzz:   each libFuzzer target of BUILD/fuzz/bin (make fuzz-build) for SKIFF_FUZZ_SECONDS
#         (default 5) through tests/fuzz/run.sh; any crash fails. Not in `all` (what make vmtest
#         runs in its guest): make test asks for all,fuzz.
# NAME (a shell pattern, e.g. test_bpf_load) runs only the binaries or scripts it matches.
# SKIFF_TESTS_ELSEWHERE (a pattern, extglob allowed) leaves out the lab tests it matches: they run
# in another place (make vmtest runs some lab tests in its second guest). SKIFF_UNIT_ELSEWHERE does
# the same for unit binaries (make vmtest leaves to the host those that use no kernel interface
# beyond files and memory); both are listed on the suite's first line.
# A test binary that crashes or exits non-zero without reporting a failed case counts as one
# failure, so a broken suite can never look green.
#
# Skips: a test may skip only for a kernel feature it needs and the kernel lacks, and must say
# which and why. cmocka tests print "# skip reason: FEATURE: WHY" and then skip()
# (tests/feature_probe.h does both); lab scripts call t_skip FEATURE WHY (tests/lab/lib.sh). Each skip
# is listed with its reason; a skip without one counts as a failure. A feature named in
# SKIFF_EXPECT_FEATURES (e.g. "ktls"; vmtests/guest.sh sets it for Debian's 6.1) must be there:
# a test that would skip for it fails instead.
set -u
BUILD=${1:-build}
WHAT=${2:-all}
ONLY=${3:-*}
ELSEWHERE=${SKIFF_TESTS_ELSEWHERE:-}
UNIT_ELSEWHERE=${SKIFF_UNIT_ELSEWHERE:-}
PASSED=0
FAILED=0
SKIPPED=0
FAILED_NAMES=()
SKIP_LINES=()
export CMOCKA_MESSAGE_OUTPUT=TAP

# A sanitizer build (make SAN=1: skiffd linked with AddressSanitizer): every report of every
# program a test runs (unit binaries, skiffd in the lab's nodes, skiff-lab, skiffctl) counts as a
# failure of that binary or script, and is shown. UBSan does not stop the program, so without this
# its findings would pass. AddressSanitizer and LeakSanitizer (at exit) write to SAN_DIR by pid;
# gcc's UBSan ignores log_path and writes to stderr: the test's own output, or the lab's logs,
# which `lab down` copies to SAN_DIR/labs (SKIFF_LAB_KEEP_LOGS) after stopping skiffd.
SAN_DIR=
SAN_PAT='runtime error:|ERROR: (Address|Leak|UndefinedBehavior)Sanitizer'
if ldd "$BUILD/bin/skiffd" 2>/dev/null | grep -q libasan; then
	SAN_DIR=$(mktemp -d /tmp/skiff-san.XXXXXX)
	trap 'rm -rf "$SAN_DIR"' EXIT
	export ASAN_OPTIONS="log_path=$SAN_DIR/asan:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1"
	export UBSAN_OPTIONS="print_stacktrace=1"
	export SKIFF_LAB_KEEP_LOGS="$SAN_DIR/labs"
	# tests that time skiffd loosen their upper bounds: a sanitizer build runs 2-3 times slower,
	# and the targets are the release build's
	export SKIFF_SANITIZED=1
fi

# san_reports OUTPUT: shows each sanitizer report written since the last call (AddressSanitizer's
# files, lab logs and OUTPUT holding one), removes them, and sets SAN_N to how many there were.
san_reports() {
	local r n
	SAN_N=0
	[ -n "$SAN_DIR" ] || return 0
	for r in "$SAN_DIR"/asan.*; do
		[ -f "$r" ] || continue
		SAN_N=$((SAN_N + 1))
		echo "  not ok - sanitizer report $(basename "$r"):"
		head -80 "$r" | sed 's/^/    /'
	done
	while IFS= read -r r; do
		SAN_N=$((SAN_N + 1))
		echo "  not ok - sanitizer report in ${r#"$SAN_DIR"/}:"
		grep -E -A30 "$SAN_PAT" "$r" | head -80 | sed 's/^/    /'
	done < <(grep -rlE "$SAN_PAT" "$SAN_DIR/labs" 2>/dev/null)
	n=$(printf '%s\n' "$1" | grep -cE "$SAN_PAT")
	[ "$n" -gt 0 ] && echo "  not ok - $n sanitizer report(s) in the output above"
	SAN_N=$((SAN_N + n))
	rm -rf "${SAN_DIR:?}"/asan.* "$SAN_DIR/labs"
}

# tap_skips: "CASE<TAB>REASON" for each skipped case of cmocka's TAP output on stdin, pairing
# "not ok N # SKIP CASE" with the "# skip reason: ..." line printed within the same case.
tap_skips() {
	awk '/^# skip reason: / { r = substr($0, 16); next }
	/^not ok [0-9]+ # SKIP/ { c = $0; sub(/^not ok [0-9]+ # SKIP */, "", c); print c "\t" r; r = ""; next }
	/^(ok|not ok) / { r = "" }'
}

# script_skips: the same for lab scripts' "skip - CASE (reason: WHY)" lines (lib.sh's t_skip).
script_skips() {
	awk '/^skip - / { c = substr($0, 8); r = ""
		if (match(c, / \(reason: .+\)$/)) { r = substr(c, RSTART + 10, RLENGTH - 11); c = substr(c, 1, RSTART - 1) }
		print c "\t" r }'
}

# record_skips NAME: reads "CASE<TAB>REASON" lines, keeps each skip with its reason; sets S_OK
# (skips with a reason) and S_BAD (skips without one: failures).
record_skips() {
	local name=$1 c r
	S_OK=0 S_BAD=0
	while IFS=$'\t' read -r c r; do
		[ -n "$c" ] || continue
		if [ -z "$r" ]; then
			S_BAD=$((S_BAD + 1))
			echo "  not ok - $c: skipped without naming a reason (see tests/run.sh)"
		else
			S_OK=$((S_OK + 1))
			SKIP_LINES+=("skip - $name: $c (reason: $r)")
		fi
	done
}

# count NAME P F S RC [TOOK]: adds one binary's or script's results to the totals; its line ends
# with what it took ("42 s"), so a log shows where a run's time goes.
count() {
	local name=$1 p=$2 f=$3 s=$4 rc=$5 took=${6:+ ($6)}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$s" -eq 0 ]; then
		f=1 # a suite that ran nothing is a broken suite
	fi
	PASSED=$((PASSED + p))
	FAILED=$((FAILED + f))
	SKIPPED=$((SKIPPED + s))
	[ "$f" -gt 0 ] && FAILED_NAMES+=("$name")
	echo "  $name: $p passed, $f failed, $s skipped$took"
}

run_cmocka() {
	local bin=$1 name out rc p f t0=$SECONDS
	name=$(basename "$bin")
	out=$("$bin" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/    /'
	p=$(printf '%s\n' "$out" | grep -c '^ok ')
	f=$(printf '%s\n' "$out" | grep '^not ok ' | grep -cvE '^not ok [0-9]+ # SKIP')
	record_skips "$name" < <(printf '%s\n' "$out" | tap_skips)
	san_reports "$out"
	count "$name" "$p" $((f + S_BAD + SAN_N)) "$S_OK" "$rc" "$((SECONDS - t0)) s"
}

run_script() {
	local script=$1 name out rc p f line t0=$SECONDS wait
	name=$(basename "$script")
	out=$(BUILD="$BUILD" bash "$script" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/    /'
	# the time another run held the lab lock is not this test's (tests/lab/lib.sh prints it)
	wait=$(printf '%s\n' "$out" | sed -nE 's/^# lab lock: waited ([0-9]+) s$/\1/p' | tail -1)
	line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
	p=$(echo "$line" | sed -nE 's/^([0-9]+) passed.*/\1/p')
	f=$(echo "$line" | sed -nE 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/p')
	record_skips "$name" < <(printf '%s\n' "$out" | script_skips)
	san_reports "$out"
	count "$name" "${p:-0}" $((${f:-0} + S_BAD + SAN_N)) "$S_OK" "$rc" \
		"$((SECONDS - t0 - ${wait:-0})) s${wait:+ + $wait s waiting for the lab lock}"
}

# The fuzz targets, a few seconds each: one count per target (a crash is its failure).
run_fuzz() {
	local out rc p f bin any='' t0=$SECONDS
	for bin in "$BUILD"/fuzz/bin/fuzz_*; do
		# shellcheck disable=SC2053 # ONLY is a pattern
		[ -x "$bin" ] && [[ $(basename "$bin") == $ONLY ]] && any=1
	done
	[ -z "$any" ] && [ "$ONLY" != "*" ] && return # NAME picked tests of other suites
	out=$(tests/fuzz/run.sh "$BUILD" "${SKIFF_FUZZ_SECONDS:-5}" "$ONLY" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/    /'
	p=$(printf '%s\n' "$out" | tail -1 | sed -nE 's/^([0-9]+) passed.*/\1/p')
	f=$(printf '%s\n' "$out" | tail -1 | sed -nE 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/p')
	count "fuzz targets" "${p:-0}" "${f:-0}" 0 "$rc" "$((SECONDS - t0)) s"
}

# elsewhere NAME [PATTERN]: PATTERN (default SKIFF_TESTS_ELSEWHERE) matches it (with or without .sh)
elsewhere() {
	local pat=${2-$ELSEWHERE}
	# shellcheck disable=SC2053 # a pattern
	[ -n "$pat" ] && [[ $1 == $pat || ${1%.sh} == $pat ]]
}

# left_out KIND PATTERN: the line naming the tests of KIND a pattern leaves to another place
left_out() {
	local f names=()
	[ -n "$2" ] || return 0
	for f in "${@:3}"; do
		elsewhere "$(basename "$f")" "$2" && names+=("$(basename "$f")")
	done
	[ ${#names[@]} = 0 ] || echo "  run elsewhere (${#names[@]} $1): ${names[*]}"
}

suite() {
	local kind=$1 t0=$SECONDS before=$((PASSED + FAILED + SKIPPED)) f
	echo "== $kind tests"
	case $kind in
	unit | kernel)
		[ "$kind" = unit ] && left_out "$kind" "$UNIT_ELSEWHERE" "$BUILD"/tests/unit/test_*
		for bin in "$BUILD"/tests/"$kind"/test_*; do
			f=$(basename "$bin")
			[ "$kind" = unit ] && elsewhere "$f" "$UNIT_ELSEWHERE" && continue
			# shellcheck disable=SC2053 # ONLY is a pattern
			[ -x "$bin" ] && [[ $f == $ONLY ]] && run_cmocka "$bin"
		done
		;;
	deploy)
		for script in tests/deploy/test_*.sh; do
			f=$(basename "$script")
			# shellcheck disable=SC2053
			[ -f "$script" ] && [[ $f == $ONLY || ${f%.sh} == $ONLY ]] &&
				run_script "$script"
		done
		;;
	fuzz)
		run_fuzz
		;;
	lab)
		left_out "$kind" "$ELSEWHERE" tests/lab/test_*.sh
		for script in tests/lab/test_*.sh; do
			f=$(basename "$script")
			# shellcheck disable=SC2053
			[ -f "$script" ] && [[ $f == $ONLY || ${f%.sh} == $ONLY ]] && ! elsewhere "$f" &&
				run_script "$script"
		done
		;;
	esac
	if [ $((PASSED + FAILED + SKIPPED)) -eq "$before" ] && [ "$ONLY" = "*" ]; then
		echo "  no $kind tests found in $BUILD (did the build run?)"
		FAILED=$((FAILED + 1))
		FAILED_NAMES+=("$kind: no tests")
	fi
	echo "== $kind tests took $((SECONDS - t0)) s"
}

if [[ ,$WHAT, == *,@(all|kernel|lab),* ]] && [ "$(id -u)" -ne 0 ]; then
	echo "tests/run.sh: kernel and lab tests need root (BPF, netns, cgroups); run as root" >&2
	exit 2
fi
SUITES=()
for s in ${WHAT//,/ }; do
	case $s in
	all)
		SUITES+=(unit)
		# the deploy suite does not depend on the kernel: the host's run covers it
		if [ -z "${SKIFF_VMTEST:-}" ]; then SUITES+=(deploy); else echo "== deploy tests: host only"; fi
		SUITES+=(kernel lab)
		;;
	unit | deploy | kernel | lab | fuzz) SUITES+=("$s") ;;
	*) echo "tests/run.sh: unknown suite '$s' (all, unit, deploy, kernel, lab, fuzz)" >&2; exit 2 ;;
	esac
done
for s in "${SUITES[@]}"; do
	suite "$s"
done
if [ "$ONLY" != "*" ] && [ $((PASSED + FAILED + SKIPPED)) -eq 0 ]; then
	echo "  no test matched '$ONLY'"
	FAILED=1
	FAILED_NAMES+=("$ONLY: no such test")
fi
[ ${#FAILED_NAMES[@]} -gt 0 ] && echo "failed: ${FAILED_NAMES[*]}"
for line in "${SKIP_LINES[@]}"; do
	echo "$line"
done
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
