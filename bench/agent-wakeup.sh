#!/bin/bash
# Why the agent keeps itself in a cpu group of its own beside the managed root (cgroup v1): how
# long a task that wakes every 25 ms, as the agent's CPU-pressure poll does, waits on the run
# queue next to a busy group (2 spinners per CPU, as online work that keeps every CPU busy):
#   parent-default        the waker a task in the busy group's parent, the group at cpu.shares 1024
#   parent-weighted       the same with the group at 102400 (colo's managed root, root_cpu_weight)
#   parent-weighted-nice  the same with the waker at nice -20
#   sibling-group         the waker in a sibling group at 102400 beside the group at 102400 (what
#                         the agent does: "<subtree>.agent")
# Phases interleaved, --repeats rounds. Per phase: the waker's run-queue wait (schedstat
# run_delay) per second and its worst round. The waker is `sh -c 'while sleep 0.025 ...'`, its
# wait read from /proc/<pid>/schedstat. Groups colo-bench-<pid>-* below this shell's cpu cgroup,
# removed at exit; the script's own cgroup is the parent, so it must be a v1 cpu hierarchy (v2
# allows no process beside child groups with controllers).
# Usage: bench/agent-wakeup.sh BUILD_DIR [--seconds 8] [--repeats 3] [--json FILE]
# Root only. BUILD_DIR is unused (the benchmarks' common first argument).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

SECONDS_EACH=8
REPEATS=3
JSON_OUT=""
bench_options "seconds:SECONDS_EACH repeats:REPEATS json:JSON_OUT" "$@"
bench_require_commands jq nproc
bench_begin
OWN="$(bench_own_dir cpu)"
[ -n "$OWN" ] && [ -f "$OWN/cpu.shares" ] || bench_die "needs a cgroup v1 cpu hierarchy (cpu.shares)"
RESULTS="$BENCH_TMP/results.jsonl"
: >"$RESULTS"
SPINNERS=$(($(nproc) * 2))

# One phase: $1 name, $2 the busy group's shares, $3 the waker's nice, $4 the waker's own group's
# shares (empty: the waker stays a task in this script's cgroup, the busy group's parent).
run_phase() {
        local name="$1" shares="$2" nice="$3" own_shares="$4" round="$5" busy waker_group pids="" i
        busy="$(bench_make_group cpu "busy-$round-$name")"
        echo "$shares" >"$busy/cpu.shares"
        for i in $(seq 1 "$SPINNERS"); do
                bench_spawn_in "$busy" sh -c 'while :; do :; done'
                pids="$pids $BENCH_SPAWNED_PID"
        done
        bench_track $pids
        if [ -n "$own_shares" ]; then
                waker_group="$(bench_make_group cpu "waker-$round-$name")"
                echo "$own_shares" >"$waker_group/cpu.shares"
                bench_spawn_in "$waker_group" nice -n "$nice" sh -c 'while sleep 0.025; do :; done'
        else
                nice -n "$nice" sh -c 'while sleep 0.025; do :; done' &
                BENCH_SPAWNED_PID=$!
        fi
        local waker=$BENCH_SPAWNED_PID d0 d1
        bench_track "$waker"
        sleep 0.5
        d0="$(awk '{ print $2 }' "/proc/$waker/schedstat")"
        sleep "$SECONDS_EACH"
        d1="$(awk '{ print $2 }' "/proc/$waker/schedstat")"
        bench_stop_pids $pids "$waker"
        wait 2>/dev/null || true
        bench_remove_groups "busy-$round-$name"
        bench_remove_groups "waker-$round-$name"
        local ms_per_s
        ms_per_s="$(awk -v a="$d0" -v b="$d1" -v s="$SECONDS_EACH" 'BEGIN { printf "%.2f", (b - a) / 1e6 / s }')"
        printf '  round %d %-22s run-queue wait %6s ms per second\n' "$round" "$name" "$ms_per_s"
        jq -nc --arg phase "$name" --argjson round "$round" --argjson wait "$ms_per_s" \
                '{phase: $phase, round: $round, wait_ms_per_s: $wait}' >>"$RESULTS"
}

echo "== agent wake-up benchmark: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -r), $(nproc) CPUs"
bench_check_quiet
echo "$REPEATS rounds x 4 phases x $SECONDS_EACH s; $SPINNERS spinners in the busy group"
for round in $(seq 1 "$REPEATS"); do
        run_phase parent-default 1024 0 "" "$round"
        run_phase parent-weighted 102400 0 "" "$round"
        run_phase parent-weighted-nice 102400 -20 "" "$round"
        run_phase sibling-group 102400 0 102400 "$round"
done
SUMMARY="$(jq -s 'group_by(.phase) | map({(.[0].phase): {median_wait_ms_per_s: (map(.wait_ms_per_s) | sort | .[(length - 1) / 2 | floor]),
        max_wait_ms_per_s: (map(.wait_ms_per_s) | max)}}) | add' "$RESULTS")"
echo "== summary (median over rounds, worst round)"
echo "$SUMMARY" | jq -r 'to_entries[] | "  \(.key + "                      " | .[0:22]) \(.value.median_wait_ms_per_s) ms/s (worst \(.value.max_wait_ms_per_s))"'
if [ -n "$JSON_OUT" ]; then
        echo "$SUMMARY" | jq --slurpfile raw "$RESULTS" '{phases: ., raw: $raw}' >"$JSON_OUT"
        echo "results: $JSON_OUT"
fi
