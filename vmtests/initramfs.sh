# shellcheck shell=bash
# Sourced by vmtests/run.sh: the guest's initramfs. Needs VM, VMTESTS, BUSYBOX, MODDIR,
# INITRD_MODULES and die(); sets INITRD.

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
