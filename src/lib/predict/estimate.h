/* The online peak estimate the offline budget is computed from, as a pure decision: the
 * predictor's answer per resource once it is calibrated, and before that (a cold start, or no
 * predictor at all) the largest online use of the last RECENT_PEAK_WINDOW_SEC seconds. The clock
 * is an argument everywhere, so the agent, the simulator and the tests run the same code. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The recent maximum: one maximum per second in a fixed ring, so a burst of fast-reaction ticks
 * neither allocates nor shortens the window. Zero-initialise. */
#define RECENT_PEAK_WINDOW_SEC 30
typedef struct RecentPeak {
        struct {
                uint64_t second;        /* monotonic second this slot holds; 0 = empty */
                double cpu_cores;
                uint64_t mem_bytes;
        } slots[RECENT_PEAK_WINDOW_SEC];
} RecentPeak;

void recent_peak_push(RecentPeak *p, uint64_t now_usec, double cpu_cores, uint64_t mem_bytes);

typedef struct PeakEstimate {
        double cpu_cores;
        uint64_t mem_bytes;
} PeakEstimate;

/* The maximum of the slots younger than the window at now_usec; zero when none is. */
PeakEstimate recent_peak_get(const RecentPeak *p, uint64_t now_usec);

/* What the predictor answered this period (profile_set_estimate()): its peak per resource and, of
 * that, the node predictor's share and the limit it predicts against. A share still at the limit
 * means the predictor is not calibrated for that resource (it answers the limit until it is). */
typedef struct PredictorAnswer {
        double cpu_peak, cpu_predicted, cpu_limit;
        uint64_t mem_peak, mem_predicted, mem_limit;
} PredictorAnswer;

typedef struct EstimateChoice {
        PeakEstimate estimate;          /* what the budget is computed from */
        bool cpu_predicted, mem_predicted;      /* which resources come from the predictor */
        char source[64];                /* "recent-max-30s", "predictor colo (cpu)", ... */
} EstimateChoice;

/* Chooses per resource between the recent peak and the predictor's answer (NULL: no predictor,
 * or it rejected this period's sample). predictor_name names it in the source. Pure. */
void estimate_choose(const PeakEstimate *recent, const PredictorAnswer *answer, const char *predictor_name,
                     EstimateChoice *ret);
