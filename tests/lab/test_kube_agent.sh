#!/bin/bash
# skiffd with its config from the Kubernetes API (tests/kube/fake_apiserver.py on loopback):
# nothing is applied before every kind is listed, then a generation; an invalid VirtualService is
# refused naming "api: VirtualService ns/name: field" while the last good generation stays; a
# good change after it is applied; a burst of changes is a few snapshots; an endpoint change is
# rewritten in place in the kernel's maps, also while an L7 port exists (the router's table is
# rebuilt from the live tables: its log line counts the endpoints). No network namespaces, so
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

# The first event finds skiffd idle and is applied at once; what arrives during that apply (and
# 10 ms after it) is applied together. The server writes the 20 events one by one, so on a slow
# kernel (an emulated guest) they may span a few applies: a handful, never one per event.
t_begin "a burst of 20 Services becomes a few generations (at most 4), not 20"
REL=$(field reloads)
objs=""
for i in $(seq 1 20); do
	objs+="${objs:+,}{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"burst-$i\","
	objs+="\"namespace\":\"payments\"},\"spec\":{\"clusterIP\":\"10.96.2.$i\",\"ports\":[{\"port\":80}]}}"
done
control "{\"op\":\"apply\",\"objects\":[$objs]}"
for _ in $(seq 100); do dump | grep -q '10.96.2.20' && break; sleep 0.1; done
sleep 0.3 # a reload still to come would show now
if dump | grep -q '10.96.2.20' && [ $(($(field reloads) - REL)) -le 4 ]; then
	t_pass
else t_fail "reloads $REL -> $(field reloads); $(tail -5 "$TMP/skiffd.log")"; fi

t_begin "an endpoint change is rewritten in place: same generation, in the kernel's map at once"
control '{"op":"apply","objects":[{"apiVersion":"v1","kind":"Service","metadata":{"name":"echo",
 "namespace":"payments"},"spec":{"clusterIP":"10.96.0.40","ports":[{"name":"http","port":80}]}},
 {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"echo-1",
 "namespace":"payments","labels":{"kubernetes.io/service-name":"echo"}},"addressType":"IPv4",
 "ports":[{"name":"http","port":8080}],"endpoints":[{"addresses":["10.1.0.41"]}]}]}'
for _ in $(seq 100); do dump | grep -q '10.1.0.41' && break; sleep 0.1; done
GEN=$(field generation)
control '{"op":"apply","object":{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
 "metadata":{"name":"echo-1","namespace":"payments","labels":{"kubernetes.io/service-name":
 "echo"}},"addressType":"IPv4","ports":[{"name":"http","port":8080}],"endpoints":[
 {"addresses":["10.1.0.41"]},{"addresses":["10.1.0.42"]}]}}'
for _ in $(seq 100); do dump | grep -q '10.1.0.42' && break; sleep 0.1; done
# the kernel's view: a slot holding 10.1.0.42 (as bpftool prints a __be32) in the active
# generation, under the svc_id the service entry names
inmap() {
	bpftool -j map dump pinned "$BPFFS/skiff_services" >"$TMP/svc.json" &&
		bpftool -j map dump pinned "$BPFFS/skiff_backends" >"$TMP/be.json" &&
		python3 - "$TMP/svc.json" "$TMP/be.json" "$1" <<'PY'
import ipaddress, json, struct, sys
# with BTF, bpftool -j gives the raw bytes and, under "formatted", the named fields
svcs = [e.get("formatted", e) for e in json.load(open(sys.argv[1]))]
bes = [e.get("formatted", e) for e in json.load(open(sys.argv[2]))]
v4 = lambda ip: struct.unpack("<I", ipaddress.ip_address(ip).packed)[0]
gen = int(sys.argv[3])
ent = [e["value"] for e in svcs
       if e["key"]["gen"] == gen and e["key"]["addr"]["v4"] == v4("10.96.0.40")]
ids = {e["svc_id"] for e in ent}
got = sorted(b["value"]["addr"]["v4"] for b in bes if b["key"]["gen"] == gen and
             b["key"]["svc_id"] in ids and b["key"]["slot"] < ent[0]["count"])
if len(ent) == 1 and got == sorted([v4("10.1.0.41"), v4("10.1.0.42")]):
    sys.exit(0)
print("entries", ent, "slots", got)
sys.exit(1)
PY
}
MAPS=$(inmap "$GEN" 2>&1)
if dump | grep -q '10.1.0.42' && [ "$(field generation)" = "$GEN" ] && [ -z "$MAPS" ] &&
	grep -q 'EndpointSlice change(s), 1 service port(s) rewritten in place' "$TMP/skiffd.log"; then
	t_pass
else t_fail "generation $GEN -> $(field generation); $MAPS; $(tail -3 "$TMP/skiffd.log")"; fi

t_begin "with an L7 port, an endpoint change is in place too and the router's table follows"
control '{"op":"apply","object":{"apiVersion":"networking.istio.io/v1","kind":"VirtualService",
 "metadata":{"name":"echo","namespace":"payments"},"spec":{"hosts":["echo"],"http":[{"match":[
 {"headers":{"x-canary":{"exact":"1"}}}],"route":[{"destination":{"host":"echo"}}]}]}}}'
for _ in $(seq 100); do [ "$(field generation)" != "$GEN" ] && break; sleep 0.1; done
GEN=$(field generation)
control '{"op":"apply","object":{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
 "metadata":{"name":"echo-1","namespace":"payments","labels":{"kubernetes.io/service-name":
 "echo"}},"addressType":"IPv4","ports":[{"name":"http","port":8080}],"endpoints":[
 {"addresses":["10.1.0.41"]},{"addresses":["10.1.0.42"]},{"addresses":["10.1.0.43"]}]}}'
for _ in $(seq 100); do
	grep -q 'L7 router: 1 service port(s), 3 endpoint(s)' "$TMP/skiffd.log" && break
	sleep 0.1
done
if dump | grep -q '10.1.0.43' && [ "$(field generation)" = "$GEN" ] &&
	grep -q 'L7 router: 1 service port(s), 3 endpoint(s) in their routes' "$TMP/skiffd.log"; then
	t_pass
else t_fail "generation $GEN -> $(field generation); $(tail -3 "$TMP/skiffd.log")"; fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
