/* Node-level decisions around the plan (policy-node.h): the advertised budget and the
 * over-commitment eviction cooldown. */
#include "policy/policy-node.h"
#include "util/macro.h"

void policy_node_budget(const NodeSample *s, const OnlineEstimate *est, const PolicyConfig *cfg, const Plan *plan,
                        NodeBudget *ret) {
        double cpu;
        uint64_t mem;
        if (plan) {
                cpu = plan->squeezed ? MIN(plan->offline_cpu_budget_raw, plan->offline_cpu_budget_cores)
                                     : plan->offline_cpu_budget_raw;
                mem = plan->offline_mem_budget;
        } else {
                cpu = policy_offline_cpu_budget(s, est, cfg);
                mem = policy_offline_mem_budget(s, est, cfg);
        }
        *ret = (NodeBudget) {
                .cpu_capacity_cores = s->cpu_capacity_cores,
                .mem_capacity = s->mem_capacity,
                .online_cpu_usage = s->online_cpu_usage,
                .online_cpu_peak = MAX(est->cpu_cores, s->online_cpu_usage),
                .online_mem_usage = s->online_mem_working_set,
                .online_mem_peak = MAX(est->mem_bytes, s->online_mem_working_set),
                .offline_cpu_cores = MAX(cpu, 0.0),
                .offline_mem_bytes = mem,
        };
}

unsigned policy_overcommit_step(OvercommitState *st, bool judged, bool overcommitted, const PolicyConfig *cfg,
                                uint64_t now_usec) {
        if (!judged) {
                st->since_usec = 0;
                return 0;
        }
        if (!overcommitted) {
                unsigned a = st->since_usec ? OVERCOMMIT_ENDED : 0;
                st->since_usec = 0;
                return a;
        }
        unsigned a = 0;
        if (!st->since_usec) {
                st->since_usec = now_usec;
                a |= OVERCOMMIT_STARTED;
        }
        if (!cfg->eviction || now_usec - st->since_usec < cfg->evict_cooldown_usec ||
            (st->last_eviction_usec && now_usec - st->last_eviction_usec < cfg->evict_cooldown_usec))
                return a;
        st->last_eviction_usec = now_usec;
        return a | OVERCOMMIT_EVICT;
}
