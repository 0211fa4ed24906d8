#!/bin/bash
# Run skiff's test suites inside Debian's 6.1 kernel under QEMU (TCG), with the host's root
# filesystem shared read-only over 9p so host-built binaries run unchanged.
#   vmtests/run.sh BUILD_DIR [--kernel PATH] [--suite all|unit|kernel|lab] [--timeout SECONDS]
#                            [--bench none|tiny|quick|full] [--broken] [--cmd 'SHELL COMMAND']
# --kernel (or env KERNEL=) boots that bzImage or ELF vmlinux instead of Debian's; env MODULES=
# may then name its lib/modules/<version> directory. --cmd runs a command in the repo instead of
# the suites. --bench runs tests/bench/run.sh in that mode in a second guest booted alongside
# (default: tiny with --suite all, else none); its table lands in BUILD_DIR/vmtest/bench. --broken
# runs only the BPF load test with the deliberately broken object (tests/kernel/broken/), which
# must fail. Exits non-zero if a test failed, the bench failed to run, a guest panicked or oopsed,
# timed out, or sent no result back. Everything lives in BUILD_DIR/vmtest (cache/ keeps the kernel).
set -u -o pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VMTESTS=$REPO/vmtests
# Inserted by the guest's /init in this order, dependencies first: insmod does not resolve them.
INITRD_MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci 9pnet
	9pnet_virtio netfs fscache 9p overlay"
DEBIAN_KERNEL_RE='^linux-image-6\.1\.0-[0-9]+-amd64$'

usage() {
	sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

die() {
	echo "vmtest: $*" >&2
	exit 2
}

BUILD=
SUITE=all
# The suites guest's bound: under TCG its unit, kernel and lab suites take about 20 minutes on a
# quiet machine, and 40 or more beside make test (CI runs the two side by side).
TIMEOUT=3600
# The bench guest's own bound (VMTEST_BENCH_TIMEOUT): --tiny takes ~4 minutes under TCG, and the
# lab tests it runs beside it (BESIDE_BENCH) about as long again; more beside make test.
BENCH_TIMEOUT=${VMTEST_BENCH_TIMEOUT:-3600}
CMD=
BENCH=
BROKEN=0
KERNEL=${KERNEL:-}
MODULES=${MODULES:-}
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) KERNEL=${2:?--kernel needs a path}; shift 2 ;;
	--suite) SUITE=${2:?--suite needs all, unit, kernel or lab}; shift 2 ;;
	--timeout) TIMEOUT=${2:?--timeout needs seconds}; shift 2 ;;
	--cmd) CMD=${2:?--cmd needs a command}; shift 2 ;;
	--bench) BENCH=${2:?--bench needs none, tiny, quick or full}; shift 2 ;;
	--broken) BROKEN=1; shift ;;
	-h | --help) usage ;;
	-*) echo "vmtest: unknown option $1" >&2; usage ;;
	*) [ -z "$BUILD" ] || usage; BUILD=$1; shift ;;
	esac
done
[ -n "$BUILD" ] || usage
case $SUITE in
all | unit | kernel | lab) ;;
*) die "unknown suite '$SUITE' (all, unit, kernel, lab)" ;;
esac
case $TIMEOUT$BENCH_TIMEOUT in '' | *[!0-9]*) die "timeouts are whole seconds, not '$TIMEOUT'" ;; esac
if [ -z "$BENCH" ]; then
	BENCH=none
	[ "$SUITE" = all ] && [ -z "$CMD" ] && [ $BROKEN = 0 ] && BENCH=tiny
fi
# Lab tests the bench guest runs before the bench (a pattern for tests/run.sh), with the whole
# suite only; VMTEST_BESIDE_BENCH= (empty) runs everything in the suites guest. Chosen so that the
# two guests end together (vmtests/README.md, "Which guest runs what"): the bench guest's ~3.5
# minutes of bench plus these, against the suites guest's unit and kernel suites plus the rest.
BESIDE_BENCH=
if [ "$SUITE" = all ] && [ -z "$CMD" ] && [ $BROKEN = 0 ] && [ "$BENCH" != none ]; then
	BESIDE_BENCH=${VMTEST_BESIDE_BENCH-@(test_authz_conformance|test_canary|test_deploy_caps|test_kube_lab|test_restart|test_traffic_policy|test_upgrade)}
fi
# Lab tests of userspace features whose kernel dependence the guest's other lab tests already
# cover: the host's run alone has them, which keeps CI's two guests within their time. Access
# logs, tracing, the router's HTTP/2, the live analyzer and the soak; the relay's limits
# (test_l7_abuse: skiffd's own timers and parsers; the punt path and HBONE it rides are
# test_punt's and test_hbone's); refused configuration (test_bad_config: the refusal is skiffd's,
# and the 90/10 split it checks still holds is test_canary's and test_kube_lab's in the kernel);
# the HTTP/1.1 router (test_l7route: its per-connection splits are test_canary's, its kernel
# ejection test_sock_lb's) and the metrics page (test_metrics: the L4 counters it renders are
# test_accel's and test_observe's).
HOST_ONLY=${VMTEST_HOST_ONLY-test_accesslog|test_tracing|test_l7route|test_l7route_h2|test_metrics|test_analyze_live|test_soak|test_l7_abuse|test_bad_config}
# Unit binaries that use no kernel interface beyond files, memory, threads and processes (no
# socket, BPF, inotify or setsockopt call: `strace -f -e trace=%network,bpf,inotify_init1` shows
# none): the parsers, model, compiler, analyzer, authz evaluator, CEL, identity without sockets.
# The 6.1 kernel cannot change what they do, so the host's run alone has them. Those with sockets
# (kTLS, relays, HBONE, hand-off) and inotify stay in the guest; the API client's test
# (test_kube_source) is plain loopback TCP and HTTP/1.1 to a test server, with no option the
# kernel can change.
HOST_ONLY_UNIT=${VMTEST_HOST_ONLY_UNIT-@(test_accesslog|test_addr|test_analyze|test_authz|test_authz_cli|test_authz_istio|test_compile|test_compile_live|test_compile_l7_dr|test_compile_maglev|test_compile_mtls|test_compile_policy|test_ctl_fmt|test_flows|test_fuzz_found|test_hbone_retire|test_identity_ca|test_identity_cli|test_identity_mint|test_identity_store|test_identity_verify|test_kube_source|test_kube_trim|test_l7_http1|test_l7_tcp|test_l7route|test_l7route_h2|test_metrics|test_model_dr_policy|test_model_http|test_model_istio|test_model_k8s|test_pod_cgroup|test_upstream|test_yaml)}
# not_here: the pattern of lab tests the suites guest leaves out (none for a --cmd or a chosen test)
not_here() {
	[ -z "$CMD" ] && [ "${ONLY:-*}" = "*" ] || return 0
	local beside=${BESIDE_BENCH#@(}
	beside=${beside%)}
	local all=${beside}${beside:+${HOST_ONLY:+|}}${HOST_ONLY}
	[ -z "$all" ] || echo "@($all)"
}
# unit_not_here: the pattern of unit binaries the suites guest leaves out
unit_not_here() {
	[ -z "$CMD" ] && [ "${ONLY:-*}" = "*" ] && echo "$HOST_ONLY_UNIT"
}
case $BENCH in
none | tiny | quick | full) ;;
*) die "unknown bench mode '$BENCH' (none, tiny, quick, full)" ;;
esac
mkdir -p "$BUILD/vmtest/cache" || die "cannot create $BUILD/vmtest"
BUILD=$(cd "$BUILD" && pwd)
# --broken: the load test alone, made to load the broken object as well; it must fail.
EXTRA_BPF=
ONLY=
if [ $BROKEN = 1 ]; then
	[ -z "$CMD" ] || die "--broken and --cmd do not go together"
	EXTRA_BPF=$(find "$BUILD/tests/kernel/broken" -name '*.bpf.o' 2>/dev/null | sort | paste -sd:)
	[ -n "$EXTRA_BPF" ] || die "no broken BPF object in $BUILD/tests/kernel/broken (run make)"
	SUITE=kernel ONLY=test_bpf_load BENCH=none
fi
VM=$BUILD/vmtest
CACHE=${VMTEST_CACHE:-$VM/cache}
mkdir -p "$CACHE" || die "cannot create $CACHE"
CACHE=$(cd "$CACHE" && pwd)
RUN=$VM/run
BRUN=$VM/bench-run # the bench guest's results share
# Paths travel on the kernel command line and through 9p: no spaces.
case "$REPO$BUILD$KERNEL$MODULES" in
*[[:space:]]*) die "paths with spaces are not supported" ;;
esac

for tool in qemu-system-x86_64 cpio gzip; do
	command -v "$tool" >/dev/null ||
		die "$tool missing: install qemu-system-x86 cpio (make deps)"
done
BUSYBOX=$(command -v busybox) || die "busybox missing: install busybox-static (make deps)"
ldd "$BUSYBOX" >/dev/null 2>&1 &&
	die "$BUSYBOX is dynamically linked: install busybox-static (make deps)"

exec 9>"$VM/lock"
flock -n 9 || die "another vmtest is running on $BUILD (lock $VM/lock)"

# shellcheck source=vmtests/kernel.sh
. "$VMTESTS/kernel.sh"
# shellcheck source=vmtests/initramfs.sh
. "$VMTESTS/initramfs.sh"

# prepare_run DIR SUITE CMD BENCH [ONLY [ELSEWHERE [UNIT_ELSEWHERE]]]: an empty results share
# holding a guest's job (SUITE none and no CMD: no tests, only the bench)
prepare_run() {
	rm -rf "$1"
	mkdir -p "$1"
	{
		printf 'BUILD=%q\n' "$BUILD"
		printf 'SUITE=%q\n' "$2"
		printf 'CMD=%q\n' "$3"
		printf 'ONLY=%q\n' "${5-$ONLY}"
		printf 'ELSEWHERE=%q\n' "${6:-}"
		printf 'UNIT_ELSEWHERE=%q\n' "${7:-}"
		printf 'EXTRA_BPF=%q\n' "$EXTRA_BPF"
		printf 'BENCH=%q\n' "$4"
		printf 'EXPECT_FEATURES=%q\n' "$EXPECT_FEATURES"
	} >"$1/job.env"
}

# prepare_runs: the suites guest's share, and the bench guest's when there is a bench. With the
# whole suite, the lab tests named in BESIDE_BENCH run in the bench guest before the bench, so
# both cores work to the end (TCG runs one guest per core; the bench alone is ~4 minutes).
prepare_runs() {
	rm -rf "$BRUN"
	if [ "$BENCH" != none ] && [ -n "$BESIDE_BENCH" ]; then
		prepare_run "$RUN" "$SUITE" "$CMD" none "$ONLY" "$(not_here)" "$(unit_not_here)"
		prepare_run "$BRUN" lab "" "$BENCH" "$BESIDE_BENCH"
		return
	fi
	prepare_run "$RUN" "$SUITE" "$CMD" none "$ONLY" "$(not_here)" "$(unit_not_here)"
	[ "$BENCH" = none ] || prepare_run "$BRUN" none "" "$BENCH"
}

# clean_console: the serial log without \r and SeaBIOS's terminal escapes
clean_console() {
	tr -d '\r' | sed -u -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' -e '/^SeaBIOS /d' \
		-e 's/^Booting from ROM\.\.//'
}

QEMU_PID=
BENCH_PID=
TAIL_PID=
cleanup() {
	[ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null
	[ -n "$BENCH_PID" ] && kill "$BENCH_PID" 2>/dev/null
	[ -n "$TAIL_PID" ] && kill "$TAIL_PID" 2>/dev/null
}
trap cleanup EXIT
trap 'echo "vmtest: interrupted" >&2; exit 130' INT TERM

# qemu_start IMAGE RESULTS_DIR CONSOLE: one guest in the background; its pid in QPID.
qemu_start() {
	local append share_opts=security_model=none,multidevs=remap
	append="console=ttyS0 quiet loglevel=5 printk.time=1 panic=-1 skiff.repo=$REPO"
	[ -n "$MODDIR" ] && append="$append skiff.kver=$KVER skiff.moddir=$MODDIR"
	append="$append ${VMTEST_APPEND:-}"
	: >"$3"
	# shellcheck disable=SC2086 # VMTEST_QEMU_ARGS is a list of arguments
	qemu-system-x86_64 ${VMTEST_QEMU_ARGS:-} -accel tcg -cpu max -m 2G -smp 1 -nographic \
		-no-reboot -nic none -kernel "$1" -initrd "$INITRD" -append "$append" \
		-virtfs "local,path=/,mount_tag=hostroot,$share_opts,readonly=on" \
		-virtfs "local,path=$2,mount_tag=results,$share_opts" \
		</dev/null >"$3" 2>&1 &
	QPID=$!
}

qemu_kill() {
	kill "$1" 2>/dev/null
	sleep 2
	kill -9 "$1" 2>/dev/null
}

# boot_guests IMAGE: the suites guest (console in CONSOLE, streamed live) and, with a bench, the
# bench guest beside it (console in BCONSOLE): TCG uses one core per guest, and the suites alone
# take most of the time budget, so the bench does not wait for them. Each runs until it powers
# off or its timeout passes. Sets TIMED_OUT, WALL, BENCH_TIMED_OUT and BENCH_WALL.
boot_guests() {
	local t0=$SECONDS
	CONSOLE=$VM/console.log BCONSOLE=$VM/bench-console.log
	TIMED_OUT=0 BENCH_TIMED_OUT=0 WALL='' BENCH_WALL=''
	qemu_start "$1" "$RUN" "$CONSOLE"
	QEMU_PID=$QPID
	# Stream the console live so CI shows progress.
	tail -n +1 -F --pid="$QEMU_PID" "$CONSOLE" 2>/dev/null | clean_console &
	TAIL_PID=$!
	if [ "$BENCH" != none ]; then
		qemu_start "$1" "$BRUN" "$BCONSOLE"
		BENCH_PID=$QPID
	fi
	while [ -n "$QEMU_PID$BENCH_PID" ]; do
		if [ -n "$QEMU_PID" ] && ! kill -0 "$QEMU_PID" 2>/dev/null; then
			wait "$QEMU_PID" 2>/dev/null
			QEMU_PID='' WALL=$((SECONDS - t0))
		elif [ -n "$QEMU_PID" ] && [ $((SECONDS - t0)) -ge "$TIMEOUT" ]; then
			TIMED_OUT=1
			qemu_kill "$QEMU_PID"
		fi
		if [ -n "$BENCH_PID" ] && ! kill -0 "$BENCH_PID" 2>/dev/null; then
			wait "$BENCH_PID" 2>/dev/null
			BENCH_PID='' BENCH_WALL=$((SECONDS - t0))
		elif [ -n "$BENCH_PID" ] && [ $((SECONDS - t0)) -ge "$BENCH_TIMEOUT" ]; then
			BENCH_TIMED_OUT=1
			qemu_kill "$BENCH_PID"
		fi
		sleep 1
	done
	wait "$TAIL_PID" 2>/dev/null
	TAIL_PID=
}

# Features the kernel under test must have: a test that would skip for one of them fails
# (tests/run.sh). Debian's 6.1 has kTLS (the tls module); of another kernel nothing is assumed.
# SKIFF_EXPECT_FEATURES in the environment, even empty, overrides either.
if [ -n "$KERNEL" ]; then
	use_custom_kernel
	EXPECT_FEATURES=${SKIFF_EXPECT_FEATURES-}
else
	fetch_debian_kernel
	EXPECT_FEATURES=${SKIFF_EXPECT_FEATURES-ktls}
fi
echo "vmtest: kernel $KDESC"
pick_boot_image
build_initramfs
prepare_runs
JOB=${CMD:-tests/run.sh $BUILD $SUITE${ONLY:+ $ONLY}}
[ -n "$EXTRA_BPF" ] && JOB="SKIFF_EXTRA_BPF=$EXTRA_BPF $JOB"
echo "vmtest: booting $(basename "$BOOT") (TCG, 1 CPU, 2 GiB), job: $JOB," \
	"expected features: ${EXPECT_FEATURES:-none}, timeout ${TIMEOUT}s"
BENCH_JOB=
if [ "$BENCH" != none ]; then
	bench_flag=" --$BENCH"
	[ "$BENCH" = full ] && bench_flag=
	BENCH_JOB="tests/bench/run.sh $BUILD$bench_flag --strict"
	echo "vmtest: and a second guest beside it for ${BESIDE_BENCH:+lab $BESIDE_BENCH and }the" \
		"bench: $BENCH_JOB," \
		"timeout ${BENCH_TIMEOUT}s (its output is shown when it is done)"
fi
boot_guests "$BOOT"
if [ ! -e "$RUN/kernel" ] && [ "$BOOT" != "$KIMG" ] && grep -q 'PVH ELF Note' "$CONSOLE"; then
	echo "vmtest: this vmlinux has no PVH entry point; booting the bzImage"
	BOOT=$KIMG
	prepare_runs
	boot_guests "$BOOT"
fi
if [ "$BENCH" != none ]; then
	echo
	echo "== the bench guest ($BCONSOLE)"
	clean_console <"$BCONSOLE" | grep -E '^(bench|vmtest guest): '
fi

# Verdict. Kernel lines carry a printk timestamp; test output on the console does not, so a test
# that prints "BUG:" cannot fail the run by itself.
KMSG='\[ *[0-9]+\.[0-9]+\] '
reasons=()
[ "$TIMED_OUT" -eq 1 ] && reasons+=("timed out after ${TIMEOUT}s")
grep -qE "${KMSG}Kernel panic" "$CONSOLE" && reasons+=("guest kernel panicked")
grep -qE "${KMSG}(Oops|BUG:|general protection fault)" "$CONSOLE" &&
	reasons+=("guest kernel oopsed")
rc=
[ -s "$RUN/rc" ] && rc=$(cat "$RUN/rc")
if [ -z "$rc" ]; then
	reasons+=("no result came back from the guest")
elif [ "$rc" != 0 ]; then
	reasons+=("job exited with $rc")
fi
# The bench must run to the end and write its table; its numbers decide nothing (TCG timings).
bench_rc=
if [ "$BENCH" != none ]; then
	rm -rf "$VM/bench"
	[ -d "$BRUN/bench" ] && cp -r "$BRUN/bench" "$VM/bench"
	[ -s "$BRUN/bench_rc" ] && bench_rc=$(cat "$BRUN/bench_rc")
	[ "$BENCH_TIMED_OUT" -eq 1 ] && reasons+=("the bench guest timed out after ${BENCH_TIMEOUT}s")
	grep -qE "${KMSG}(Kernel panic|Oops|BUG:|general protection fault)" "$BCONSOLE" &&
		reasons+=("the bench guest's kernel panicked or oopsed")
	if [ -n "$BESIDE_BENCH" ]; then
		brc=$(cat "$BRUN/rc" 2>/dev/null)
		[ "$brc" = 0 ] || reasons+=("the lab tests in the bench guest exited with ${brc:-nothing}")
	fi
	if [ -z "$bench_rc" ]; then
		reasons+=("the bench sent no result back")
	elif [ "$bench_rc" != 0 ]; then
		reasons+=("the bench failed (exit $bench_rc; see $VM/bench/bench.log)")
	elif [ ! -s "$VM/bench/results.md" ] || [ ! -s "$VM/bench/results.json" ]; then
		reasons+=("the bench wrote no results.md/results.json")
	fi
fi

# failed_cases LOG: each failed case's line and the first lines of what it said, so that the
# summary (often all that is left of a CI run) says why, not only which test
failed_cases() {
	awk '/^ *not ok / && !/# SKIP/ { n = 0; print; keep = 1; next }
		keep && /^ *#/ && n < 6 { print; n++; next }
		{ keep = 0 }' "$1" 2>/dev/null | head -40 | sed -E 's/^ +/  /; s/^/case:    /'
}

echo
echo "== vmtest summary"
echo "kernel:  $(cat "$RUN/kernel" 2>/dev/null || echo '?') ($KDESC)," \
	"booted from $(basename "$BOOT")"
echo "boot:    $(cat "$RUN/boot_seconds" 2>/dev/null || echo '?') s to the job (guest uptime)"
echo "job:     $JOB: $(cat "$RUN/run_seconds" 2>/dev/null || echo '?') s, exit code ${rc:-none}"
result=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$RUN/output.log" 2>/dev/null | tail -1)
[ -n "$result" ] && echo "tests:   $result"
grep -E '^(failed: |skip - )' "$RUN/output.log" 2>/dev/null | sed 's/^/tests:   /'
failed_cases "$RUN/output.log"
# A refused BPF program: the verifier's own words (test_bpf_load prints its log).
grep -v 'broken> ' "$RUN/output.log" 2>/dev/null | grep -A 30 'the verifier refused it; its log:' |
	grep -E '(refused it; its log:|^ *#   \| )' | head -20 | sed 's/^ *#* */verifier: /'
# A suite run that ran nothing proves nothing (e.g. the build dir is not visible in the guest).
if [ -z "$CMD" ] && [ -n "$rc" ] && [[ ${result:-0 passed, 0 failed} == "0 passed, 0 failed"* ]]
then
	reasons+=("no tests ran in the guest (is $BUILD built?)")
fi
if [ -n "$BESIDE_BENCH" ]; then
	bresult=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$BRUN/output.log" 2>/dev/null | tail -1)
	echo "tests:   ${bresult:-no result} in the bench guest: lab $BESIDE_BENCH," \
		"$(cat "$BRUN/run_seconds" 2>/dev/null || echo '?') s"
	grep -E '^(failed: |skip - )' "$BRUN/output.log" 2>/dev/null | sed 's/^/tests:   /'
	failed_cases "$BRUN/output.log"
fi
if [ "$BENCH" != none ]; then
	echo "bench:   $BENCH_JOB: $(cat "$BRUN/bench_seconds" 2>/dev/null || echo '?') s, exit code" \
		"${bench_rc:-none}, second guest ${BENCH_WALL:-?} s wall; table $VM/bench/results.md" \
		"(TCG: function, not speed)"
fi
echo "qemu:    ${WALL} s wall; console log $CONSOLE, job output $RUN/output.log"
# Kernel warnings are shown but do not fail the run; panics and oopses do (above).
grep -E "${KMSG}(Kernel panic|Oops|BUG:|general protection fault|WARNING:)|vmtest stage1:" \
	"$CONSOLE" | head -5 | clean_console | sed 's/^/console: /'
if [ ${#reasons[@]} -gt 0 ]; then
	joined=$(IFS=';'; echo "${reasons[*]}")
	echo "vmtest: FAIL: ${joined//;/; }"
	exit 1
fi
echo "vmtest: PASS"
