/* Enforcement: turns a Plan into cgroup writes. The only part of the policy path that does I/O.
 * What was last applied is remembered per group path, so a steady state costs no writes; offline
 * groups are applied before everything else, so limits on offline work drop before online
 * guarantees grow. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cgroup/cgroup.h"
#include "util/error.h"

typedef struct Plan Plan;

/* Per-path memory of what colo last wrote (and the open group handles). Opaque. */
typedef struct EnforceState EnforceState;

EnforceState *enforce_state_new(void);                  /* NULL on ENOMEM */
EnforceState *enforce_state_free(EnforceState *s);      /* NULL-safe, returns NULL */
static inline void enforce_state_freep(EnforceState **s) {
        enforce_state_free(*s);
}

/* Where enforce_apply() may borrow an open handle for a group path instead of opening its own:
 * the agent lends the tracker's workload handles, whose usage reads (cgroup.procs) let the cgroup
 * layer skip the oom_score_adj scan while a group's task set is unchanged. Returns NULL when it
 * has no handle for path (enforce then opens and owns one). A returned handle must stay open
 * until enforce_apply() returns; enforce never frees it. */
typedef CgGroup *(*EnforceGroupLookup)(void *userdata, const char *path);
/* Installs (fn NULL: removes) the lookup for later applies. */
void enforce_state_set_group_lookup(EnforceState *s, EnforceGroupLookup fn, void *userdata);

/* Reconcile: installs (fn NULL: removes) the callback for knobs found changed behind colo's back. */
void enforce_state_set_drift_callback(EnforceState *s, CgDriftCallback fn, void *userdata);
/* Leaves read back per enforce_apply() (class and tier parents are read back every time). */
#define ENFORCE_VERIFY_LEAVES 16

/* Number of group paths remembered. */
size_t enforce_state_size(const EnforceState *s);

/* Forgets one path (after the caller removed or recreated that group, so the next apply reopens
 * it and writes everything), or, with path NULL, every path (all knobs rewritten next apply, e.g.
 * after the agent suspects someone else wrote to the tree). */
void enforce_state_forget(EnforceState *s, const char *path);

/* What was last applied to path (unset knobs: unknown), or NULL when the state does not hold
 * it: never planned, forgotten, or a group of a foreign-tree plan that did not exist. */
const CgKnobs *enforce_state_last(const EnforceState *s, const char *path);

/* Applies plan below root. For each group, parents first, offline groups before the rest:
 *  - class and tier parents ("online", "offline/batch", ...) are created when missing; the
 *    managed root "" is expected to exist; workload leaves ("<class>/<tier>/<name>") are never
 *    created: a leaf that vanished since the sample (the workload ended, or a move removed it)
 *    is skipped without counting as a failure, and forgotten;
 *  - only knobs differing from what was last applied to that path are written; a group whose
 *    writes failed is reopened and fully rewritten next time;
 *  - paths no longer in the plan are forgotten (their handles closed);
 *  - a plan->foreign_tree plan (a transform's, onto kubelet's tree) is applied in its own order,
 *    nothing is created, and a group that does not exist is skipped and forgotten like a
 *    vanished leaf (the caller reports missing groups it needs, see enforce_state_last()).
 * Each failed write is reported through cb (path, value, -errno); the first failure's message is
 * left in err. Returns the number of failed writes (0: all applied), or -EINVAL (NULL argument,
 * a path twice in the plan: nothing is applied) / -ENOMEM.
 *
 * A dry run is the root's (cg_root_set_dry_run()): enforcement runs as in a real run, and the
 * cgroup layer records each write instead of making it. A dry-running state then holds the values
 * as if written, so each change is recorded once.
 *
 * With a drift callback installed, the knobs colo last wrote are read back first
 * (cg_group_verify()) and each one changed behind colo's back is reported through it and
 * rewritten by this apply: class and tier parents every call, leaves in turns of at most
 * ENFORCE_VERIFY_LEAVES per call (200 workloads: each leaf every 13 calls). */
int enforce_apply(CgRoot *root, const Plan *plan, EnforceState *state, CgWriteCallback cb, void *userdata,
                  ColoError *err);
