#!/bin/bash
# Build skiff's container image as an OCI image layout in one tar, from scratch (no base image):
#   deploy/image/build.sh BUILD VERSION OUT.tar
# One layer holds skiffd and skiffctl in /usr/local/bin, every shared library `ldd` names for
# them (copied under the path ldd gives, links resolved) with the dynamic loader, and a minimal
# /etc (root in passwd and group, nsswitch for files then DNS). The BPF programs need no files:
# bpftool's skeletons embed their objects in the binaries.
#
# Reproducible: the same binaries and libraries give the same digests. Every entry has mtime 0,
# uid/gid 0 and fixed modes, entries are sorted, gzip writes no name or time (-n), and the JSON
# has no timestamps. Only the inputs' bytes reach the output.
set -euo pipefail
BUILD=${1:?usage: build.sh BUILD VERSION OUT.tar}
VERSION=${2:?usage: build.sh BUILD VERSION OUT.tar}
OUT=${3:?usage: build.sh BUILD VERSION OUT.tar}
BINS=("$BUILD/bin/skiffd" "$BUILD/bin/skiffctl")
ENTRYPOINT=/usr/local/bin/skiffd

WORK=$(mktemp -d /tmp/skiff-image.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ROOT=$WORK/root
OCI=$WORK/oci
mkdir -p "$ROOT/usr/local/bin" "$ROOT/etc" "$ROOT/tmp" "$OCI/blobs/sha256"

for b in "${BINS[@]}"; do
	[ -x "$b" ] || { echo "build.sh: $b is missing: run make all first" >&2; exit 1; }
	install -m 0755 "$b" "$ROOT/usr/local/bin/"
done

# The libraries and the loader, as ldd resolves them here ("name => /path (addr)" or
# "/path (addr)"; the vDSO has no file).
ldd "${BINS[@]}" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $1 !~ /:$/ { print $1 }' |
	sort -u >"$WORK/libs"
[ -s "$WORK/libs" ] || { echo "build.sh: ldd named no libraries for ${BINS[*]}" >&2; exit 1; }
while read -r lib; do
	mkdir -p "$ROOT$(dirname "$lib")"
	cp -L "$lib" "$ROOT$lib"
	chmod 0755 "$ROOT$lib"
done <"$WORK/libs"

printf 'root:x:0:0:root:/:/usr/sbin/nologin\n' >"$ROOT/etc/passwd"
printf 'root:x:0:\n' >"$ROOT/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$ROOT/etc/nsswitch.conf"
chmod 0644 "$ROOT"/etc/*
chmod 1777 "$ROOT/tmp"
find "$ROOT" -type d ! -path "$ROOT/tmp" -exec chmod 0755 {} +

# reprotar DIR OUT NAMES...: a tar of NAMES in DIR that depends only on their contents and modes
reprotar() {
	local dir=$1 out=$2
	shift 2
	tar -C "$dir" --sort=name --format=gnu --mtime=@0 --owner=0 --group=0 --numeric-owner \
		-cf "$out" "$@"
}

# blob FILE: moves FILE into blobs/sha256 under its digest; prints "sha256:HEX SIZE"
blob() {
	local hex size
	hex=$(sha256sum "$1" | cut -d' ' -f1)
	size=$(stat -c %s "$1")
	mv "$1" "$OCI/blobs/sha256/$hex"
	echo "sha256:$hex $size"
}

(cd "$ROOT" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | sort) >"$WORK/top"
mapfile -t TOP <"$WORK/top"
reprotar "$ROOT" "$WORK/layer.tar" "${TOP[@]}"
DIFF_ID=sha256:$(sha256sum "$WORK/layer.tar" | cut -d' ' -f1)
gzip -n -9 "$WORK/layer.tar"
read -r LAYER LAYER_SIZE < <(blob "$WORK/layer.tar.gz")

cat >"$WORK/config.json" <<JSON
{"architecture":"amd64","os":"linux","config":{"Entrypoint":["$ENTRYPOINT"],"Env":["PATH=/usr/local/bin"],"WorkingDir":"/","Labels":{"org.opencontainers.image.title":"skiff","org.opencontainers.image.version":"$VERSION"}},"rootfs":{"type":"layers","diff_ids":["$DIFF_ID"]},"history":[{"created_by":"deploy/image/build.sh: skiffd, skiffctl, their shared libraries, /etc"}]}
JSON
read -r CONFIG CONFIG_SIZE < <(blob "$WORK/config.json")

cat >"$WORK/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$CONFIG","size":$CONFIG_SIZE},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"$LAYER","size":$LAYER_SIZE}]}
JSON
read -r MANIFEST MANIFEST_SIZE < <(blob "$WORK/manifest.json")

printf '{"imageLayoutVersion":"1.0.0"}\n' >"$OCI/oci-layout"
cat >"$OCI/index.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"$MANIFEST","size":$MANIFEST_SIZE,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"org.opencontainers.image.ref.name":"$VERSION","io.containerd.image.name":"docker.io/library/skiff:$VERSION"}}]}
JSON
chmod 0644 "$OCI/oci-layout" "$OCI/index.json" "$OCI"/blobs/sha256/*
find "$OCI" -type d -exec chmod 0755 {} +

mkdir -p "$(dirname "$OUT")"
reprotar "$OCI" "$OUT.tmp" oci-layout index.json blobs
mv "$OUT.tmp" "$OUT"
echo "image skiff:$VERSION -> $OUT (manifest $MANIFEST, layer $LAYER_SIZE bytes gzip)"
