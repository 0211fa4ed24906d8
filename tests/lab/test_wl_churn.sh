#!/bin/bash
# Workload ids under pod churn, and skiffd's relay limits as flags. One node; skiffd runs with
# --idle-timeout 1s.
#  - Pods whose names sort first come and go in a loop. Ids were positions in the sorted pod
#    list, so each change moved every other pod's id while skiff_policy and the pod maps were
#    rewritten entry by entry: for a moment a refused client could carry an allowed client's
#    old id against the server's old id, whose verdict was still there. Now a pod keeps its id:
#    the ids of the other pods must not move, a refused client must never connect (EPERM from
#    connect(), decided in the kernel) and an allowed one must never fail, throughout.
#  - A relay idle for 1 s is closed after about 1 s (the default is 1 h).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
CHURN=${WL_CHURN_ROUNDS:-12}

export SKIFF_LAB_AGENT_ARGS="${SKIFF_LAB_AGENT_ARGS:-} --idle-timeout 1s"

t_begin "lab up: one node, a server only \`good\` may reach, skiffd --idle-timeout 1s"
if lab up "$HERE/fixtures/wl-churn.yaml" >"$LOG" 2>&1; then t_pass
else t_fail "$(tail -5 "$LOG")"; t_summary; exit 1; fi

pod_ip() { lab status | awk -v p="ids/$1-" 'index($1, p) == 1 { print $3; exit }'; }
# "ns/pod=id ..." of the pods named by the prefixes given, from /config_dump's enrolled pods
ids_of() {
	config_dump node-1 | python3 -c '
import json, sys
d = json.load(sys.stdin)
want = sys.argv[1:]
got = sorted("%s=%s" % (p["pod"].split("-")[0], p["workload_id"])
             for p in d["enrolled"] if any(p["pod"].startswith(w) for w in want))
print(" ".join(got))' "$@"
}
SRV=$(pod_ip srv)
WEB=$(pod_ip web)

t_begin "before the churn: good connects, bad is refused with EPERM"
g=$(lab exec -n ids deploy/good -- python3 "$HERE/connect_loop.py" "$SRV" 8080 0.3 2>>"$LOG")
b=$(lab exec -n ids deploy/bad -- python3 "$HERE/connect_loop.py" "$SRV" 8080 0.3 2>>"$LOG")
if [[ $g == ok=[1-9]*" eperm=0 other=0"* && $b == "ok=0 eperm="[1-9]*" other=0"* ]]; then
	t_pass "good: $g; bad: $b"
else t_fail "good: $g; bad: $b"; fi

before=$(ids_of ids/bad ids/good ids/srv ids/web)
t_begin "enrolled pods carry workload ids"
if [ "$(wc -w <<<"$before")" = 4 ]; then t_pass "$before"
else t_fail "got: '$before' from $(config_dump node-1 | head -c 600)"; fi

t_begin "$CHURN rounds of pods sorting first joining and leaving: bad never connects, good never fails"
secs=$((CHURN * 3 + 4))
lab exec -n ids deploy/good -- python3 "$HERE/connect_loop.py" "$SRV" 8080 "$secs" \
	>"$LOG.good" 2>>"$LOG" &
gp=$!
lab exec -n ids deploy/bad -- python3 "$HERE/connect_loop.py" "$SRV" 8080 "$secs" \
	>"$LOG.bad" 2>>"$LOG" &
bp=$!
moved=""
for i in $(seq "$CHURN"); do
	gen=$(generation node-1)
	if [ $((i % 2)) = 1 ]; then lab apply "$HERE/fixtures/wl-churn-pods.yaml" >>"$LOG" 2>&1
	else lab delete "$HERE/fixtures/wl-churn-pods.yaml" >>"$LOG" 2>&1; fi
	wait_generation_change node-1 "$gen" 30 || true
	sleep 1
	now=$(ids_of ids/bad ids/good ids/srv ids/web)
	[ "$now" = "$before" ] || moved+=" round $i: $now;"
done
wait $gp $bp
g=$(cat "$LOG.good")
b=$(cat "$LOG.bad")
if [[ $g == ok=[1-9]*" eperm=0 other=0"* && $b == "ok=0 eperm="[1-9]*" other=0"* ]]; then
	t_pass "good: $g; bad: $b"
else t_fail "good: $g; bad: $b"; fi

t_begin "no id of the pods that stayed moved while the others came and went"
if [ -z "$moved" ]; then t_pass "$before"; else t_fail "before: $before;$moved"; fi

t_begin "the churned pods were enrolled with ids of their own"
lab apply "$HERE/fixtures/wl-churn-pods.yaml" >>"$LOG" 2>&1
churned=""
for _ in $(seq 50); do
	churned=$(ids_of ids/a)
	[ "$(wc -w <<<"$churned")" = 3 ] && break
	sleep 0.2
done
dup=$(printf '%s\n' $before $churned | cut -d= -f2 | sort | uniq -d)
if [ "$(wc -w <<<"$churned")" = 3 ] && [ -z "$dup" ]; then t_pass "$churned"
else t_fail "churned: '$churned', others: $before, shared: $dup"; fi

t_begin "--idle-timeout 1s: an idle L7 relay is closed after about 1 s"
got=$(lab exec -n ids deploy/good -- python3 "$HERE/idle_probe.py" "$WEB" 8080 10 2>>"$LOG")
after=$(sed -nE 's/.*closed_after=([0-9.]+).*/\1/p' <<<"$got")
if [[ $got == status=200* ]] && [ -n "$after" ] &&
	awk -v a="$after" 'BEGIN { exit !(a >= 0.7 && a <= 3.5) }'; then t_pass "$got"
else t_fail "got: $got (want status=200 and closed after 0.7-3.5 s)"; fi

t_summary
