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
};

struct CgGroup {
        CgRoot *root;
        char *path;                     /* relative to the managed root, "" for the root */
        int dfd[_CG_SLOT_MAX];          /* directory per primary slot, -1 otherwise */
        int file_fd[_CG_FILE_MAX];      /* -1 not yet opened, -2 absent (ENOENT) */
        uint32_t absent;                /* bit per CgOptional */
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
/* The three pressure files of a group into u. */
int cg_read_pressures(CgGroup *g, CgUsage *u, ColoError *err);
