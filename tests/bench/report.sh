#!/bin/bash
# report.sh OUT REPS T_LAT T_TPUT T_CRR RUNTIME_S MODE BUSY_BEFORE BUSY_AFTER T_HTTP LOAD_BEFORE
# LOAD_AFTER: turn OUT/raw.tsv (scenario, services, metric, round, value) and OUT/scenarios.tsv
# (scenario, services, status, note; in report order) into OUT/results.md and OUT/results.json:
# per scenario and metric the median with min and max over the rounds, and the ratio to direct.
# A scenario whose runs were paired with a baseline run ("direct~SCENARIO" rows, same services
# and round) gets the median of the per-round ratios, with their min and max (the run's noise);
# others (kube-proxy) the ratio of their median to direct's. MODE is full, quick or tiny. With SKIFF_VMTEST=1 (the vmtest guest) the report
# says it was measured under QEMU's TCG, whose timings prove function, not speed, and judges no
# targets.
set -eu
out=$1 reps=$2 t_lat=$3 t_tput=$4 t_crr=$5 runtime=$6 mode=$7 busy=$8 busy_after=$9 t_http=${10}
load=${11:-?} load_after=${12:-?}
vm=0
[ "${SKIFF_VMTEST:-0}" = 1 ] && vm=1
first() { "$@" 2>&1 | head -1 | tr -d '\r'; }
cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | head -1)
tools="sockperf $(first sockperf --version | sed 's/.*version \([0-9.]*\).*/\1/'), \
$(first iperf3 --version | sed 's/ (.*//'), $(first iptables-nft --version)"

awk -F '\t' -v md="$out/results.md" -v js="$out/results.json" -v cpu="$cpu" \
	-v cores="$(nproc)" -v kernel="$(uname -r)" -v date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
	-v reps="$reps" -v t_http="$t_http" -v t_lat="$t_lat" -v t_tput="$t_tput" -v t_crr="$t_crr" \
	-v runtime="$runtime" -v mode="$mode" -v vm="$vm" -v tools="$tools" -v busy="$busy" -v busy_after="$busy_after" -v load="$load" -v load_after="$load_after" -v chk="$out/checks.md" '
function sort_vals(a, n,    i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
}
# Fills med/lo/hi[k, m] from the rounds of scenario key k, metric m.
function stats(k, m,    n, a, i) {
	n = split(vals[k, m], a, " ")
	if (!n)
		return
	for (i = 1; i <= n; i++)
		a[i] += 0
	sort_vals(a, n)
	med[k, m] = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	lo[k, m] = a[1]
	hi[k, m] = a[n]
	cnt[k, m] = n
}
function has(k, m) { return (k SUBSEP m) in med }
function num(x, m) { return m ~ /_per_s$/ ? sprintf("%.0f", x) : m == "tput_gbps" ? sprintf("%.2f", x) : sprintf("%.1f", x) }
# The baseline the runs of scenario k were paired with, if they were.
function paired(k, m) { return ("direct~" k SUBSEP m) in med }
# pratio(k, m): median, min and max of the per-round ratios of scenario k to its paired baseline.
function pratio(k, m,    b, n, a, i, r, rr) {
	b = "direct~" k
	n = split(rounds[k, m], rr, " ")
	i = 0
	for (r = 1; r <= n; r++)
		if ((b SUBSEP m SUBSEP rr[r]) in rv && rv[b, m, rr[r]] > 0)
			a[++i] = rv[k, m, rr[r]] / rv[b, m, rr[r]]
	if (!i)
		return
	sort_vals(a, i)
	rn[k, m] = i
	anyp = 1
	rmed[k, m] = i % 2 ? a[(i + 1) / 2] : (a[i / 2] + a[i / 2 + 1]) / 2
	rlo[k, m] = a[1]
	rhi[k, m] = a[i]
}
function ratio(k, m) {
	if (paired(k, m))
		return (k SUBSEP m) in rmed ? rmed[k, m] : ""
	return has(k, m) && med[D, m] > 0 ? med[k, m] / med[D, m] : ""
}
# A scenario that measures some metrics only says so in its note: "only crr_per_s".
function measured(k, m) { return note[k] !~ /^only / || index(note[k], m) > 0 }
function cell(k, m,    r) {
	if (!has(k, m))
		return measured(k, m) ? "failed" : "–"
	r = ratio(k, m)
	return num(med[k, m], m) " (" num(lo[k, m], m) "–" num(hi[k, m], m) ")" (r == "" ? "" : sprintf(" **%.2f×**", r)) \
		((k SUBSEP m) in rmed ? sprintf(" (%.2f–%.2f)", rlo[k, m], rhi[k, m]) : "")
}
# spread(k, m): median (min–max), no ratio; drift(k, m): the paired baseline of k against direct
function spread(k, m) { return has(k, m) ? num(med[k, m], m) " (" num(lo[k, m], m) "–" num(hi[k, m], m) ")" : "failed" }
function drift(k, m) { return has("direct~" k, m) && med[D, m] > 0 ? sprintf("%.2f×", med["direct~" k, m] / med[D, m]) : "–" }
function jstr(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
function jnum(x) { return x == "" ? "null" : sprintf("%.4g", x) }
# target(label, key, metric, op, bound): one line of the targets list, from the ratio.
function target(label, k, m, op, bound,    r, ok) {
	if (!(k in status)) {
		printf "- %s: not measured in this run\n", label > md
		return
	}
	if (status[k] != "ok") {
		printf "- %s: %s\n", label, note[k] > md
		return
	}
	r = ratio(k, m)
	if (r == "") {
		printf "- %s: no data (runs failed)\n", label > md
		return
	}
	ok = op == ">=" ? r >= bound : r <= bound
	# paired: when the rounds fall on both sides of the target, the run does not decide it
	if ((k SUBSEP m) in rmed && rlo[k, m] <= bound && bound <= rhi[k, m]) {
		printf "- %s: %.2f× (target %s %.2f×) — **undecided**: the median %s it, the rounds (%.2f–%.2f) fall on both sides\n", label, r, op == ">=" ? "≥" : "≤", bound, ok ? "meets" : "misses", rlo[k, m], rhi[k, m] > md
		return
	}
	printf "- %s: %.2f× (target %s %.2f×) — **%s**\n", label, r, op == ">=" ? "≥" : "≤", bound, ok ? "met" : "MISSED" > md
}
FILENAME ~ /scenarios.tsv$/ {
	k = $1 "|" $2
	if (k in status)
		next # a second block of the same scenario
	order[++nk] = k; sname[k] = $1; ssvc[k] = $2; status[k] = $3; note[k] = $4
	next
}
{
	vals[$1 "|" $2, $3] = vals[$1 "|" $2, $3] " " $5
	rv[$1 "|" $2, $3, $4] = $5
	rounds[$1 "|" $2, $3] = rounds[$1 "|" $2, $3] " " $4
	if ($1 == "direct") # blocks of the baseline, for the drift line
		blk[$4 > reps ? 2 : 1, $3] = blk[$4 > reps ? 2 : 1, $3] " " $5
}
END {
	D = "direct|"
	nm = split("rtt_p50_us rtt_p90_us rtt_p99_us tput_gbps crr_per_s http_close_per_s http_ka_per_s", M, " ")
	for (i = 1; i <= nk; i++)
		for (j = 1; j <= nm; j++) {
			stats(order[i], M[j])
			stats("direct~" order[i], M[j])
		}
	for (i = 1; i <= nk; i++)
		for (j = 1; j <= nm; j++)
			if (paired(order[i], M[j]))
				pratio(order[i], M[j])

	print "# skiff benchmarks" > md
	if (vm) {
		printf "\n**Measured inside a QEMU guest under TCG (software CPU emulation, no KVM) on kernel %s**\n", kernel > md
		print "(`make vmtest`). TCG timings prove function, not speed: system calls and TCP round trips run" > md
		print "~15x slower than on the host, AES ~100x, and not evenly, so even the ratios to direct below are" > md
		print "only a rough sign; this table shows that every scenario runs on this kernel. The machine’s own" > md
		print "numbers are in `build/bench/` (`make bench`)." > md
	}
	printf "\nMachine: %s, %d cores, kernel %s. Run: %s, %d s%s.\n", cpu, cores, kernel, date, runtime, mode == "full" ? "" : ", --" mode > md
	printf "Tools: %s.\nCPU busy with other work just before the run: %d%%, just after: %d%%; load average (1 min)\n", tools, busy, busy_after > md
	printf "before: %s, after: %s (more than a few %% busy means other jobs shared the cores and moved the\n", load, load_after > md
	print "numbers; the paired ratios below cancel slow drift, not a burst within one pair).\n" > md
	print "Lab: one node (network namespace), client and server pods on it (veth pairs routed by the node);" > md
	print "direct and kube-proxy run with no skiffd; kube-proxy DNAT is iptables (nf_tables backend, the" > md
	print "Debian 12 default) in the node netns, with the measured service last in KUBE-SERVICES." > md
	print "Each run of a skiff scenario is paired with a run of the baseline, right before or after it" > md
	print "(alternating by round): plain-client to plain-server’s pod IP, two pods on the same node outside" > md
	print "the mesh, whose processes run outside the pod cgroups (no skiff program sees their sockets)." > md
	printf "Each cell: median (min–max) over %d rounds, **ratio to direct** (lower is better for round\n", reps > md
	print "trips, higher for throughput and connect rate): for skiff scenarios the median of the per-round" > md
	print "ratios to the paired baseline, then (min–max) of those ratios, this run’s noise on that cell;" > md
	print "for kube-proxy the ratio of its median to the direct block’s (not paired)." > md
	printf "Round trip: sockperf ping-pong, 64 B, TCP, %d s;\n", t_lat > md
	printf "throughput: iperf3, 1 stream, %d s; connect rate: skiff-perf crr (connect, 64 B each way,\n", t_tput > md
	printf "close), %d s; HTTP: wrk -t1 -c1 against skiff-echo in the server pod, %d s, a new connection\n", t_crr, t_http > md
	print "for every request (`-H \"Connection: close\"`, short connections) and one keep-alive connection" > md
	print "(long).\n" > md
	print "| scenario | services | round trip p50 (µs) | p90 (µs) | p99 (µs) | throughput (Gbit/s) | connect rate (/s) | HTTP, new connection each (req/s) | HTTP keep-alive (req/s) |" > md
	print "| --- | --- | --- | --- | --- | --- | --- | --- | --- |" > md
	for (i = 1; i <= nk; i++) {
		k = order[i]
		printf "| %s | %s |", sname[k], ssvc[k] == "" ? "–" : ssvc[k] > md
		if (status[k] != "ok") {
			printf " %s | | | | | | |\n", note[k] > md
			continue
		}
		for (j = 1; j <= nm; j++)
			printf " %s |", cell(k, M[j]) > md
		printf "\n" > md
	}
	if ((2 SUBSEP "crr_per_s") in blk) {
		printf "\nBaseline drift: direct was measured in two blocks of %d rounds, before and after the\n", reps > md
		printf "kube-proxy scenarios (pooled above). Second block vs first, medians:" > md
		for (j = 1; j <= nm; j++) {
			vals["b1", M[j]] = blk[1, M[j]]
			vals["b2", M[j]] = blk[2, M[j]]
			stats("b1", M[j])
			stats("b2", M[j])
			if (has("b1", M[j]) && has("b2", M[j]) && med["b1", M[j]] > 0)
				printf " %s %.2f×%s", M[j], med["b2", M[j]] / med["b1", M[j]], (j < nm ? "," : ".") > md
		}
		print "\nRatios closer to 1.00 than this drift are within this machine’s noise." > md
	}
	# How noisy the run was: the relative spread of the per-round ratios of each paired cell.
	nn = 0
	for (i = 1; i <= nk; i++)
		for (j = 1; j <= nm; j++)
			if ((order[i] SUBSEP M[j]) in rmed && rmed[order[i], M[j]] > 0 && rn[order[i], M[j]] > 1) {
				sp[++nn] = (rhi[order[i], M[j]] - rlo[order[i], M[j]]) / rmed[order[i], M[j]]
				if (sp[nn] >= spmax) { spmax = sp[nn]; spk = order[i]; spm = M[j] }
			}
	if (nn) {
		sort_vals(sp, nn)
		printf "\nNoise: across the %d paired cells, the per-round ratios of a cell spread (max − min, over the\n", nn > md
		printf "median) by %.0f %% at the median cell and %.0f %% at the widest (%s, %s services, %s).\n", 100 * sp[int((nn + 1) / 2)], 100 * spmax, sname[spk], ssvc[spk], spm > md
		print "A ratio whose distance from 1.00× is inside its own (min–max) is not shown to differ." > md
	} else if (anyp)
		print "\nNoise: one paired round per cell, so this run says nothing about its own noise." > md
	for (i = 1; i <= nk; i++) {
		k = order[i]
		if (!paired(k, "crr_per_s") || !has(D, "crr_per_s") || !has(D, "http_close_per_s"))
			continue
		if (!hdr++) {
			print "\nThe paired baseline during each skiff scenario, against the direct block measured first" > md
			print "(no skiffd yet): how far the machine drifted, which the paired ratios cancel.\n" > md
			print "| during | baseline connect rate (/s) | vs direct block | baseline HTTP, new connection each (req/s) | vs direct block |" > md
			print "| --- | --- | --- | --- | --- |" > md
		}
		printf "| %s, %s services | %s | %s | %s | %s |\n", sname[k], ssvc[k], spread("direct~" k, "crr_per_s"), drift(k, "crr_per_s"), spread("direct~" k, "http_close_per_s"), drift(k, "http_close_per_s") > md
	}
	print "\n## Targets, ratios to direct" > md
	if (vm)
		print "Not judged under TCG: its timings prove function, not speed." > md
	else {
	target("skiff-lb round trip p50, 10 services", "skiff-lb|10", "rtt_p50_us", "<=", 1.03)
	target("skiff-lb throughput, 10 services", "skiff-lb|10", "tput_gbps", ">=", 0.98)
	target("skiff-lb throughput, 10,000 services", "skiff-lb|10000", "tput_gbps", ">=", 0.98)
	target("skiff-lb connect rate, 10 services", "skiff-lb|10", "crr_per_s", ">=", 0.95)
	target("skiff-lb connect rate, 10,000 services", "skiff-lb|10000", "crr_per_s", ">=", 0.95)
	target("skiff-accel round trip p50, 10 services", "skiff-accel|10", "rtt_p50_us", "<=", 0.75)
	target("skiff-accel throughput, 10 services", "skiff-accel|10", "tput_gbps", ">=", 1.0)
	target("skiff-accel connect rate, 10 services", "skiff-accel|10", "crr_per_s", ">=", 0.90)
	target("skiff-accel connect rate, 10,000 services", "skiff-accel|10000", "crr_per_s", ">=", 0.90)
	# the fast path (the default) never costs more than 3 % against the plain kernel path
	for (i = 1; i <= nk; i++) {
		k = order[i]
		if (sname[k] != "skiff-accel" || status[k] != "ok" || !(("skiff-lb|" ssvc[k]) in status))
			continue
		worst = ""
		for (j = 1; j <= nm; j++) {
			m = M[j]
			if (!has(k, m) || !has("skiff-lb|" ssvc[k], m) || med["skiff-lb|" ssvc[k], m] <= 0)
				continue
			# paired: each against its own baseline, so the drift between the two blocks cancels
			if (ratio(k, m) != "" && ratio("skiff-lb|" ssvc[k], m) > 0 && paired(k, m))
				r = ratio(k, m) / ratio("skiff-lb|" ssvc[k], m)
			else
				r = med[k, m] / med["skiff-lb|" ssvc[k], m]
			if (m ~ /^rtt_/)
				r = 1 / r # time: lower is better
			if (worst == "" || r < worst) { worst = r; wm = m }
		}
		if (worst == "")
			continue
		# paired: the widest range the per-round ratios of the two allow, in the worst workload
		lb = "skiff-lb|" ssvc[k]
		und = ""
		if ((k SUBSEP wm) in rmed && (lb SUBSEP wm) in rmed && rlo[lb, wm] > 0 && rlo[k, wm] > 0) {
			wlo = rlo[k, wm] / rhi[lb, wm]
			whi = rhi[k, wm] / rlo[lb, wm]
			if (wm ~ /^rtt_/) { t = wlo; wlo = 1 / whi; whi = 1 / t }
			if (wlo <= 0.97 && 0.97 <= whi)
				und = sprintf("**undecided**: the median %s it, the rounds allow %.2f–%.2f", worst >= 0.97 ? "meets" : "misses", wlo, whi)
		}
		printf "- skiff-accel vs skiff-lb, %s services, worst workload (%s): %.2f× of skiff-lb (target ≥ 0.97×) — %s\n", ssvc[k], wm, worst, und != "" ? und : (worst >= 0.97 ? "**met**" : "**MISSED**") > md
	}
	if (has("skiff-lb|10", "crr_per_s") && has("skiff-lb|10000", "crr_per_s"))
		printf "- skiff-lb connect rate, 10,000 vs 10 services: %.2f× (flat is 1.00×)\n", (ratio("skiff-lb|10", "crr_per_s") > 0 ? ratio("skiff-lb|10000", "crr_per_s") / ratio("skiff-lb|10", "crr_per_s") : med["skiff-lb|10000", "crr_per_s"] / med["skiff-lb|10", "crr_per_s"]) > md
	if (("skiff-authz-l4|" in status) && has("skiff-authz-l4|", "crr_per_s") && has("skiff-authz-off|", "crr_per_s")) {
		r = med["skiff-authz-l4|", "crr_per_s"] / med["skiff-authz-off|", "crr_per_s"]
		printf "- skiff-authz-l4 connect rate, same-node policy verdicts in the kernel vs none (same run, rounds interleaved; entries under Checks): %.2f× (target ≥ 0.95×) — **%s**\n", r, (r >= 0.95 ? "met" : "MISSED") > md
		stats("skiff-authz-l4|", "connect4_ns")
		stats("skiff-authz-off|", "connect4_ns")
		if (has("skiff-authz-l4|", "connect4_ns") && has("skiff-authz-off|", "connect4_ns"))
			printf "- skiff-authz-l4: the connect4 program itself (kernel.bpf_stats_enabled), median time per run: %.0f ns with the policy, %.0f ns without; one connection at the measured rate takes %.0f ns\n", med["skiff-authz-l4|", "connect4_ns"], med["skiff-authz-off|", "connect4_ns"], 1e9 / med["skiff-authz-l4|", "crr_per_s"] > md
	} else if ("skiff-authz-l4|" in status)
		print "- skiff-authz-l4 connect rate vs none: no data (runs failed)" > md
	if (has("kube-proxy|10", "crr_per_s") && has("kube-proxy|10000", "crr_per_s"))
		printf "- kube-proxy connect rate, 10,000 vs 10 services: %.2f× (%.2f× of direct at 10,000)\n", med["kube-proxy|10000", "crr_per_s"] / med["kube-proxy|10", "crr_per_s"], ratio("kube-proxy|10000", "crr_per_s") > md
	}
	print "\n## Checks: the path measured is the path named" > md
	while ((getline line < chk) > 0)
		print line > md
	if (vm)
		printf "\nReproduce: `make vmtest` (or `vmtests/run.sh build --bench %s`), as root.\n", mode > md
	else
		print "\nReproduce: `make bench` (or `tests/bench/run.sh build [--quick|--tiny]` after `make`), as root." > md

	printf "{\n  \"machine\": {\"cpu\": %s, \"cores\": %d, \"kernel\": %s, \"date\": %s, \"virtualized\": %s},\n", jstr(cpu), cores, jstr(kernel), jstr(date), vm ? "\"qemu-tcg\"" : "null" > js
	if (vm)
		printf "  \"note\": %s,\n", jstr("measured inside QEMU under TCG on kernel " kernel ": TCG timings prove function, not speed") > js
	printf "  \"run\": {\"mode\": %s, \"quick\": %s, \"rounds\": %d, \"latency_s\": %d, \"throughput_s\": %d, \"crr_s\": %d, \"http_s\": %d, \"runtime_s\": %d, \"cpu_busy_before_pct\": %d, \"cpu_busy_after_pct\": %d, \"loadavg_before\": %s, \"loadavg_after\": %s, \"tools\": %s},\n", jstr(mode), mode == "full" ? "false" : "true", reps, t_lat, t_tput, t_crr, t_http, runtime, busy, busy_after, jstr(load), jstr(load_after), jstr(tools) > js
	printf "  \"scenarios\": [" > js
	for (i = 1; i <= nk; i++) {
		k = order[i]
		printf "%s\n    {\"name\": %s, \"services\": %s, \"available\": %s", (i > 1 ? "," : ""), jstr(sname[k]), ssvc[k] == "" ? "null" : ssvc[k], status[k] == "ok" ? "true" : "false" > js
		if (status[k] != "ok") {
			printf ", \"note\": %s}", jstr(note[k]) > js
			continue
		}
		printf ", \"metrics\": {" > js
		for (j = 1; j <= nm; j++) {
			m = M[j]
			printf "%s\n      %s: ", (j > 1 ? "," : ""), jstr(m) > js
			if (!has(k, m)) {
				printf "null" > js
				continue
			}
			s = vals[k, m]
			sub(/^ /, "", s)
			gsub(/ /, ", ", s)
			printf "{\"median\": %s, \"min\": %s, \"max\": %s, \"ratio_to_direct\": %s, \"rounds\": [%s]", jnum(med[k, m]), jnum(lo[k, m]), jnum(hi[k, m]), jnum(ratio(k, m)), s > js
			if ((k SUBSEP m) in rmed)
				printf ", \"paired_ratio_min\": %s, \"paired_ratio_max\": %s, \"paired_baseline_median\": %s", jnum(rlo[k, m]), jnum(rhi[k, m]), jnum(med["direct~" k, m]) > js
			printf "}" > js
		}
		printf "}}" > js
	}
	print "\n  ]\n}" > js
}' "$out/scenarios.tsv" "$out/raw.tsv"
