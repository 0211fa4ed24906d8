#!/bin/bash
# skiffd under exactly the capabilities deploy/30-daemonset.yaml adds after dropping ALL, as a
# container runtime sets them (setpriv bounding set; no privileged, no SYS_ADMIN): the lab comes
# up, the agent applies a generation with its pods enrolled, STRICT puts TC on the veths and XDP
# on the uplink and they work, cross-node traffic goes over HBONE (SO_MARK, listeners), and the
# DaemonSet's probe paths answer. Then each of those capabilities is taken away in turn: skiffd
# must then fail to start, so none of them is there for nothing.
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
DS=$ROOT/deploy/30-daemonset.yaml

# skiff-lab runs the skiffd beside its own binary: a copy of the build's binaries where skiffd is
# a small program that empties its inheritable set, keeps only the given capabilities in its
# bounding set (for root, the capabilities the next program gets) and execs the real skiffd with
# the same argv (skiff-lab tells its agent by argv[0], so a shell or setpriv in between would
# look like an agent that exited).
CAPBIN=$(mktemp -d /tmp/skiff-caps.XXXXXX)
T_OWN+=("$CAPBIN")
for b in "$BUILD"/bin/*; do
	[ "$(basename "$b")" = skiffd ] || cp "$b" "$CAPBIN/"
done
lab() { "$CAPBIN/skiff-lab" --state "$STATE" "$@"; }
cat >"$CAPBIN/capwrap.c" <<'C'
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	unsigned long long keep = strtoull(KEEP, NULL, 0);

	(void)argc;
	if (syscall(SYS_capget, &h, d))
		return perror("capget"), 126;
	d[0].inheritable = d[1].inheritable = 0;
	if (syscall(SYS_capset, &h, d))
		return perror("capset"), 126;
	for (int c = 0; c < 64; c++) /* past the kernel's last capability: EINVAL, ignored */
		if (!(keep >> c & 1))
			prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
	execv(REAL, argv);
	perror(REAL);
	return 127;
}
C

# with_caps CAP...: skiffd runs with exactly these (names as in the manifest: BPF, NET_ADMIN)
with_caps() {
	local keep=0 c n
	for c in "$@"; do
		n=$(sed -nE "s/^#define CAP_$c[[:space:]]+([0-9]+).*/\1/p" /usr/include/linux/capability.h)
		[ -n "$n" ] || { echo "unknown capability $c" >&2; return 1; }
		keep=$((keep | 1 << n))
	done
	gcc -O1 -DKEEP="\"$keep\"" -DREAL="\"$BUILD/bin/skiffd\"" "$CAPBIN/capwrap.c" \
		-o "$CAPBIN/skiffd"
}
# the capabilities line of the DaemonSet's securityContext: "add: [BPF, NET_ADMIN, ...]"
read -ra CAPS < <(sed -nE 's/^ *add: \[([A-Z_, ]+)\].*/\1/p' "$DS" | tr -d ,)
agent_pid() { lab status | awk '$1 == "node-1" && $3 == "skiffd" { print $5; exit }'; }
guard() { config_dump "$1" | sed -nE "s/.*\"guard\":\\{[^}]*\"$2\":([0-9]+).*/\\1/p"; }
outbound() { config_dump "$1" | sed -nE "s/.*\"outbound\":\\{[^}]*\"$2\":([0-9]+).*/\\1/p"; }
reaches() {
	local ip=$1 port=$2
	shift 2
	lab exec "$@" -- timeout 1.5 bash -c "exec 3<>/dev/tcp/$ip/$port" >/dev/null 2>&1
}
up() {
	SKIFF_LAB_AGENT_ARGS="--uplink eth0" lab up --nodes 2 "$HERE/fixtures/shop.yaml" >"$LOG" 2>&1
}

t_begin "the DaemonSet adds capabilities, drops ALL, and is not privileged"
if [ ${#CAPS[@]} -gt 0 ] && grep -qE '^ *drop: \[ALL\]' "$DS" && grep -qE '^ *privileged: false' "$DS"
then t_pass "${CAPS[*]}"; else t_fail "in $DS: add: [${CAPS[*]}], drop and privileged lines not found"; fi

t_begin "lab up with skiffd under ${CAPS[*]} only, then namespace-wide STRICT"
with_caps "${CAPS[@]}"
g1=0
if up && g1=$(generation node-1) && lab apply "$HERE/fixtures/mtls/strict.yaml" >"$LOG" 2>&1 &&
	wait_generation_change node-1 "$g1" 30; then t_pass
else t_fail "$(tail -5 "$LOG"; grep -hv '^[0-9]*: (\|^;' "$STATE"/logs/skiffd-node-1.log | tail -8)"; fi

t_begin "skiffd's effective capabilities are exactly the DaemonSet's"
pid=$(agent_pid)
eff=$(awk '/^CapEff:/ { print $2 }' "/proc/${pid:-0}/status" 2>/dev/null)
got=$(capsh --decode="${eff:-0}" 2>/dev/null | sed 's/.*=//' | tr 'a-z' 'A-Z' | tr , '\n' |
	sed 's/^CAP_//' | sort | tr '\n' ' ')
want=$(printf '%s\n' "${CAPS[@]}" | sort | tr '\n' ' ')
if [ -n "$eff" ] && [ "$got" = "$want" ]; then t_pass "CapEff $eff"
else t_fail "skiffd pid ${pid:-none}: CapEff ${eff:-unknown} = $got, want $want"; fi

t_begin "applied: pods enrolled, readiness and liveness answer on 15021"
dump=$(config_dump node-1)
ready=$(lab exec --node node-1 -- curl -s --max-time 2 127.0.0.1:15021/healthz/ready)
live=$(lab exec --node node-1 -- curl -s --max-time 2 127.0.0.1:15021/healthz/live)
if [[ $dump == *'"applied":true'* && $dump == *'"enrolled_pods":["shop/'* ]] &&
	[ "$ready" = ready ] && [ "$live" = alive ]; then t_pass
else t_fail "ready=$ready live=$live dump=${dump:0:300}"; fi

ECHO1=$(lab status | awk '$1 ~ /^shop\/echo-/ && $2 == "node-1" { print $3; exit }')
ECHO2=$(lab status | awk '$1 ~ /^shop\/echo-/ && $2 == "node-2" { print $3; exit }')

t_begin "STRICT on node-1: TC on the veth drops a stranger, lets a mesh client in"
drop=$(guard node-1 drop_tc) pass=$(guard node-1 pass_flow)
if ! reaches "$ECHO1" 8080 -n outside deploy/stranger && reaches "$ECHO1" 8080 -n shop deploy/client &&
	[ "$(guard node-1 drop_tc)" -gt "${drop:-0}" ] && [ "$(guard node-1 pass_flow)" -gt "${pass:-0}" ]
then t_pass; else t_fail "echo1=$ECHO1; guard $(config_dump node-1 | grep -o '"guard":{[^}]*}')"; fi

t_begin "XDP is on node-1's uplink, and cross-node mesh traffic goes over HBONE"
out=$(outbound node-1 hbone_out)
if lab exec --node node-1 -- ip -d link show eth0 | grep -q 'prog/xdp' &&
	reaches "$ECHO2" 8080 -n shop deploy/client && [ "$(outbound node-1 hbone_out)" -gt "${out:-0}" ]
then t_pass; else t_fail "echo2=$ECHO2 hbone_out $out -> $(outbound node-1 hbone_out)"; fi
lab down >/dev/null 2>&1

for drop_cap in "${CAPS[@]}"; do
	rest=()
	for c in "${CAPS[@]}"; do [ "$c" = "$drop_cap" ] || rest+=("$c"); done
	t_begin "without $drop_cap (only ${rest[*]:-none}) skiffd does not start"
	with_caps "${rest[@]}"
	if up; then
		t_fail "lab up succeeded: $drop_cap is not needed on $(uname -r)"
	elif grep -q 'exited before it was ready' "$LOG"; then
		t_pass "$(grep -h -m1 -E 'BPF program load failed|failed to load' "$STATE"/logs/skiffd-*.log | head -1 |
			cut -c1-90)"
	else
		t_fail "lab up failed for another reason: $(tail -3 "$LOG")"
	fi
	lab down >/dev/null 2>&1
done
t_summary
