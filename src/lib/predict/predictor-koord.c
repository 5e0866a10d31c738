/* Koordinator's rule: the koord_quantile (p95) of a decaying histogram of usage (half-life
 * koord_half_life, 12 h) times koord_margin (1.1). The histogram holds usage relative to the
 * limit in exponential buckets (first 0.1 % of the limit, 2 % growth, so a quantile is at most
 * 2 % above the true one), which keeps it unit-free for CPU cores and memory bytes alike.
 * Without history it predicts the limit. */
#include <math.h>
#include <stdlib.h>

#include "predict/histogram.h"
#include "predict/predictor-internal.h"

static HistogramConfig koord_histogram_config(const Predictor *p) {
        return (HistogramConfig) {
                .first = 0.001,
                .growth = 1.02,
                .n_buckets = 400, /* up to 0.001 * 1.02^399, about 2.7 x the limit */
                .half_life_usec = p->params.koord_half_life_usec,
        };
}

static int koord_init(Predictor *p) {
        HistogramConfig c = koord_histogram_config(p);
        Histogram *h;
        int r = histogram_new(&c, &h);
        if (r < 0)
                return r;
        p->state = h;
        return 0;
}

static void koord_done(Predictor *p) {
        histogram_free(p->state);
}

static void koord_observe(Predictor *p, uint64_t t, double usage, double limit) {
        if (!(limit > 0) || !isfinite(usage))
                return;
        histogram_add(p->state, t, usage / limit, 1.0);
}

static double koord_predict(Predictor *p, uint64_t t, double limit, double future_peak) {
        (void) t;
        (void) future_peak;
        double q = histogram_quantile(p->state, p->params.koord_quantile);
        if (isnan(q))
                return limit;
        return q * p->params.koord_margin * limit;
}

static void koord_save(const Predictor *p, CkWriter *w) {
        histogram_save(p->state, w);
}

static int koord_load(Predictor *p, CkReader *r) {
        return histogram_load(p->state, r);
}

const PredictorOps predictor_koord_ops = {
        .name = "koord",
        .init = koord_init,
        .done = koord_done,
        .observe = koord_observe,
        .predict = koord_predict,
        .save = koord_save,
        .load = koord_load,
};
