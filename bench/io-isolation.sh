#!/bin/bash
# IO isolation benchmark: the p99 latency of an online reader/fsync workload next to an offline
# fio writer, with and without colo. The online workload is one fio process with two jobs on
# their own files: "reader", 4 KiB random reads with O_DIRECT at a fixed rate, and "fsyncer",
# 4 KiB writes each followed by fsync(), at a fixed rate. The offline writer streams 1 MiB
# O_DIRECT writes (direct, so cgroup v1's blkio throttle sees them: v1 cannot attribute buffered
# writeback to a group) over a scratch file. Phases, interleaved, --repeats rounds:
#   alone   the online workload by itself (the reference)
#   plain   + the offline writer, no colo: both in this script's own cgroup
#   colo    + the offline writer under colo: `colo agent` manages a subtree below this script's
#           cgroup with isolation.offline_io_max "<disk> wbps=<--offline-wbps>" (and on cgroup v2
#           online_io_latency "<disk> target=<--latency-target>"); the online workload runs with
#           `colo run --class online`, the writer with `colo run --class offline`
# Per phase: p99 of the reads and of the fsyncs (median over rounds), the inflation over alone,
# and the writer's throughput. Target (issue 12): p99 inflation <= 25% with colo.
#
# Scratch files (--file-size each, 3 files) live in a temporary directory on the local disk,
# removed at exit, as are the cgroups (colo-bench-<pid>-* below this shell's own cgroup).
# Usage: bench/io-isolation.sh BUILD_DIR [--seconds 10] [--repeats 3] [--file-size 64M]
#                              [--offline-wbps 20Mi] [--latency-target 10ms] [--phases alone,plain,colo]
#                              [--dir DIR] [--json FILE]
# Root only; needs fio and jq (Debian packages, scripts/install-deps.sh).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=bench/lib.sh
source "$BENCH_DIR/lib.sh"

SECONDS_EACH=10
REPEATS=3
FILE_SIZE=64M
OFFLINE_WBPS=20Mi
LATENCY_TARGET=10ms
PHASES="alone,plain,colo"
SCRATCH_PARENT=/var/tmp
JSON_OUT=""
bench_options "seconds:SECONDS_EACH repeats:REPEATS file-size:FILE_SIZE offline-wbps:OFFLINE_WBPS latency-target:LATENCY_TARGET phases:PHASES dir:SCRATCH_PARENT json:JSON_OUT" "$@"
COLO="$(realpath -m "$BUILD/colo")"
[[ ",$PHASES," != *,colo,* ]] || COLO="$(bench_built "$BUILD" colo)" || exit 1
bench_require_commands fio jq stat
bench_begin
RESULTS="$BENCH_TMP/results.jsonl"
: >"$RESULTS"

# The scratch files: on the local disk (not tmpfs), in a directory removed with BENCH_TMP.
SCRATCH="$(mktemp -d "$SCRATCH_PARENT/colo-bench-io.XXXXXX")" || bench_die "cannot create a scratch directory in $SCRATCH_PARENT"
ln -s "$SCRATCH" "$BENCH_TMP/scratch"
trap 'bench_cleanup; rm -rf "$SCRATCH"' EXIT
[ "$(stat -f -c %T "$SCRATCH")" != tmpfs ] || bench_die "$SCRATCH is on tmpfs: pass --dir on a disk"

# The whole disk holding the scratch files: the file system's device, or its disk if that is a
# partition (the kernel's IO controllers take whole disks).
DEV="$(stat -c '%Hd:%Ld' "$SCRATCH")"
[ -e "/sys/dev/block/$DEV" ] || bench_die "$SCRATCH is on $DEV, not a block device (overlay, NFS?): pass --dir"
if [ -e "/sys/dev/block/$DEV/partition" ]; then
        DEV="$(cat "/sys/dev/block/$DEV/../dev")"
fi
DISK="$(basename "$(readlink -f "/sys/dev/block/$DEV")")"
V2=false
[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] && V2=true

echo "== colo IO isolation benchmark: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -r), $(nproc) CPUs, $(bench_build_type "$BUILD") build"
bench_check_quiet
echo "disk $DISK ($DEV), scheduler: $(cat "/sys/block/$DISK/queue/scheduler" 2>/dev/null || echo unknown); cgroup v2: $V2"
echo "${SECONDS_EACH} s per phase, $REPEATS rounds, files of $FILE_SIZE in $SCRATCH, offline throttle wbps=$OFFLINE_WBPS"

# Lays the online read file out once, so the reader never reads holes.
fio --name=prepare --filename="$SCRATCH/online-read.dat" --size="$FILE_SIZE" --rw=write --bs=1M --direct=1 \
        --output=/dev/null >/dev/null 2>&1 || bench_die "fio cannot write $SCRATCH"

online_cmd() {          # $1: JSON output file
        echo fio --output-format=json --output="$1" --time_based --runtime="$SECONDS_EACH" \
                --name=reader --filename="$SCRATCH/online-read.dat" --size="$FILE_SIZE" --rw=randread --bs=4k \
                --direct=1 --rate_iops=100 \
                --name=fsyncer --filename="$SCRATCH/online-fsync.dat" --size=8M --rw=write --bs=4k --fsync=1 \
                --rate_iops=50
}

writer_cmd() {          # $1: JSON output file
        echo fio --output-format=json --output="$1" --time_based --runtime="$((SECONDS_EACH + 5))" \
                --name=writer --filename="$SCRATCH/offline.dat" --size="$FILE_SIZE" --rw=write --bs=1M --direct=1
}

# fio's JSON output without the notices it may print first ("fio: terminating on signal 2").
fio_json() {            # $1 file
        sed -n '/^{/,$p' "$1"
}

# Appends one result line for phase $1 round $2 from the online (and writer) JSON.
record() {              # $1 phase, $2 round, $3 online JSON, $4 writer JSON or ""
        local wbps=null
        if [ -n "$4" ] && [ -s "$4" ]; then
                wbps="$(fio_json "$4" | jq '.jobs[0].write.bw_bytes')"
        fi
        jq -c --arg phase "$1" --argjson round "$2" --argjson wbps "$wbps" '
                (.jobs[] | select(.jobname == "reader") | .read.clat_ns.percentile."99.000000") as $r
                | (.jobs[] | select(.jobname == "fsyncer") | .sync.lat_ns.percentile."99.000000") as $s
                | {phase: $phase, round: $round, read_p99_ms: ($r / 1e6), fsync_p99_ms: ($s / 1e6),
                   writer_mib_s: (if $wbps == null then null else $wbps / 1048576 | round end)}' \
                <(fio_json "$3") >>"$RESULTS"
}

run_alone() {           # $1 round
        # shellcheck disable=SC2046
        $(online_cmd "$BENCH_TMP/online.json") >/dev/null 2>&1 || bench_die "the online fio run failed"
        record alone "$1" "$BENCH_TMP/online.json" ""
}

run_plain() {           # $1 round
        local writer
        # shellcheck disable=SC2046
        $(writer_cmd "$BENCH_TMP/writer.json") >/dev/null 2>&1 &
        writer=$!
        bench_track "$writer"
        sleep 1         # the writer at full speed first
        # shellcheck disable=SC2046
        $(online_cmd "$BENCH_TMP/online.json") >/dev/null 2>&1 || bench_die "the online fio run failed"
        kill -INT "$writer" 2>/dev/null || true
        wait "$writer" 2>/dev/null || true
        record plain "$1" "$BENCH_TMP/online.json" "$BENCH_TMP/writer.json"
}

# Waits until the agent has put the throttle on the offline parent.
wait_throttle() {
        local file tries=100
        if $V2; then file="$(bench_managed_dir cpu offline)/io.max"; else file="$(bench_managed_dir blkio offline)/blkio.throttle.write_bps_device"; fi
        while [ "$tries" -gt 0 ]; do
                grep -q "^$DEV " "$file" 2>/dev/null && return 0
                sleep 0.1
                tries=$((tries - 1))
        done
        bench_die "the agent did not write the throttle to $file (see $BENCH_AGENT_LOG)"
}

run_colo() {            # $1 round
        local yaml writer online
        yaml="isolation:\n  offline_io_max: \"$DEV wbps=$OFFLINE_WBPS\"\n"
        if $V2; then
                yaml="$yaml  online_io_latency: \"$DEV target=$LATENCY_TARGET\"\n"
        fi
        bench_start_agent "$COLO" "$BENCH_PREFIX-$BENCH_RUN_ID-colo$1" "$(printf '%b' "$yaml")"
        wait_throttle
        # shellcheck disable=SC2046
        bench_colo_run "$COLO" --class offline --name writer -- $(writer_cmd "$BENCH_TMP/writer.json")
        writer="$BENCH_SPAWNED_PID"
        sleep 1
        # shellcheck disable=SC2046
        bench_colo_run "$COLO" --class online --name online-io -- $(online_cmd "$BENCH_TMP/online.json")
        online="$BENCH_SPAWNED_PID"
        wait "$online" || bench_die "the online fio run failed under colo run"
        bench_stop_pids "$writer"
        wait "$writer" 2>/dev/null || true
        grep -h "Protection not in force" "$BENCH_AGENT_LOG" | sed 's/^/agent: /' | sort -u | head -3 || true
        bench_stop_pids "$BENCH_AGENT_PID"
        wait 2>/dev/null || true
        bench_remove_groups "colo$1"
        record colo "$1" "$BENCH_TMP/online.json" "$BENCH_TMP/writer.json"
}

for round in $(seq 1 "$REPEATS"); do
        for phase in ${PHASES//,/ }; do
                rm -f "$BENCH_TMP/online.json" "$BENCH_TMP/writer.json" "$SCRATCH/offline.dat"
                "run_$phase" "$round"
                tail -1 "$RESULTS" | jq -r '"round \(.round) \(.phase): read p99 \(.read_p99_ms) ms, fsync p99 \(.fsync_p99_ms) ms, writer \(.writer_mib_s // "-") MiB/s"'
        done
done

SUMMARY="$(jq -s '
        def median: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
        group_by(.phase) | map({phase: .[0].phase, read_p99_ms: (map(.read_p99_ms) | median),
                                fsync_p99_ms: (map(.fsync_p99_ms) | median),
                                writer_mib_s: (map(.writer_mib_s) | map(select(. != null)) | median)})
        | (map(select(.phase == "alone")) | .[0]) as $a
        | map(. + (if $a == null then {} else
                {read_inflation_pct: ((.read_p99_ms / $a.read_p99_ms - 1) * 100 | round),
                 fsync_inflation_pct: ((.fsync_p99_ms / $a.fsync_p99_ms - 1) * 100 | round)} end))' "$RESULTS")"
echo
echo "phase  read p99 ms  fsync p99 ms  inflation read/fsync  writer MiB/s (median of $REPEATS rounds)"
echo "$SUMMARY" | jq -r '.[] | "\(.phase)  \(.read_p99_ms)  \(.fsync_p99_ms)  \(.read_inflation_pct // "-")% / \(.fsync_inflation_pct // "-")%  \(.writer_mib_s // "-")"'
if [ -n "$JSON_OUT" ]; then
        jq -n --argjson summary "$SUMMARY" --slurpfile rounds "$RESULTS" --arg disk "$DISK" --arg dev "$DEV" \
                --arg kernel "$(uname -r)" --arg load "$BENCH_LOAD1" \
                '{kernel: $kernel, disk: $disk, dev: $dev, load1: $load, summary: $summary, rounds: $rounds}' >"$JSON_OUT"
fi
