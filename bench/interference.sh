#!/bin/bash
# Interference benchmark: memcached (the online service, at about half of one core) driven by
# colo-loadgen at a fixed Poisson rate, next to two offline CPU hogs, in three phases:
#   alone  memcached alone
#   plain  + two hogs, no colo: memcached and the hogs share one plain scratch cgroup, nice 0
#   colo   + two hogs under colo: `colo agent` manages a subtree below this script's cgroup,
#          memcached runs with `colo run --class online`, the hogs with `colo run --class offline`
# Each round runs the three phases in an order that rotates from round to round; rounds repeat
# (default 10) so drift hits all phases. The headline p99 is the median of the rounds' p99.
#
# Where the load generator runs (--loadgen). It stands in for remote clients but has to share the
# same two cores, and any delay it suffers counts as latency, so it is placed like the online
# service it drives (default "online"): in the plain group next to memcached in phases alone and
# plain, under `colo run --class online` in phase colo. colo thus has to protect the client as
# well, and it sees (and budgets for) all the online CPU. "weight" instead keeps it in its own
# cgroup with cpu.shares 10240 in every phase, outside colo's tree: a weaker shield (the hogs'
# top-level group still competes with it) and colo does not count its CPU as online usage.
# (SCHED_FIFO was tried and dropped: an RT generator using ~0.7 of a core delays memcached by
# milliseconds whenever they share a CPU, which raised the p99 of memcached alone 50-fold.)
#
# CPU accounting, sampled from /proc/<pid>/stat (all threads) over the middle of each measured
# run (from 1 s after the start to 1 s before the end); the load generator reports its own
# (getrusage over its measured run):
#   idle_for_offline = capacity (nproc) - memcached - load generator - colo agent
#   offline_share    = CPU the hogs got / idle_for_offline
# Other processes on the machine are not subtracted there. A second figure counts them too:
#   offline_share_of_machine_idle = hogs / (hogs + machine-wide idle time from /proc/stat)
# i.e. the hogs' share of all the CPU nothing else used. On a quiet machine the two agree; when
# they differ, something else was running (SCHED_IDLE hogs yield to any other process).
#
# Usage: bench/interference.sh BUILD_DIR [--seconds 10] [--repeats 10] [--warmup 3] [--rate R]
#                              [--json FILE] [--phases alone,plain,colo] [--loadgen online|weight]
#                              [--agent-yaml 'YAML added to the agent configuration'] [--keys-per-get N]
# Root only. cgroups: colo-bench-<pid>-* below this shell's own cgroup, removed at exit.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

usage() {
        sed -n 's/^# Usage: //p; s/^#  *\(\[--\)/    \1/p' "$0" >&2
        exit 2
}

[ $# -ge 1 ] || usage
BUILD="$1"
shift
SECONDS_PER_PHASE=10
REPEATS=10
WARMUP=3
RATE=""
JSON_OUT=""
PHASES="alone,plain,colo"
LOADGEN_MODE=online
AGENT_YAML=""
KEYS_PER_GET=1
while [ $# -gt 0 ]; do
        case "$1" in
        --seconds) SECONDS_PER_PHASE="$2"; shift 2 ;;
        --repeats) REPEATS="$2"; shift 2 ;;
        --warmup) WARMUP="$2"; shift 2 ;;
        --rate) RATE="$2"; shift 2 ;;
        --json) JSON_OUT="$2"; shift 2 ;;
        --phases) PHASES="$2"; shift 2 ;;
        --loadgen) LOADGEN_MODE="$2"; shift 2 ;;
        --agent-yaml) AGENT_YAML="$2"; shift 2 ;;
        --keys-per-get) KEYS_PER_GET="$2"; shift 2 ;;
        *) usage ;;
        esac
done
[ "$SECONDS_PER_PHASE" -ge 5 ] || bench_die "--seconds must be at least 5"
[[ ",$PHASES," == *,alone,* ]] || bench_die "--phases must include alone (the reference)"
case "$LOADGEN_MODE" in online | weight) ;; *) bench_die "--loadgen must be online or weight" ;; esac

COLO="$(realpath -m "$BUILD/colo")"
[[ ",$PHASES," != *,colo,* ]] || COLO="$(bench_built "$BUILD" colo)" || exit 1
LOADGEN="$(bench_built "$BUILD" bench/colo-loadgen)" || exit 1
bench_require_commands memcached jq
bench_begin

CPUS="$(nproc)"
HZ="$(getconf CLK_TCK)"
RESULTS="$BENCH_TMP/results.jsonl"
: >"$RESULTS"

if [ "$LOADGEN_MODE" = weight ]; then
        LOADGEN_GROUP="$(bench_make_group cpu loadgen)"
        echo 10240 >"$LOADGEN_GROUP/cpu.shares"
fi
PLAIN_GROUP="$(bench_make_group cpu plain)"

MC_PID=""
HOG_PIDS=""
AGENT_PID=""
RUN_PIDS=""     # colo run supervisors
PORT=""

memcached_cmd() {
        echo memcached -l 127.0.0.1 -p "$PORT" -t 1 -U 0 -u nobody -m 64
}

start_plain() {         # $1: number of hogs
        PORT="$(bench_free_port)"
        # shellcheck disable=SC2046
        bench_spawn_in "$PLAIN_GROUP" $(memcached_cmd)
        MC_PID="$BENCH_SPAWNED_PID"
        echo "$MC_PID" >"$BENCH_TMP/memcached.pid"
        bench_wait_port "$PORT" || bench_die "memcached did not start on port $PORT"
        HOG_PIDS=""
        for _ in $(seq 1 "$1"); do
                bench_spawn_in "$PLAIN_GROUP" sh -c 'while :; do :; done'
                HOG_PIDS="$HOG_PIDS $BENCH_SPAWNED_PID"
        done
}

stop_plain() {
        bench_stop_pids "$MC_PID" $HOG_PIDS
        wait 2>/dev/null || true
        MC_PID=""
        HOG_PIDS=""
}

# Phase 3: the agent on its defaults (1 s period) plus --agent-yaml, memcached online, the hogs
# offline.
start_colo() {          # $1: round
        local leaf pid i
        bench_start_agent "$COLO" "$BENCH_PREFIX-$BENCH_RUN_ID-colo$1" "$(printf '%b' "$AGENT_YAML")"
        AGENT_PID="$BENCH_AGENT_PID"
        PORT="$(bench_free_port)"
        # shellcheck disable=SC2046
        bench_colo_run "$COLO" --class online --name memcached -- $(memcached_cmd)
        RUN_PIDS="$BENCH_SPAWNED_PID"
        bench_wait_port "$PORT" || bench_die "memcached did not start under colo run"
        for i in 1 2; do
                bench_colo_run "$COLO" --class offline --name "hog$i" -- sh -c 'while :; do :; done'
                RUN_PIDS="$RUN_PIDS $BENCH_SPAWNED_PID"
        done
        leaf="$(bench_wait_workload memcached)" || bench_die "memcached's cgroup not found under $BENCH_SUBTREE"
        MC_PID="$(head -1 "$leaf/cgroup.procs")"
        echo "$MC_PID" >"$BENCH_TMP/memcached.pid"
        HOG_PIDS=""
        for i in 1 2; do
                leaf="$(bench_wait_workload "hog$i")" || bench_die "hog$i's cgroup not found under $BENCH_SUBTREE"
                for pid in $(cat "$leaf/cgroup.procs"); do
                        HOG_PIDS="$HOG_PIDS $pid"
                done
        done
}

stop_colo() {           # $1: round
        bench_stop_pids $RUN_PIDS
        bench_stop_pids "$AGENT_PID"
        wait 2>/dev/null || true
        bench_remove_groups "colo$1"
        MC_PID=""
        HOG_PIDS=""
        AGENT_PID=""
        RUN_PIDS=""
}

# Sum of CPU ticks of a list of pids.
ticks_of() {
        local sum=0 pid
        for pid in "$@"; do
                sum=$((sum + $(bench_proc_ticks "$pid")))
        done
        echo "$sum"
}

# Idle + iowait jiffies of the whole machine, from /proc/stat.
machine_idle_ticks() {
        awk '/^cpu / { print $5 + $6; exit }' /proc/stat
}

now_sec() {
        date +%s.%N
}

# Starts colo-loadgen ARGS... for phase $1 in the background; sets BENCH_SPAWNED_PID (in the colo
# phase with --loadgen online: the `colo run` supervisor, which exits with the generator's status).
spawn_loadgen() {
        local phase="$1"
        shift
        set -- "$@" --keys-per-get "$KEYS_PER_GET"
        if [ "$LOADGEN_MODE" = weight ]; then
                bench_spawn_in "$LOADGEN_GROUP" "$LOADGEN" "$@"
        elif [ "$phase" = colo ]; then
                LOADGEN_SEQ=$((${LOADGEN_SEQ:-0} + 1))
                bench_colo_run "$COLO" --class online --name "loadgen$LOADGEN_SEQ" -- "$LOADGEN" "$@"
        else
                bench_spawn_in "$PLAIN_GROUP" "$LOADGEN" "$@"
        fi
}

# Runs the load generator (keys stored by a warm-up run first) and samples CPU in the middle of
# the measured run. Appends one JSON object to $RESULTS.
measure() {             # $1 phase, $2 round
        local phase="$1" round="$2" lg t0 t1 mc0 mc1 hog0 hog1 ag0 ag1 idle0 idle1 out
        out="$BENCH_TMP/$phase-$round.json"
        spawn_loadgen "$phase" --port "$PORT" --rate "$RATE" --duration "$WARMUP" >/dev/null
        wait "$BENCH_SPAWNED_PID" || bench_die "warm-up load failed in phase $phase"
        spawn_loadgen "$phase" --port "$PORT" --rate "$RATE" --duration "$SECONDS_PER_PHASE" \
                --no-warmup --json --seed "$round" >"$out"
        lg=$BENCH_SPAWNED_PID
        sleep 1
        t0=$(now_sec); mc0=$(ticks_of "$MC_PID"); hog0=$(ticks_of $HOG_PIDS)
        ag0=$(ticks_of $AGENT_PID); idle0=$(machine_idle_ticks)
        sleep $((SECONDS_PER_PHASE - 2))
        t1=$(now_sec); mc1=$(ticks_of "$MC_PID"); hog1=$(ticks_of $HOG_PIDS)
        ag1=$(ticks_of $AGENT_PID); idle1=$(machine_idle_ticks)
        wait "$lg" || bench_die "load generator failed in phase $phase: $(cat "$out")"
        jq -c --arg phase "$phase" --argjson round "$round" --argjson cpus "$CPUS" \
                --argjson wall "$(echo "$t1 - $t0" | bc -l)" --argjson hz "$HZ" \
                --argjson mc "$((mc1 - mc0))" --argjson hogs "$((hog1 - hog0))" \
                --argjson agent "$((ag1 - ag0))" --argjson idle "$((idle1 - idle0))" '
                def cores(t): t / $hz / $wall;
                {phase: $phase, round: $round, rate: .target_rate, achieved_rate, errors,
                 p50_us: .latency_us.p50, p90_us: .latency_us.p90, p99_us: .latency_us.p99,
                 p999_us: .latency_us.p999, max_us: .latency_us.max, send_lag_p99_us: .send_lag_us.p99,
                 memcached_cores: cores($mc), loadgen_cores: (.cpu_seconds / .duration_s), hog_cores: cores($hogs),
                 agent_cores: cores($agent), machine_idle_cores: cores($idle)}
                | .idle_for_offline_cores = ($cpus - .memcached_cores - .loadgen_cores - .agent_cores)
                | .offline_share = (if .idle_for_offline_cores > 0 then .hog_cores / .idle_for_offline_cores else 0 end)
                | .offline_share_of_machine_idle = (if .hog_cores + .machine_idle_cores > 0
                        then .hog_cores / (.hog_cores + .machine_idle_cores) else 0 end)
                ' "$out" | tee -a "$RESULTS" | jq -r '"  \(.phase) round \(.round): p50 \(.p50_us) us, p99 \(.p99_us) us, p99.9 \(.p999_us) us, errors \(.errors); memcached \(.memcached_cores * 100 | round)% loadgen \(.loadgen_cores * 100 | round)% hogs \(.hog_cores * 100 | round)% of a core"'
}

# Finds the rate at which memcached uses about half of one core: a few 4 s runs, each rescaling
# the rate by 0.5 / measured utilisation (memcached's cost per request falls slightly with load,
# as replies batch, so it takes two or three steps).
calibrate() {
        local rate=20000 step util t0 t1 m0 m1
        start_plain 0
        "$LOADGEN" --port "$PORT" --rate 1000 --duration 1 --keys-per-get "$KEYS_PER_GET" >/dev/null ||
                bench_die "calibration warm-up failed"
        for step in 1 2 3 4 5; do
                t0=$(now_sec); m0=$(ticks_of "$MC_PID")
                spawn_loadgen alone --port "$PORT" --rate "$rate" --duration 4 --no-warmup >/dev/null
                wait "$BENCH_SPAWNED_PID" || bench_die "calibration run failed"
                t1=$(now_sec); m1=$(ticks_of "$MC_PID")
                util=$(echo "($m1 - $m0) / $HZ / ($t1 - $t0)" | bc -l)
                printf '  calibration step %d: %d req/s -> memcached %.1f%% of one core\n' "$step" "$rate" \
                        "$(echo "$util * 100" | bc -l)"
                jq -cn --argjson step "$step" --argjson rate "$rate" --argjson util "$util" \
                        '{phase: "calibration", step: $step, rate: $rate, memcached_cores: $util}' >>"$RESULTS"
                if [ "$(echo "$util > 0.46 && $util < 0.54" | bc -l)" = 1 ]; then
                        break
                fi
                rate=$(echo "r = $rate * 0.5 / $util; if (r > $rate * 2) r = $rate * 2; if (r < $rate / 2) r = $rate / 2; r / 1" | bc)
        done
        stop_plain
        RATE="$rate"
}

echo "== colo interference benchmark: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -r), $CPUS CPUs, $(bench_build_type "$BUILD") build"
bench_check_quiet
if [ -z "$RATE" ]; then
        echo "calibrating the request rate for memcached at ~50% of one core"
        calibrate
fi
echo "rate: $RATE req/s; $REPEATS rounds of ${PHASES//,/ / }, ${SECONDS_PER_PHASE} s measured each (+${WARMUP} s warm-up)"
echo "load generator: $LOADGEN_MODE"
[ -z "$AGENT_YAML" ] || echo "agent configuration added: $(printf '%b' "$AGENT_YAML" | tr '\n' ' ')"

# The phase order rotates from round to round, so that a slow drift of the machine (or the
# after-effects of the previous phase) does not always fall on the same phase.
read -ra PHASE_LIST <<<"${PHASES//,/ }"
for round in $(seq 1 "$REPEATS"); do
        echo "round $round"
        for k in $(seq 0 $((${#PHASE_LIST[@]} - 1))); do
                phase="${PHASE_LIST[$(((k + round - 1) % ${#PHASE_LIST[@]}))]}"
                case "$phase" in
                alone) start_plain 0; measure alone "$round"; stop_plain ;;
                plain) start_plain 2; measure plain "$round"; stop_plain ;;
                colo) start_colo "$round"; measure colo "$round"; stop_colo "$round" ;;
                esac
        done
done

SUMMARY="$(jq -s --argjson cpus "$CPUS" --arg kernel "$(uname -r)" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        --arg phases "$PHASES" --argjson load "$BENCH_LOAD1" --arg loadgen "$LOADGEN_MODE" \
        --arg agent_yaml "$(printf '%b' "$AGENT_YAML")" '
        def mean(f): (map(f) | add / length);
        def median(f): (map(f) | sort) as $s | ($s | length) as $n
                | if $n % 2 == 1 then $s[($n - 1) / 2] else ($s[$n / 2 - 1] + $s[$n / 2]) / 2 end;
        def phase(p): map(select(.phase == p));
        . as $all
        | (phase("alone") | mean(.p99_us)) as $alone
        | (phase("alone") | median(.p99_us)) as $alone_median
        | {date: $date, kernel: $kernel, cpus: $cpus, load_1min_at_start: $load, loadgen: $loadgen,
           agent_yaml: $agent_yaml,
           rate: (phase("alone")[0].rate),
           calibration: phase("calibration"),
           phases: ($phases | split(",") | map(. as $p | {key: $p, value: ($all | phase($p) | {
                rounds: length, p50_us: mean(.p50_us), p99_us: mean(.p99_us), p999_us: mean(.p999_us),
                p99_us_each: map(.p99_us), p99_us_median: median(.p99_us),
                p99_inflation_median: (median(.p99_us) / $alone_median - 1), p50_us_median: median(.p50_us), errors: mean(.errors), send_lag_p99_us: mean(.send_lag_p99_us),
                memcached_cores: mean(.memcached_cores), loadgen_cores: mean(.loadgen_cores),
                hog_cores: mean(.hog_cores), agent_cores: mean(.agent_cores),
                idle_for_offline_cores: mean(.idle_for_offline_cores), offline_share: mean(.offline_share),
                machine_idle_cores: mean(.machine_idle_cores),
                offline_share_of_machine_idle: mean(.offline_share_of_machine_idle),
                p99_inflation: (mean(.p99_us) / $alone - 1)})}) | from_entries)}' "$RESULTS")"
echo
echo "== summary ($REPEATS rounds; median and mean of the rounds' p99)"
echo "$SUMMARY" | jq -r '
        .phases | to_entries[] | .key as $k | .value |
        "\($k | . + "      " | .[0:6]) p99 median \(.p99_us_median | round) us (inflation \(.p99_inflation_median * 1000 | round / 10)%), "
        + "mean \(.p99_us | round) us (\(.p99_inflation * 1000 | round / 10)%)  p50 median \(.p50_us_median | round) us  "
        + "p99.9 mean \(.p999_us | round) us  "
        + "hogs \(.hog_cores * 100 | round)% of a core"
        + (if $k == "colo" then "  = \(.offline_share * 1000 | round / 10)% of the idle CPU "
           + "(\(.idle_for_offline_cores * 100 | round)% of a core; "
           + "\(.offline_share_of_machine_idle * 1000 | round / 10)% counting every other process)" else "" end)'
if [ -n "$JSON_OUT" ]; then
        echo "$SUMMARY" | jq --slurpfile raw "$RESULTS" '. + {raw: $raw}' >"$JSON_OUT"
        echo "results: $JSON_OUT"
fi
