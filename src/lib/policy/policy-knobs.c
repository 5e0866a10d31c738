/* Knobs per managed group. Each group gets every knob colo ever sets on it, in every
 * configuration: a feature that is off writes the kernel's default back (see policy.h), and a
 * workload leaf carries all its class- and tier-dependent knobs, so a workload that reappears
 * under another class or tier converges in the one period that sees it there.
 *
 * Online memory protection uses the parent as the bound and lets the kernel share it: the online
 * parent (and the managed root above it) get memory.low = memory.min = the online estimate, and
 * every online descendant claims "max" (memory.min only below online/critical), so the kernel
 * splits the parent's protection among the children in proportion to what they use. No per-tier
 * estimate is needed, and critical work is hard-protected up to the whole estimate. */
#include "policy/policy-internal.h"
#include "util/macro.h"

static uint64_t cpu_weight_or_neutral(const PolicyConfig *cfg, uint64_t weight) {
        return cfg->cpu_weight ? weight : POLICY_NEUTRAL_CPU_WEIGHT;
}

static int32_t qos_level(const PolicyConfig *cfg, WorkloadClass cls) {
        return cfg->qos_level && cls == CLASS_OFFLINE ? -1 : 0;
}

/* The protected amount: the online estimate, but no more than the node can give. */
static uint64_t online_protection(const PolicyInputs *in) {
        if (!in->cfg->memory_protect)
                return 0;
        uint64_t usable = in->s->mem_capacity > in->cfg->reserved_mem_bytes ?
                                  in->s->mem_capacity - in->cfg->reserved_mem_bytes :
                                  0;
        return MIN(in->online_mem, usable);
}

static uint64_t cpu_quota_usec(double cores, uint64_t period_usec) {
        double q = cores * (double) period_usec;
        if (!(q >= (double) POLICY_MIN_CPU_QUOTA_USEC))
                return POLICY_MIN_CPU_QUOTA_USEC;
        if (q >= (double) (CG_UNLIMITED - 1))
                return CG_UNLIMITED - 1;
        return (uint64_t) (q + 0.5);
}

uint64_t policy_root_cpu_weight(const PolicyConfig *cfg) {
        return cpu_weight_or_neutral(cfg, cfg->root_cpu_weight ? cfg->online_cpu_weight : POLICY_NEUTRAL_CPU_WEIGHT);
}

/* The managed root weighs as much as the online parent: with offline work at the top of the
 * hierarchy (agent.offline_placement top) the root, not the online parent, is the offline group's
 * sibling, and the ablation runs put memcached's p99 at the best agent-less knobs' only with the
 * high weight there (docs/benchmarks.md, section 7). Kubernetes mode leaves kubepods' weight to
 * kubelet (pod_cgroup_filter_knobs). */
void policy_knobs_root(const PolicyInputs *in, CgKnobs *ret) {
        cg_knobs_init(ret);
        ret->cpu_weight = policy_root_cpu_weight(in->cfg);
        /* A child's protection is bounded by its parent's: the root must carry it too. */
        ret->mem_low = online_protection(in);
        ret->mem_min = online_protection(in);
}

static uint64_t add_sat(uint64_t a, uint64_t b) {
        return a >= CG_UNLIMITED - 1 - b ? CG_UNLIMITED - 1 : a + b;
}

/* The offline parent's memory. With memory_throttle the level (the budget, or the squeezed level)
 * is memory.high where the kernel has it (v2): the kernel reclaims and throttles there, and
 * memory.max sits mem_headroom above it. v1 has no throttle, so its limit stays at the budget (a
 * headroom above it would only hand online memory to offline), and while squeezed the soft limit
 * drops to the level. Squeezed, memory.max is the level + headroom (never above the unsqueezed
 * limit) but at least the headroom above the offline working set on both: a growing workload is
 * reclaimed and slowed instead of meeting the OOM killer, and taking memory back is eviction's
 * job, with its SIGTERM and grace period. */
static void offline_memory_knobs(const PolicyInputs *in, uint64_t level, bool squeezed, CgKnobs *ret) {
        const PolicyConfig *cfg = in->cfg;

        /* v1 has no memory.low: a zero soft limit makes offline the first target of global
         * reclaim instead. Ignored on v2, where online's memory.low does the job. */
        ret->mem_soft_limit = cfg->memory_protect ? 0 : CG_UNLIMITED;
        ret->mem_high = CG_UNLIMITED;
        if (!cfg->memory_limit) {
                ret->mem_max = CG_UNLIMITED;
                return;
        }
        if (!cfg->memory_throttle) {
                ret->mem_max = level;
                return;
        }
        bool v2 = in->s->mem_high_available;
        uint64_t budget = in->mem_budget_raw;
        uint64_t unsqueezed_max = v2 ? add_sat(budget, cfg->mem_headroom) : budget;
        ret->mem_high = level;
        if (!squeezed) {
                ret->mem_max = unsqueezed_max;
                return;
        }
        ret->mem_max = MAX(MIN(add_sat(level, cfg->mem_headroom), unsqueezed_max),
                           add_sat(in->s->offline_mem_working_set, cfg->mem_headroom));
        ret->mem_soft_limit = MIN(ret->mem_soft_limit, level);
}

static uint64_t pids_or_unlimited(const PolicyConfig *cfg, uint64_t pids_max) {
        return cfg->pids_limit ? pids_max : CG_UNLIMITED;
}

void policy_knobs_class(const PolicyInputs *in, WorkloadClass cls, double cpu_budget, uint64_t mem_level,
                        bool squeezed, CgKnobs *ret) {
        const PolicyConfig *cfg = in->cfg;

        cg_knobs_init(ret);
        ret->cpu_qos_level = qos_level(cfg, cls);
        ret->mem_qos_level = qos_level(cfg, cls);

        if (cls == CLASS_ONLINE) {
                ret->cpu_weight = cpu_weight_or_neutral(cfg, cfg->online_cpu_weight);
                ret->cpu_idle = 0;
                ret->mem_low = online_protection(in);
                ret->mem_min = online_protection(in);
                policy_knobs_io_class(cfg, cls, ret);
                return;
        }

        policy_knobs_io_class(cfg, cls, ret);
        ret->cpu_weight = cpu_weight_or_neutral(cfg, cfg->offline_cpu_weight);
        ret->cpu_idle = cfg->cpu_idle ? 1 : 0;
        if (policy_cpu_quota_applies(cfg, in->s) || in->cpu_controller_limits) {
                ret->cpu_quota_usec = cpu_quota_usec(cpu_budget, cfg->cpu_period_usec);
                ret->cpu_period_usec = cfg->cpu_period_usec;
        } else {
                ret->cpu_quota_usec = CG_UNLIMITED;
                ret->cpu_period_usec = POLICY_NEUTRAL_CPU_PERIOD_USEC;
        }
        offline_memory_knobs(in, mem_level, squeezed, ret);
        ret->mem_low = 0;
        ret->mem_min = 0;
        ret->pids_max = pids_or_unlimited(cfg, cfg->offline_pids_max);
}

void policy_knobs_tier(const PolicyInputs *in, WorkloadTier tier, CgKnobs *ret) {
        const PolicyConfig *cfg = in->cfg;
        WorkloadClass cls = workload_tier_class(tier);

        cg_knobs_init(ret);
        ret->cpu_qos_level = qos_level(cfg, cls);
        ret->mem_qos_level = qos_level(cfg, cls);

        switch (tier) {
        case TIER_CRITICAL:
                ret->cpu_weight = cpu_weight_or_neutral(cfg, POLICY_CPU_WEIGHT_CRITICAL);
                break;
        case TIER_NORMAL:
                ret->cpu_weight = cpu_weight_or_neutral(cfg, POLICY_CPU_WEIGHT_NORMAL);
                break;
        case TIER_BATCH:
                ret->cpu_weight = cpu_weight_or_neutral(cfg, POLICY_CPU_WEIGHT_BATCH);
                ret->pids_max = pids_or_unlimited(cfg, cfg->batch_pids_max);
                break;
        case TIER_BEST_EFFORT:
                ret->cpu_weight = cpu_weight_or_neutral(cfg, POLICY_CPU_WEIGHT_BEST_EFFORT);
                ret->pids_max = pids_or_unlimited(cfg, cfg->best_effort_pids_max);
                break;
        default:
                return;
        }
        policy_knobs_io_tier(cfg, tier, ret);

        if (cls == CLASS_ONLINE) {
                ret->mem_low = cfg->memory_protect ? CG_UNLIMITED : 0;
                ret->mem_min = cfg->memory_protect && tier == TIER_CRITICAL ? CG_UNLIMITED : 0;
        }
}

void policy_knobs_workload(const PolicyInputs *in, WorkloadTier tier, CgKnobs *ret) {
        const PolicyConfig *cfg = in->cfg;
        WorkloadClass cls = workload_tier_class(tier);

        cg_knobs_init(ret);
        /* The tier parent orders tiers; inside it workloads share equally. */
        ret->cpu_weight = POLICY_NEUTRAL_CPU_WEIGHT;
        ret->cpu_idle = 0;
        ret->cpu_qos_level = qos_level(cfg, cls);
        ret->mem_qos_level = qos_level(cfg, cls);

        if (cls == CLASS_ONLINE) {
                ret->mem_low = cfg->memory_protect ? CG_UNLIMITED : 0;
                ret->mem_min = cfg->memory_protect && tier == TIER_CRITICAL ? CG_UNLIMITED : 0;
                /* colo owns the oom_score_adj of managed tasks: a task moved here from offline
                 * must lose its raised score. */
                ret->oom_score_adj = 0;
                return;
        }

        ret->mem_low = 0;
        ret->mem_min = 0;
        if (in->s->io_throttle_per_leaf)
                policy_knobs_io_leaf(cfg, tier, ret);
        if (!cfg->oom_score_adj)
                ret->oom_score_adj = 0;
        else
                ret->oom_score_adj = tier == TIER_BEST_EFFORT ? cfg->oom_score_adj_best_effort :
                                                                cfg->oom_score_adj_batch;
}
