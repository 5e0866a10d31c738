#!/bin/bash
# Compares two variants of one bench/ablation.sh run round by round: the rounds are interleaved,
# so round k of A and round k of B ran minutes apart under the same conditions, and the
# machine's drift between rounds (the same variant's p99 moves by 3x here) cancels in the pair.
# Prints in how many rounds A's p99 was above B's and the one-sided sign-test p-value of that
# count (the chance of at least that many under "neither is worse"), for every pair given.
#
# Usage: bench/ablation-paired.sh RESULTS.json A:B [A:B ...]
#   e.g. bench/ablation-paired.sh abl.json colo:knob-idle-shares colo:colo-one-group
set -eu
[ $# -ge 2 ] || { sed -n '2,/^set/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
results="$1"
shift
[ -r "$results" ] || { echo "ablation-paired: cannot read '$results'" >&2; exit 1; }
for pair in "$@"; do
        a="${pair%%:*}" b="${pair#*:}"
        [ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$pair" ] || { echo "ablation-paired: '$pair' is not A:B" >&2; exit 2; }
        jq -r --arg a "$a" --arg b "$b" '
                [.raw[] | select(.phase == $a or .phase == $b)] | group_by(.round)[]
                | map({(.phase): .p99_us}) | add | select(has($a) and has($b)) | "\(.[$a]) \(.[$b])"' "$results" |
                awk -v a="$a" -v b="$b" '
                        { n++; if ($1 > $2) w++; r = $1 / $2; ratio[n] = r }
                        END {
                                if (n == 0) { printf "%s vs %s: no round has both\n", a, b; exit 1 }
                                # P(X >= w) for X ~ Binomial(n, 1/2)
                                p = 0; c = 1
                                for (k = 0; k <= n; k++) { if (k >= w) p += c; c = c * (n - k) / (k + 1) }
                                p /= 2 ^ n
                                for (i = 2; i <= n; i++)        # insertion sort (mawk has no asort)
                                        for (j = i; j > 1 && ratio[j - 1] > ratio[j]; j--) { t = ratio[j]; ratio[j] = ratio[j - 1]; ratio[j - 1] = t }
                                med = n % 2 ? ratio[(n + 1) / 2] : (ratio[n / 2] + ratio[n / 2 + 1]) / 2
                                printf "%s above %s in %d of %d rounds (one-sided sign test p = %.3f); median p99 ratio %.2f\n",
                                        a, b, w, n, p, med
                        }'
done
