#!/bin/busybox sh
# shellcheck shell=dash
# /init of the vmtest initramfs (stage 1, busybox only). Loads the virtio/9p/overlay modules,
# mounts the host's root filesystem (9p tag "hostroot", read-only) under a tmpfs overlay so tests
# can write anywhere, mounts the results share (9p tag "results") at /vmtest, binds the kernel's
# modules onto /lib/modules/<ver>, and switch_roots into the host's bash running
# vmtests/guest.sh (stage 2) from the repo given as skiff.repo= on the kernel command line.
# Any failure powers the guest off: the host sees no result file and reports the console log.
/bin/busybox --install -s /bin
export PATH=/bin

die() {
	echo "vmtest stage1: $*" >&2
	poweroff -f
	sleep 5
	echo o >/proc/sysrq-trigger
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

REPO=''
KVER=''
MODDIR=''
for arg in $(cat /proc/cmdline); do
	case $arg in
	skiff.repo=*) REPO=${arg#*=} ;;
	skiff.kver=*) KVER=${arg#*=} ;;
	skiff.moddir=*) MODDIR=${arg#*=} ;;
	esac
done
[ -n "$REPO" ] || die "no skiff.repo= on the kernel command line"

# /modules/order lists the modules to insert, dependencies first; a kernel with them built in
# ships an empty list. "File exists" means built in or already loaded, which is fine.
for m in $(cat /modules/order); do
	out=$(insmod "/modules/$m.ko" 2>&1) || case $out in
	*"File exists"*) ;;
	*) die "insmod $m: $out" ;;
	esac
done

mkdir -p /host /rw /newroot
P9="trans=virtio,version=9p2000.L,msize=262144"
mount -t 9p -o "$P9,cache=loose,ro" hostroot /host ||
	die "cannot mount the host root over 9p (kernel lacks 9p/virtio? see vmtests/README.md)"
mount -t tmpfs -o mode=0755 tmpfs /rw || die "tmpfs for the overlay"
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /newroot ||
	die "overlay of tmpfs on the host root"
mkdir -p /newroot/vmtest
mount -t 9p -o "$P9" results /newroot/vmtest || die "cannot mount the results share"
if [ -n "$MODDIR" ] && [ -n "$KVER" ]; then
	mkdir -p "/newroot/lib/modules/$KVER"
	mount --bind "/newroot$MODDIR" "/newroot/lib/modules/$KVER" ||
		die "bind $MODDIR onto /lib/modules/$KVER"
fi
[ -x "/newroot$REPO/vmtests/guest.sh" ] || die "$REPO/vmtests/guest.sh not found on the host"

umount /proc /sys
umount /dev
exec switch_root /newroot /bin/bash "$REPO/vmtests/guest.sh" "$REPO"
