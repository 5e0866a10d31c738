/* The offline job model (rules in sim-jobs.h). Budget and eviction order come from the policy
 * library, the code the agent runs: policy_node_budget() (the budget Kubernetes mode advertises
 * on the Node) and policy_pick_victim(). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy-node.h"
#include "sim/sim-jobs.h"
#include "util/macro.h"

/* Relative slack for float sums: 12 steps of 300 s at 0.5 cores is exactly 1 h of work, but a
 * budget computed as 10 - 0.5 - x may land a rounding error below the sizes it should admit. */
#define JOB_EPSILON 1e-9

void sim_job_options_init_defaults(SimJobOptions *o) {
        *o = (SimJobOptions) {
                .job_cpu = 0.5,
                .job_usec = 3600 * USEC_PER_SEC,
                .squeeze_tolerance = 0.1,
        };
        policy_config_init_defaults(&o->policy);
        /* Trace usage already includes the system's, and its unit is a VM's limit, not a core. */
        o->policy.reserved_cpu_cores = 0.0;
}

int sim_job_options_check(const SimJobOptions *o, const char **ret_what) {
        const char *what = NULL;
        if (!isfinite(o->job_cpu) || o->job_cpu <= 0.0)
                what = "job-cpu";
        else if (o->job_usec == 0)
                what = "job-hours";
        else if (!isfinite(o->squeeze_tolerance) || o->squeeze_tolerance < 0.0 || o->squeeze_tolerance >= 1.0)
                what = "squeeze-tolerance";
        else
                (void) policy_config_check(&o->policy, &what);
        if (ret_what)
                *ret_what = what;
        return what ? -EINVAL : 0;
}

void sim_job_set_done(SimJobSet *js) {
        free(js->jobs);
        free(js->scratch);
        *js = (SimJobSet) {};
}

void sim_job_set_interrupt(SimJobSet *js) {
        js->n = 0;
}

double sim_jobs_budget(const SimJobOptions *o, double limit, double usage, double prediction) {
        NodeSample s = {
                .cpu_capacity_cores = limit,
                .mem_capacity = 1,      /* memory is not simulated; the CPU budget does not read it */
                .online_cpu_usage = CLAMP(usage, 0.0, limit),
        };
        OnlineEstimate est = { .cpu_cores = CLAMP(prediction, 0.0, limit) };
        NodeBudget b;
        policy_node_budget(&s, &est, &o->policy, NULL, &b);
        return b.offline_cpu_cores;
}

/* splitmix64: the pseudo-random suffix a controller would give a pod, fixed per job id. */
static uint64_t job_key(uint64_t id) {
        uint64_t z = id + 0x9e3779b97f4a7c15ULL;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static int place(SimJobSet *js, const SimJobOptions *o, double budget, SimJobTotals *t) {
        while ((double) (js->n + 1) * o->job_cpu <= budget * (1.0 + JOB_EPSILON) + JOB_EPSILON) {
                if (js->n == js->cap) {
                        size_t cap = MAX(js->cap * 2, (size_t) 8);
                        SimJob *jobs = realloc(js->jobs, cap * sizeof(SimJob));
                        if (!jobs)
                                return -ENOMEM;
                        js->jobs = jobs;
                        js->cap = cap;
                }
                js->jobs[js->n++] = (SimJob) { .key = job_key(js->next_id++) };
                t->placements++;
        }
        return 0;
}

/* Evicts the policy's first victim among the running jobs. */
static int evict_one(SimJobSet *js, SimJobTotals *t) {
        if (js->scratch_cap < js->n) {
                WorkloadSample *w = realloc(js->scratch, js->cap * sizeof(WorkloadSample));
                if (!w)
                        return -ENOMEM;
                js->scratch = w;
                js->scratch_cap = js->cap;
        }
        for (size_t i = 0; i < js->n; i++) {
                WorkloadSample *w = &js->scratch[i];
                *w = (WorkloadSample) { .cls = CLASS_OFFLINE, .tier = TIER_BATCH, .nr_tasks = 1 };
                snprintf(w->name, sizeof(w->name), "job-%016" PRIx64, js->jobs[i].key);
        }
        ssize_t v = policy_pick_victim(js->scratch, js->n);
        if (v < 0)
                return -EINVAL;         /* every job is a candidate: cannot happen */
        t->lost_work += js->jobs[v].done;
        t->evictions++;
        js->jobs[v] = js->jobs[--js->n];
        return 0;
}

static bool squeezed_beyond(size_t n, const SimJobOptions *o, double available) {
        double sizes = (double) n * o->job_cpu;
        return n > 0 && available < sizes && 1.0 - available / sizes > o->squeeze_tolerance + JOB_EPSILON;
}

int sim_jobs_step(SimJobSet *js, const SimJobOptions *o, double budget, double available, double step_sec,
                  SimJobTotals *t) {
        int r = place(js, o, budget, t);
        if (r < 0)
                return r;

        available = MAX(available, 0.0);
        while (squeezed_beyond(js->n, o, available)) {
                r = evict_one(js, t);
                if (r < 0)
                        return r;
        }
        if (js->n == 0)
                return 0;

        double sizes = (double) js->n * o->job_cpu;
        double share = available >= sizes ? o->job_cpu : o->job_cpu * available / sizes;
        double work = o->job_cpu * ((double) o->job_usec / (double) USEC_PER_SEC);
        for (size_t i = 0; i < js->n;) {
                double got = MIN(share * step_sec, work - js->jobs[i].done);
                t->offline_used += got;
                js->jobs[i].done += got;
                if (js->jobs[i].done >= work * (1.0 - JOB_EPSILON)) {
                        t->completed_work += work;
                        t->completions++;
                        js->jobs[i] = js->jobs[--js->n];
                } else
                        i++;
        }
        return 0;
}
