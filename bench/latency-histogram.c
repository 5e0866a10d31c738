/* Log-bucketed latency histogram (see latency-histogram.h). Bucket layout: values below
 * 2*SUB are their own bucket; above, a value with its top bit at position m keeps its top
 * SUB_BITS+1 bits, i.e. shift = m - SUB_BITS and index = shift*SUB + (value >> shift), which
 * makes consecutive powers of two occupy consecutive runs of SUB buckets. */
#include <math.h>
#include <string.h>

#include "latency-histogram.h"

void latency_histogram_init(LatencyHistogram *h) {
        memset(h, 0, sizeof(*h));
        h->min = UINT64_MAX;
}

unsigned latency_bucket_index(uint64_t value) {
        if (value < 2 * (uint64_t) LATENCY_SUB_COUNT)
                return (unsigned) value;
        unsigned msb = 63 - (unsigned) __builtin_clzll(value);
        unsigned shift = msb - LATENCY_SUB_BITS;
        return shift * LATENCY_SUB_COUNT + (unsigned) (value >> shift);
}

uint64_t latency_bucket_highest(unsigned index) {
        if (index < 2 * LATENCY_SUB_COUNT)
                return index;
        unsigned shift = index / LATENCY_SUB_COUNT - 1;
        uint64_t top = index - shift * LATENCY_SUB_COUNT;      /* in [SUB, 2*SUB) */
        uint64_t low = top << shift;
        return low + ((UINT64_C(1) << shift) - 1);
}

void latency_histogram_record(LatencyHistogram *h, uint64_t value) {
        h->counts[latency_bucket_index(value)]++;
        h->total++;
        h->sum += value;
        if (value < h->min)
                h->min = value;
        if (value > h->max)
                h->max = value;
}

uint64_t latency_histogram_quantile(const LatencyHistogram *h, double q) {
        if (h->total == 0)
                return 0;
        if (q <= 0.0)
                return h->min;
        if (q >= 1.0)
                return h->max;
        /* Rank of the value wanted: the ceil(q * total)-th smallest, counting from 1. */
        uint64_t rank = (uint64_t) ceill((long double) q * h->total);
        if (rank == 0)
                rank = 1;
        uint64_t seen = 0;
        for (unsigned i = 0; i < LATENCY_BUCKETS; i++) {
                seen += h->counts[i];
                if (seen >= rank) {
                        uint64_t v = latency_bucket_highest(i);
                        return v < h->max ? v : h->max;
                }
        }
        return h->max;
}

double latency_histogram_mean(const LatencyHistogram *h) {
        return h->total ? (double) (h->sum / h->total) : 0.0;
}
