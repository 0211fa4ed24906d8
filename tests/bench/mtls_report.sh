#!/bin/bash
# The mTLS benchmark's table (tests/bench/mtls.sh): medians (min-max) per scenario and metric,
# with ratios to direct and to haproxy-mtls, and how they compare with the mTLS targets.
#   mtls_report.sh OUT_DIR REPS SECONDS RUN_SECONDS
set -u
OUT=$1 REPS=$2 T=$3 RUN=$4
awk -F'\t' -v reps="$REPS" -v t="$T" -v run="$RUN" -v kernel="$(uname -r)" \
	-v cpu="$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/ [0-9]*-Core.*//')" '
function med(k,    n, i, j, a, tmp) {
	n = cnt[k]
	for (i = 1; i <= n; i++) a[i] = v[k, i]
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { tmp = a[i]; a[i] = a[j]; a[j] = tmp }
	lo[k] = a[1]; hi[k] = a[n]
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ k = $1 SUBSEP $2; cnt[k]++; v[k, cnt[k]] = $4 + 0 }
END {
	split("direct skiff-mtls haproxy-mtls", sc, " ")
	split("p50_us p99_us tput_gbps cpu_ms_per_1k rss_mb", me, " ")
	for (i = 1; i <= 3; i++) for (j = 1; j <= 5; j++) { k = sc[i] SUBSEP me[j]; if (cnt[k]) m[k] = med(k) }
	printf "# skiff mTLS benchmark\n\nMachine: %s, kernel %s. %d rounds of %d s per metric, the paths in turn, %d s in all.\n\n", cpu, kernel, reps, t, run
	printf "Two nodes (network namespaces), client pod on node-2, server pod on node-1. Round trip: sockperf\n"
	printf "ping-pong, 1 KiB, one connection. Throughput: iperf3, one stream. Agent CPU: both agents,\n"
	printf "during the round-trip rounds, per 1000 round trips. Median (min-max); ratios to direct / to haproxy-mtls.\n\n"
	printf "| scenario | round trip p50 (µs) | p99 (µs) | throughput (Gbit/s) | agent CPU (ms / 1000 req) | agent RSS (MB, each) |\n"
	printf "| --- | --- | --- | --- | --- | --- |\n"
	for (i = 1; i <= 3; i++) {
		s = sc[i]; printf "| %s", s
		for (j = 1; j <= 5; j++) {
			k = s SUBSEP me[j]
			if (!cnt[k]) { printf " | –"; continue }
			printf " | %.*f (%.*f–%.*f)", (me[j] == "tput_gbps" ? 2 : 1), m[k], (me[j] == "tput_gbps" ? 2 : 1), lo[k], (me[j] == "tput_gbps" ? 2 : 1), hi[k]
			d = m["direct" SUBSEP me[j]]; h = m["haproxy-mtls" SUBSEP me[j]]
			if (j <= 3 && d > 0 && s != "direct") printf " **%.2f×**", m[k] / d
			if (j <= 3 && h > 0 && s == "skiff-mtls") printf " / **%.2f×**", m[k] / h
		}
		printf " |\n"
	}
	sm = "skiff-mtls"; hp = "haproxy-mtls"
	printf "\n## Targets\n"
	tgt("throughput vs haproxy-mtls", m[sm SUBSEP "tput_gbps"] / m[hp SUBSEP "tput_gbps"], ">=", 1.2, "×")
	tgt("p99 vs haproxy-mtls", m[sm SUBSEP "p99_us"] / m[hp SUBSEP "p99_us"], "<=", 0.8, "×")
	tgt("p99 added by the two agents over direct (ms)", (m[sm SUBSEP "p99_us"] - m["direct" SUBSEP "p99_us"]) / 1000, "<", 0.20, " ms")
	tgt("agent CPU per 1000 requests, per agent (ms)", m[sm SUBSEP "cpu_ms_per_1k"] / 2, "<=", 60, " ms")
}
function tgt(what, val, op, lim, unit,    ok) {
	ok = (op == ">=" ? val >= lim : op == "<=" ? val <= lim : val < lim)
	printf "- %s: %.2f%s (target %s %s%s) — %s\n", what, val, unit, op, lim, unit, ok ? "**met**" : "**MISSED**"
}' "$OUT/mtls.tsv" >"$OUT/mtls.md"
[ ! -f "$OUT/mtls-checks.md" ] || { printf '\n## Checks\n' >>"$OUT/mtls.md"; cat "$OUT/mtls-checks.md" >>"$OUT/mtls.md"; }
printf '\nReproduce: `make bench` (or `tests/bench/mtls.sh build [--quick]` after `make`), as root.\n' >>"$OUT/mtls.md"
