#!/bin/bash
# Interference benchmark: memcached (the online service, at about half of one core) driven by
# colo-loadgen at a fixed Poisson rate, next to two offline CPU hogs, in phases (--phases; default the first three):
#   alone  memcached alone
#   plain  + two hogs, no colo: memcached and the hogs share one plain scratch cgroup, nice 0
#   colo   + two hogs under colo: `colo agent` manages a subtree below this script's cgroup,
#          memcached runs with `colo run --class online`, the hogs with `colo run --class offline`
# and, for the ablation benchmark (bench/ablation.sh), the phases of bench/ablation-variants.sh:
# agent-less knob combinations, colo with one feature changed, memcached outside colo's subtree.
# Each round runs the phases in an order that rotates from round to round; rounds repeat
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
#                              [--json FILE] [--phases alone,plain,colo,...] [--loadgen online|weight]
#                              [--agent-yaml 'YAML added to the agent configuration'] [--keys-per-get N]
# Root only. cgroups: colo-bench-<pid>-* below this shell's own cgroup, removed at exit.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"
# shellcheck source=bench/ablation-variants.sh
source "$BENCH_DIR/ablation-variants.sh"

SECONDS_PER_PHASE=10
REPEATS=10
WARMUP=3
RATE=""
JSON_OUT=""
PHASES="alone,plain,colo"
LOADGEN_MODE=online
AGENT_YAML=""
KEYS_PER_GET=1
bench_options "seconds:SECONDS_PER_PHASE repeats:REPEATS warmup:WARMUP rate:RATE json:JSON_OUT phases:PHASES loadgen:LOADGEN_MODE agent-yaml:AGENT_YAML keys-per-get:KEYS_PER_GET" "$@"
[ "$SECONDS_PER_PHASE" -ge 5 ] || bench_die "--seconds must be at least 5"
[[ ",$PHASES," == *,alone,* ]] || bench_die "--phases must include alone (the reference)"
case "$LOADGEN_MODE" in online | weight) ;; *) bench_die "--loadgen must be online or weight" ;; esac
read -ra PHASE_LIST <<<"${PHASES//,/ }"
NEEDS_AGENT=""
for phase in "${PHASE_LIST[@]}"; do
        kind="$(variant_kind "$phase")" || bench_die "unknown phase '$phase' (known: plain $ABLATION_VARIANTS)"
        case "$kind" in colo | outside) NEEDS_AGENT=1 ;; esac
done

COLO="$(realpath -m "$BUILD/colo")"
[ -z "$NEEDS_AGENT" ] || COLO="$(bench_built "$BUILD" colo)" || exit 1
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
LG_WHERE=""     # where the load generator runs: "colo" (colo run --class online) or its groups

memcached_cmd() {
        echo memcached -l 127.0.0.1 -p "$PORT" -t 1 -U 0 -u nobody -m 64
}

# memcached in the groups MC_GROUPS (one per hierarchy), N hogs in HOG_GROUPS, without the agent.
start_service() {       # $1 MC_GROUPS, $2 HOG_GROUPS, $3 number of hogs
        local pid
        PORT="$(bench_free_port)"
        # shellcheck disable=SC2046
        bench_spawn_in_groups "$1" $(memcached_cmd)
        MC_PID="$BENCH_SPAWNED_PID"
        echo "$MC_PID" >"$BENCH_TMP/memcached.pid"
        bench_wait_port "$PORT" || bench_die "memcached did not start on port $PORT"
        HOG_PIDS=""
        for _ in $(seq 1 "$3"); do
                bench_spawn_in_groups "$2" sh -c 'while :; do :; done'
                HOG_PIDS="$HOG_PIDS $BENCH_SPAWNED_PID"
        done
        # A hog that could not join its groups exits at once; its CPU would count as 0.
        sleep 0.1
        for pid in $HOG_PIDS; do
                bench_alive "$pid" || bench_die "a hog did not start in '$2'"
        done
}

start_plain() {         # $1: number of hogs
        LG_WHERE="$PLAIN_GROUP"
        start_service "$PLAIN_GROUP" "$PLAIN_GROUP" "$1"
}

# An agent-less variant of bench/ablation-variants.sh.
start_knob() {          # $1 phase, $2 round
        start_knob_groups "$1" "$2"
        start_service "$MC_GROUPS" "$HOG_GROUPS" 2
}

stop_plain() {
        bench_stop_pids "$MC_PID" $HOG_PIDS
        wait 2>/dev/null || true
        MC_PID=""
        HOG_PIDS=""
}

# The subtree name of colo phase $1 in round $2 (no dots: the agent adds ".offline" to it).
colo_subtree_suffix() {
        local name="$1-r$2"
        echo "${name//./p}"
}

# Phase colo and its variants: the agent on its defaults (1 s period) plus the variant's YAML and
# --agent-yaml (they must not name the same section), memcached online, the hogs offline. The
# outside kind leaves memcached (started before, by start_plain 0) alone and starts only the hogs.
start_colo() {          # $1 phase, $2 round
        local leaf pid i
        bench_start_agent "$COLO" "$BENCH_PREFIX-$BENCH_RUN_ID-$(colo_subtree_suffix "$1" "$2")" \
                "$(variant_yaml "$1"; printf '%b' "$AGENT_YAML")"
        AGENT_PID="$BENCH_AGENT_PID"
        RUN_PIDS=""
        if [ "$(variant_kind "$1")" = colo ]; then
                LG_WHERE=colo
                PORT="$(bench_free_port)"
                # shellcheck disable=SC2046
                bench_colo_run "$COLO" --class online --name memcached -- $(memcached_cmd)
                RUN_PIDS="$BENCH_SPAWNED_PID"
                bench_wait_port "$PORT" || bench_die "memcached did not start under colo run"
        fi
        for i in 1 2; do
                bench_colo_run "$COLO" --class offline --name "hog$i" -- sh -c 'while :; do :; done'
                RUN_PIDS="$RUN_PIDS $BENCH_SPAWNED_PID"
        done
        if [ "$(variant_kind "$1")" = colo ]; then
                leaf="$(bench_wait_workload memcached)" || bench_die "memcached's cgroup not found under $BENCH_SUBTREE"
                MC_PID="$(head -1 "$leaf/cgroup.procs")"
                echo "$MC_PID" >"$BENCH_TMP/memcached.pid"
                variant_colo_started "$1"
        fi
        HOG_PIDS=""
        for i in 1 2; do
                leaf="$(bench_wait_workload "hog$i")" || bench_die "hog$i's cgroup not found under $BENCH_SUBTREE"
                for pid in $(cat "$leaf/cgroup.procs"); do
                        HOG_PIDS="$HOG_PIDS $pid"
                done
        done
}

stop_colo() {           # $1 phase, $2 round
        local suffix
        suffix="$(colo_subtree_suffix "$1" "$2")"
        bench_stop_pids $RUN_PIDS
        bench_stop_pids "$AGENT_PID"
        wait "$AGENT_PID" $RUN_PIDS 2>/dev/null || true
        note_agent_warnings "$1" "$2"
        bench_remove_groups "$suffix"
        bench_remove_groups "$suffix.offline"
        [ "$(variant_kind "$1")" = outside ] || MC_PID=""
        HOG_PIDS=""
        AGENT_PID=""
        RUN_PIDS=""
}

# The agent's warnings and errors of a colo phase (a switch that did not take effect, a
# protection not in force), each distinct message once: kept in the JSON's raw records as
# {phase: "agent-log", variant, round, warnings}, and printed where no earlier phase had it.
note_agent_warnings() { # $1 phase, $2 round
        local msgs seen="$BENCH_TMP/agent-warnings.seen"
        msgs="$(grep -E 'level=(warning|error)' "$BENCH_AGENT_LOG" 2>/dev/null | sed 's/^ts=[^ ]* //' | sort -u)" || true
        [ -n "$msgs" ] || return 0
        touch "$seen"
        comm -13 "$seen" <(echo "$msgs") | sed 's/^/    agent (first seen here): /' | cut -c1-240
        sort -u -o "$seen" "$seen" <(echo "$msgs")
        echo "$msgs" | jq -Rsc --arg v "$1" --argjson round "$2" \
                '{phase: "agent-log", variant: $v, round: $round, warnings: (split("\n") | map(select(. != "")))}' >>"$RESULTS"
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

# Steal jiffies of the whole machine (time the hypervisor ran something else while this VM wanted
# to run), from /proc/stat: a round with steal measures the host's neighbours, not the variant.
machine_steal_ticks() {
        awk '/^cpu / { print $9; exit }' /proc/stat
}

now_sec() {
        date +%s.%N
}

# Starts colo-loadgen ARGS... in the background where the phase's start function put LG_WHERE;
# sets BENCH_SPAWNED_PID (under colo with --loadgen online: the `colo run` supervisor, which exits
# with the generator's status).
spawn_loadgen() {
        set -- "$@" --keys-per-get "$KEYS_PER_GET"
        if [ "$LOADGEN_MODE" = weight ]; then
                bench_spawn_in "$LOADGEN_GROUP" "$LOADGEN" "$@"
        elif [ "$LG_WHERE" = colo ]; then
                LOADGEN_SEQ=$((${LOADGEN_SEQ:-0} + 1))
                bench_colo_run "$COLO" --class online --name "loadgen$LOADGEN_SEQ" -- "$LOADGEN" "$@"
        else
                bench_spawn_in_groups "$LG_WHERE" "$LOADGEN" "$@"
        fi
}

# Runs the load generator (keys stored by a warm-up run first) and samples CPU in the middle of
# the measured run. Appends one JSON object to $RESULTS.
measure() {             # $1 phase, $2 round
        local phase="$1" round="$2" lg t0 t1 mc0 mc1 hog0 hog1 ag0 ag1 idle0 idle1 steal0 steal1 out
        out="$BENCH_TMP/$phase-$round.json"
        spawn_loadgen --port "$PORT" --rate "$RATE" --duration "$WARMUP" >/dev/null
        wait "$BENCH_SPAWNED_PID" || bench_die "warm-up load failed in phase $phase"
        steal0=$(machine_steal_ticks)
        spawn_loadgen --port "$PORT" --rate "$RATE" --duration "$SECONDS_PER_PHASE" \
                --no-warmup --json --seed "$round" >"$out"
        lg=$BENCH_SPAWNED_PID
        sleep 1
        t0=$(now_sec); mc0=$(ticks_of "$MC_PID"); hog0=$(ticks_of $HOG_PIDS)
        ag0=$(ticks_of $AGENT_PID); idle0=$(machine_idle_ticks)
        sleep $((SECONDS_PER_PHASE - 2))
        t1=$(now_sec); mc1=$(ticks_of "$MC_PID"); hog1=$(ticks_of $HOG_PIDS)
        ag1=$(ticks_of $AGENT_PID); idle1=$(machine_idle_ticks)
        wait "$lg" || bench_die "load generator failed in phase $phase: $(cat "$out")"
        steal1=$(machine_steal_ticks)
        jq -c --arg phase "$phase" --argjson round "$round" --argjson cpus "$CPUS" \
                --argjson steal "$((steal1 - steal0))" \
                --argjson wall "$(echo "$t1 - $t0" | bc -l)" --argjson hz "$HZ" \
                --argjson mc "$((mc1 - mc0))" --argjson hogs "$((hog1 - hog0))" \
                --argjson agent "$((ag1 - ag0))" --argjson idle "$((idle1 - idle0))" '
                def cores(t): t / $hz / $wall;
                {phase: $phase, round: $round, rate: .target_rate, achieved_rate, errors,
                 p50_us: .latency_us.p50, p90_us: .latency_us.p90, p99_us: .latency_us.p99,
                 p999_us: .latency_us.p999, max_us: .latency_us.max, send_lag_p99_us: .send_lag_us.p99,
                 memcached_cores: cores($mc), loadgen_cores: (.cpu_seconds / .duration_s), hog_cores: cores($hogs),
                 agent_cores: cores($agent), machine_idle_cores: cores($idle),
                 steal_cores: ($steal / $hz / .duration_s)}
                | .idle_for_offline_cores = ($cpus - .memcached_cores - .loadgen_cores - .agent_cores)
                | .offline_share = (if .idle_for_offline_cores > 0 then .hog_cores / .idle_for_offline_cores else 0 end)
                | .offline_share_of_machine_idle = (if .hog_cores + .machine_idle_cores > 0
                        then .hog_cores / (.hog_cores + .machine_idle_cores) else 0 end)
                ' "$out" | tee -a "$RESULTS" | jq -r '"  \(.phase) round \(.round): p50 \(.p50_us) us, p99 \(.p99_us) us, p99.9 \(.p999_us) us, errors \(.errors); memcached \(.memcached_cores * 100 | round)% loadgen \(.loadgen_cores * 100 | round)% hogs \(.hog_cores * 100 | round)% of a core; steal \(.steal_cores * 1000 | round / 10)% of a core"'
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
                spawn_loadgen --port "$PORT" --rate "$rate" --duration 4 --no-warmup >/dev/null
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
for round in $(seq 1 "$REPEATS"); do
        echo "round $round"
        for k in $(seq 0 $((${#PHASE_LIST[@]} - 1))); do
                phase="${PHASE_LIST[$(((k + round - 1) % ${#PHASE_LIST[@]}))]}"
                case "$(variant_kind "$phase")" in
                plain) start_plain "$([ "$phase" = plain ] && echo 2 || echo 0)"; measure "$phase" "$round"; stop_plain ;;
                knob) start_knob "$phase" "$round"; measure "$phase" "$round"; stop_plain; bench_remove_groups "$phase-r$round-*" ;;
                colo) start_colo "$phase" "$round"; measure "$phase" "$round"; stop_colo "$phase" "$round" ;;
                outside)
                        start_plain 0; start_colo "$phase" "$round"; measure "$phase" "$round"
                        stop_colo "$phase" "$round"; stop_plain
                        ;;
                esac
        done
done

# What each phase ran, for the JSON and the table.
PHASE_META="$(for phase in "${PHASE_LIST[@]}"; do
        jq -cn --arg p "$phase" --arg kind "$(variant_kind "$phase")" --arg d "$(variant_describe "$phase")" \
                --arg yaml "$(variant_yaml "$phase" 2>/dev/null || true)" --arg t "$(variant_curve_target "$phase")" \
                '{key: $p, value: {kind: $kind, description: $d, variant_yaml: $yaml,
                  cpu_pressure_target: (if $t == "" then null elif $t == "off" then "off" else ($t | tonumber) end)}}'
done | jq -cs from_entries)"

SUMMARY="$(jq -s --argjson cpus "$CPUS" --arg kernel "$(uname -r)" --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
        --arg phases "$PHASES" --argjson load "$BENCH_LOAD1" --arg loadgen "$LOADGEN_MODE" \
        --arg agent_yaml "$(printf '%b' "$AGENT_YAML")" --argjson meta "$PHASE_META" --argjson seconds "$SECONDS_PER_PHASE" \
        --argjson warmup "$WARMUP" --argjson repeats "$REPEATS" '
        def mean(f): (map(f) | add / length);
        def median(f): (map(f) | sort) as $s | ($s | length) as $n
                | if $n % 2 == 1 then $s[($n - 1) / 2] else ($s[$n / 2 - 1] + $s[$n / 2]) / 2 end;
        def phase(p): map(select(.phase == p));
        . as $all
        | (phase("alone") | mean(.p99_us)) as $alone
        | (phase("alone") | median(.p99_us)) as $alone_median
        | {date: $date, kernel: $kernel, cpus: $cpus, load_1min_at_start: $load, loadgen: $loadgen,
           agent_yaml: $agent_yaml, seconds: $seconds, warmup: $warmup, repeats: $repeats,
           rate: (phase("alone")[0].rate),
           calibration: phase("calibration"),
           phases: ($phases | split(",") | map(. as $p | {key: $p, value: ($meta[$p] + ($all | phase($p) | {
                rounds: length, p50_us: mean(.p50_us), p99_us: mean(.p99_us), p999_us: mean(.p999_us),
                p99_us_each: map(.p99_us), p99_us_median: median(.p99_us),
                p99_inflation_median: (median(.p99_us) / $alone_median - 1), p50_us_median: median(.p50_us), errors: mean(.errors), send_lag_p99_us: mean(.send_lag_p99_us),
                memcached_cores: mean(.memcached_cores), loadgen_cores: mean(.loadgen_cores),
                hog_cores: mean(.hog_cores), agent_cores: mean(.agent_cores),
                idle_for_offline_cores: mean(.idle_for_offline_cores), offline_share: mean(.offline_share),
                machine_idle_cores: mean(.machine_idle_cores), steal_cores_each: map(.steal_cores),
                offline_share_of_machine_idle: mean(.offline_share_of_machine_idle),
                p99_inflation: (mean(.p99_us) / $alone - 1)}))}) | from_entries)}' "$RESULTS")"
echo
echo "== summary ($REPEATS rounds; median and mean of the rounds' p99)"
echo "$SUMMARY" | jq -r '
        .phases | to_entries[] | .key as $k | .value |
        "\($k | . + "                        " | .[0:24]) p99 median \(.p99_us_median | round) us (inflation \(.p99_inflation_median * 1000 | round / 10)%), "
        + "mean \(.p99_us | round) us (\(.p99_inflation * 1000 | round / 10)%)  p50 median \(.p50_us_median | round) us  "
        + "p99.9 mean \(.p999_us | round) us  "
        + "hogs \(.hog_cores * 100 | round)% of a core"
        + (if $k != "alone" then "  = \(.offline_share * 1000 | round / 10)% of the idle CPU "
           + "(\(.idle_for_offline_cores * 100 | round)% of a core; "
           + "\(.offline_share_of_machine_idle * 1000 | round / 10)% counting every other process)" else "" end)'
echo
echo "== Markdown table (docs/benchmarks.md)"
echo "$SUMMARY" | jq -r '
        def us: if . >= 1000 then "\(. / 10 | round / 100) ms" else "\(. | round) µs" end;
        def pct: (. * 1000 | round / 10) as $v | (if $v > 0 then "+" else "" end) + "\($v)%";
        "| Variant | What runs | p99, median of rounds | p99 inflation (median) | p99 of each round (µs) | p50 (median) | hogs\u0027 CPU | offline share of idle CPU (machine-wide) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        (.phases | to_entries[] | .key as $k | .value
         | "| `\($k)` | \(.description) | \(.p99_us_median | us) | "
           + (if $k == "alone" then "—" else (.p99_inflation_median | pct) end)
           + " | \(.p99_us_each | map(round | tostring) | join(" ")) | \(.p50_us_median | us) | "
           + (if $k == "alone" then "— | —" else "\(.hog_cores * 100 | round)% of a core | "
              + "\(.offline_share * 1000 | round / 10)% of \(.idle_for_offline_cores * 100 | round)% of a core "
              + "(\(.offline_share_of_machine_idle * 1000 | round / 10)%)" end) + " |")'
if [ -n "$JSON_OUT" ]; then
        echo "$SUMMARY" | jq --slurpfile raw "$RESULTS" '. + {raw: $raw}' >"$JSON_OUT"
        echo "results: $JSON_OUT"
fi
