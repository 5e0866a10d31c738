#!/bin/bash
# An online service colo does not start (a UDP echo server, standing for a daemon systemd or an
# operator started: sshd, the kubelet, a web server) next to two offline CPU hogs, cgroup v1.
# The service runs in colo-bench-<pid>-svc, a cgroup of its own below this script's cgroup (the
# top of what the benchmark may use, standing for the machine's top level); colo-udp-echo probe
# sends --rate requests/s, one at a time, and reports the round-trip tail. Variants, interleaved
# in each of --repeats rounds:
#   alone      no hogs (the reference)
#   colo       `colo agent` manages colo-bench-<pid>-colo<round> with its defaults, the hogs
#              run under `colo run --class offline`: they sit in the offline parent beside the
#              subtree, <subtree>.offline (agent.offline_placement: top), idle (cpu.idle 1)
#              relative to everything at that level, the service included
#   colo-subtree  the same with agent.offline_placement: subtree, the layout before: the hogs in
#              <subtree>/offline, idle only relative to colo's online groups, inside a subtree
#              whose own entity is an ordinary one next to the service
#   top-idle   the hogs in a bare cpu.idle group beside the service's (no agent): the kernel
#              knob alone, what colo's default should match
# It prints, per variant, the median over rounds of p50/p99/p99.9 and the p99 inflation over
# alone. See docs/benchmarks.md.
#
# Usage: bench/outside-service.sh BUILD_DIR [--rate 2000] [--seconds 8] [--repeats 5] [--json FILE]
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

RATE=2000
SECONDS_EACH=8
REPEATS=5
JSON_OUT=""
bench_options "rate:RATE seconds:SECONDS_EACH repeats:REPEATS json:JSON_OUT" "$@"
COLO="$(bench_built "$BUILD" colo)" || exit 1
ECHO="$(bench_built "$BUILD" bench/colo-udp-echo)" || exit 1
bench_require_commands jq
bench_begin
RESULTS="$BENCH_TMP/results.jsonl"
: >"$RESULTS"

SVC="$(bench_make_group cpu svc)"
IDLE="$(bench_make_group cpu idle)"
[ -f "$IDLE/cpu.idle" ] || bench_die "this kernel has no cpu.idle in the cgroup v1 cpu controller"
echo 1 >"$IDLE/cpu.idle"

echo "== online service outside colo: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -r), $(nproc) CPUs, $(bench_build_type "$BUILD") build"
bench_check_quiet
echo "rate $RATE req/s, ${SECONDS_EACH} s per variant, $REPEATS rounds"

PORT="$(bench_free_port)"
bench_spawn_in "$SVC" "$ECHO" serve "$PORT"
bench_track "$BENCH_SPAWNED_PID"
sleep 0.2

HOGS=""
start_hogs_in() {       # $1 group
        local i
        HOGS=""
        for i in 1 2; do
                bench_spawn_in "$1" sh -c 'while :; do :; done'
                HOGS="$HOGS $BENCH_SPAWNED_PID"
        done
}

measure() {             # $1 variant, $2 round
        local out
        out="$("$ECHO" probe "$PORT" "$RATE" "$SECONDS_EACH")" || bench_die "probe failed"
        echo "$out" | jq -c --arg v "$1" --argjson r "$2" '{variant: $v, round: $r} + .' >>"$RESULTS"
        printf '  %-9s p50 %6s us  p99 %6s us  p99.9 %6s us  lost %s\n' "$1" \
                "$(echo "$out" | jq .latency_us.p50)" "$(echo "$out" | jq .latency_us.p99)" \
                "$(echo "$out" | jq .latency_us.p999)" "$(echo "$out" | jq .lost)"
}

# $1 variant, $2 round, $3 agent.offline_placement
measure_colo() {
        local subtree="$BENCH_PREFIX-$BENCH_RUN_ID-$1$2" i
        bench_start_agent "$COLO" "$subtree" "$(printf 'agent:\n  offline_placement: %s\n' "$3")"
        RUN_PIDS=""
        for i in 1 2; do
                bench_colo_run "$COLO" --class offline --name "hog$i" -- sh -c 'while :; do :; done'
                RUN_PIDS="$RUN_PIDS $BENCH_SPAWNED_PID"
        done
        for i in 1 2; do
                bench_wait_workload "hog$i" >/dev/null || bench_die "hog$i's cgroup not found for $BENCH_SUBTREE"
        done
        measure "$1" "$2"
        # shellcheck disable=SC2086
        bench_stop_pids $RUN_PIDS "$BENCH_AGENT_PID"
        wait "$BENCH_AGENT_PID" 2>/dev/null || true
        bench_remove_groups "$1$2"
        bench_remove_groups "$1$2.offline"
}

for round in $(seq 1 "$REPEATS"); do
        echo "round $round"
        measure alone "$round"

        measure_colo colo "$round" top
        measure_colo colo-subtree "$round" subtree

        start_hogs_in "$IDLE"
        measure top-idle "$round"
        # shellcheck disable=SC2086
        bench_stop_pids $HOGS
done

SUMMARY="$(jq -s '
        def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
        group_by(.variant) | map({variant: .[0].variant, rounds: length,
                p50: (map(.latency_us.p50) | median), p99: (map(.latency_us.p99) | median),
                p999: (map(.latency_us.p999) | median), lost: (map(.lost) | add)})
        | (map(select(.variant == "alone"))[0].p99) as $ref
        | map(. + {p99_inflation_pct: (if $ref > 0 then ((.p99 - $ref) * 100 / $ref | round) else null end)})' "$RESULTS")"
echo
echo "== summary ($REPEATS rounds; median of the rounds)"
echo "$SUMMARY" | jq -r '["variant", "p50_us", "p99_us", "p999_us", "p99_inflation_%", "lost"],
        (sort_by(.variant == "alone" | not) | .[] | [.variant, .p50, .p99, .p999, .p99_inflation_pct, .lost]) | @tsv' |
        column -t
if [ -n "$JSON_OUT" ]; then
        echo "$SUMMARY" | jq --slurpfile raw "$RESULTS" '{summary: ., raw: $raw}' >"$JSON_OUT"
fi
