#!/bin/bash
# colo demo (`make demo`): an online service next to offline CPU and memory hogs, first without
# colo, then under colo, with the online service's latency measured each time.
#
#   1. memcached alone                        (the reference latency)
#   2. memcached + CPU hogs + a memory hog, all plain processes at the same priority
#   3. the same under colo: `colo agent` manages a subtree below this script's cgroup, memcached
#      runs with `colo run --class online`, the hogs with `colo run --class offline`
#
# Next to them, in parts 1 and 3, an online service colo does not start: colo-udp-echo in a
# cgroup of its own beside colo's subtree, as systemd or an operator would start a daemon; its
# round-trip tail is probed alone and next to colo's offline hogs (bench/outside-service.sh
# measures this case properly).
#
# Latency comes from colo-loadgen (open loop: Poisson arrivals, latency from the intended send
# time) at a fixed rate for a few seconds per part. The load generator is placed like memcached
# (plain process, then `colo run --class online`): it shares the machine, and its delays count.
# Everything (processes, agent, cgroups colo-demo-<pid>-*) is removed on exit, Ctrl-C included.
#
# Usage: scripts/demo.sh COLO_BINARY   (as root; colo-loadgen and colo-mem-hog are taken from
#                                       the same build directory: <dir of colo>/bench/)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BENCH_PREFIX=colo-demo
# shellcheck source=bench/lib.sh
source "$SCRIPT_DIR/../bench/lib.sh"

[ $# -eq 1 ] || { echo "usage: $0 COLO_BINARY" >&2; exit 2; }
COLO="$(realpath -m "$1")"
BUILD_DIR="$(dirname "$COLO")"
LOADGEN="$BUILD_DIR/bench/colo-loadgen"
MEMHOG="$BUILD_DIR/bench/colo-mem-hog"
ECHO="$BUILD_DIR/bench/colo-udp-echo"
for f in "$COLO" "$LOADGEN" "$MEMHOG" "$ECHO"; do
        [ -x "$f" ] || bench_die "'$f' not found; run 'make' first"
done
command -v memcached >/dev/null || bench_die "memcached is not installed (apt-get install memcached)"
command -v jq >/dev/null || bench_die "jq is not installed (apt-get install jq)"
bench_require_root

RATE="${COLO_DEMO_RATE:-15000}"          # requests/s: a modest load on a small machine
SECONDS_EACH="${COLO_DEMO_SECONDS:-10}"
MEMHOG_MIB="${COLO_DEMO_MEMHOG_MIB:-512}"
CPUS="$(nproc)"
HOGS="$CPUS"                             # enough CPU hogs to keep every CPU busy
HZ="$(getconf CLK_TCK)"

trap bench_cleanup EXIT
trap 'echo; echo "interrupted; cleaning up"; exit 130' INT TERM HUP
bench_tmpdir

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }

PLAIN_GROUP="$(bench_make_group cpu plain)"

# The service colo does not start, in its own group for the whole demo.
SVC_GROUP="$(bench_make_group cpu svc)"
ECHO_PORT="$(bench_free_port)"
# Started from a subshell, so it is no child of this one and the parts' bare `wait` does not wait
# for it; cleanup ends it with its group.
bench_track "$(bench_spawn_in "$SVC_GROUP" "$ECHO" serve "$ECHO_PORT" >/dev/null 2>&1; echo "$BENCH_SPAWNED_PID")"

# Probes the outside service for half a part at 2000 requests/s; JSON into $1.
probe_outside() {
        "$ECHO" probe "$ECHO_PORT" 2000 "$(((SECONDS_EACH + 1) / 2))" >"$1" || bench_die "the UDP probe failed"
        jq -r '"    udp-echo (not started by colo): p50 \(.latency_us.p50) us, p99 \(.latency_us.p99) us, "
               + "p99.9 \(.latency_us.p999) us, \(.lost) lost"' "$1"
}

# Starts colo-loadgen ARGS... in the background placed like memcached: in the plain group, or
# with UNDER_COLO=1 as an online workload; sets BENCH_SPAWNED_PID.
spawn_loadgen() {
        if [ "${UNDER_COLO:-0}" = 1 ]; then
                LOADGEN_SEQ=$((${LOADGEN_SEQ:-0} + 1))
                bench_colo_run "$COLO" --class online --name "loadgen$LOADGEN_SEQ" -- "$LOADGEN" "$@"
        else
                bench_spawn_in "$PLAIN_GROUP" "$LOADGEN" "$@"
        fi
}

# Measures memcached's latency on port $1 for SECONDS_EACH seconds; prints the loadgen's JSON
# into $2 and the CPU the pids in $3 got (percent of one core) into $2.hogs. With a 4th argument,
# runs that command half-way through (while the load is on).
measure() {
        local port="$1" out="$2" pids="$3" midway="${4:-}" t0 t1 h1 pid gone=0
        local -A h0
        spawn_loadgen --port "$port" --rate "$RATE" --duration 2 >/dev/null
        wait "$BENCH_SPAWNED_PID" || bench_die "warm-up load failed"
        spawn_loadgen --port "$port" --rate "$RATE" --duration "$SECONDS_EACH" --no-warmup --json >"$out"
        local lg=$BENCH_SPAWNED_PID
        sleep 1
        t0=$(date +%s.%N)
        for pid in $pids; do h0[$pid]=$(bench_proc_ticks "$pid"); done
        if [ -n "$midway" ]; then
                sleep $((SECONDS_EACH / 2 - 1))
                $midway
                sleep $((SECONDS_EACH - 2 - SECONDS_EACH / 2 + 1))
        else
                sleep $((SECONDS_EACH - 2))
        fi
        t1=$(date +%s.%N); h1=0
        # A hog that ended meanwhile (colo evicted it) has no /proc entry left to read: its CPU
        # since t0 is unknown, so it counts 0 and is reported.
        for pid in $pids; do
                if bench_alive "$pid"; then
                        h1=$((h1 + $(bench_proc_ticks "$pid") - h0[$pid]))
                else
                        gone=$((gone + 1))
                fi
        done
        wait "$lg" || bench_die "the load generator failed: $(cat "$out")"
        echo "$h1 * 100 / $HZ / ($t1 - $t0)" | bc -l >"$out.hogs"
        echo "$gone" >"$out.gone"
        jq -r '"    latency: p50 \(.latency_us.p50) us, p99 \(.latency_us.p99) us, p99.9 \(.latency_us.p999) us "
               + "at \(.achieved_rate | round) req/s, \(.errors) errors"' "$out"
        if [ -n "$pids" ]; then
                printf '    the offline hogs got %.0f%% of one core' "$(cat "$out.hogs")"
                [ "$gone" = 0 ] && echo || echo " ($gone of them ended during the measurement: evicted)"
        fi
}

start_memcached_plain() {
        PORT="$(bench_free_port)"
        bench_spawn_in "$PLAIN_GROUP" memcached -l 127.0.0.1 -p "$PORT" -t 1 -U 0 -u nobody -m 64
        MC_PID=$BENCH_SPAWNED_PID
        bench_wait_port "$PORT" || bench_die "memcached did not start"
}

bold "colo demo: memcached (online) next to $HOGS CPU hogs and a ${MEMHOG_MIB} MiB memory hog (offline), $CPUS CPUs"
echo "load: $RATE requests/s from colo-loadgen (open loop, placed like memcached), ${SECONDS_EACH} s per part"

bold "1/3  memcached alone"
start_memcached_plain
measure "$PORT" "$BENCH_TMP/alone.json" ""
bench_stop_pids "$MC_PID"
probe_outside "$BENCH_TMP/echo-alone.json"

bold "2/3  memcached + offline hogs, without colo (plain processes, same priority)"
start_memcached_plain
HOG_PIDS=""
for _ in $(seq 1 "$HOGS"); do
        bench_spawn_in "$PLAIN_GROUP" sh -c 'while :; do :; done'
        HOG_PIDS="$HOG_PIDS $BENCH_SPAWNED_PID"
done
bench_spawn_in "$PLAIN_GROUP" "$MEMHOG" --mib "$MEMHOG_MIB"
HOG_PIDS="$HOG_PIDS $BENCH_SPAWNED_PID"
measure "$PORT" "$BENCH_TMP/plain.json" "$HOG_PIDS"
bench_stop_pids "$MC_PID" $HOG_PIDS
wait 2>/dev/null || true

bold "3/3  the same under colo"
echo "    colo agent --subtree $BENCH_PREFIX-$BENCH_RUN_ID-colo    (a cgroup subtree below this script's own)"
bench_start_agent "$COLO" "$BENCH_PREFIX-$BENCH_RUN_ID-colo"
PORT="$(bench_free_port)"
echo "    colo run --class online  --name memcached -- memcached -p $PORT ..."
bench_colo_run "$COLO" --class online --name memcached -- memcached -l 127.0.0.1 -p "$PORT" -t 1 -U 0 -u nobody -m 64
bench_wait_port "$PORT" || bench_die "memcached did not start under colo run"
for i in $(seq 1 "$HOGS"); do
        echo "    colo run --class offline --name cpu-hog$i -- sh -c 'while :; do :; done'"
        bench_colo_run "$COLO" --class offline --name "cpu-hog$i" -- sh -c 'while :; do :; done'
done
echo "    colo run --class offline --tier best-effort --name mem-hog -- colo-mem-hog --mib $MEMHOG_MIB"
bench_colo_run "$COLO" --class offline --tier best-effort --name mem-hog -- "$MEMHOG" --mib "$MEMHOG_MIB"
HOG_PIDS=""
for name in $(seq -f "cpu-hog%g" 1 "$HOGS") mem-hog; do
        leaf="$(bench_wait_workload "$name")" || bench_die "workload $name did not start"
        HOG_PIDS="$HOG_PIDS $(cat "$leaf/cgroup.procs" | tr '\n' ' ')"
done
sleep 2         # a couple of control periods: the agent has seen everything and set the knobs

show_status() {
        bold "colo status (half-way through the load)"
        "$COLO" status --state-dir "$BENCH_AGENT_STATE" --subtree "$BENCH_SUBTREE" | sed 's/^/    /'
        echo
}
UNDER_COLO=1 measure "$PORT" "$BENCH_TMP/colo.json" "$HOG_PIDS" show_status
probe_outside "$BENCH_TMP/echo-colo.json"

bold "summary: memcached latency (open-loop, ${RATE} req/s)"
printf '    %-28s %10s %10s %10s %14s\n' "" "p50 (us)" "p99 (us)" "p99.9 (us)" "offline CPU"
for part in alone plain colo; do
        case $part in
        alone) label="memcached alone" ;;
        plain) label="+ offline hogs, no colo" ;;
        colo) label="+ offline hogs, with colo" ;;
        esac
        hogs="-"
        [ "$part" = alone ] || hogs="$(printf '%.0f%% of a core' "$(cat "$BENCH_TMP/$part.json.hogs")")"
        printf '    %-28s %10s %10s %10s %14s\n' "$label" \
                "$(jq '.latency_us.p50 | round' "$BENCH_TMP/$part.json")" \
                "$(jq '.latency_us.p99 | round' "$BENCH_TMP/$part.json")" \
                "$(jq '.latency_us.p999 | round' "$BENCH_TMP/$part.json")" "$hogs"
done
p99_alone="$(jq .latency_us.p99 "$BENCH_TMP/alone.json")"
printf '\n    p99 vs alone: %+.0f%% without colo, %+.0f%% with colo\n' \
        "$(echo "($(jq .latency_us.p99 "$BENCH_TMP/plain.json") / $p99_alone - 1) * 100" | bc -l)" \
        "$(echo "($(jq .latency_us.p99 "$BENCH_TMP/colo.json") / $p99_alone - 1) * 100" | bc -l)"
printf '    udp-echo, a service colo does not start: p99 %s us alone, %s us next to colo'"'"'s offline hogs\n' \
        "$(jq .latency_us.p99 "$BENCH_TMP/echo-alone.json")" "$(jq .latency_us.p99 "$BENCH_TMP/echo-colo.json")"
echo "    (a few seconds per part on a shared machine are noisy; bench/interference.sh and"
echo "    bench/outside-service.sh measure properly)"

bold "cleaning up"
bench_cleanup
echo "    done: processes stopped, agent stopped, cgroups removed"
