/* Time-of-day profile: the day (period, 24 h by default) is cut into n buckets, and each bucket
 * keeps a decaying peak and a decaying mean of the samples that fell into it on past days, so the
 * profile shows the daily peaks and troughs and forgets old days with the configured half-life.
 *
 * A decaying peak is max over past samples x_i of x_i * 2^(-(t - t_i) / half_life): a spike fades
 * unless it recurs. Memory is fixed by the bucket count; every call is O(1) except the range
 * query, O(buckets). Times are wall-clock microseconds (UTC: the buckets of a node in another time
 * zone are just shifted, which does not matter for a periodic profile). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "predict/checkpoint.h"

#define DAY_PROFILE_MAX_BUCKETS 1440

typedef struct DayProfileConfig {
        uint32_t n_buckets;      /* 1 .. DAY_PROFILE_MAX_BUCKETS, e.g. 24 or 48 */
        uint64_t period_usec;    /* 24 h; must be a multiple of n_buckets microseconds */
        uint64_t half_life_usec; /* > 0 */
} DayProfileConfig;

typedef struct DayProfile DayProfile;

void day_profile_config_init_defaults(DayProfileConfig *c); /* 48 buckets, 24 h, 3-day half-life */
int day_profile_new(const DayProfileConfig *cfg, DayProfile **ret);
DayProfile *day_profile_free(DayProfile *p);
const DayProfileConfig *day_profile_config(const DayProfile *p);

uint32_t day_profile_bucket_of(const DayProfile *p, uint64_t t_usec);
void day_profile_add(DayProfile *p, uint64_t t_usec, double value);
/* Bucket b's decaying peak or mean seen from time t, NAN if the bucket never saw a sample. */
double day_profile_peak(const DayProfile *p, uint32_t b, uint64_t t_usec);
double day_profile_mean(const DayProfile *p, uint32_t b, uint64_t t_usec);
/* The largest decaying peak of the buckets that (from, to] touches (at most one period), seen
 * from time from; NAN if none of them saw a sample. */
double day_profile_peak_between(const DayProfile *p, uint64_t from_usec, uint64_t to_usec);
/* How many buckets have seen a sample. */
uint32_t day_profile_buckets_seen(const DayProfile *p);

void day_profile_save(const DayProfile *p, CkWriter *w);
int day_profile_load(DayProfile *p, CkReader *r); /* the configuration must match */
