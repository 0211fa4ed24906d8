#!/bin/bash
# kTLS on HBONE: where the kernel has the tls ULP, both nodes' skiffd hand TLS sends to the kernel
# after the handshake (OpenSSL 3.0 offloads TLS 1.3 send only) and count it in config_dump
# (hbone_ktls_tx); a cross-node transfer then comes back intact, the kernel's own tls_stat of each
# node counts the sessions, and the wire still carries only TLS. With the hops between pods and
# skiffd on TCP (--no-accel) DATA payloads move by splice(), never copied into skiffd; on the
# fast path they are read() (splice() does not see redirected bytes). The records the kernel
# sends are opened by skiffd's own record layer on the other side (hbone_records). With
# --hbone-ktls=off skiffd seals the records itself again.
# Where the kernel has no tls ULP (this machine's 6.18) the kTLS cases skip with that reason, and
# the fallback is checked instead: the same transfer over userspace TLS, hbone_ktls_tx 0.
# `make vmtest` runs this in Debian's 6.1 with SKIFF_EXPECT_FEATURES=ktls: a skip fails there.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
WORK=$(mktemp -d /tmp/skiff-hbone-ktls.XXXXXX)
trap 't_cleanup; rm -rf "$WORK"' EXIT

in_client() { lab exec -n shop deploy/client -- "$@"; }
pod_ip() { lab status | awk -v d="shop/$1-" -v n="$2" 'index($1, d) == 1 && $2 == n { print $3; exit }'; }
outbound() { config_dump "$1" | sed -nE "s/.*\"outbound\":\\{[^}]*\"$2\":([0-9]+).*/\\1/p"; }
# A counter of the kernel's /proc/net/tls_stat in a node's network namespace (0 when absent).
tls_stat() {
	lab exec --node "$1" -- cat /proc/net/tls_stat 2>/dev/null |
		awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }'
}
# 8 MiB each way from the client (node-1) to the echo pod on node-2, compared by SHA-256 (many
# full batches of records; small enough for the TCG guest of make vmtest).
transfer() { in_client python3 "$HERE/echo_check.py" "$ECHO2" 9000 8388608 2>&1; }
TRANSFER_OK="sent 8388608 echoed 8388608 equal True"

# Does the kernel have the tls ULP? The probe of tests/feature_probe.h: attach it to an
# established TCP socket on loopback; ENOENT means no CONFIG_TLS (or no module to load).
ktls_probe() {
	python3 - <<'EOF'
import errno, socket
TCP_ULP = 31
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(1)
c = socket.create_connection(l.getsockname())
s, _ = l.accept()
try:
    c.setsockopt(socket.IPPROTO_TCP, TCP_ULP, b"tls")
    print("present the kernel has the tls ULP")
except OSError as e:
    if e.errno == errno.ENOENT:
        print('absent the kernel has no tls ULP (setsockopt TCP_ULP "tls": ENOENT)')
    else:
        print('error cannot probe: setsockopt TCP_ULP "tls": ' + e.strerror)
EOF
}

t_begin "lab up: shop mesh on 2 nodes, HBONE between them"
if lab up --nodes 2 "$HERE/fixtures/shop.yaml" >"$LOG" 2>&1 &&
	grep -q 'carried over HBONE' "$STATE/logs/skiffd-node-1.log"; then t_pass
else t_fail "$(tail -5 "$LOG")"; fi
ECHO2=$(pod_ip echo node-2)
read -r KTLS KTLS_WHY <<<"$(ktls_probe)"

if [ "$KTLS" = present ]; then
	t_begin "kTLS: 8 MiB each way through HBONE, bytes equal"
	tx0=$(tls_stat node-1 TlsTxSw) tx0b=$(tls_stat node-2 TlsTxSw)
	out=$(transfer)
	if [ "$out" = "$TRANSFER_OK" ]; then t_pass; else t_fail "$out"; fi

	t_begin "kTLS: both skiffd hand TLS sends to the kernel (config_dump and the kernel's tls_stat) and open what they receive themselves; fast hops: read(), not splice()"
	k1=$(outbound node-1 hbone_ktls_tx) k2=$(outbound node-2 hbone_ktls_tx)
	tx1=$(tls_stat node-1 TlsTxSw) tx1b=$(tls_stat node-2 TlsTxSw)
	sp="$(outbound node-1 hbone_spliced) $(outbound node-2 hbone_spliced)"
	rec="$(outbound node-1 hbone_records) $(outbound node-2 hbone_records)"
	if [ "${k1:-0}" -ge 1 ] && [ "${k2:-0}" -ge 1 ] && [ "$tx1" -gt "$tx0" ] &&
		[ "$tx1b" -gt "$tx0b" ] && [ "$sp" = "0 0" ] && [ "${rec% *}" -ge 1 ] &&
		[ "${rec#* }" -ge 1 ]; then
		t_pass "hbone_ktls_tx node-1 $k1, node-2 $k2; TlsTxSw $tx0 -> $tx1, $tx0b -> $tx1b; hbone_records $rec"
	else
		t_fail "hbone_ktls_tx node-1 '$k1' node-2 '$k2'; TlsTxSw node-1 $tx0 -> $tx1, node-2 $tx0b -> $tx1b; spliced $sp; hbone_records $rec
$(config_dump node-1 | grep -o '"outbound":{[^}]*}')"
	fi

	t_begin "kTLS: the wire between the nodes still carries only TLS, never the payload"
	marker=skiff-ktls-marker-$RANDOM$RANDOM
	lab exec --node node-1 -- timeout 15 tcpdump -i eth0 -U -w "$WORK/wire.pcap" \
		tcp port 15008 >/dev/null 2>&1 &
	dump=$!
	sleep 1
	n=$(in_client python3 -c "
import socket
s = socket.create_connection(('$ECHO2', 9000), timeout=5)
s.sendall(b'$marker' * 2000); s.shutdown(socket.SHUT_WR)
n = 0
while True:
    b = s.recv(65536)
    if not b: break
    n += len(b)
print(n)" 2>&1)
	sleep 1
	kill "$dump" 2>/dev/null
	wait "$dump" 2>/dev/null
	pkts=$(tcpdump -r "$WORK/wire.pcap" -nn 2>/dev/null | wc -l)
	if [ "$n" = $((${#marker} * 2000)) ] && [ "$pkts" -gt 10 ] &&
		! grep -q "$marker" "$WORK/wire.pcap"; then
		t_pass "$pkts packets on 15008, no plaintext"
	else t_fail "echoed=$n packets=$pkts marker in capture: $(grep -c "$marker" "$WORK/wire.pcap")"; fi

	t_begin "kTLS: with the hops on TCP (--no-accel): each side's 8 MiB leave by splice(), bytes equal"
	for n in node-1 node-2; do
		SKIFF_LAB_AGENT_ARGS="--no-accel" lab restart-agent "$n" >>"$LOG" 2>&1
	done
	out=$(transfer)
	s1=$(outbound node-1 hbone_spliced) s2=$(outbound node-2 hbone_spliced)
	if [ "$out" = "$TRANSFER_OK" ] && [ "$s1" = 8388608 ] && [ "$s2" = 8388608 ]; then
		t_pass "hbone_spliced node-1 $s1, node-2 $s2"
	else t_fail "$out; hbone_spliced node-1 '$s1' node-2 '$s2'"; fi

	t_begin "kTLS: with the hops on TCP, an end of stream after the last bytes (an empty DATA frame) still arrives"
	# echo, wait for it, then half-close: the pod's FIN comes alone, after its bytes went out
	out=$(in_client python3 -c "
import socket
s = socket.create_connection(('$ECHO2', 9000), timeout=20)
s.sendall(b'x' * 100); got = b''
while len(got) < 100: got += s.recv(100)
s.shutdown(socket.SHUT_WR)
print(len(got), repr(s.recv(100)))" 2>&1)
	if [ "$out" = "100 b''" ]; then t_pass; else t_fail "$out"; fi

	t_begin "--hbone-ktls=off: skiffd seals the records again, bytes still equal"
	for n in node-1 node-2; do
		SKIFF_LAB_AGENT_ARGS="--hbone-ktls=off" lab restart-agent "$n" >>"$LOG" 2>&1
	done
	out=$(transfer)
	k1=$(outbound node-1 hbone_ktls_tx) k2=$(outbound node-2 hbone_ktls_tx)
	rec="$(outbound node-1 hbone_records) $(outbound node-2 hbone_records)"
	if [ "$out" = "$TRANSFER_OK" ] && [ "$k1" = 0 ] && [ "$k2" = 0 ] &&
		[ "$(outbound node-1 hbone_out)" -ge 1 ] && [ "$rec" != "0 0" ]; then
		t_pass "hbone_records $rec"
	else t_fail "$out; hbone_ktls_tx node-1 '$k1' node-2 '$k2'; hbone_records $rec"; fi
else
	for c in "8 MiB each way through HBONE, bytes equal" \
		"both skiffd hand TLS sends to the kernel (config_dump and the kernel's tls_stat); fast hops: read(), not splice()" \
		"the wire between the nodes still carries only TLS, never the payload" \
		"with the hops on TCP (--no-accel): each side's 8 MiB leave by splice(), bytes equal" \
		"with the hops on TCP, an end of stream after the last bytes (an empty DATA frame) still arrives" \
		"--hbone-ktls=off: skiffd seals the records again, bytes still equal"; do
		t_begin "kTLS: $c"
		t_skip ktls "$KTLS_WHY"
	done
	# Only where kTLS is absent: on a kernel that has it the cases above check the same transfer.
	t_begin "no kTLS: HBONE's records are sealed and opened by skiffd, 8 MiB each way equal, hbone_ktls_tx 0"
	out=$(transfer)
	k1=$(outbound node-1 hbone_ktls_tx) k2=$(outbound node-2 hbone_ktls_tx)
	rec="$(outbound node-1 hbone_records) $(outbound node-2 hbone_records)"
	if [ "$out" = "$TRANSFER_OK" ] && [ "$k1" = 0 ] && [ "$k2" = 0 ] &&
		[ "$(outbound node-1 hbone_out)" -ge 1 ] && [ "${rec% *}" -ge 1 ] &&
		[ "${rec#* }" -ge 1 ]; then t_pass "$KTLS_WHY; hbone_records $rec"
	else t_fail "$out; hbone_ktls_tx node-1 '$k1' node-2 '$k2'; hbone_records $rec ($KTLS $KTLS_WHY)"; fi
fi

t_summary
