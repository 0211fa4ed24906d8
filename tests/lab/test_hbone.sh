#!/bin/bash
# mTLS between nodes: cross-node mesh traffic travels as HBONE (HTTP/2 CONNECT over TLS 1.3 with
# both nodes' skiffd presenting mesh certificates). On the wire between the nodes there is only
# TLS to 15008, never the payload; the receiving skiffd logs the client's SPIFFE principal; 15008
# refuses clients without a mesh certificate; STRICT pods are reachable across nodes through it;
# certificates rotate under a live transfer. The records are sealed outside libssl (by the kernel's
# kTLS, or by skiffd's own record layer), and a skiffd whose records libssl seals
# (--hbone-records=openssl) still talks to one that seals its own.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
WORK=$(mktemp -d /tmp/skiff-hbone.XXXXXX)
trap 't_cleanup; rm -rf "$WORK"' EXIT
# Under TCG beside other guests a handshake or a first HBONE connection takes seconds: the
# waits below scale by S (they bound a wait, none is a speed check).
S=$([ -n "${SKIFF_VMTEST:-}" ] && echo 4 || echo 1)

pod_ip() { lab status | awk -v d="shop/$1-" -v n="$2" 'index($1, d) == 1 && $2 == n { print $3; exit }'; }
outbound() { config_dump "$1" | sed -nE "s/.*\"outbound\":\\{[^}]*\"$2\":([0-9]+).*/\\1/p"; }
guard() { config_dump "$1" | sed -nE "s/.*\"guard\":\\{[^}]*\"$2\":([0-9]+).*/\\1/p"; }
node1() { lab exec --node node-1 -- "$@"; }
# A TLS handshake from node-1 to node-2's 15008 with the given client cert dir ("" for none).
handshake() {
	local certs=()
	[ -z "$1" ] || certs=(-cert "$1/cert-chain.pem" -key "$1/key.pem")
	# stdin stays open for a second: with TLS 1.3 the server refuses a client certificate
	# with an alert after the client's Finished, which s_client only sees if it keeps reading
	node1 bash -c "sleep $S | timeout $((5 * S)) openssl s_client -connect 198.18.0.2:15008 -tls1_3 \
		-alpn h2 ${certs[*]} -CAfile $STATE/ca/ca.crt" 2>&1
}
# Did the server accept us? Refused: an alert (certificate required / unknown CA / expired).
accepted() { ! grep -qiE 'alert|errno|write:' <<<"$1" && grep -q 'Verify return code: 0' <<<"$1"; }
# A handshake that failed on node-2's side too (its counter), not only in the client's view.
refused() {
	local before=$(outbound node-2 tls_failed) out
	out=$(handshake "$1")
	if ! accepted "$out"; then
		for _ in $(seq $((10 * S))); do
			[ "$(outbound node-2 tls_failed)" -gt "$before" ] && return 0
			sleep 0.1
		done
	fi
	echo "$out" | grep -iE 'alert|error' | head -3
	return 1
}

t_begin "lab up: shop mesh on 2 nodes, skiffd with the lab's mesh CA (--ca-dir)"
if lab up --nodes 2 "$HERE/fixtures/shop.yaml" >"$LOG" 2>&1 &&
	grep -q 'carried over HBONE' "$STATE/logs/skiffd-node-1.log"; then t_pass
else t_fail "$(tail -5 "$LOG")"; fi
ECHO2=$(pod_ip echo node-2)

t_begin "on the wire between the nodes: TLS to 15008 only, never the payload"
marker=skiff-plaintext-marker-$RANDOM$RANDOM
node1 timeout $((10 * S)) tcpdump -i eth0 -U -w "$WORK/wire.pcap" tcp >/dev/null 2>&1 &
dump=$!
sleep "$S"
lab exec -n shop deploy/client -- python3 -c "
import socket
s = socket.create_connection(('$ECHO2', 9000), timeout=$((5 * S)))
s.sendall(b'$marker' * 2000); s.shutdown(socket.SHUT_WR)
n = 0
while True:
    b = s.recv(65536)
    if not b: break
    n += len(b)
print(n)" >"$WORK/echoed" 2>&1
sleep 1
kill "$dump" 2>/dev/null
wait "$dump" 2>/dev/null
to15008=$(tcpdump -r "$WORK/wire.pcap" -nn 'tcp dst port 15008' 2>/dev/null | wc -l)
to9000=$(tcpdump -r "$WORK/wire.pcap" -nn 'tcp port 9000' 2>/dev/null | wc -l)
if [ "$(cat "$WORK/echoed")" = $((${#marker} * 2000)) ] && [ "$to15008" -gt 10 ] &&
	[ "$to9000" = 0 ] && ! grep -q "$marker" "$WORK/wire.pcap"; then
	t_pass "$to15008 packets to 15008, none to the pod port, no plaintext"
else t_fail "echoed=$(cat "$WORK/echoed") to15008=$to15008 to9000=$to9000 marker in capture: $(grep -c "$marker" "$WORK/wire.pcap")"; fi

t_begin "both ends open their records outside libssl (and seal them too, or kTLS does)"
r1=$(outbound node-1 hbone_records) r2=$(outbound node-2 hbone_records)
k1=$(outbound node-1 hbone_ktls_tx) k2=$(outbound node-2 hbone_ktls_tx)
if [ "$r1" -ge 1 ] && [ "$r2" -ge 1 ]; then
	t_pass "node-1: $r1 own, $k1 kTLS send; node-2: $r2 own, $k2 kTLS send"
else t_fail "node-1: $r1 own, $k1 kTLS send; node-2: $r2 own, $k2 kTLS send"; fi

t_begin "the receiving skiffd logs the client's SPIFFE principal, baggage and traceparent"
line=$(grep "inbound src.principal=spiffe://cluster.local/ns/shop/sa/default dst=$ECHO2:9000" \
	"$STATE/logs/skiffd-node-2.log" | tail -1)
if echo "$line" | grep -q 'baggage=k8s.cluster.name=Kubernetes,k8s.namespace.name=shop,k8s.pod.name=client-[^,]*,service.name=client,service.version=latest' &&
	echo "$line" | grep -qE 'traceparent=00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]'; then t_pass
else t_fail "$(grep 'skiffd hbone' "$STATE/logs/skiffd-node-2.log" | tail -3)"; fi

t_begin "15008 takes a mesh certificate (control: the handshake itself works)"
"$BUILD/bin/skiffctl" cert mint --ca "$STATE/ca" --ns shop --sa tester --out "$WORK/good" \
	>"$LOG" 2>&1
out=$(handshake "$WORK/good")
if accepted "$out"; then t_pass; else t_fail "$(tail -5 <<<"$out") $(cat "$LOG")"; fi

t_begin "15008 refuses a client without a certificate"
if why=$(refused ""); then t_pass; else t_fail "accepted: $why"; fi

t_begin "15008 refuses a certificate from another CA"
"$BUILD/bin/skiffctl" ca init "$WORK/otherca" >"$LOG" 2>&1 &&
	"$BUILD/bin/skiffctl" cert mint --ca "$WORK/otherca" --ns shop --sa default \
		--out "$WORK/other" >>"$LOG" 2>&1
if [ -s "$WORK/other/cert-chain.pem" ] && why=$(refused "$WORK/other"); then t_pass
else t_fail "accepted: $why $(cat "$LOG")"; fi

t_begin "15008 refuses an expired certificate"
"$BUILD/bin/skiffctl" cert mint --ca "$STATE/ca" --ns shop --sa default --ttl 60 \
	--backdate 7200 --out "$WORK/expired" >"$LOG" 2>&1
if [ -s "$WORK/expired/cert-chain.pem" ] && why=$(refused "$WORK/expired"); then t_pass
else t_fail "accepted: $why $(cat "$LOG")"; fi

t_begin "an HTTP/2 request that is not CONNECT gets 400"
code=$(node1 curl -sk --http2 --max-time $((5 * S)) -o /dev/null -w '%{http_code}' \
	--cert "$WORK/good/cert-chain.pem" --key "$WORK/good/key.pem" https://198.18.0.2:15008/)
if [ "$code" = 400 ]; then t_pass; else t_fail "HTTP $code"; fi

t_begin "a client's KeyUpdate request is honoured, and skiffd ends the connection with close_notify"
# s_client's K: a KeyUpdate asking for ours; then bytes that are no HTTP/2 preface, which end
# the connection. Where the kernel seals skiffd's records (kTLS) its key cannot move on: the
# request itself ends the connection, with close_notify and no data after it.
out=$(node1 bash -c "(printf 'K\n'; sleep $S; printf 'hello\n'; sleep $((2 * S))) | timeout $((5 * S)) \
	openssl s_client -connect 198.18.0.2:15008 -tls1_3 -alpn h2 -msg \
	-cert $WORK/good/cert-chain.pem -key $WORK/good/key.pem -CAfile $STATE/ca/ca.crt" 2>&1)
ku=$(grep -c '^<<< TLS 1.3, Handshake \[length 0005\], KeyUpdate' <<<"$out")
cn=$(grep -c '^<<< TLS 1.3, Alert \[length 0002\], warning close_notify' <<<"$out")
if grep -q 'KEYUPDATE' <<<"$out" && [ "$cn" = 1 ] &&
	{ { [ "$k2" -ge 1 ] && [ "$ku" = 0 ]; } || { [ "$k2" = 0 ] && [ "$ku" = 1 ]; }; }; then
	t_pass "kTLS send on node-2: $k2; KeyUpdates back: $ku; close_notify: $cn"
else t_fail "kTLS $k2, KeyUpdates back $ku, close_notify $cn: $(grep -E '<<<|KEYUPDATE' <<<"$out" | tail -6)"; fi

t_begin "STRICT on the destination: cross-node mesh traffic still gets in, over HBONE"
g1=$(generation node-1) g2=$(generation node-2)
before=$(guard node-2 pass_agent)
lab apply "$HERE/fixtures/mtls/strict.yaml" >"$LOG" 2>&1
wait_generation_change node-2 "$g2" 30
out=$(lab exec -n shop deploy/client -- curl -s --max-time $((3 * S)) "http://$ECHO2:8080/")
if echo "$out" | grep -q '"pod":"echo-' && [ "$(guard node-2 pass_agent)" -gt "$before" ]; then
	t_pass "pass_agent $before -> $(guard node-2 pass_agent)"
else t_fail "$out; pass_agent $before -> $(guard node-2 pass_agent) (generation $g1)"; fi

t_begin "certificates rotate under a live cross-node transfer without an error"
SKIFF_LAB_AGENT_ARGS="--cert-ttl 4" lab restart-agent node-1 >"$LOG" 2>&1
SKIFF_LAB_AGENT_ARGS="--cert-ttl 4" lab restart-agent node-2 >>"$LOG" 2>&1
sleep 1
out=$(lab exec -n shop deploy/client -- python3 -c "
import socket, time, os, hashlib
s = socket.create_connection(('$ECHO2', 9000), timeout=$((10 * S)))
h = hashlib.sha256(); got = 0; sent = b''
for i in range(30):              # 6 s: more than one rotation (every 2 s)
    chunk = os.urandom(65536); sent += chunk
    s.sendall(chunk)
    while got < len(sent):
        b = s.recv(65536)
        if not b: break
        h.update(b); got += len(b)
    time.sleep(0.2)
print(got == len(sent) and h.digest() == hashlib.sha256(sent).digest())" 2>&1)
rot=$(grep -c 'rotated [0-9]* workload certificate' "$STATE/logs/skiffd-node-1.log")
if [ "$out" = True ] && [ "$rot" -ge 1 ]; then t_pass "$rot rotation(s) on node-1 during the transfer"
else t_fail "transfer: $out; rotations: $rot"; fi

t_begin "after rotation, new connections are made with the new certificates"
out=$(lab exec -n shop deploy/client -- curl -s --max-time $((3 * S)) "http://$ECHO2:8080/")
if echo "$out" | grep -q '"pod":"echo-'; then t_pass; else t_fail "$out"; fi

t_begin "--same-node-mtls: two pods of one node talk through HBONE too, not the fast path"
SKIFF_LAB_AGENT_ARGS=--same-node-mtls lab restart-agent node-1 >"$LOG" 2>&1
sleep 1
ECHO1=$(pod_ip echo node-1)
before=$(outbound node-1 hbone_in)
peer=$(lab exec -n shop deploy/client -- curl -s --max-time $((3 * S)) "http://$ECHO1:8080/" |
	sed -nE 's/.*"peer":"([^"]*)".*/\1/p')
after=$(outbound node-1 hbone_in)
if [ "${peer%:*}" = 198.18.0.1 ] && [ "$after" = $((before + 1)) ]; then
	t_pass "server saw $peer"
else t_fail "peer=$peer hbone_in $before -> $after $(tail -3 "$LOG")"; fi

t_begin "--hbone-records=openssl on one node: 4 MiB each way intact with a node on its own records"
SKIFF_LAB_AGENT_ARGS=--hbone-records=openssl lab restart-agent node-1 >"$LOG" 2>&1
lab restart-agent node-2 >>"$LOG" 2>&1
sleep 1
out=$(lab exec -n shop deploy/client -- python3 -c "
import socket, os, hashlib, threading
s = socket.create_connection(('$ECHO2', 9000), timeout=$((20 * S)))
sent = os.urandom(4 << 20)
def send():
    s.sendall(sent); s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send); t.start()
h = hashlib.sha256(); got = 0
while True:
    b = s.recv(1 << 16)
    if not b: break
    h.update(b); got += len(b)
t.join()
print(got == len(sent) and h.digest() == hashlib.sha256(sent).digest())" 2>&1)
r1=$(outbound node-1 hbone_records) r2=$(outbound node-2 hbone_records)
# the client is on node-1: node-1 opened the HBONE connection (libssl), node-2 took it (its own)
if [ "$out" = True ] && [ "$r1" = 0 ] && [ "$(outbound node-1 hbone_out)" -ge 1 ] &&
	[ "$r2" -ge 1 ]; then
	t_pass "node-1 (openssl) $r1 own, node-2 $r2 own"
else t_fail "transfer: $out; node-1 own $r1, node-2 own $r2 $(tail -3 "$LOG")"; fi

t_summary
