#!/bin/bash
# make bench, the metrics part: CPU time of one :15020/metrics scrape of a node with 10,000 Istio
# series (one TCP workload pair each: 40,000 samples with Istio's full label set), in both
# exposition formats, as skiffd renders it (table built from the counters, then the page).
#   tests/bench/metrics.sh BUILD_DIR   -> BUILD_DIR/bench/metrics.md
set -u
BUILD=$(cd "${1:?usage: tests/bench/metrics.sh BUILD_DIR}" && pwd) || exit 2
mkdir -p "$BUILD/bench"
{
	echo "# metrics scrape cost ($(date -u +%Y-%m-%d), $(nproc) CPUs)"
	echo
	"$BUILD/tests/unit/test_metrics" --bench | sed 's/^/- /'
} | tee "$BUILD/bench/metrics.md"
