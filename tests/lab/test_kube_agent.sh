#!/bin/bash
# skiffd with its config from the Kubernetes API (tests/kube/fake_apiserver.py on loopback):
# nothing is applied before every kind is listed, then a generation; an invalid VirtualService is
# refused naming "api: VirtualService ns/name: field" while the last good generation stays; a
# good change after it is applied; a burst of changes is one snapshot. No network namespaces, so
# no skiff-lab and not its lock: the agent runs on a private bpffs directory and an empty cgroup
# of its own, with its admin port on loopback.
set -u
BUILD=${BUILD:-build}
BUILD=$(cd "$BUILD" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
KUBE="$HERE/../kube"
PASSED=0
FAILED=0
NAME=""

t_begin() { NAME=$1; }
t_pass() { PASSED=$((PASSED + 1)); echo "ok - $NAME"; }
t_fail() { FAILED=$((FAILED + 1)); echo "not ok - $NAME"; printf '%s\n' "$1" | sed 's/^/#   /'; }

TMP=$(mktemp -d /tmp/skiff-kube-agent.XXXXXX)
CGBASE=/sys/fs/cgroup
[ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ] && CGBASE=/sys/fs/cgroup/unified
CG="$CGBASE/skiff-kube-test-$$"
BPFFS="/sys/fs/bpf/skiff-kube-test-$$"
SRV=""
AGENT=""

cleanup() {
	[ -n "$AGENT" ] && kill "$AGENT" 2>/dev/null && wait "$AGENT" 2>/dev/null
	exec 3>&- # the fake server exits when its stdin closes
	[ -n "$SRV" ] && wait "$SRV" 2>/dev/null
	rm -rf "$BPFFS" # unpinning the links detaches the programs from $CG
	rmdir "$CG" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

mkdir -p "$CG"
mkfifo "$TMP/in"
python3 "$KUBE/fake_apiserver.py" --objects "$KUBE/objects" <"$TMP/in" >"$TMP/server.out" 2>&1 &
SRV=$!
exec 3>"$TMP/in"
for _ in $(seq 100); do grep -q '^READY' "$TMP/server.out" && break; sleep 0.1; done
read -r PORT CA < <(sed -nE 's/^READY port=([0-9]+) ca=([^ ]+) .*/\1 \2/p' "$TMP/server.out")
cat >"$TMP/kubeconfig" <<EOF2
apiVersion: v1
kind: Config
current-context: test
clusters:
- name: fake
  cluster:
    server: https://127.0.0.1:$PORT
    certificate-authority: $CA
users:
- name: skiffd
  user:
    token: test-token
contexts:
- name: test
  context: {cluster: fake, user: skiffd}
EOF2
control() { curl -s --cacert "$CA" "https://127.0.0.1:$PORT/_control" -d "$1" >/dev/null; }
ADMIN=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dump() { curl -s --max-time 2 "127.0.0.1:$ADMIN/config_dump"; }
field() { dump | sed -nE "s/.*\"$1\":([0-9a-z]+).*/\1/p"; }
# wait_for FIELD VALUE-PATTERN: up to 10 s
wait_for() {
	for _ in $(seq 100); do
		[[ $(field "$1") == $2 ]] && return 0
		sleep 0.1
	done
	return 1
}

"$BUILD/bin/skiffd" --kubeconfig "$TMP/kubeconfig" --node node-a --bpffs "$BPFFS" \
	--cgroup-root "$CG" --agent-cgroup "$CG" --admin-port "$ADMIN" --ready-port 0 \
	>"$TMP/skiffd.log" 2>&1 &
AGENT=$!

t_begin "the first generation comes from the API once every kind is listed"
if wait_for applied true && [ "$(field reloads)" = 1 ] && [ "$(field rejected)" = 0 ]; then
	t_pass
else t_fail "$(dump; tail -5 "$TMP/skiffd.log")"; fi
GEN=$(field generation)

t_begin "an invalid VirtualService is refused by name and field; the generation stays"
control '{"op":"apply","object":{"apiVersion":"networking.istio.io/v1","kind":"VirtualService",
 "metadata":{"name":"reviews","namespace":"payments"},"spec":{"hosts":["payments-api"],
 "http":[{"route":[{"destination":{"host":"payments-api"},"weight":-5}]}]}}}'
if wait_for rejected 1 && dump | grep -qF 'api: VirtualService payments/reviews: spec.http[0]' &&
	[ "$(field generation)" = "$GEN" ] &&
	grep -q 'configuration from the Kubernetes API rejected' "$TMP/skiffd.log"; then
	t_pass
else t_fail "$(dump; tail -5 "$TMP/skiffd.log")"; fi

t_begin "once it is fixed, a new Service is applied as a new generation"
control '{"op":"delete","kind":"VirtualService","namespace":"payments","name":"reviews"}'
control '{"op":"apply","object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"ledger",
 "namespace":"payments"},"spec":{"clusterIP":"10.96.0.30","selector":{"app":"ledger"},
 "ports":[{"name":"http","port":80}]}}}'
if wait_for last_error null && wait_for generation "!($GEN)" &&
	dump | grep -q '10.96.0.30'; then
	t_pass
else t_fail "$(dump; tail -5 "$TMP/skiffd.log")"; fi

t_begin "a burst of 20 Services becomes one or two generations, not 20"
REL=$(field reloads)
objs=""
for i in $(seq 1 20); do
	objs+="${objs:+,}{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"burst-$i\","
	objs+="\"namespace\":\"payments\"},\"spec\":{\"clusterIP\":\"10.96.2.$i\",\"ports\":[{\"port\":80}]}}"
done
control "{\"op\":\"apply\",\"objects\":[$objs]}"
for _ in $(seq 100); do dump | grep -q '10.96.2.20' && break; sleep 0.1; done
sleep 0.3 # a reload still to come would show now
if dump | grep -q '10.96.2.20' && [ $(($(field reloads) - REL)) -le 2 ]; then
	t_pass
else t_fail "reloads $REL -> $(field reloads); $(tail -5 "$TMP/skiffd.log")"; fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
