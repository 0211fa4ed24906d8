#!/bin/bash
# The ways HBONE can send bulk bytes, measured against each other in one run: TLS records sealed
# by the kernel (kTLS) or in userspace (skiffd's record layer, or libssl's with
# --hbone-records=openssl), and the pod's hop to skiffd on the fast path (skiffd read()s it) or on
# TCP (`--no-accel`: with kTLS, payloads then move by splice() and never enter skiffd). One iperf3
# stream from the client pod (node-2) to the server pod (node-1) through both agents; config_dump
# proves which path each round took (hbone_ktls_tx, hbone_spliced, hbone_records). Agent CPU:
# utime+stime of both skiffd per GiB moved.
# Needs a kernel with kTLS (the tls ULP): this machine's 6.18 has none, so it runs in Debian's 6.1
# under QEMU: vmtests/run.sh BUILD --cmd 'tests/bench/ktls.sh BUILD'. There AES is emulated
# (~100x slower under TCG): the ratios compare the paths in that guest, not on hardware.
#   tests/bench/ktls.sh BUILD_DIR [ROUNDS] [SECONDS]
# Writes BUILD_DIR/bench/ktls.md.
set -u
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:?usage: tests/bench/ktls.sh BUILD_DIR [ROUNDS] [SECONDS]}" && pwd) || exit 2
REPS=${2:-3} T=${3:-5}
# shellcheck source=tests/bench/lib.sh
. "$HERE/lib.sh"
bench_lab_start ktls iperf3

say "lab up: 2 nodes, server on node-1, client on node-2"
lab up --nodes 2 "$HERE/bench.yaml" >>"$LOG" 2>&1 || die "lab up; see $LOG"
SERVER_IP=$(lab status | awk '$1 ~ /^bench\/server-/ { print $3 }')
spawn "$BUILD/bin/skiff-lab" --state "$STATE" exec -n bench deploy/server -- iperf3 -s -p 5201
sleep 1

dump() { lab exec --node "$1" -- curl -s --max-time 5 127.0.0.1:15000/config_dump; }
counter() { dump "$1" | sed -nE "s/.*\"outbound\":\\{[^}]*\"$2\":([0-9]+).*/\\1/p"; }
cpu_ticks() {
	local p s=0
	for p in $(lab status | awk '$3 == "skiffd" { print $5 }'); do
		s=$((s + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
	done
	echo "$s"
}
[ "$(counter node-1 hbone_ktls_tx)" != "" ] || die "no config_dump from node-1"

# scenario NAME WANT_KTLS WANT_SPLICE SKIFFD_ARGS...: one round, recorded in $RAW.
scenario() {
	local name=$1 want_ktls=$2 want_splice=$3 want_rec=$4 n c0 c1 g k s rec
	shift 4
	for n in node-1 node-2; do
		SKIFF_LAB_AGENT_ARGS="$*" lab restart-agent "$n" >>"$LOG" 2>&1 || die "restart-agent $n"
	done
	sleep 1
	c0=$(cpu_ticks)
	g=$(in_pod $((T + 30)) client iperf3 -c "$SERVER_IP" -p 5201 -t "$T" -f m 2>&1 |
		awk '/receiver$/ { printf "%.1f\n", $(NF - 2) }')
	c1=$(cpu_ticks)
	[ -n "$g" ] || die "$name: iperf3 gave no result"
	k=$(counter node-2 hbone_ktls_tx) s=$(counter node-2 hbone_spliced)
	rec=$(counter node-2 hbone_records)
	# the path must be the one named: kTLS or not, spliced or not, skiffd's records or libssl's
	[ "$([ "${k:-0}" -gt 0 ] && echo 1 || echo 0)" = "$want_ktls" ] &&
		[ "$([ "${s:-0}" -gt 0 ] && echo 1 || echo 0)" = "$want_splice" ] &&
		[ "$([ "${rec:-0}" -gt 0 ] && echo 1 || echo 0)" = "$want_rec" ] ||
		die "$name: took another path (hbone_ktls_tx $k, hbone_spliced $s, hbone_records $rec)"
	# Mbit/s, and agent CPU seconds per GiB moved (T seconds at g Mbit/s)
	printf '%s\t%s\t%s\n' "$name" "$g" "$(awk -v a="$c0" -v b="$c1" -v g="$g" -v t="$T" \
		-v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (b - a) / hz / (g * t / 8 / 1024) }')" >>"$RAW"
	say "$name: $g Mbit/s (hbone_ktls_tx $k, hbone_spliced $s)"
}

# a first second of traffic with skiffd's defaults: does this kernel do kTLS at all?
in_pod 30 client iperf3 -c "$SERVER_IP" -p 5201 -t 1 >>"$LOG" 2>&1 || die "iperf3 warm-up; see $LOG"
[ "$(counter node-2 hbone_ktls_tx)" -gt 0 ] ||
	die "this kernel has no kTLS (hbone_ktls_tx 0 after a transfer): run it in the 6.1 guest," \
		"vmtests/run.sh $BUILD --cmd 'tests/bench/ktls.sh $BUILD'"
for r in $(seq "$REPS"); do
	say "round $r"
	# with kTLS, skiffd's record layer opens what is received (OpenSSL 3.0: send offload only)
	scenario "kTLS + splice (hops on TCP)" 1 1 1 --no-accel
	scenario "skiffd records (hops on TCP)" 0 0 1 --no-accel --hbone-ktls=off
	scenario "kTLS + read (fast hops)" 1 0 1
	scenario "skiffd records (fast hops)" 0 0 1 --hbone-ktls=off
	scenario "libssl records (fast hops)" 0 0 0 --hbone-ktls=off --hbone-records=openssl
done

{
	echo "# HBONE send paths (kTLS, skiffd's or libssl's records; splice or read)"
	echo
	echo "Kernel $(uname -r). $REPS rounds of $T s, one iperf3 stream" \
		"node-2 -> node-1 through both skiffd, interleaved. Median (min-max)."
	echo
	echo "| path | throughput (Mbit/s) | agent CPU (s per GiB, both) |"
	echo "| --- | --- | --- |"
	cut -f1 "$RAW" | awk '!seen[$0]++' | while read -r name; do
		awk -F'\t' -v n="$name" '$1 == n { print $2 }' "$RAW" | sort -g >"$WORK/g"
		awk -F'\t' -v n="$name" '$1 == n { print $3 }' "$RAW" | sort -g >"$WORK/c"
		med() { awk '{ v[NR] = $1 } END { printf "%s (%s-%s)", v[int((NR + 1) / 2)], v[1], v[NR] }' "$1"; }
		echo "| $name | $(med "$WORK/g") | $(med "$WORK/c") |"
	done
} >"$OUT/ktls.md"
cat "$OUT/ktls.md"
say "done in $((SECONDS - T0)) s: $OUT/ktls.md"
