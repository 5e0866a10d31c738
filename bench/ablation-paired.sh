#!/bin/bash
# Compares two variants of one bench/ablation.sh run round by round: the rounds are interleaved,
# so round k of A and round k of B ran minutes apart under the same conditions, and the
# machine's drift between rounds (the same variant's p99 moves by 3x here) cancels in the pair.
# Prints in how many rounds A's p99 was above B's and the one-sided sign-test p-value of that
# count (the chance of at least that many under "neither is worse"), for every pair given.
# --max-steal PCT leaves out the rounds in which either side's load ran while the hypervisor
# stole more than PCT% of a core (the steal_cores interference.sh records with each round).
#
# Usage: bench/ablation-paired.sh [--max-steal PCT] RESULTS.json A:B [A:B ...]
#   e.g. bench/ablation-paired.sh abl.json colo:knob-idle-shares colo:colo-one-group
set -eu
usage() { sed -n '2,/^set/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
max_steal=""
if [ "${1:-}" = --max-steal ]; then
        [[ "${2:-}" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "ablation-paired: --max-steal takes a percentage, not '${2:-}'" >&2; exit 2; }
        max_steal="$2"
        shift 2
fi
[ $# -ge 2 ] || usage
results="$1"
shift
[ -r "$results" ] || { echo "ablation-paired: cannot read '$results'" >&2; exit 1; }
# Measured rounds are the records with a p99 (the others: calibration steps, the agent's log).
if [ -n "$max_steal" ] && jq -e '[.raw[] | select(has("p99_us") and (has("steal_cores") | not))] | length > 0' \
        "$results" >/dev/null; then
        echo "ablation-paired: '$results' has rounds without steal_cores (made before interference.sh recorded it)" >&2
        exit 1
fi
for pair in "$@"; do
        a="${pair%%:*}" b="${pair#*:}"
        [ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$pair" ] || { echo "ablation-paired: '$pair' is not A:B" >&2; exit 2; }
        jq -r --arg a "$a" --arg b "$b" --arg max_steal "$max_steal" '
                [.raw[] | select(.phase == $a or .phase == $b)
                 | select($max_steal == "" or .steal_cores * 100 <= ($max_steal | tonumber))] | group_by(.round)[]
                | map({(.phase): .p99_us}) | add | select(has($a) and has($b)) | "\(.[$a]) \(.[$b])"' "$results" |
                awk -v a="$a" -v b="$b" '
                        { n++; if ($1 > $2) w++; r = $1 / $2; ratio[n] = r }
                        END {
                                if (n == 0) { printf "ablation-paired: %s vs %s: no round has both\n", a, b > "/dev/stderr"; exit 1 }
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
