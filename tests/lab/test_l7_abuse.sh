#!/bin/bash
# Abusive HTTP clients against skiffd's L7 relay with its own limits (docs/security.md#limits),
# on the payments example with the guide's AuthorizationPolicy (HTTP rules on payments-api),
# from the frontend to a payments-api pod on its node (punt path) and to one across (HBONE, the
# destination's skiffd decides). Real sockets from the pod (abuse_probe.py):
#   - Content-Length with Transfer-Encoding: 400 and the connection closed;
#   - a request head trickled a byte every half second (slowloris): closed at the 10 s head
#     limit, though the relay is never idle;
#   - two capital letters and then silence: decided as TCP at the 15 s sniffing limit, which this
#     policy (HTTP rules only) refuses: closed, nothing answered;
#   - skiffd's skiff_proxy_limited_total counts both limits on the deciding node.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
EX="$HERE/../../examples/payments"
P=8080

node_of() { lab status | awk -v p="$1" '$1 == p { print $2 }'; }
probe() { lab exec -n frontend deploy/frontend -- python3 "$HERE/abuse_probe.py" "$1" "$P" "$2"; }
# limited NODE LIMIT: skiff_proxy_limited_total{limit="LIMIT"} on NODE's skiffd
limited() {
	lab exec --node "$1" -- curl -s --max-time 5 127.0.0.1:15020/metrics 2>>"$LOG" |
		awk -v l="limit=\"$2\"" 'index($0, "skiff_proxy_limited_total{") == 1 && index($0, l) {
			print $NF; f = 1 } END { if (!f) print 0 }'
}
LOG=$STATE/test.log

t_begin "lab up: payments on 2 nodes with the guide's AuthorizationPolicy"
if lab up --nodes 2 "$EX"/0*.yaml "$EX"/[1-9]*.yaml "$EX/istio/authorization-policy.yaml" \
	>"$LOG" 2>&1; then t_pass
else t_fail "$(tail -5 "$LOG")"; t_summary; exit 1; fi

fe=$(lab status | awk 'index($1, "frontend/frontend-") == 1 { print $1; exit }')
fe_node=$(node_of "$fe")
near=$(lab status | awk -v n="$fe_node" 'index($1, "payments/payments-api-") == 1 && $2 == n { print $3; exit }')
far=$(lab status | awk -v n="$fe_node" 'index($1, "payments/payments-api-") == 1 && $2 != n { print $3, $2; exit }')
far_node=${far#* }
far=${far% *}
declare -A where=([near]="$near" [far]="$far")

for w in near far; do
	t_begin "$w ($(echo "${where[$w]}")): a well-formed request passes"
	got=$(probe "${where[$w]}" ok 2>>"$LOG")
	if [ "$got" = 200 ]; then t_pass; else t_fail "got: $got"; fi

	t_begin "$w: Content-Length with Transfer-Encoding is answered 400 and closed"
	got=$(probe "${where[$w]}" smuggle 2>>"$LOG")
	if [ "$got" = "400 closed" ]; then t_pass; else t_fail "got: $got"; fi
done

# the slow cases run side by side: each waits for a limit of 10 or 15 s
out=$(mktemp -d /tmp/skiff-abuse.XXXXXX)
T_OWN+=("$out")
for w in near far; do
	for c in slowhead sniff; do
		probe "${where[$w]}" "$c" >"$out/$w.$c" 2>>"$LOG" &
	done
done
wait

for w in near far; do
	t_begin "$w: a head trickled a byte every half second is closed at the 10 s head limit"
	read -r state secs <"$out/$w.slowhead"
	if [ "$state" = closed ] && [ "$secs" -ge 9 ] && [ "$secs" -le 20 ]; then t_pass "${secs} s"
	else t_fail "got: $(cat "$out/$w.slowhead")"; fi

	t_begin "$w: two letters and silence are decided as TCP at 15 s and refused"
	read -r state secs bytes <"$out/$w.sniff"
	if [ "$state" = closed ] && [ "$secs" -ge 14 ] && [ "$secs" -le 25 ] && [ "$bytes" = 0 ]; then
		t_pass "${secs} s"
	else t_fail "got: $(cat "$out/$w.sniff")"; fi
done

for n in "$fe_node" "$far_node"; do
	t_begin "$n: skiff_proxy_limited_total counts the head and sniffing limits"
	h=$(limited "$n" head)
	s=$(limited "$n" sniff)
	if [ "$h" -ge 1 ] && [ "$s" -ge 1 ]; then t_pass "head $h, sniff $s"
	else t_fail "head $h, sniff $s"; fi
done

t_summary
