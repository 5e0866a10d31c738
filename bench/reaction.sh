#!/bin/bash
# Reaction-time benchmark: from an online memory step to the lowered offline memory budget.
#
# What is measured. colo-reaction-probe runs as an online workload (`colo run --class online`)
# and, every --settle seconds, allocates --step-mib MiB as fast as it can (populated 1 MiB at a
# time) and keeps it (a staircase: each step takes online memory above anything seen before).
# Another thread of the probe reads the offline parent's memory.limit_in_bytes (v1) every 100 us
# and timestamps the first value lower than before the step. Reported per step, CLOCK_MONOTONIC:
#   from_trigger  the step reaching the agent's trigger (max(64 MiB, capacity / 50) above the
#                 online peak estimate, which the staircase keeps at the current usage)
#                 -> lowered limit visible: colo's reaction, the figure held to the target
#   from_start    step start -> lowered limit visible (adds the time to allocate up to the trigger)
#   from_end      step complete -> lowered limit visible (negative: colo reacted while the step
#                 was still being allocated)
#   agent         the agent's colo_reaction_seconds: fast-reaction event received -> budget
#                 written (the agent's own clock; only when a fast event caused the tick)
#
# Setup, per batch (default 5 batches of 10 steps): a fresh `colo agent` on its defaults manages
# colo-bench-<pid>-react<N> below this shell's cgroup; the managed root gets a memory limit of
# --node-memory (default 3G), which colo takes as the node's memory capacity, so a small node is
# emulated and the agent's v1 memory threshold (one step above the online peak estimate:
# max(64 MiB, capacity / 50)) is crossed by a 96 MiB step. An offline `sleep` keeps the offline
# parent populated. A new agent per batch resets the 30 s online peak window, which would
# otherwise keep the staircase's earlier steps as the estimate.
#
# Usage: bench/reaction.sh BUILD_DIR [--batches 5] [--steps 10] [--step-mib 96] [--settle 1.5]
#                          [--node-memory 3G] [--json FILE]
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

BATCHES=5
STEPS=10
STEP_MIB=96
SETTLE=1.5
NODE_MEMORY=3G
JSON_OUT=""
bench_options "batches:BATCHES steps:STEPS step-mib:STEP_MIB settle:SETTLE node-memory:NODE_MEMORY json:JSON_OUT" "$@"

COLO="$(bench_built "$BUILD" colo)" || exit 1
PROBE="$(bench_built "$BUILD" bench/colo-reaction-probe)" || exit 1
bench_require_commands jq
bench_begin
RESULTS="$BENCH_TMP/steps.jsonl"
: >"$RESULTS"
NODE_BYTES="$(numfmt --from=iec "$NODE_MEMORY")"
SETTLE_MS="$(echo "$SETTLE * 1000 / 1" | bc)"
# The agent's v1 memory threshold step (src/agent/psi-watch.c): max(64 MiB, capacity / 50).
TRIGGER_MIB=$(( NODE_BYTES / 50 >> 20 ))
[ "$TRIGGER_MIB" -ge 64 ] || TRIGGER_MIB=64
[ "$TRIGGER_MIB" -lt "$STEP_MIB" ] || bench_die "--step-mib must exceed the agent's trigger step ($TRIGGER_MIB MiB)"

echo "== colo reaction-time benchmark: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -r), $(nproc) CPUs, $(bench_build_type "$BUILD") build"
bench_check_quiet
echo "$BATCHES batches x $STEPS steps of $STEP_MIB MiB, every $SETTLE s; node memory emulated at $NODE_MEMORY"

for batch in $(seq 1 "$BATCHES"); do
        subtree="$BENCH_PREFIX-$BENCH_RUN_ID-react$batch"
        BENCH_SUBTREE="$subtree"
        # The managed root, made before the agent starts so it adopts it with this limit.
        root_mem="$(bench_managed_dir memory)"
        mkdir -p "$root_mem"
        echo "$NODE_BYTES" >"$root_mem/memory.limit_in_bytes"
        if [ -f "$root_mem/memory.memsw.limit_in_bytes" ]; then
                echo "$NODE_BYTES" >"$root_mem/memory.memsw.limit_in_bytes" 2>/dev/null || true
        fi

        # The subtree's memory limit stands for the node, so offline stays inside it (with the
        # default agent.offline_placement top it would sit beside the subtree, outside the limit).
        bench_start_agent "$COLO" "$subtree" "$(printf 'agent:\n  offline_placement: subtree\n')"
        bench_colo_run "$COLO" --class offline --name sleeper -- sleep 600
        bench_wait_workload sleeper >/dev/null || bench_die "the offline sleeper did not start"
        limit_file="$(bench_managed_dir memory offline)/memory.limit_in_bytes"
        # Wait for the agent to have written an offline budget below the node's size.
        for _ in $(seq 1 100); do
                if [ -f "$limit_file" ] && [ "$(cat "$limit_file")" -lt "$NODE_BYTES" ]; then
                        break
                fi
                sleep 0.1
        done
        [ "$(cat "$limit_file")" -lt "$NODE_BYTES" ] || bench_die "the agent wrote no offline memory budget to '$limit_file'"

        echo "batch $batch: offline limit $(( $(cat "$limit_file") >> 20 )) MiB"
        "$COLO" run --subtree "$subtree" --state-dir "$BENCH_AGENT_STATE" --class online --name probe -- \
                "$PROBE" --limit-file "$limit_file" --step-mib "$STEP_MIB" --trigger-mib "$TRIGGER_MIB" \
                --steps "$STEPS" --settle-ms "$SETTLE_MS" \
                --timeout-ms 3000 --metrics-port "$BENCH_METRICS_PORT" --json >"$BENCH_TMP/batch$batch.jsonl" || true
        jq -c --argjson batch "$batch" '. + {batch: $batch}' "$BENCH_TMP/batch$batch.jsonl" | tee -a "$RESULTS" |
                jq -r '"  step \(.step): alloc \(.alloc_ms * 10 | round / 10) ms, "
                       + (if .lowered then "lowered after \(.from_start_ms * 10 | round / 10) ms from the start, "
                          + "\(.from_trigger_ms * 10 | round / 10) ms from the trigger, "
                          + "\(.from_end_ms * 10 | round / 10) ms from the end"
                          + (if .fast_event then " (agent: \(.agent_ms * 10 | round / 10) ms)" else " (periodic tick)" end)
                          else "NOT lowered within 3 s" end)'
        bench_stop_pids $BENCH_TRACKED_PIDS
        BENCH_TRACKED_PIDS=""
        wait 2>/dev/null || true
        bench_remove_groups "react$batch"
done

SUMMARY="$(jq -s --arg kernel "$(uname -r)" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        --argjson cpus "$(nproc)" --arg node "$NODE_MEMORY" --argjson step "$STEP_MIB" --argjson load "$BENCH_LOAD1" '
        def q(p): sort | .[((length * p) | ceil) - 1];
        def stats(f): map(f) | {n: length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: max};
        {date: $date, kernel: $kernel, cpus: $cpus, load_1min_at_start: $load, node_memory: $node, step_mib: $step,
         steps: length,
         lowered: map(select(.lowered)) | length,
         by_fast_event: map(select(.lowered and .fast_event)) | length,
         alloc_ms: stats(.alloc_ms),
         trigger_mib: (.[0].trigger_mib),
         from_trigger_ms: (map(select(.lowered and .from_trigger_ms != -1)) | stats(.from_trigger_ms)),
         from_start_ms: (map(select(.lowered)) | stats(.from_start_ms)),
         from_end_ms: (map(select(.lowered)) | stats(.from_end_ms)),
         agent_ms: (map(select(.lowered and .fast_event and .agent_ms >= 0)) | stats(.agent_ms))}' "$RESULTS")"
echo
echo "== summary over $(echo "$SUMMARY" | jq .steps) steps ($(echo "$SUMMARY" | jq .lowered) lowered, $(echo "$SUMMARY" | jq .by_fast_event) by a fast event)"
echo "$SUMMARY" | jq -r '
        def r: . * 10 | round / 10;
        ["alloc_ms", "from_trigger_ms", "from_start_ms", "from_end_ms", "agent_ms"][] as $k | .[$k] |
        "\($k + "               " | .[0:16]) p50 \(.p50 | r) ms  p90 \(.p90 | r) ms  p99 \(.p99 | r) ms  max \(.max | r) ms  (n=\(.n))"'
if [ -n "$JSON_OUT" ]; then
        echo "$SUMMARY" | jq --slurpfile raw "$RESULTS" '. + {raw: $raw}' >"$JSON_OUT"
        echo "results: $JSON_OUT"
fi
