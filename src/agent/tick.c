/* One control period: collect -> estimate -> decide -> enforce -> evict -> status. Runs every
 * agent.period and at once after a fast-reaction event. Only the tracker and enforce_apply() touch the
 * kernel; the decision is policy_decide(), the same pure function the simulator and `colo status`
 * call. The status file is written before any eviction signal goes out, so the reason is on
 * record by the time the workload's supervisor sees it die. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "agent/agent.h"
#include "cgroup/cgroup.h"
#include "enforce/enforce.h"
#include "standalone/snapshot.h"
#include "standalone/tracker.h"
#include "standalone/tree.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

/* An empty leaf that never had a task is left alone this long: `colo run` creates the leaf
 * before its child joins it. */
#define EMPTY_LEAF_GRACE_USEC (10 * USEC_PER_SEC)

static void on_write(void *userdata, const char *path, const char *value, int r) {
        Agent *a = userdata;
        if (r >= 0) {
                /* Only a dry run reports writes that succeeded (would have happened). */
                if (a->opts.dry_run)
                        log_info("Dry run: would write '%s' to '%s'.", value, path);
                return;
        }
        a->metrics.write_failures_total++;
        a->write_failures_this_tick++;
        log_warning("Failed to write '%s' to '%s': %s", value, path, strerror(-r));
}

static void on_workload_change(void *userdata, const TreeWorkload *w, bool added) {
        Agent *a = userdata;
        if (added)
                log_info("%s workload '%s' (%s/%s).", a->ready ? "Tracking new" : "Adopted", w->name,
                         workload_class_to_string(w->cls), workload_tier_to_string(w->tier));
        else
                log_info("Workload '%s' (%s/%s) is gone.", w->name, workload_class_to_string(w->cls),
                         workload_tier_to_string(w->tier));
}

/* Removes leaves of workloads whose processes all exited. */
static void remove_empty_leaves(Agent *a, uint64_t now) {
        if (a->opts.dry_run)
                return;
        for (size_t i = 0; i < tracker_count(a->tracker); i++) {
                TrackedWorkload *w = tracker_get(a->tracker, i);
                if (w->read_failed || w->usage.nr_tasks > 0 || w->empty_since_usec == 0)
                        continue;
                if (!w->ever_populated && now - MIN(now, w->first_seen_usec) < EMPTY_LEAF_GRACE_USEC)
                        continue;
                ColoError err = {};
                int r = tree_remove_if_empty(a->root, w->id.path, &err);
                if (r > 0) {
                        log_info("Removed the empty group of workload '%s' (%s).", w->id.name, w->id.path);
                        enforce_state_forget(a->enforce_state, w->id.path);
                }
                else if (r < 0)
                        log_warning("Failed to remove the empty group '%s': %s, ignoring.", w->id.path, colo_error_msg(&err));
        }
}

int agent_status_fill_common(Agent *a, const NodeSample *s, const Plan *plan) {
        StatusDoc *d = &a->status;
        int r = snapshot_fill_status(d, s, &a->estimate, &a->config.policy, plan);
        if (r < 0)
                return r;
        d->agent_pid = getpid();
        d->dry_run = a->opts.dry_run;
        d->updated_realtime_usec = now_realtime_usec();
        d->period_usec = a->config.agent.period_usec;
        snprintf(d->subtree, sizeof(d->subtree), "%s", a->subtree);
        snprintf(d->cgroup_root, sizeof(d->cgroup_root), "%s", cg_root_describe(a->root) ?: "");
        snprintf(d->cgroup_mode, sizeof(d->cgroup_mode), "%s", cg_root_mode(a->root) == CG_MODE_V2 ? "v2" : "v1");
        snprintf(d->estimate_source, sizeof(d->estimate_source), "%s", a->estimate_source);
        d->has_predicted_peak = a->has_predicted_peak;
        uint64_t total = 0;
        for (int t = 0; t < _TIER_MAX; t++)
                total += a->metrics.evictions_total[t];
        d->evictions_total = total;
        return 0;
}

/* The status document: what the policy decided, with evictions in progress or retained. */
static int build_status(Agent *a, const NodeSample *s, const Plan *plan) {
        StatusDoc *d = &a->status;
        int r = agent_status_fill_common(a, s, plan);
        if (r < 0)
                return r;

        /* Workloads being evicted keep their record's reason; finished evictions whose group is
         * gone stay listed (retained) so `colo status` can say why they stopped. */
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
                r = status_doc_reserve(d, d->n_workloads + 1);
                if (r < 0)
                        return r;
                d->workloads[d->n_workloads++] = rec->last;
        }
        return 0;
}

static void notify(Agent *a) {
        char text[256];
        snprintf(text, sizeof(text), "STATUS=%zu workloads; offline budget %.2f cores, %" PRIu64 " MiB%s%s",
                 tracker_count(a->tracker), a->status.offline_cpu_budget_cores, a->status.offline_mem_budget >> 20,
                 a->status.squeezed ? "; squeezed" : "", a->opts.dry_run ? "; dry run" : "");
        unsigned essential = (1u << CG_CTRL_CPU) | (1u << CG_CTRL_MEMORY);
        if (a->missing_controllers & essential) {
                /* Not ready while isolation is not in force: a Type=notify unit fails to start
                 * instead of running half-isolated (agent.c logged the cause and the fix). */
                snprintf(text, sizeof(text), "STATUS=isolation not in force: no %s%s%s controller in the managed root",
                         a->missing_controllers & (1u << CG_CTRL_CPU) ? "cpu" : "",
                         (a->missing_controllers & essential) == essential ? " and no " : "",
                         a->missing_controllers & (1u << CG_CTRL_MEMORY) ? "memory" : "");
                (void) sd_notify(0, text);
                return;
        }
        if (!a->ready) {
                char msg[300];
                snprintf(msg, sizeof(msg), "READY=1\n%s", text);
                (void) sd_notify(0, msg);
                a->ready = true;
                log_info("Ready: managing %s (%s); %zu workloads.", cg_root_describe(a->root),
                         cg_root_mode(a->root) == CG_MODE_V2 ? "v2" : "v1", tracker_count(a->tracker));
                return;
        }
        (void) sd_notify(0, text);
}

int agent_tick(Agent *a) {
        if (a->k8s)
                return agent_k8s_tick(a);       /* pods from the API server in kubelet's tree */
        uint64_t start = now_monotonic_usec();
        ColoError err = {};
        Plan *plan = NULL;
        int r;

        a->write_failures_this_tick = 0;
        r = tracker_refresh(a->tracker, start, on_workload_change, a, &err);
        if (r < 0) {
                log_warning("Failed to list the managed workloads: %s", colo_error_msg(&err));
                return r;
        }
        for (size_t i = 0; i < tracker_count(a->tracker); i++) {
                TrackedWorkload *w = tracker_get(a->tracker, i);
                w->being_evicted = agent_is_being_evicted(a, w->id.name);
        }
        r = tracker_sample(a->tracker, start, &err);
        if (r < 0) {
                log_warning("Failed to sample the node: %s", colo_error_msg(&err));
                return r;
        }
        const NodeSample *s = tracker_node(a->tracker);

        agent_estimate(a, s, start);

        r = policy_decide(s, &a->estimate, &a->config.policy, &a->policy_state, &plan);
        if (r < 0) {
                log_error("The policy rejected the sample: %s", strerror(-r));
                return r;
        }

        r = enforce_apply(a->root, plan, a->enforce_state, a->opts.dry_run, on_write, a, &err);
        if (r < 0)
                log_error("Failed to apply the plan: %s", colo_error_msg(&err));
        if (a->pending_event_usec != 0) {
                uint64_t now = now_monotonic_usec();
                prom_histogram_observe(&a->metrics.reaction_seconds,
                                       (double) (now - MIN(now, a->pending_event_usec)) / USEC_PER_SEC);
                a->pending_event_usec = 0;
        }

        for (size_t i = 0; i < plan->n_evictions; i++) {
                int idx = tracker_find(a->tracker, plan->evictions[i].name);
                if (idx >= 0)
                        agent_start_eviction(a, &plan->evictions[i], (size_t) idx);
        }
        agent_evictions_update(a, start);
        if (plan->squeezed != a->status.squeezed)
                log_notice(plan->squeezed ? "Offline work squeezed: %s" : "Offline work no longer squeezed%s",
                           plan->squeezed ? plan->squeeze_reason : ".");

        r = build_status(a, s, plan);
        plan = plan_free(plan);
        if (r < 0)
                log_error("Failed to build the status: %s", strerror(-r));
        else
                (void) agent_write_status(a);
        agent_evictions_signal(a);
        remove_empty_leaves(a, start);
        psi_watch_update(a->psi, s);

        a->last_tick_usec = now_monotonic_usec();
        a->metrics.ticks_total++;
        prom_histogram_observe(&a->metrics.tick_duration_seconds, (double) (a->last_tick_usec - start) / USEC_PER_SEC);
        notify(a);
        return 0;
}
