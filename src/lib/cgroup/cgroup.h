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
#include <stdint.h>
#include <sys/types.h>

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
} CgRootOptions;

typedef struct CgRoot CgRoot;   /* opaque; owns directory fds of the managed root */
typedef struct CgGroup CgGroup; /* opaque; one group below the root, owns its directory fds */

/* Sentinels for CgKnobs fields: CG_UNSET leaves a knob alone; CG_UNLIMITED writes "max"/-1. */
#define CG_UNSET UINT64_MAX
#define CG_UNLIMITED (UINT64_MAX - 1)
#define CG_UNSET_INT INT32_MIN
/* Largest pids.max the kernel takes (PID_MAX_LIMIT, 4M pids on 64-bit). */
#define CG_PIDS_MAX (UINT64_C(4) << 20)

typedef struct CgIoLimit {
        char device[32];                /* "MAJ:MIN" */
        uint64_t rbps, wbps, riops, wiops;      /* CG_UNSET / CG_UNLIMITED / value */
} CgIoLimit;

#define CG_IO_LIMITS_MAX 8

/* What colo wants a group's knobs to be. Units are v2's; v1 converts (weights to shares and
 * blkio weights, CG_UNLIMITED to -1). mem_high/low/min exist only on v2 and mem_soft_limit only
 * on v1; each is ignored on the other. Fields left at the CG_UNSET sentinels are not touched.
 * Initialise with cg_knobs_init(). */
typedef struct CgKnobs {
        uint64_t cpu_weight;            /* 1..10000, v1: cpu.shares = weight * 1024 / 100 */
        int32_t cpu_idle;               /* 0/1: cpu.idle (SCHED_IDLE group) where the kernel has it */
        uint64_t cpu_quota_usec;        /* per period; CG_UNLIMITED = no quota */
        uint64_t cpu_period_usec;
        uint64_t cpu_burst_usec;
        char cpuset_cpus[256];          /* "" = unset */
        char cpuset_mems[64];           /* "" = unset */
        uint64_t mem_max;               /* v1 memory.limit_in_bytes */
        uint64_t mem_high;              /* v1: no equivalent; ignored there */
        uint64_t mem_low;               /* v2 only */
        uint64_t mem_min;               /* v2 only */
        uint64_t mem_soft_limit;        /* v1 memory.soft_limit_in_bytes; v2: ignored */
        uint64_t io_weight;             /* 1..10000 (v2 io.weight); v1 blkio.weight 10..1000 */
        CgIoLimit io_limits[CG_IO_LIMITS_MAX];
        size_t n_io_limits;
        int32_t oom_score_adj;          /* applied to every member task; CG_UNSET_INT = leave */
        int32_t cpu_qos_level;          /* openEuler cpu.qos_level (-1 offline, 0 online), if present */
        int32_t mem_qos_level;          /* openEuler memory.qos_level, if present */
        uint64_t pids_max;              /* pids.max (v1 and v2): 1..CG_PIDS_MAX, CG_UNLIMITED = "max" */
} CgKnobs;

void cg_knobs_init(CgKnobs *k);         /* every field unset */

/* Pressure stall information of one resource, as in /proc/pressure/<res> or <cg>/<res>.pressure. */
typedef struct CgPressure {
        bool valid;
        double some_avg10, some_avg60, some_avg300;
        double full_avg10, full_avg60, full_avg300;
        uint64_t some_total_usec, full_total_usec;
} CgPressure;

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

/* --- root --- */
/* Detects the layout, resolves the managed root in each hierarchy and opens it (creating it when
 * opts->create; v1 cpuset directories get their parent's cpus/mems). opts NULL = all defaults.
 * The root must outlive every CgGroup opened from it. Holds one directory fd per hierarchy. */
int cg_root_open(const CgRootOptions *opts, CgRoot **ret, ColoError *err);
CgRoot *cg_root_free(CgRoot *root);     /* NULL-safe, returns NULL */
CgMode cg_root_mode(const CgRoot *root);                /* V1 or V2 (hybrid reports V1) */
bool cg_root_is_hybrid(const CgRoot *root);             /* v1 controllers plus a cgroup2 mount */
bool cg_root_has_controller(const CgRoot *root, CgController c);
/* v2: why controller c is missing from the managed root, for the operator (cause: what is wrong,
 * naming the cgroup; fix: what to change). -EEXIST when it is there, -EINVAL on v1. */
int cg_root_explain_missing(const CgRoot *root, CgController c, char *cause, size_t cause_size, char *fix,
                            size_t fix_size);
/* Human-readable description of the managed root: each hierarchy's absolute path. */
const char *cg_root_describe(const CgRoot *root);
/* Takes an exclusive flock on the managed root's directory (first hierarchy), held by the fd in
 * *ret_fd until it is closed. -EWOULDBLOCK when another process holds it. */
int cg_root_lock(const CgRoot *root, int *ret_fd, ColoError *err);

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
 * hierarchy that lists groups; made, mode 0700, if missing), waiting for other holders. Returns
 * the fd (close() releases; the kernel releases it when the process dies, so a crash leaves no
 * stale lock), or -errno. -EPERM if the directory is not ours. */
int cg_root_lock_below(CgRoot *root, const char *name, ColoError *err);
const char *cg_group_path(const CgGroup *g);
/* Removes an empty group in every hierarchy (rmdir); -EBUSY if tasks remain. */
int cg_group_remove(CgRoot *root, const char *path, ColoError *err);
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
        CG_USAGE_PRESSURE = 1 << 3,     /* cpu/mem/io_pressure */
        CG_USAGE_TASKS = 1 << 4,        /* nr_tasks (also lets cg_group_apply skip its oom_score_adj scan) */
        CG_USAGE_CPU_THROTTLING = 1 << 5, /* throttling counters (cpu.stat) */
        CG_USAGE_MEM_LIMITS = 1 << 6,   /* mem_limit, mem_oom_kills */
        CG_USAGE_CPU = CG_USAGE_CPU_TIME | CG_USAGE_CPU_THROTTLING,
        CG_USAGE_MEMORY = CG_USAGE_MEM_CURRENT | CG_USAGE_MEM_LIMITS,
        CG_USAGE_ALL = (1 << 7) - 1,
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
