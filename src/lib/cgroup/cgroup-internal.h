/* Shared only by the .c files of src/lib/cgroup (and the cgroup unit tests and fuzz target): the layout of
 * CgRoot and CgGroup, the per-hierarchy backend table, the pure parsers and the write seam. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup/cgroup.h"

/* One slot per v1 hierarchy colo touches. On v2 every slot aliases CG_SLOT_CPU (the one unified
 * directory); on v1 comounted hierarchies ("cpu,cpuacct") alias the first slot of the mount, so
 * mkdir, rmdir and attach happen once per real directory. CG_SLOT_UNIFIED is the cgroup2 mount of
 * a hybrid layout: it holds none of colo's controllers, but the kernel keeps per-group PSI there,
 * so groups are mirrored into it (best effort) for pressure files and PSI triggers. */
typedef enum CgSlot {
        CG_SLOT_CPU,
        CG_SLOT_CPUACCT,
        CG_SLOT_CPUSET,
        CG_SLOT_MEMORY,
        CG_SLOT_BLKIO,
        CG_SLOT_PIDS,
        CG_SLOT_UNIFIED,
        _CG_SLOT_MAX,
} CgSlot;

/* Files read every period: opened once per group and re-read with pread() at offset 0. */
typedef enum CgFile {
        CG_FILE_CPU_USAGE,      /* v1 cpuacct.usage (ns); v2 cpu.stat */
        CG_FILE_CPU_STAT,       /* v1 cpu.stat */
        CG_FILE_MEM_USAGE,      /* v1 memory.usage_in_bytes; v2 memory.current */
        CG_FILE_MEM_STAT,
        CG_FILE_MEM_LIMIT,      /* v1 memory.limit_in_bytes; v2 memory.max */
        CG_FILE_MEM_OOM,        /* v1 memory.oom_control; v2 memory.events */
        CG_FILE_CPU_PRESSURE,
        CG_FILE_MEM_PRESSURE,
        CG_FILE_IO_PRESSURE,
        CG_FILE_PROCS,
        _CG_FILE_MAX,
} CgFile;

/* Optional knobs whose file may be missing; a bit set in CgGroup.absent means "ENOENT seen, do
 * not try again". */
typedef enum CgOptional {
        CG_OPT_CPU_IDLE,
        CG_OPT_CPU_BURST,
        CG_OPT_CPU_QOS,
        CG_OPT_MEM_QOS,
        CG_OPT_IO_WEIGHT,       /* v1 blkio.weight, v2 io.weight */
        CG_OPT_IO_BFQ_WEIGHT,   /* v1 blkio.bfq.weight, v2 io.bfq.weight: fallback of the above */
        CG_OPT_IO_LATENCY,      /* v2 io.latency (CONFIG_BLK_CGROUP_IOLATENCY) */
        _CG_OPT_MAX,
} CgOptional;

/* Test-only write seam: called before every write with the file's full path. Returning < 0 makes
 * the write fail with that errno without touching the file; 0 lets it through. */
typedef int (*CgWriteHook)(void *userdata, const char *path, const char *value);

typedef struct CgBackend {
        int (*apply)(CgGroup *g, const CgKnobs *want, CgKnobs *last, void *apply_ctx);
        int (*read_usage)(CgGroup *g, unsigned fields, CgUsage *ret, ColoError *err);
        const char *(*file_name)(CgFile f);
        CgSlot (*file_slot)(const CgRoot *root, CgFile f);
} CgBackend;

typedef struct CgHierarchy {
        bool present;
        CgSlot primary;         /* slot owning the directory (itself unless aliased) */
        int fd;                 /* managed root directory; -1 when aliased or absent */
        char *path;             /* absolute path of the managed root in this hierarchy */
        size_t mount_len;       /* path[0..mount_len) is the hierarchy's mount directory */
        int parent_fd;          /* the managed root's parent, when a top group is placed; else -1 */
        size_t parent_len;      /* v1: path[0..parent_len) is that parent */
        char *parent_path;      /* that parent's absolute path (v2: the offline scope's cgroup) */
} CgHierarchy;

struct CgRoot {
        CgMode mode;
        bool hybrid;                    /* v1 controllers next to a cgroup2 mount */
        const CgBackend *backend;
        CgHierarchy h[_CG_SLOT_MAX];
        unsigned v2_controllers;        /* v2: bit per CgController listed in the root's cgroup.controllers */
        int proc_fd;                    /* proc root, for /proc/<pid>/oom_score_adj */
        char *proc_root;
        bool report_successes;
        char *description;
        CgWriteHook write_hook;
        void *write_hook_userdata;
        CgDryRunRecorder dry_record;    /* set: dry run, the seam records and writes nothing */
        void *dry_record_userdata;
        /* The top group (cgroup-top.c): tree paths "<top_prefix>[/...]" live in "<top_name>[/...]"
         * below each hierarchy's parent_fd. top_prefix NULL: not placed, every path below fd. */
        char *top_prefix;
        char top_name[256];
        CgTopGroup top;
};

struct CgGroup {
        CgRoot *root;
        char *path;                     /* relative to the managed root, "" for the root */
        bool at_top;                    /* a top group's path: fs_path is below the parents */
        char *fs_path;                  /* path as the directories have it (cg_locate()) */
        int dfd[_CG_SLOT_MAX];          /* directory per primary slot, -1 otherwise */
        int file_fd[_CG_FILE_MAX];      /* -1 not yet opened, -2 absent (ENOENT) */
        uint32_t absent;                /* bit per CgOptional */
        bool dry_created;               /* dry run: missing, colo would have created it (no fds) */
        /* oom_score_adj bookkeeping: the value last written and the (sorted) pids it reached, so
         * a steady apply writes only to newly arrived tasks. */
        int32_t oom_value;
        pid_t *oom_pids;
        size_t n_oom_pids;
        /* Order-independent hash of the pids below the group: as last counted by a usage read,
         * and as last fully handled by the oom_score_adj pass. Equal hashes let apply skip its
         * cgroup.procs scan. */
        uint64_t procs_hash, oom_hash;
        bool procs_hash_valid, oom_hash_valid;
};

extern const CgBackend cg_backend_v1;
extern const CgBackend cg_backend_v2;

/* Installs the write seam (tests only). */
void cg_root_set_write_hook(CgRoot *root, CgWriteHook hook, void *userdata);

/* --- write path, shared by the backends (cgroup.c) --- */
typedef struct CgApplyCtx {
        CgWriteCallback cb;
        void *userdata;
        ColoError *err;
        int failures;
} CgApplyCtx;

/* Full path of name in slot's directory of g into buf. */
void cg_group_file_path(const CgGroup *g, CgSlot slot, const char *name, char *buf, size_t size);
/* The write seam: writes value to name in dfd (path: its full path, for the hook and the
 * record), or in a dry run records (path, current content, value) and writes nothing. flags:
 * extra open flags (O_CREAT for fake trees). 0 or -errno; -ENOENT for a missing file either way. */
int cg_seam_write(CgRoot *root, int dfd, const char *path, const char *name, const char *value, int flags);
/* One write of value to name in g's directory of slot, through the seam. 0 or -errno. */
int cg_write_raw(CgGroup *g, CgSlot slot, const char *name, const char *value);
/* Writes value and reports it: returns 0 on success, 1 when the file is optional (opt >= 0) and
 * missing (remembered in g->absent, not reported), -errno on failure (reported and counted). */
int cg_apply_write(CgGroup *g, CgApplyCtx *c, CgSlot slot, const char *name, int opt, const char *value);
/* Reports a write (failures always, successes when the root asks) and counts failures. */
void cg_apply_report(CgApplyCtx *c, const char *path, const char *value, int r);
/* The slot whose directory lists groups and tasks (cpu where mounted). */
CgSlot cg_listing_slot(const CgRoot *root);
/* Writes oom_score_adj to every task of g and its descendants not yet written with this value. */
void cg_apply_oom_score_adj(CgGroup *g, CgApplyCtx *c, const CgKnobs *want, CgKnobs *last);
bool cg_slot_present(const CgRoot *root, CgSlot slot);
int cg_slot_fd(const CgGroup *g, CgSlot slot);

/* --- read path --- */
/* Reads the cached file f of g (opening it on first use) into buf, NUL-terminated. Returns the
 * length, -ENOENT when the file does not exist (remembered), -EFBIG when it does not fit in size - 1
 * bytes, or -errno. One pread() per call unless the file fills the buffer. */
ssize_t cg_read_cached(CgGroup *g, CgFile f, char *buf, size_t size, ColoError *err);
/* Number of processes in g and its descendants (cgroup.procs of each, recursion only where the
 * directory has subdirectories, which st_nlink tells without a readdir). */
int cg_count_tasks(CgGroup *g, size_t *ret, ColoError *err);
/* Appends pids of cgroup.procs under dirfd (recursively when recursive) to *pids. */
int cg_collect_pids(int dirfd, bool recursive, pid_t **pids, size_t *n, size_t *cap);

/* The agent's own cpu group beside the managed root on v1: "<subtree name>.agent" (cgroup-self.c);
 * cg_detect() resolves a relative subtree from its parent for a process found there. */
#define CG_SELF_GROUP_SUFFIX "agent"

/* --- pure parsers (fuzzed) --- */
/* Finds key in "key value\n" lines and parses its value. 0, -ENOENT if missing, -EINVAL if bad. */
int cg_parse_keyed_u64(const char *text, const char *key, uint64_t *ret);
/* The cgroup path of a v1 controller (controller != NULL: "N:a,b:/path" with controller among
 * a,b or "name=x" matched literally) or the v2 entry ("0::/path", controller == NULL) in the text
 * of /proc/<pid>/cgroup. Returns 0, -ENOENT if absent, -EINVAL on a malformed matching line. */
int cg_parse_proc_cgroup(const char *text, const char *controller, char *ret_path, size_t size);
/* A v1 limit in bytes ("-1"/huge page-counter max as CG_UNLIMITED) or a v2 one ("max"). */
int cg_parse_limit(const char *text, uint64_t *ret);
/* Parses a cgroup.procs listing; appends to *pids. */
int cg_parse_pids(const char *text, pid_t **pids, size_t *n, size_t *cap);
/* Space-separated controller names ("cpu io memory") to a bitmask of CgController. */
unsigned cg_parse_controllers(const char *text);
/* The settings of cgroup v1's four blkio.throttle.*_device files, in CgIoLimit's order. */
typedef enum CgV1Throttle {
        CG_V1_THROTTLE_READ_BPS,
        CG_V1_THROTTLE_WRITE_BPS,
        CG_V1_THROTTLE_READ_IOPS,
        CG_V1_THROTTLE_WRITE_IOPS,
        _CG_V1_THROTTLE_MAX,
} CgV1Throttle;
/* Merges the rules of one blkio.throttle.*_device file ("MAJ:MIN VALUE" lines) into acc's
 * io_limits, keeping the smaller value where acc already limits that device and setting. 0, or
 * -EINVAL for a malformed line, -E2BIG past CG_IO_LIMITS_MAX devices (acc then holds the rest). */
int cg_parse_v1_throttle_rules(const char *text, CgV1Throttle setting, CgKnobs *acc);

/* --- the top group (cgroup-top.c) --- */
/* Where a tree path is on disk in slot s: the directory fd to start from, its path, and the
 * path below it. Every mapping of tree paths to directories goes through here. */
typedef struct CgWhere {
        int fd;
        bool at_top;
        char base[PATH_MAX];
        char rel[PATH_MAX];
} CgWhere;
/* -ENAMETOOLONG when the mapped path does not fit. */
int cg_locate(const CgRoot *root, CgSlot s, const char *path, CgWhere *ret);
/* Places the top group of opts->top_group (fills root->top, root->top_prefix and the parent
 * fds), after the managed root is open. A group that cannot be placed is not an error: it is
 * reported in root->top and stays below the managed root. -ENOMEM only. */
int cg_top_open(CgRoot *root, const CgRootOptions *opts, ColoError *err);
/* cgroup.c's walk: opens rel below startfd (path start_path) component by component, creating
 * missing directories when create (v1 cpusets initialised from the parent). enable_from: see
 * cgroup.c. 0, 1 in a dry run for a directory a real run would make (*ret_fd -1), -errno. */
int cg_open_walk(CgRoot *root, CgSlot slot, int startfd, const char *start_path, const char *rel, bool create,
                 int enable_from, int *ret_fd, ColoError *err);

/* --- detection (cgroup-detect.c) --- */
/* Fills root->mode, root->hybrid and each root->h[].present/primary/path for opts. */
int cg_detect(CgRoot *root, const CgRootOptions *opts, ColoError *err);

/* Validation of a relative group path: no leading '/', no empty, "." or ".." components. */
bool cg_path_is_valid(const char *path);

/* --- knob helpers shared by the backends (cgroup.c) --- */
/* Writes value and records want in *last on success, invalidates *last on failure. */
void cg_knob_u64(CgGroup *g, CgApplyCtx *c, CgSlot slot, const char *name, int opt, uint64_t want, uint64_t *last,
                 const char *value);
void cg_knob_i32(CgGroup *g, CgApplyCtx *c, CgSlot slot, const char *name, int opt, int32_t want, int32_t *last);
void cg_knob_cpuset(CgGroup *g, CgApplyCtx *c, const CgKnobs *want, CgKnobs *last);
void cg_knob_cpu_weight_idle(CgGroup *g, CgApplyCtx *c, const CgKnobs *want, CgKnobs *last, const char *weight_file,
                             uint64_t weight_value);
void cg_knob_qos(CgGroup *g, CgApplyCtx *c, const CgKnobs *want, CgKnobs *last);
/* pids.max, the same file and format ("max" or a count) on v1 and v2, in slot's directory. */
void cg_knob_pids_max(CgGroup *g, CgApplyCtx *c, CgSlot slot, const CgKnobs *want, CgKnobs *last);
CgIoLimit *cg_last_io_limit(CgKnobs *last, const CgIoLimit *want, size_t i);
bool cg_u64_differs(uint64_t want, uint64_t last);

/* --- cached readers (cgroup.c): a missing file leaves the outputs alone and returns 0 --- */
/* One pread() of f, then each keys[i] ("key value" line) into *values[i] where present. */
int cg_read_keys(CgGroup *g, CgFile f, const char *const *keys, uint64_t *const *values, size_t n, ColoError *err);
/* One pread() of a single-number file; limit: "max"/"-1"/page-counter max read as CG_UNLIMITED. */
int cg_read_number(CgGroup *g, CgFile f, bool limit, uint64_t *ret, ColoError *err);
/* The CG_USAGE_MEM_CURRENT and CG_USAGE_MEM_LIMITS fields of u, which both hierarchies read
 * alike through their own file names (usage, limit, OOM kill count). */
int cg_read_memory_usage_and_limits(CgGroup *g, unsigned fields, CgUsage *u, ColoError *err);
int cg_read_group_pressure(CgGroup *g, CgFile f, CgPressure *ret, ColoError *err);
/* The pressure files fields asks for into u: cpu.pressure and io.pressure with
 * CG_USAGE_CPU_IO_PRESSURE, memory.pressure with CG_USAGE_MEM_PRESSURE; others are not opened. */
int cg_read_pressures(CgGroup *g, unsigned fields, CgUsage *u, ColoError *err);
