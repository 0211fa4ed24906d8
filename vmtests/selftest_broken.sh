#!/bin/bash
# Proves that `make vmtest` fails, visibly, when the verifier refuses a program: runs
# `vmtests/run.sh BUILD_DIR --broken` (only the BPF load test, with the deliberately broken object
# from tests/kernel/broken/ added through SKIFF_EXTRA_BPF) and passes only if that vmtest failed
# because its job failed (not a timeout, panic or setup error) AND the verifier's message is in
# the host-visible output. Run by `make vmtest` after the suites; about half a minute.
#   vmtests/selftest_broken.sh BUILD_DIR
set -u -o pipefail
BUILD=${1:?usage: vmtests/selftest_broken.sh BUILD_DIR}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# What the verifier says about a program it refuses, on the kernels we boot.
REFUSAL='infinite loop detected|back-edge from insn|BPF program is too large'
T0=$SECONDS

echo "== selftest: a program the verifier refuses must fail make vmtest, with its message"
out=$("$HERE/run.sh" "$BUILD" --broken --timeout 240 2>&1)
rc=$?
printf '%s\n' "$out" | sed 's/^/    /'
problems=()
[ "$rc" -eq 1 ] || problems+=("vmtests/run.sh --broken exited $rc, not 1 (a failed test)")
message=$(printf '%s\n' "$out" | grep -E "$REFUSAL" | head -1)
[ -n "$message" ] || problems+=("the verifier's message ($REFUSAL) is not in the output")
printf '%s\n' "$out" | grep -q '^vmtest: FAIL: job exited with 1$' ||
	problems+=("the vmtest did not fail for its job alone (want 'vmtest: FAIL: job exited with 1')")
printf '%s\n' "$out" | grep -qE '^tests: +[0-9]+ passed, [1-9][0-9]* failed' ||
	problems+=("no failed test in the vmtest summary")
if [ ${#problems[@]} -gt 0 ]; then
	printf 'selftest_broken: %s\n' "${problems[@]}"
	echo "selftest_broken: FAIL ($((SECONDS - T0)) s)"
	exit 1
fi
echo "selftest_broken: PASS ($((SECONDS - T0)) s): the vmtest failed (exit 1) and showed:" \
	"$(echo "$message" | sed 's/^[ #|]*//')"
