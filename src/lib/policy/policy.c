/* policy_decide(): validates one period's sample, computes the offline budgets, runs the
 * squeeze/evict decision and lays out the Plan (groups parents first, per-workload states).
 * Pure: all it knows comes from its arguments, and the carried PolicyState is committed only
 * when the whole decision succeeded. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy-internal.h"
#include "util/macro.h"

static const char *const workload_state_names[_WORKLOAD_STATE_MAX] = {
        [WORKLOAD_RUNNING] = "running",
        [WORKLOAD_SQUEEZED] = "squeezed",
        [WORKLOAD_EVICTED] = "evicted",
};

const char *workload_state_to_string(WorkloadState s) {
        return s >= 0 && s < _WORKLOAD_STATE_MAX ? workload_state_names[s] : NULL;
}

static uint64_t sub_sat(uint64_t a, uint64_t b) {
        return a > b ? a - b : 0;
}

static bool is_amount(double v) {
        return isfinite(v) && v >= 0.0;
}

static bool pressure_is_valid(const CgPressure *p) {
        return !p->valid || (is_amount(p->some_avg10) && is_amount(p->some_avg60) && is_amount(p->some_avg300) &&
                             is_amount(p->full_avg10) && is_amount(p->full_avg60) && is_amount(p->full_avg300));
}

static bool estimate_is_valid(const OnlineEstimate *est) {
        return est && is_amount(est->cpu_cores);
}

static bool node_is_valid(const NodeSample *s) {
        return s && isfinite(s->cpu_capacity_cores) && s->cpu_capacity_cores > 0.0 && s->mem_capacity > 0 &&
               is_amount(s->online_cpu_usage) && is_amount(s->offline_cpu_usage);
}

void policy_inputs_init(PolicyInputs *in, const NodeSample *s, const OnlineEstimate *est, const PolicyConfig *cfg) {
        *in = (PolicyInputs) { .s = s, .cfg = cfg };
        in->online_cpu = MAX(est->cpu_cores, s->online_cpu_usage);
        in->online_mem = MAX(est->mem_bytes, s->online_mem_working_set);

        double cpu = s->cpu_capacity_cores - cfg->reserved_cpu_cores - in->online_cpu -
                     cfg->cpu_safety_margin * s->cpu_capacity_cores;
        in->cpu_budget_raw = cpu > 0.0 ? cpu : 0.0;

        uint64_t margin = (uint64_t) (cfg->mem_safety_margin * (double) s->mem_capacity);
        in->mem_budget_raw = sub_sat(sub_sat(sub_sat(s->mem_capacity, cfg->reserved_mem_bytes), in->online_mem), margin);
}

double policy_offline_cpu_budget(const NodeSample *s, const OnlineEstimate *est, const PolicyConfig *cfg) {
        if (!node_is_valid(s) || !estimate_is_valid(est) || policy_config_check(cfg, NULL) < 0)
                return 0.0;
        PolicyInputs in;
        policy_inputs_init(&in, s, est, cfg);
        return in.cpu_budget_raw;
}

uint64_t policy_offline_mem_budget(const NodeSample *s, const OnlineEstimate *est, const PolicyConfig *cfg) {
        if (!node_is_valid(s) || !estimate_is_valid(est) || policy_config_check(cfg, NULL) < 0)
                return 0;
        PolicyInputs in;
        policy_inputs_init(&in, s, est, cfg);
        return in.mem_budget_raw;
}

static bool workloads_are_valid(const NodeSample *s) {
        if (s->n_workloads > 0 && !s->workloads)
                return false;
        for (size_t i = 0; i < s->n_workloads; i++) {
                const WorkloadSample *w = &s->workloads[i];
                if (!workload_name_is_valid(w->name) || w->cls < 0 || w->cls >= _CLASS_MAX ||
                    workload_tier_class(w->tier) != w->cls)
                        return false;
                if (!is_amount(w->cpu_usage_cores) || !is_amount(w->cpu_limit_cores))
                        return false;
                /* One leaf per (tier, name): the same name under two tiers (an interrupted move)
                 * is fine, twice under one tier would be two plans for one group. O(n^2) only
                 * over equal tiers and names, which is rare; n is bounded by max pods. */
                for (size_t j = 0; j < i; j++)
                        if (s->workloads[j].tier == w->tier && strcmp(s->workloads[j].name, w->name) == 0)
                                return false;
        }
        return true;
}

Plan *plan_free(Plan *p) {
        if (!p)
                return NULL;
        free(p->groups);
        free(p->evictions);
        free(p->workload_states);
        free(p->workload_reasons);
        free(p);
        return NULL;
}
static inline void plan_freep(Plan **p) {
        plan_free(*p);
}

static GroupPlan *plan_add_group(Plan *p, const char *path) {
        GroupPlan *g = &p->groups[p->n_groups++];
        snprintf(g->path, sizeof(g->path), "%s", path);
        return g;
}

static void plan_groups(Plan *p, const PolicyInputs *in, uint64_t mem_limit) {
        static const WorkloadTier tiers[] = { TIER_CRITICAL, TIER_NORMAL, TIER_BATCH, TIER_BEST_EFFORT };
        const NodeSample *s = in->s;

        policy_knobs_root(in, &plan_add_group(p, "")->knobs);
        for (WorkloadClass c = 0; c < _CLASS_MAX; c++) {
                policy_knobs_class(in, c, p->offline_cpu_budget_cores, mem_limit, p->squeezed,
                                   &plan_add_group(p, workload_class_to_string(c))->knobs);
                for (size_t t = 0; t < ELEMENTSOF(tiers); t++) {
                        if (workload_tier_class(tiers[t]) != c)
                                continue;
                        char path[sizeof(p->groups[0].path)];
                        snprintf(path, sizeof(path), "%s/%s", workload_class_to_string(c),
                                 workload_tier_to_string(tiers[t]));
                        policy_knobs_tier(in, tiers[t], &plan_add_group(p, path)->knobs);
                }
        }
        for (size_t i = 0; i < s->n_workloads; i++) {
                const WorkloadSample *w = &s->workloads[i];
                char path[sizeof(p->groups[0].path)];
                snprintf(path, sizeof(path), "%s/%s/%s", workload_class_to_string(w->cls),
                         workload_tier_to_string(w->tier), w->name);
                policy_knobs_workload(in, w->tier, &plan_add_group(p, path)->knobs);
        }
}

/* Offline workloads using CPU while offline as a whole runs at its budget are held below
 * what they would take. */
bool policy_cpu_idle_in_force(const PolicyConfig *cfg, bool kernel_has_cpu_idle) {
        return cfg->cpu_idle && kernel_has_cpu_idle;
}

bool policy_cpu_control_takes_cpu_input(const PolicyConfig *cfg, bool kernel_has_cpu_idle) {
        return cfg->cpu_control == FEATURE_ON ||
               (cfg->cpu_control == FEATURE_AUTO && !policy_cpu_idle_in_force(cfg, kernel_has_cpu_idle));
}

bool policy_cpu_quota_applies(const PolicyConfig *cfg, const NodeSample *s) {
        switch (cfg->cpu_quota) {
        case FEATURE_ON:
                return true;
        case FEATURE_AUTO:
                return !policy_cpu_idle_in_force(cfg, s->cpu_idle_available);
        default:
                return false;
        }
}

static bool cpu_is_held(const PolicyInputs *in, double budget) {
        return (policy_cpu_quota_applies(in->cfg, in->s) || in->cpu_controller_limits) && in->s->offline_cpu_usage > 0.0 &&
               in->s->offline_cpu_usage >= POLICY_CPU_HELD_FRACTION * budget;
}

static void plan_workload_states(Plan *p, const PolicyInputs *in, const PressureDecision *d) {
        const NodeSample *s = in->s;

        for (size_t i = 0; i < s->n_workloads; i++) {
                const WorkloadSample *w = &s->workloads[i];
                WorkloadState st = WORKLOAD_RUNNING;
                const char *reason = "";

                if (w->cls != CLASS_OFFLINE)
                        ;
                else if (w->being_evicted)
                        st = WORKLOAD_EVICTED;
                else if (d->evict && d->evict_index == i) {
                        st = WORKLOAD_EVICTED;
                        reason = p->evictions[0].reason;
                } else if (p->squeezed) {
                        st = WORKLOAD_SQUEEZED;
                        reason = p->squeeze_reason;
                } else if (p->cpu_held && w->cpu_usage_cores > 0.0) {
                        st = WORKLOAD_SQUEEZED;
                        reason = p->cpu_held_reason;
                }
                p->workload_states[i] = st;
                p->workload_reasons[i] = reason;
        }
}

int policy_decide(const NodeSample *s, const OnlineEstimate *est, const PolicyConfig *cfg, PolicyState *state,
                  Plan **ret_plan) {
        if (!node_is_valid(s) || !estimate_is_valid(est) || !state || !ret_plan)
                return -EINVAL;
        if (policy_config_check(cfg, NULL) < 0)
                return -EINVAL;
        if (!pressure_is_valid(&s->online_mem_pressure) || !pressure_is_valid(&s->host_cpu_pressure) ||
            !pressure_is_valid(&s->host_mem_pressure) || !pressure_is_valid(&s->online_cpu_pressure) ||
            !pressure_is_valid(&s->online_io_pressure) || !workloads_are_valid(s))
                return -EINVAL;

        PolicyInputs in;
        policy_inputs_init(&in, s, est, cfg);

        _cleanup_(plan_freep) Plan *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        size_t n_groups = 1 + _CLASS_MAX + _TIER_MAX + s->n_workloads;
        p->groups = calloc(n_groups, sizeof(*p->groups));
        p->evictions = calloc(1, sizeof(*p->evictions));
        p->workload_states = calloc(MAX(s->n_workloads, (size_t) 1), sizeof(*p->workload_states));
        p->workload_reasons = calloc(MAX(s->n_workloads, (size_t) 1), sizeof(*p->workload_reasons));
        if (!p->groups || !p->evictions || !p->workload_states || !p->workload_reasons)
                return -ENOMEM;

        PolicyState next = *state;
        PressureDecision d;
        policy_decide_pressure(&in, &next, &d);
        CpuControlDecision cd;
        policy_cpu_control(&in, &next.cpu_control, &cd);
        in.cpu_controller_limits = cd.limits;
        if (!d.evict)
                d.evict = policy_cpu_control_evict(&in, &next, &d.evict_index, d.evict_reason, sizeof(d.evict_reason));

        p->offline_cpu_budget_raw = in.cpu_budget_raw;
        p->offline_mem_budget_raw = in.mem_budget_raw;
        p->squeezed = d.squeezed;
        if (d.squeezed) {
                p->offline_cpu_budget_cores = cfg->min_offline_cpu_cores;
                p->offline_mem_budget = d.squeezed_mem_limit;
                snprintf(p->squeeze_reason, sizeof(p->squeeze_reason), "%s", d.squeeze_reason);
        } else {
                p->offline_cpu_budget_cores = MAX(in.cpu_budget_raw, cfg->min_offline_cpu_cores);
                p->offline_mem_budget = in.mem_budget_raw;
        }
        p->cpu_control_limits = cd.limits;
        if (cd.limits)
                p->offline_cpu_budget_cores = MAX(MIN(p->offline_cpu_budget_cores, cd.limit_cores), cfg->min_offline_cpu_cores);

        if (d.evict) {
                const WorkloadSample *w = &s->workloads[d.evict_index];
                Eviction *e = &p->evictions[p->n_evictions++];
                snprintf(e->name, sizeof(e->name), "%s", w->name);
                e->tier = w->tier;
                snprintf(e->reason, sizeof(e->reason), "%s", d.evict_reason);
        }

        p->cpu_held = cpu_is_held(&in, p->offline_cpu_budget_cores);
        if (p->cpu_held && cd.limits)
                snprintf(p->cpu_held_reason, sizeof(p->cpu_held_reason), "%s", cd.reason);
        else if (p->cpu_held)
                snprintf(p->cpu_held_reason, sizeof(p->cpu_held_reason),
                         "offline CPU usage %.2f cores at its budget %.2f cores (online estimate %.2f of %.2f cores)",
                         s->offline_cpu_usage, p->offline_cpu_budget_cores, in.online_cpu, s->cpu_capacity_cores);

        plan_groups(p, &in, p->offline_mem_budget);
        plan_workload_states(p, &in, &d);

        *state = next;
        *ret_plan = TAKE_PTR(p);
        return 0;
}
