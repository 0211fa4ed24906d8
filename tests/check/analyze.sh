#!/bin/bash
# clang's static analyzer over skiffd's, skiffctl's and skiff-lab's C (user/, with the shared
# headers of include/ they pull in), one clang --analyze per file, two at a time. Prints each
# finding with clang's path notes and ends with "N files, N findings"; any finding fails.
#   tests/check/analyze.sh [BUILD_DIR]   (the BPF skeleton headers come from BUILD_DIR/skel)
set -u
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
if [ ! -d "$BUILD/skel" ]; then
	echo "analyze: no $BUILD/skel: build first (make)" >&2
	exit 2
fi
out=$(mktemp -d /tmp/skiff-analyze.XXXXXX)
trap 'rm -rf "$out"' EXIT
mapfile -t files < <(git ls-files 'user/*.c')
# same defines and include paths as the Makefile's build; the analyzer's text output per file
printf '%s\n' "${files[@]}" | xargs -P2 -I{} sh -c \
	'clang --analyze -std=gnu11 -D_GNU_SOURCE -DSKIFF_VERSION="\"$4\"" -Iinclude -Iuser \
		-I"$1/skel" \
		-Xanalyzer -analyzer-output=text -o /dev/null "$2" > "$3/$(echo "$2" | tr / _).log" 2>&1' \
	_ "$BUILD" {} "$out" "$(cat VERSION)"
# the BPF skeletons are bpftool's code, generated into BUILD: their findings are not ours
cat "$out"/*.log | awk -v gen="$BUILD/" '
	/^[^ ].*: (warning|error): / { skip = index($0, gen) == 1 }
	!skip' > "$out/all"
cat "$out/all"
n=$(grep -cE '^[^ ].*: (warning|error): ' "$out/all")
echo "${#files[@]} files, $n findings"
[ "$n" -eq 0 ]
