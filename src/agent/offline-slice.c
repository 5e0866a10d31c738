/* The offline slice and scope on cgroup v2 (agent.h). Crash-only: nothing is kept about
 * them but their names, derived from the subtree; each start asks systemd what it has (the
 * units' ActiveState) and the cgroup on disk (the holder's leaf), and makes only what is missing,
 * so a restarted agent finds the scope its offline work still runs in. The holder is a process
 * of its own (sleep, re-parented to init), not the agent: a scope lives as long as a process is
 * in it, and the agent's restarts must not end it. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/systemd-slices.h"
#include "cgroup/cgroup.h"
#include "systemd/offline-units.h"
#include "systemd/systemd-bus.h"
#include "systemd/unit-props.h"
#include "util/log.h"

/* What the holder runs: tiny, in every Debian, and it waits forever without waking up. */
#define HOLDER_PROGRAM "/bin/sleep"
#define HOLDER_ARGV0 "colo-offline-holder"

struct AgentOfflineSlice {
        AgentSlices *slices;            /* owns the bus; the slice's CPUWeight held like a pod slice's */
        OfflineUnits units;
};

AgentOfflineSlice *agent_offline_slice_free(AgentOfflineSlice *o) {
        if (!o)
                return NULL;
        agent_slices_free(o->slices);
        free(o);
        return NULL;
}

/* The holder's own process: forked twice so that init adopts it (it outlives the agent), in a
 * session of its own, with none of the agent's fds (its lock, state dir and sockets), stdio on
 * /dev/null and no blocked signals (systemctl stop ends it with SIGTERM). Its pid or -errno. */
static pid_t spawn_holder(void) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        pid_t mid = fork();
        if (mid < 0) {
                int e = errno;
                (void) close(p[0]);
                (void) close(p[1]);
                return -e;
        }
        if (mid == 0) {
                (void) setsid();
                pid_t holder = fork();
                if (holder == 0) {
                        sigset_t none;
                        sigemptyset(&none);
                        (void) sigprocmask(SIG_SETMASK, &none, NULL);
                        int null = open("/dev/null", O_RDWR);
                        if (null >= 0)
                                for (int fd = 0; fd < 3; fd++)
                                        (void) dup2(null, fd);
                        (void) close_range(3, ~0U, 0);
                        execl(HOLDER_PROGRAM, HOLDER_ARGV0, "infinity", (char *) NULL);
                        _exit(127);
                }
                ssize_t n = write(p[1], &holder, sizeof(holder));
                _exit(holder > 0 && n == (ssize_t) sizeof(holder) ? 0 : 1);
        }
        (void) close(p[1]);
        pid_t holder = -1;
        ssize_t n = read(p[0], &holder, sizeof(holder));
        (void) close(p[0]);
        (void) waitpid(mid, NULL, 0);
        return n == (ssize_t) sizeof(holder) && holder > 0 ? holder : -ECHILD;
}

/* The slice: kept when systemd has it active, made otherwise. "" or the cause. */
static int ensure_slice(SystemdBus *bus, const OfflineUnits *u, char *cause, size_t size) {
        ColoError err = {};
        char state[40];
        if (systemd_unit_active_state(bus, u->slice, state, sizeof(state), &err) >= 0 && strcmp(state, "active") == 0)
                return 0;
        TransientProp props[TRANSIENT_PROPS_MAX];
        size_t n = offline_units_slice_props(u, props);
        int r = systemd_start_transient(bus, u->slice, props, n, &err);
        if (r == -EEXIST)       /* another agent, or a start racing ours: it is there */
                return 0;
        if (r < 0)
                snprintf(cause, size, "systemd refused the slice '%s': %s", u->slice, colo_error_msg(&err));
        else
                log_info("Made the systemd slice '%s' (CPUWeight=idle) for offline work.", u->slice);
        return r;
}

/* A new holder, or -errno with the cause. */
static pid_t start_holder(char *cause, size_t size) {
        pid_t holder = spawn_holder();
        if (holder < 0)
                snprintf(cause, size, "cannot start the scope's holder process: %s", strerror((int) -holder));
        return holder;
}

/* Moves the holder into the scope's leaf, or kills it (a scope whose only process ends is
 * stopped by systemd, so the next start makes both again). */
static int move_holder(const char *fs_root, const OfflineUnits *u, pid_t holder, char *cause, size_t size) {
        ColoError err = {};
        int r = cg_v2_move_into_leaf(fs_root, u->dir, OFFLINE_UNITS_HOLDER_LEAF, holder, &err);
        if (r < 0) {
                (void) kill(holder, SIGKILL);
                snprintf(cause, size, "cannot move the holder into the scope's leaf: %s", colo_error_msg(&err));
        }
        return r;
}

/* A scope that is there keeps its holder; one whose holder ended gets a new one in its leaf. */
static int ensure_holder(const char *fs_root, const OfflineUnits *u, char *cause, size_t size) {
        if (cg_v2_leaf_populated(fs_root, u->dir, OFFLINE_UNITS_HOLDER_LEAF) > 0)
                return 0;
        pid_t holder = start_holder(cause, size);
        if (holder < 0)
                return (int) holder;
        int r = move_holder(fs_root, u, holder, cause, size);
        if (r >= 0)
                log_info("Started the holder (pid %d) of the systemd scope '%s' in '%s/%s'.", (int) holder, u->scope,
                         u->dir, OFFLINE_UNITS_HOLDER_LEAF);
        return r;
}

/* The scope: reused when active (a restarted agent), made with a new holder otherwise. */
static int ensure_scope(SystemdBus *bus, const char *fs_root, const OfflineUnits *u, char *cause, size_t size) {
        ColoError err = {};
        char state[40];
        if (systemd_unit_active_state(bus, u->scope, state, sizeof(state), &err) >= 0 && strcmp(state, "active") == 0) {
                log_info("Reusing the systemd scope '%s' in '%s'.", u->scope, u->slice);
                return ensure_holder(fs_root, u, cause, size);
        }
        pid_t holder = start_holder(cause, size);
        if (holder < 0)
                return (int) holder;
        TransientProp props[TRANSIENT_PROPS_MAX];
        size_t n = offline_units_scope_props(u, holder, props);
        int r = systemd_start_transient(bus, u->scope, props, n, &err);
        if (r < 0) {
                (void) kill(holder, SIGKILL);
                snprintf(cause, size, "systemd refused the scope '%s': %s", u->scope, colo_error_msg(&err));
                return r;
        }
        r = move_holder(fs_root, u, holder, cause, size);
        if (r >= 0)
                log_info("Made the systemd scope '%s' (Delegate=yes) in '%s', held by pid %d.", u->scope, u->slice,
                         (int) holder);
        return r;
}

static bool wanted_here(const Agent *a, const char *fs_root) {
        return config_offline_at_top(&a->config) && strcmp(a->config.agent.cgroup_mode, "v1") != 0 &&
               cg_is_v2_mount(fs_root);
}

AgentOfflineSlice *agent_offline_slice_ensure(Agent *a, char *ret_dir, size_t dir_size, char *ret_cause,
                                              size_t cause_size) {
        const char *fs_root = a->config.agent.cgroup_fs_root[0] ? a->config.agent.cgroup_fs_root : "/sys/fs/cgroup";
        ret_cause[0] = ret_dir[0] = '\0';
        if (!wanted_here(a, fs_root))
                return NULL;
        AgentOfflineSlice *o = calloc(1, sizeof(*o));
        if (!o) {
                snprintf(ret_cause, cause_size, "out of memory");
                return NULL;
        }
        if (offline_units_for_subtree(a->subtree, &o->units) < 0) {
                snprintf(ret_cause, cause_size, "the subtree name '%s' makes no systemd unit name", a->subtree);
                return agent_offline_slice_free(o);
        }
        ColoError err = {};
        SystemdBus *bus = NULL;
        if (systemd_bus_open(&bus, &err) < 0) {
                snprintf(ret_cause, cause_size, "colo cannot reach systemd on the system bus (%s), so it cannot make "
                         "the top-level slice '%s' with CPUWeight=idle", colo_error_msg(&err), o->units.slice);
                return agent_offline_slice_free(o);
        }
        bool idle = systemd_supports_cpu_idle(bus);
        o->slices = agent_slices_new_on_bus(a, bus, idle);
        if (!o->slices || !idle) {
                snprintf(ret_cause, cause_size, "%s", o->slices ? "systemd here is older than 252 and has no "
                         "CPUWeight=idle for a top-level slice" : "out of memory");
                return agent_offline_slice_free(o);
        }
        /* A dry run makes nothing: it follows the scope if one is there (the cgroup layer looks). */
        if (!a->opts.dry_run && (ensure_slice(bus, &o->units, ret_cause, cause_size) < 0 ||
                                 ensure_scope(bus, fs_root, &o->units, ret_cause, cause_size) < 0))
                return agent_offline_slice_free(o);
        snprintf(ret_dir, dir_size, "%s", o->units.dir);
        return o;
}

void agent_offline_slice_hold(AgentOfflineSlice *o) {
        if (!o)
                return;
        UnitWant want = {};
        want.props.mask = UNIT_PROP_BIT(UNIT_PROP_CPU_WEIGHT);
        want.props.value[UNIT_PROP_CPU_WEIGHT] = UNIT_CPU_WEIGHT_IDLE;
        agent_slices_hold(o->slices, o->units.slice, &want);
}
