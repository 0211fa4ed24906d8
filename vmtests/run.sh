#!/bin/bash
# Run skiff's test suites inside Debian's 6.1 kernel under QEMU (TCG), with the host's root
# filesystem shared read-only over 9p so host-built binaries run unchanged.
#   vmtests/run.sh BUILD_DIR [--kernel PATH] [--suite all|unit|kernel|lab] [--timeout SECONDS]
#                            [--cmd 'SHELL COMMAND']
# --kernel (or env KERNEL=) boots that bzImage or ELF vmlinux instead of Debian's; env MODULES=
# may then name its lib/modules/<version> directory. --cmd runs a command in the repo instead of
# the suites. Exits non-zero if a test failed, the guest panicked or oopsed, timed out, or sent
# no result back. Everything lives in BUILD_DIR/vmtest (cache/ keeps the kernel between runs).
set -u -o pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VMTESTS=$REPO/vmtests
# Inserted by the guest's /init in this order (dependencies first); see KERNEL-NOTES.md.
INITRD_MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci 9pnet
	9pnet_virtio netfs fscache 9p overlay"
DEBIAN_KERNEL_RE='^linux-image-6\.1\.0-[0-9]+-amd64$'

usage() {
	sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

die() {
	echo "vmtest: $*" >&2
	exit 2
}

BUILD=
SUITE=all
TIMEOUT=900
CMD=
KERNEL=${KERNEL:-}
MODULES=${MODULES:-}
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) KERNEL=${2:?--kernel needs a path}; shift 2 ;;
	--suite) SUITE=${2:?--suite needs all, unit, kernel or lab}; shift 2 ;;
	--timeout) TIMEOUT=${2:?--timeout needs seconds}; shift 2 ;;
	--cmd) CMD=${2:?--cmd needs a command}; shift 2 ;;
	-h | --help) usage ;;
	-*) echo "vmtest: unknown option $1" >&2; usage ;;
	*) [ -z "$BUILD" ] || usage; BUILD=$1; shift ;;
	esac
done
[ -n "$BUILD" ] || usage
case $SUITE in all | unit | kernel | lab) ;; *) die "unknown suite '$SUITE' (all, unit, kernel, lab)" ;; esac
case $TIMEOUT in '' | *[!0-9]*) die "--timeout wants whole seconds, not '$TIMEOUT'" ;; esac
mkdir -p "$BUILD/vmtest/cache" || die "cannot create $BUILD/vmtest"
BUILD=$(cd "$BUILD" && pwd)
VM=$BUILD/vmtest
CACHE=$VM/cache
RUN=$VM/run
# Paths travel on the kernel command line and through 9p: no spaces.
case "$REPO$BUILD$KERNEL$MODULES" in *[[:space:]]*) die "paths with spaces are not supported" ;; esac

for tool in qemu-system-x86_64 cpio gzip; do
	command -v "$tool" >/dev/null || die "$tool missing: install qemu-system-x86 cpio (make deps)"
done
BUSYBOX=$(command -v busybox) || die "busybox missing: install busybox-static (make deps)"
ldd "$BUSYBOX" >/dev/null 2>&1 &&
	die "$BUSYBOX is dynamically linked: install busybox-static (make deps)"

exec 9>"$VM/lock"
flock -n 9 || die "another vmtest is running on $BUILD (lock $VM/lock)"

# fetch_debian_kernel: sets KIMG, KVER, MODDIR, KDESC from the newest Debian 6.1 kernel package,
# downloading and unpacking it into the cache once.
fetch_debian_kernel() {
	local pkg ver file root tmp
	pkg=$(apt-cache search --names-only "$DEBIAN_KERNEL_RE" | cut -d' ' -f1 | sort -V | tail -1)
	if [ -n "$pkg" ]; then
		ver=$(apt-cache show --no-all-versions "$pkg" | sed -n 's/^Version: //p' | head -1)
		file=$(apt-cache show --no-all-versions "$pkg" | sed -n 's|^Filename: .*/||p' | head -1)
		[ -n "$file" ] || die "apt cannot locate $pkg $ver"
		if [ ! -s "$CACHE/$file" ]; then
			echo "vmtest: downloading $pkg $ver"
			(cd "$CACHE" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver") ||
				die "apt-get download $pkg=$ver failed"
		fi
	else
		# Offline, or apt lists not fetched: fall back to what an earlier run cached.
		file=$(cd "$CACHE" && ls linux-image-6.1.0-*-amd64_*.deb 2>/dev/null | sort -V | tail -1)
		[ -n "$file" ] || die "apt-cache knows no linux-image-6.1.0-*-amd64: run apt-get update (make deps)"
		pkg=${file%%_*}
		ver=$(dpkg-deb -f "$CACHE/$file" Version)
		echo "vmtest: apt-cache knows no 6.1 kernel; using the cached $file"
	fi
	KDESC="$pkg $ver"
	root=$CACHE/${file%.deb}
	if [ ! -e "$root/.unpacked" ]; then
		# A newer package replaces the old one: the cache holds one kernel (~470 MB unpacked).
		find "$CACHE" -mindepth 1 -maxdepth 1 -name 'linux-image-*' ! -name "$file" \
			-exec rm -rf {} +
		tmp=$root.tmp
		rm -rf "$tmp" "$root"
		echo "vmtest: unpacking $file"
		dpkg-deb -x "$CACHE/$file" "$tmp" || die "dpkg-deb -x $file failed"
		mv "$tmp" "$root" && touch "$root/.unpacked"
	fi
	KVER=$(ls "$root/lib/modules" | head -1)
	KIMG=$root/boot/vmlinuz-$KVER
	MODDIR=$root/lib/modules/$KVER
	[ -f "$KIMG" ] || die "$file has no /boot/vmlinuz-$KVER"
	if [ ! -s "$MODDIR/modules.dep" ]; then
		command -v depmod >/dev/null || die "depmod missing: install kmod (make deps)"
		depmod -b "$root" "$KVER" || die "depmod -b $root $KVER failed"
	fi
	VMLINUX_CACHE=$root/vmlinux
}

# use_custom_kernel: sets KIMG, KVER, MODDIR, KDESC from --kernel/KERNEL= and MODULES=.
use_custom_kernel() {
	[ -f "$KERNEL" ] || die "kernel image $KERNEL not found"
	KIMG=$(cd "$(dirname "$KERNEL")" && pwd)/$(basename "$KERNEL")
	KDESC="custom kernel $KIMG"
	KVER=
	MODDIR=
	if [ -n "$MODULES" ]; then
		[ -d "$MODULES" ] || die "MODULES=$MODULES is not a directory"
		MODDIR=$(cd "$MODULES" && pwd)
		KVER=$(basename "$MODDIR")
		if [ ! -s "$MODDIR/modules.dep" ] && [ "$(basename "$(dirname "$MODDIR")")" = modules ]; then
			depmod -b "$(dirname "$(dirname "$(dirname "$MODDIR")")")" "$KVER" ||
				echo "vmtest: depmod on $MODDIR failed; modprobe in the guest may not work"
		fi
	fi
	VMLINUX_CACHE=$VM/custom-vmlinux
	[ "$KIMG" -nt "$VMLINUX_CACHE" ] && rm -f "$VMLINUX_CACHE"
}

# pick_boot_image: BOOT is the ELF vmlinux when it can be had (PVH boot, ~2x faster under TCG),
# otherwise the bzImage.
pick_boot_image() {
	BOOT=$KIMG
	if [ -s "$VMLINUX_CACHE" ] || "$VMTESTS/extract-vmlinux.sh" "$KIMG" "$VMLINUX_CACHE"; then
		BOOT=$VMLINUX_CACHE
	else
		echo "vmtest: booting the bzImage (slower)"
	fi
}

# module_file NAME: the path of NAME.ko* in MODDIR, empty when absent
module_file() {
	local rel
	rel=$(grep -E "(^|/)$1\.ko(\.xz|\.zst|\.gz)?:" "$MODDIR/modules.dep" 2>/dev/null | head -1)
	[ -n "$rel" ] && echo "$MODDIR/${rel%%:*}"
}

# build_initramfs: busybox, /init and the modules 9p needs, as a gzip'd newc cpio at INITRD.
build_initramfs() {
	local stage m f
	stage=$VM/initramfs.d
	rm -rf "$stage"
	mkdir -p "$stage"/{bin,dev,proc,sys,modules}
	cp "$BUSYBOX" "$stage/bin/busybox"
	cp "$VMTESTS/init.sh" "$stage/init"
	chmod 755 "$stage/init"
	: >"$stage/modules/order"
	for m in $INITRD_MODULES; do
		[ -n "$MODDIR" ] || break
		f=$(module_file "$m")
		if [ -z "$f" ]; then
			grep -qE "/$m\.ko" "$MODDIR/modules.builtin" 2>/dev/null && continue
			die "module $m is neither in $MODDIR nor built in"
		fi
		case $f in
		*.ko.xz) xz -dc "$f" >"$stage/modules/$m.ko" ;;
		*.ko.zst) zstd -dcq "$f" >"$stage/modules/$m.ko" ;;
		*.ko.gz) gzip -dc "$f" >"$stage/modules/$m.ko" ;;
		*) cp "$f" "$stage/modules/$m.ko" ;;
		esac || die "cannot copy module $f"
		echo "$m" >>"$stage/modules/order"
	done
	INITRD=$VM/initramfs.cpio.gz
	(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$INITRD" ||
		die "cannot build the initramfs"
	rm -rf "$stage"
}

# prepare_run: an empty results share holding the job for the guest
prepare_run() {
	rm -rf "$RUN"
	mkdir -p "$RUN"
	{
		printf 'BUILD=%q\n' "$BUILD"
		printf 'SUITE=%q\n' "$SUITE"
		printf 'CMD=%q\n' "$CMD"
	} >"$RUN/job.env"
}

QEMU_PID=
TAIL_PID=
cleanup() {
	[ -n "$QEMU_PID" ] && kill "$QEMU_PID" 2>/dev/null
	[ -n "$TAIL_PID" ] && kill "$TAIL_PID" 2>/dev/null
}
trap cleanup EXIT
trap 'echo "vmtest: interrupted" >&2; exit 130' INT TERM

# boot_guest IMAGE: run QEMU until it powers off or TIMEOUT passes; console in CONSOLE.
# Sets TIMED_OUT and WALL.
boot_guest() {
	local append t0
	append="console=ttyS0 quiet loglevel=4 panic=-1 skiff.repo=$REPO"
	[ -n "$MODDIR" ] && append="$append skiff.kver=$KVER skiff.moddir=$MODDIR"
	append="$append ${VMTEST_APPEND:-}"
	CONSOLE=$VM/console.log
	: >"$CONSOLE"
	t0=$SECONDS
	qemu-system-x86_64 ${VMTEST_QEMU_ARGS:-} -accel tcg -cpu max -m 2G -smp 1 -nographic -no-reboot -nic none \
		-kernel "$1" -initrd "$INITRD" -append "$append" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs local,path="$RUN",mount_tag=results,security_model=none,multidevs=remap \
		</dev/null >"$CONSOLE" 2>&1 &
	QEMU_PID=$!
	# Stream the console live (CI shows progress); the serial line ends lines with \r\n.
	tail -n +1 -F --pid="$QEMU_PID" "$CONSOLE" 2>/dev/null | tr -d '\r' &
	TAIL_PID=$!
	TIMED_OUT=0
	while kill -0 "$QEMU_PID" 2>/dev/null; do
		if [ $((SECONDS - t0)) -ge "$TIMEOUT" ]; then
			TIMED_OUT=1
			kill "$QEMU_PID" 2>/dev/null
			sleep 2
			kill -9 "$QEMU_PID" 2>/dev/null
			break
		fi
		sleep 1
	done
	wait "$QEMU_PID" 2>/dev/null
	QEMU_PID=
	wait "$TAIL_PID" 2>/dev/null
	TAIL_PID=
	WALL=$((SECONDS - t0))
}

if [ -n "$KERNEL" ]; then
	use_custom_kernel
else
	fetch_debian_kernel
fi
echo "vmtest: kernel $KDESC"
pick_boot_image
build_initramfs
prepare_run
echo "vmtest: booting $(basename "$BOOT") (TCG, 1 CPU, 2 GiB), job: ${CMD:-tests/run.sh $BUILD $SUITE}, timeout ${TIMEOUT}s"
boot_guest "$BOOT"
if [ ! -e "$RUN/kernel" ] && [ "$BOOT" != "$KIMG" ] && grep -q 'PVH ELF Note' "$CONSOLE"; then
	echo "vmtest: this vmlinux has no PVH entry point; booting the bzImage"
	BOOT=$KIMG
	prepare_run
	boot_guest "$BOOT"
fi

# Verdict
reasons=()
[ "$TIMED_OUT" -eq 1 ] && reasons+=("timed out after ${TIMEOUT}s")
grep -q 'Kernel panic' "$CONSOLE" && reasons+=("guest kernel panicked")
grep -qE 'Oops|BUG:|general protection fault' "$CONSOLE" && reasons+=("guest kernel oopsed")
rc=
[ -s "$RUN/rc" ] && rc=$(cat "$RUN/rc")
if [ -z "$rc" ]; then
	reasons+=("no result came back from the guest")
elif [ "$rc" != 0 ]; then
	reasons+=("job exited with $rc")
fi

echo
echo "== vmtest summary"
echo "kernel:  $(cat "$RUN/kernel" 2>/dev/null || echo '?') ($KDESC), booted from $(basename "$BOOT")"
echo "boot:    $(cat "$RUN/boot_seconds" 2>/dev/null || echo '?') s to the job (guest uptime)"
echo "job:     ${CMD:-tests/run.sh $BUILD $SUITE}: $(cat "$RUN/run_seconds" 2>/dev/null || echo '?') s, exit code ${rc:-none}"
result=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$RUN/output.log" 2>/dev/null | tail -1)
[ -n "$result" ] && echo "tests:   $result"
# A suite run that ran nothing proves nothing (e.g. the build dir is not visible in the guest).
if [ -z "$CMD" ] && [ -n "$rc" ] && { [ -z "$result" ] || [ "$result" = "0 passed, 0 failed" ]; }; then
	reasons+=("no tests ran in the guest (is $BUILD built?)")
fi
echo "qemu:    ${WALL} s wall; console log $CONSOLE, job output $RUN/output.log"
if [ ${#reasons[@]} -gt 0 ]; then
	if [ -z "$rc" ] || [ "${reasons[0]}" != "job exited with $rc" ]; then
		echo "-- last console lines:"
		tail -n 40 "$CONSOLE" | tr -d '\r'
	fi
	printf 'vmtest: FAIL: %s\n' "$(IFS=';'; echo "${reasons[*]}" | sed 's/;/; /g')"
	exit 1
fi
echo "vmtest: PASS"
