#!/bin/bash
# Runs the three benchmarks of docs/benchmarks.md against a build directory (`make bench` runs
# `./bench/run-all.sh build`, a release build) and keeps every result as JSON in
# <build>/bench-results/<UTC date>/. Root only; takes about 10 minutes. The figures need a quiet
# machine: each script prints the load average first and warns when it is high.
#
# Usage: bench/run-all.sh BUILD_DIR
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD="$1"
OUT="$BUILD/bench-results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"

"$BENCH_DIR/interference.sh" "$BUILD" --json "$OUT/interference.json" | tee "$OUT/interference.txt"
echo
"$BENCH_DIR/overhead.sh" "$BUILD" --json "$OUT/overhead.json" | tee "$OUT/overhead.txt"
echo
"$BENCH_DIR/reaction.sh" "$BUILD" --json "$OUT/reaction.json" | tee "$OUT/reaction.txt"
echo
"$BENCH_DIR/cpu-reaction.sh" "$BUILD" --json "$OUT/cpu-reaction.json" | tee "$OUT/cpu-reaction.txt"
echo
echo "all results in $OUT"
