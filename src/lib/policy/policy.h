/* The isolation policy: a pure function from an observed node sample (plus the predicted online
 * peak and the policy's own carried state) to a Plan: the knobs every managed group should have,
 * the offline CPU and memory budgets, and which offline workloads to evict. No I/O, no clock, no
 * globals: the simulator, the agent and `colo status` all call it, and the tests call it with
 * struct literals. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup/cgroup.h"
#include "model/workload.h"

/* One managed workload as observed in one control period. */
typedef struct WorkloadSample {
        char name[WORKLOAD_NAME_MAX];
        WorkloadClass cls;
        WorkloadTier tier;
        double cpu_usage_cores;         /* average over the last period */
        uint64_t mem_usage;             /* bytes charged */
        uint64_t mem_working_set;       /* usage without inactive file cache */
        size_t nr_tasks;
        double cpu_limit_cores;         /* declared limit (Kubernetes) or 0 when unknown */
        uint64_t mem_limit;             /* declared limit or 0 when unknown */
        bool being_evicted;             /* colo is already stopping it: reported EVICTED, never chosen again */
} WorkloadSample;

typedef struct NodeSample {
        uint64_t now_usec;              /* monotonic time of the sample */
        double cpu_capacity_cores;      /* CPUs colo may hand out (online cpus, or the cpuset) */
        uint64_t mem_capacity;          /* MemTotal, or the managed root's limit if lower */
        uint64_t mem_available;         /* MemAvailable */
        double online_cpu_usage, offline_cpu_usage;     /* cores */
        uint64_t online_mem_working_set, offline_mem_working_set;
        uint64_t offline_mem_usage;
        /* The kernel has cpu.idle for the managed groups (false when unknown: the safe side). */
        bool cpu_idle_available;
        /* The kernel has memory.high for the managed groups (cgroup v2; false when unknown). */
        bool mem_high_available;
        /* Memory pressure seen by online work: the online group's own PSI on v2, host PSI on v1. */
        CgPressure online_mem_pressure;
        CgPressure host_cpu_pressure, host_mem_pressure;
        const WorkloadSample *workloads;
        size_t n_workloads;
} NodeSample;

/* The predicted online peak over the horizon, from the predictor (or, with none yet, the
 * recent observed peak). Budget = capacity - reserved - estimate - margin. */
typedef struct OnlineEstimate {
        double cpu_cores;
        uint64_t mem_bytes;
} OnlineEstimate;

/* When the offline parent gets the dynamic CPU quota. AUTO: only where cpu.idle does not protect
 * online work (cpu_idle off, or a kernel without cpu.idle). With cpu.idle the kernel already
 * preempts offline at every online wake-up; a quota on top only takes idle CPU away from offline
 * work and, measured on a 2-CPU VM (docs/benchmarks.md), added to the online tail latency. */
typedef enum CpuQuotaMode {
        CPU_QUOTA_OFF = 0,
        CPU_QUOTA_ON = 1,
        CPU_QUOTA_AUTO = 2,
} CpuQuotaMode;

typedef struct PolicyConfig {
        /* Per-node feature switches. */
        bool cpu_idle;                  /* cpu.idle=1 on the offline parent where the kernel has it */
        CpuQuotaMode cpu_quota;         /* dynamic quota on the offline parent = CPU budget */
        bool cpu_weight;                /* minimal shares/weight on the offline parent */
        bool memory_limit;              /* offline memory capped at its budget */
        bool memory_protect;            /* memory.low/min on online (v2) */
        bool memory_throttle;           /* offline memory throttled at its level, memory.max headroom above */
        bool pids_limit;                /* pids.max on the offline parent and tiers */
        bool oom_score_adj;             /* raise offline tasks' oom_score_adj */
        bool qos_level;                 /* openEuler cpu.qos_level / memory.qos_level when present */
        bool eviction;                  /* evict offline workloads under pressure */
        /* Reservations and margins. */
        double reserved_cpu_cores;      /* for the system and the agent */
        uint64_t reserved_mem_bytes;
        double cpu_safety_margin;       /* fraction of capacity kept free on top of the estimate */
        double mem_safety_margin;
        double min_offline_cpu_cores;   /* quota floor, so offline work never fully starves (0 allowed) */
        uint64_t cpu_period_usec;       /* CFS period for the offline quota */
        /* Pressure thresholds. */
        uint64_t mem_free_watermark;    /* squeeze when MemAvailable falls below this */
        double mem_psi_squeeze;         /* squeeze when online memory PSI some avg10 >= this (percent) */
        double mem_psi_evict;           /* evict when >= this, or when still under watermark while squeezed */
        uint64_t evict_cooldown_usec;   /* at most one eviction per cooldown */
        uint64_t squeeze_hold_usec;     /* stay squeezed at least this long after pressure ends */
        uint64_t mem_headroom;          /* memory_throttle: memory.max this far above the throttle level */
        /* pids.max (1..CG_PIDS_MAX) of the offline parent and of each offline tier. */
        uint64_t offline_pids_max, batch_pids_max, best_effort_pids_max;
        /* oom_score_adj per tier. */
        int32_t oom_score_adj_batch, oom_score_adj_best_effort;
        uint64_t online_cpu_weight, offline_cpu_weight;        /* v2 weights (v1 shares converted) */
} PolicyConfig;

void policy_config_init_defaults(PolicyConfig *c);

/* Checks ranges (finite, non-negative numbers, margins below 1, weights 1..10000, a CFS period of
 * 1 ms..1 s, oom_score_adj -1000..1000). Returns 0, or -EINVAL with *ret_field (if non-NULL) set to
 * the name of the first offending PolicyConfig field. policy_decide() calls it too. */
int policy_config_check(const PolicyConfig *c, const char **ret_field);

/* CPU weights below the class parents (v2 units; relative among siblings). Fixed, not configured:
 * they only order tiers inside a class, the class split itself is online/offline_cpu_weight. */
#define POLICY_CPU_WEIGHT_CRITICAL 400
#define POLICY_CPU_WEIGHT_NORMAL 100
#define POLICY_CPU_WEIGHT_BATCH 100
#define POLICY_CPU_WEIGHT_BEST_EFFORT 10

/* What a switched-off feature means: its knobs are written back to the kernel's defaults, so
 * turning a feature off at runtime undoes it instead of freezing the last value:
 *   cpu_idle off       -> cpu.idle 0
 *   cpu_weight off     -> weight 100 on every group (class and tier weights alike)
 *   cpu_quota off      -> quota unlimited ("max" / -1), period 100 ms, also while squeezed; the
 *                         same for auto where cpu.idle is in effect
 *   memory_limit off   -> offline memory.max unlimited, also while squeezed
 *   memory_protect off -> memory.low/min 0 (v2), offline soft limit unlimited (v1), also while
 *                         squeezed unless memory_throttle puts it at the squeezed level
 *   memory_throttle off -> offline memory.high unlimited and memory.max at the budget, or at the
 *                         squeezed level while squeezed (the kernel OOM-kills at it)
 *   pids_limit off     -> pids.max "max" on the offline parent and tiers
 *   oom_score_adj off  -> 0 for every managed task
 *   qos_level off      -> cpu/memory.qos_level 0
 *   eviction off       -> squeeze still happens, nothing is evicted */
#define POLICY_NEUTRAL_CPU_WEIGHT 100
#define POLICY_NEUTRAL_CPU_PERIOD_USEC 100000
/* The smallest CFS quota the kernel accepts. */
#define POLICY_MIN_CPU_QUOTA_USEC 1000
/* Offline CPU use at or above this fraction of its budget counts as held by the quota. */
#define POLICY_CPU_HELD_FRACTION 0.95

#define POLICY_REASON_MAX 256

/* What the policy remembers between periods; zero-initialise before the first call. */
typedef struct PolicyState {
        bool squeezed;
        uint64_t squeeze_since_usec;
        uint64_t pressure_last_seen_usec;
        uint64_t last_eviction_usec;
        uint64_t n_evictions;           /* evictions so far; 0: the cooldown has not started */
} PolicyState;

typedef enum WorkloadState {
        WORKLOAD_RUNNING,
        WORKLOAD_SQUEEZED,      /* offline, held below its usage by the budget */
        WORKLOAD_EVICTED,       /* stopped by colo; the reason is kept */
        _WORKLOAD_STATE_MAX,
        _WORKLOAD_STATE_INVALID = -EINVAL,
} WorkloadState;
const char *workload_state_to_string(WorkloadState s);

typedef struct GroupPlan {
        char path[256];                 /* relative to the managed root: "", "offline", "offline/batch/job" */
        CgKnobs knobs;
} GroupPlan;

typedef struct Eviction {
        char name[WORKLOAD_NAME_MAX];
        WorkloadTier tier;
        char reason[256];
} Eviction;

typedef struct Plan {
        /* What is enforced on the offline parent: the budget floored at min_offline_cpu_cores, or
         * the floor alone while squeezed; memory: the budget, or lower while squeezed. */
        double offline_cpu_budget_cores;
        uint64_t offline_mem_budget;
        bool squeezed;
        char squeeze_reason[256];
        GroupPlan *groups;
        size_t n_groups;
        Eviction *evictions;            /* at most one per cooldown */
        size_t n_evictions;
        WorkloadState *workload_states; /* parallel to NodeSample.workloads */
        /* Parallel to workload_states: why a workload is squeezed or evicted, "" when running.
         * Each points into this plan (squeeze_reason, cpu_held_reason or an eviction's reason). */
        const char **workload_reasons;
        bool cpu_held;                  /* offline CPU use is at its budget: the quota binds */
        char cpu_held_reason[256];
        double offline_cpu_budget_raw;  /* policy_offline_cpu_budget(): before floor and squeeze */
        uint64_t offline_mem_budget_raw;        /* policy_offline_mem_budget(): before squeeze */
} Plan;

Plan *plan_free(Plan *p);

/* Decides the plan for one period. Pure: reads only its arguments, updates *state. Returns 0 or
 * -ENOMEM / -EINVAL (invalid sample, estimate or config); on error *state and *ret_plan are
 * untouched.
 *
 * Groups, parents before children: "" (the managed root), "online", "online/critical",
 * "online/normal", "offline", "offline/batch", "offline/best-effort", then one leaf
 * "<class>/<tier>/<name>" per sampled workload. Every group's plan is complete for the knobs colo
 * owns there, so a leaf that appears under a new path (a class or tier move) converges at once.
 *
 * The online estimate used everywhere is max(est, what online uses now): a predictor that lags
 * never hands offline memory or CPU that online holds at this moment. */
int policy_decide(const NodeSample *s, const OnlineEstimate *est, const PolicyConfig *cfg, PolicyState *state,
                  Plan **ret_plan);

/* The budget formula alone, for status and metrics: capacity - reserved - estimate - margin, >= 0
 * (estimate as above: never below current online use). 0 for invalid arguments. */
double policy_offline_cpu_budget(const NodeSample *s, const OnlineEstimate *est, const PolicyConfig *cfg);
uint64_t policy_offline_mem_budget(const NodeSample *s, const OnlineEstimate *est, const PolicyConfig *cfg);

/* The eviction order, alone: the index of the offline workload policy_decide() would evict
 * first, or -1 when none is a candidate (online, being evicted, or without tasks). Lowest tier
 * first (best-effort before batch), then the largest working set, then the largest usage, then
 * the smallest name, so the choice is deterministic. The simulator's job model evicts with it. */
ssize_t policy_pick_victim(const WorkloadSample *workloads, size_t n);

/* Whether the offline parent gets the CPU quota on this node (see CpuQuotaMode). */
bool policy_cpu_quota_applies(const PolicyConfig *cfg, const NodeSample *s);
