/* colo's default predictor: a level estimate scaled by a self-calibrating safety factor.
 *
 * Level: base(t) = max(the peak of the last horizon, the time-of-day profile's decaying peak for
 * the buckets the next horizon covers). The first follows the load as it is now, the second
 * remembers the daily rhythm (the peak that came at this hour on past days).
 *
 * Safety factor: once a horizon has passed, the actual peak of (t, t + h] is known, so the ratio
 * actual / base(t) is an observed forecast error. Ratios go into a decaying histogram, and the
 * prediction is base x its colo_quantile. This is split conformal prediction done online: if the
 * ratios are exchangeable over the recent past, the prediction covers the next peak with the
 * target probability, whatever the node's load shape, so the margin adapts to each node instead
 * of being a constant fitted to one trace. Predictions never exceed the limit. */
#include <math.h>
#include <stdlib.h>

#include "predict/histogram.h"
#include "predict/predictor-internal.h"
#include "predict/profile.h"
#include "predict/window.h"

#define COLO_QUANTILE 0.995
#define COLO_RATIO_HALF_LIFE_USEC (7 * 24 * 3600 * USEC_PER_SEC)
#define COLO_BASE_FLOOR 0.01     /* of the limit: keeps ratios finite on an idle node */
#define COLO_PENDING_MAX 64      /* calibration points in flight per horizon */

typedef struct Pending {
        uint64_t t;
        double base;
        double peak; /* of the samples after t so far, -INFINITY before the first */
} Pending;

typedef struct ColoState {
        SlidingMax recent;
        DayProfile *day;
        Histogram *ratios;
        Pending pending[COLO_PENDING_MAX + 1];
        size_t pending_head, pending_n;
        double last_limit;
} ColoState;

static int colo_init(Predictor *p) {
        ColoState *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        p->state = s;
        sliding_max_init(&s->recent, p->params.horizon_usec);
        DayProfileConfig dc;
        day_profile_config_init_defaults(&dc);
        int r = day_profile_new(&dc, &s->day);
        if (r < 0)
                return r;
        HistogramConfig hc = {
                .first = 0.01,
                .growth = 1.01,
                .n_buckets = 930, /* up to 0.01 * 1.01^929, about 100 */
                .half_life_usec = COLO_RATIO_HALF_LIFE_USEC,
        };
        return histogram_new(&hc, &s->ratios);
}

static void colo_done(Predictor *p) {
        ColoState *s = p->state;
        if (!s)
                return;
        sliding_max_done(&s->recent);
        day_profile_free(s->day);
        histogram_free(s->ratios);
        free(s);
}

static double colo_base(Predictor *p, uint64_t t, double limit) {
        ColoState *s = p->state;
        double base = sliding_max_get(&s->recent, t);
        double day = day_profile_peak_between(s->day, t, t + p->params.horizon_usec);
        if (isnan(base) || (!isnan(day) && day > base))
                base = day;
        if (isnan(base))
                return NAN;
        return MAX(base, COLO_BASE_FLOOR * limit);
}

static Pending *pending_at(ColoState *s, size_t i) {
        return &s->pending[(s->pending_head + i) % ELEMENTSOF(s->pending)];
}

static void colo_observe(Predictor *p, uint64_t t, double usage, double limit) {
        ColoState *s = p->state;
        uint64_t h = p->params.horizon_usec;

        /* this sample belongs to the horizon of every pending point before it */
        for (size_t i = 0; i < s->pending_n; i++) {
                Pending *q = pending_at(s, i);
                if (t > q->t && t <= q->t + h)
                        q->peak = MAX(q->peak, usage);
        }
        /* points whose horizon has passed become calibration ratios */
        while (s->pending_n > 0) {
                Pending *q = pending_at(s, 0);
                if (q->t + h > t)
                        break;
                if (isfinite(q->peak))
                        histogram_add(s->ratios, t, q->peak / q->base, 1.0);
                s->pending_head = (s->pending_head + 1) % ELEMENTSOF(s->pending);
                s->pending_n--;
        }

        (void) sliding_max_push(&s->recent, t, usage);
        day_profile_add(s->day, t, usage);
        s->last_limit = limit;

        /* at most COLO_PENDING_MAX points per horizon, so the work per sample is bounded */
        if (s->pending_n > 0 && t < pending_at(s, s->pending_n - 1)->t + h / COLO_PENDING_MAX)
                return;
        if (s->pending_n == ELEMENTSOF(s->pending))
                return;
        double base = colo_base(p, t, limit);
        if (isnan(base) || !(base > 0))
                return;
        *pending_at(s, s->pending_n++) = (Pending) { .t = t, .base = base, .peak = -INFINITY };
}

static double colo_predict(Predictor *p, uint64_t t, double limit, double future_peak) {
        (void) future_peak;
        ColoState *s = p->state;
        double base = colo_base(p, t, limit);
        double factor = histogram_quantile(s->ratios, COLO_QUANTILE);
        if (isnan(base) || isnan(factor))
                return limit;
        return MIN(limit, base * factor);
}

static void colo_save(const Predictor *p, CkWriter *w) {
        ColoState *s = p->state;
        sliding_max_save(&s->recent, w);
        day_profile_save(s->day, w);
        histogram_save(s->ratios, w);
        ck_put_u32(w, (uint32_t) s->pending_n);
        for (size_t i = 0; i < s->pending_n; i++) {
                const Pending *q = pending_at(s, i);
                ck_put_u64(w, q->t);
                ck_put_double(w, q->base);
                ck_put_double(w, isfinite(q->peak) ? q->peak : -1.0);
        }
}

static int colo_load(Predictor *p, CkReader *r) {
        ColoState *s = p->state;
        int k;
        uint32_t n;
        if ((k = sliding_max_load(&s->recent, r)) < 0 || (k = day_profile_load(s->day, r)) < 0 ||
            (k = histogram_load(s->ratios, r)) < 0 ||
            (k = ck_get_count(r, "pending calibration points", ELEMENTSOF(s->pending), &n)) < 0)
                return k;
        Pending loaded[ELEMENTSOF(s->pending)];
        for (uint32_t i = 0; i < n; i++) {
                Pending *q = &loaded[i];
                if ((k = ck_get_u64(r, "pending time", &q->t)) < 0 ||
                    (k = ck_get_double(r, "pending base", 1e-300, 1e300, &q->base)) < 0 ||
                    (k = ck_get_double(r, "pending peak", -1.0, 1e300, &q->peak)) < 0)
                        return k;
                if (q->peak < 0)
                        q->peak = -INFINITY;
        }
        s->pending_head = 0;
        s->pending_n = n;
        for (uint32_t i = 0; i < n; i++)
                s->pending[i] = loaded[i];
        return 0;
}

const PredictorOps predictor_colo_ops = {
        .name = "colo",
        .init = colo_init,
        .done = colo_done,
        .observe = colo_observe,
        .predict = colo_predict,
        .save = colo_save,
        .load = colo_load,
};
