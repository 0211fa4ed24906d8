#!/bin/bash
# make image, then the archive as a runtime would read it: oci-layout, index.json -> manifest ->
# config and layer, every blob's digest and size, the config's diff_id of the layer. The layer
# unpacked into a temporary root holds exactly the binaries, the libraries ldd names, the loader
# and /etc; skiffd and skiffctl run there under chroot (--version, and a CA made with the image's
# own OpenSSL). Two builds of the same binaries give the same bytes.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-build}
BUILD=$(cd "$ROOT" && cd "$BUILD" && pwd)
PASSED=0
FAILED=0
T_NAME=""
TMP=$(mktemp -d /tmp/skiff-image-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
t_begin() { T_NAME=$1; }
t_pass() { PASSED=$((PASSED + 1)); echo "ok - $T_NAME${1:+ ($1)}"; }
t_fail() { FAILED=$((FAILED + 1)); echo "not ok - $T_NAME"; printf '%s\n' "$1" | sed 's/^/#   /'; }
cd "$ROOT" || exit 1
VERSION=$(cat VERSION)
ARCHIVE=$BUILD/skiff-image.oci.tar
# json FILE EXPR: a value from a JSON file (EXPR in Python over `j`)
json() { python3 -c "import json, sys; j = json.load(open(sys.argv[1])); print($2)" "$1"; }
blob() { echo "$TMP/oci/blobs/sha256/${1#sha256:}"; }

t_begin "make image writes $(basename "$ARCHIVE")"
rm -f "$ARCHIVE"
if make --no-print-directory image BUILD="$BUILD" >"$TMP/make.log" 2>&1 && [ -s "$ARCHIVE" ]; then
	t_pass "$(stat -c %s "$ARCHIVE") bytes"
else
	t_fail "$(tail -5 "$TMP/make.log")"
fi

t_begin "the same binaries give the same archive, byte for byte"
deploy/image/build.sh "$BUILD" "$VERSION" "$TMP/again.tar" >/dev/null 2>&1
a=$(sha256sum <"$ARCHIVE" | cut -d' ' -f1) b=$(sha256sum <"$TMP/again.tar" | cut -d' ' -f1)
if [ -n "$a" ] && [ "$a" = "$b" ]; then t_pass "sha256 ${a:0:16}..."; else t_fail "$a != $b"; fi

t_begin "OCI layout: oci-layout, index.json, blobs named by their sha256 and sized as said"
mkdir -p "$TMP/oci" && tar -xf "$ARCHIVE" -C "$TMP/oci"
bad=""
for f in "$TMP"/oci/blobs/sha256/*; do
	[ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || bad+=" $(basename "$f")"
done
MANIFEST=$(json "$TMP/oci/index.json" 'j["manifests"][0]["digest"]' 2>/dev/null)
MSIZE=$(json "$TMP/oci/index.json" 'j["manifests"][0]["size"]' 2>/dev/null)
REF=$(json "$TMP/oci/index.json" 'j["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]' 2>/dev/null)
if [ "$(json "$TMP/oci/oci-layout" 'j["imageLayoutVersion"]' 2>/dev/null)" = 1.0.0 ] && [ -z "$bad" ] &&
	[ -f "$(blob "$MANIFEST")" ] && [ "$(stat -c %s "$(blob "$MANIFEST")")" = "$MSIZE" ] &&
	[ "$REF" = "$VERSION" ]; then t_pass "manifest $MANIFEST, tag $REF"
else t_fail "blobs with a wrong digest:${bad:- none}; manifest ${MANIFEST:-none} size ${MSIZE:-?}; ref ${REF:-none}"; fi

M=$(blob "$MANIFEST")
CONFIG=$(json "$M" 'j["config"]["digest"]' 2>/dev/null)
LAYER=$(json "$M" 'j["layers"][0]["digest"]' 2>/dev/null)
t_begin "manifest -> config and one gzip layer, sizes and the config's diff_id match"
diff_id=sha256:$(gzip -dc "$(blob "$LAYER")" 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ "$(json "$M" 'len(j["layers"])' 2>/dev/null)" = 1 ] &&
	[ "$(json "$M" 'j["layers"][0]["mediaType"]')" = application/vnd.oci.image.layer.v1.tar+gzip ] &&
	[ "$(json "$M" 'j["layers"][0]["size"]')" = "$(stat -c %s "$(blob "$LAYER")")" ] &&
	[ "$(json "$M" 'j["config"]["size"]')" = "$(stat -c %s "$(blob "$CONFIG")")" ] &&
	[ "$(json "$(blob "$CONFIG")" 'j["rootfs"]["diff_ids"][0]')" = "$diff_id" ]; then t_pass
else t_fail "manifest: $(cat "$M" 2>/dev/null); layer diff_id $diff_id"; fi

C=$(blob "$CONFIG")
t_begin "config: Entrypoint /usr/local/bin/skiffd, linux/amd64, version label"
if [ "$(json "$C" 'j["config"]["Entrypoint"]' 2>/dev/null)" = "['/usr/local/bin/skiffd']" ] &&
	[ "$(json "$C" 'j["os"] + "/" + j["architecture"]')" = linux/amd64 ] &&
	[ "$(json "$C" 'j["config"]["Labels"]["org.opencontainers.image.version"]')" = "$VERSION" ]
then t_pass; else t_fail "config: $(cat "$C" 2>/dev/null)"; fi

# what the layer must hold: the two binaries, /etc's three files, /tmp, the libraries and loader
# ldd finds for the binaries here, and the directories on their paths; nothing else
t_begin "the layer holds exactly the binaries, their libraries, the loader and /etc"
{
	printf '%s\n' usr/local/bin/skiffd usr/local/bin/skiffctl etc/passwd etc/group \
		etc/nsswitch.conf tmp
	ldd "$BUILD/bin/skiffd" "$BUILD/bin/skiffctl" |
		awk '$2 == "=>" && $3 ~ /^\// { print substr($3, 2) } $1 ~ /^\// && $1 !~ /:$/ { print substr($1, 2) }'
} | sort -u >"$TMP/files"
awk -F/ '{ p = ""; for (i = 1; i < NF; i++) { p = p (i > 1 ? "/" : "") $i; print p } }' \
	"$TMP/files" | sort -u >"$TMP/dirs"
sort -u "$TMP/files" "$TMP/dirs" >"$TMP/want"
gzip -dc "$(blob "$LAYER")" | tar -t | sed 's|/$||' | sort >"$TMP/got"
if [ -s "$TMP/got" ] && cmp -s "$TMP/want" "$TMP/got"; then t_pass "$(wc -l <"$TMP/got") entries"
else t_fail "$(diff "$TMP/want" "$TMP/got" | grep '^[<>]' | head -10)"; fi

t_begin "every entry is owned by 0:0 with mtime 0"
listing=$(gzip -dc "$(blob "$LAYER")" | tar -tv --numeric-owner)
odd=$(awk '$2 != "0/0" || $4 != "1970-01-01"' <<<"$listing")
if [ -n "$listing" ] && [ -z "$odd" ]; then t_pass; else t_fail "${odd:-no entries}"; fi

RFS=$TMP/rootfs
mkdir -p "$RFS" && gzip -dc "$(blob "$LAYER")" | tar -x -C "$RFS"
t_begin "chroot: skiffd --version and skiffctl --version run from the image alone"
d=$(chroot "$RFS" /usr/local/bin/skiffd --version 2>&1)
c=$(chroot "$RFS" /usr/local/bin/skiffctl --version 2>&1)
if [ "$d" = "skiffd $VERSION" ] && [ "$c" = "skiffctl $VERSION" ]; then t_pass "$d; $c"
else t_fail "skiffd: $d; skiffctl: $c"; fi

t_begin "chroot: skiffctl ca init makes the mesh root with the image's own libcrypto"
if chroot "$RFS" /usr/local/bin/skiffctl ca init /tmp/ca >"$TMP/ca.log" 2>&1 &&
	openssl x509 -in "$RFS/tmp/ca/ca.crt" -noout -subject >/dev/null 2>&1 && [ -s "$RFS/tmp/ca/ca.key" ]
then t_pass "$(openssl x509 -in "$RFS/tmp/ca/ca.crt" -noout -subject)"; else t_fail "$(cat "$TMP/ca.log")"; fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
