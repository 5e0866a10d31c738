/* Unit tests of src/lib/predict: every predictor against hand-computed series, spec parsing,
 * the decaying histogram, the time-of-day profile and the profile set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "predict/histogram.h"
#include "predict/predictor.h"
#include "predict/profile.h"

#define HOUR (3600 * USEC_PER_SEC)
#define MIN_ (60 * USEC_PER_SEC)

typedef struct Sample {
        uint64_t t;
        double usage;
} Sample;

typedef struct Expect {
        uint64_t t;     /* predict right after observing every sample up to t */
        double limit;
        double future;  /* for the oracle */
        double want;
} Expect;

/* Feeds samples (limit fixed) and checks each prediction at its time, interleaved in time order. */
static void check_series(const char *spec, const PredictorParams *params, double limit, const Sample *samples,
                         size_t n_samples, const Expect *expect, size_t n_expect) {
        Predictor *p = NULL;
        ColoError err = {};
        assert_int_equal(predictor_new(spec, params, true, &p, &err), 0);
        assert_string_equal(predictor_name(p), spec);
        size_t i = 0;
        for (size_t e = 0; e < n_expect; e++) {
                while (i < n_samples && samples[i].t <= expect[e].t) {
                        predictor_observe(p, samples[i].t, samples[i].usage, limit);
                        i++;
                }
                double got = predictor_predict(p, expect[e].t, expect[e].limit, expect[e].future);
                if (fabs(got - expect[e].want) > 1e-9) {
                        print_error("%s at t=%llu: got %.12g, want %.12g\n", spec, (unsigned long long) expect[e].t,
                                    got, expect[e].want);
                        fail();
                }
        }
        predictor_free(p);
}

static PredictorParams defaults(void) {
        PredictorParams p;
        predictor_params_init_defaults(&p);
        return p;
}

static void test_limit_and_borg_scale_the_limit(void **state) {
        (void) state;
        PredictorParams pp = defaults();
        static const Sample s[] = { { 0, 0.5 }, { HOUR, 3.0 } };
        static const Expect limit[] = { { 0, 4, NAN, 4 }, { HOUR, 10, NAN, 10 } };
        static const Expect borg[] = { { 0, 4, NAN, 3.6 }, { HOUR, 10, NAN, 9 } };
        check_series("limit", &pp, 4, s, ELEMENTSOF(s), limit, ELEMENTSOF(limit));
        check_series("borg", &pp, 4, s, ELEMENTSOF(s), borg, ELEMENTSOF(borg));
        pp.borg_fraction = 0.5;
        static const Expect half[] = { { 0, 4, NAN, 2 } };
        check_series("borg", &pp, 4, s, ELEMENTSOF(s), half, ELEMENTSOF(half));
}

static void test_oracle_returns_the_future_peak(void **state) {
        (void) state;
        PredictorParams pp = defaults();
        static const Sample s[] = { { 0, 1 } };
        static const Expect e[] = { { 0, 4, 2.5, 2.5 }, { 0, 4, NAN, 4 } };
        check_series("oracle", &pp, 4, s, ELEMENTSOF(s), e, ELEMENTSOF(e));
}

static void test_oracle_refused_outside_the_simulator(void **state) {
        (void) state;
        PredictorParams pp = defaults();
        Predictor *p = NULL;
        ColoError err = {};
        assert_int_equal(predictor_new("oracle", &pp, false, &p, &err), -EINVAL);
        assert_null(p);
        assert_non_null(strstr(err.msg, "simulator"));
        assert_int_equal(predictor_new("max(nsigma,oracle)", &pp, false, &p, &err), -EINVAL);
        assert_null(p);
}

static void test_nsigma_uses_window_mean_and_sigma(void **state) {
        (void) state;
        PredictorParams pp = defaults(); /* n = 5 over 2 h */
        /* ratios to the limit 2: 0.1 at 0, 0.3 at 1 h, 0.2 at 2 h, 0.9 at 3 h */
        static const Sample s[] = { { 0, 0.2 }, { HOUR, 0.6 }, { 2 * HOUR, 0.4 }, { 3 * HOUR, 1.8 } };
        static const Expect e[] = {
                { 0, 2, NAN, 0.2 },          /* one sample: sigma 0 */
                { HOUR, 2, NAN, 1.4 },       /* {0.1, 0.3}: mean 0.2, sigma 0.1 -> 0.7 x 2 */
                { 2 * HOUR, 2, NAN, 1.0 },   /* window (0, 2 h]: {0.3, 0.2}: 0.25 + 5 x 0.05 -> 0.5 x 2 */
                { 3 * HOUR, 2, NAN, 2.0 },   /* {0.2, 0.9}: 0.55 + 5 x 0.35 > 1: capped at the limit */
                { 4 * HOUR + 1, 4, NAN, 3.6 }, /* only 0.9 left, now times the new limit 4 */
                { 6 * HOUR, 2, NAN, 2.0 },   /* empty window: the limit */
        };
        check_series("nsigma", &pp, 2, s, ELEMENTSOF(s), e, ELEMENTSOF(e));
}

static void test_peak_is_the_sliding_maximum(void **state) {
        (void) state;
        PredictorParams pp = defaults(); /* 24 h */
        static const Sample s[] = { { 0, 5 }, { HOUR, 3 }, { 2 * HOUR, 4 }, { 25 * HOUR, 1 } };
        static const Expect e[] = {
                { 0, 10, NAN, 5 },
                { 23 * HOUR, 10, NAN, 5 },
                { 24 * HOUR, 10, NAN, 4 },     /* window (0, 24 h]: the 5 at 0 left */
                { 25 * HOUR, 10, NAN, 4 },
                { 26 * HOUR, 10, NAN, 1 },     /* (2 h, 26 h] */
                { 50 * HOUR, 10, NAN, 10 },    /* empty window: the limit */
        };
        check_series("peak", &pp, 10, s, ELEMENTSOF(s), e, ELEMENTSOF(e));
        static const Expect empty[] = { { 0, 7, NAN, 7 } };
        check_series("peak", &pp, 10, NULL, 0, empty, ELEMENTSOF(empty));
}

static void test_koord_is_a_decaying_quantile_with_margin(void **state) {
        (void) state;
        PredictorParams pp = defaults(); /* p95, 12 h half-life, x 1.1 */
        HistogramConfig hc = { .first = 0.001, .growth = 1.02, .n_buckets = 400 };
        double low = histogram_bucket_upper(&hc, histogram_bucket_of(&hc, 0.2));
        double high = histogram_bucket_upper(&hc, histogram_bucket_of(&hc, 0.8));
        assert_true(low > 0.2 && low < 0.2 * 1.02 + 1e-12);

        /* 30 samples at 0.2 x limit 1, then one at 0.8 a half-life later, which weighs 2: 0.95 x 32
         * = 30.4 > 30, so p95 lands on 0.8. Without decay 0.95 x 31 = 29.45 <= 30: on 0.2. */
        Sample s[31];
        for (size_t i = 0; i < 30; i++)
                s[i] = (Sample) { i * MIN_, 0.2 };
        s[30] = (Sample) { 29 * MIN_ + 12 * HOUR, 0.8 };
        Expect before = { 29 * MIN_, 1, NAN, low * 1.1 };
        check_series("koord", &pp, 1, s, 30, &before, 1);
        Expect decayed = { 29 * MIN_ + 12 * HOUR, 2, NAN, high * 1.1 * 2 };
        check_series("koord", &pp, 1, s, 31, &decayed, 1);
        /* samples 29 min apart vs a 1000-day half-life: decay is negligible */
        pp.koord_half_life_usec = 1000 * 24 * HOUR;
        Expect flat = { 29 * MIN_ + 12 * HOUR, 1, NAN, low * 1.1 };
        check_series("koord", &pp, 1, s, 31, &flat, 1);
}

static void test_max_combines_predictions(void **state) {
        (void) state;
        PredictorParams pp = defaults();
        static const Sample s[] = { { 0, 0.2 }, { HOUR, 0.6 }, { 2 * HOUR, 0.4 } };
        /* at 2 h: nsigma 1.0, peak 0.6, borg 1.8 */
        static const Expect e1[] = { { 2 * HOUR, 2, NAN, 1.0 } };
        check_series("max(nsigma,peak)", &pp, 2, s, ELEMENTSOF(s), e1, ELEMENTSOF(e1));
        static const Expect e2[] = { { 2 * HOUR, 2, NAN, 1.8 } };
        check_series("max( peak , borg )", &pp, 2, s, ELEMENTSOF(s), e2, ELEMENTSOF(e2));
        static const Expect e3[] = { { 2 * HOUR, 2, 1.9, 1.9 } };
        check_series("max(peak,max(nsigma,oracle))", &pp, 2, s, ELEMENTSOF(s), e3, ELEMENTSOF(e3));
}

static void test_spec_errors_are_reported(void **state) {
        (void) state;
        static const struct {
                const char *spec;
                const char *msg;
        } bad[] = {
                { "", "expected a predictor name" },
                { "magic", "unknown predictor 'magic'" },
                { "max", "expected '('" },
                { "max(", "expected a predictor name" },
                { "max()", "expected a predictor name" },
                { "max(peak", "missing ')'" },
                { "max(peak,)", "expected a predictor name" },
                { "max(peak nsigma)", "expected ',' or ')'" },
                { "max(peak))", "unexpected text" },
                { "peak borg", "unexpected text" },
                { "max(peak,bogus)", "unknown predictor 'bogus'" },
                { "max(max(max(max(max(peak)))))", "nested too deeply" },
                { "max(peak,peak,peak,peak,peak,peak,peak,peak,peak,peak,peak,peak,peak,peak,peak,peak,peak)",
                  "more than 16" },
        };
        PredictorParams pp = defaults();
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Predictor *p = NULL;
                ColoError err = {};
                assert_int_equal(predictor_new(bad[i].spec, &pp, true, &p, &err), -EINVAL);
                assert_null(p);
                if (!strstr(err.msg, bad[i].msg)) {
                        print_error("spec '%s': message '%s' lacks '%s'\n", bad[i].spec, err.msg, bad[i].msg);
                        fail();
                }
        }
        Predictor *p = NULL;
        ColoError err = {};
        pp.borg_fraction = 1.5;
        assert_int_equal(predictor_new("borg", &pp, true, &p, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "borg fraction"));
        assert_int_equal(predictor_new(NULL, &pp, true, &p, &err), -EINVAL);
        assert_null(p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_limit_and_borg_scale_the_limit),
                cmocka_unit_test(test_oracle_returns_the_future_peak),
                cmocka_unit_test(test_oracle_refused_outside_the_simulator),
                cmocka_unit_test(test_nsigma_uses_window_mean_and_sigma),
                cmocka_unit_test(test_peak_is_the_sliding_maximum),
                cmocka_unit_test(test_koord_is_a_decaying_quantile_with_margin),
                cmocka_unit_test(test_max_combines_predictions),
                cmocka_unit_test(test_spec_errors_are_reported),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
