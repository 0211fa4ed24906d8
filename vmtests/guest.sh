#!/bin/bash
# Stage 2 of the vmtest guest: PID 1 after switch_root, running the host's own bash and tools
# on a tmpfs overlay of the host's root. Sets up what skiff's tests expect of a node (proc, sys,
# bpffs, cgroup v2 at /sys/fs/cgroup/unified, lo up, kTLS), runs the job that vmtests/run.sh left
# in the results share (/vmtest/job.env), writes its output, exit code and timings back there,
# and powers off. It must never exit: PID 1 exiting panics the kernel.
#   guest.sh REPO
REPO=$1
RES=/vmtest
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C.UTF-8
# Tests may read this to widen timing thresholds: under TCG syscalls are ~15x slower.
export SKIFF_VMTEST=1

power_off() {
	sync
	busybox poweroff -f 2>/dev/null || poweroff -f 2>/dev/null
	echo o >/proc/sysrq-trigger
	sleep 60
}

# log MESSAGE: to the console (fd 3) and to the guest's own log in the results share
exec 3>&1
log() {
	echo "vmtest guest: $*" >&3
	echo "vmtest guest: $*" >>"$RES/guest.log"
}

setup_node() {
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev
	# devtmpfs lacks what udev would add; bash's process substitution needs /dev/fd.
	ln -sfn /proc/self/fd /dev/fd
	ln -sfn /proc/self/fd/0 /dev/stdin
	ln -sfn /proc/self/fd/1 /dev/stdout
	ln -sfn /proc/self/fd/2 /dev/stderr
	mkdir -p /dev/pts /dev/shm
	mount -t devpts devpts /dev/pts
	mount -t tmpfs tmpfs /dev/shm
	# /tmp stays the overlay's (the build dir may live there); /run starts empty like a fresh
	# node's (no stale netns files from the host), unless the repo or build dir is under it.
	case "$REPO $BUILD" in
	/run/* | *" /run/"*) ;;
	*) mount -t tmpfs -o mode=0755 tmpfs /run ;;
	esac
	mount -t bpf bpf /sys/fs/bpf || log "cannot mount bpffs on /sys/fs/bpf"
	mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
	mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
	# The tests expect the project machines' hybrid layout: v2 at /sys/fs/cgroup/unified.
	mount -t tmpfs -o mode=0755 cgroup /sys/fs/cgroup
	mkdir -p /sys/fs/cgroup/unified
	mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified || log "cannot mount cgroup2"
	ip link set lo up || log "cannot bring up lo"
	hostname skiff-vmtest
	# kTLS is a module on Debian's kernel; a custom kernel may have it built in or not at all.
	modprobe -q tls 2>/dev/null
	if [ -d /sys/module/tls ]; then
		log "tls: loaded"
	else
		log "tls: not available"
	fi
}

# seconds_since T0: guest uptime minus T0, one decimal
seconds_since() {
	awk -v a="$1" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%.1f\n", b - a }'
}

run_job() {
	local rc t0
	cd "$REPO" || return 97
	t0=$(cut -d' ' -f1 /proc/uptime)
	echo "$t0" >"$RES/boot_seconds"
	log "kernel $(uname -r), booted in ${t0}s, running ${CMD:-tests/run.sh $BUILD $SUITE $ONLY}"
	log "expected features: ${SKIFF_EXPECT_FEATURES:-none}${SKIFF_EXTRA_BPF:+, SKIFF_EXTRA_BPF=$SKIFF_EXTRA_BPF}"
	# Output goes to the results share and, for live progress on the host, to the console.
	if [ -n "$CMD" ]; then
		bash -c "$CMD" </dev/null 2>&1 | tee "$RES/output.log" >&3
	else
		tests/run.sh "$BUILD" "$SUITE" ${ONLY:+"$ONLY"} </dev/null 2>&1 |
			tee "$RES/output.log" >&3
	fi
	rc=${PIPESTATUS[0]}
	seconds_since "$t0" >"$RES/run_seconds"
	return "$rc"
}

# The benchmarks in a short mode (the job of the bench guest that vmtests/run.sh boots beside the
# suites' guest): they must run to the end (a crash is a defect) but TCG timings prove function,
# not speed. Results in $RES/bench.
run_bench() {
	local t0 flag=--$BENCH
	[ "$BENCH" = full ] && flag=
	cd "$REPO" || return 97
	t0=$(cut -d' ' -f1 /proc/uptime)
	log "bench: tests/bench/run.sh $BUILD $flag --strict --out $RES/bench"
	# shellcheck disable=SC2086 # flag is empty or one word
	tests/bench/run.sh "$BUILD" $flag --strict --out "$RES/bench" </dev/null 2>&1 | tee -a "$RES/bench-output.log" >&3
	echo "${PIPESTATUS[0]}" >"$RES/bench_rc"
	seconds_since "$t0" >"$RES/bench_seconds"
	log "bench: exit code $(cat "$RES/bench_rc") after $(cat "$RES/bench_seconds") s"
}

# job.env sets BUILD, SUITE (none: no tests), CMD (non-empty: replaces the suites), ONLY (run only
# the tests of that name), ELSEWHERE (lab tests another guest or the host runs), UNIT_ELSEWHERE
# (unit binaries the host alone runs), EXTRA_BPF, BENCH (none, tiny, quick or full) and
# EXPECT_FEATURES.
# shellcheck source=/dev/null
. "$RES/job.env"
# Features this kernel is known to have: a test that would skip for one of them fails instead.
export SKIFF_EXPECT_FEATURES=$EXPECT_FEATURES
export SKIFF_TESTS_ELSEWHERE=${ELSEWHERE:-}
export SKIFF_UNIT_ELSEWHERE=${UNIT_ELSEWHERE:-}
[ -n "$EXTRA_BPF" ] && export SKIFF_EXTRA_BPF=$EXTRA_BPF
setup_node >>"$RES/guest.log" 2>&1
uname -r >"$RES/kernel"
if [ "$SUITE" != none ] || [ -n "$CMD" ]; then
	run_job
	echo $? >"$RES/rc.tmp" && mv "$RES/rc.tmp" "$RES/rc"
	log "done, exit code $(cat "$RES/rc")"
fi
[ "$BENCH" != none ] && run_bench
power_off
