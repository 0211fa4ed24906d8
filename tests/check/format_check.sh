#!/bin/bash
# Every C source and header in git against .clang-format, changing nothing: each file that differs
# with the number of its lines clang-format would rewrite, then one line "N files, N lines differ"
# (0 and 0: exit 0). `make format` rewrites them.
set -u
cd "$(dirname "$0")/../.."
if ! command -v clang-format >/dev/null; then
	echo "format-check: clang-format not found (make deps installs it)" >&2
	exit 2
fi
mapfile -t files < <(git ls-files '*.c' '*.h')
# one clang-format for the whole tree finds the files; a second pass counts lines in those only
mapfile -t bad < <(clang-format --dry-run "${files[@]}" 2>&1 |
	sed -nE 's/^(.+):[0-9]+:[0-9]+: warning: code should be clang-formatted.*/\1/p' | sort -u)
lines=0
for f in "${bad[@]}"; do
	n=$(clang-format "$f" | diff "$f" - | grep -c '^<')
	lines=$((lines + n))
	echo "  $f: $n lines"
done
echo "${#bad[@]} files, $lines lines differ from .clang-format (make format rewrites them)"
[ "${#bad[@]}" -eq 0 ]
