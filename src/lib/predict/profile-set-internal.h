/* Shared only by profile-set.c and profile-set-checkpoint.c: the layout of a profile set. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "predict/histogram.h"
#include "predict/predictor.h"
#include "predict/profile-set.h"
#include "predict/profile.h"
#include "util/macro.h"

typedef struct Workload {
        char *name;
        uint64_t first_usec, last_usec;
        uint64_t samples;
        bool absent;                    /* missing from the latest observe(), kept for forget_after */
        double cpu, cpu_limit, cpu_max;
        double mem, mem_limit, mem_max; /* bytes, as doubles: the predictors work in doubles */
        Histogram *cpu_hist, *mem_hist;
        DayProfile *cpu_day, *mem_day;
} Workload;

struct ProfileSet {
        ProfileSetConfig cfg;
        char *spec;
        Predictor *cpu_pred, *mem_pred;
        Workload **workloads;
        size_t n_workloads;
        bool started;
        uint64_t last_usec;
        double cpu_capacity, mem_capacity; /* from the latest estimate, 0 before */
        double node_cpu, node_mem;         /* latest totals */
};

/* A workload's empty profile (histograms and time-of-day profiles per cfg). 0 or -ENOMEM. */
int workload_new(const ProfileSetConfig *cfg, const char *name, Workload **ret);
Workload *workload_free(Workload *w);  /* NULL-safe, returns NULL */
DEFINE_TRIVIAL_CLEANUP_FUNC(Workload *, workload_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ProfileSet *, profile_set_free);
