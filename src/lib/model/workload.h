/* Workload classes and tiers: the vocabulary every front-end shares. A workload is online
 * (latency-sensitive, protected) or offline (batch, squeezed and evicted first); tiers order
 * workloads inside a class. In the managed cgroup tree a workload lives at
 * <root>/<class>/<tier>/<name>, so the tree itself records class and tier and a restarted agent
 * recovers them by listing directories (crash-only). */
#pragma once

#include <errno.h>
#include <stdbool.h>

typedef enum WorkloadClass {
        CLASS_ONLINE,
        CLASS_OFFLINE,
        _CLASS_MAX,
        _CLASS_INVALID = -EINVAL,
} WorkloadClass;

/* Ordered from most to least protected; eviction goes from the highest value down. */
typedef enum WorkloadTier {
        TIER_CRITICAL,          /* online */
        TIER_NORMAL,            /* online */
        TIER_BATCH,             /* offline */
        TIER_BEST_EFFORT,       /* offline */
        _TIER_MAX,
        _TIER_INVALID = -EINVAL,
} WorkloadTier;

/* Workload names: [A-Za-z0-9_.-], 1..WORKLOAD_NAME_MAX-1 chars, not starting with '.', and not
 * a cgroup interface file's name: not "tasks", "notify_on_release", "release_agent", and no
 * "<controller>.<anything>" nor "cgroup.<anything>" ("cpu.shares", "memory.limit_in_bytes"). */
#define WORKLOAD_NAME_MAX 64

const char *workload_class_to_string(WorkloadClass c);      /* "online", "offline"; NULL if invalid */
WorkloadClass workload_class_from_string(const char *s);    /* _CLASS_INVALID if unknown */
const char *workload_tier_to_string(WorkloadTier t);        /* "critical", "normal", "batch", "best-effort" */
WorkloadTier workload_tier_from_string(const char *s);
WorkloadClass workload_tier_class(WorkloadTier t);           /* the class a tier belongs to */
WorkloadTier workload_class_default_tier(WorkloadClass c);   /* online: normal, offline: batch */
bool workload_name_is_valid(const char *name);
/* NULL for a valid name, else why it is not ("starts with '.'"), for error messages. */
const char *workload_name_problem(const char *name);
