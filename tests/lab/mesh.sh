# Helpers for lab tests that check the mesh (source after lib.sh).
if [ -z "${LOG:-}" ]; then
	LOG=$(mktemp /tmp/skiff-test.XXXXXX)
	T_OWN+=("$LOG")
fi

# Count of hits per version from skiff-hit output on stdin: prints "v1 v2 v3 errors total"; the
# first error, if any, goes to stderr (the test's log), so a failed count says what failed.
hits_by_version() {
	awk '$1 == "pod" && $2 ~ /-v1-/ { v1 += $3 } $1 == "pod" && $2 ~ /-v2-/ { v2 += $3 }
	     $1 == "pod" && $2 ~ /-v3-/ { v3 += $3 }
	     $1 == "errors" { e = $2 } $1 == "total" { t = $2 }
	     $1 == "error" { print "skiff-hit: first " $0 > "/dev/stderr" }
	     END { print v1 + 0, v2 + 0, v3 + 0, e + 0, t + 0 }'
}

# within_binomial K N P: true when K successes of N are within the 99.9% two-sided bound of P.
within_binomial() {
	awk -v k="$1" -v n="$2" -v p="$3" 'BEGIN {
		d = k - n * p; if (d < 0) d = -d
		exit !(d <= 3.29 * sqrt(n * p * (1 - p)) + 0.5) }'
}

# Waits stretch in an emulated guest (SKIFF_VMTEST): there one CPU, shared with another guest on
# a loaded host, runs skiffd, the lab and the test's own commands in turn.
LAB_SLOW=$([ -n "${SKIFF_VMTEST:-}" ] && echo 4 || echo 1)

# The node's skiffd's /config_dump (its admin port, inside the node netns). A read that got
# nothing (skiffd busy past curl's limit) is tried twice more: a slow answer must not pass for
# "no generation", which would end a wait early or fail a comparison.
config_dump() {
	local out _
	for _ in 1 2 3; do
		out=$(lab exec --node "${1:-node-1}" -- curl -s --max-time $((2 * LAB_SLOW)) \
			127.0.0.1:15000/config_dump) && [ -n "$out" ] && break
	done
	[ -z "$out" ] || printf '%s\n' "$out"
}

# The applied generation of a node's skiffd.
generation() {
	config_dump "${1:-node-1}" | sed -nE 's/.*"generation":([0-9]+).*/\1/p'
}

# wait_until_changed GETTER NODE OLD TIMEOUT_DS: GETTER's value for NODE is a number other than
# OLD within TIMEOUT_DS tenths of a second (times LAB_SLOW); a read that got nothing is no change.
wait_until_changed() {
	local get=$1 node=$2 old=$3 n=$(($4 * LAB_SLOW)) v
	for _ in $(seq "$n"); do
		v=$("$get" "$node")
		[ -n "$v" ] && [ "$v" != "$old" ] && return 0
		sleep 0.1
	done
	return 1
}

# wait_generation_change NODE OLD [TIMEOUT_DS]: wait until the generation differs from OLD.
wait_generation_change() { wait_until_changed generation "$1" "$2" "${3:-30}"; }

# Wait until the node's skiffd has reloaded at least once more (accepted or rejected).
reloads() {
	config_dump "${1:-node-1}" | sed -nE 's/.*"reloads":([0-9]+).*/\1/p'
}

rejected() {
	config_dump "${1:-node-1}" | sed -nE 's/.*"rejected":([0-9]+).*/\1/p'
}

wait_reload() { wait_until_changed reloads "$1" "$2" 30; }

# Write a file into skiffd's config dir the way a config-management tool would (atomically).
config_put() {
	local name=$1
	cat >"$STATE/config/.$name.tmp" && mv "$STATE/config/.$name.tmp" "$STATE/config/$name"
}
