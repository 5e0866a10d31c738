/* The standalone front (AgentFront, agent.h): the workloads are the managed tree's leaves (the
 * tracker's default source), evictions are signals to the workload's processes (evict.c), and
 * leaves whose processes all exited are removed. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "cgroup/cgroup.h"
#include "enforce/enforce.h"
#include "workloads/tracker.h"
#include "workloads/tree.h"
#include "util/log.h"
#include "util/macro.h"

/* An empty leaf that never had a task is left alone this long: `colo run` creates the leaf
 * before its child joins it. */
#define EMPTY_LEAF_GRACE_USEC (10 * USEC_PER_SEC)

static void workload_change(Agent *a, const TreeWorkload *w, bool added) {
        if (added)
                log_info("%s workload '%s' (%s/%s).", a->ready ? "Tracking new" : "Adopted", w->name,
                         workload_class_to_string(w->cls), workload_tier_to_string(w->tier));
        else
                log_info("Workload '%s' (%s/%s) is gone.", w->name, workload_class_to_string(w->cls),
                         workload_tier_to_string(w->tier));
}

static bool being_evicted(Agent *a, const TrackedWorkload *w) {
        return agent_is_being_evicted(a, w->id.name);
}

static void evict(Agent *a, const Plan *plan, uint64_t now) {
        for (size_t i = 0; i < plan->n_evictions; i++) {
                int idx = tracker_find(a->tracker, plan->evictions[i].name);
                if (idx >= 0)
                        agent_start_eviction(a, &plan->evictions[i], (size_t) idx);
        }
        agent_evictions_update(a, now);
}

/* Workloads being evicted keep their record's reason; finished evictions whose group is gone
 * stay listed (retained) so `colo status` can say why they stopped. */
static int fill_status(Agent *a, StatusDoc *d) {
        for (size_t i = 0; i < a->n_evictions; i++) {
                const EvictionRecord *rec = &a->evictions[i];
                StatusWorkload *w = NULL;
                for (size_t j = 0; j < d->n_workloads; j++)
                        if (strcmp(d->workloads[j].name, rec->name) == 0 && d->workloads[j].tier == rec->tier)
                                w = &d->workloads[j];
                if (w) {
                        w->state = WORKLOAD_EVICTED;
                        memcpy(w->reason, rec->reason, sizeof(w->reason));
                        w->evicted_realtime_usec = rec->started_realtime_usec;
                        continue;
                }
                int r = status_doc_reserve(d, d->n_workloads + 1);
                if (r < 0)
                        return r;
                d->workloads[d->n_workloads++] = rec->last;
        }
        return 0;
}

/* Removes leaves of workloads whose processes all exited. Under the names lock, taken only when
 * a leaf is due and without waiting (busy: next period): a `colo run` holds it from creating its
 * leaf until its child is in it, and may have recreated, at the same path, the leaf of an ended
 * workload this tick's record still shows as empty; removing that one would make its attach
 * fail (seen in run-names: "attach pid ...: No such device"). */
static void remove_empty_leaves(Agent *a, uint64_t now) {
        if (a->opts.dry_run)
                return;
        int lock_fd = -1;
        for (size_t i = 0; i < tracker_count(a->tracker); i++) {
                TrackedWorkload *w = tracker_get(a->tracker, i);
                if (w->read_failed || w->usage.nr_tasks > 0 || w->empty_since_usec == 0)
                        continue;
                if (!w->ever_populated && now - MIN(now, w->first_seen_usec) < EMPTY_LEAF_GRACE_USEC)
                        continue;
                ColoError err = {};
                if (lock_fd < 0 && (lock_fd = tree_try_lock_names(a->root, &err)) < 0) {
                        if (lock_fd != -EWOULDBLOCK)
                                log_warning("Not removing empty groups this period: %s.", colo_error_msg(&err));
                        return;
                }
                int r = tree_remove_if_empty(a->root, w->id.path, &err);
                if (r > 0) {
                        log_info("Removed the empty group of workload '%s' (%s).", w->id.name, w->id.path);
                        enforce_state_forget(a->enforce_state, w->id.path);
                }
                else if (r < 0)
                        log_warning("Failed to remove the empty group '%s': %s, ignoring.", w->id.path, colo_error_msg(&err));
        }
        if (lock_fd >= 0)
                (void) close(lock_fd);
}

static void after_status(Agent *a, uint64_t now) {
        agent_evictions_signal(a);
        agent_offline_slice_hold(a->offline_slice);     /* CPUWeight=idle back after a set-property */
        agent_own_group_hold(a);                        /* the agent's own CPU share beside the root */
        remove_empty_leaves(a, now);
}

static void describe(Agent *a, char *buf, size_t size) {
        snprintf(buf, size, "%zu workloads; offline budget %.2f cores, %" PRIu64 " MiB%s%s", tracker_count(a->tracker),
                 a->status.offline_cpu_budget_cores, a->status.offline_mem_budget >> 20,
                 a->status.squeezed ? "; squeezed" : "", a->opts.dry_run ? "; dry run" : "");
}

static void log_ready(Agent *a) {
        log_info("Ready: managing %s (%s); %zu workloads.", cg_root_describe(a->root),
                 cg_root_mode(a->root) == CG_MODE_V2 ? "v2" : "v1", tracker_count(a->tracker));
}

const AgentFront agent_standalone_front = {
        .offline_noun = "work",
        .needs_controllers = true,
        .workload_change = workload_change,
        .being_evicted = being_evicted,
        .evict = evict,
        .fill_status = fill_status,
        .after_status = after_status,
        .describe = describe,
        .log_ready = log_ready,
};
