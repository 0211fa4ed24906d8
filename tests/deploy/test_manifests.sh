#!/bin/bash
# deploy/*.yaml against the Kubernetes OpenAPI schemas (validate.js, with kubernetes-models'
# validators and a check for unknown fields), and against the code they deploy (check_policy.js:
# RBAC exactly get/list/watch on the kinds in user/kube/kube_kinds.c, the DaemonSet's flags in
# skiffd --help, ...). Each checker must also refuse what is broken: the manifests in broken/
# (each names the error it must produce) and copies of deploy/ with one thing changed.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-build}
BUILD=$(cd "$ROOT" && cd "$BUILD" && pwd)
PASSED=0
FAILED=0
T_NAME=""
TMP=$(mktemp -d /tmp/skiff-manifests.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
t_begin() { T_NAME=$1; }
t_pass() { PASSED=$((PASSED + 1)); echo "ok - $T_NAME${1:+ ($1)}"; }
t_fail() { FAILED=$((FAILED + 1)); echo "not ok - $T_NAME"; printf '%s\n' "$1" | sed 's/^/#   /'; }
cd "$ROOT" || exit 1

# the validator's packages, as `make deps` installs them (a fresh clone that ran only this)
t_begin "npm packages of tests/deploy installed from package-lock.json"
if "$HERE/npm_deps.sh" >"$TMP/npm.log" 2>&1; then
	t_pass "kubernetes-models $(node -p "require('$HERE/node_modules/kubernetes-models/package.json').version")"
else
	t_fail "tests/deploy/npm_deps.sh failed: $(tail -3 "$TMP/npm.log")"
fi

t_begin "every manifest in deploy/ validates against the Kubernetes schemas"
out=$(node "$HERE/validate.js" deploy/*.yaml 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/    /'
if [ "$rc" = 0 ] && [ "$(grep -c '^ok ' <<<"$out")" -ge 6 ]; then t_pass "$(grep -c '^ok ' <<<"$out") objects"
else t_fail "validate.js exit $rc"; fi

for f in "$HERE"/broken/*.yaml; do
	want=$(sed -n 's/^# expect: //p' "$f")
	t_begin "the validator refuses broken/$(basename "$f"): $want"
	out=$(node "$HERE/validate.js" "$f" 2>&1)
	rc=$?
	if [ "$rc" = 1 ] && [ -n "$want" ] && grep -qF -- "$want" <<<"$out"; then t_pass
	else t_fail "exit $rc, want 1 and \"$want\" in: $out"; fi
done

"$BUILD/bin/skiffd" --help >"$TMP/help" 2>&1
policy() { node "$HERE/check_policy.js" "$1" user/kube/kube_kinds.c "$TMP/help" "$(cat VERSION)"; }

t_begin "deploy/ grants and passes what skiffd needs, no more (check_policy.js)"
out=$(policy deploy 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/    /'
if [ "$rc" = 0 ]; then t_pass "$(grep -c '^ok - ' <<<"$out") checks"; else t_fail "check_policy.js exit $rc"; fi

# broken_copy NAME SED-SCRIPT FILE WANT: a copy of deploy/ with FILE edited must fail with WANT
broken_copy() {
	local name=$1 script=$2 file=$3 want=$4 d=$TMP/$1
	t_begin "check_policy.js refuses deploy/ with $name"
	mkdir -p "$d" && cp deploy/*.yaml "$d/" && sed -i "$script" "$d/$file"
	if cmp -s "deploy/$file" "$d/$file"; then
		t_fail "the edit ($script) changed nothing in $file"
		return
	fi
	out=$(policy "$d" 2>&1)
	rc=$?
	if [ "$rc" = 1 ] && grep -qF -- "$want" <<<"$out"; then t_pass
	else t_fail "exit $rc, want 1 and \"$want\" in: $out"; fi
}
broken_copy "a create verb" '0,/verbs: \[get, list, watch\]/s//verbs: [get, list, watch, create]/' \
	10-rbac.yaml "verbs [get,list,watch,create]"
broken_copy "pods not granted" 's/resources: \[namespaces, pods, services\]/resources: [namespaces, services]/' \
	10-rbac.yaml "missing /pods"
broken_copy "secrets granted" 's/resources: \[namespaces, pods, services\]/resources: [namespaces, pods, services, secrets]/' \
	10-rbac.yaml "extra /secrets"
broken_copy "the mesh ConfigMap readable by any name" '/^  resourceNames: \[istio\]$/d' 10-rbac.yaml \
	"resourceNames [], want [istio]"
broken_copy "a flag skiffd lacks" 's/- --kube$/- --kube-api/' 30-daemonset.yaml "--kube-api unknown"
broken_copy "a ConfigMap key nothing reads" 's/^  trust-domain: /  trust-domian: /' 20-config.yaml \
	"key trust-domian read by nothing"
broken_copy "hostPID" 's/^      hostNetwork: true$/      hostNetwork: true\n      hostPID: true/' \
	30-daemonset.yaml "hostPID is set"

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
