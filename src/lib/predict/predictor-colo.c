/* colo's default predictor: a level estimate plus a self-calibrating margin.
 *
 * Level: base(t) = max(the peak of the last horizon, the time-of-day profile's decaying peak over
 * the buckets the next horizon covers). The first follows the load as it is now, the second
 * remembers the daily rhythm (what came at this hour on past days).
 *
 * Margin: once a horizon has passed, the actual peak of (t, t + h] is known, so the error
 * score(t) = (actual - base(t)) / limit is observed. Scores go into a decaying histogram
 * (half_life, 7 days) and the prediction is base + limit x the colo_quantile of the scores. This
 * is split conformal prediction run online: as long as the recent errors are representative of
 * the next one, the prediction covers the next peak with probability colo_quantile, whatever the
 * shape of the node's load, so the margin is learnt per node instead of being a constant fitted
 * to one trace. Until 1 / (1 - colo_quantile) scores are in (too few for that quantile to exist),
 * it predicts the limit, as split conformal prediction would. Predictions stay in [0, limit].
 *
 * The margin is additive in units of the limit rather than a factor on the base: a node's noise
 * does not shrink in proportion when its load drops, and the additive form beat the multiplicative
 * one on all three traces of docs/prediction.md at the same coverage.
 *
 * Cost: observe is O(1) amortised plus O(COLO_PENDING_MAX); predict is O(histogram buckets).
 * Memory is fixed: the last horizon's deque, 48 profile buckets, 2000 histogram buckets and at
 * most COLO_PENDING_MAX calibration points in flight. */
#include <math.h>
#include <stdlib.h>

#include "predict/histogram.h"
#include "predict/predictor-internal.h"
#include "predict/profile.h"
#include "predict/window.h"

#define COLO_PENDING_MAX 64     /* calibration points in flight per horizon */
#define COLO_SCORE_OFFSET 1.0   /* scores lie in [-1, 1] while usage stays within the limit */
#define COLO_SCORE_STEP 0.001   /* histogram resolution, in units of the limit */

typedef struct Pending {
        uint64_t t;
        double base;  /* in units of the limit at t */
        double peak;  /* of the samples after t so far, in the same units; -INFINITY before the first */
} Pending;

typedef struct ColoState {
        SlidingMax recent;
        DayProfile *day;
        Histogram *scores;
        Pending pending[COLO_PENDING_MAX + 1];
        size_t pending_head, pending_n;
        double n_scores; /* calibration points recorded (undecayed), for the cold start */
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
                .first = COLO_SCORE_STEP,
                .linear = true,
                .n_buckets = 2000, /* scores in [-1, 1) */
                .half_life_usec = p->params.half_life_usec,
        };
        return histogram_new(&hc, &s->scores);
}

static void colo_done(Predictor *p) {
        ColoState *s = p->state;
        if (!s)
                return;
        sliding_max_done(&s->recent);
        day_profile_free(s->day);
        histogram_free(s->scores);
        free(s);
}

/* The level at t (usage units), NAN before the first sample. */
static double colo_base(Predictor *p, uint64_t t) {
        ColoState *s = p->state;
        double base = sliding_max_get(&s->recent, t);
        double day = day_profile_peak_between(s->day, t, t + p->params.horizon_usec);
        if (isnan(base) || (!isnan(day) && day > base))
                base = day;
        return base;
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
                if (t > q->t && t <= q->t + h && limit > 0)
                        q->peak = MAX(q->peak, usage / limit);
        }
        /* points whose horizon is over become scores */
        while (s->pending_n > 0) {
                Pending *q = pending_at(s, 0);
                if (q->t + h > t)
                        break;
                if (isfinite(q->peak)) {
                        histogram_add(s->scores, t, q->peak - q->base + COLO_SCORE_OFFSET, 1.0);
                        s->n_scores++;
                }
                s->pending_head = (s->pending_head + 1) % ELEMENTSOF(s->pending);
                s->pending_n--;
        }

        (void) sliding_max_push(&s->recent, t, usage); /* -ENOMEM: this sample is not remembered */
        day_profile_add(s->day, t, usage);

        /* at most COLO_PENDING_MAX points per horizon, so the work per sample is bounded */
        if (s->pending_n > 0 && t < pending_at(s, s->pending_n - 1)->t + h / COLO_PENDING_MAX)
                return;
        if (s->pending_n == ELEMENTSOF(s->pending) || !(limit > 0))
                return;
        double base = colo_base(p, t);
        if (isnan(base))
                return;
        *pending_at(s, s->pending_n++) = (Pending) { .t = t, .base = base / limit, .peak = -INFINITY };
}

static double colo_predict(Predictor *p, uint64_t t, double limit, double future_peak) {
        (void) future_peak;
        ColoState *s = p->state;
        double q = p->params.colo_quantile;
        double base = colo_base(p, t);
        if (isnan(base) || s->n_scores < 1 / (1 - q))
                return limit;
        double margin = histogram_quantile(s->scores, q) - COLO_SCORE_OFFSET;
        return CLAMP(base + margin * limit, 0.0, limit);
}

static void colo_save(const Predictor *p, CkWriter *w) {
        ColoState *s = p->state;
        sliding_max_save(&s->recent, w);
        day_profile_save(s->day, w);
        histogram_save(s->scores, w);
        ck_put_double(w, s->n_scores);
        ck_put_u32(w, (uint32_t) s->pending_n);
        for (size_t i = 0; i < s->pending_n; i++) {
                const Pending *q = pending_at(s, i);
                ck_put_u64(w, q->t);
                ck_put_double(w, q->base);
                ck_put_u8(w, isfinite(q->peak));
                ck_put_double(w, isfinite(q->peak) ? q->peak : 0);
        }
}

static int colo_load(Predictor *p, CkReader *r) {
        ColoState *s = p->state;
        Pending loaded[ELEMENTSOF(s->pending)];
        double n_scores;
        uint32_t n;
        int k;
        if ((k = sliding_max_load(&s->recent, r)) < 0 || (k = day_profile_load(s->day, r)) < 0 ||
            (k = histogram_load(s->scores, r)) < 0 ||
            (k = ck_get_double(r, "colo score count", 0, 1e300, &n_scores)) < 0 ||
            (k = ck_get_count(r, "colo pending points", ELEMENTSOF(s->pending), &n)) < 0)
                return k;
        for (uint32_t i = 0; i < n; i++) {
                Pending *q = &loaded[i];
                bool seen;
                if ((k = ck_get_u64(r, "pending time", &q->t)) < 0 ||
                    (k = ck_get_double(r, "pending base", 0, 1e300, &q->base)) < 0 ||
                    (k = ck_get_bool(r, "pending peak flag", &seen)) < 0 ||
                    (k = ck_get_double(r, "pending peak", 0, 1e300, &q->peak)) < 0)
                        return k;
                if (!seen)
                        q->peak = -INFINITY;
        }
        s->n_scores = n_scores;
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
