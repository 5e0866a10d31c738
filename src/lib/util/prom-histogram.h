/* A Prometheus histogram with fixed bucket bounds: cumulative counts per upper bound, the sum and
 * the count of the observed values, as the text exposition format's <name>_bucket{le=...},
 * <name>_sum and <name>_count lines need them. Pure and allocation-free, O(buckets) per value. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define PROM_HISTOGRAM_MAX_BUCKETS 16

typedef struct PromHistogram {
        const double *bounds;                   /* ascending upper bounds, without +Inf */
        size_t n_bounds;                        /* <= PROM_HISTOGRAM_MAX_BUCKETS */
        uint64_t counts[PROM_HISTOGRAM_MAX_BUCKETS]; /* per bound: values <= it (not cumulative) */
        uint64_t count;                         /* every value, the +Inf bucket */
        double sum;
} PromHistogram;

/* bounds must outlive h, be ascending, and n_bounds <= PROM_HISTOGRAM_MAX_BUCKETS
 * (more are ignored). */
void prom_histogram_init(PromHistogram *h, const double *bounds, size_t n_bounds);

/* Counts v in the first bucket whose bound is >= v (values above every bound only in +Inf).
 * NaN is ignored: it belongs to no bucket and would poison the sum. */
void prom_histogram_observe(PromHistogram *h, double v);

/* Cumulative count of values <= bounds[i], as the le="bounds[i]" line reports it. */
uint64_t prom_histogram_cumulative(const PromHistogram *h, size_t i);
