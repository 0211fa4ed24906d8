#!/bin/bash
# Run skiff's tests and close with one line: "N passed, N failed".
#   tests/run.sh [BUILD_DIR] [all|unit|kernel|lab]
# unit:   cmocka binaries in BUILD/tests/unit (no root needed)
# kernel: cmocka binaries in BUILD/tests/kernel (root: real BPF programs, netns, cgroups)
# lab:    tests/lab/test_*.sh (root: skiff-lab clusters of network namespaces + skiffd)
# A test binary that crashes or exits non-zero without reporting a failed case counts as one
# failure, so a broken suite can never look green.
set -u
BUILD=${1:-build}
WHAT=${2:-all}
PASSED=0
FAILED=0
FAILED_NAMES=()
export CMOCKA_MESSAGE_OUTPUT=TAP

run_cmocka() {
	local bin=$1 out rc p f
	out=$("$bin" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/    /'
	p=$(printf '%s\n' "$out" | grep -c '^ok ')
	f=$(printf '%s\n' "$out" | grep -c '^not ok ')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		f=1 # a suite that ran nothing is a broken suite
	fi
	PASSED=$((PASSED + p))
	FAILED=$((FAILED + f))
	[ "$f" -gt 0 ] && FAILED_NAMES+=("$(basename "$bin")")
	echo "  $(basename "$bin"): $p passed, $f failed"
}

run_script() {
	local script=$1 out rc p f line
	out=$(BUILD="$BUILD" bash "$script" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/    /'
	line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
	p=$(echo "$line" | sed -nE 's/^([0-9]+) passed.*/\1/p')
	f=$(echo "$line" | sed -nE 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/p')
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	PASSED=$((PASSED + p))
	FAILED=$((FAILED + f))
	[ "$f" -gt 0 ] && FAILED_NAMES+=("$(basename "$script")")
	echo "  $(basename "$script"): $p passed, $f failed"
}

suite() {
	local kind=$1 t0=$SECONDS before=$((PASSED + FAILED))
	echo "== $kind tests"
	case $kind in
	unit | kernel)
		for bin in "$BUILD"/tests/"$kind"/test_*; do
			[ -x "$bin" ] && run_cmocka "$bin"
		done
		;;
	lab)
		for script in tests/lab/test_*.sh; do
			[ -f "$script" ] && run_script "$script"
		done
		;;
	esac
	if [ $((PASSED + FAILED)) -eq "$before" ]; then
		echo "  no $kind tests found in $BUILD (did the build run?)"
		FAILED=$((FAILED + 1))
		FAILED_NAMES+=("$kind: no tests")
	fi
	echo "== $kind tests took $((SECONDS - t0)) s"
}

if [ "$WHAT" != unit ] && [ "$(id -u)" -ne 0 ]; then
	echo "tests/run.sh: kernel and lab tests need root (BPF, netns, cgroups); run as root" >&2
	exit 2
fi
case $WHAT in
all) suite unit; suite kernel; suite lab ;;
unit | kernel | lab) suite "$WHAT" ;;
*) echo "tests/run.sh: unknown suite '$WHAT' (all, unit, kernel, lab)" >&2; exit 2 ;;
esac
[ ${#FAILED_NAMES[@]} -gt 0 ] && echo "failed: ${FAILED_NAMES[*]}"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
