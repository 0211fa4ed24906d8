#!/bin/bash
# Turn an x86 bzImage into the ELF vmlinux inside it, so QEMU can boot it directly through PVH
# (about half the boot time of the bzImage's own decompressor under TCG).
#   vmtests/extract-vmlinux.sh BZIMAGE OUT
# Exits 0 with OUT an ELF file, or non-zero (OUT not created) when the payload cannot be found or
# decompressed; the caller then boots the bzImage itself.
#
# The boot protocol header (>= 2.08) says where the compressed payload lives: it starts at
# (setup_sects + 1) * 512 + payload_offset and is payload_length bytes long. Kernels built with
# xz, zstd, lzma, bzip2 or lz4 append the decompressed size as 4 bytes after the stream, so the
# decompressors are told to stop at the end of the first stream. When the header looks wrong we
# fall back to searching the image for a compressor's magic bytes.
set -u
export LC_ALL=C
IMG=${1:?usage: extract-vmlinux.sh BZIMAGE OUT}
OUT=${2:?usage: extract-vmlinux.sh BZIMAGE OUT}

# le_uint FILE OFFSET SIZE: the little-endian unsigned integer at OFFSET
le_uint() {
	od -A n -t u"$3" -j "$2" -N "$3" "$1" | tr -d ' '
}

# magic_at FILE OFFSET: the compressor whose magic bytes start at OFFSET, if any
magic_at() {
	local hex
	hex=$(od -A n -t x1 -j "$2" -N 6 "$1" | tr -d ' \n')
	case $hex in
	fd377a585a00) echo xz ;;
	28b52ffd*) echo zstd ;;
	1f8b08*) echo gzip ;;
	5d0000*) echo lzma ;;
	425a68*) echo bzip2 ;;
	02214c18*) echo lz4 ;;
	*) return 1 ;;
	esac
}

# decompress KIND: stdin is the payload from its first byte, stdout the raw vmlinux
decompress() {
	case $1 in
	xz) xz -dcq --single-stream ;;
	zstd) zstd -dcq 2>/dev/null ;;
	gzip) gzip -dcq ;;
	lzma) xz -dcq --format=lzma --single-stream ;;
	bzip2) bzip2 -dcq ;;
	lz4) lz4 -dcq ;;
	esac
}

is_elf() {
	[ "$(od -A n -t x1 -N 4 "$1" 2>/dev/null | tr -d ' \n')" = 7f454c46 ]
}

# try OFFSET [LENGTH]: decompress the payload at OFFSET into OUT.tmp; true when it is an ELF
try() {
	local kind=$1 off=$2 len=${3:-}
	if [ -n "$len" ]; then
		# zstd refuses trailing bytes: drop the appended size (all that follows the frame)
		[ "$kind" = zstd ] && len=$((len - 4))
		tail -c +$((off + 1)) "$IMG" | head -c "$len" | decompress "$kind" >"$OUT.tmp"
	else
		tail -c +$((off + 1)) "$IMG" | decompress "$kind" >"$OUT.tmp"
	fi
	is_elf "$OUT.tmp"
}

from_header() {
	local version setup_sects off len kind
	[ "$(od -A n -c -j $((0x202)) -N 4 "$IMG" | tr -d ' ')" = HdrS ] || return 1
	version=$(le_uint "$IMG" $((0x206)) 2)
	[ "$version" -ge $((0x208)) ] || return 1
	setup_sects=$(le_uint "$IMG" $((0x1f1)) 1)
	[ "$setup_sects" -eq 0 ] && setup_sects=4
	off=$(((setup_sects + 1) * 512 + $(le_uint "$IMG" $((0x248)) 4)))
	len=$(le_uint "$IMG" $((0x24c)) 4)
	kind=$(magic_at "$IMG" "$off") || return 1
	try "$kind" "$off" "$len" && echo "$kind"
}

from_scan() {
	local pattern off kind
	for pattern in '\xfd7zXZ\x00' '\x28\xb5\x2f\xfd' '\x1f\x8b\x08' '\x02\x21\x4c\x18' 'BZh' \
		'\x5d\x00\x00\x00'; do
		for off in $(grep -aboP "$pattern" "$IMG" 2>/dev/null | cut -d: -f1 | head -20); do
			kind=$(magic_at "$IMG" "$off") || continue
			try "$kind" "$off" && echo "$kind" && return 0
		done
	done
	return 1
}

if is_elf "$IMG"; then
	cp "$IMG" "$OUT"
	exit 0
fi
if kind=$(from_header) || kind=$(from_scan); then
	mv "$OUT.tmp" "$OUT"
	echo "extract-vmlinux: $IMG: $kind payload -> $OUT" >&2
	exit 0
fi
rm -f "$OUT.tmp"
echo "extract-vmlinux: $IMG: no decompressible payload found (xz, zstd, gzip, lzma, bzip2, lz4)" >&2
exit 1
