/* Where the tracker's workloads come from: a workload source lists, each period, the workloads
 * with their class, tier and cgroup path below the managed root, and says how the node's online
 * and offline usage is read. Standalone mode's source is the managed tree (workload_source_tree,
 * tree_discover()); Kubernetes mode's are the node's pods in kubelet's tree (src/agent). The
 * tracker (tracker.h) owns everything that lives across periods, for either: the open groups, the
 * previous CPU readings, the usage. Like crun's table of cgroup managers, the source is an
 * operations table chosen once at start-up. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "workloads/tree.h"
#include "util/error.h"

typedef struct SourceWorkload {
        TreeWorkload id;                /* name, class, tier; path relative to the managed root */
        double cpu_limit_cores;         /* declared limits (Kubernetes), 0 when unknown */
        uint64_t mem_limit;
} SourceWorkload;

typedef enum SourceClassUsage {
        /* The "online" and "offline" class parents hold every workload of their class: read them
         * (a missing parent counts as the sum of its workloads). */
        SOURCE_CLASS_PARENTS,
        /* No class parents (kubelet's tree: online pods share none): offline is the sum of the
         * offline workloads, online the managed root minus that, so what no workload accounts for
         * (pods not matched to a cgroup yet) counts as online, the safe side. The online memory
         * pressure is the root's. */
        SOURCE_ONLINE_IS_THE_REST,
} SourceClassUsage;

typedef struct WorkloadSourceOps {
        const char *name;               /* for messages: "managed tree", "pods" */
        SourceClassUsage class_usage;
        /* The workloads now, in any order; *ret is malloc'd (NULL when there are none). The
         * tracker opens their groups, retrying those that do not exist (yet) every period. */
        int (*list)(void *userdata, CgRoot *root, SourceWorkload **ret, size_t *ret_n, ColoError *err);
} WorkloadSourceOps;

typedef struct WorkloadSource {
        const WorkloadSourceOps *ops;
        void *userdata;
} WorkloadSource;

/* Standalone mode: the leaves of the managed tree ("<class>/<tier>/<name>"). */
extern const WorkloadSourceOps workload_source_tree;
