#!/bin/bash
# The npm packages of tests/deploy (the manifest validator), exactly as package-lock.json pins
# them: `npm ci` unless node_modules was installed from this very lock file (a stamp holds the
# lock's sha256). Run by `make deps` and by test_manifests.sh, so a fresh clone works either way.
set -eu
cd "$(dirname "$0")"
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.skiff-lock.sha256 2>/dev/null)" = "$want" ]; then
	echo "tests/deploy: npm packages up to date"
	exit 0
fi
npm ci --no-audit --no-fund
echo "$want" >node_modules/.skiff-lock.sha256
