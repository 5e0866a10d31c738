/* A latency histogram in the style of HdrHistogram: log-bucketed with 2^LATENCY_SUB_BITS linear
 * sub-buckets per power of two, so every recorded value is kept to within 1/128 (0.8%) of itself
 * from 1 ns to the full uint64_t range, in a fixed array and O(1) per record. Pure: no I/O. */
#pragma once

#include <stdint.h>

#define LATENCY_SUB_BITS 7
#define LATENCY_SUB_COUNT (1U << LATENCY_SUB_BITS)
/* Values below 2 * LATENCY_SUB_COUNT are exact; each further power of two adds LATENCY_SUB_COUNT. */
#define LATENCY_BUCKETS ((64 - LATENCY_SUB_BITS + 1) * LATENCY_SUB_COUNT)

typedef struct LatencyHistogram {
        uint64_t counts[LATENCY_BUCKETS];
        uint64_t total;
        uint64_t min, max;              /* exact; min is UINT64_MAX while empty */
        long double sum;                /* for the mean */
} LatencyHistogram;

void latency_histogram_init(LatencyHistogram *h);
void latency_histogram_record(LatencyHistogram *h, uint64_t value);

/* The bucket a value falls into, and the highest value that bucket holds. */
unsigned latency_bucket_index(uint64_t value);
uint64_t latency_bucket_highest(unsigned index);

/* The smallest recorded value v (reported as its bucket's highest equivalent value, capped at the
 * exact max) such that at least q (0..1) of all recorded values are <= v. 0 when empty. */
uint64_t latency_histogram_quantile(const LatencyHistogram *h, double q);
double latency_histogram_mean(const LatencyHistogram *h);
