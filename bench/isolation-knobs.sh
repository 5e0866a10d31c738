#!/bin/bash
# Isolation-knob ablation: which upstream cgroup v1 CPU knob buys how much of the online tail,
# without the agent. memcached and colo-loadgen run in colo-bench-<pid>-knobs/online (cpu.shares
# 102400, as colo sets it), two CPU hogs in colo-bench-<pid>-knobs/offline, and the offline
# group's knobs change between variants:
#   alone          no hogs (the reference)
#   shares-1024    hogs at the default weight: no isolation beyond the two groups' split
#   shares-3       minimal cpu.shares (colo's offline weight)
#   idle           cpu.idle=1 (a SCHED_IDLE group) with cpu.shares 3
#   idle+quota     cpu.idle=1, cpu.shares 3 and a CFS quota of 1.5 cores per 100 ms
#   idle+quota10ms cpu.idle=1, cpu.shares 3 and a CFS quota of 0.75 cores per 10 ms: a binding
#                  quota (below the CPU online work leaves idle) with frequent throttling
#   task-idle      the hogs themselves SCHED_IDLE (chrt -i), group at the default weight
# Variants run in turn, the whole list --repeats times; the script prints p50/p99/p99.9 per
# variant (mean over repeats) and the hogs' CPU. It explains the residual inflation of the
# interference benchmark: what remains with the best knobs is the kernel's and the platform's.
#
# Usage: bench/isolation-knobs.sh BUILD_DIR [--rate 40000] [--seconds 8] [--repeats 6] [--json FILE]
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

RATE=40000
SECONDS_EACH=8
REPEATS=6
JSON_OUT=""
bench_options "rate:RATE seconds:SECONDS_EACH repeats:REPEATS json:JSON_OUT" "$@"
LOADGEN="$(bench_built "$BUILD" bench/colo-loadgen)" || exit 1
bench_require_commands memcached jq
bench_begin
HZ="$(getconf CLK_TCK)"
RESULTS="$BENCH_TMP/results.jsonl"
: >"$RESULTS"

BASE="$(bench_make_group cpu knobs)"
ONLINE="$BASE/online"
OFFLINE="$BASE/offline"
mkdir "$ONLINE" "$OFFLINE"
echo 102400 >"$ONLINE/cpu.shares"
[ -f "$OFFLINE/cpu.idle" ] || bench_die "this kernel has no cpu.idle in the cgroup v1 cpu controller"

echo "== isolation-knob ablation: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -r), $(nproc) CPUs, $(bench_build_type "$BUILD") build"
bench_check_quiet
echo "rate $RATE req/s, ${SECONDS_EACH} s per variant, $REPEATS rounds"

PORT="$(bench_free_port)"
bench_spawn_in "$ONLINE" memcached -l 127.0.0.1 -p "$PORT" -t 1 -U 0 -u nobody -m 64
bench_track "$BENCH_SPAWNED_PID"
bench_wait_port "$PORT" || bench_die "memcached did not start"
bench_spawn_in "$ONLINE" "$LOADGEN" --port "$PORT" --rate 1000 --duration 1 >/dev/null
wait "$BENCH_SPAWNED_PID" || bench_die "warm-up failed"

HOG_PIDS=""
start_hogs() {
        for _ in 1 2; do
                bench_spawn_in "$OFFLINE" sh -c 'while :; do :; done'
                HOG_PIDS="$HOG_PIDS $BENCH_SPAWNED_PID"
        done
}
stop_hogs() {
        if [ -n "$HOG_PIDS" ]; then
                bench_stop_pids $HOG_PIDS
                wait $HOG_PIDS 2>/dev/null || true
        fi
        HOG_PIDS=""
}
set_offline() {         # shares idle quota_us [period_us]
        echo 0 >"$OFFLINE/cpu.idle"
        echo "$1" >"$OFFLINE/cpu.shares"
        echo "$2" >"$OFFLINE/cpu.idle"
        echo -1 >"$OFFLINE/cpu.cfs_quota_us"
        echo "${4:-100000}" >"$OFFLINE/cpu.cfs_period_us"
        echo "$3" >"$OFFLINE/cpu.cfs_quota_us"
}

measure() {             # variant round
        local out="$BENCH_TMP/$1-$2.json" h0 h1 t0 t1 pid
        bench_spawn_in "$ONLINE" "$LOADGEN" --port "$PORT" --rate "$RATE" --duration "$SECONDS_EACH" --no-warmup \
                --json --seed "$2" >"$out"
        local lg=$BENCH_SPAWNED_PID
        sleep 1
        t0=$(date +%s.%N); h0=0
        for pid in $HOG_PIDS; do h0=$((h0 + $(bench_proc_ticks "$pid"))); done
        sleep $((SECONDS_EACH - 2))
        t1=$(date +%s.%N); h1=0
        for pid in $HOG_PIDS; do h1=$((h1 + $(bench_proc_ticks "$pid"))); done
        wait "$lg" || bench_die "the load generator failed: $(cat "$out")"
        jq -c --arg v "$1" --argjson round "$2" --argjson hogs "$(echo "($h1 - $h0) / $HZ / ($t1 - $t0)" | bc -l)" \
                '{variant: $v, round: $round, p50_us: .latency_us.p50, p99_us: .latency_us.p99,
                  p999_us: .latency_us.p999, send_lag_p99_us: .send_lag_us.p99, errors, hog_cores: $hogs}' \
                "$out" | tee -a "$RESULTS" | jq -r '"  \(.variant): p99 \(.p99_us) us, p99.9 \(.p999_us) us, hogs \(.hog_cores * 100 | round)% of a core"'
}

VARIANTS="alone shares-1024 shares-3 idle idle+quota idle+quota10ms task-idle"
for round in $(seq 1 "$REPEATS"); do
        echo "round $round"
        for v in $VARIANTS; do
                case "$v" in
                alone) set_offline 1024 0 -1 ;;
                shares-1024) set_offline 1024 0 -1; start_hogs ;;
                shares-3) set_offline 3 0 -1; start_hogs ;;
                idle) set_offline 3 1 -1; start_hogs ;;
                idle+quota) set_offline 3 1 150000; start_hogs ;;
                idle+quota10ms) set_offline 3 1 7500 10000; start_hogs ;;
                task-idle)
                        set_offline 1024 0 -1
                        start_hogs
                        for pid in $HOG_PIDS; do chrt -i -p 0 "$pid"; done
                        ;;
                esac
                sleep 0.5
                measure "$v" "$round"
                stop_hogs
        done
done

SUMMARY="$(jq -s --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg kernel "$(uname -r)" --argjson rate "$RATE" \
        --argjson load "$BENCH_LOAD1" --arg order "$VARIANTS" '
        def mean(f): map(f) | add / length;
        def median(f): (map(f) | sort) as $s | ($s | length) as $n
                | if $n % 2 == 1 then $s[($n - 1) / 2] else ($s[$n / 2 - 1] + $s[$n / 2]) / 2 end;
        . as $all | (map(select(.variant == "alone")) | mean(.p99_us)) as $alone
        | (map(select(.variant == "alone")) | median(.p99_us)) as $alone_median
        | {date: $date, kernel: $kernel, rate: $rate, load_1min_at_start: $load,
           variants: ($order | split(" ") | map(. as $v | $all | map(select(.variant == $v))
                | {variant: $v, p50_us: mean(.p50_us), p99_us: mean(.p99_us), p999_us: mean(.p999_us),
                   p99_us_each: map(.p99_us), p99_us_median: median(.p99_us),
                   p99_inflation_median: (median(.p99_us) / $alone_median - 1),
                   send_lag_p99_us: mean(.send_lag_p99_us), send_lag_p99_us_median: median(.send_lag_p99_us),
                   hog_cores: mean(.hog_cores),
                   p99_inflation: (mean(.p99_us) / $alone - 1)}))}' "$RESULTS")"
echo
echo "== summary ($REPEATS rounds: median of the rounds' p99, and the mean)"
echo "$SUMMARY" | jq -r '.variants[] | "\(.variant + "              " | .[0:14]) p99 median \(.p99_us_median | round) us "
        + "(\(.p99_inflation_median * 100 | round)%), mean \(.p99_us | round) us (\(.p99_inflation * 100 | round)%)  "
        + "p50 \(.p50_us | round) us  client lag p99 \(.send_lag_p99_us_median | round) us  hogs \(.hog_cores * 100 | round)% of a core"'
if [ -n "$JSON_OUT" ]; then
        echo "$SUMMARY" | jq --slurpfile raw "$RESULTS" '. + {raw: $raw}' >"$JSON_OUT"
        echo "results: $JSON_OUT"
fi
