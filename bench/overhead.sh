#!/bin/bash
# Agent overhead: CPU (as % of one core) and peak RSS of `colo agent` managing 200 workloads at
# its default 1 s period.
#
# Setup: a `colo agent` on its defaults (period 1s, fast reaction on, metrics on a free port)
# manages colo-bench-<pid>-overhead below this shell's cgroup. 200 workloads are started with
# `colo run`, each a `sleep`: 40 online (20 critical, 20 normal) and 160 offline (80 batch,
# 80 best-effort), so every class and tier parent is in play. After a 15 s settling period
# (adoption of every workload, first writes of every knob), the agent's CPU time (utime + stime
# from /proc/<pid>/stat, all threads) is sampled over --seconds (default 60), and its VmHWM (peak
# RSS since start, so it includes start-up and adoption) and VmRSS are read at the end.
# The agent should be a release build (`make` builds build/ with --buildtype=release).
#
# With --smaps FILE, the agent's /proc/<pid>/smaps is copied there at the end, to see what is resident.
#
# With --config YAML, that text is added to the agent's configuration (e.g. 'features:\n  cpu_control: false'),
# to measure what one feature costs.
#
# Usage: bench/overhead.sh BUILD_DIR [--workloads 200] [--seconds 60] [--json FILE] [--smaps FILE] [--config YAML]
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

WORKLOADS=200
SECONDS_MEASURED=60
JSON_OUT=""
SMAPS_OUT=""
AGENT_CONFIG=""
bench_options "workloads:WORKLOADS seconds:SECONDS_MEASURED json:JSON_OUT smaps:SMAPS_OUT config:AGENT_CONFIG" "$@"
AGENT_CONFIG="$(printf '%b' "$AGENT_CONFIG")"     # --config takes \n escapes

COLO="$(bench_built "$BUILD" colo)" || exit 1
bench_require_commands jq
bench_begin
HZ="$(getconf CLK_TCK)"
BUILDTYPE="$(bench_build_type "$BUILD")"

echo "== colo agent overhead: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -r), $(nproc) CPUs, $BUILDTYPE build"
bench_check_quiet

bench_start_agent "$COLO" "$BENCH_PREFIX-$BENCH_RUN_ID-overhead" "$AGENT_CONFIG"
echo "starting $WORKLOADS workloads"
for i in $(seq 1 "$WORKLOADS"); do
        case $((i % 5)) in
        0) class=online; tier=$([ $((i % 10)) = 0 ] && echo critical || echo normal) ;;
        *) class=offline; tier=$([ $((i % 2)) = 0 ] && echo batch || echo best-effort) ;;
        esac
        "$COLO" run --subtree "$BENCH_SUBTREE" --state-dir "$BENCH_AGENT_STATE" --class "$class" --tier "$tier" \
                --name "w$i" -- sleep 100000 </dev/null >/dev/null 2>>"$BENCH_TMP/run.log" &
        bench_track $!
done

# Every workload must be running, and adopted by the agent, before measuring.
for _ in $(seq 1 300); do
        n="$(jq '[.workloads[]? | select(.tasks > 0)] | length' "$BENCH_AGENT_STATE/status.json" 2>/dev/null || echo 0)"
        [ "$n" -ge "$WORKLOADS" ] && break
        sleep 0.2
done
n_status="$(jq '.workloads | length' "$BENCH_AGENT_STATE/status.json")"
[ "$n_status" -ge "$WORKLOADS" ] || bench_die "the agent reports $n_status workloads, expected $WORKLOADS (see $BENCH_TMP/run.log)"
echo "the agent reports $n_status workloads; settling for 15 s"
sleep 15

ticks0="$(bench_proc_ticks "$BENCH_AGENT_PID")"
loops0="$(bench_metric colo_ticks_total)"
t0="$(date +%s.%N)"
echo "measuring for $SECONDS_MEASURED s"
sleep "$SECONDS_MEASURED"
ticks1="$(bench_proc_ticks "$BENCH_AGENT_PID")"
loops1="$(bench_metric colo_ticks_total)"
t1="$(date +%s.%N)"
hwm_kib="$(awk '/^VmHWM:/ { print $2 }' "/proc/$BENCH_AGENT_PID/status")"
rss_kib="$(awk '/^VmRSS:/ { print $2 }' "/proc/$BENCH_AGENT_PID/status")"
# Mean tick over the agent's life, from the tick-duration histogram's sum and count.
tick_sum="$(bench_metric colo_tick_duration_seconds_sum)"
tick_count="$(bench_metric colo_tick_duration_seconds_count)"
tick_s="$(echo "${tick_sum:-0} / ${tick_count:-1}" | bc -l)"
n_status="$(jq '.workloads | length' "$BENCH_AGENT_STATE/status.json")"
if [ -n "$SMAPS_OUT" ]; then
        cp "/proc/$BENCH_AGENT_PID/smaps" "$SMAPS_OUT"
fi

SUMMARY="$(jq -n --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg kernel "$(uname -r)" --argjson cpus "$(nproc)" \
        --arg buildtype "$BUILDTYPE" --argjson workloads "$n_status" --argjson hz "$HZ" --argjson load "$BENCH_LOAD1" \
        --argjson ticks "$((ticks1 - ticks0))" --argjson wall "$(echo "$t1 - $t0" | bc -l)" \
        --argjson loops "$(( ${loops1%.*} - ${loops0%.*} ))" --argjson hwm "$hwm_kib" --argjson rss "$rss_kib" \
        --argjson tick_s "${tick_s:-0}" '
        {date: $date, kernel: $kernel, cpus: $cpus, load_1min_at_start: $load, buildtype: $buildtype, workloads: $workloads,
         seconds: $wall, cpu_seconds: ($ticks / $hz), cpu_percent_of_one_core: ($ticks / $hz / $wall * 100),
         control_periods: $loops, cpu_ms_per_period: (if $loops > 0 then $ticks / $hz / $loops * 1000 else null end),
         mean_tick_ms: ($tick_s * 1000), peak_rss_mib: ($hwm / 1024), rss_mib: ($rss / 1024)}')"
echo
echo "$SUMMARY" | jq -r '"agent CPU  \(.cpu_percent_of_one_core * 1000 | round / 1000)% of one core "
        + "(\(.cpu_seconds) s over \(.seconds * 10 | round / 10) s, \(.control_periods) control periods, "
        + "\(.cpu_ms_per_period // 0 | . * 100 | round / 100) ms CPU each; mean tick \(.mean_tick_ms * 100 | round / 100) ms)",
        "agent RSS  peak \(.peak_rss_mib * 10 | round / 10) MiB (VmHWM), now \(.rss_mib * 10 | round / 10) MiB, "
        + "with \(.workloads) workloads"'
if [ -n "$JSON_OUT" ]; then
        echo "$SUMMARY" >"$JSON_OUT"
        echo "results: $JSON_OUT"
fi
if [ -n "$SMAPS_OUT" ]; then
        echo "agent memory map: $SMAPS_OUT"
fi
