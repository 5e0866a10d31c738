# Shell helpers shared by the benchmark scripts and scripts/demo.sh (sourced, not run).
#
# Safety rules they implement: every cgroup is created below the cgroup this shell is in, per
# hierarchy (from /proc/self/cgroup), under a name starting with "colo-bench-" (the demo:
# "colo-demo-"), plus the run id; bench_cleanup
# kills only processes inside those groups (plus the pids registered with bench_track) and
# removes the groups depth-first. Callers install it as a trap on EXIT INT TERM.

BENCH_PREFIX="${BENCH_PREFIX:-colo-bench}"      # the demo uses colo-demo
BENCH_RUN_ID="${BENCH_RUN_ID:-$$}"
BENCH_TRACKED_PIDS=""
BENCH_TMP=""

bench_die() {
        echo "$(basename "$0"): $*" >&2
        exit 1
}

bench_require_root() {
        [ "$(id -u)" = 0 ] || bench_die "needs root (it creates cgroups and runs colo agent)"
}

# Prints the script's "# Usage:" lines (and the option lines that continue them) and exits 2.
bench_usage() {
        sed -n 's/^# Usage: //p; s/^#  *\(\[--\)/    \1/p' "$0" >&2
        exit 2
}

# Sets BUILD from the first argument, then the variables named in SPEC from the options that
# follow: SPEC is "name:VARIABLE ..." and "--name VALUE" sets VARIABLE to VALUE; anything else is
# a usage error. Defaults are the variables' values before the call.
bench_options() {       # $1 SPEC, then the script's arguments
        local spec="$1" pair found
        shift
        [ $# -ge 1 ] || bench_usage
        BUILD="$1"
        shift
        while [ $# -gt 0 ]; do
                found=""
                for pair in $spec; do
                        if [ "$1" = "--${pair%%:*}" ] && [ $# -ge 2 ]; then
                                printf -v "${pair#*:}" '%s' "$2"
                                found=1
                                break
                        fi
                done
                [ -n "$found" ] || bench_usage
                shift 2
        done
}

# Dies unless every command named is installed (all come from Debian packages of the same name).
bench_require_commands() {
        local c
        for c in "$@"; do
                command -v "$c" >/dev/null || bench_die "$c is not installed (apt-get install $c)"
        done
}

# Prints the absolute path of BUILD_DIR/RELATIVE, dying unless it is an executable.
bench_built() {         # $1 build dir, $2 path inside it
        [ -x "$1/$2" ] || bench_die "'$1/$2' not found; build first"
        realpath -m "$1/$2"
}

# Prints the Meson build type of BUILD_DIR and warns on stderr unless it is a release build
# without sanitizers: figures from a debug or sanitizer build are not the product's.
bench_build_type() {    # $1 build dir
        local opts type sanitize
        opts="$(meson introspect --buildoptions "$1" 2>/dev/null)" || opts="[]"
        type="$(echo "$opts" | jq -r '.[] | select(.name == "buildtype") | .value')"
        sanitize="$(echo "$opts" | jq -r '.[] | select(.name == "b_sanitize") | .value')"
        [ -n "$type" ] || type=unknown
        if [ "$type" != release ] || { [ -n "$sanitize" ] && [ "$sanitize" != none ]; }; then
                echo "warning: '$1' is a $type build (sanitizers: ${sanitize:-unknown}), not a plain release build" >&2
        fi
        if [ -z "$sanitize" ] || [ "$sanitize" = none ]; then
                echo "$type"
        else
                echo "$type, sanitizers $sanitize"
        fi
}

# Root check, cleanup traps (processes and scratch cgroups go at exit, also on a signal) and
# the run's temporary directory: the start of every benchmark.
bench_begin() {
        bench_require_root
        trap bench_cleanup EXIT
        trap 'exit 130' INT TERM HUP PIPE
        bench_tmpdir
}

# Prints "<mountpoint> <cgroup path>" for every mounted cgroup hierarchy (v1 and v2): this
# process's groups, or those of process $1.
bench_hierarchies() {
        awk '
                FNR == NR { split($0, f, ":"); own[f[2]] = substr($0, length(f[1]) + length(f[2]) + 3); next }
                $3 == "cgroup2" { if ("" in own) print $2, own[""]; next }
                $3 == "cgroup" {
                        n = split($4, opts, ",")
                        for (key in own) {
                                if (key == "") continue
                                m = split(key, ctrls, ","); found = 0
                                for (i = 1; i <= m; i++) for (j = 1; j <= n; j++) if (opts[j] == ctrls[i]) found++
                                if (found == m) { print $2, own[key]; break }
                        }
                }' "/proc/${1:-self}/cgroup" /proc/self/mounts
}

# The directory of this shell's own cgroup in the v1 hierarchy holding CONTROLLER (e.g. cpu).
bench_own_dir() {
        bench_hierarchies | awk -v c="$1" '{ n = split($1, p, "/"); if (p[n] == c || p[n] ~ "(^|,)" c "(,|$)") { print ($2 == "/" ? $1 : $1 $2); exit } }'
}

# The group directories of process $1, one per mounted hierarchy.
bench_pid_groups() {
        bench_hierarchies "$1" | awk '{ print ($2 == "/" ? $1 : $1 $2) }'
}

# Creates <own cgroup in CONTROLLER>/<prefix>-<run id>-SUFFIX and prints its path.
bench_make_group() {
        local base dir
        base="$(bench_own_dir "$1")"
        [ -n "$base" ] || bench_die "no cgroup hierarchy for controller '$1'"
        dir="$base/$BENCH_PREFIX-$BENCH_RUN_ID-$2"
        mkdir -p "$dir" || bench_die "cannot create '$dir'"
        echo "$dir"
}

# Remembers a pid to kill at cleanup (processes outside the bench groups: agent, loaders).
bench_track() {
        BENCH_TRACKED_PIDS="$BENCH_TRACKED_PIDS $*"
}

# CPU time (utime + stime) of one process in clock ticks, all its threads; 0 if it is gone.
bench_proc_ticks() {
        awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# Sum of bench_proc_ticks over the processes in a cgroup directory (cgroup.procs).
bench_group_ticks() {
        local sum=0 pid t
        for pid in $(cat "$1/cgroup.procs" 2>/dev/null); do
                t="$(bench_proc_ticks "$pid")"
                sum=$((sum + t))
        done
        echo "$sum"
}

# The processes of a cgroup directory and all groups below it.
bench_group_pids() {
        find "$1" -name cgroup.procs -exec cat {} + 2>/dev/null
}

# Waits until PATH exists (a pid file, a cgroup), up to SECONDS (default 5).
bench_wait_for() {
        local path="$1" tries=$(( ${2:-5} * 20 ))
        while [ ! -e "$path" ] && [ "$tries" -gt 0 ]; do
                sleep 0.05
                tries=$((tries - 1))
        done
        [ -e "$path" ]
}

# A TCP port on 127.0.0.1 that nothing listens on.
bench_free_port() {
        local port
        for _ in $(seq 1 50); do
                port=$(( 20000 + RANDOM % 20000 ))
                if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
                        echo "$port"
                        return 0
                fi
        done
        bench_die "no free TCP port found"
}

# Waits until something accepts connections on 127.0.0.1:PORT (up to 5 s).
bench_wait_port() {
        for _ in $(seq 1 100); do
                (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
                sleep 0.05
        done
        return 1
}

# True while a process exists and is not a zombie (our own children stay zombies until waited for).
bench_alive() {
        local state
        state="$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null)" || return 1
        [ -n "$state" ] && [ "$state" != Z ]
}

# Stops the given pids: SIGTERM, then SIGKILL after 2 s.
bench_stop_pids() {
        local pid tries
        for pid in "$@"; do
                kill -TERM "$pid" 2>/dev/null || true
        done
        for pid in "$@"; do
                tries=40
                while bench_alive "$pid" && [ "$tries" -gt 0 ]; do
                        sleep 0.05
                        tries=$((tries - 1))
                done
                kill -KILL "$pid" 2>/dev/null || true
        done
        return 0
}

# Kills every process in this run's group <prefix>-<run id>-SUFFIX (default: in all of this
# run's groups) in every hierarchy, then removes the groups, deepest first.
bench_remove_groups() {
        local mnt own dir pid tries
        while read -r mnt own; do
                for dir in "$mnt${own%/}/$BENCH_PREFIX-$BENCH_RUN_ID-"${1:-*}; do
                        [ -d "$dir" ] || continue
                        for tries in 1 2 3 4 5 6 7 8 9 10; do
                                for pid in $(bench_group_pids "$dir"); do
                                        kill -KILL "$pid" 2>/dev/null || true
                                done
                                [ -z "$(bench_group_pids "$dir")" ] && break
                                sleep 0.1
                        done
                        find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
                        if [ -d "$dir" ]; then
                                echo "warning: could not remove '$dir'" >&2
                        fi
                done
        done < <(bench_hierarchies)
        return 0
}

# Kills the tracked pids and every process in this run's bench groups, removes the groups and
# the temporary directory. Safe to call more than once; installed as the EXIT/INT/TERM trap.
bench_cleanup() {
        # A second signal must not cut the cleanup short and leave scratch cgroups behind.
        trap '' INT TERM HUP PIPE
        bench_stop_pids $BENCH_TRACKED_PIDS
        BENCH_TRACKED_PIDS=""
        bench_remove_groups
        if [ -n "$BENCH_TMP" ]; then
                rm -rf "$BENCH_TMP"
        fi
        BENCH_TMP=""
        return 0
}

# Starts CMD... in the background inside cgroup directory GROUP (the child joins the group
# before exec, so it never runs outside it); sets BENCH_SPAWNED_PID.
bench_spawn_in() {
        local group="$1"
        shift
        sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$group" "$@" &
        BENCH_SPAWNED_PID=$!
}

# bench_spawn_in with several groups, one per hierarchy (a space-separated list of directories
# without spaces): the child joins all of them before exec.
bench_spawn_in_groups() {
        local groups="$1"
        shift
        sh -c 'for g in $0; do echo $$ > "$g/cgroup.procs" || exit 1; done; exec "$@"' "$groups" "$@" &
        BENCH_SPAWNED_PID=$!
}

# Creates the run's temporary directory.
bench_tmpdir() {
        BENCH_TMP="$(mktemp -d /tmp/colo-bench.XXXXXX)" || bench_die "mktemp failed"
        chmod 755 "$BENCH_TMP"
}

# Reads a field from colo-loadgen's JSON output on stdin: bench_json_get .latency_us.p99
bench_json_get() {
        jq -r "$1"
}

# Load average over the last minute, and a warning if the machine is not quiet.
# Sets BENCH_LOAD1 (recorded in the results).
bench_check_quiet() {
        local load
        load="$(cut -d" " -f1 /proc/loadavg)"
        BENCH_LOAD1="$load"
        echo "load average (1 min): $load"
        if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
                echo "warning: the machine is not quiet (load $load > 0.5); figures will be noisy" >&2
        fi
}

# Starts `colo agent` (binary $1) managing subtree $2 (relative: below this shell's cgroup), with
# its state directory and log in $BENCH_TMP, metrics on a free 127.0.0.1 port, and any further
# YAML (whole sections, not "metrics:") from $3. Waits for its first status file. Sets
# BENCH_AGENT_PID, BENCH_AGENT_STATE, BENCH_AGENT_LOG, BENCH_METRICS_PORT, BENCH_SUBTREE.
bench_start_agent() {
        local colo="$1" subtree="$2" extra="${3:-}"
        BENCH_SUBTREE="$subtree"
        BENCH_AGENT_STATE="$BENCH_TMP/state-$subtree"
        BENCH_AGENT_LOG="$BENCH_TMP/agent-$subtree.log"
        BENCH_METRICS_PORT="$(bench_free_port)"
        mkdir -p "$BENCH_AGENT_STATE"
        printf 'metrics:\n  port: %s\n%s\n' "$BENCH_METRICS_PORT" "$extra" >"$BENCH_AGENT_STATE.yaml"
        "$colo" agent --config "$BENCH_AGENT_STATE.yaml" --subtree "$subtree" --state-dir "$BENCH_AGENT_STATE" \
                2>"$BENCH_AGENT_LOG" &
        BENCH_AGENT_PID=$!
        bench_track "$BENCH_AGENT_PID"
        if ! bench_wait_for "$BENCH_AGENT_STATE/status.json" 10; then
                tail -5 "$BENCH_AGENT_LOG" >&2
                bench_die "colo agent did not write its status file"
        fi
}

# `colo run` against the agent started by bench_start_agent, in the background, its messages
# into $BENCH_TMP/colo-run.log; sets BENCH_SPAWNED_PID (the `colo run` supervisor) and tracks it.
bench_colo_run() {
        local colo="$1"
        shift
        "$colo" run --subtree "$BENCH_SUBTREE" --state-dir "$BENCH_AGENT_STATE" "$@" 2>>"$BENCH_TMP/colo-run.log" &
        BENCH_SPAWNED_PID=$!
        bench_track "$BENCH_SPAWNED_PID"
}

# The directory of a managed group (path relative to the managed root, e.g. "offline" or
# "online/normal/web") in the hierarchy holding CONTROLLER.
# The directory of a tree path of colo's ("" = the subtree, "online/normal/x", "offline/..."):
# with agent.offline_placement top (the default) the offline parent is the subtree's sibling
# <subtree>.offline; with subtree, or where that sibling is absent, <subtree>/offline.
bench_managed_dir() {   # $1 controller, $2 relative path
        local own
        own="$(bench_own_dir "$1")"
        case "${2:-}" in
        offline | offline/*)
                if [ -d "$own/$BENCH_SUBTREE.offline" ]; then
                        echo "$own/$BENCH_SUBTREE.offline${2#offline}"
                        return
                fi ;;
        esac
        echo "$own/$BENCH_SUBTREE${2:+/$2}"
}

# Waits until workload NAME's leaf exists in the cpu hierarchy and has a process; prints the leaf.
bench_wait_workload() {  # $1 name
        local leaf tries=100
        while [ "$tries" -gt 0 ]; do
                leaf="$(find "$(bench_managed_dir cpu)" -mindepth 3 -maxdepth 3 -type d -name "$1" -print -quit 2>/dev/null)"
                [ -n "$leaf" ] || leaf="$(find "$(bench_managed_dir cpu offline)" -mindepth 2 -maxdepth 2 -type d \
                        -name "$1" -print -quit 2>/dev/null)"
                if [ -n "$leaf" ] && [ -n "$(cat "$leaf/cgroup.procs" 2>/dev/null)" ]; then
                        echo "$leaf"
                        return 0
                fi
                sleep 0.05
                tries=$((tries - 1))
        done
        return 1
}

# One value from the agent's Prometheus metrics (exact metric name, no labels).
bench_metric() {
        # awk reads to the end (no early exit): with pipefail, an early exit would kill the
        # writer with SIGPIPE and the whole script with it once the page outgrows a pipe buffer.
        bench_metrics | awk -v m="$1" '$1 == m && !found { print $2; found = 1 }'
}

# The agent's /metrics page (plain HTTP/1.0 over bash's /dev/tcp: no curl needed).
bench_metrics() {
        (
                exec 3<>"/dev/tcp/127.0.0.1/$BENCH_METRICS_PORT" || exit 1
                printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
                timeout 2 cat <&3
        ) 2>/dev/null | tr -d '\r'
}
