/* Status from a decision, and the agent-less one-shot snapshot. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cgroup/cgroup.h"
#include "workloads/protections.h"
#include "workloads/snapshot.h"
#include "workloads/tracker.h"
#include "util/fileio.h"
#include "util/macro.h"

int snapshot_fill_status(StatusDoc *d, const NodeSample *s, const OnlineEstimate *est, const PolicyConfig *cfg,
                         const Plan *plan) {
        int r = status_doc_reserve(d, s->n_workloads);
        if (r < 0)
                return r;

        d->cpu_capacity_cores = s->cpu_capacity_cores;
        d->mem_capacity = s->mem_capacity;
        d->mem_available = s->mem_available;
        d->online_cpu_usage_cores = s->online_cpu_usage;
        d->online_mem_working_set = s->online_mem_working_set;
        d->offline_cpu_usage_cores = s->offline_cpu_usage;
        d->offline_mem_working_set = s->offline_mem_working_set;
        d->online_estimate_cpu_cores = est->cpu_cores;
        d->online_estimate_mem_bytes = est->mem_bytes;
        d->offline_cpu_quota_enforced = policy_cpu_quota_applies(cfg, s) || (plan && plan->cpu_control_limits);
        if (plan) {
                d->offline_cpu_budget_cores = plan->offline_cpu_budget_cores;
                d->offline_mem_budget = plan->offline_mem_budget;
                d->squeezed = plan->squeezed;
                snprintf(d->squeeze_reason, sizeof(d->squeeze_reason), "%s", plan->squeezed ? plan->squeeze_reason : "");
        } else {
                d->offline_cpu_budget_cores = policy_offline_cpu_budget(s, est, cfg);
                d->offline_mem_budget = policy_offline_mem_budget(s, est, cfg);
                d->squeezed = false;
                d->squeeze_reason[0] = '\0';
        }

        for (size_t i = 0; i < s->n_workloads; i++) {
                const WorkloadSample *ws = &s->workloads[i];
                StatusWorkload *w = &d->workloads[i];
                WorkloadState state = plan && plan->workload_states ? plan->workload_states[i] : WORKLOAD_RUNNING;
                const char *reason = plan && plan->workload_reasons && plan->workload_reasons[i]
                                             ? plan->workload_reasons[i] : "";
                *w = (StatusWorkload) {
                        .cls = ws->cls,
                        .tier = ws->tier,
                        .cpu_usage_cores = ws->cpu_usage_cores,
                        .mem_usage = ws->mem_usage,
                        .mem_working_set = ws->mem_working_set,
                        .nr_tasks = ws->nr_tasks,
                        .state = state,
                };
                memcpy(w->name, ws->name, sizeof(w->name));
                snprintf(w->reason, sizeof(w->reason), "%s", reason);
        }
        d->n_workloads = s->n_workloads;
        return 0;
}

int snapshot_take(CgRoot *root, const Config *cfg, uint64_t interval_usec, StatusDoc *ret, ColoError *err) {
        _cleanup_(tracker_freep) Tracker *t = NULL;
        int r = tracker_new(root, NULL, &t, err);
        if (r < 0)
                return r;
        r = tracker_refresh(t, now_monotonic_usec(), NULL, NULL, err);
        if (r < 0)
                return r;
        r = tracker_sample(t, now_monotonic_usec(), err);
        if (r < 0)
                return r;
        struct timespec ts = { .tv_sec = interval_usec / USEC_PER_SEC,
                               .tv_nsec = (long) (interval_usec % USEC_PER_SEC * 1000) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
        r = tracker_sample(t, now_monotonic_usec(), err);
        if (r < 0)
                return r;

        const NodeSample *s = tracker_node(t);
        OnlineEstimate est = { .cpu_cores = s->online_cpu_usage, .mem_bytes = s->online_mem_working_set };
        PolicyState state = {};
        Plan *plan = NULL;
        r = policy_decide(s, &est, &cfg->policy, &state, &plan);
        if (r < 0)
                return colo_error_set(err, -r, "decide the policy for the snapshot");

        StatusDoc d = {};
        r = snapshot_fill_status(&d, s, &est, &cfg->policy, plan);
        plan_free(plan);
        if (r < 0) {
                status_doc_done(&d);
                return colo_error_set(err, -r, "build the status");
        }
        /* Nothing is evicted by a snapshot; say what an agent would do instead. */
        for (size_t i = 0; i < d.n_workloads; i++) {
                StatusWorkload *w = &d.workloads[i];
                if (w->state != WORKLOAD_EVICTED)
                        continue;
                char reason[STATUS_REASON_MAX];
                snprintf(reason, sizeof(reason), "an agent would evict it: %s", w->reason);
                memcpy(w->reason, reason, sizeof(reason));
                w->state = WORKLOAD_SQUEEZED;
        }
        d.updated_realtime_usec = now_realtime_usec();
        d.period_usec = cfg->agent.period_usec;
        snprintf(d.cgroup_root, sizeof(d.cgroup_root), "%s", cg_root_describe(root) ?: "");
        snprintf(d.cgroup_mode, sizeof(d.cgroup_mode), "%s", cg_root_mode(root) == CG_MODE_V2 ? "v2" : "v1");
        snprintf(d.estimate_source, sizeof(d.estimate_source), "current");
        protections_check(root, &cfg->policy, cfg->kubernetes.enabled, &d);
        *ret = d;
        return 0;
}
