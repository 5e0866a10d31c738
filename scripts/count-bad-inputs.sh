#!/bin/sh
# Prints, per fuzz target, the inputs its replay test feeds it (tests/fuzz/corpus/<target>/, of
# which "bad-*" and "crash-*" are known-bad by name), and per unit test file the lines that
# assert a refusal (an expected negative errno, or "< 0"): a lower bound of the bad inputs the
# file tries, since a table of bad inputs asserts once for all its rows. For docs/reliability.md.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
echo "corpus inputs (all, known-bad) per fuzz target:"
for d in "$root"/tests/fuzz/corpus/*/; do
        t=$(basename "$d")
        all=$(ls "$d" | wc -l)
        bad=$(ls "$d" | grep -cE '^(bad|crash)-' || true)
        printf '  %-16s %4d %4d\n' "$t" "$all" "$bad"
done
echo "refusal assertions per unit test file:"
for f in "$root"/tests/unit/test-*.c; do
        printf '  %-28s %4d\n' "$(basename "$f")" "$(grep -cE -- '-E[A-Z0-9]{2,}\b|< 0\)' "$f" || true)"
done
