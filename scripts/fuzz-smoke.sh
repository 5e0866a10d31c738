#!/bin/sh
# Runs every libFuzzer target in BUILD_DIR (default build-fuzz), each for its budget in
# tests/fuzz/budget.txt (or SECONDS each when given, for a quick local run), starting from a
# scratch copy of its committed corpus, so CI explores beyond the replayed inputs without
# rewriting tests/fuzz/corpus. A crash fails the run; its input is left in the scratch dir. A
# target without a budget fails too: every target must run long enough to matter.
set -eu
build=${1:-build-fuzz}
seconds=${2:-}
root=$(cd "$(dirname "$0")/.." && pwd)
budgets="$root/tests/fuzz/budget.txt"
work=$(mktemp -d /tmp/colo-fuzz-XXXXXX)
status=0
for bin in "$build"/tests/fuzz/fuzz-*; do
        [ -x "$bin" ] && [ -f "$bin" ] || continue
        name=$(basename "$bin" | sed 's/^fuzz-//')
        budget=${seconds:-$(awk -v n="$name" '$1 == n { print $2 }' "$budgets")}
        if [ -z "$budget" ]; then
                echo "fuzz-$name: FAILED, no budget in tests/fuzz/budget.txt"
                status=1
                continue
        fi
        mkdir -p "$work/$name"
        cp "$root/tests/fuzz/corpus/$name/"* "$work/$name/" 2>/dev/null || true
        if "$bin" -max_total_time="$budget" -rss_limit_mb=2048 -artifact_prefix="$work/$name-" \
                "$work/$name" >"$work/$name.log" 2>&1; then
                echo "fuzz-$name: ok, $budget s ($(grep -o 'Done [0-9]* runs' "$work/$name.log" | tail -1))"
        else
                echo "fuzz-$name: FAILED, see $work/$name.log"
                tail -30 "$work/$name.log"
                # The finding itself, last, so that a CI log cut to its end still shows it: the
                # harness's own check message and the input (base64; `base64 -d` gives it back).
                grep -m 3 -E 'check failed|ERROR: ' "$work/$name.log" || true
                for crash in "$work/$name"-*; do
                        [ -f "$crash" ] || continue
                        echo "input $(basename "$crash") ($(stat -c %s "$crash") bytes, base64):"
                        head -c 3072 "$crash" | base64 -w 0
                        echo
                done
                status=1
        fi
done
[ $status = 0 ] && rm -rf "$work"
exit $status
