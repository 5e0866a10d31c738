/* From one decision to the status document, and the one-shot snapshot `colo status` computes
 * when no agent runs: the same tracker and the same policy_decide() the agent uses, with the
 * enforcement step left out (dry run), so what it shows is what an agent would do. */
#pragma once

#include <stdint.h>

#include "config/config.h"
#include "policy/policy.h"
#include "status/status-doc.h"
#include "util/error.h"

typedef struct CgRoot CgRoot;

/* Fills the node, usage, budget and workload fields of d from a sample, the estimate used and the
 * plan decided (plan may be NULL: budgets from the formulas, every workload running). Workload i
 * of the sample gets plan->workload_states[i] and plan->workload_reasons[i]. Reuses d's workload array. Agent fields, timestamps and
 * the estimate description are left to the caller. */
int snapshot_fill_status(StatusDoc *d, const NodeSample *s, const OnlineEstimate *est, const PolicyConfig *cfg,
                         const Plan *plan);

/* Takes a one-shot snapshot of the managed tree: samples twice, interval_usec apart (CPU usage
 * is a rate), estimates the online peak as the current online usage, runs the policy and fills
 * *ret (agent_pid 0). Creates nothing, writes nothing. */
int snapshot_take(CgRoot *root, const Config *cfg, uint64_t interval_usec, StatusDoc *ret, ColoError *err);
