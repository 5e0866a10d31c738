/* The managed tree of standalone mode: <root>/<class>/<tier>/<name>, with class parents online/
 * and offline/, tier parents online/critical, online/normal, offline/batch, offline/best-effort,
 * and one leaf group per workload. The tree is the only record of which workloads exist and of
 * their class and tier, so the agent, `colo run` and `colo move` all work from it and a restarted
 * agent recovers everything by listing four directories. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model/workload.h"
#include "util/error.h"

typedef struct CgRoot CgRoot;
typedef struct CgGroup CgGroup;

#define TREE_PATH_MAX 128

typedef struct TreeWorkload {
        char name[WORKLOAD_NAME_MAX];
        WorkloadClass cls;
        WorkloadTier tier;
        char path[TREE_PATH_MAX];       /* relative to the managed root: "offline/batch/job1" */
} TreeWorkload;

/* "online" / "offline"; NULL for an invalid class. */
const char *tree_class_path(WorkloadClass c);
/* "online/critical", "online/normal", "offline/batch", "offline/best-effort"; NULL if invalid. */
const char *tree_tier_path(WorkloadTier t);
/* Fills buf with "<class>/<tier>/<name>". -EINVAL for an invalid tier or name, -ENAMETOOLONG. */
int tree_workload_path(WorkloadTier tier, const char *name, char *buf, size_t size);

/* Parses a relative leaf path "<class>/<tier>/<name>" back into a TreeWorkload. -EINVAL if it is
 * not a workload leaf of the layout (wrong depth, tier not of that class, invalid name). */
int tree_parse_path(const char *path, TreeWorkload *ret);

/* Creates the class and tier parents where missing. Idempotent. */
int tree_ensure_parents(CgRoot *root, ColoError *err);

/* Lists every workload leaf, sorted by (name, tier). Directories whose name is not a valid
 * workload name are skipped; a missing class or tier parent counts as empty. The same name under
 * two tiers (an interrupted move) appears twice. *ret is malloc'd (NULL when n is 0). */
int tree_discover(CgRoot *root, TreeWorkload **ret, size_t *ret_n, ColoError *err);

/* Finds every leaf with this name (normally 0 or 1). Returns the number found (>= 0), filling
 * ret[0..min(n, max)-1]. */
int tree_find(CgRoot *root, const char *name, TreeWorkload *ret, size_t max, ColoError *err);

/* The lock every creator and mover of workload leaves holds, whatever class or tier: a directory
 * of this name below the managed root (hidden, so never a workload: names cannot start with '.'). */
#define TREE_NAMES_LOCK ".colo-names.lock"

/* Takes the names lock (waiting for the holder, who keeps it only while creating or moving one
 * workload). Returns the fd to close() to release it, or -errno. A holder that dies releases it. */
int tree_lock_names(CgRoot *root, ColoError *err);
/* The same without waiting: -EWOULDBLOCK while someone holds it (the agent, whose loop must not
 * wait on a `colo move` that was stopped holding the lock). */
int tree_try_lock_names(CgRoot *root, ColoError *err);

/* Creates the leaf for a new workload (and the parents). Call with the names lock held, and keep
 * it until the workload's first process is in the leaf: an empty leaf counts as the stale record
 * of a workload that is gone, and is removed to reuse the name. -EEXIST ("name in use", naming
 * the leaf) if a leaf of that name under any tier still has processes, or if the path is taken
 * by something else; -EINVAL for an invalid name (with the reason). A create failing in one
 * hierarchy leaves nothing behind. If ret is non-NULL the opened group is returned. */
int tree_create_workload(CgRoot *root, WorkloadTier tier, const char *name, CgGroup **ret, ColoError *err);

/* Moves every process of the workload's leaves into a leaf under tier (call with the names lock
 * held, so no `colo run` sees the half-moved state), then
 * removes the old leaves. Safe to repeat and to resume after an interruption: the target leaf
 * is created first, processes move one by one (each move is atomic in the kernel), and an old
 * leaf is removed only once it is empty. -ENOENT if no leaf of that name exists. Returns the
 * number of processes moved. */
int tree_move_workload(CgRoot *root, const char *name, WorkloadTier tier, ColoError *err);

/* Removes a workload's leaf if it has no processes. Returns 1 if removed (or already gone), 0 if
 * processes remain (-EBUSY from the kernel), -errno otherwise. */
int tree_remove_if_empty(CgRoot *root, const char *path, ColoError *err);

/* Derives a workload name from a command: its basename reduced to the name alphabet (at most
 * 40 characters, "cmd" if nothing is left) plus "-" and suffix in lowercase hex. Pure. */
int tree_generate_name(const char *command, uint32_t suffix, char *buf, size_t size);
