/* The tracker: the workloads as the agent (every period, in either mode) and `colo status` (once)
 * see them. It owns each group's runtime, kept apart from what the source says the workloads are
 * (like systemd's CGroupRuntime beside CGroupContext): one open CgGroup per workload across
 * periods, so a steady-state sample costs preads of already open files and no allocation, the
 * previous CPU reading each rate is computed against (carried from one interval to the next, as
 * oomd carries its previous contexts), and the usage last read. tracker_refresh() re-lists the
 * workload source (source.h: the managed tree, or the node's pods) and adopts new workloads,
 * drops vanished ones; tracker_sample() reads usage and builds the NodeSample the policy takes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroup/cgroup.h"
#include "policy/policy.h"
#include "workloads/source.h"
#include "workloads/tree.h"
#include "util/error.h"

typedef struct TrackedWorkload {
        TreeWorkload id;
        double cpu_limit_cores;         /* declared limits, from the source (0: unknown) */
        uint64_t mem_limit;
        CgGroup *group;
        CgUsage usage;                  /* last read */
        double cpu_cores;               /* average over the last sampling interval */
        uint64_t prev_cpu_usec, prev_sample_usec;
        bool have_prev;
        bool ever_populated;            /* had tasks at some sample since it was adopted */
        uint64_t first_seen_usec;
        uint64_t empty_since_usec;      /* monotonic time the group was first seen empty; 0 if populated */
        bool read_failed;               /* the last read failed (group vanished or unreadable) */
        uint64_t inactive_file;         /* inactive file cache as of the last memory.stat read */
        bool have_inactive;
        bool being_evicted;             /* set by the agent while it stops the workload; passed to the policy */
        /* SOURCE_ONLINE_IS_THE_REST, online workloads: their CPU and IO stall counters ("some",
         * usec) at the previous sample, for the online pressure (tracker.c's online_stall()). */
        uint64_t prev_cpu_stall_usec, prev_io_stall_usec;
        bool have_prev_stall;
} TrackedWorkload;

typedef struct Tracker Tracker;

typedef struct TrackerOptions {
        const char *proc_root;          /* "/proc": meminfo, pressure */
        double cpu_capacity_cores;      /* 0: the online CPUs this process may run on (collect_node) */
        const WorkloadSource *source;   /* NULL: the managed tree (workload_source_tree); copied */
} TrackerOptions;

int tracker_new(CgRoot *root, const TrackerOptions *opts, Tracker **ret, ColoError *err);
Tracker *tracker_free(Tracker *t);      /* NULL-safe, returns NULL; the CgRoot stays the caller's */
static inline void tracker_freep(Tracker **t) {
        if (*t)
                tracker_free(*t);
}

/* Called by tracker_refresh() for each workload adopted (added) or dropped (!added). */
typedef void (*TrackerChangeCallback)(void *userdata, const TreeWorkload *w, bool added);

/* Re-lists the source: adopts new workloads (a workload is (name, tier, path): one that moves is
 * dropped and adopted anew), drops vanished ones, reopens groups whose last read failed (a
 * directory removed and recreated behind our back). A listed workload whose group does not exist
 * (yet) is left out until it does. Returns the number of workloads added plus removed (0 in a
 * steady state), or -errno. cb may be NULL. */
int tracker_refresh(Tracker *t, uint64_t now_usec, TrackerChangeCallback cb, void *userdata, ColoError *err);

/* Reads usage of every workload, the class parents and the node. now_usec is monotonic. A
 * workload whose group cannot be read is kept with read_failed set (and zero usage) and counted
 * in the return value; -errno only when the node itself cannot be read.
 * A workload's memory.stat, the costliest file of a sample, is read at adoption and then every
 * TRACKER_WORKING_SET_EVERY samples (staggered across workloads); in between its working set is
 * the fresh memory usage minus the inactive file cache last read, so only that correction can be
 * up to TRACKER_WORKING_SET_EVERY - 1 samples old. The class parents' working sets, which the
 * budgets come from, are read every sample. */
#define TRACKER_WORKING_SET_EVERY 4
int tracker_sample(Tracker *t, uint64_t now_usec, ColoError *err);

/* The last sample; workloads[i] of the NodeSample is tracker_get(t, i). Valid until the next
 * refresh or sample. */
const NodeSample *tracker_node(const Tracker *t);
size_t tracker_count(const Tracker *t);
TrackedWorkload *tracker_get(Tracker *t, size_t i);
/* Index of the workload with this name (the first, when an interrupted move left two), or
 * -ENOENT. O(log n). */
int tracker_find(const Tracker *t, const char *name);

/* The open group of the workload whose group is at path (standalone: "<class>/<tier>/<name>"), or
 * NULL if none is tracked. O(log n). Valid until the next refresh. */
CgGroup *tracker_workload_group(Tracker *t, const char *path);

/* The class parents' usage as last sampled (zero while a parent does not exist). */
const CgUsage *tracker_class_usage(const Tracker *t, WorkloadClass c);
/* The class parent groups ("online", "offline"), for event registration (PSI, memory events). */
CgGroup *tracker_class_group(Tracker *t, WorkloadClass c);
