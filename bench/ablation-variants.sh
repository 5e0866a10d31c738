# shellcheck shell=bash
# The variants of the ablation benchmark (bench/ablation.sh): phases of bench/interference.sh
# beside its alone, plain and colo. Sourced by interference.sh and ablation.sh, not run.
#
# Four kinds of phase, each setting up memcached, the two offline hogs and where the load
# generator runs (interference.sh's start_service, start_colo and spawn_loadgen do the work):
#   plain    alone, plain: memcached (and hogs) in interference.sh's plain group
#   knob     no agent: memcached and the load generator in an online group directly below the
#            script's cgroup (the cpu root on the benchmark host), the hogs in a cpu.idle group
#            beside it, with one knob changed per variant (start_knob below)
#   colo     `colo agent` with its defaults plus the variant's YAML (variant_yaml), memcached and
#            the load generator under `colo run --class online`, the hogs under --class offline
#   outside  memcached and the load generator in the plain group, outside colo's subtree; the
#            agent manages only the hogs

ABLATION_VARIANTS="alone knob-idle knob-idle-shares knob-idle-leaves knob-idle-leaves-shares knob-idle-nested"
ABLATION_VARIANTS+=" knob-mirror knob-cpuset knob-colo-layout knob-depth knob-depth-memory knob-depth-mirror knob-depth-acct-pids knob-depth-top-shares colo colo-no-cpu-weight colo-no-cpu-control colo-cpu-control colo-no-memory-limit"
ABLATION_VARIANTS+=" colo-no-fast-reaction colo-no-cpu-poll colo-period-10s colo-subtree colo-outside colo-one-group colo-no-root-weight colo-agent-in-place"
ABLATION_VARIANTS+=" colo-target-0.5 colo-target-2 colo-target-5 colo-target-10"

# The kind of a phase (see above); fails for an unknown phase.
variant_kind() {
        case "$1" in
        alone | plain) echo plain ;;
        knob-idle | knob-idle-shares | knob-idle-leaves | knob-idle-leaves-shares | knob-idle-nested | \
                knob-mirror | knob-cpuset | knob-colo-layout | knob-depth*) echo knob ;;
        colo-outside) echo outside ;;
        *) variant_yaml "$1" >/dev/null && echo colo ;;
        esac
}

# One line on what a phase runs, for the summary table.
variant_describe() {
        case "$1" in
        alone) echo "memcached alone (the reference)" ;;
        plain) echo "the hogs beside memcached in one plain group, no isolation" ;;
        knob-idle) echo "no agent: hogs in a cpu.idle group at the top, memcached + load generator in one group (shares 1024)" ;;
        knob-idle-shares) echo "knob-idle with cpu.shares 102400 on the online group" ;;
        knob-idle-leaves) echo "knob-idle with memcached and the load generator in separate leaves of the online group" ;;
        knob-idle-leaves-shares) echo "knob-idle-leaves with cpu.shares 102400 on the online group" ;;
        knob-idle-nested) echo "knob-idle with the cpu.idle group nested in a normal-weight group (colo's old layout)" ;;
        knob-mirror) echo "knob-idle-leaves-shares, every group also mirrored into the cgroup2 mount at colo's depth (PSI)" ;;
        knob-cpuset) echo "knob-idle-leaves-shares, every group also in the cpuset hierarchy at colo's depth (all CPUs)" ;;
        knob-colo-layout) echo "no agent, colo's groups rebuilt: cpu, cpuacct, cpuset, memory, pids and the cgroup2 mirror at colo's depth, cpu.shares 102400 online, cpu.idle offline" ;;
        knob-depth) echo "knob-colo-layout in the cpu hierarchy only (colo's depth, shares and cpu.idle)" ;;
        knob-depth-memory) echo "knob-depth plus the memory hierarchy at colo's depth" ;;
        knob-depth-mirror) echo "knob-depth plus the cgroup2 mirror at colo's depth (PSI)" ;;
        knob-depth-acct-pids) echo "knob-depth plus the cpuacct and pids hierarchies at colo's depth" ;;
        knob-depth-top-shares) echo "knob-depth with cpu.shares 102400 also on the top group holding online (the offline group's sibling)" ;;
        colo) echo "colo, default configuration" ;;
        colo-outside) echo "colo manages only the hogs; memcached + load generator in a plain group outside its subtree" ;;
        colo-one-group) echo "colo, the load generator in memcached's own groups (one workload, as in knob-idle-shares)" ;;
        *) echo "colo with $(variant_yaml "$1" | awk '/^[a-z]/ { s = $1 } /^ / { printf "%s%s.%s %s", sep, s, $1, $2; sep = ", " }' | tr -d ':' | sed 's/\. /: /g')" ;;
        esac
}

# The agent configuration (whole YAML sections) a colo variant adds to the defaults; fails for a
# phase that is not a colo variant.
variant_yaml() {
        local target
        case "$1" in
        colo | colo-outside | colo-one-group) ;;
        # The managed root (the offline group's sibling) at the kernel's default weight.
        colo-no-root-weight) printf 'features:\n  root_cpu_weight: false\n' ;;
        colo-agent-in-place) printf 'agent:\n  own_cpu_group: false\n' ;;
        colo-no-cpu-weight) printf 'features:\n  cpu_weight: false\n' ;;
        colo-no-cpu-control) printf 'features:\n  cpu_control: false\n' ;;
        colo-cpu-control) printf 'features:\n  cpu_control: true\n' ;;
        # memory_throttle needs memory_limit: both off leave no memory limit on offline work.
        colo-no-memory-limit) printf 'features:\n  memory_limit: false\n  memory_throttle: false\n' ;;
        # Off: no PSI triggers and no v1 memory-usage thresholds (eventfds), the period only.
        colo-no-fast-reaction) printf 'agent:\n  fast_reaction: false\n' ;;
        colo-no-cpu-poll) printf 'agent:\n  cpu_pressure_poll: 0s\n' ;;
        colo-period-10s) printf 'agent:\n  period: 10s\n' ;;
        colo-subtree) printf 'agent:\n  offline_placement: subtree\n' ;;
        colo-target-*)
                target="${1#colo-target-}"
                [[ "$target" =~ ^[0-9]+(\.[0-9]+)?$ ]] || return 1
                # The controller on (the default, auto, takes no CPU-pressure input under cpu.idle),
                # the release level at half the target, as the defaults have it (1 and 0.5).
                printf 'features:\n  cpu_control: true\nisolation:\n  cpu_pressure_target: %s\n  cpu_pressure_release: %s\n' "$target" \
                        "$(echo "scale = 3; $target / 2" | bc | sed 's/^\./0./; s/0*$//; s/\.$//')"
                ;;
        *) return 1 ;;
        esac
}

# What a colo variant changes by hand once memcached runs under the agent (MC_PID set):
# colo-one-group puts the load generator in memcached's groups in every hierarchy (LG_WHERE).
variant_colo_started() {
        case "$1" in
        colo-one-group) LG_WHERE="$(bench_pid_groups "$MC_PID" | tr '\n' ' ')" ;;
        esac
}

# The CPU-pressure target of a phase on the trade-off curve: a percentage, "off", or nothing.
variant_curve_target() {
        case "$1" in
        colo-cpu-control) echo 1 ;;
        colo-no-cpu-control) echo off ;;
        colo-target-*) echo "${1#colo-target-}" ;;
        esac
}

# Creates a cpuset group with the CPUs and memory nodes of its parent (v1 starts it empty, and
# no task may join an empty cpuset).
cpuset_mkdir() {        # $1 directory
        [ -d "$1" ] && return 0
        cpuset_mkdir "$(dirname "$1")"
        if ! { mkdir "$1" && cat "$(dirname "$1")/cpuset.cpus" >"$1/cpuset.cpus" &&
                cat "$(dirname "$1")/cpuset.mems" >"$1/cpuset.mems"; }; then
                bench_die "cannot set up cpuset '$1'"
        fi
}

# Groups in one hierarchy (a v1 controller, or unified: the cgroup2 mount) at the depth of colo's
# (<subtree>/online/normal/<name> and <subtree>.offline/batch/<name>): <group name>-m/online/normal/
# {memcached,loadgen} and <group name>-moff/batch/hogs, appended to MC_GROUPS, LG_WHERE and
# HOG_GROUPS.
knob_mirror_in() {      # $1 hierarchy, $2 group name
        local own on off d
        own="$(bench_own_dir "$1")"
        [ -n "$own" ] || bench_die "no cgroup hierarchy '$1' mounted"
        on="$own/$BENCH_PREFIX-$BENCH_RUN_ID-$2-m/online/normal"
        off="$own/$BENCH_PREFIX-$BENCH_RUN_ID-$2-moff/batch/hogs"
        for d in "$on/memcached" "$on/loadgen" "$off"; do
                if [ "$1" = cpuset ]; then
                        cpuset_mkdir "$d"
                else
                        mkdir -p "$d" || bench_die "cannot create '$d'"
                fi
        done
        MC_GROUPS="$MC_GROUPS $on/memcached"
        LG_WHERE="$LG_WHERE $on/loadgen"
        HOG_GROUPS="$HOG_GROUPS $off"
}

# Creates the groups of knob variant $1 in round $2 (all named colo-bench-<pid>-$1-r$2-*, so
# `bench_remove_groups "$1-r$2-*"` removes them) and sets MC_GROUPS, LG_WHERE and HOG_GROUPS:
# the groups memcached, the load generator and the hogs join.
start_knob_groups() {
        local v="$1" name="$1-r$2" on off h
        local layout
        case "$v" in
        knob-colo-layout) layout="cpu cpuacct cpuset memory pids unified" ;;
        knob-depth | knob-depth-top-shares) layout="cpu" ;;
        knob-depth-memory) layout="cpu memory" ;;
        knob-depth-mirror) layout="cpu unified" ;;
        knob-depth-acct-pids) layout="cpu cpuacct pids" ;;
        esac
        if [ -n "${layout:-}" ]; then
                MC_GROUPS=""; LG_WHERE=""; HOG_GROUPS=""
                for h in $layout; do
                        knob_mirror_in "$h" "$name"
                done
                on="$(bench_own_dir cpu)/$BENCH_PREFIX-$BENCH_RUN_ID-$name-m/online"
                echo 102400 >"$on/cpu.shares" || bench_die "cannot write '$on/cpu.shares'"
                echo 1 >"${on%-m/online}-moff/cpu.idle" || bench_die "cannot write cpu.idle below '${on%-m/online}-moff'"
                if [ "$v" = knob-depth-top-shares ]; then
                        echo 102400 >"${on%/online}/cpu.shares" || bench_die "cannot write '${on%/online}/cpu.shares'"
                fi
                return
        fi
        on="$(bench_make_group cpu "$name-on")" || exit 1
        case "$v" in
        knob-idle-nested) off="$(bench_make_group cpu "$name-nest")/offline"; mkdir "$off" ;;
        *) off="$(bench_make_group cpu "$name-off")" || exit 1 ;;
        esac
        [ -f "$off/cpu.idle" ] || bench_die "this kernel has no cpu.idle in the cgroup v1 cpu controller"
        echo 1 >"$off/cpu.idle" || bench_die "cannot write '$off/cpu.idle'"
        case "$v" in
        *-shares | knob-mirror | knob-cpuset) echo 102400 >"$on/cpu.shares" || bench_die "cannot write '$on/cpu.shares'" ;;
        esac
        case "$v" in
        knob-idle | knob-idle-shares | knob-idle-nested) MC_GROUPS="$on"; LG_WHERE="$on" ;;
        *)
                mkdir "$on/memcached" "$on/loadgen"
                MC_GROUPS="$on/memcached"
                LG_WHERE="$on/loadgen"
                ;;
        esac
        HOG_GROUPS="$off"
        case "$v" in
        knob-mirror) knob_mirror_in unified "$name" ;;
        knob-cpuset) knob_mirror_in cpuset "$name" ;;
        esac
}
