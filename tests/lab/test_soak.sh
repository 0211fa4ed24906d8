#!/bin/bash
# Soak: skiffd under mixed traffic and churn for SOAK_MINUTES (default 2 in `make test`; `make
# soak SOAK_MINUTES=N` for long runs), sampled every SOAK_SAMPLE_SECONDS (default: every minute,
# or eight samples in a run shorter than eight minutes).
# The load is test_upgrade's (upgrade_load.py: the kernel path, punted cross-node HBONE with one
# connection held throughout, HTTP through the destination's L7 filter and through the client
# node's L7 router); the churn flips the `churn` service between two states (1 or 3 pods, another
# route, another policy) every few seconds, each flip checked through the router. Every sample
# records, per node, skiffd's RSS, open fds, threads and the entries of its hash maps; after the
# warm-up (the first minute, or third of the run if longer: skiffd's RSS grows for about 45 s
# while its flow history and allocator arenas fill) they must stay flat: RSS within max(4 MiB, 10 %) of its
# post-warm-up first sample, fds and threads within a few of theirs, map entries back where the
# same churn state had them. No request of the load may fail. The report (a table per node) goes
# to SOAK_OUT (default BUILD/soak/report.md) and to stdout.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
WORK=$(mktemp -d /tmp/skiff-soak.XXXXXX)
LOAD=""
trap '[ -n "$LOAD" ] && { touch "$WORK/load/stop"; wait "$LOAD"; }; t_cleanup; rm -rf "$WORK"' EXIT
MINUTES=${SOAK_MINUTES:-2}
# every minute, or eight samples in a short run
SAMPLE=${SOAK_SAMPLE_SECONDS:-$((MINUTES >= 8 ? 60 : MINUTES * 15 / 2))}
OUT=${SOAK_OUT:-$BUILD/soak/report.md}
FLIP=${SOAK_FLIP_SECONDS:-3}

if [ -n "${SKIFF_VMTEST:-}" ] && [ -z "${SOAK_MINUTES:-}" ]; then
	t_begin "soak"
	t_skip soak "an emulated CPU's figures say nothing about leaks the host run does not see"
	t_summary
	exit
fi

pod_ip() { lab status | awk -v d="up/$1-" -v n="$2" 'index($1, d) == 1 && $2 == n { print $3; exit }'; }
agent_pid() { lab status | awk -v n="$1" '$1 == n && $3 == "skiffd" {print $5; exit}'; }
in_client() { lab exec -n up deploy/client -- "$@"; }

# sample NODE: "rss_kib fds threads map_entries" of that node's serving skiffd
sample() {
	local pid
	pid=$(agent_pid "$1")
	python3 - "$pid" "$1" "$BUILD/bin/skiffctl" <<'EOF'
import json, os, subprocess, sys
pid, node, ctl = sys.argv[1:4]
st = dict(l.split(":", 1) for l in open("/proc/%s/status" % pid) if ":" in l)
rss = int(st["VmRSS"].split()[0])
threads = int(st["Threads"])
fds = len(os.listdir("/proc/%s/fd" % pid))
out = subprocess.run([ctl, "status", "--lab", "--json"], capture_output=True, text=True).stdout
entries = 0
def walk(o):
    global entries
    if isinstance(o, dict):
        for m in o.get("maps", []) if isinstance(o.get("maps"), list) else []:
            if "array" not in str(m.get("type", "")):
                entries += int(m.get("entries", 0))
        for v in o.values():
            walk(v)
    elif isinstance(o, list):
        for v in o:
            walk(v)
try:
    walk([n for n in json.loads(out)["nodes"] if n.get("node") == node])
except (ValueError, KeyError):
    entries = -1
print(rss, fds, threads, entries)
EOF
}

# maps NODE: "name=entries ..." of that node's hash maps (the report names the ones that moved)
maps() {
	"$BUILD/bin/skiffctl" status --lab --json | python3 -c '
import json, sys
def walk(o, out):
    if isinstance(o, dict):
        ms = o.get("maps")
        for m in ms if isinstance(ms, list) else []:
            if "array" not in str(m.get("type", "")):
                out.append("%s=%s" % (m.get("name"), m.get("entries", 0)))
        for v in o.values():
            walk(v, out)
    elif isinstance(o, list):
        for v in o:
            walk(v, out)
out = []
try:
    walk([n for n in json.load(sys.stdin)["nodes"] if n.get("node") == sys.argv[1]], out)
except (ValueError, KeyError):
    pass
print(" ".join(out))' "$1"
}

t_begin "lab up: the upgrade test's mesh and the churn service"
if lab up --nodes 2 "$HERE/fixtures/upgrade.yaml" "$HERE/fixtures/soak-churn-a.yaml" >"$LOG" 2>&1
then t_pass; else t_fail "$(tail -5 "$LOG")"; fi
ECHO1=$(pod_ip echo node-1)
ECHO2=$(pod_ip echo node-2)
WEB2=$(pod_ip web node-2)

t_begin "load running: kernel path, punted HBONE, L7 filter, L7 router"
mkdir -p "$WORK/load"
lab exec -n up deploy/client -- python3 "$HERE/upgrade_load.py" "$WORK/load" "$ECHO1" "$ECHO2" \
	"$WEB2" >"$WORK/load/out" 2>&1 &
LOAD=$!
for _ in $(seq 600); do
	[ -e "$WORK/load/started" ] && break
	sleep 0.1
done
if [ -e "$WORK/load/started" ]; then t_pass; else t_fail "$(cat "$WORK/load/out")"; fi

# the churn: flip to STATE (a or b), then wait until the router answers its own route's code
flip() {
	local code=418
	[ "$1" = b ] && code=503
	lab apply "$HERE/fixtures/soak-churn-$1.yaml" >>"$WORK/churn.log" 2>&1 || return 1
	for _ in $(seq 100); do
		[ "$(in_client curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
			-H "x-churn: $1" http://churn/)" = "$code" ] && return 0
		sleep 0.1
	done
	return 1
}

t_begin "$MINUTES min of load and churn, sampled every $SAMPLE s"
mkdir -p "$(dirname "$OUT")"
: >"$WORK/samples"
flips=0
bad_flip=""
state=a
start=$SECONDS
end=$((start + MINUTES * 60))
next=$SECONDS
while [ $SECONDS -lt $end ]; do
	if [ $SECONDS -ge $next ]; then
		t=$((SECONDS - start))
		for n in node-1 node-2; do
			echo "$((t / 60)):$(printf %02d $((t % 60))) $n $state $(sample $n)" \
				>>"$WORK/samples"
			echo "$((t / 60)):$(printf %02d $((t % 60))) $n $state $(maps $n)" \
				>>"$WORK/maps"
		done
		next=$((next + SAMPLE))
	fi
	state=$([ $state = a ] && echo b || echo a)
	if flip $state; then flips=$((flips + 1))
	else bad_flip="flip to $state: the router did not answer its route's code"; fi
	sleep "$FLIP"
done
for n in node-1 node-2; do
	echo "end $n $state $(sample $n)" >>"$WORK/samples"
	echo "end $n $state $(maps $n)" >>"$WORK/maps"
done
if [ -z "$bad_flip" ] && [ $flips -gt 0 ]; then t_pass "$flips flips"
else t_fail "${bad_flip:-no flip}; $(tail -3 "$WORK/churn.log")"; fi

t_begin "no request of the load failed"
touch "$WORK/load/stop"
wait "$LOAD"
LOAD=""
fails=$(python3 -c "import json; print(sum(v['fail'] for v in json.load(open('$WORK/load/result.json')).values()))" 2>/dev/null)
oks=$(python3 -c "import json; print(' '.join('%s %d' % (k, v['ok']) + (' (%d failed)' % v['fail'] if v['fail'] else '') for k, v in json.load(open('$WORK/load/result.json')).items()))" 2>/dev/null)
if [ "$fails" = 0 ]; then t_pass "$oks"
else t_fail "${fails:-no result} failed ($oks): $(tail -5 "$WORK/load/out")"; fi

# the report, and the verdict on flatness after the warm-up
python3 - "$WORK/samples" "$OUT" "$MINUTES" "$SAMPLE" "$WORK/maps" >"$WORK/verdict" <<'EOF'
import sys
path, out, minutes, sample, mpath = sys.argv[1:6]
rows = [l.split() for l in open(path) if l.strip()]
mrows = [l.split() for l in open(mpath) if l.strip()]
lines = ["# skiffd soak: %s min, a sample every %s s" % (minutes, sample), ""]
bad = []
for node in sorted({r[1] for r in rows}):
    rs = [r for r in rows if r[1] == node]
    lines += ["## %s" % node, "", "| time | churn state | RSS (MiB) | fds | threads | map entries |",
              "| --- | --- | --- | --- | --- | --- |"]
    for r in rs:
        lines.append("| %s | %s | %.1f | %s | %s | %s |" % (r[0], r[2], int(r[3]) / 1024, r[4], r[5], r[6]))
    lines.append("")
    # each hash map's entries at the first and the last sample of each churn state, named where
    # they differ, so that growth shows by map
    ms = [r for r in mrows if r[1] == node]
    changed = []
    for st in sorted({r[2] for r in ms}):
        r0, r1 = [r for r in ms if r[2] == st][0], [r for r in ms if r[2] == st][-1]
        a = dict(kv.split("=", 1) for kv in r0[3:])
        b = dict(kv.split("=", 1) for kv in r1[3:])
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                changed.append("%s in state %s, %s at %s -> %s at %s" % (k, st, a.get(k, "-"), r0[0], b.get(k, "-"), r1[0]))
    lines += ["Hash maps whose entries differ between the first and the last sample of one churn state: " + ("; ".join(changed) if changed else "none") + ".", ""]
    if any(r[6] == "-1" for r in rs):
        bad.append("%s: skiffctl status gave no map entries" % node)
    secs = lambda r: float("inf") if r[0] == "end" else int(r[0].split(":")[0]) * 60 + int(r[0].split(":")[1])
    warm = [r for r in rs if secs(r) >= max(60, int(minutes) * 20)]
    if len(warm) < 2:
        bad.append("%s: too few samples after the warm-up (%d)" % (node, len(warm)))
        continue
    rss0 = int(warm[0][3])
    for r in warm[1:]:
        if int(r[3]) - rss0 > max(4096, rss0 // 10):
            bad.append("%s at %s: RSS %d KiB from %d" % (node, r[0], int(r[3]), rss0))
        if int(r[4]) - int(warm[0][4]) > 16:
            bad.append("%s at %s: %s fds from %s" % (node, r[0], r[4], warm[0][4]))
        if int(r[5]) - int(warm[0][5]) > 4:
            bad.append("%s at %s: %s threads from %s" % (node, r[0], r[5], warm[0][5]))
    by_state = {}
    for r in warm:
        by_state.setdefault(r[2], []).append(int(r[6]))
    for s, es in by_state.items():
        if es[-1] - es[0] > 16:
            bad.append("%s: map entries in state %s grew %d -> %d" % (node, s, es[0], es[-1]))
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
print("VERDICT " + ("; ".join(bad) if bad else "flat"))
EOF
grep -v '^VERDICT' "$WORK/verdict"
t_begin "skiffd's RSS, fds, threads and map entries flat after the warm-up"
verdict=$(sed -n 's/^VERDICT //p' "$WORK/verdict")
if [ "$verdict" = flat ]; then t_pass "report: $OUT"; else t_fail "${verdict:-no verdict}"; fi
t_summary
