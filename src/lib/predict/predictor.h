/* Peak predictors behind one interface. A predictor watches one series (a node's summed online
 * usage and the sum of its limits, CPU or memory, in any unit) and predicts the series' peak over
 * the next horizon. The simulator (`colo sim`) and the agent run the very same objects.
 *
 * Specs accepted by predictor_new():
 *   oracle     the actual future peak (simulator only: allow_oracle must be true)
 *   limit      the sum of limits (no overselling)
 *   borg       borg_fraction x limit
 *   nsigma     min(1, mean + n*sigma of usage/limit over nsigma_window) x limit (Bashir et al. 2021)
 *   koord      koord_quantile of a decaying histogram (koord_half_life) x koord_margin (Koordinator)
 *   peak       the maximum usage over peak_window (24 h)
 *   max(a,b..) the maximum of other predictors' predictions, e.g. max(nsigma,peak)
 *   colo       colo's default: max(last horizon's peak, time-of-day peak) plus a margin learnt
 *              online from its own errors, the colo_quantile of (actual - level) / limit over a
 *              decaying record (half_life); see predictor-colo.c and docs/prediction.md
 * Without history a predictor predicts the limit. Times must not decrease.
 * Cost: observe and predict are O(1) amortised or O(buckets); memory is bounded by the window
 * lengths divided by the sample step (and by WINDOW_MAX_SLOTS), never by the series length. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

typedef struct CkReader CkReader;
typedef struct CkWriter CkWriter;

/* colo_quantile per resource (docs/prediction.md, "Offline goodput"). CPU: chosen for the offline
 * work completed, not for violations: a missed CPU peak only squeezes SCHED_IDLE offline work for
 * a few minutes, and on the dev slices 0.8 harvests the most with at most 1 % of the offline work
 * lost to evictions. Memory cannot be squeezed like CPU: the strict tail, violations <= 1 %. */
#define PREDICTOR_COLO_CPU_QUANTILE 0.8
#define PREDICTOR_COLO_STRICT_QUANTILE 0.9925

typedef struct PredictorParams {
        uint64_t horizon_usec;          /* 1 h */
        double borg_fraction;           /* 0.9 */
        double nsigma_n;                /* 5 */
        uint64_t nsigma_window_usec;    /* 2 h */
        uint64_t koord_half_life_usec;  /* 12 h */
        double koord_quantile;          /* 0.95 */
        double koord_margin;            /* 1.1 */
        uint64_t peak_window_usec;      /* 24 h */
        uint64_t half_life_usec;        /* colo: half-life of its forecast-error record, 7 days */
        double colo_quantile;           /* colo: share of peaks to cover, PREDICTOR_COLO_STRICT_QUANTILE */
} PredictorParams;

void predictor_params_init_defaults(PredictorParams *p);
/* 0, or -EINVAL with err naming the parameter out of range. predictor_new() calls it. */
int predictor_params_validate(const PredictorParams *p, ColoError *err);

typedef struct Predictor Predictor;

int predictor_new(const char *spec, const PredictorParams *params, bool allow_oracle, Predictor **ret,
                  ColoError *err);
Predictor *predictor_free(Predictor *p);        /* NULL-safe, returns NULL */
const char *predictor_name(const Predictor *p); /* the spec it was built from */

/* Feeds one sample: usage and limit at time t (microseconds, non-decreasing). */
void predictor_observe(Predictor *p, uint64_t t_usec, double usage, double limit);

/* The predicted peak of usage over (t, t + horizon], given the current limit. future_peak is the
 * actual peak, read only by the oracle; pass NAN outside the simulator. */
double predictor_predict(Predictor *p, uint64_t t_usec, double limit, double future_peak);

/* Checkpointing (predict/checkpoint.h): the learned state, not the spec or the parameters, which
 * the caller stores and must match when loading (a max(...) saves its parts in order). A load
 * fails with -EBADMSG (err in r names the field) on a state of another kind or configuration or
 * a malformed one; the predictor is then in a valid but unspecified state: free it or reset it
 * by building a new one. */
void predictor_save_state(const Predictor *p, CkWriter *w);
int predictor_load_state(Predictor *p, CkReader *r);
