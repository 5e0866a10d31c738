/* Shared only by the policy .c files: the steps policy_decide() is made of, each pure. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "policy/policy.h"

/* The inputs every step needs, computed once per decision. */
typedef struct PolicyInputs {
        const NodeSample *s;
        const PolicyConfig *cfg;
        double online_cpu;              /* max(estimate, current online use), cores */
        uint64_t online_mem;            /* max(estimate, current online working set), bytes */
        double cpu_budget_raw;          /* capacity - reserved - online - margin, >= 0 */
        uint64_t mem_budget_raw;
        bool cpu_controller_limits;     /* set once the CPU controller decided: it caps offline CPU */
} PolicyInputs;

void policy_inputs_init(PolicyInputs *in, const NodeSample *s, const OnlineEstimate *est, const PolicyConfig *cfg);

/* The squeeze and eviction decision of one period. */
typedef struct PressureDecision {
        bool squeezed;
        char squeeze_reason[POLICY_REASON_MAX];
        uint64_t squeezed_mem_limit;    /* offline memory level while squeezed; CG_UNSET when not */
        bool evict;
        size_t evict_index;             /* into s->workloads */
        char evict_reason[POLICY_REASON_MAX];
} PressureDecision;

/* Updates *state (a copy the caller commits only on success) and fills *ret. */
void policy_decide_pressure(const PolicyInputs *in, PolicyState *state, PressureDecision *ret);

/* The CPU interference controller (policy-cpu-control.c). */
typedef struct CpuControlDecision {
        bool limits;                    /* cap offline CPU at limit_cores */
        double limit_cores;
        char reason[POLICY_REASON_MAX]; /* while it limits */
} CpuControlDecision;

/* Measures the online pressure, steps the cap and fills *ret; updates *st. */
void policy_cpu_control(const PolicyInputs *in, CpuControlState *st, CpuControlDecision *ret);
/* After policy_cpu_control(): whether to evict for CPU now (at the floor for cpu_evict_periods,
 * eviction on, cooldown passed, an eviction that can help, a candidate that uses CPU). Updates
 * *st like a memory eviction. */
bool policy_cpu_control_evict(const PolicyInputs *in, PolicyState *st, size_t *ret_index, char *reason, size_t size);

/* Fills the knobs of the fixed groups and of one workload leaf. cpu_budget and mem_level are the
 * effective offline values (after floor and squeeze); squeezed: the squeeze is on. */
void policy_knobs_root(const PolicyInputs *in, CgKnobs *ret);
void policy_knobs_class(const PolicyInputs *in, WorkloadClass cls, double cpu_budget, uint64_t mem_level,
                        bool squeezed, CgKnobs *ret);
void policy_knobs_tier(const PolicyInputs *in, WorkloadTier tier, CgKnobs *ret);
void policy_knobs_workload(const PolicyInputs *in, WorkloadTier tier, CgKnobs *ret);
/* The IO knobs (policy-io.c), added to knobs the above filled. */
void policy_knobs_io_class(const PolicyConfig *cfg, WorkloadClass cls, CgKnobs *ret);
void policy_knobs_io_tier(const PolicyConfig *cfg, WorkloadTier tier, CgKnobs *ret);
void policy_knobs_io_leaf(const PolicyConfig *cfg, WorkloadTier tier, CgKnobs *ret);

/* bytes in whole MiB, for reason texts. */
static inline unsigned long long policy_mib(uint64_t bytes) {
        return (unsigned long long) (bytes >> 20);
}
