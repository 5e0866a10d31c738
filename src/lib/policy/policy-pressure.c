/* Squeeze, then evict. Memory pressure (MemAvailable under the watermark, or online memory PSI
 * at the squeeze threshold) squeezes offline work: its memory level drops below its usage by the
 * shortfall so the kernel reclaims offline pages first, and its CPU quota drops to the floor. The
 * squeeze is held for squeeze_hold after the pressure ends, so a reclaim that works does not
 * flap. If squeezing is not enough (PSI at the evict threshold, still under the watermark after
 * the hold, or under half the watermark), one offline workload is evicted per cooldown: the
 * lowest tier first, within it the largest working set. Online workloads are never candidates. */
#include <stdio.h>
#include <string.h>

#include "policy/policy-internal.h"
#include "util/macro.h"

static uint64_t elapsed(uint64_t now, uint64_t since) {
        return now > since ? now - since : 0;
}

static double online_mem_psi(const NodeSample *s) {
        return s->online_mem_pressure.valid ? s->online_mem_pressure.some_avg10 : 0.0;
}

/* The squeezed level of offline memory: usage minus what it should give back under pressure (the
 * watermark shortfall or, when only PSI says so, everything reclaimable: usage above the working
 * set), never below the working set. The knobs make it memory.high (v2) and the soft limit (v1),
 * with memory.max headroom above (policy-knobs.c): taking anonymous memory is eviction's job,
 * done one workload at a time in tier order with a SIGTERM first, not the kernel's OOM killer's. */
static uint64_t squeezed_limit(const PolicyInputs *in) {
        const NodeSample *s = in->s;
        const PolicyConfig *cfg = in->cfg;
        uint64_t shortfall = s->mem_available < cfg->mem_free_watermark ? cfg->mem_free_watermark - s->mem_available :
                                                                         elapsed(s->offline_mem_usage, s->offline_mem_working_set);
        uint64_t limit = elapsed(s->offline_mem_usage, shortfall);
        limit = MAX(limit, s->offline_mem_working_set);
        return MIN(limit, in->mem_budget_raw);
}

ssize_t policy_pick_victim(const WorkloadSample *workloads, size_t n) {
        ssize_t best = -1;

        for (size_t i = 0; i < n; i++) {
                const WorkloadSample *w = &workloads[i];
                if (w->cls != CLASS_OFFLINE || workload_tier_class(w->tier) != CLASS_OFFLINE)
                        continue;
                if (w->being_evicted || w->nr_tasks == 0)
                        continue;
                if (best < 0) {
                        best = (ssize_t) i;
                        continue;
                }
                const WorkloadSample *b = &workloads[best];
                int better = w->tier != b->tier ? (w->tier > b->tier ? 1 : -1) :
                             w->mem_working_set != b->mem_working_set ? (w->mem_working_set > b->mem_working_set ? 1 : -1) :
                             w->mem_usage != b->mem_usage ? (w->mem_usage > b->mem_usage ? 1 : -1) :
                             strcmp(w->name, b->name) < 0 ? 1 : -1;
                if (better > 0)
                        best = (ssize_t) i;
        }
        return best;
}

/* Why to evict now, in words, or false when squeezing is still enough. */
static bool evict_cause(const PolicyInputs *in, const PolicyState *st, char *buf, size_t size) {
        const NodeSample *s = in->s;
        const PolicyConfig *cfg = in->cfg;
        uint64_t squeezed_for = elapsed(s->now_usec, st->squeeze_since_usec);

        if (s->online_mem_pressure.valid && online_mem_psi(s) >= cfg->mem_psi_evict) {
                snprintf(buf, size, "online memory pressure %.1f%% >= eviction threshold %.1f%% while squeezed",
                         online_mem_psi(s), cfg->mem_psi_evict);
                return true;
        }
        if (s->mem_available < cfg->mem_free_watermark / 2) {
                snprintf(buf, size, "memory available %llu MiB < half the watermark (%llu MiB)",
                         policy_mib(s->mem_available), policy_mib(cfg->mem_free_watermark / 2));
                return true;
        }
        if (s->mem_available < cfg->mem_free_watermark && squeezed_for >= cfg->squeeze_hold_usec) {
                snprintf(buf, size, "memory available %llu MiB < watermark %llu MiB while squeezed for %llu s",
                         policy_mib(s->mem_available), policy_mib(cfg->mem_free_watermark),
                         (unsigned long long) (squeezed_for / USEC_PER_SEC));
                return true;
        }
        return false;
}

static void squeeze_reason(const PolicyInputs *in, const PolicyState *st, bool under_watermark, bool psi_high,
                           char *buf, size_t size) {
        const NodeSample *s = in->s;
        const PolicyConfig *cfg = in->cfg;

        if (under_watermark && psi_high)
                snprintf(buf, size, "memory available %llu MiB < watermark %llu MiB; online memory pressure %.1f%% >= %.1f%%",
                         policy_mib(s->mem_available), policy_mib(cfg->mem_free_watermark), online_mem_psi(s),
                         cfg->mem_psi_squeeze);
        else if (under_watermark)
                snprintf(buf, size, "memory available %llu MiB < watermark %llu MiB", policy_mib(s->mem_available),
                         policy_mib(cfg->mem_free_watermark));
        else if (psi_high)
                snprintf(buf, size, "online memory pressure %.1f%% >= %.1f%%", online_mem_psi(s), cfg->mem_psi_squeeze);
        else
                snprintf(buf, size, "memory pressure ended %llu s ago; holding the squeeze for %llu s",
                         (unsigned long long) (elapsed(s->now_usec, st->pressure_last_seen_usec) / USEC_PER_SEC),
                         (unsigned long long) (cfg->squeeze_hold_usec / USEC_PER_SEC));
}

void policy_decide_pressure(const PolicyInputs *in, PolicyState *st, PressureDecision *ret) {
        const NodeSample *s = in->s;
        const PolicyConfig *cfg = in->cfg;
        bool under_watermark = s->mem_available < cfg->mem_free_watermark;
        bool psi_high = s->online_mem_pressure.valid && online_mem_psi(s) >= cfg->mem_psi_squeeze;

        *ret = (PressureDecision) { .squeezed_mem_limit = CG_UNSET };

        if (under_watermark || psi_high) {
                if (!st->squeezed) {
                        st->squeezed = true;
                        st->squeeze_since_usec = s->now_usec;
                }
                st->pressure_last_seen_usec = s->now_usec;
        } else if (st->squeezed && elapsed(s->now_usec, st->pressure_last_seen_usec) >= cfg->squeeze_hold_usec)
                st->squeezed = false;

        if (!st->squeezed)
                return;

        ret->squeezed = true;
        ret->squeezed_mem_limit = squeezed_limit(in);
        squeeze_reason(in, st, under_watermark, psi_high, ret->squeeze_reason, sizeof(ret->squeeze_reason));

        if (!cfg->eviction)
                return;
        if (st->n_evictions > 0 && elapsed(s->now_usec, st->last_eviction_usec) < cfg->evict_cooldown_usec)
                return;

        char cause[POLICY_REASON_MAX];
        if (!evict_cause(in, st, cause, sizeof(cause)))
                return;

        ssize_t victim = policy_pick_victim(s->workloads, s->n_workloads);
        if (victim < 0)
                return;

        const WorkloadSample *w = &s->workloads[victim];
        ret->evict = true;
        ret->evict_index = (size_t) victim;
        snprintf(ret->evict_reason, sizeof(ret->evict_reason), "%s; largest %s workload (%llu MiB working set)",
                 cause, workload_tier_to_string(w->tier), policy_mib(w->mem_working_set));
        st->last_eviction_usec = s->now_usec;
        st->n_evictions++;
}
