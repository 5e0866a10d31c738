/* One control period, the same for both modes: refresh the tracker over the mode's workload
 * source -> sample -> estimate -> decide -> (transform onto the mode's tree) -> enforce -> the
 * front's evictions and publication -> status. Runs every agent.period and at once after a
 * fast-reaction event. Only the tracker and enforce_apply() touch the kernel; the decisions are
 * the pure estimate_choose() and policy_decide(), which the simulator and `colo status` call too.
 * What differs by mode is the AgentFront (agent.h) agent.c picked. The status file is written
 * before any eviction signal goes out, so the reason is on record by the time the workload's
 * supervisor sees it die. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "agent/agent.h"
#include "cgroup/cgroup.h"
#include "enforce/enforce.h"
#include "workloads/protections.h"
#include "workloads/snapshot.h"
#include "workloads/tracker.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/macro.h"

static void on_write(void *userdata, const char *path, const char *value, int r) {
        Agent *a = userdata;
        if (r >= 0)
                return;         /* a dry run's writes are recorded at the seam (write-log.c) */
        a->metrics.write_failures_total++;
        a->write_failures_this_tick++;
        log_warning("Failed to write '%s' to '%s': %s", value, path, strerror(-r));
}

static void on_workload_change(void *userdata, const TreeWorkload *w, bool added) {
        Agent *a = userdata;
        if (a->front->workload_change)
                a->front->workload_change(a, w, added);
}

/* The status document's fields both modes share: the plan, the agent and its estimate. */
static int fill_common_status(Agent *a, const NodeSample *s, const Plan *plan) {
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
        return a->front->fill_status(a, d);
}

static void notify(Agent *a) {
        char text[384], msg[416];
        a->front->describe(a, text, sizeof(text));
        if (a->front->needs_controllers && !a->status.isolation_in_force) {
                /* Not ready while isolation is not in force (the cpu or memory protection, checked
                 * once at start): a Type=notify unit fails to start instead of running
                 * half-isolated (agent.c logged the cause and the fix). */
                bool cpu = protections_in_force(&a->status, "cpu"), memory = protections_in_force(&a->status, "memory");
                snprintf(msg, sizeof(msg), "STATUS=isolation not in force: no %s%s%s controller in the managed root",
                         cpu ? "" : "cpu", !cpu && !memory ? " and no " : "", memory ? "" : "memory");
                (void) sd_notify(0, msg);
                return;
        }
        snprintf(msg, sizeof(msg), "%sSTATUS=%s", a->ready ? "" : "READY=1\n", text);
        (void) sd_notify(0, msg);
        if (!a->ready) {
                a->ready = true;
                a->front->log_ready(a);
        }
}

/* The period's workloads and their sample. NULL when the node cannot be read (logged). */
static const NodeSample *sample(Agent *a, uint64_t now) {
        ColoError err = {};
        int r = tracker_refresh(a->tracker, now, on_workload_change, a, &err);
        if (r < 0) {
                log_warning("Failed to list the workloads: %s", colo_error_msg(&err));
                return NULL;
        }
        for (size_t i = 0; i < tracker_count(a->tracker); i++) {
                TrackedWorkload *w = tracker_get(a->tracker, i);
                w->being_evicted = a->front->being_evicted(a, w);
        }
        colo_error_clear(&err);
        r = tracker_sample(a->tracker, now, &err);
        if (r < 0) {
                log_warning("Failed to sample the node: %s", colo_error_msg(&err));
                return NULL;
        }
        return tracker_node(a->tracker);
}

/* The plan through the front's transform (onto its tree) into enforce_apply(). */
static void apply(Agent *a, const Plan *plan) {
        ColoError err = {};
        Plan *mapped = NULL;
        if (a->front->transform_plan) {
                int r = a->front->transform_plan(a, plan, &mapped);
                if (r < 0) {
                        log_error("Cannot map the plan onto the managed tree: %s", strerror(-r));
                        return;
                }
        }
        int r = enforce_apply(a->root, mapped ?: plan, a->enforce_state, on_write, a, &err);
        if (r < 0)
                log_error("Failed to apply the plan: %s", colo_error_msg(&err));
        if (a->front->after_apply)
                a->front->after_apply(a, mapped ?: plan);
        plan_free(mapped);
        if (a->pending_event_usec != 0) {
                uint64_t now = now_monotonic_usec();
                prom_histogram_observe(&a->metrics.reaction_seconds,
                                       (double) (now - MIN(now, a->pending_event_usec)) / USEC_PER_SEC);
                a->pending_event_usec = 0;
        }
}

/* No fresh decision this period: the knobs stay as they are; the front still runs (Kubernetes:
 * the advertised capacity decays once this lasts beyond kubernetes.stale_after). */
static int tick_without_plan(Agent *a, uint64_t start, int r) {
        if (a->front->after_decide)
                a->front->after_decide(a, NULL, NULL, start);
        if (a->front->end)
                a->front->end(a);
        return r;
}

int agent_tick(Agent *a) {
        uint64_t start = now_monotonic_usec();
        Plan *plan = NULL;

        a->write_failures_this_tick = 0;
        if (a->front->begin)
                a->front->begin(a, start);
        const NodeSample *s = sample(a, start);
        if (!s)
                return tick_without_plan(a, start, -EIO);
        agent_estimate(a, s, start);
        int r = policy_decide(s, &a->estimate, &a->config.policy, &a->policy_state, &plan);
        if (r < 0) {
                log_error("The policy rejected the sample: %s", strerror(-r));
                return tick_without_plan(a, start, r);
        }

        apply(a, plan);
        a->front->evict(a, plan, start);
        if (plan->squeezed != a->status.squeezed)
                log_notice(plan->squeezed ? "Offline %s squeezed: %s" : "Offline %s no longer squeezed%s",
                           a->front->offline_noun, plan->squeezed ? plan->squeeze_reason : ".");
        if (a->front->after_decide)
                a->front->after_decide(a, s, plan, start);

        r = fill_common_status(a, s, plan);
        plan = plan_free(plan);
        if (r < 0)
                log_error("Failed to build the status: %s", strerror(-r));
        else
                (void) agent_write_status(a);
        if (a->front->after_status)
                a->front->after_status(a, start);
        psi_watch_update(a->psi, s);
        if (a->front->end)
                a->front->end(a);

        a->last_tick_usec = now_monotonic_usec();
        a->metrics.ticks_total++;
        prom_histogram_observe(&a->metrics.tick_duration_seconds, (double) (a->last_tick_usec - start) / USEC_PER_SEC);
        notify(a);
        return 0;
}
