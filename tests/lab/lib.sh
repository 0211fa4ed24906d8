# Helpers for the lab tests (source it first):
#   t_begin NAME; t_pass [DETAIL]; t_fail MSG; t_summary (prints "N passed, N failed", fails on any)
#   t_skip FEATURE WHY: the kernel lacks FEATURE (e.g. ktls); a failure instead when FEATURE is in
#   SKIFF_EXPECT_FEATURES (see tests/run.sh)
#   lab ARGS...   skiff-lab on this test's private state dir; `lab down` always runs at exit.
# BUILD defaults to build; it is made absolute so that commands run by `lab exec` find binaries.
set -u
BUILD=${BUILD:-build}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd || echo "$BUILD")
# T_OWN: what this file created (the state dir, and mesh.sh's log), removed at exit
T_OWN=()
if [ -z "${STATE:-}" ]; then
	STATE=$(mktemp -d /tmp/skiff-lab-test.XXXXXX)
	T_OWN+=("$STATE")
fi
T_PASSED=0
T_FAILED=0
T_SKIPPED=0
T_NAME=""

lab() { "$BUILD/bin/skiff-lab" --state "$STATE" "$@"; }

# One lab per machine (its netns names are fixed): every lab test and `make bench` hold this lock
# for their whole run, so a bench or a second `make test` started meanwhile waits its turn instead
# of finding the other's lab and failing.
exec 9>/run/skiff-lab.lock
T_MARK=$SECONDS
if ! flock -w 900 9; then
	echo "another lab run held /run/skiff-lab.lock for 15 minutes" >&2
	exit 1
fi
# tests/run.sh takes the wait out of the test's own time (a loaded machine shows both)
[ $((SECONDS - T_MARK)) -gt 0 ] && echo "# lab lock: waited $((SECONDS - T_MARK)) s"
T_MARK=$SECONDS

t_cleanup() {
	lab down >/dev/null 2>&1 || true
	[ ${#T_OWN[@]} = 0 ] || rm -rf "${T_OWN[@]}"
}
trap t_cleanup EXIT

t_begin() { T_NAME=$1; }

# t_took: T_TOOK=" [N s]", the seconds since the previous result (or the lock), setup included,
# so a log shows which cases cost a test its time
t_took() {
	T_TOOK=" [$((SECONDS - T_MARK)) s]"
	T_MARK=$SECONDS
}

t_pass() {
	T_PASSED=$((T_PASSED + 1))
	t_took
	echo "ok - $T_NAME${1:+ ($1)}$T_TOOK"
}

t_fail() {
	T_FAILED=$((T_FAILED + 1))
	t_took
	echo "not ok - $T_NAME$T_TOOK"
	printf '%s\n' "$1" | sed 's/^/#   /'
}

t_skip() {
	local expected=" ${SKIFF_EXPECT_FEATURES:-} "
	case "${expected//,/ }" in
	*" $1 "*)
		t_fail "$1 is expected on this kernel (SKIFF_EXPECT_FEATURES=$SKIFF_EXPECT_FEATURES): $2"
		return
		;;
	esac
	T_SKIPPED=$((T_SKIPPED + 1))
	t_took
	echo "skip - $T_NAME (reason: $1: $2)"
}

t_summary() {
	if [ "$T_SKIPPED" -gt 0 ]; then
		echo "$T_PASSED passed, $T_FAILED failed, $T_SKIPPED skipped"
	else
		echo "$T_PASSED passed, $T_FAILED failed"
	fi
	[ "$T_FAILED" -eq 0 ]
}

if [ "$(id -u)" -ne 0 ]; then
	echo "lab tests need root (network namespaces, cgroups, bpffs)" >&2
	t_begin "running as root"
	t_fail "run as root"
fi
