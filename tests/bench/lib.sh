# Helpers shared by the bench scripts. Source it after setting BUILD; then either call
# bench_lab_start (the lab benches: mtls, authz, ktls) or set STATE, LOG, T0 and BENCH_NAME (the
# prefix of progress lines) yourself (run.sh).
#   say MSG; die MSG; lab ARGS... (skiff-lab on $STATE, bounded); in_pod SECONDS DEPLOY CMD...
#   bench_lab_start NAME TOOL...; spawn CMD...; agent_ticks

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

# bench_lab_start NAME TOOL...: what every lab bench does first. Sets OUT, LOG (NAME.log), RAW
# (NAME.tsv), a private WORK dir and STATE, T0 and BENCH_NAME; cleans up at exit (processes
# started with spawn, the lab, WORK); checks the tools are installed; takes the lab lock.
bench_lab_start() {
	local name=$1 t
	shift
	OUT=$BUILD/bench LOG=$BUILD/bench/$name.log RAW=$BUILD/bench/$name.tsv
	WORK=$(mktemp -d "/tmp/skiff-$name.XXXXXX") STATE=$WORK/lab T0=$SECONDS
	BENCH_NAME=bench-$name PIDS=()
	mkdir -p "$OUT" && : >"$LOG" && : >"$RAW"
	trap bench_cleanup EXIT
	for t in "$@"; do
		command -v "$t" >/dev/null || die "$t not installed (make deps)"
	done
	exec 9>/run/skiff-lab.lock
	flock -w 300 9 || die "another run held /run/skiff-lab.lock for 5 minutes"
	[ ! -e /run/netns/skl-fabric ] || die "another skiff-lab is running on this machine"
}
bench_cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	[ ! -e "$STATE/lab.state" ] && [ ! -d "$STATE/config" ] || lab down >>"$LOG" 2>&1
	rm -rf "$WORK"
}
# spawn CMD...: a process for the whole run (servers, HAProxy), killed by pid at exit.
spawn() {
	"$@" >>"$LOG" 2>&1 &
	PIDS+=($!)
}

# CPU ticks (utime + stime) of every skiffd of this lab, summed: found by its state dir, so no
# other lab's agent counts, and a replaced one still draining does
agent_ticks() {
	local p t=0 st
	for p in $(pgrep -f "^$BUILD/bin/skiffd .*$STATE/"); do
		st=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		st=${st##*) }
		# shellcheck disable=SC2086
		set -- $st
		t=$((t + ${12} + ${13}))
	done
	echo $t
}
