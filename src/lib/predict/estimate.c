/* The online peak estimate (estimate.h): the recent-maximum ring and the choice between it and
 * the predictor. Pure: no clock, no allocation. */
#include <stdio.h>

#include "predict/estimate.h"
#include "util/macro.h"

void recent_peak_push(RecentPeak *p, uint64_t now_usec, double cpu_cores, uint64_t mem_bytes) {
        uint64_t second = now_usec / USEC_PER_SEC + 1;         /* + 1: 0 marks an empty slot */
        typeof(p->slots[0]) *slot = &p->slots[second % RECENT_PEAK_WINDOW_SEC];
        if (slot->second != second) {
                slot->second = second;
                slot->cpu_cores = cpu_cores;
                slot->mem_bytes = mem_bytes;
                return;
        }
        slot->cpu_cores = MAX(slot->cpu_cores, cpu_cores);
        slot->mem_bytes = MAX(slot->mem_bytes, mem_bytes);
}

PeakEstimate recent_peak_get(const RecentPeak *p, uint64_t now_usec) {
        uint64_t second = now_usec / USEC_PER_SEC + 1;
        PeakEstimate e = {};
        for (size_t i = 0; i < RECENT_PEAK_WINDOW_SEC; i++) {
                const typeof(p->slots[0]) *slot = &p->slots[i];
                if (slot->second == 0 || slot->second > second || second - slot->second >= RECENT_PEAK_WINDOW_SEC)
                        continue;
                e.cpu_cores = MAX(e.cpu_cores, slot->cpu_cores);
                e.mem_bytes = MAX(e.mem_bytes, slot->mem_bytes);
        }
        return e;
}

/* Until the predictor is calibrated, the node predictor answers the limit, which in standalone
 * mode (no declared limits) is the whole node: taking it would mean no overselling at all for
 * hours after a cold start. So a resource switches to the predictor only once its share is below
 * the limit. */
void estimate_choose(const PeakEstimate *recent, const PredictorAnswer *answer, const char *predictor_name,
                     EstimateChoice *ret) {
        *ret = (EstimateChoice) { .estimate = *recent };
        snprintf(ret->source, sizeof(ret->source), "recent-max-%ds", RECENT_PEAK_WINDOW_SEC);
        if (!answer)
                return;
        ret->cpu_predicted = answer->cpu_predicted < answer->cpu_limit;
        ret->mem_predicted = answer->mem_predicted < answer->mem_limit;
        if (ret->cpu_predicted)
                ret->estimate.cpu_cores = answer->cpu_peak;
        if (ret->mem_predicted)
                ret->estimate.mem_bytes = answer->mem_peak;
        if (ret->cpu_predicted || ret->mem_predicted)
                snprintf(ret->source, sizeof(ret->source), "predictor %s%s", predictor_name ?: "",
                         ret->cpu_predicted && ret->mem_predicted ? "" : ret->cpu_predicted ? " (cpu)" : " (memory)");
        else
                snprintf(ret->source, sizeof(ret->source), "recent-max-%ds (predictor warming up)", RECENT_PEAK_WINDOW_SEC);
}
