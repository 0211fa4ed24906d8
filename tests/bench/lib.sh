# Helpers shared by the bench scripts (source it after setting BUILD, STATE, LOG, T0 and
# BENCH_NAME, the prefix of progress lines).
#   say MSG; die MSG; lab ARGS... (skiff-lab on $STATE, bounded); in_pod SECONDS DEPLOY CMD...

say() { echo "$BENCH_NAME: [$((SECONDS - T0)) s] $*" | tee -a "$LOG" >&2; }
die() {
	say "FAILED: $*"
	exit 1
}

lab() { timeout 90 "$BUILD/bin/skiff-lab" --state "$STATE" "$@"; }
# in_pod SECONDS DEPLOY CMD...: CMD in a bench pod's cgroup and netns, killed after SECONDS.
in_pod() {
	local t=$1 d=$2
	shift 2
	timeout "$t" "$BUILD/bin/skiff-lab" --state "$STATE" exec -n bench "deploy/$d" -- "$@"
}
