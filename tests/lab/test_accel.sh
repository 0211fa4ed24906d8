#!/bin/bash
# Same-node acceleration: a request through the VIP between two mesh pods of one node works, both
# sockets of a live connection sit in the sockhash (bpftool dumps it; the kernel allows no BTF on
# a sockhash, so its key is hex), the L4 counters are readable with named fields, and skiffd
# --no-accel keeps pods on TCP while still counting. The fast path is skiffd's default; after
# enough one-request connections to the echo server, new ones to it stay on TCP (its history in
# skiff_join_hist says the fast path would not pay), and the counters still count them. A pair
# whose reader stopped falls back to TCP and leaves the sockhash, both ends, with every byte in
# order (tests/lab/accel_stop_reader.py).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
PIN=/sys/fs/bpf/skiff-lab/node-1

hit() { lab exec -n shop deploy/client -- "$BUILD/bin/skiff-hit" "$@"; }

# Hold one TCP connection from the client to the echo VIP (IPv4) open for $1 seconds, and return
# once it is established (under QEMU's TCG starting the shell in the pod can take a second).
hold_conn() {
	local up
	up=$(mktemp -u /tmp/skiff-accel-held.XXXXXX)
	lab exec -n shop deploy/client -- bash -c \
		"exec 3<>/dev/tcp/$(vip4)/80 || exit 2; : >$up; sleep $1" >/dev/null 2>&1 &
	for _ in $(seq $(($1 * 10))); do
		[ -e "$up" ] && break
		sleep 0.1
	done
	rm -f "$up"
}
vip4() { lab exec -n shop deploy/client -- getent ahostsv4 echo.shop | awk '{print $1; exit}'; }

# A pinned map as bpftool prints it (with BTF: named fields), and its number of entries.
dump() { bpftool map dump pinned "$PIN/$1" 2>&1; }
entries() { bpftool -j map dump pinned "$PIN/$1" 2>/dev/null | grep -o '"key"' | wc -l; }

# Sum of one counter of skiff_l4_stats over every pair and CPU.
l4_sum() {
	dump skiff_l4_stats | grep -o "\"$1\": *[0-9]*" | awk -F: '{s += $2} END {printf "%.0f\n", s}'
}

# The sockhash keys (struct skiff_sock_key: local[16] remote[16] local_port remote_port family)
# out of bpftool's hex, one "family local_port" line per socket, e.g. "4 8080" for the echo end.
sockhash_ends() {
	local k b
	bpftool -j map dump pinned "$PIN/skiff_sockhash" 2>/dev/null | grep -o '"key":\[[^]]*\]' |
		while read -r k; do
			b=($(echo "$k" | grep -o '0x[0-9a-f]*'))
			echo "$((b[36])) $((b[32] + 256 * b[33]))"
		done
}

t_begin "lab up: shop mesh on 1 node, skiffd with its defaults (the fast path on)"
if lab up --nodes 1 "$HERE/fixtures/shop.yaml" >"$LOG" 2>&1; then t_pass
else t_fail "$(tail -5 "$LOG")"; fi

t_begin "a live connection: both sockets in the sockhash, readable as struct skiff_sock_key"
hold_conn 4
# one reading of the map, checked three ways (under QEMU's TCG each bpftool run takes a while,
# and the connection must still be open when the map is read)
d=$(dump skiff_sockhash)
ends=$(sockhash_ends)
n=$(echo "$ends" | grep -c .)
if [ "$n" = 2 ] && [ "$(echo "$ends" | grep -c '^4 8080$')" = 1 ] &&
	[ "$(echo "$ends" | grep -c '^4 ')" = 2 ] && echo "$d" | grep -q 'Found 2 elements'; then
	t_pass "$n entries; family, local port: $(echo $ends)"
else t_fail "n=$n ends=$(echo $ends) $d"; fi
wait

t_begin "skiffctl sockets decodes the sockhash: both ends of the live connection, by address"
hold_conn 3
out=$("$BUILD/bin/skiffctl" sockets --bpffs "$PIN" 2>&1)
wait
if echo "$out" | grep -qE '^ipv4 198\.18\.[0-9.]+:8080 -> 198\.18\.[0-9.]+:[0-9]+ cookie [0-9]+$' &&
	echo "$out" | grep -qE '^ipv4 198\.18\.[0-9.]+:[0-9]+ -> 198\.18\.[0-9.]+:8080 cookie' &&
	echo "$out" | grep -q '^2 accelerated socket'; then t_pass
else t_fail "$out"; fi

t_begin "entries leave the sockhash when the connection closes"
ok=0
for _ in $(seq 20); do
	[ "$(entries skiff_sockhash)" = 0 ] && { ok=1; break; }
	sleep 0.1
done
if [ $ok = 1 ]; then t_pass; else t_fail "$(dump skiff_sockhash)"; fi

t_begin "a reader that stops: both ends fall back, every byte comes back in order, both leave the sockhash while the connection is open"
# The cap is the node's net.ipv4.tcp_rmem[2] (skiffd reads it at start). The client writes
# twice the cap and more to the raw TCP echo port without reading for a while: the echo
# server's writes back pass the cap and fall back to TCP, its window stops it, it stops reading,
# and then the client's writes fall back too. Then the client reads everything back.
cap=$(lab exec --node node-1 -- cat /proc/sys/net/ipv4/tcp_rmem | awk '{print $3}')
fb0=$(l4_sum tcp_fallbacks)
stop_s=3
[ -z "${SKIFF_VMTEST:-}" ] || stop_s=15
out=$(lab exec -n shop deploy/client -- python3 "$HERE/accel_stop_reader.py" "$(vip4)" 9000 \
	$((2 * ${cap:-6291456} + (16 << 20))) $stop_s "$PIN/skiff_sockhash" 2>&1)
fb=$(($(l4_sum tcp_fallbacks) - fb0))
read -r verdict bytes before after <<<"$out"
if [ "$verdict" = ok ] && [ "$before" = 2 ] && [ "$after" = 0 ] && [ "$fb" -ge 1 ]; then
	t_pass "$((bytes >> 20)) MiB echoed in order; $fb sockets fell back; entries: $before, then $after"
else t_fail "cap=$cap fell back: $fb; $out"; fi

t_begin "TCP through the VIP between two pods of the node"
out=$(hit -n 50 echo.shop:80)
if echo "$out" | grep -q '^errors 0' && echo "$out" | grep -q '^total 50'; then t_pass
else t_fail "$out"; fi

t_begin "after 50 one-request connections, echo:8080 is learnt short and a new connection stays on TCP"
# skiff_join_hist, with BTF: {"key": {"workload": W, "port": 8080, ...}, "value": {"conns": C,
# "msgs": M}}, one entry per echo pod: how many of them were learnt short, of how many
hist=$(bpftool -j map dump pinned "$PIN/skiff_join_hist" 2>/dev/null | python3 -c 'import json, sys
v = [e.get("formatted", e)["value"] for e in json.load(sys.stdin)
     if e.get("formatted", e)["key"]["port"] == 8080]
print(sum(x["conns"] >= 8 and x["msgs"] < 4 * x["conns"] for x in v), len(v),
      " ".join("%d/%d" % (x["conns"], x["msgs"]) for x in v))')
read -r short pods detail <<<"${hist:-0 0}"
hold_conn 2
n=$(entries skiff_sockhash)
wait
if [ "$pods" -ge 1 ] && [ "$short" = "$pods" ] && [ "$n" = 0 ]; then
	t_pass "history (connections/messages per echo pod): $detail; sockhash entries while held: $n"
else t_fail "history: '$hist' (want every pod >= 8 connections, < 4 messages each); sockhash: $n entries"; fi

t_begin "L4 counters: named fields, connections closed and bytes both ways"
d=$(dump skiff_l4_stats)
if echo "$d" | grep -q '"src_workload"' && [ "$(l4_sum conns_closed)" -ge 50 ] &&
	[ "$(l4_sum bytes_received)" -gt 0 ] && [ "$(l4_sum bytes_sent)" -gt 0 ]; then
	t_pass "closed $(l4_sum conns_closed), received $(l4_sum bytes_received), sent $(l4_sum bytes_sent)"
else t_fail "$d"; fi

t_begin "skiffctl maps lists the accelerator's maps"
out=$("$BUILD/bin/skiffctl" maps --raw --bpffs "$PIN" 2>&1)
if echo "$out" | grep -q "== $PIN/skiff_sockhash" && echo "$out" | grep -q "== $PIN/skiff_l4_stats" &&
	echo "$out" | grep -q "== $PIN/skiff_pod_ips"; then t_pass; else t_fail "$out"; fi

t_begin "skiffd --help offers --accel and --no-accel"
if "$BUILD/bin/skiffd" --help | grep -q -- '--no-accel' && "$BUILD/bin/skiffd" --help | grep -q -- '--accel '
then t_pass; else t_fail "no flag"; fi

lab down >/dev/null 2>&1

t_begin "lab up with skiffd --no-accel"
if SKIFF_LAB_AGENT_ARGS=--no-accel lab up --nodes 1 "$HERE/fixtures/shop.yaml" >"$LOG" 2>&1 &&
	grep -q -- '--no-accel' /proc/"$(lab status | awk '$3 == "skiffd" {print $5; exit}')"/cmdline
then t_pass; else t_fail "$(tail -5 "$LOG")"; fi

t_begin "--no-accel: requests work, nothing enters the sockhash, counters still count"
before=$(l4_sum conns_closed)
out=$(hit -n 20 echo.shop:80)
hold_conn 1
n=$(entries skiff_sockhash)
wait
after=$(l4_sum conns_closed)
if echo "$out" | grep -q '^errors 0' && [ "$n" = 0 ] && [ "$after" -ge $((before + 20)) ]; then
	t_pass "counted $((after - before))"
else t_fail "n=$n before=$before after=$after $out"; fi

t_summary
