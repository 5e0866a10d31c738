/* The agent's view of its online workloads' usage: a profile per workload (CPU and memory: a
 * decaying histogram and a time-of-day profile) and, for the node's online total, one predictor
 * per resource (the same Predictor objects `colo sim` evaluates) that predicts the online peak
 * over the next horizon. The agent turns that peak into the offline budget
 * (capacity - reserved - predicted peak - margin).
 *
 * Workloads younger than min_history are not trusted to the predictor: the estimate reserves
 * their limit (or, with no limit known, the larger of their current usage and the highest usage
 * seen so far) on top of the node prediction. The caller passes every online workload each
 * time; one missing from an observe() call (a read that failed for a tick, a restart under the
 * same name, an agent restarted before its first full collection) keeps its profile for
 * forget_after, counting neither in the estimate nor in the sum of limits meanwhile, and
 * resumes it if it comes back; after that it is forgotten.
 *
 * Memory per workload is fixed by the bucket counts whatever its uptime (about 12 KiB), and the
 * number of workloads is bounded by max_workloads. Times are wall-clock microseconds (the
 * time-of-day profile needs the hour); a clock stepped back holds time still until it catches up,
 * or, when it went back by more than the horizon, restarts the node predictors cold.
 *
 * Checkpoints (profile_set_save/load) hold everything, predictor state included, so a restarted
 * agent resumes its calibration. A checkpoint written under another configuration, or corrupt,
 * truncated, foreign or from a newer colo, is rejected with an error and changes nothing: the
 * caller logs it and carries on cold. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "predict/predictor.h"
#include "util/error.h"

#define PROFILE_NAME_MAX 256 /* bytes, without the NUL */
#define PROFILE_SET_CHECKPOINT_VERSION 2  /* 2: the memory predictor's own colo quantile */

typedef struct ProfileSetConfig {
        const char *predictor_spec;     /* "colo"; copied */
        PredictorParams params;         /* the CPU predictor's; colo_quantile PREDICTOR_COLO_CPU_QUANTILE */
        double mem_colo_quantile;       /* the memory predictor's colo_quantile: PREDICTOR_COLO_STRICT_QUANTILE */
        uint64_t min_history_usec;      /* 1 h: younger workloads count at their limit */
        uint64_t half_life_usec;        /* per-workload histograms: 12 h */
        uint32_t day_buckets;           /* time-of-day profile buckets: 48 (30 min each) */
        uint64_t day_half_life_usec;    /* time-of-day profile: 3 days */
        uint32_t max_workloads;         /* 4096, present and absent ones together */
        uint64_t forget_after_usec;     /* an absent workload's profile is kept this long: 10 min */
} ProfileSetConfig;

void profile_set_config_init_defaults(ProfileSetConfig *c);

typedef struct ProfileSample {
        const char *name;       /* workload key, 1..PROFILE_NAME_MAX bytes */
        double cpu;             /* cores in use */
        uint64_t mem;           /* bytes in use */
        double cpu_limit;       /* cores, 0 = unknown */
        uint64_t mem_limit;     /* bytes, 0 = unknown */
} ProfileSample;

typedef struct ProfileEstimate {
        double cpu_peak;                /* predicted online CPU peak over the horizon, cores */
        uint64_t mem_peak;              /* bytes */
        double cpu_predicted;           /* of which the node predictor's share */
        uint64_t mem_predicted;
        double cpu_young;               /* of which the reserve for young workloads */
        uint64_t mem_young;
        double cpu_limit;               /* the limit the node series is predicted against */
        uint64_t mem_limit;
        size_t n_workloads;
        size_t n_young;
} ProfileEstimate;

typedef struct ProfileWorkloadInfo {
        const char *name;               /* valid until the next observe, load or free */
        uint64_t history_usec;          /* since first seen */
        uint64_t samples;
        bool young;                     /* less than min_history */
        double cpu, cpu_limit;          /* latest sample */
        uint64_t mem, mem_limit;
        double cpu_p50, cpu_p95, cpu_peak; /* p50/p95 of the decaying histogram; peak: the largest */
        double mem_p50, mem_p95, mem_peak; /* decaying time-of-day peak (NAN: no samples yet) */
} ProfileWorkloadInfo;

typedef struct ProfileSet ProfileSet;

int profile_set_new(const ProfileSetConfig *cfg, ProfileSet **ret, ColoError *err);
ProfileSet *profile_set_free(ProfileSet *s); /* NULL-safe, returns NULL */

/* Records one collection: every online workload's sample and the node's online totals (which may
 * exceed the samples' sum, e.g. online processes outside any workload). Returns 0, or -EINVAL
 * (bad sample: empty, long or duplicate name, negative or non-finite value), -E2BIG (more than
 * max_workloads) or -ENOMEM, and then changes nothing. O(n log n + workloads). */
int profile_set_observe(ProfileSet *s, uint64_t realtime_usec, const ProfileSample *samples, size_t n,
                        double node_online_cpu, uint64_t node_online_mem, ColoError *err);

/* The predicted online peak over the horizon (see ProfileEstimate), never above the capacity.
 * The capacity also stands in for the sum of limits when a workload has no limit. */
void profile_set_estimate(ProfileSet *s, uint64_t realtime_usec, double cpu_capacity, uint64_t mem_capacity,
                          ProfileEstimate *ret);

/* Every profile, those kept through an absence included (ProfileEstimate.n_workloads counts the
 * present ones only). */
size_t profile_set_workload_count(const ProfileSet *s);
/* Workloads are in name order. Returns 0 or -ERANGE. */
int profile_set_workload_info(const ProfileSet *s, size_t i, uint64_t realtime_usec, ProfileWorkloadInfo *ret);

/* Serialises the whole set into a checkpoint image (predict/checkpoint.h). */
int profile_set_save_buffer(const ProfileSet *s, uint8_t **ret, size_t *ret_size, ColoError *err);
/* Writes the image atomically (temporary file, fsync, rename, fsync of the directory). */
int profile_set_save(const ProfileSet *s, const char *path, ColoError *err);
/* Replaces s's state with the checkpoint's; on any error s is unchanged and err says why:
 * -EBADMSG (corrupt, truncated, foreign, or written under another configuration),
 * -EPROTONOSUPPORT (newer format), -ENOENT and other I/O errors (profile_set_load only). */
int profile_set_load_buffer(ProfileSet *s, const void *buf, size_t size, ColoError *err);
int profile_set_load(ProfileSet *s, const char *path, ColoError *err);
