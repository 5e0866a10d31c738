/* N-sigma (Bashir et al., "Take it to the limit: peak prediction-driven resource overcommitment
 * in datacenters", EuroSys 2021): min(1, mean + n * sigma) of usage/limit over a sliding window,
 * times the current limit. Sigma is the population standard deviation of the window's samples.
 * Running sums make observe and predict O(1) amortised. Without history it predicts the limit. */
#include <math.h>
#include <stdlib.h>

#include "predict/predictor-internal.h"
#include "predict/window.h"

static int nsigma_init(Predictor *p) {
        SlidingStats *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        sliding_stats_init(s, p->params.nsigma_window_usec);
        p->state = s;
        return 0;
}

static void nsigma_done(Predictor *p) {
        if (p->state)
                sliding_stats_done(p->state);
        free(p->state);
}

static void nsigma_observe(Predictor *p, uint64_t t, double usage, double limit) {
        if (!(limit > 0) || !isfinite(usage))
                return;
        (void) sliding_stats_push(p->state, t, usage / limit);
}

static double nsigma_predict(Predictor *p, uint64_t t, double limit, double future_peak) {
        (void) future_peak;
        double mean, sigma;
        if (sliding_stats_get(p->state, t, &mean, &sigma) == 0)
                return limit;
        return MIN(1.0, mean + p->params.nsigma_n * sigma) * limit;
}

static void nsigma_save(const Predictor *p, CkWriter *w) {
        sliding_stats_save(p->state, w);
}

static int nsigma_load(Predictor *p, CkReader *r) {
        return sliding_stats_load(p->state, r);
}

const PredictorOps predictor_nsigma_ops = {
        .name = "nsigma",
        .init = nsigma_init,
        .done = nsigma_done,
        .observe = nsigma_observe,
        .predict = nsigma_predict,
        .save = nsigma_save,
        .load = nsigma_load,
};
