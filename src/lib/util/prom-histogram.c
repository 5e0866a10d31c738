/* Prometheus histogram: see prom-histogram.h. Counts are kept per bucket and summed when read, so
 * an observation touches one counter. */
#include <math.h>

#include "util/macro.h"
#include "util/prom-histogram.h"

void prom_histogram_init(PromHistogram *h, const double *bounds, size_t n_bounds) {
        *h = (PromHistogram) { .bounds = bounds, .n_bounds = MIN(n_bounds, (size_t) PROM_HISTOGRAM_MAX_BUCKETS) };
}

void prom_histogram_observe(PromHistogram *h, double v) {
        if (isnan(v))
                return;
        for (size_t i = 0; i < h->n_bounds; i++)
                if (v <= h->bounds[i]) {
                        h->counts[i]++;
                        break;
                }
        h->count++;
        h->sum += v;
}

uint64_t prom_histogram_cumulative(const PromHistogram *h, size_t i) {
        uint64_t c = 0;
        for (size_t j = 0; j <= i && j < h->n_bounds; j++)
                c += h->counts[j];
        return c;
}
