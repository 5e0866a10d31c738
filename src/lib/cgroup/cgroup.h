/* The cgroup layer: one interface over cgroup v1, v2 and hybrid mounts for reading usage and
 * applying knobs below colo's managed root. Everything else in colo sees groups by their path
 * relative to that root ("offline/batch/job1"); this layer maps a path to one directory per v1
 * controller hierarchy, or to the one v2 directory.
 *
 * The filesystem root is a runtime value so tests point it at a fake tree of plain files
 * (cg_root_open() with CG_MODE_V1 or CG_MODE_V2); the agent uses CG_MODE_DETECT on /sys/fs/cgroup.
 * Writes are diffed against what was last applied, so a steady state costs no syscalls; every
 * failed write is reported with its full path. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/knobs.h"
#include "util/error.h"

typedef enum CgMode {
        CG_MODE_DETECT,         /* statfs() the mount points below fs_root */
        CG_MODE_V1,             /* one hierarchy per controller: fs_root/<controller>/... */
        CG_MODE_V2,             /* unified: fs_root/... */
        _CG_MODE_MAX,
        _CG_MODE_INVALID = -EINVAL,
} CgMode;

/* Controllers colo uses. A v1 node may have some of them; hybrid = v1 controllers plus a v2 mount. */
typedef enum CgController {
        CG_CTRL_CPU,            /* v1 "cpu" (+ "cpuacct" for usage), v2 "cpu" */
        CG_CTRL_CPUSET,
        CG_CTRL_MEMORY,
        CG_CTRL_IO,             /* v1 "blkio", v2 "io" */
        CG_CTRL_PIDS,           /* v1 and v2 "pids" */
        _CG_CTRL_MAX,
} CgController;

typedef struct CgRootOptions {
        const char *fs_root;            /* default "/sys/fs/cgroup" */
        CgMode mode;                    /* default CG_MODE_DETECT */
        const char *proc_self_cgroup;   /* default "/proc/self/cgroup"; tests pass a fixture */
        /* Managed root inside each hierarchy. Relative ("colo"): below the cgroup this process is
         * in (read from proc_self_cgroup) in each hierarchy. Absolute ("/colo.slice/colo"): that
         * path from each hierarchy's root. NULL means "colo". */
        const char *subtree;
        bool create;                    /* mkdir the managed root if missing */
        const char *proc_root;          /* default "/proc": where /proc/<pid>/oom_score_adj lives */
        bool report_successes;          /* also call the CgWriteCallback for successful writes */
        /* A first-level group of the tree ("offline") placed next to the managed root instead of
         * below it, as "<subtree name>.<top_group>" in the managed root's parent (cgroup-top.c),
         * so that cpu.idle there makes it idle next to everything in that parent, not only next
         * to the tree's other groups. NULL: every group below the managed root. */
        const char *top_group;
        /* cgroup v2: the directory, from the hierarchy's root, that holds the top group as
         * "<top_dir>/<top_group>": a delegated systemd scope in a top-level slice with
         * CPUWeight=idle, made by the agent (src/agent/offline-slice.c; the cgroup layer talks to
         * no bus). Without create, a top_dir missing on disk leaves the group below the managed
         * root. NULL on v2: not placed, and top_cause says why. Ignored on v1. */
        const char *top_dir;
        const char *top_cause;
} CgRootOptions;

typedef struct CgRoot CgRoot;   /* opaque; owns directory fds of the managed root */
typedef struct CgGroup CgGroup; /* opaque; one group below the root, owns its directory fds */

typedef struct CgUsage {
        uint64_t cpu_usage_usec;        /* cumulative CPU time */
        uint64_t cpu_nr_periods, cpu_nr_throttled, cpu_throttled_usec;
        uint64_t mem_usage;             /* bytes charged (v1 usage_in_bytes, v2 memory.current) */
        uint64_t mem_working_set;       /* usage minus inactive file cache, as kubelet computes it */
        uint64_t mem_limit;             /* the group's own memory.max / limit_in_bytes; CG_UNLIMITED if none */
        uint64_t mem_oom_kills;         /* where the kernel reports it (v2 memory.events, v1 oom_control) */
        CgPressure cpu_pressure, mem_pressure, io_pressure;    /* valid only where the kernel has them */
        size_t nr_tasks;                /* processes in the group, including descendants */
} CgUsage;

/* Reports each write: path is the full path of the file, r is 0 or -errno. Called for failures
 * always, and for successes too when CgRootOptions.report_successes is set (an audit trail). */
typedef void (*CgWriteCallback)(void *userdata, const char *path, const char *value, int r);

/* Dry run: each write the cgroup layer would make, with the file's full path, its current content
 * on one line ("(group not created yet)" for a group a real run would create) and the value. */
typedef void (*CgDryRunRecorder)(void *userdata, const char *path, const char *old_value, const char *new_value);

/* --- root --- */
/* Detects the layout, resolves the managed root in each hierarchy and opens it (creating it when
 * opts->create; v1 cpuset directories get their parent's cpus/mems). opts NULL = all defaults.
 * The root must outlive every CgGroup opened from it. Holds one directory fd per hierarchy. */
int cg_root_open(const CgRootOptions *opts, CgRoot **ret, ColoError *err);
CgRoot *cg_root_free(CgRoot *root);     /* NULL-safe, returns NULL */
CgMode cg_root_mode(const CgRoot *root);                /* V1 or V2 (hybrid reports V1) */
bool cg_root_is_hybrid(const CgRoot *root);             /* v1 controllers plus a cgroup2 mount */
bool cg_root_has_controller(const CgRoot *root, CgController c);
/* Absolute path of the managed root in the hierarchy of c (v2: the one directory); NULL when
 * that v1 hierarchy is not mounted. */
const char *cg_root_path(const CgRoot *root, CgController c);
/* v2: why controller c is missing from the managed root, for the operator (cause: what is wrong,
 * naming the cgroup; fix: what to change). -EEXIST when it is there, -EINVAL on v1. */
int cg_root_explain_missing(const CgRoot *root, CgController c, char *cause, size_t cause_size, char *fix,
                            size_t fix_size);
/* The one record-only switch (record != NULL): from now on no file under a cgroup mount or /proc
 * is written and no directory made; each write is handed to record instead and reported to its
 * caller as done, so everything above the cgroup layer runs exactly as in a real run. Groups a
 * real run would create open without directories (their writes recorded too, no tasks). NULL
 * turns it off. */
void cg_root_set_dry_run(CgRoot *root, CgDryRunRecorder record, void *userdata);
bool cg_root_is_dry_run(const CgRoot *root);
/* Human-readable description of the managed root: each hierarchy's absolute path. */
const char *cg_root_describe(const CgRoot *root);
/* Where the top group of CgRootOptions.top_group is (cg_root_offline_top()). */
typedef struct CgTopGroup {
        bool requested;         /* CgRootOptions.top_group was set */
        bool placed;            /* its tree paths live next to the managed root */
        /* v1: placed in the root cgroup of the cpu hierarchy; v2: its scope's slice is a child of
         * the root with cpu.idle 1. Either way idle next to everything. */
        bool parent_is_root;
        bool in_systemd_unit;   /* v2: placed in the offline scope (top_dir) */
        int error;              /* requested and not placed: -errno (-EOPNOTSUPP on v2 without top_dir) */
        char path[PATH_MAX];    /* the group's directory in the cpu hierarchy, in either layout */
        char parent[PATH_MAX];  /* the cgroup holding it */
        char cause[400];        /* requested and not placed: why, naming the cgroup */
} CgTopGroup;
/* Requested, placed or why not (all false for a root opened without top_group). Placing happens
 * in cg_root_open(). A tree in the old layout ("<subtree>/<top_group>" and no sibling: made by an
 * agent that could not place it, or before the option) keeps it below the managed root, unless
 * opts->create and every group of it is empty: then those are removed. With opts->create the
 * group is then made in every hierarchy (a mkdir failing in one removes what was made, and
 * leaves the group below the managed root). */
const CgTopGroup *cg_root_top_group(const CgRoot *root);
/* Pure (unit tested): tree path path mapped for a top group prefix named top_name: "offline"
 * -> "colo.offline", "offline/batch/x" -> "colo.offline/batch/x". 1 mapped into buf, 0 not a
 * path of the top group (buf untouched), -ENAMETOOLONG. */
int cg_top_map_path(const char *prefix, const char *top_name, const char *path, char *buf, size_t size);
/* Pure (unit tested): for a managed root at root_path whose hierarchy is mounted at
 * root_path[0..mount_len), the length of its parent's path (>= mount_len; == mount_len: the
 * hierarchy's root) and the top group's name "<basename>.<prefix>" in buf. -EINVAL when the
 * managed root is the hierarchy's root (no parent), -ENAMETOOLONG. */
int cg_top_place(const char *root_path, size_t mount_len, const char *prefix, size_t *ret_parent_len, char *buf,
                 size_t size);

/* Takes an exclusive flock on the managed root's directory (first hierarchy), held by the fd in
 * *ret_fd until it is closed. -EWOULDBLOCK when another process holds it. */
int cg_root_lock(const CgRoot *root, int *ret_fd, ColoError *err);

/* cgroup v2 keeps processes out of cgroups whose children have controllers, so a process that
 * manages a subtree below its own cgroup must leave that cgroup first. */
typedef struct CgRelocation {
        const char *fs_root;            /* default "/sys/fs/cgroup" */
        const char *proc_self_cgroup;   /* default "/proc/self/cgroup"; tests pass a fixture */
        const char *subtree;            /* the managed subtree as configured */
        const char *leaf;               /* the leaf for the process, next to the subtree: "agent" */
        bool move;                      /* false (a dry run): resolve the subtree, move nothing */
} CgRelocation;
/* On a pure v2 host (one "0::" line in proc_self_cgroup) with a relative subtree and the process
 * outside the root cgroup "<own>": moves the process into "<own>/<leaf>" (mkdir, then its pid to
 * cgroup.procs) when r->move, and returns 1 with the subtree's absolute path "<own>/<subtree>" in
 * ret_subtree. 0, ret_subtree untouched, when the rule does not apply (absolute subtree, v1 or
 * hybrid, root cgroup). -errno with err naming the path on failure. */
int cg_v2_relocate_self(const CgRelocation *r, char *ret_subtree, size_t size, ColoError *err);
/* On a pure v2 host, whether the process's cgroup is a sibling of the absolute subtree (both
 * children of one cgroup): 1 with that parent in ret_dir and the process's cgroup's name in
 * ret_leaf; 2 when it lies deeper below a sibling, which ret_leaf then names; 0 when neither (or
 * relative subtree, v1, hybrid, root cgroup); -ENAMETOOLONG. proc_self_cgroup NULL:
 * /proc/self/cgroup. */
int cg_v2_self_beside(const char *proc_self_cgroup, const char *subtree, char *ret_dir, size_t dir_size, char *ret_leaf,
                      size_t leaf_size);
/* Whether fs_root (NULL: /sys/fs/cgroup) is a cgroup2 mount: a pure v2 host. */
bool cg_is_v2_mount(const char *fs_root);
/* Whether "<fs_root><dir>/<leaf>" holds a process: 1, 0 (empty), -errno (-ENOENT: no such leaf). */
int cg_v2_leaf_populated(const char *fs_root, const char *dir, const char *leaf);
/* What cg_root_keep_self_beside() found and did. */
typedef struct CgSelfGroup {
        char path[PATH_MAX];            /* the group's absolute path */
        bool shares_written;            /* its cpu.shares differed and were written */
        bool moved;                     /* the process was elsewhere and was moved in */
} CgSelfGroup;
/* cgroup v1 (and hybrid): keeps the calling process, in the cpu hierarchy only, in the group
 * "<subtree name>.agent" beside the managed root (made if missing), at the cpu.shares of weight
 * (cgroup-self.c says why). Idempotent, for every period: writes only what differs. 0, or -errno
 * with err naming the path (-EOPNOTSUPP on v2 or without a cpu hierarchy). */
int cg_root_keep_self_beside(CgRoot *root, uint64_t weight, CgSelfGroup *ret, ColoError *err);
/* Reads "<fs_root><dir>/<leaf>/<file>" into buf: its length, or -errno. */
int cg_v2_leaf_read(const char *fs_root, const char *dir, const char *leaf, const char *file, char *buf, size_t size);
/* Writes value to "<fs_root><dir>/<leaf>/<file>" (the agent's own leaf's cpu.weight). -errno with
 * err naming the path on failure; the file must exist (its controller enabled in dir). */
int cg_v2_leaf_write(const char *fs_root, const char *dir, const char *leaf, const char *file, const char *value,
                     ColoError *err);
/* Makes "<fs_root><dir>/<leaf>" if missing and moves pid into it (its cgroup.procs). */
int cg_v2_move_into_leaf(const char *fs_root, const char *dir, const char *leaf, pid_t pid, ColoError *err);

/* --- groups (paths relative to the managed root; "" is the root itself) --- */
/* Opens (with create: mkdir -p) a group in every hierarchy. On v2, creating enables the
 * controllers colo needs in cgroup.subtree_control of each ancestor from the managed root down;
 * on hybrid layouts the group is mirrored into the cgroup2 mount for per-group PSI. A group keeps
 * one directory fd per hierarchy (6 on v1 with pids, 7 hybrid, 1 on v2) plus, once read, one fd per
 * frequently read file (up to 9): budget RLIMIT_NOFILE at about 16 fds per managed group.
 * -EINVAL for a path with "..", "." or empty components; -ENOENT if missing and !create. */
int cg_group_open(CgRoot *root, const char *path, bool create, CgGroup **ret, ColoError *err);
CgGroup *cg_group_free(CgGroup *g);
/* Creates a new group: its parent must exist, and the group must not exist in any hierarchy
 * (-EEXIST: mkdir never accepts an existing directory here). A mkdir failing in one v1
 * hierarchy removes the directories already made in the others, so a failed create leaves
 * nothing behind. Then opens it as cg_group_open() does. */
int cg_group_create(CgRoot *root, const char *path, CgGroup **ret, ColoError *err);
/* Takes an exclusive flock() on the directory name directly below the managed root (in the
 * hierarchy that lists groups; made, mode 0700, if missing), waiting for other holders, or with
 * !wait failing with -EWOULDBLOCK while another holds it. Returns the fd (close() releases; the
 * kernel releases it when the process dies, so a crash leaves no stale lock), or -errno. -EPERM
 * if the directory is not ours. */
int cg_root_lock_below(CgRoot *root, const char *name, bool wait, ColoError *err);
const char *cg_group_path(const CgGroup *g);
/* Removes an empty group in every hierarchy (rmdir); -EBUSY if tasks remain. */
int cg_group_remove(CgRoot *root, const char *path, ColoError *err);
/* How deep cg_remove_empty_tree_at() callers descend: colo's own trees are a few levels deep
 * (offline/<tier>/<workload>/...); the bound keeps a hostile tree from costing unbounded fds. */
#define CG_REMOVE_DEPTH_MAX 32
/* rmdir of name below dir_fd (AT_FDCWD, or a directory fd) and, first, of every directory below
 * it up to max_depth levels down (0: name only). Only empty cgroups go: the kernel refuses one
 * with tasks (EBUSY), so no process is lost; a directory at the depth bound is not descended, so
 * its rmdir fails (ENOTEMPTY) if it has groups below. Never follows a symlink. Stops at the
 * first directory that stays: 0 when the tree is gone (or was absent), else that one's -errno.
 * Cost: one open, readdir and rmdir per directory; at most max_depth + 1 fds open at once. */
int cg_remove_empty_tree_at(int dir_fd, const char *name, unsigned max_depth);
/* Names of the direct child groups of path, sorted; *ret is a NULL-terminated strv. */
int cg_group_list_children(CgRoot *root, const char *path, char ***ret, size_t *ret_n, ColoError *err);
void strv_free(char **l);

/* Pids in the group itself (not descendants), from cgroup.procs. */
int cg_group_get_pids(CgGroup *g, pid_t **ret, size_t *ret_n, ColoError *err);
/* Moves a process (all its threads) into the group, in every hierarchy (cpuset first, so an
 * unusable cpuset fails before anything moved). Applies the group's current oom_score_adj, if
 * one was applied, to the task at once. */
int cg_group_attach(CgGroup *g, pid_t pid, ColoError *err);
/* Sends sig to every process of the group and its descendants (v2 SIGKILL: cgroup.kill, which
 * also catches tasks forking meanwhile). Returns the number of processes found and signalled. */
int cg_group_kill(CgGroup *g, int sig, ColoError *err);
bool cg_group_has_file(CgGroup *g, CgController c, const char *name);

/* --- reading --- */
/* Usage of the group including descendants. Cost per call: one pread() per kept-open file (v1:
 * cpuacct.usage, cpu.stat, memory.usage_in_bytes, memory.limit_in_bytes, memory.stat,
 * memory.oom_control, pressure files on hybrid; v2: cpu.stat, memory.current, memory.max,
 * memory.stat, memory.events, 3 pressure files), an fstat() to see whether there are child
 * groups, and cgroup.procs (pread on v2; open+read+close on v1, whose kept-open pid lists go
 * stale). Child groups add a readdir and their cgroup.procs. Missing files leave their fields at
 * 0 / !valid / CG_UNLIMITED; a malformed file is -EINVAL naming it. */
int cg_group_read_usage(CgGroup *g, CgUsage *ret, ColoError *err);
/* What cg_group_read_usage_fields() reads; fields not asked for stay 0 / !valid / CG_UNLIMITED. */
typedef enum CgUsageField {
        CG_USAGE_CPU_TIME = 1 << 0,     /* cpu_usage_usec (v1 cpuacct.usage; v2 cpu.stat) */
        CG_USAGE_MEM_CURRENT = 1 << 1,  /* mem_usage (v1 memory.usage_in_bytes, v2 memory.current) */
        CG_USAGE_WORKING_SET = 1 << 2,  /* mem_working_set (and mem_usage): memory.stat, the costliest file on v1 */
        CG_USAGE_CPU_IO_PRESSURE = 1 << 3, /* cpu_pressure, io_pressure (cpu.pressure, io.pressure) */
        CG_USAGE_TASKS = 1 << 4,        /* nr_tasks (also lets cg_group_apply skip its oom_score_adj scan) */
        CG_USAGE_CPU_THROTTLING = 1 << 5, /* throttling counters (cpu.stat) */
        CG_USAGE_MEM_LIMITS = 1 << 6,   /* mem_limit, mem_oom_kills */
        CG_USAGE_MEM_PRESSURE = 1 << 7, /* mem_pressure (memory.pressure) */
        CG_USAGE_CPU = CG_USAGE_CPU_TIME | CG_USAGE_CPU_THROTTLING,
        CG_USAGE_MEMORY = CG_USAGE_MEM_CURRENT | CG_USAGE_MEM_LIMITS,
        CG_USAGE_PRESSURE = CG_USAGE_CPU_IO_PRESSURE | CG_USAGE_MEM_PRESSURE,
        CG_USAGE_ALL = (1 << 8) - 1,
} CgUsageField;
/* Like cg_group_read_usage() (which is CG_USAGE_ALL) but reads only the files fields need.
 * Measured on this machine's hybrid v1 (200 leaf groups, every field, then a steady apply with
 * oom_score_adj): about 40 us of CPU per group and period, 0.8% of a core at a 1 s period;
 * pressure (3 files) and working set (memory.stat) are the expensive parts. */
int cg_group_read_usage_fields(CgGroup *g, unsigned fields, CgUsage *ret, ColoError *err);
/* Host-wide PSI from <proc>/pressure/{cpu,memory,io}; absent resources stay !valid. */
int cg_read_host_pressure(const char *proc_root, CgPressure *cpu, CgPressure *mem, CgPressure *io, ColoError *err);
int cg_parse_pressure(const char *text, CgPressure *ret);      /* pure, fuzzed */

/* --- writing --- */
/* Makes the group's knobs match want, writing only values that differ from *last (what colo last
 * wrote, updated on success; a failed knob is invalidated so it is retried next time). Knobs the
 * kernel lacks (ENOENT on an optional file such as cpu.idle, cpu.qos_level, burst, blkio/io
 * weight) are skipped quietly and remembered as absent; knobs of controllers the root lacks are
 * skipped. Writes are ordered so each intermediate state is valid (idle before/after the weight,
 * period vs quota, burst vs quota). oom_score_adj goes to every task of the group and its
 * descendants, and later only to tasks not yet written (one cgroup.procs read per call while it
 * is wanted). Returns the number of failed writes (0 = all applied); each failure is reported
 * through cb with its path and the first is also left in err. Invalid want (weight 0, quota
 * under 1 ms, malformed cpuset or device, ...): -EINVAL naming the field, nothing written.
 * A steady state (want == *last) costs no syscalls apart from the oom_score_adj check. */
int cg_group_apply(CgGroup *g, const CgKnobs *want, CgKnobs *last, CgWriteCallback cb, void *userdata,
                   ColoError *err);

/* cgroup v1: writes on leaf (new, still empty) the blkio throttles in force on ancestors, the
 * smaller per device and setting, since v1's throttles bind only a group's own tasks; the agent
 * keeps them from the next period on. Nothing on v2 (io.max is hierarchical) or without blkio.
 * Returns the number of failed writes (each reported through cb), or -errno when an ancestor's
 * rules cannot be read, with err set. */
int cg_group_inherit_io_throttles(CgGroup *leaf, CgGroup *const *ancestors, size_t n, CgWriteCallback cb,
                                  void *userdata, ColoError *err);

/* Reconcile: a knob the kernel holds differently from what colo last wrote (path: the file's full
 * path; colo_value as colo wrote it; found: the file's first line now). */
typedef void (*CgDriftCallback)(void *userdata, const char *path, const char *colo_value, const char *found);
/* Reads back the knobs of *last that colo wrote (CPU weight, cpu.idle, quota and period, memory
 * limits and protections, pids.max; not cpusets, io, burst, qos levels or oom_score_adj) and
 * invalidates in *last each the kernel now holds otherwise, after reporting it through cb, so
 * the next cg_group_apply() with the same want writes it again. The kernel's page rounding of
 * byte limits is not a change. Files that cannot be read are left to the apply. One open, read
 * and close per knob set in *last. Returns the number of changed knobs; 0 in a dry run. */
int cg_group_verify(CgGroup *g, CgKnobs *last, CgDriftCallback cb, void *userdata);

/* Pure conversions between hierarchies (unit tested). */
uint64_t cg_weight_to_shares(uint64_t weight);          /* clamp 2..262144 */
uint64_t cg_shares_to_weight(uint64_t shares);          /* clamp 1..10000 */
uint64_t cg_io_weight_to_blkio_weight(uint64_t weight); /* clamp 10..1000 */

/* --- events, for reacting within milliseconds instead of at the next period --- */
/* Opens a PSI trigger: writes "<some|full> <stall_usec> <window_usec>" to a pressure file (host
 * /proc/pressure/memory or a v2 group's memory.pressure). Poll the fd for POLLPRI. The window must
 * be 500 ms..10 s and stall within it (else -EINVAL, nothing opened). Without CAP_SYS_RESOURCE the
 * kernel accepts only multiples of 2 s; then a 2 s window with the same stall ratio is used. */
int cg_psi_trigger_open(const char *pressure_path, bool full, uint64_t stall_usec, uint64_t window_usec,
                        int *ret_fd, ColoError *err);
/* Path of the group's <resource>.pressure file ("cpu", "memory", "io"): on v2, and on hybrid
 * layouts from the group's mirror in the cgroup2 mount (which tracks PSI per group without
 * controllers). -EOPNOTSUPP on pure v1, -EINVAL for another resource. */
int cg_group_pressure_path(CgGroup *g, const char *resource, char *buf, size_t size);
/* v1: an eventfd that becomes readable when the group's memory usage crosses threshold bytes
 * (cgroup.event_control on memory.usage_in_bytes). -EOPNOTSUPP on v2. */
int cg_group_memory_threshold_fd(CgGroup *g, uint64_t threshold, int *ret_fd, ColoError *err);
/* v2: an inotify fd watching the group's memory.events (high/max/oom). -EOPNOTSUPP on v1. */
int cg_group_memory_events_fd(CgGroup *g, int *ret_fd, ColoError *err);
