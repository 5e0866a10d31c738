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
#include "predict/profile-set.h"
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

static void test_colo_learns_its_margin(void **state) {
        (void) state;
        PredictorParams pp = defaults(); /* 1 h horizon, p99.25: 134 scores before it trusts itself */
        Predictor *p = NULL;
        ColoError err = {};
        assert_int_equal(predictor_new("colo", &pp, false, &p, &err), 0);
        /* flat at 2 of 10: the error is 0, so the prediction is 2 plus one histogram step */
        uint64_t t = 0;
        for (int i = 0; i < 12 + 133; i++, t += 5 * MIN_)
                predictor_observe(p, t, 2.0, 10);
        assert_true(predictor_predict(p, t, 10, NAN) == 10); /* 133 scores: still cold */
        predictor_observe(p, t, 2.0, 10);
        double flat = predictor_predict(p, t, 10, NAN);
        assert_true(flat >= 2.0 && flat <= 2.0 + 0.001 * 10 + 1e-9);
        predictor_free(p);

        /* a 5-minute spike to 8 every day at noon over a base of 2: after a week the prediction
         * before noon covers the spike, while at night it stays well below it */
        assert_int_equal(predictor_new("colo", &pp, false, &p, &err), 0);
        uint64_t day = 24 * HOUR;
        for (t = 0; t < 7 * day; t += 5 * MIN_)
                predictor_observe(p, t, t % day == 12 * HOUR ? 8.0 : 2.0, 10);
        t = 7 * day + 11 * HOUR + 30 * MIN_;
        for (uint64_t u = 7 * day; u <= t; u += 5 * MIN_)
                predictor_observe(p, u, 2.0, 10);
        assert_true(predictor_predict(p, t, 10, NAN) >= 8.0);
        for (uint64_t u = t + 5 * MIN_; u <= 8 * day + 3 * HOUR; u += 5 * MIN_)
                predictor_observe(p, u, u % day == 12 * HOUR ? 8.0 : 2.0, 10);
        double night = predictor_predict(p, 8 * day + 3 * HOUR, 10, NAN);
        assert_true(night > 2.0 && night < 8.0);
        predictor_free(p);
}

static void test_windows_stay_bounded_under_fast_samples(void **state) {
        (void) state;
        /* a sample every millisecond for an hour over a 24 h window still predicts exactly */
        PredictorParams pp = defaults();
        Predictor *p = NULL;
        ColoError err = {};
        assert_int_equal(predictor_new("max(peak,nsigma)", &pp, false, &p, &err), 0);
        for (uint64_t t = 0; t < HOUR; t += 1000)
                predictor_observe(p, t, t == 1800 * USEC_PER_SEC ? 3.0 : 1.0, 4);
        assert_true(predictor_predict(p, HOUR, 4, NAN) >= 3.0);
        predictor_free(p);
}

static void test_histogram_decays_and_quantiles(void **state) {
        (void) state;
        HistogramConfig c = { .first = 1, .growth = 2, .n_buckets = 8, .half_life_usec = HOUR };
        /* buckets: [0,1) [1,2) [2,4) [4,8) ... upper bounds 1 2 4 8 16 */
        static const struct {
                double v;
                uint32_t bucket;
        } where[] = { { 0, 0 }, { 0.5, 0 }, { 1.5, 1 }, { 3, 2 }, { 5, 3 }, { 1e9, 7 }, { -1, 0 } };
        for (size_t i = 0; i < ELEMENTSOF(where); i++)
                assert_int_equal(histogram_bucket_of(&c, where[i].v), where[i].bucket);
        assert_true(histogram_bucket_upper(&c, 3) == 8);

        Histogram *h = NULL;
        assert_int_equal(histogram_new(&c, &h), 0);
        assert_true(isnan(histogram_quantile(h, 0.5)));
        histogram_add(h, 0, 0.5, 3);     /* weight 3 at t = 0 */
        histogram_add(h, HOUR, 5, 1);    /* weight 1 at one half-life: counts as 2 */
        /* total 5 (in t = 0 units): p50 -> 2.5 of cumulative: bucket 0 (3) reaches it */
        assert_true(histogram_quantile(h, 0.5) == 1);
        assert_true(histogram_quantile(h, 0.7) == 8);  /* 3.5 > 3 */
        assert_true(histogram_quantile(h, 0.6) == 1);  /* 3.0 <= 3 */
        assert_true(fabs(histogram_weight(h, HOUR) - 2.5) < 1e-12); /* seen from 1 h later */
        /* 100 half-lives later one sample outweighs everything before: renormalisation keeps it finite */
        histogram_add(h, 100 * HOUR, 0.5, 1);
        assert_true(histogram_quantile(h, 0.99) == 1);
        assert_true(isfinite(histogram_weight(h, 100 * HOUR)));
        histogram_free(h);

        HistogramConfig bad = c;
        bad.growth = 1;
        assert_int_equal(histogram_new(&bad, &h), -EINVAL);
        HistogramConfig lin = { .first = 0.5, .linear = true, .n_buckets = 4 };
        assert_int_equal(histogram_bucket_of(&lin, 1.2), 2);
        assert_true(histogram_bucket_upper(&lin, 2) == 1.5);
        assert_int_equal(histogram_bucket_of(&lin, 99), 3);
}

static void test_day_profile_keeps_daily_peaks(void **state) {
        (void) state;
        DayProfileConfig c = { .n_buckets = 24, .period_usec = 24 * HOUR, .half_life_usec = 24 * HOUR };
        DayProfile *p = NULL;
        assert_int_equal(day_profile_new(&c, &p), 0);
        assert_true(isnan(day_profile_peak(p, 9, 0)));
        /* day 0: 9:00-10:00 peaks at 8, the rest idles at 1; day 1: 9:00 only reaches 4 */
        for (uint64_t t = 0; t < 24 * HOUR; t += 10 * MIN_)
                day_profile_add(p, t, t / HOUR == 9 ? (t % HOUR == 20 * MIN_ ? 8 : 6) : 1);
        assert_int_equal(day_profile_bucket_of(p, 9 * HOUR + 59 * MIN_), 9);
        assert_int_equal(day_profile_buckets_seen(p), 24);
        /* the 8 at 9:20 has decayed for the 30 minutes to the bucket's last sample */
        assert_true(fabs(day_profile_peak(p, 9, 9 * HOUR + 50 * MIN_) - 8 * exp2(-30.0 / 1440)) < 1e-12);
        assert_true(fabs(day_profile_mean(p, 9, 0) - (5 * 6 + 8) / 6.0) < 0.01); /* older samples weigh a bit less */
        /* a day later the peak has halved: 4; a new 4 at 9:00 keeps it there */
        assert_true(fabs(day_profile_peak(p, 9, 33 * HOUR + 20 * MIN_) - 4) < 1e-12);
        day_profile_add(p, 33 * HOUR, 3);
        assert_true(fabs(day_profile_peak(p, 9, 33 * HOUR + 20 * MIN_) - 4) < 1e-12);
        /* the window (8:30, 9:30] touches buckets 8 and 9 */
        double v = day_profile_peak_between(p, 32 * HOUR + 30 * MIN_, 33 * HOUR + 30 * MIN_);
        assert_true(v > 3.9 && v < 4.1);
        assert_true(day_profile_peak_between(p, 2 * HOUR, 3 * HOUR) <= 1);
        day_profile_free(p);
        DayProfileConfig bad = { .n_buckets = 7, .period_usec = 24 * HOUR, .half_life_usec = HOUR };
        assert_int_equal(day_profile_new(&bad, &p), -EINVAL);
}

#define GIB (1024ull * 1024 * 1024)

static ProfileSet *profile_set_for_test(const char *spec) {
        ProfileSetConfig cfg;
        profile_set_config_init_defaults(&cfg); /* young below 1 h */
        cfg.predictor_spec = spec;
        ProfileSet *s = NULL;
        ColoError err = {};
        assert_int_equal(profile_set_new(&cfg, &s, &err), 0);
        return s;
}

static void observe_ok(ProfileSet *s, uint64_t t, const ProfileSample *x, size_t n) {
        double cpu = 0;
        uint64_t mem = 0;
        for (size_t i = 0; i < n; i++) {
                cpu += x[i].cpu;
                mem += x[i].mem;
        }
        ColoError err = {};
        assert_int_equal(profile_set_observe(s, t, x, n, cpu, mem, &err), 0);
}

static void test_profile_set_counts_young_workloads_at_their_limit(void **state) {
        (void) state;
        ProfileSet *s = profile_set_for_test("peak");
        ProfileSample x[] = {
                { .name = "old", .cpu = 1, .mem = 2 * GIB, .cpu_limit = 4, .mem_limit = 8 * GIB },
                { .name = "young", .cpu = 0.5, .mem = 1 * GIB, .cpu_limit = 2, .mem_limit = 4 * GIB },
                { .name = "nolimit", .cpu = 0.25, .mem = 1 * GIB },
        };
        observe_ok(s, 0, x, 1);
        observe_ok(s, 2 * HOUR, x, 1);           /* old is 2 h old */
        x[2].cpu = 0.75;
        observe_ok(s, 2 * HOUR + MIN_, x, 3);    /* young and nolimit appear */
        x[2].cpu = 0.25;
        observe_ok(s, 2 * HOUR + 2 * MIN_, x, 3);
        ProfileEstimate e;
        profile_set_estimate(s, 2 * HOUR + 2 * MIN_, 16, 64 * GIB, &e);
        assert_int_equal(e.n_workloads, 3);
        assert_int_equal(e.n_young, 2);
        /* node peak over 24 h: 1 + 0.5 + 0.75 = 2.25 cores; young at limit: +1.5; nolimit at its
         * peak 0.75 (now 0.25): +0.5 */
        assert_true(fabs(e.cpu_predicted - 2.25) < 1e-9);
        assert_true(fabs(e.cpu_young - 2.0) < 1e-9);
        assert_true(fabs(e.cpu_peak - 4.25) < 1e-9);
        assert_int_equal(e.mem_young, 3 * GIB);   /* young: 4 - 1; nolimit: its peak, no headroom */
        assert_int_equal(e.mem_peak, 4 * GIB + 3 * GIB);
        assert_true(e.cpu_limit == 16);           /* a limit is unknown: the capacity */
        /* capped by the capacity */
        profile_set_estimate(s, 2 * HOUR + 2 * MIN_, 3, 5 * GIB, &e);
        assert_true(e.cpu_peak == 3);
        assert_int_equal(e.mem_peak, 5 * GIB);
        /* an hour later they have grown up */
        observe_ok(s, 3 * HOUR + 2 * MIN_, x, 3);
        profile_set_estimate(s, 3 * HOUR + 2 * MIN_, 16, 64 * GIB, &e);
        assert_int_equal(e.n_young, 0);
        assert_true(e.cpu_young == 0 && e.mem_young == 0);
        profile_set_free(s);
}

/* A workload missing from one observe keeps its profile (before: forgotten at once, a fresh
 * profile when it came back), out of the estimate meanwhile; gone for forget_after, it is
 * forgotten. */
static void test_profile_set_keeps_an_absent_workload_for_a_grace_period(void **state) {
        (void) state;
        ProfileSet *s = profile_set_for_test("colo");
        ProfileSetConfig defaults;
        profile_set_config_init_defaults(&defaults);
        const uint64_t grace = defaults.forget_after_usec;
        assert_int_equal(grace, 10 * MIN_);
        ProfileSample x[] = {
                { .name = "b", .cpu = 1, .mem = GIB, .cpu_limit = 2, .mem_limit = 2 * GIB },
                { .name = "a", .cpu = 1, .mem = GIB, .cpu_limit = 2, .mem_limit = 2 * GIB },
                { .name = "c", .cpu = 1, .mem = GIB, .cpu_limit = 2, .mem_limit = 2 * GIB },
        };
        for (int i = 0; i < 10; i++)
                observe_ok(s, (uint64_t) i * MIN_, x, 3);
        assert_int_equal(profile_set_workload_count(s), 3);
        ProfileWorkloadInfo info;
        assert_int_equal(profile_set_workload_info(s, 0, 10 * MIN_, &info), 0);
        assert_string_equal(info.name, "a");
        assert_int_equal(info.samples, 10);
        assert_int_equal(info.history_usec, 10 * MIN_);
        assert_true(info.young);
        assert_true(info.cpu_p50 >= 1 && info.cpu_p50 <= 1.05);
        assert_true(info.cpu_peak <= 1 && info.cpu_peak > 0.999); /* decaying: 3-day half-life */
        assert_int_equal(profile_set_workload_info(s, 3, 0, &info), -ERANGE);

        observe_ok(s, 11 * MIN_, &x[1], 2);      /* b is missing for one tick: kept, not counted */
        assert_int_equal(profile_set_workload_count(s), 3);
        ProfileEstimate e;
        profile_set_estimate(s, 11 * MIN_, 0, 0, &e);
        assert_int_equal(e.n_workloads, 2);
        assert_true(e.cpu_limit == 2 + 2);       /* b's limit is not added while it is away */
        observe_ok(s, 12 * MIN_, x, 3);          /* b is back with its history */
        assert_int_equal(profile_set_workload_info(s, 1, 12 * MIN_, &info), 0);
        assert_string_equal(info.name, "b");
        assert_int_equal(info.samples, 11);
        assert_int_equal(info.history_usec, 12 * MIN_);

        /* Gone for good: kept until forget_after after its last sample, then forgotten. */
        observe_ok(s, 13 * MIN_, &x[1], 2);
        observe_ok(s, 12 * MIN_ + grace - 1, &x[1], 2);
        assert_int_equal(profile_set_workload_count(s), 3);
        observe_ok(s, 12 * MIN_ + grace, &x[1], 2);
        assert_int_equal(profile_set_workload_count(s), 2);
        assert_int_equal(profile_set_workload_info(s, 1, 12 * MIN_ + grace, &info), 0);
        assert_string_equal(info.name, "c");
        observe_ok(s, 12 * MIN_ + grace + MIN_, x, 1);   /* b returns after that: a fresh profile */
        assert_int_equal(profile_set_workload_info(s, 1, 12 * MIN_ + grace + MIN_, &info), 0);
        assert_string_equal(info.name, "b");
        assert_int_equal(info.samples, 1);
        assert_int_equal(profile_set_workload_count(s), 3);
        observe_ok(s, 14 * MIN_ + 2 * grace, NULL, 0);
        assert_int_equal(profile_set_workload_count(s), 0);
        profile_set_free(s);
}

/* Absent profiles never push the set past max_workloads: the present ones come first. */
static void test_profile_set_keeps_absent_workloads_only_within_the_limit(void **state) {
        (void) state;
        ProfileSetConfig cfg;
        profile_set_config_init_defaults(&cfg);
        cfg.max_workloads = 2;
        ProfileSet *s = NULL;
        ColoError err = {};
        assert_int_equal(profile_set_new(&cfg, &s, &err), 0);
        ProfileSample x[] = { { .name = "a", .cpu = 1, .mem = GIB }, { .name = "b", .cpu = 1, .mem = GIB } };
        ProfileSample y[] = { { .name = "c", .cpu = 1, .mem = GIB }, { .name = "d", .cpu = 1, .mem = GIB } };
        observe_ok(s, 0, x, 2);
        observe_ok(s, MIN_, y, 1);               /* c, plus one of a and b kept */
        assert_int_equal(profile_set_workload_count(s), 2);
        observe_ok(s, 2 * MIN_, y, 2);           /* c and d: no room left for absent ones */
        assert_int_equal(profile_set_workload_count(s), 2);
        ProfileWorkloadInfo info;
        assert_int_equal(profile_set_workload_info(s, 0, 2 * MIN_, &info), 0);
        assert_string_equal(info.name, "c");
        profile_set_free(s);
}

/* CPU and memory run colo with their own quantiles (predictor.h): fed the same relative series,
 * the CPU prediction, at 0.8, sits below the memory one, at 0.9925; the checkpoint carries both. */
static void test_profile_set_cpu_and_memory_quantiles_differ(void **state) {
        (void) state;
        ProfileSet *s = profile_set_for_test("colo");
        uint64_t x = 7, t = 0;
        for (int i = 0; i < 3 * 288; i++, t += 5 * MIN_) {
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                double u = 0.3 + 0.4 * (double) (x >> 11) / (double) (1ULL << 53);
                ProfileSample w[] = { { .name = "w", .cpu = 8 * u, .mem = (uint64_t) (8.0 * u * (double) GIB),
                                        .cpu_limit = 8, .mem_limit = 8 * GIB } };
                observe_ok(s, t, w, 1);
        }
        ProfileEstimate e;
        profile_set_estimate(s, t, 8, 8 * GIB, &e);
        double cpu = e.cpu_predicted / 8, mem = (double) e.mem_predicted / (double) (8 * GIB);
        if (!(cpu < mem - 0.02 && mem < 1.0))
                fail_msg("cpu %.3f of its limit, memory %.3f: want cpu clearly below memory", cpu, mem);

        uint8_t *image = NULL;
        size_t size = 0;
        ColoError err = {};
        assert_int_equal(profile_set_save_buffer(s, &image, &size, &err), 0);
        ProfileSetConfig cfg;
        profile_set_config_init_defaults(&cfg);
        cfg.predictor_spec = "colo";
        cfg.mem_colo_quantile = 0.99;
        ProfileSet *other = NULL;
        assert_int_equal(profile_set_new(&cfg, &other, &err), 0);
        assert_int_equal(profile_set_load_buffer(other, image, size, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "predictor configuration"));
        profile_set_free(other);
        cfg.mem_colo_quantile = PREDICTOR_COLO_STRICT_QUANTILE;
        assert_int_equal(profile_set_new(&cfg, &other, &err), 0);
        assert_int_equal(profile_set_load_buffer(other, image, size, &err), 0);
        profile_set_free(other);
        free(image);
        profile_set_free(s);
}

static void test_profile_set_rejects_bad_samples_and_changes_nothing(void **state) {
        (void) state;
        ProfileSet *s = profile_set_for_test("colo");
        ProfileSample good[] = { { .name = "a", .cpu = 1, .mem = GIB } };
        observe_ok(s, 0, good, 1);
        char long_name[PROFILE_NAME_MAX + 2];
        memset(long_name, 'x', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        static const struct {
                ProfileSample x[2];
                size_t n;
                const char *msg;
        } bad[] = {
                { { { .name = "" } }, 1, "empty workload name" },
                { { { .name = NULL } }, 1, "empty workload name" },
                { { { .name = "n", .cpu = -1 } }, 1, "CPU -1" },
                { { { .name = "n", .cpu = NAN } }, 1, "CPU nan" },
                { { { .name = "n", .cpu_limit = INFINITY } }, 1, "limit inf" },
                { { { .name = "d", .cpu = 1 }, { .name = "d", .cpu = 2 } }, 2, "sampled twice" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ColoError err = {};
                assert_int_equal(profile_set_observe(s, MIN_, bad[i].x, bad[i].n, 1, GIB, &err), -EINVAL);
                if (!strstr(err.msg, bad[i].msg)) {
                        print_error("case %zu: '%s' lacks '%s'\n", i, err.msg, bad[i].msg);
                        fail();
                }
        }
        ProfileSample longer[] = { { .name = long_name } };
        ColoError err = {};
        assert_int_equal(profile_set_observe(s, MIN_, longer, 1, 1, GIB, &err), -EINVAL);
        assert_int_equal(profile_set_observe(s, MIN_, good, 1, -1, GIB, &err), -EINVAL);
        assert_int_equal(profile_set_workload_count(s), 1);
        ProfileWorkloadInfo info;
        assert_int_equal(profile_set_workload_info(s, 0, MIN_, &info), 0);
        assert_string_equal(info.name, "a");
        assert_int_equal(info.samples, 1);

        ProfileSetConfig cfg;
        profile_set_config_init_defaults(&cfg);
        cfg.max_workloads = 1;
        cfg.predictor_spec = "colo";
        ProfileSet *small = NULL;
        assert_int_equal(profile_set_new(&cfg, &small, &err), 0);
        ProfileSample two[] = { { .name = "a" }, { .name = "b" } };
        assert_int_equal(profile_set_observe(small, 0, two, 2, 0, 0, &err), -E2BIG);
        profile_set_free(small);
        cfg.predictor_spec = "oracle";
        assert_int_equal(profile_set_new(&cfg, &small, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "simulator"));
        cfg.predictor_spec = "colo";
        cfg.day_buckets = 7;
        assert_int_equal(profile_set_new(&cfg, &small, &err), -EINVAL);
        profile_set_free(s);
}

static void test_profile_set_restarts_predictors_when_the_clock_goes_back(void **state) {
        (void) state;
        ProfileSet *s = profile_set_for_test("peak");
        ProfileSample x[] = { { .name = "a", .cpu = 5, .mem = GIB, .cpu_limit = 8, .mem_limit = 2 * GIB } };
        uint64_t t0 = 100 * HOUR;
        observe_ok(s, t0, x, 1);
        x[0].cpu = 1;
        observe_ok(s, t0 - 30 * MIN_, x, 1);     /* back by less than the horizon: time held */
        ProfileEstimate e;
        profile_set_estimate(s, t0 - 30 * MIN_, 16, 64 * GIB, &e);
        assert_true(e.cpu_predicted == 5);
        observe_ok(s, t0 - 3 * HOUR, x, 1);      /* back by 3 h: the predictors start over */
        profile_set_estimate(s, t0 - 3 * HOUR, 16, 64 * GIB, &e);
        assert_true(e.cpu_predicted == 1);
        observe_ok(s, t0 - 3 * HOUR + MIN_, x, 1);
        assert_int_equal(profile_set_workload_count(s), 1);
        profile_set_free(s);
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
                cmocka_unit_test(test_colo_learns_its_margin),
                cmocka_unit_test(test_windows_stay_bounded_under_fast_samples),
                cmocka_unit_test(test_histogram_decays_and_quantiles),
                cmocka_unit_test(test_day_profile_keeps_daily_peaks),
                cmocka_unit_test(test_profile_set_counts_young_workloads_at_their_limit),
                cmocka_unit_test(test_profile_set_keeps_an_absent_workload_for_a_grace_period),
                cmocka_unit_test(test_profile_set_keeps_absent_workloads_only_within_the_limit),
                cmocka_unit_test(test_profile_set_cpu_and_memory_quantiles_differ),
                cmocka_unit_test(test_profile_set_rejects_bad_samples_and_changes_nothing),
                cmocka_unit_test(test_profile_set_restarts_predictors_when_the_clock_goes_back),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
