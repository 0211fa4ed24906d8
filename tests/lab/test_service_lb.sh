#!/bin/bash
# Service load balancing in the kernel: TCP, UDP with reverse translation, IPv6, getpeername,
# enrolment by label with no restart, opted-out and outside pods untouched, non-service traffic
# untouched, and a Service without endpoints failing at once.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"

hit() { lab exec -n shop deploy/client -- "$BUILD/bin/skiff-hit" "$@"; }

t_begin "lab up: shop mesh on 2 nodes"
if lab up --nodes 2 "$HERE/fixtures/shop.yaml" >"$LOG" 2>&1; then t_pass
else t_fail "$(tail -5 "$LOG")"; fi

t_begin "TCP service: 200 connections spread over both endpoints, getpeername shows the VIP"
out=$(hit -n 200 echo.shop:80)
if echo "$out" | grep -q '^errors 0' && echo "$out" | grep -q '^peer_mismatch 0' &&
	[ "$(echo "$out" | grep -c '^pod echo-')" = 2 ]; then t_pass; else t_fail "$out"; fi

t_begin "raw TCP port of the same service"
out=$(hit -n 50 --tcp-whoami echo.shop:9000)
if echo "$out" | grep -q '^errors 0' && echo "$out" | grep -q '^pod echo-'; then t_pass
else t_fail "$out"; fi

t_begin "UDP service: replies come from the VIP (reverse translation on recvmsg)"
out=$(hit -n 100 --udp echo.shop:53)
if echo "$out" | grep -q '^errors 0' && echo "$out" | grep -q '^peer_mismatch 0' &&
	[ "$(echo "$out" | grep -c '^pod echo-')" = 2 ]; then t_pass; else t_fail "$out"; fi

t_begin "IPv6 ClusterIP of the dual-stack service (TCP and UDP)"
vip6=$(lab exec -n shop deploy/client -- getent ahostsv6 echo.shop | awk '$1 ~ /:/ {print $1; exit}')
out=$(hit -n 100 "[$vip6]:80"; hit -n 50 --udp "[$vip6]:53")
if [ -n "$vip6" ] && [ "$(echo "$out" | grep -c '^errors 0')" = 2 ] &&
	[ "$(echo "$out" | grep -c '^peer_mismatch 0')" = 2 ]; then t_pass "$vip6"
else t_fail "vip6=$vip6 $out"; fi

t_begin "a dual-stack socket dialling the IPv4 VIP as ::ffff:a.b.c.d is translated too"
vip4=$(lab exec -n shop deploy/client -- getent ahostsv4 echo.shop | awk '{print $1; exit}')
out=$(hit -n 50 "[::ffff:$vip4]:80")
if [ -n "$vip4" ] && echo "$out" | grep -q '^errors 0' && echo "$out" | grep -q '^peer_mismatch 0'
then t_pass; else t_fail "vip4=$vip4 $out"; fi

t_begin "Service without endpoints: connect fails at once with ECONNREFUSED"
start=$(date +%s%N)
out=$(hit -n 1 --timeout-ms 3000 empty.shop:80)
ms=$((($(date +%s%N) - start) / 1000000))
if echo "$out" | grep -q 'ECONNREFUSED' && [ "$ms" -lt 2000 ] &&
	grep -q 'Service shop/empty has no ready endpoints' "$STATE/logs/skiffd-node-1.log"; then
	t_pass "${ms} ms"
else t_fail "after ${ms} ms: $out"; fi

t_begin "non-service traffic untouched: pod IP dialled directly, peer is the pod"
podip=$(lab status | awk '/shop\/echo-/ {for (i = 1; i <= NF; i++) if ($i ~ /^198\.18\./) {print $i; exit}}')
out=$(hit -n 20 "$podip:8080")
if [ -n "$podip" ] && echo "$out" | grep -q '^errors 0' && [ "$(echo "$out" | grep -c '^pod ')" = 1 ]
then t_pass; else t_fail "podip=$podip $out"; fi

t_begin "pod labelled skiff.io/mesh=disabled is not translated"
out=$(lab exec -n shop deploy/optout -- "$BUILD/bin/skiff-hit" -n 1 --timeout-ms 500 echo.shop:80)
if echo "$out" | grep -q '^errors 1'; then t_pass; else t_fail "$out"; fi

t_begin "pod in a namespace outside the mesh is not translated"
out=$(lab exec -n outside deploy/stranger -- "$BUILD/bin/skiff-hit" -n 1 --timeout-ms 500 \
	echo.shop.svc.cluster.local:80)
if echo "$out" | grep -q '^errors 1'; then t_pass; else t_fail "$out"; fi

t_begin "labelling the namespace into the mesh takes effect within 1 s, no pod restart"
pid_before=$(lab status | awk '/outside\/stranger-/ {print; exit}')
lab label namespace outside istio.io/dataplane-mode=ambient >"$LOG" 2>&1
ok=0
for _ in $(seq 10); do
	if lab exec -n outside deploy/stranger -- "$BUILD/bin/skiff-hit" -n 1 --timeout-ms 300 \
		echo.shop:80 | grep -q '^errors 0'; then ok=1; break; fi
	sleep 0.1
done
pid_after=$(lab status | awk '/outside\/stranger-/ {print; exit}')
if [ $ok = 1 ] && [ "$pid_before" = "$pid_after" ]; then t_pass; else t_fail "ok=$ok $(cat "$LOG")"; fi

t_begin "removing the label takes the pod out again"
lab label namespace outside istio.io/dataplane-mode- >"$LOG" 2>&1
ok=0
for _ in $(seq 10); do
	if lab exec -n outside deploy/stranger -- "$BUILD/bin/skiff-hit" -n 1 --timeout-ms 300 \
		echo.shop:80 | grep -q '^errors 1'; then ok=1; break; fi
	sleep 0.1
done
if [ $ok = 1 ]; then t_pass; else t_fail "still translated; $(cat "$LOG")"; fi

t_begin "a deleted pod leaves the enrolled map on every node"
enrolled() { config_dump node-1; config_dump node-2; }
if enrolled | grep -q 'shop/client-'; then
	lab delete "$HERE/fixtures/shop-client.yaml" >"$LOG" 2>&1
	gone=0
	for _ in $(seq 20); do
		enrolled | grep -q 'shop/client-' || { gone=1; break; }
		sleep 0.1
	done
	if [ $gone = 1 ]; then t_pass; else t_fail "client still enrolled: $(enrolled)"; fi
else t_fail "client was never enrolled: $(enrolled)"; fi

t_summary
