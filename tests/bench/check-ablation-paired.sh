#!/bin/bash
# bench/ablation-paired.sh on results files written here in the form bench/interference.sh
# records (raw[]: phase, round, p99_us, steal_cores; calibration and agent-log records have no
# p99). Checks the count, the sign-test p-value, the median ratio, --max-steal's filtering, and
# that bad arguments and files without steal_cores are refused with a message.
set -eu
paired="$1/bench/ablation-paired.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# expect_line NAME WANT CMD...: CMD succeeds and prints exactly WANT.
expect_line() {
        local name="$1" want="$2" got
        shift 2
        if ! got=$("$@" 2>"$work/err"); then
                fail "$name: exited $? ($(cat "$work/err"))"
                return
        fi
        [ "$got" = "$want" ] || fail "$name: got '$got', want '$want'"
}

# expect_refused NAME STATUS PATTERN CMD...: CMD exits STATUS and says PATTERN on stderr.
expect_refused() {
        local name="$1" status="$2" pattern="$3" rc=0
        shift 3
        "$@" >/dev/null 2>"$work/err" || rc=$?
        [ "$rc" = "$status" ] || fail "$name: exit $rc, want $status"
        grep -q -- "$pattern" "$work/err" || fail "$name: stderr '$(cat "$work/err")' lacks '$pattern'"
}

# Five rounds. a is above b in rounds 1-4 (ratios 2, 3, 1.5, 1.25) and below in round 5 (0.5);
# round 4 ran with 10% of a core stolen on a's side; round 6 has b only. The calibration and
# agent-log records carry neither p99 nor steal and must be ignored.
cat >"$work/abl.json" <<'EOF'
{"raw": [
 {"phase": "calibration", "rate": 1000},
 {"phase": "a", "round": 1, "p99_us": 200, "steal_cores": 0.01},
 {"phase": "b", "round": 1, "p99_us": 100, "steal_cores": 0.00},
 {"phase": "agent-log", "round": 1, "lines": ["warning"]},
 {"phase": "a", "round": 2, "p99_us": 300, "steal_cores": 0.00},
 {"phase": "b", "round": 2, "p99_us": 100, "steal_cores": 0.01},
 {"phase": "a", "round": 3, "p99_us": 150, "steal_cores": 0.00},
 {"phase": "b", "round": 3, "p99_us": 100, "steal_cores": 0.00},
 {"phase": "a", "round": 4, "p99_us": 125, "steal_cores": 0.10},
 {"phase": "b", "round": 4, "p99_us": 100, "steal_cores": 0.00},
 {"phase": "a", "round": 5, "p99_us": 50, "steal_cores": 0.00},
 {"phase": "b", "round": 5, "p99_us": 100, "steal_cores": 0.00},
 {"phase": "b", "round": 6, "p99_us": 100, "steal_cores": 0.00}
]}
EOF

# 4 of 5 above: P(X >= 4) = (5 + 1) / 32 = 0.1875; ratios sorted 0.5 1.25 1.5 2 3 -> median 1.5.
expect_line "all rounds" "a above b in 4 of 5 rounds (one-sided sign test p = 0.188); median p99 ratio 1.50" \
        "$paired" "$work/abl.json" a:b
# Reversed: 1 of 5, P(X >= 1) = 31/32; median of 1/ratios (2 0.8 0.67 0.5 0.33) is 0.67.
expect_line "reversed" "b above a in 1 of 5 rounds (one-sided sign test p = 0.969); median p99 ratio 0.67" \
        "$paired" "$work/abl.json" b:a
# --max-steal 5 drops round 4: 3 of 4, P(X >= 3) = 5/16; ratios 0.5 1.5 2 3 -> median 1.75.
expect_line "max-steal" "a above b in 3 of 4 rounds (one-sided sign test p = 0.312); median p99 ratio 1.75" \
        "$paired" --max-steal 5 "$work/abl.json" a:b
# Two pairs print two lines, in order.
expect_line "two pairs" "$(printf '%s\n%s' \
        "a above b in 4 of 5 rounds (one-sided sign test p = 0.188); median p99 ratio 1.50" \
        "b above a in 1 of 5 rounds (one-sided sign test p = 0.969); median p99 ratio 0.67")" \
        "$paired" "$work/abl.json" a:b b:a

expect_refused "no common round" 1 "a vs nosuch: no round has both" "$paired" "$work/abl.json" a:nosuch
expect_refused "not a pair" 2 "'ab' is not A:B" "$paired" "$work/abl.json" ab
expect_refused "empty side" 2 "'a:' is not A:B" "$paired" "$work/abl.json" a:
expect_refused "bad max-steal" 2 "takes a percentage, not 'lots'" "$paired" --max-steal lots "$work/abl.json" a:b
expect_refused "unreadable" 1 "cannot read '$work/missing.json'" "$paired" "$work/missing.json" a:b
expect_refused "usage" 2 "Usage" "$paired" "$work/abl.json"

# A file from before steal_cores was recorded: fine without --max-steal, refused with it.
jq 'del(.raw[1].steal_cores)' "$work/abl.json" >"$work/old.json"
expect_line "old file" "a above b in 4 of 5 rounds (one-sided sign test p = 0.188); median p99 ratio 1.50" \
        "$paired" "$work/old.json" a:b
expect_refused "old file, max-steal" 1 "has rounds without steal_cores" \
        "$paired" --max-steal 5 "$work/old.json" a:b

[ "$failures" = 0 ] || { echo "$failures check(s) failed" >&2; exit 1; }
echo "ablation-paired: all checks passed"
