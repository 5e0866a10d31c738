/* The node-level decisions around the plan, pure like policy_decide(): the offline budget a node
 * advertises (Kubernetes mode publishes it on the Node; the simulator places jobs against it) and
 * the cooldown that paces evictions while running offline work holds more than that budget. The
 * clock is an argument. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "policy/policy.h"

/* What a node offers offline work, with the online usage and peak it was computed from. */
typedef struct NodeBudget {
        double cpu_capacity_cores;
        uint64_t mem_capacity;
        double online_cpu_usage, online_cpu_peak;       /* peak: max(estimate, usage now) */
        uint64_t online_mem_usage, online_mem_peak;
        double offline_cpu_cores;       /* >= 0 */
        uint64_t offline_mem_bytes;
} NodeBudget;

/* The advertised budget of sample s under estimate est. With plan (this period's decision), the
 * CPU budget is the plan's before the min_offline_cpu_cores floor, and lower while squeezed (so a
 * scheduler backs off), and memory the plan's, squeeze included; without a plan (the simulator:
 * no squeeze) both come from policy_offline_cpu_budget() / policy_offline_mem_budget(). */
void policy_node_budget(const NodeSample *s, const OnlineEstimate *est, const PolicyConfig *cfg, const Plan *plan,
                        NodeBudget *ret);

/* When running offline work holds more than the budget: how long it has, and the last eviction
 * for it. Zero-initialise. */
typedef struct OvercommitState {
        uint64_t since_usec;            /* monotonic start of the over-commitment; 0: none */
        uint64_t last_eviction_usec;    /* 0: none yet */
} OvercommitState;

typedef enum OvercommitAction {
        OVERCOMMIT_STARTED = 1 << 0,    /* it began this period */
        OVERCOMMIT_ENDED = 1 << 1,      /* everything fits again */
        OVERCOMMIT_EVICT = 1 << 2,      /* evict one workload now */
} OvercommitAction;

/* One period: judged false (no fresh data, the pod list not synced, a dry run) forgets any
 * over-commitment silently. Otherwise one eviction once it has lasted evict_cooldown, and at most
 * one per cooldown after that; none with eviction off. Returns OvercommitAction bits; *st updated. */
unsigned policy_overcommit_step(OvercommitState *st, bool judged, bool overcommitted, const PolicyConfig *cfg,
                                uint64_t now_usec);
