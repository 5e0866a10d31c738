#!/bin/sh
# Runs every libFuzzer target in BUILD_DIR (default build-fuzz) for SECONDS (default 15) each,
# starting from a scratch copy of its committed corpus, so CI explores beyond the replayed inputs
# without rewriting tests/fuzz/corpus. A crash fails the run; its input is left in the scratch dir.
set -eu
build=${1:-build-fuzz}
seconds=${2:-15}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/colo-fuzz-XXXXXX)
status=0
for bin in "$build"/tests/fuzz/fuzz-*; do
        [ -x "$bin" ] && [ -f "$bin" ] || continue
        name=$(basename "$bin" | sed 's/^fuzz-//')
        mkdir -p "$work/$name"
        cp "$root/tests/fuzz/corpus/$name/"* "$work/$name/" 2>/dev/null || true
        if "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -artifact_prefix="$work/$name-" \
                "$work/$name" >"$work/$name.log" 2>&1; then
                echo "fuzz-$name: ok ($(grep -o 'Done [0-9]* runs' "$work/$name.log" | tail -1))"
        else
                echo "fuzz-$name: FAILED, see $work/$name.log"
                tail -30 "$work/$name.log"
                status=1
        fi
done
[ $status = 0 ] && rm -rf "$work"
exit $status
