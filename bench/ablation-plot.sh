#!/bin/bash
# Draws the trade-off curve of the ablation benchmark from its JSON (bench/ablation.sh --json):
# median p99 inflation against the offline share of the idle CPU, one point per CPU controller
# target (isolation.cpu_pressure_target; "off" = features.cpu_control false), the best agent-less
# knob variant and colo-outside as separate points, and issue 12's targets (+25% inflation,
# 60% offline share) as lines. Output: SVG or PNG by the file name's extension (gnuplot-nox).
#
# Usage: bench/ablation-plot.sh ABLATION.json OUT.svg|OUT.png
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ $# -eq 2 ] || { sed -n 's/^# Usage: //p' "$0" >&2; exit 2; }
JSON="$1"
OUT="$2"
command -v gnuplot >/dev/null || { echo "gnuplot is not installed (apt-get install gnuplot-nox)" >&2; exit 1; }
case "$OUT" in
*.svg) TERMINAL="svg size 1000,520 dynamic font 'sans,12'" ;;
*.png) TERMINAL="pngcairo size 1000,520 font 'sans,11'" ;;
*) echo "$OUT: the plot must be .svg or .png" >&2; exit 2 ;;
esac
DATA="$(mktemp -d /tmp/colo-ablation-plot.XXXXXX)"
trap 'rm -rf "$DATA"' EXIT

# Columns: offline share (%), p99 inflation (%), label. The curve is sorted by target, "off" last.
jq -r '.phases | to_entries | map(select(.value.cpu_pressure_target != null))
        | sort_by(.value.cpu_pressure_target | if . == "off" then 1e9 else . end)[]
        | .value | "\(.offline_share * 100) \(.p99_inflation_median * 100) \"\(.cpu_pressure_target
        | if . == "off" then "controller off" else "\(.)%" end)\""' "$JSON" >"$DATA/curve.dat"
jq -r '.phases | to_entries | map(select(.key | startswith("knob-"))) | sort_by(.value.p99_inflation_median)
        | .[0:1][] | "\(.value.offline_share * 100) \(.value.p99_inflation_median * 100) \"best knob: \(.key)\""' \
        "$JSON" >"$DATA/knob.dat"
jq -r '.phases | to_entries | map(select(.key == "colo-outside"))[]
        | "\(.value.offline_share * 100) \(.value.p99_inflation_median * 100) \"colo-outside\""' "$JSON" >"$DATA/outside.dat"
[ -s "$DATA/curve.dat" ] || { echo "$JSON: no variant on the trade-off curve (colo, colo-target-*, colo-no-cpu-control)" >&2; exit 1; }

gnuplot -e "terminal=\"$TERMINAL\"; outfile='$OUT'; dir='$DATA'; knobs=$([ -s "$DATA/knob.dat" ] && echo 1 || echo 0); outside=$([ -s "$DATA/outside.dat" ] && echo 1 || echo 0); title='$(jq -r '"colo ablation, \(.date), \(.kernel), \(.repeats) rounds of \(.seconds) s"' "$JSON")'" \
        "$BENCH_DIR/ablation-tradeoff.gp"
echo "plot: $OUT"
