/* The simple predictors: oracle (the actual future peak, for the simulator's upper bound),
 * limit (no overselling), borg (a fixed fraction of the limit) and peak (the maximum usage over
 * a sliding window, kept in a monotone deque). Without history, peak predicts the limit. */
#include <math.h>
#include <stdlib.h>

#include "predict/predictor-internal.h"
#include "predict/window.h"

static double oracle_predict(Predictor *p, uint64_t t, double limit, double future_peak) {
        (void) p;
        (void) t;
        return isfinite(future_peak) ? future_peak : limit;
}

const PredictorOps predictor_oracle_ops = {
        .name = "oracle",
        .simulator_only = true,
        .predict = oracle_predict,
};

static double limit_predict(Predictor *p, uint64_t t, double limit, double future_peak) {
        (void) p;
        (void) t;
        (void) future_peak;
        return limit;
}

const PredictorOps predictor_limit_ops = {
        .name = "limit",
        .predict = limit_predict,
};

static double borg_predict(Predictor *p, uint64_t t, double limit, double future_peak) {
        (void) t;
        (void) future_peak;
        return p->params.borg_fraction * limit;
}

const PredictorOps predictor_borg_ops = {
        .name = "borg",
        .predict = borg_predict,
};

static int peak_init(Predictor *p) {
        SlidingMax *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        sliding_max_init(m, p->params.peak_window_usec);
        p->state = m;
        return 0;
}

static void peak_done(Predictor *p) {
        if (p->state)
                sliding_max_done(p->state);
        free(p->state);
}

static void peak_observe(Predictor *p, uint64_t t, double usage, double limit) {
        (void) limit;
        (void) sliding_max_push(p->state, t, usage); /* -ENOMEM: this sample is not remembered */
}

static double peak_predict(Predictor *p, uint64_t t, double limit, double future_peak) {
        (void) future_peak;
        double v = sliding_max_get(p->state, t);
        return isnan(v) ? limit : v;
}

static void peak_save(const Predictor *p, CkWriter *w) {
        sliding_max_save(p->state, w);
}

static int peak_load(Predictor *p, CkReader *r) {
        return sliding_max_load(p->state, r);
}

const PredictorOps predictor_peak_ops = {
        .name = "peak",
        .init = peak_init,
        .done = peak_done,
        .observe = peak_observe,
        .predict = peak_predict,
        .save = peak_save,
        .load = peak_load,
};
