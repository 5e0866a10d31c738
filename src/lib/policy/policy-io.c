/* IO knobs of the class parents and the offline tiers, from the configuration alone: weights
 * (online above offline, best-effort below batch) and the configured per-device throttles and
 * latency targets. Nothing here depends on the sample: IO is isolated by fixed knobs, while the
 * IO pressure of online work is an input of the CPU controller, not a second controller.
 *
 * A switched-off feature writes the kernel's default back for everything its rules name (weight
 * 100, throttle "max", io.latency target=max), so turning it off at runtime undoes it. */
#include <string.h>

#include "policy/policy-internal.h"
#include "util/macro.h"

static uint64_t io_weight_or_neutral(const PolicyConfig *cfg, uint64_t weight) {
        return cfg->io_weight ? weight : POLICY_NEUTRAL_IO_WEIGHT;
}

static uint64_t throttle_value(bool on, uint64_t v) {
        if (v == CG_UNSET)
                return CG_UNSET;
        return on ? v : CG_UNLIMITED;
}

static CgIoLimit *next_limit(CgKnobs *ret, const PolicyIoRule *rule) {
        if (ret->n_io_limits >= CG_IO_LIMITS_MAX)
                return NULL;
        CgIoLimit *l = &ret->io_limits[ret->n_io_limits++];
        *l = (CgIoLimit) { .rbps = CG_UNSET, .wbps = CG_UNSET, .riops = CG_UNSET, .wiops = CG_UNSET,
                           .latency_usec = CG_UNSET };
        snprintf(l->device, sizeof(l->device), "%s", rule->devnum);
        return l;
}

static void throttle_knobs(const PolicyConfig *cfg, const PolicyIoRules *rules, CgKnobs *ret) {
        for (size_t i = 0; i < rules->n; i++) {
                const PolicyIoRule *r = &rules->rules[i];
                CgIoLimit *l = next_limit(ret, r);
                if (!l)
                        return;
                l->rbps = throttle_value(cfg->io_throttle, r->rbps);
                l->wbps = throttle_value(cfg->io_throttle, r->wbps);
                l->riops = throttle_value(cfg->io_throttle, r->riops);
                l->wiops = throttle_value(cfg->io_throttle, r->wiops);
        }
}

static void latency_knobs(const PolicyConfig *cfg, const PolicyIoRules *rules, CgKnobs *ret) {
        for (size_t i = 0; i < rules->n; i++) {
                CgIoLimit *l = next_limit(ret, &rules->rules[i]);
                if (!l)
                        return;
                l->latency_usec = throttle_value(cfg->io_latency, rules->rules[i].latency_usec);
        }
}

void policy_knobs_io_class(const PolicyConfig *cfg, WorkloadClass cls, CgKnobs *ret) {
        if (cls == CLASS_ONLINE) {
                ret->io_weight = io_weight_or_neutral(cfg, cfg->online_io_weight);
                latency_knobs(cfg, &cfg->online_io_latency, ret);
                return;
        }
        ret->io_weight = io_weight_or_neutral(cfg, cfg->offline_io_weight);
        throttle_knobs(cfg, &cfg->offline_io_max, ret);
}

void policy_knobs_io_tier(const PolicyConfig *cfg, WorkloadTier tier, CgKnobs *ret) {
        switch (tier) {
        case TIER_BATCH:
                ret->io_weight = io_weight_or_neutral(cfg, POLICY_IO_WEIGHT_BATCH);
                throttle_knobs(cfg, &cfg->batch_io_max, ret);
                break;
        case TIER_BEST_EFFORT:
                ret->io_weight = io_weight_or_neutral(cfg, POLICY_IO_WEIGHT_BEST_EFFORT);
                throttle_knobs(cfg, &cfg->best_effort_io_max, ret);
                break;
        default:
                break;  /* online tiers share the online parent's weight and protection */
        }
}

static uint64_t min_limit(uint64_t a, uint64_t b) {
        if (a == CG_UNSET)
                return b;
        if (b == CG_UNSET)
                return a;
        return MIN(a, b);       /* CG_UNLIMITED is above every value */
}

/* Where throttles are not hierarchical (NodeSample.io_throttle_per_leaf: cgroup v1), an offline
 * workload leaf carries the offline parent's throttles and its tier's, the smaller of each where
 * both name a device: a limit per workload, since a shared one cannot be had there. */
void policy_knobs_io_leaf(const PolicyConfig *cfg, WorkloadTier tier, CgKnobs *ret) {
        const PolicyIoRules *t = tier == TIER_BATCH       ? &cfg->batch_io_max :
                                 tier == TIER_BEST_EFFORT ? &cfg->best_effort_io_max :
                                                            NULL;
        throttle_knobs(cfg, &cfg->offline_io_max, ret);
        for (size_t i = 0; t && i < t->n; i++) {
                CgKnobs one;
                cg_knobs_init(&one);
                throttle_knobs(cfg, &(PolicyIoRules) { .rules = { t->rules[i] }, .n = 1 }, &one);
                CgIoLimit *l = NULL;
                for (size_t k = 0; k < ret->n_io_limits && !l; k++)
                        if (strcmp(ret->io_limits[k].device, one.io_limits[0].device) == 0)
                                l = &ret->io_limits[k];
                if (!l) {
                        if (ret->n_io_limits < CG_IO_LIMITS_MAX)
                                ret->io_limits[ret->n_io_limits++] = one.io_limits[0];
                        continue;
                }
                l->rbps = min_limit(l->rbps, one.io_limits[0].rbps);
                l->wbps = min_limit(l->wbps, one.io_limits[0].wbps);
                l->riops = min_limit(l->riops, one.io_limits[0].riops);
                l->wiops = min_limit(l->wiops, one.io_limits[0].wiops);
        }
}
