#!/bin/bash
# Ablation benchmark (issue 12, must-have 2): what colo's setup adds over a bare cpu.idle group,
# feature by feature, in one run of bench/interference.sh with interleaved rounds (every round runs
# every variant, in an order that rotates from round to round). memcached and colo-loadgen as in
# interference.sh, two offline CPU hogs; the variants are those of bench/ablation-variants.sh:
#   alone                   the reference
#   knob-*                  no agent: the hogs in a cpu.idle group, online placed and weighted
#                           in several ways (the best of them is the bar colo must meet)
#   colo                    colo's defaults; colo-* one feature changed per variant
#   colo-outside            memcached and the load generator outside colo's subtree, colo
#                           managing only the hogs
#   colo-target-*           the CPU controller's isolation.cpu_pressure_target (with colo at 1
#                           and colo-no-cpu-control: the trade-off curve)
# It prints per variant the median of the rounds' p99, the inflation against alone, each round's
# p99, the hogs' CPU and their share of the idle CPU, then a Markdown table for
# docs/benchmarks.md; --json writes everything, --plot draws the trade-off curve (p99 inflation
# against offline share, one point per target) with gnuplot (bench/ablation-plot.sh).
#
# Usage: bench/ablation.sh BUILD_DIR [--variants alone,knob-idle,colo,...] [--seconds 8] [--repeats 5]
#                          [--warmup 2] [--rate R] [--json FILE] [--plot FILE.svg|FILE.png]
# Root only. cgroups: colo-bench-<pid>-* below this shell's own cgroup, removed at exit.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
# shellcheck source=bench/ablation-variants.sh
source "$BENCH_DIR/ablation-variants.sh"

VARIANTS="${ABLATION_VARIANTS// /,}"
SECONDS_EACH=8
REPEATS=5
WARMUP=2
RATE=""
JSON_OUT=""
PLOT=""
bench_options "variants:VARIANTS seconds:SECONDS_EACH repeats:REPEATS warmup:WARMUP rate:RATE json:JSON_OUT plot:PLOT" "$@"
[[ ",$VARIANTS," == *,alone,* ]] || VARIANTS="alone,$VARIANTS"
if [ -n "$PLOT" ]; then
        bench_require_commands gnuplot
        [ -n "$JSON_OUT" ] || JSON_OUT="$(mktemp /tmp/colo-ablation.XXXXXX.json)"
fi

set -- --phases "$VARIANTS" --seconds "$SECONDS_EACH" --repeats "$REPEATS" --warmup "$WARMUP"
[ -z "$RATE" ] || set -- "$@" --rate "$RATE"
[ -z "$JSON_OUT" ] || set -- "$@" --json "$JSON_OUT"
# interference.sh runs as a child that the wrapper waits for: a signal to the wrapper (or Ctrl-C,
# which a background child of a script ignores) becomes a SIGTERM to it, and the wrapper waits for
# its cleanup (processes stopped, cgroups removed) before it exits.
"$BENCH_DIR/interference.sh" "$BUILD" "$@" &
CHILD=$!
SIGNALLED=""
trap 'SIGNALLED=1; kill -TERM "$CHILD" 2>/dev/null || true' INT TERM HUP
STATUS=0
wait "$CHILD" || STATUS=$?
while bench_alive "$CHILD"; do
        wait "$CHILD" || STATUS=$?
done
[ -z "$SIGNALLED" ] || exit 130
[ "$STATUS" = 0 ] || exit "$STATUS"
[ -z "$PLOT" ] || "$BENCH_DIR/ablation-plot.sh" "$JSON_OUT" "$PLOT"
