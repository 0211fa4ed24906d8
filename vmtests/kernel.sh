# shellcheck shell=bash disable=SC2034 # sets variables for run.sh
# Sourced by vmtests/run.sh: which kernel the guest boots, fetched and prepared once into the cache.
# Needs CACHE, VM, VMTESTS, DEBIAN_KERNEL_RE, KERNEL, MODULES and die(); sets KIMG (the image as
# shipped), KVER and MODDIR (empty for a custom kernel without MODULES=), KDESC (what to print),
# and BOOT (what QEMU boots: the extracted ELF vmlinux when possible).

# apt_pick_kernel: sets PKG, VER, DEB (file name) from apt's lists, or fails
apt_pick_kernel() {
	PKG=$(apt-cache search --names-only "$DEBIAN_KERNEL_RE" | cut -d' ' -f1 | sort -V | tail -1)
	[ -n "$PKG" ] || return 1
	VER=$(apt-cache show --no-all-versions "$PKG" | sed -n 's/^Version: //p' | head -1)
	DEB=$(apt-cache show --no-all-versions "$PKG" | sed -n 's|^Filename: .*/||p' | head -1)
	if [ -z "$VER" ] || [ -z "$DEB" ]; then
		PKG=
		return 1
	fi
}

# apt_download: fetch PKG=VER into the cache as DEB (through a temporary directory, so that an
# interrupted download never looks cached)
apt_download() {
	local tmp=$CACHE/download.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp"
	echo "vmtest: downloading $PKG $VER"
	(cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$PKG=$VER") &&
		mv "$tmp/$DEB" "$CACHE/$DEB"
	local rc=$?
	rm -rf "$tmp"
	return $rc
}

# fetch_debian_kernel: sets KIMG, KVER, MODDIR, KDESC from the newest Debian 6.1 kernel package,
# downloading and unpacking it into the cache once. Missing or stale apt lists are refreshed once;
# with no network, the kernel an earlier run cached is used.
fetch_debian_kernel() {
	local root tmp
	if ! apt_pick_kernel; then
		echo "vmtest: apt-cache knows no linux-image-6.1.0-*-amd64; running apt-get update"
		apt-get update -q >/dev/null 2>&1
		apt_pick_kernel
	fi
	if [ -n "$PKG" ] && [ ! -s "$CACHE/$DEB" ] && ! apt_download; then
		# The archive drops superseded kernels: stale lists name a file that is gone.
		echo "vmtest: download failed; refreshing apt's lists"
		apt-get update -q >/dev/null 2>&1
		if ! apt_pick_kernel || { [ ! -s "$CACHE/$DEB" ] && ! apt_download; }; then
			PKG=
		fi
	fi
	if [ -z "$PKG" ] || [ ! -s "$CACHE/$DEB" ]; then
		DEB=$(cd "$CACHE" && ls linux-image-6.1.0-*-amd64_*.deb 2>/dev/null | sort -V |
			tail -1)
		[ -n "$DEB" ] ||
			die "cannot download linux-image-6.1.0-*-amd64 and none is cached in $CACHE"
		PKG=${DEB%%_*}
		VER=$(dpkg-deb -f "$CACHE/$DEB" Version)
		echo "vmtest: cannot download a 6.1 kernel; using the cached $DEB"
	fi
	KDESC="$PKG $VER"
	root=$CACHE/${DEB%.deb}
	if [ ! -e "$root/.unpacked" ]; then
		# The cache keeps one kernel (~570 MB with its unpacked tree): drop older ones.
		find "$CACHE" -mindepth 1 -maxdepth 1 -name 'linux-image-*' ! -name "$DEB" \
			-exec rm -rf {} +
		tmp=$root.tmp
		echo "vmtest: unpacking $DEB"
		dpkg-deb -x "$CACHE/$DEB" "$tmp" || die "dpkg-deb -x $CACHE/$DEB failed"
		mv "$tmp" "$root" && touch "$root/.unpacked"
	fi
	KVER=$(ls "$root/lib/modules" | head -1)
	KIMG=$root/boot/vmlinuz-$KVER
	MODDIR=$root/lib/modules/$KVER
	[ -f "$KIMG" ] || die "$DEB has no /boot/vmlinuz-$KVER"
	if [ ! -s "$MODDIR/modules.dep" ]; then
		command -v depmod >/dev/null || die "depmod missing: install kmod (make deps)"
		depmod -b "$root" "$KVER" || die "depmod -b $root $KVER failed"
	fi
	VMLINUX_CACHE=$root/vmlinux
}

# use_custom_kernel: sets KIMG, KVER, MODDIR, KDESC from --kernel/KERNEL= and MODULES=.
use_custom_kernel() {
	local base id
	[ -f "$KERNEL" ] || die "kernel image $KERNEL not found"
	KIMG=$(cd "$(dirname "$KERNEL")" && pwd)/$(basename "$KERNEL")
	KDESC="custom kernel $KIMG"
	KVER=
	MODDIR=
	if [ -n "$MODULES" ]; then
		[ -d "$MODULES" ] || die "MODULES=$MODULES is not a directory"
		MODDIR=$(cd "$MODULES" && pwd)
		KVER=$(basename "$MODDIR")
		# depmod -b wants the root above lib/modules/<version>
		base=${MODDIR%/lib/modules/"$KVER"}
		if [ ! -s "$MODDIR/modules.dep" ] && [ "$base" != "$MODDIR" ] &&
			! depmod -b "$base" "$KVER"; then
			echo "vmtest: depmod on $MODDIR failed; modprobe in the guest may not work"
		fi
	fi
	# The extracted vmlinux is reused only for the very same image file.
	VMLINUX_CACHE=$VM/custom-vmlinux
	id="$KIMG $(stat -c '%s %Y' "$KIMG")"
	if [ "$(cat "$VMLINUX_CACHE.src" 2>/dev/null)" != "$id" ]; then
		rm -f "$VMLINUX_CACHE"
		echo "$id" >"$VMLINUX_CACHE.src"
	fi
}

# pick_boot_image: BOOT is the ELF vmlinux when it can be had (PVH boot, ~2x faster under TCG),
# otherwise the bzImage.
pick_boot_image() {
	BOOT=$KIMG
	if [ "$(head -c 4 "$KIMG" | od -A n -t x1 | tr -d ' ')" = 7f454c46 ]; then
		return # already an ELF vmlinux
	elif [ -n "${VMTEST_BZIMAGE:-}" ]; then
		echo "vmtest: VMTEST_BZIMAGE set: booting the bzImage"
	elif [ -s "$VMLINUX_CACHE" ] || "$VMTESTS/extract-vmlinux.sh" "$KIMG" "$VMLINUX_CACHE"; then
		BOOT=$VMLINUX_CACHE
	else
		echo "vmtest: booting the bzImage (slower)"
	fi
}
