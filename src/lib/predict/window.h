/* Sliding-window statistics over a time series: the maximum (a monotone deque) and the mean and
 * variance (running sums). Both hold samples with time in (now - window, now].
 *
 * Memory is bounded by the window, not the series: samples closer together than the resolution
 * (window / WINDOW_MAX_SLOTS) share one slot, so at most WINDOW_MAX_SLOTS + 2 slots exist however
 * fast samples arrive. A shared slot keeps the maximum and the sums of its samples and expires
 * with its newest sample, so a slot may outlive its oldest sample by less than one resolution. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "predict/checkpoint.h"

#define WINDOW_MAX_SLOTS 4096

typedef struct WindowSlot {
        uint64_t t;   /* newest sample merged into the slot */
        double value; /* SlidingMax: the maximum; SlidingStats: the sum */
        double sum_sq;
        uint32_t count;
} WindowSlot;

/* A ring of slots, oldest first, growing on demand up to WINDOW_MAX_SLOTS + 2. */
typedef struct WindowRing {
        WindowSlot *slots;
        size_t allocated, head, n;
        uint64_t window_usec, resolution_usec;
} WindowRing;

typedef struct SlidingMax {
        WindowRing ring;
} SlidingMax;

typedef struct SlidingStats {
        WindowRing ring;
        double sum, sum_sq;
        uint64_t count;
        uint64_t pops_since_resum; /* running sums are recomputed now and then to shed rounding */
} SlidingStats;

void sliding_max_init(SlidingMax *m, uint64_t window_usec);
void sliding_max_done(SlidingMax *m);
/* Returns 0 or -ENOMEM (the sample is then dropped). Amortised O(1). */
int sliding_max_push(SlidingMax *m, uint64_t t, double v);
/* The maximum over (t - window, t], or NAN when no sample is in it. Amortised O(1). */
double sliding_max_get(SlidingMax *m, uint64_t t);

void sliding_stats_init(SlidingStats *s, uint64_t window_usec);
void sliding_stats_done(SlidingStats *s);
int sliding_stats_push(SlidingStats *s, uint64_t t, double v);
/* Mean and population standard deviation over (t - window, t]; returns the sample count (0: none). */
uint64_t sliding_stats_get(SlidingStats *s, uint64_t t, double *ret_mean, double *ret_sigma);

void sliding_max_save(const SlidingMax *m, CkWriter *w);
int sliding_max_load(SlidingMax *m, CkReader *r);
void sliding_stats_save(const SlidingStats *s, CkWriter *w);
int sliding_stats_load(SlidingStats *s, CkReader *r);
