#!/bin/bash
# make bench, the L7 authorization part: what deciding every HTTP request costs. One node, a
# client and an HTTP/1.1 echo server (keep-alive, one connection, wrk), in one run:
#   none      no policy on the server: the kernel's same-node fast path, no agent on the path
#   l7-N      N ALLOW policies with HTTP rules select the server (N = 1, 10, 100): every
#             connection is punted to skiffd, which parses and decides each request; only the
#             last policy matches, so every request is checked against all N
# Reports requests/s and latency percentiles as ratios to `none`, and the time skiffd adds per
# request.   tests/bench/authz.sh BUILD_DIR [--quick]   -> BUILD_DIR/bench/authz.md, authz.tsv
set -u
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:?usage: tests/bench/authz.sh BUILD_DIR [--quick]}" && pwd) || exit 2
REPS=3 T=3
[ "${2:-}" = --quick ] && REPS=1 T=1
# shellcheck source=tests/bench/lib.sh
. "$HERE/lib.sh"
bench_lab_start authz wrk

say "lab up: 1 node, an HTTP echo server and a client"
lab up --nodes 1 "$HERE/authz.yaml" >>"$LOG" 2>&1 || die "lab up; see $LOG"
IP=$(lab status | awk '$1 ~ /^bench\/server-/ { print $3 }')
[ -n "$IP" ] || die "no server address"

admin() { lab exec --node node-1 -- curl -s --max-time 2 127.0.0.1:15000/config_dump; }
counter() { admin | sed -nE "s/.*\"$1\":([0-9]+).*/\\1/p"; }

# policies N: N ALLOW policies on the server; only the last one allows the client.
policies() {
	local n=$1 i f="$WORK/policies.yaml" r
	: >"$f"
	for i in $(seq "$n"); do
		local who="cluster.local/ns/bench/sa/other-$i" path="/p$i/*"
		[ "$i" = "$n" ] && who="cluster.local/ns/bench/sa/client" path="/bench/*"
		cat >>"$f" <<-YAML
		apiVersion: security.istio.io/v1
		kind: AuthorizationPolicy
		metadata:
		  name: p-$i
		  namespace: bench
		spec:
		  selector:
		    matchLabels:
		      app: server
		  action: ALLOW
		  rules:
		  - from:
		    - source:
		        principals: ["$who"]
		    to:
		    - operation:
		        methods: ["GET"]
		        paths: ["$path"]
		---
		YAML
	done
	r=$(counter reloads)
	lab apply "$f" >>"$LOG" 2>&1 || die "lab apply of $n policies"
	for _ in $(seq 100); do [ "$(counter reloads)" != "$r" ] && return 0; sleep 0.1; done
	die "skiffd did not reload after $n policies"
}

# wrk's latency line "50%  123.00us" -> microseconds
to_us() { awk '{ v = $2; u = 1; if (v ~ /ms$/) u = 1000; else if (v ~ /us$/) u = 1; else if (v ~ /s$/) u = 1000000; sub(/[a-z]+$/, "", v); printf "%.1f\n", v * u }'; }
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RAW"; }

measure() {
	local name=$1 r out rps
	for r in $(seq "$REPS"); do
		say "$name round $r"
		out=$(in_pod $((T + 15)) client wrk -t1 -c1 -d"${T}s" --latency "http://$IP:8080/bench/x" 2>&1)
		rps=$(echo "$out" | awk '/^Requests\/sec:/ { print $2 }')
		[ -n "$rps" ] && ! echo "$out" | grep -q 'Non-2xx' || {
			echo "$out" >>"$LOG"
			die "$name: wrk failed or saw non-2xx answers; see $LOG"
		}
		record "$name" rps "$r" "$rps"
		record "$name" p50_us "$r" "$(echo "$out" | awk '$1 == "50%"' | to_us)"
		record "$name" p99_us "$r" "$(echo "$out" | awk '$1 == "99%"' | to_us)"
	done
}

measure none
for n in 1 10 100; do
	policies "$n"
	before=$(counter l7_requests)
	measure "l7-$n"
	after=$(counter l7_requests)
	[ "${after:-0}" -gt "${before:-0}" ] || die "l7-$n: skiffd decided no request ($before -> $after)"
done

# median per scenario and metric, then the table
median() { awk -v s="$1" -v m="$2" '$1 == s && $2 == m { print $4 }' "$RAW" | sort -g |
	awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : 0) }'; }
{
	echo "| scenario | requests/s | ratio to none | p50 µs | p99 µs | added per request µs |"
	echo "| --- | --- | --- | --- | --- | --- |"
	base=$(median none rps)
	for s in none l7-1 l7-10 l7-100; do
		rps=$(median "$s" rps)
		awk -v s="$s" -v r="$rps" -v b="$base" -v p50="$(median "$s" p50_us)" \
			-v p99="$(median "$s" p99_us)" 'BEGIN {
			printf "| %s | %.0f | %.2f× | %.1f | %.1f | %s |\n", s, r, r / b, p50, p99,
				s == "none" ? "—" : sprintf("%.1f", 1e6 / r - 1e6 / b) }'
	done
	echo
	echo "Medians of $REPS rounds of ${T} s, wrk -t1 -c1 (one keep-alive connection); 'none' is the kernel fast path."
} >"$OUT/authz.md"
say "done: $OUT/authz.md"
cat "$OUT/authz.md"
