/* Decaying histogram with exponential buckets, as in the Kubernetes VPA recommender that
 * Koordinator builds on. Bucket 0 holds [0, first); bucket i >= 1 holds
 * [first * growth^(i-1), first * growth^i); the last bucket also takes everything above.
 * With linear set, bucket i holds [i * first, (i + 1) * first) instead (growth is ignored).
 *
 * A sample at time t weighs 2^((t - t0) / half_life) relative to one at t0, so old samples fade
 * with the configured half-life. Adding is O(1) (weights grow instead of all buckets shrinking;
 * they are renormalised when they get large), a quantile is O(buckets), and memory is fixed by
 * the bucket count whatever the uptime. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "predict/checkpoint.h"

#define HISTOGRAM_MAX_BUCKETS 2048

typedef struct HistogramConfig {
        double first;           /* upper bound of bucket 0, > 0 */
        double growth;          /* > 1, exponential buckets only */
        bool linear;
        uint32_t n_buckets;     /* 2 .. HISTOGRAM_MAX_BUCKETS */
        uint64_t half_life_usec;/* 0: no decay */
} HistogramConfig;

typedef struct Histogram Histogram;

int histogram_new(const HistogramConfig *cfg, Histogram **ret);
Histogram *histogram_free(Histogram *h);

void histogram_add(Histogram *h, uint64_t t_usec, double value, double weight);
/* The upper bound of the bucket where the cumulative weight first reaches q (0..1) of the total,
 * or NAN when the histogram is empty. */
double histogram_quantile(const Histogram *h, double q);
/* The total weight, in units of a sample added at t_usec. */
double histogram_weight(const Histogram *h, uint64_t t_usec);
uint32_t histogram_bucket_of(const HistogramConfig *cfg, double value);
double histogram_bucket_upper(const HistogramConfig *cfg, uint32_t i);

/* State only: the loader requires a histogram of the same configuration (else -EBADMSG). */
void histogram_save(const Histogram *h, CkWriter *w);
int histogram_load(Histogram *h, CkReader *r);
