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

#include "model/knobs.h"
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
        /* IO throttles bind only the tasks of the group itself, not its descendants: cgroup v1's
         * blk-throttle (measured: a throttle on a parent leaves a child's direct writes at full
         * speed). The policy then puts the offline throttles on every offline workload leaf. */
        bool io_throttle_per_leaf;
        /* Memory pressure seen by online work: the online group's own PSI on v2, host PSI on v1. */
        CgPressure online_mem_pressure;
        CgPressure host_cpu_pressure, host_mem_pressure;
        /* CPU and IO pressure of the online groups themselves (the online parent's cpu.pressure and
         * io.pressure: v2, or its cgroup2 mirror on hybrid v1); !valid where there is no per-group
         * PSI. Never host PSI: that counts offline work waiting too, so a squeeze would feed itself. */
        CgPressure online_cpu_pressure, online_io_pressure;
        /* The online parent's cumulative CFS counters (cpu.stat nr_periods / nr_throttled); 0 where
         * it has no quota. */
        uint64_t online_cpu_nr_periods, online_cpu_nr_throttled;
        const WorkloadSample *workloads;
        size_t n_workloads;
} NodeSample;

/* The predicted online peak over the horizon, from the predictor (or, with none yet, the
 * recent observed peak). Budget = capacity - reserved - estimate - margin. */
typedef struct OnlineEstimate {
        double cpu_cores;
        uint64_t mem_bytes;
} OnlineEstimate;

/* A feature that may be left to the node: off, on, or AUTO, which each feature defines.
 * features.cpu_quota, the dynamic CPU quota on the offline parent: AUTO only where cpu.idle does
 * not protect online work (cpu_idle off, or a kernel without cpu.idle). With cpu.idle the kernel
 * already preempts offline at every online wake-up; a quota on top only takes idle CPU away from
 * offline work and, measured on a 2-CPU VM (docs/benchmarks.md), added to the online tail
 * latency. features.cpu_control, the CPU interference controller: AUTO takes its CPU-pressure
 * and throttling inputs only where cpu.idle does not protect online work, and its IO-pressure
 * input always: under cpu.idle, squeezing offline CPU for online CPU pressure cost online tail
 * latency and offline CPU at every target from 0.5% to 10% (docs/benchmarks.md, section 7). */
typedef enum FeatureMode {
        FEATURE_OFF = 0,
        FEATURE_ON = 1,
        FEATURE_AUTO = 2,
} FeatureMode;

/* One block device's IO rule from the configuration: "/dev/vda wbps=50Mi riops=max" or
 * "254:0 target=10ms". device is as written; devnum is its "MAJ:MIN", set by the parser when
 * written so and by config_load_file() (which stats a path and refuses partitions) otherwise.
 * The policy uses devnum only, and refuses a rule without one. */
#define POLICY_IO_DEVICE_MAX 64
typedef struct PolicyIoRule {
        char device[POLICY_IO_DEVICE_MAX];
        char devnum[32];
        uint64_t rbps, wbps, riops, wiops;      /* CG_UNSET (not given), CG_UNLIMITED ("max") or value */
        uint64_t latency_usec;                  /* io.latency target: CG_UNSET, CG_UNLIMITED or value */
} PolicyIoRule;

typedef struct PolicyIoRules {
        PolicyIoRule rules[CG_IO_LIMITS_MAX];
        size_t n;
} PolicyIoRules;

typedef struct PolicyConfig {
        /* Per-node feature switches. */
        bool cpu_idle;                  /* cpu.idle=1 on the offline parent where the kernel has it */
        FeatureMode cpu_quota;          /* dynamic quota on the offline parent = CPU budget */
        bool cpu_weight;                /* minimal shares/weight on the offline parent */
        bool root_cpu_weight;           /* online_cpu_weight on the managed root, the offline group's sibling */
        bool memory_limit;              /* offline memory capped at its budget */
        bool memory_protect;            /* memory.low/min on online (v2) */
        bool memory_throttle;           /* offline memory throttled at its level, memory.max headroom above */
        bool pids_limit;                /* pids.max on the offline parent and tiers */
        bool oom_score_adj;             /* raise offline tasks' oom_score_adj */
        bool qos_level;                 /* openEuler cpu.qos_level / memory.qos_level when present */
        bool eviction;                  /* evict offline workloads under pressure */
        FeatureMode cpu_control;        /* the CPU interference controller (policy-cpu-control.c) */
        bool io_weight;                 /* io/blkio weights on the class parents and offline tiers */
        bool io_throttle;               /* io.max / blkio.throttle.* from the *_io_max rules */
        bool io_latency;                /* v2 io.latency on the online parent from online_io_latency */
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
        /* The CPU interference controller (percentages of wall time, as PSI reports them). It steps
         * the offline CPU cap down while an input is above its target, holds inside the band, and
         * steps it up once every input is below its release level for cpu_control_hold. */
        double cpu_pressure_target, cpu_pressure_release;       /* online CPU PSI some */
        double io_pressure_target, io_pressure_release;         /* online IO PSI some; target 0: input off */
        double cpu_throttle_target;     /* % of online CFS periods throttled; 0: input off */
        double cpu_control_floor_cores; /* the cap never goes below this */
        double cpu_control_step_down;   /* fraction of the cap taken away per step (0..1) */
        double cpu_control_step_up;     /* fraction of the capacity given back per step (0..1] */
        uint64_t cpu_control_hold_usec; /* calm this long since the last step or pressure before a step up */
        uint64_t cpu_evict_periods;     /* decisions at the floor above target before an eviction; 0: never */
        /* Online CPU pressure left at the floor that is online's own (policy-cpu-control.c says
         * when) is learned there, added to the CPU target and release, and counts this long before
         * the floor measures it again. 0: nothing is learned, the floor holds while it lasts. */
        uint64_t cpu_pressure_own_hold_usec;
        uint64_t online_io_weight, offline_io_weight;          /* v2 io.weight 1..10000 (v1 10..1000) */
        /* Throttles of the offline parent and of each offline tier (rbps/wbps/riops/wiops), and
         * the online parent's io.latency targets. */
        PolicyIoRules offline_io_max, batch_io_max, best_effort_io_max, online_io_latency;
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
/* IO weights of the offline tiers, below the offline parent's offline_io_weight. */
#define POLICY_IO_WEIGHT_BATCH 100
#define POLICY_IO_WEIGHT_BEST_EFFORT 10

/* What a switched-off feature means: its knobs are written back to the kernel's defaults, so
 * turning a feature off at runtime undoes it instead of freezing the last value:
 *   cpu_idle off       -> cpu.idle 0
 *   cpu_weight off     -> weight 100 on every group (class and tier weights alike)
 *   root_cpu_weight off -> weight 100 on the managed root
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
 *   eviction off       -> squeeze still happens, nothing is evicted
 *   cpu_control off    -> no cap from the CPU interference controller: the offline quota is what
 *                         cpu_quota alone gives (the controller also stays off with cpu_quota off)
 *   io_weight off      -> io weight 100 on the class parents and offline tiers
 *   io_throttle off    -> "max" (v1: 0, no rule) for every throttle the rules name
 *   io_latency off     -> io.latency target=max for every device the rules name */
#define POLICY_NEUTRAL_CPU_WEIGHT 100
#define POLICY_NEUTRAL_CPU_PERIOD_USEC 100000
#define POLICY_NEUTRAL_IO_WEIGHT 100
/* The smallest CFS quota the kernel accepts. */
#define POLICY_MIN_CPU_QUOTA_USEC 1000
/* Offline CPU use at or above this fraction of its budget counts as held by the quota. */
#define POLICY_CPU_HELD_FRACTION 0.95

#define POLICY_REASON_MAX 256

/* The CPU interference controller's phase in the last decision (policy-cpu-control.c). */
typedef enum CpuControlPhase {
        CPU_CONTROL_OFF,        /* features.cpu_control off, or no quota can be written (cpu_quota off) */
        CPU_CONTROL_NO_INPUT,   /* no per-group online pressure on this node: nothing to control on */
        CPU_CONTROL_CALM,       /* not capping offline CPU */
        CPU_CONTROL_SQUEEZE,    /* stepped the cap down in this decision */
        CPU_CONTROL_HOLD,       /* capping; inside the hysteresis band or waiting for the hold */
        CPU_CONTROL_RELEASE,    /* stepped the cap up in this decision */
        CPU_CONTROL_FLOOR,      /* at the floor and online pressure still above target */
        _CPU_CONTROL_PHASE_MAX,
        _CPU_CONTROL_PHASE_INVALID = -EINVAL,
} CpuControlPhase;
const char *cpu_control_phase_to_string(CpuControlPhase p);

/* Its carried state: the cap, the counters' bases for the pressure since the last sample, and
 * what it measured (for status and metrics). */
typedef struct CpuControlState {
        CpuControlPhase phase;
        bool limiting;                  /* the cap is in force */
        double limit_cores;             /* the cap while limiting */
        uint64_t last_step_usec, last_busy_usec;        /* last step; last input at or above release */
        uint64_t floor_periods;         /* consecutive decisions at the floor above target */
        bool have_base;
        uint64_t base_usec, cpu_stall_base_usec, io_stall_base_usec, nr_periods_base, nr_throttled_base;
        /* Measured over the last sample interval (percent); negative: no such input. */
        double cpu_pressure, io_pressure, throttled;
        /* Online's own CPU pressure learned at the floor (percent) and when; the CPU target of the
         * last decision (the configured one plus the own pressure while it counts). */
        double own_cpu_pressure;
        uint64_t own_cpu_pressure_usec;
        double cpu_target;
        /* When the current squeeze began (the first step down from no cap): the CPU pressure then
         * and offline's CPU use, to tell at the floor whether squeezing lowered the pressure. */
        double squeeze_start_cpu_pressure, squeeze_start_offline_cores;
        uint64_t steps_down, steps_up, evictions;
} CpuControlState;

/* What the policy remembers between periods; zero-initialise before the first call. */
typedef struct PolicyState {
        bool squeezed;
        uint64_t squeeze_since_usec;
        uint64_t pressure_last_seen_usec;
        uint64_t last_eviction_usec;
        uint64_t n_evictions;           /* evictions so far; 0: the cooldown has not started */
        CpuControlState cpu_control;
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
        bool cpu_control_limits;        /* the CPU interference controller caps offline CPU */
        /* false (policy_decide()): groups are paths of colo's own tree. true: a transform mapped
         * them onto a tree colo does not own (kubelet's), in the order they are to be applied;
         * enforce_apply() then creates nothing and skips groups that do not exist. */
        bool foreign_tree;
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

/* Whether the offline parent gets the CPU quota on this node (see FeatureMode), apart from the
 * CPU interference controller, which writes it whenever it caps offline CPU (and cpu_quota is
 * not off). */
bool policy_cpu_quota_applies(const PolicyConfig *cfg, const NodeSample *s);
/* The managed root's CPU weight (features.root_cpu_weight: online's; off, or with cpu_weight off,
 * the kernel's default 100), for the root and for the agent's own leaf beside it on v2, which
 * would otherwise get 1% of the CPU the two share while online work keeps it busy. */
uint64_t policy_root_cpu_weight(const PolicyConfig *cfg);
/* Whether cpu.idle protects online work: wanted (features.cpu_idle) and the kernel has it. */
bool policy_cpu_idle_in_force(const PolicyConfig *cfg, bool kernel_has_cpu_idle);
/* Whether the CPU interference controller takes online CPU pressure and throttling as inputs
 * (features.cpu_control on, or auto where cpu.idle is not in force; see FeatureMode). */
bool policy_cpu_control_takes_cpu_input(const PolicyConfig *cfg, bool kernel_has_cpu_idle);
