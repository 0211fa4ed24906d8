#!/bin/bash
# The L7 hop bench's table (tests/bench/l7route.sh): medians (min-max) per path, protocol and
# metric, ratios to HAProxy with the same rules and to the kernel path, and the targets.
#   l7route_report.sh RAW.tsv CHECKS REPS SECONDS H2_STREAMS "RULES" RUN_SECONDS
# RAW: name proto metric round value. CHECKS: one line per skiff h2 run, "... per-request ..."
# or "... whole ...", from skiffd's request metrics.
set -u
RAW=$1 CHECKS=$2 REPS=$3 T=$4 M=$5 RULES=$6 RUN=$7
# Paths whose h2 skiffd carried whole in any round (its h2 figures are then not the router's).
WHOLE=$(awk '/: whole/ { sub(/ h2 round.*/, ""); print }' "$CHECKS" | sort -u | tr '\n' ' ')
awk -F'\t' -v reps="$REPS" -v t="$T" -v m="$M" -v rules="$RULES" -v run="$RUN" -v whole=" $WHOLE" \
	-v kernel="$(uname -r)" -v day="$(date -u +%Y-%m-%d)" -v ncpu="$(nproc)" \
	-v load="$(cut -d' ' -f1-3 /proc/loadavg)" '
function med(k,    n, i, j, a, tmp) {
	n = cnt[k]
	for (i = 1; i <= n; i++) a[i] = v[k, i]
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { tmp = a[i]; a[i] = a[j]; a[j] = tmp }
	lo[k] = a[1]; hi[k] = a[n]
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function cell(s, p, me, fmt,    k) {
	k = s SUBSEP p SUBSEP me
	if (!cnt[k]) return "–"
	return sprintf(fmt " (" fmt "–" fmt ")", md[k], lo[k], hi[k])
}
function ratio(a, b) { return (a > 0 && b > 0) ? sprintf("**%.2f×**", a / b) : "–" }
function is_whole(s) { return index(whole, " " s " ") > 0 }
function tgt(what, val, op, lim, unit,    ok) {
	if (val == "") { printf "- %s: not measured — **MISSED**\n", what; return }
	ok = (op == ">=" ? val >= lim : val <= lim)
	printf "- %s: %.2f%s (target %s %s%s) — %s\n", what, val, unit, op, lim, unit, ok ? "**met**" : "**MISSED**"
}
{ k = $1 SUBSEP $2 SUBSEP $3; cnt[k]++; v[k, cnt[k]] = $5 + 0 }
END {
	for (k in cnt) md[k] = med(k)
	nr = split(rules, R, " ")
	printf "# skiff L7 hop benchmark (%s)\n\n", day
	printf "%d CPUs, kernel %s, load average %s at the end. %d rounds of %d s per path and protocol,\n", ncpu, kernel, load, reps, t
	printf "the paths in turn in every round, %d s of rounds. The machine is shared and noisy: read the ratios,\n", run
	printf "which compare paths measured minutes apart in the same run.\n\n"
	printf "One node; client pod -> one hop -> server pod. HTTP/1.1: wrk -t1 -c1 (one keep-alive connection,\n"
	printf "one request at a time). HTTP/2: h2load -c1 -m%d (h2c prior knowledge, %d streams on one connection).\n", m, m
	printf "skiff-N / haproxy-N: N header+uri match rules (only the last matches) and a catch-all, every rule\n"
	printf "with retries (attempts 2, perTryTimeout 2s, retryOn 5xx,reset,connect-failure); HAProxy config\n"
	printf "generated from the same VirtualService. kernel: no VirtualService, no proxy on the path.\n"
	printf "CPU: skiffd (or that HAProxy) per 1,000 requests. Median (min–max).\n"
	for (pi = 1; pi <= 2; pi++) {
		p = pi == 1 ? "h1" : "h2"
		printf "\n## %s\n\n", p == "h1" ? "HTTP/1.1 keep-alive" : "HTTP/2"
		printf "| path | requests/s | p50 µs | p99 µs | CPU ms / 1k req | rate vs HAProxy | p99 vs HAProxy | rate vs kernel |\n"
		printf "| --- | --- | --- | --- | --- | --- | --- | --- |\n"
		printf "| kernel | %s | %s | %s | – | – | – | – |\n", cell("kernel", p, "rps", "%.0f"),
			cell("kernel", p, "p50_us", "%.1f"), cell("kernel", p, "p99_us", "%.1f")
		for (i = 1; i <= nr; i++) {
			for (j = 1; j <= 2; j++) {
				s = (j == 1 ? "skiff-" : "haproxy-") R[i]; h = "haproxy-" R[i]
				note = (p == "h2" && j == 1 && is_whole(s)) ? " (h2 carried whole)" : ""
				printf "| %s%s | %s | %s | %s | %s | %s | %s | %s |\n", s, note,
					cell(s, p, "rps", "%.0f"), cell(s, p, "p50_us", "%.1f"),
					cell(s, p, "p99_us", "%.1f"), cell(s, p, "cpu_ms_per_1k", "%.2f"),
					j == 1 ? ratio(md[s SUBSEP p SUBSEP "rps"], md[h SUBSEP p SUBSEP "rps"]) : "–",
					j == 1 ? ratio(md[s SUBSEP p SUBSEP "p99_us"], md[h SUBSEP p SUBSEP "p99_us"]) : "–",
					ratio(md[s SUBSEP p SUBSEP "rps"], md["kernel" SUBSEP p SUBSEP "rps"])
			}
		}
	}
	printf "\n## Targets\n\n"
	for (pi = 1; pi <= 2; pi++) {
		p = pi == 1 ? "h1" : "h2"
		s10 = "skiff-10" SUBSEP p; h10 = "haproxy-10" SUBSEP p; s100 = "skiff-100" SUBSEP p
		if (p == "h2" && (is_whole("skiff-10") || is_whole("skiff-100"))) {
			printf "- HTTP/2: not judged: skiffd carried h2 connections whole (no request of theirs in its\n"
			printf "  request metrics), so its h2 figures are an L4 relay, not routing\n"
			continue
		}
		tgt(p " request rate at 10 rules vs HAProxy", md[h10 SUBSEP "rps"] ? md[s10 SUBSEP "rps"] / md[h10 SUBSEP "rps"] : "", ">=", 1.2, "×")
		tgt(p " p99 at 10 rules vs HAProxy", md[h10 SUBSEP "p99_us"] ? md[s10 SUBSEP "p99_us"] / md[h10 SUBSEP "p99_us"] : "", "<=", 0.8, "×")
		tgt(p " cost flat from 10 to 100 rules (request rate at 100 / at 10)", md[s10 SUBSEP "rps"] ? md[s100 SUBSEP "rps"] / md[s10 SUBSEP "rps"] : "", ">=", 0.9, "×")
		# the same ratio for HAProxy, measured beside it: how far the machine moved meanwhile
		h100 = "haproxy-100" SUBSEP p
		if (md[h10 SUBSEP "rps"] > 0 && md[h100 SUBSEP "rps"] > 0)
			printf "  (HAProxy, same rounds: %.2f×)\n", md[h100 SUBSEP "rps"] / md[h10 SUBSEP "rps"]
	}
	printf "- skiffd CPU per 1,000 requests at 10 rules: %s ms (h1), %s ms (h2); HAProxy: %s ms (h1), %s ms (h2)\n",
		cell("skiff-10", "h1", "cpu_ms_per_1k", "%.2f"), cell("skiff-10", "h2", "cpu_ms_per_1k", "%.2f"),
		cell("haproxy-10", "h1", "cpu_ms_per_1k", "%.2f"), cell("haproxy-10", "h2", "cpu_ms_per_1k", "%.2f")
}' "$RAW"
printf '\n## Checks\n\n'
printf -- '- every skiff h1 run: skiffd reported at least as many routed requests as wrk completed\n'
printf -- '- the Service port was L7-flagged in the kernel for skiff-N and not for kernel\n'
sed 's/^/- /' "$CHECKS"
printf '\nReproduce: `make bench` (or `tests/bench/l7route.sh build [--quick]` after `make`), as root.\n'
