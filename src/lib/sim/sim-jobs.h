/* The simulator's offline job model: what overselling delivers as completed offline work.
 *
 * Per node and predictor, a set of running jobs, fed one scored step at a time (sim.c):
 *   1. The node advertises the offline CPU budget the agent would publish for that prediction:
 *      policy_node_budget() without a squeeze (capacity - reserved - max(prediction, usage now)
 *      - margin) with capacity = the node's sum of limits. From an unbounded queue, jobs of job_cpu are
 *      placed while the running jobs' sizes plus one more fit that budget (as kube-scheduler
 *      places pods requesting colo.io/offline-cpu).
 *   2. Over the step that follows, online usage is served first; what is left of the capacity,
 *      available = max(0, limit - usage), is shared by the running jobs (SCHED_IDLE, equal
 *      weights): each gets min(job_cpu, job_cpu x available / running sizes).
 *   3. When that squeezes them by more than squeeze_tolerance of their size, jobs are evicted in
 *      the policy's order (policy_pick_victim(): every job is a batch workload named as a pod
 *      with a generated suffix, so the order among equals is arbitrary but fixed) until the rest
 *      are squeezed by no more than the tolerance. An evicted job loses its progress and goes
 *      back to the queue; the step's CPU goes to the jobs that remain.
 *   4. Each job progresses by the CPU it got; it completes at job_cpu x job_usec of work.
 * Steps that are not scored (warm-up, gaps) neither place nor run jobs. Jobs still running at a
 * series break (the next scored step is not the next step) or at the end of the trace end there:
 * their work counts neither as done nor as lost (sim_job_set_interrupt()).
 *
 * Memory is O(running jobs) per (node, predictor): bounded by the capacity / job_cpu. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

typedef struct SimJobOptions {
        double job_cpu;                 /* 0.5: half of one VM's limit (1.0 in the published traces) */
        uint64_t job_usec;              /* 1 h of work at full size */
        double squeeze_tolerance;       /* 0.1 */
        PolicyConfig policy;            /* the budget's reserve and margin (reserved 0: see sim.h) */
} SimJobOptions;

void sim_job_options_init_defaults(SimJobOptions *o);
/* 0, or -EINVAL with *ret_what naming the bad option. */
int sim_job_options_check(const SimJobOptions *o, const char **ret_what);

/* Work in CPU-seconds (cores x seconds). */
typedef struct SimJobTotals {
        double completed_work;
        double lost_work;               /* progress of evicted jobs */
        double offline_used;            /* CPU the jobs got, lost work included */
        uint64_t evictions;
        uint64_t completions;
        uint64_t placements;
} SimJobTotals;

typedef struct SimJob {
        uint64_t key;                   /* its generated name's suffix */
        double done;                    /* CPU-seconds of progress */
} SimJob;

typedef struct SimJobSet {
        SimJob *jobs;
        size_t n, cap;
        uint64_t next_id;
        WorkloadSample *scratch;        /* the running jobs as the policy sees them, to pick a victim */
        size_t scratch_cap;
} SimJobSet;

void sim_job_set_done(SimJobSet *js);
/* Ends the running jobs at a series break: their progress counts neither as done nor as lost. */
void sim_job_set_interrupt(SimJobSet *js);

/* The offline CPU budget the agent would publish for a node of capacity limit (in the trace's
 * units) with online usage now and the predicted online peak prediction. */
double sim_jobs_budget(const SimJobOptions *o, double limit, double usage, double prediction);

/* One step of step_sec seconds: placement against budget, then the run with available CPU.
 * Returns 0 or -ENOMEM (the set is then unchanged but for jobs already placed). */
int sim_jobs_step(SimJobSet *js, const SimJobOptions *o, double budget, double available, double step_sec,
                  SimJobTotals *t);
