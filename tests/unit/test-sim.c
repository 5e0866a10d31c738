/* Unit tests of src/lib/sim: the violation and savings arithmetic on tiny hand-computed series
 * (with the simple predictors oracle, limit, borg and peak, whose predictions are obvious), the
 * lookahead and warm-up rules, gaps, input validation, the JSON shape and the CSV and plot output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/sim.h"

#define S(sec) ((uint64_t) (sec) * 1000000u)

static const char *const simple_specs[] = { "oracle", "limit", "borg", "peak" };

/* step 60 s, horizon 120 s (two samples), warm-up 120 s, peak over the last 120 s. */
static SimOptions tiny_options(void) {
        SimOptions o;
        sim_options_init_defaults(&o);
        o.step_usec = S(60);
        o.warmup_usec = S(120);
        o.params.horizon_usec = S(120);
        o.params.peak_window_usec = S(120);
        return o;
}

typedef struct Recorded {
        size_t calls;
        SimStep last;
        double last_predictions[8];
        size_t node0_steps;
        uint64_t node0_t[16];
        double node0_peak[16];
} Recorded;

static int record_step(void *userdata, const SimStep *step, ColoError *err) {
        (void) err;
        Recorded *rec = userdata;
        rec->calls++;
        rec->last = *step;
        memcpy(rec->last_predictions, step->predictions, step->n_predictors * sizeof(double));
        if (step->node == 0 && rec->node0_steps < 16) {
                rec->node0_t[rec->node0_steps] = step->t_usec;
                rec->node0_peak[rec->node0_steps++] = step->future_peak;
        }
        return 0;
}

static void feed(Sim *s, size_t node, const double *usage, size_t n, double limit) {
        for (size_t i = 0; i < n; i++) {
                TraceSample sample = { .node = node, .t_usec = S(60 * i), .usage = usage[i], .limit = limit };
                ColoError err = {};
                assert_int_equal(sim_feed(s, &sample, &err), 0);
        }
}

/* Node 0 (limit 1): usage 0.2 0.4 0.3 0.9 0.1 0.5 0.5 at t = 0, 60, .. 360. Scored: t = 120, 180, 240
 * (t = 300 and 360 lack a full horizon), actual peaks over (t, t+120]: 0.9, 0.5, 0.5.
 * Node 1 (limit 2): usage 1.0 throughout; peaks 1.0.
 *   oracle: 0 violations, savings (0.1 + 0.5 + 0.5 + 3 x 0.5) / 6 = 2.6 / 6
 *   limit:  0 violations, savings 0
 *   borg:   0.9 x limit; node 0 at t=120 predicts exactly the peak 0.9: no violation (epsilon);
 *           savings 0.1 everywhere
 *   peak:   node 0 predicts max over (t-120, t]: 0.4, 0.9, 0.9 -> one violation (0.9 > 0.4,
 *           shortfall 0.5), savings 0.6 + 0.1 + 0.1; node 1 predicts 1.0: savings 0.5 x 3.
 *           violation rate 1/6, worst node 1/3, savings 2.3 / 6. */
static void test_sim_scores_a_hand_computed_trace(void **state) {
        (void) state;
        SimOptions o = tiny_options();
        Sim *s = NULL;
        SimResult *r = NULL;
        ColoError err = {};
        Recorded rec = {};
        assert_int_equal(sim_new(simple_specs, 4, &o, &s, &err), 0);
        assert_int_equal(sim_add_observer(s, record_step, &rec), 0);

        const double u0[] = { 0.2, 0.4, 0.3, 0.9, 0.1, 0.5, 0.5 };
        const double u1[] = { 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0 };
        feed(s, 0, u0, 7, 1.0);
        feed(s, 1, u1, 7, 2.0);
        assert_int_equal(sim_finish(s, &r, &err), 0);

        assert_int_equal(r->nodes, 2);
        assert_int_equal(r->steps, 6);
        assert_int_equal(r->steps_skipped, 0);
        assert_int_equal(r->horizon_usec, S(120));
        assert_true(fabs(r->oracle_savings - 2.6 / 6) < 1e-12);
        assert_int_equal(r->n_predictors, 4);

        const SimPredictorResult *oracle = &r->predictors[0], *limit = &r->predictors[1], *borg = &r->predictors[2],
                                 *peak = &r->predictors[3];
        assert_string_equal(oracle->name, "oracle");
        assert_int_equal(oracle->violations, 0);
        assert_true(fabs(oracle->savings - 2.6 / 6) < 1e-12);
        assert_true(fabs(oracle->savings_vs_oracle - 1.0) < 1e-12);

        assert_int_equal(limit->violations, 0);
        assert_true(limit->savings == 0 && limit->savings_vs_oracle == 0);

        assert_int_equal(borg->violations, 0);
        assert_true(fabs(borg->savings - 0.1) < 1e-12);

        assert_string_equal(peak->name, "peak");
        assert_int_equal(peak->violations, 1);
        assert_true(fabs(peak->violation_rate - 1.0 / 6) < 1e-12);
        assert_true(fabs(peak->worst_node_violation_rate - 1.0 / 3) < 1e-12);
        assert_true(fabs(peak->mean_shortfall - 0.5) < 1e-12);
        assert_true(fabs(peak->savings - 2.3 / 6) < 1e-12);
        assert_true(fabs(peak->savings_vs_oracle - 2.3 / 2.6) < 1e-12);

        /* The observer saw every scored step, with the actual peaks and clamped predictions. */
        assert_int_equal(rec.calls, 6);
        assert_int_equal(rec.node0_steps, 3);
        const uint64_t want_t[] = { S(120), S(180), S(240) };
        const double want_peak[] = { 0.9, 0.5, 0.5 };
        for (size_t i = 0; i < 3; i++) {
                assert_int_equal(rec.node0_t[i], want_t[i]);
                assert_true(rec.node0_peak[i] == want_peak[i]);
        }
        assert_int_equal(rec.last.node, 1);
        assert_true(rec.last.limit == 2.0 && rec.last.usage == 1.0);
        assert_true(rec.last_predictions[0] == 1.0 && rec.last_predictions[1] == 2.0);
        assert_true(fabs(rec.last_predictions[2] - 1.8) < 1e-12);

        sim_result_free(r);
        sim_free(s);
}

static void test_sim_violation_needs_more_than_epsilon(void **state) {
        (void) state;
        SimOptions o = tiny_options();
        o.warmup_usec = 0;
        const char *const specs[] = { "borg" };
        Sim *s = NULL;
        SimResult *r = NULL;
        ColoError err = {};
        assert_int_equal(sim_new(specs, 1, &o, &s, &err), 0);
        /* borg predicts 0.9; peaks: 0.9 + 1e-12 (within epsilon), then 0.9 + 1e-6 (a violation). */
        const double u[] = { 0.1, 0.9 + 1e-12, 0.1, 0.9 + 1e-6, 0.1, 0.1 };
        feed(s, 0, u, 6, 1.0);
        assert_int_equal(sim_finish(s, &r, &err), 0);
        /* Scored t = 0..180, peaks over (t, t+120]: 0.9+1e-12 (fine), 0.9+1e-6 twice (violations), 0.1. */
        assert_int_equal(r->steps, 4);
        assert_int_equal(r->predictors[0].violations, 2);
        sim_result_free(r);
        sim_free(s);
}

static void test_sim_clamps_predictions_to_the_limit(void **state) {
        (void) state;
        SimOptions o = tiny_options();
        o.warmup_usec = 0;
        o.params.peak_window_usec = S(600);
        const char *const specs[] = { "peak" };
        Sim *s = NULL;
        SimResult *r = NULL;
        ColoError err = {};
        assert_int_equal(sim_new(specs, 1, &o, &s, &err), 0);
        /* Usage above the limit: the peak predictor says 3, counted as the limit 1: savings 0. */
        const double u[] = { 3.0, 0.5, 0.5, 0.5 };
        feed(s, 0, u, 4, 1.0);
        assert_int_equal(sim_finish(s, &r, &err), 0);
        assert_int_equal(r->steps, 2);
        assert_true(r->predictors[0].savings == 0);
        assert_int_equal(r->predictors[0].violations, 0);
        sim_result_free(r);
        sim_free(s);
}

static void test_sim_warmup_counts_from_each_nodes_first_sample(void **state) {
        (void) state;
        SimOptions o = tiny_options();
        const char *const specs[] = { "limit" };
        Sim *s = NULL;
        SimResult *r = NULL;
        ColoError err = {};
        assert_int_equal(sim_new(specs, 1, &o, &s, &err), 0);
        /* Node 0 starts at 600 s: t = 600..1200 fed; scored from 720 (warm-up) to 1080 (the last
         * with a whole horizon): 7 steps. */
        for (uint64_t t = 600; t <= 1200; t += 60) {
                TraceSample sample = { .node = 0, .t_usec = S(t), .usage = 0.5, .limit = 1 };
                assert_int_equal(sim_feed(s, &sample, &err), 0);
        }
        assert_int_equal(sim_finish(s, &r, &err), 0);
        assert_int_equal(r->steps, 7);
        sim_result_free(r);
        sim_free(s);
}

static void test_sim_skips_steps_whose_horizon_has_a_gap(void **state) {
        (void) state;
        SimOptions o = tiny_options();
        o.warmup_usec = 0;
        const char *const specs[] = { "limit" };
        Sim *s = NULL;
        SimResult *r = NULL;
        ColoError err = {};
        assert_int_equal(sim_new(specs, 1, &o, &s, &err), 0);
        /* Samples at 0, 60, 120, [180 missing], 240, 300, 360, 420. Scored: 0 ((0,120] whole);
         * skipped: 60 and 120 (180 missing); scored: 180 is not a sample; 240, 300 scored. */
        const uint64_t t[] = { 0, 60, 120, 240, 300, 360, 420 };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                TraceSample sample = { .node = 0, .t_usec = S(t[i]), .usage = 0.5, .limit = 1 };
                assert_int_equal(sim_feed(s, &sample, &err), 0);
        }
        assert_int_equal(sim_finish(s, &r, &err), 0);
        assert_int_equal(r->steps, 3);
        assert_int_equal(r->steps_skipped, 2);
        sim_result_free(r);
        sim_free(s);
}

static void test_sim_rejects_bad_samples_and_options(void **state) {
        (void) state;
        SimOptions o = tiny_options();
        Sim *s = NULL;
        ColoError err = {};
        const char *const bad[] = { "oracle", "nosuch" };
        assert_int_equal(sim_new(bad, 2, &o, &s, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "nosuch"));
        const char *const twice[] = { "borg", "borg" };
        assert_int_equal(sim_new(twice, 2, &o, &s, &err), -EINVAL);
        assert_int_equal(sim_new(simple_specs, 0, &o, &s, &err), -EINVAL);
        o.params.horizon_usec = S(30);
        assert_int_equal(sim_new(simple_specs, 1, &o, &s, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "shorter than the step"));
        assert_null(s);

        o = tiny_options();
        assert_int_equal(sim_new(simple_specs, 1, &o, &s, &err), 0);
        TraceSample ok = { .node = 0, .t_usec = S(60), .usage = 0.5, .limit = 1 };
        assert_int_equal(sim_feed(s, &ok, &err), 0);
        TraceSample same = ok, off_grid = ok, negative = ok, no_limit = ok, nan_usage = ok;
        assert_int_equal(sim_feed(s, &same, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "not after"));
        off_grid.t_usec = S(150);
        assert_int_equal(sim_feed(s, &off_grid, &err), -EINVAL);
        negative.t_usec = no_limit.t_usec = nan_usage.t_usec = S(120);
        negative.usage = -0.1;
        no_limit.limit = 0;
        nan_usage.usage = NAN;
        assert_int_equal(sim_feed(s, &negative, &err), -EINVAL);
        assert_int_equal(sim_feed(s, &no_limit, &err), -EINVAL);
        assert_int_equal(sim_feed(s, &nan_usage, &err), -EINVAL);

        /* Far too short to score anything. */
        SimResult *r = NULL;
        assert_int_equal(sim_finish(s, &r, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "no step to score"));
        assert_null(r);
        sim_free(s);
}

static SimResult *run_tiny(const char *const *specs, size_t n, const double *usage, size_t n_usage) {
        SimOptions o = tiny_options();
        Sim *s = NULL;
        SimResult *r = NULL;
        ColoError err = {};
        assert_int_equal(sim_new(specs, n, &o, &s, &err), 0);
        feed(s, 0, usage, n_usage, 1.0);
        assert_int_equal(sim_finish(s, &r, &err), 0);
        sim_free(s);
        return r;
}

static void test_sim_json_has_the_documented_shape(void **state) {
        (void) state;
        const double u[] = { 0.2, 0.4, 0.3, 0.9, 0.1, 0.5, 0.5 };
        SimResult *r = run_tiny(simple_specs, 4, u, 7);
        json_t *j = sim_result_to_json(r);
        assert_non_null(j);
        assert_true(json_is_null(json_object_get(j, "trace")));
        assert_int_equal(json_integer_value(json_object_get(j, "nodes")), 1);
        assert_int_equal(json_integer_value(json_object_get(j, "steps")), 3);
        assert_int_equal(json_integer_value(json_object_get(j, "horizon_s")), 120);
        json_t *preds = json_object_get(j, "predictors");
        assert_true(json_is_array(preds));
        assert_int_equal(json_array_size(preds), 4);
        json_t *peak = json_array_get(preds, 3);
        assert_string_equal(json_string_value(json_object_get(peak, "name")), "peak");
        assert_true(fabs(json_real_value(json_object_get(peak, "violation_rate")) - 1.0 / 3) < 1e-12);
        assert_true(fabs(json_real_value(json_object_get(peak, "savings")) - 0.8 / 3) < 1e-12);
        assert_true(fabs(json_real_value(json_object_get(peak, "savings_vs_oracle")) - 0.8 / 1.1) < 1e-12);
        /* the job model's fields beside them, per predictor and once per trace */
        static const char *const job_keys[] = { "goodput", "goodput_vs_oracle", "offline_work_lost",
                                                "evictions_per_node_hour", "utilisation_online", "utilisation_total" };
        for (size_t k = 0; k < sizeof(job_keys) / sizeof(job_keys[0]); k++)
                if (!json_object_get(peak, job_keys[k]))
                        fail_msg("predictor JSON lacks %s", job_keys[k]);
        assert_true(json_is_number(json_object_get(j, "elastic_bound")));
        assert_true(json_is_number(json_object_get(j, "oracle_goodput")));
        assert_true(fabs(json_number_value(json_object_get(j, "job_cpu")) - 0.5) < 1e-12);
        json_decref(j);
        sim_result_free(r);

        /* Usage always at the limit: the oracle saves nothing, so savings_vs_oracle is null. */
        const double full[] = { 1, 1, 1, 1, 1, 1 };
        r = run_tiny(simple_specs, 2, full, 6);
        j = sim_result_to_json(r);
        assert_true(json_is_null(json_object_get(json_array_get(json_object_get(j, "predictors"), 1), "savings_vs_oracle")));
        json_decref(j);

        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        ColoError err = {};
        assert_int_equal(sim_result_print_json(r, f, &err), 0);
        fclose(f);
        json_error_t jerr;
        j = json_loads(text, 0, &jerr);
        assert_non_null(j);
        json_decref(j);
        free(text);

        f = open_memstream(&text, &size);
        sim_result_print_text(r, f);
        fclose(f);
        assert_non_null(strstr(text, "violations"));
        assert_non_null(strstr(text, "limit "));
        assert_non_null(strstr(text, "goodput"));
        assert_non_null(strstr(text, "elastic bound"));
        free(text);
        sim_result_free(r);
}

static const char *fixture(const char *name) {
        static char path[4096];
        const char *dir = getenv("COLO_TEST_FIXTURES");
        snprintf(path, sizeof(path), "%s/traces/%s", dir ? dir : "tests/fixtures", name);
        return path;
}

static char *read_text(const char *path) {
        FILE *f = fopen(path, "re");
        assert_non_null(f);
        char *buf = calloc(1, 65536);
        size_t n = fread(buf, 1, 65535, f);
        buf[n] = '\0';
        fclose(f);
        return buf;
}

/* alibaba_small with step 300 s, horizon 600 s, no warm-up: m_1932 (550200..551700) scores
 * 550200..551100 (4); m_1933 (5100..6000, gap, 7500..8100) scores 5100, 5400, 7500 and skips
 * 5700 and 6000, whose horizons reach into the gap. */
static void test_sim_runs_a_trace_file_with_csv_output(void **state) {
        (void) state;
        TraceOptions to;
        trace_options_init_defaults(&to);
        SimOptions o;
        sim_options_init_defaults(&o);
        o.warmup_usec = 0;
        o.params.horizon_usec = S(600);
        const char *const specs[] = { "oracle", "max(borg,peak)" };
        char dir[] = "/tmp/colo-test-sim-XXXXXX";
        assert_non_null(mkdtemp(dir));

        TraceReader *reader = NULL;
        Sim *s = NULL;
        SimCsv *csv = NULL;
        SimResult *r = NULL;
        ColoError err = {};
        assert_int_equal(trace_reader_open(fixture("alibaba_small.csv.gz"), &to, &reader, &err), 0);
        assert_int_equal(sim_new(specs, 2, &o, &s, &err), 0);
        assert_int_equal(sim_csv_new(dir, specs, 2, &csv, &err), 0);
        assert_int_equal(sim_add_observer(s, sim_csv_observe, csv), 0);
        assert_int_equal(sim_run_trace(s, reader, &r, &err), 0);
        assert_int_equal(sim_csv_finish(csv, reader, &err), 0);

        assert_non_null(strstr(r->trace, "alibaba_small.csv.gz"));
        assert_int_equal(r->format, TRACE_FORMAT_ALIBABA);
        assert_int_equal(r->trace_stats.rows, 45);
        assert_int_equal(r->nodes, 2);
        assert_int_equal(r->steps, 7);
        assert_int_equal(r->steps_skipped, 2);
        /* Oracle savings: 1 - peak of the next two steps. m_1932: .61 .54 .63 .65, m_1933: .06 .05 .05 */
        double want = ((1 - .61) + (1 - .54) + (1 - .63) + (1 - .65) + (1 - .06) + (1 - .05) + (1 - .05)) / 7;
        assert_true(fabs(r->oracle_savings - want) < 1e-12);

        char path[4096];
        snprintf(path, sizeof(path), "%s/node-0.csv", dir);
        char *text = read_text(path);
        assert_string_equal(text, "t_s,usage,limit,future_peak,oracle,\"max(borg,peak)\"\n"
                                  "550200,54.72,96,58.56,58.56,86.4\n"   /* in cores of a 96-core machine */
                                  "550500,58.56,96,51.84,51.84,86.4\n"
                                  "550800,51.84,96,60.48,60.48,86.4\n"
                                  "551100,51.84,96,62.4,62.4,86.4\n");
        free(text);
        snprintf(path, sizeof(path), "%s/nodes.csv", dir);
        text = read_text(path);
        assert_string_equal(text, "index,name,members,file\n0,m_1932,m_1932,node-0.csv\n1,m_1933,m_1933,node-1.csv\n");
        free(text);

        sim_result_free(r);
        sim_csv_free(csv);
        sim_free(s);
        trace_reader_free(reader);
        snprintf(path, sizeof(path), "rm -rf '%s'", dir);
        assert_int_equal(system(path), 0);
}

static void test_sim_plot_reports_missing_gnuplot_and_empty_nodes(void **state) {
        (void) state;
        const char *const specs[] = { "limit" };
        char dir[] = "/tmp/colo-test-sim-XXXXXX", png[4200];
        assert_non_null(mkdtemp(dir));
        snprintf(png, sizeof(png), "%s/node.png", dir);
        SimPlot *p = NULL;
        ColoError err = {};
        SimStep step = { .node = 0, .t_usec = S(60), .usage = 0.5, .limit = 1, .future_peak = 0.6,
                         .predictions = (const double[]) { 1.0 }, .n_predictors = 1 };

        /* Node 3 never scored. */
        assert_int_equal(sim_plot_new(png, "3", NULL, specs, 1, S(3600), S(60), &p, &err), 0);
        assert_int_equal(sim_plot_observe(p, &step, &err), 0);
        assert_int_equal(sim_plot_render(p, &err), -ENODATA);
        assert_non_null(strstr(err.msg, "node '3' has no scored step"));
        p = sim_plot_free(p);

        /* No gnuplot in PATH. */
        char *saved = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
        assert_int_equal(sim_plot_new(png, NULL, NULL, specs, 1, S(3600), S(60), &p, &err), 0);
        assert_int_equal(sim_plot_observe(p, &step, &err), 0);
        setenv("PATH", dir, 1);
        assert_int_equal(sim_plot_render(p, &err), -ENOENT);
        setenv("PATH", saved, 1);
        free(saved);
        assert_non_null(strstr(err.msg, "gnuplot not found"));
        p = sim_plot_free(p);

        /* With gnuplot (Debian gnuplot-nox), a PNG appears. */
        if (access("/usr/bin/gnuplot", X_OK) == 0) {
                assert_int_equal(sim_plot_new(png, "0", NULL, specs, 1, S(3600), S(60), &p, &err), 0);
                for (int i = 1; i <= 3; i++) {
                        step.t_usec = S(60 * i);
                        assert_int_equal(sim_plot_observe(p, &step, &err), 0);
                }
                assert_int_equal(sim_plot_render(p, &err), 0);
                p = sim_plot_free(p);
                char *head = read_text(png);
                assert_memory_equal(head, "\x89PNG", 4);
                free(head);
        }
        char cmd[4300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

/* ---- the offline job model (sim-jobs.h) ---- */

static SimJobOptions job_options(void) {
        SimJobOptions o;
        sim_job_options_init_defaults(&o);      /* 0.5 cores x 1 h, tolerance 0.1, margin 0.05, reserve 0 */
        return o;
}

static void test_sim_jobs_budget_is_the_policys(void **state) {
        (void) state;
        SimJobOptions o = job_options();
        /* 10 - prediction 3 - 5 % of 10 */
        assert_float_equal(sim_jobs_budget(&o, 10.0, 2.0, 3.0), 6.5, 1e-12);
        /* never below what online uses now: 10 - 4 - 0.5 */
        assert_float_equal(sim_jobs_budget(&o, 10.0, 4.0, 3.0), 5.5, 1e-12);
        /* the limit predicted: nothing to offer */
        assert_float_equal(sim_jobs_budget(&o, 10.0, 4.0, 10.0), 0.0, 0.0);
        o.policy.reserved_cpu_cores = 1.0;
        assert_float_equal(sim_jobs_budget(&o, 10.0, 2.0, 3.0), 5.5, 1e-12);
}

static void test_sim_jobs_squeeze_within_tolerance_keeps_the_jobs(void **state) {
        (void) state;
        SimJobOptions o = job_options();
        SimJobSet js = {};
        SimJobTotals t = {};

        /* budget 1.2 admits two jobs of 0.5, not a third */
        assert_int_equal(sim_jobs_step(&js, &o, 1.2, 1.0, 300, &t), 0);
        assert_int_equal(js.n, 2);
        assert_int_equal(t.placements, 2);
        assert_float_equal(js.jobs[0].done, 150.0, 1e-9);
        /* 0.92 left for 1.0 of jobs: squeezed by 8 % <= 10 %: kept, each gets 0.46 */
        assert_int_equal(sim_jobs_step(&js, &o, 1.2, 0.92, 300, &t), 0);
        assert_int_equal(js.n, 2);
        assert_int_equal(t.evictions, 0);
        assert_float_equal(js.jobs[0].done, 150.0 + 0.46 * 300, 1e-9);
        assert_float_equal(js.jobs[1].done, 150.0 + 0.46 * 300, 1e-9);
        assert_float_equal(t.offline_used, 300.0 + 0.92 * 300, 1e-9);
        /* exactly at the tolerance: 0.9 for 1.0, still kept */
        assert_int_equal(sim_jobs_step(&js, &o, 0.0, 0.9, 300, &t), 0);
        assert_int_equal(js.n, 2);
        assert_int_equal(t.evictions, 0);
        assert_float_equal(t.lost_work, 0.0, 0.0);
        sim_job_set_done(&js);
}

static void test_sim_jobs_squeeze_beyond_tolerance_evicts_and_loses_the_work(void **state) {
        (void) state;
        SimJobOptions o = job_options();
        SimJobSet js = {};
        SimJobTotals t = {};

        assert_int_equal(sim_jobs_step(&js, &o, 1.5, 2.0, 300, &t), 0);     /* three jobs, 300 s x 0.5 = 150 each */
        assert_int_equal(js.n, 3);
        /* 0.8 left for 1.5: squeezed by 47 %. Evict one (1.0 left: 20 %), a second (0.5: fits). */
        assert_int_equal(sim_jobs_step(&js, &o, 0.0, 0.8, 300, &t), 0);
        assert_int_equal(js.n, 1);
        assert_int_equal(t.evictions, 2);
        assert_float_equal(t.lost_work, 2 * 150.0, 1e-9);
        /* the survivor got its full size */
        assert_float_equal(js.jobs[0].done, 150.0 + 150.0, 1e-9);
        /* nothing left at all: the last one goes too */
        assert_int_equal(sim_jobs_step(&js, &o, 0.0, 0.0, 300, &t), 0);
        assert_int_equal(js.n, 0);
        assert_int_equal(t.evictions, 3);
        assert_float_equal(t.lost_work, 2 * 150.0 + 300.0, 1e-9);
        assert_float_equal(t.completed_work, 0.0, 0.0);
        /* the queue is unbounded: the budget places new jobs from scratch */
        assert_int_equal(sim_jobs_step(&js, &o, 0.5, 1.0, 300, &t), 0);
        assert_int_equal(js.n, 1);
        assert_float_equal(js.jobs[0].done, 150.0, 1e-9);
        sim_job_set_done(&js);
}

static void test_sim_jobs_evict_in_the_policys_order(void **state) {
        (void) state;
        SimJobOptions o = job_options();
        SimJobSet js = {};
        SimJobTotals t = {};

        assert_int_equal(sim_jobs_step(&js, &o, 1.0, 1.0, 300, &t), 0);
        assert_int_equal(js.n, 2);
        /* the victim is the job whose name policy_pick_victim() puts first: the smaller suffix */
        uint64_t keep = js.jobs[0].key > js.jobs[1].key ? js.jobs[0].key : js.jobs[1].key;
        assert_int_equal(sim_jobs_step(&js, &o, 0.0, 0.5, 300, &t), 0);
        assert_int_equal(js.n, 1);
        assert_true(js.jobs[0].key == keep);
        sim_job_set_done(&js);
}

static void test_sim_jobs_complete_after_their_work(void **state) {
        (void) state;
        SimJobOptions o = job_options();
        SimJobSet js = {};
        SimJobTotals t = {};

        /* 1 h of 0.5 cores: 12 unsqueezed steps of 300 s */
        for (int i = 0; i < 11; i++)
                assert_int_equal(sim_jobs_step(&js, &o, 0.5, 0.5, 300, &t), 0);
        assert_int_equal(t.completions, 0);
        assert_int_equal(sim_jobs_step(&js, &o, 0.5, 0.5, 300, &t), 0);
        assert_int_equal(t.completions, 1);
        assert_int_equal(js.n, 0);
        assert_float_equal(t.completed_work, 1800.0, 1e-9);
        /* squeezed by 10 %: 0.45 x 300 per step; 1800 / 135 = 13.3, done in the 14th step */
        for (int i = 0; i < 13; i++)
                assert_int_equal(sim_jobs_step(&js, &o, 0.5, 0.45, 300, &t), 0);
        assert_int_equal(t.completions, 1);
        assert_int_equal(sim_jobs_step(&js, &o, 0.0, 0.45, 300, &t), 0);
        assert_int_equal(t.completions, 2);
        assert_float_equal(t.offline_used, 3600.0, 1e-6);    /* the last step only took what was left */
        sim_job_set_done(&js);
}

/* step 300 s, horizon 1 h, warm-up 1 h */
static SimOptions hour_options(void) {
        SimOptions o;
        sim_options_init_defaults(&o);
        o.warmup_usec = S(3600);
        return o;
}

static SimResult *run_hourly(const char *const *specs, size_t n_specs, const double *usage, size_t n, double limit) {
        SimOptions o = hour_options();
        Sim *s = NULL;
        SimResult *r = NULL;
        ColoError err = {};
        assert_int_equal(sim_new(specs, n_specs, &o, &s, &err), 0);
        for (size_t i = 0; i < n; i++) {
                TraceSample sample = { .node = 0, .t_usec = S(300 * i), .usage = usage[i], .limit = limit };
                assert_int_equal(sim_feed(s, &sample, &err), 0);
        }
        assert_int_equal(sim_finish(s, &r, &err), 0);
        sim_free(s);
        return r;
}

static void test_sim_goodput_of_a_constant_trace(void **state) {
        (void) state;
        /* Limit 10, usage 4 throughout, 60 samples: scored steps are samples 12..47 (36 steps).
         * Budget 10 - 4 - 0.5 = 5.5: 11 jobs, never squeezed (6 idle), 3 rounds of 12 steps:
         * 33 jobs x 1800 = 59400 CPU-s of 36 x 10 x 300 = 108000: goodput 0.55. */
        double u[60];
        for (size_t i = 0; i < 60; i++)
                u[i] = 4.0;
        static const char *const specs[] = { "oracle", "limit", "peak" };
        SimResult *r = run_hourly(specs, 3, u, 60, 10.0);
        assert_int_equal(r->steps, 36);
        assert_float_equal(r->oracle_goodput, 0.55, 1e-9);
        assert_float_equal(r->elastic_bound, 0.6, 1e-9);
        assert_float_equal(r->utilisation_online, 0.4, 1e-9);
        const SimPredictorResult *oracle = &r->predictors[0], *limit = &r->predictors[1], *peak = &r->predictors[2];
        assert_float_equal(oracle->goodput, 0.55, 1e-9);
        assert_float_equal(oracle->goodput_vs_oracle, 1.0, 1e-9);
        assert_int_equal(oracle->completed_jobs, 33);
        assert_float_equal(oracle->utilisation_total, 0.95, 1e-9);
        assert_float_equal(oracle->offline_work_lost, 0.0, 0.0);
        assert_float_equal(limit->goodput, 0.0, 0.0);
        assert_float_equal(limit->utilisation_total, 0.4, 1e-9);
        assert_float_equal(peak->goodput, 0.55, 1e-9);
        assert_float_equal(peak->evictions_per_node_hour, 0.0, 0.0);
        sim_result_free(r);
}

static void test_sim_oracle_never_evicts_hour_jobs_at_an_hour_horizon(void **state) {
        (void) state;
        /* A jumpy load over 3 days: whatever the oracle admits fits until the horizon ends, which is
         * when a 1 h job that was never squeezed finishes. Borg's fixed 90 % does get squeezed. */
        enum { N = 3 * 288 };
        double u[N];
        uint64_t x = 42;
        for (size_t i = 0; i < N; i++) {
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                double noise = (double) (x >> 11) / (double) (1ULL << 53);
                u[i] = 5.0 + 3.0 * sin((double) i / 9.0) + 2.0 * noise * noise * noise;
        }
        static const char *const specs[] = { "oracle", "borg", "peak" };
        SimResult *r = run_hourly(specs, 3, u, N, 10.0);
        const SimPredictorResult *oracle = &r->predictors[0], *borg = &r->predictors[1];
        assert_true(oracle->completed_jobs > 100);
        assert_int_equal(oracle->evictions, 0);
        assert_float_equal(oracle->offline_work_lost, 0.0, 0.0);
        assert_float_equal(oracle->goodput, r->oracle_goodput, 0.0);
        assert_true(r->oracle_goodput < r->elastic_bound);
        assert_true(borg->evictions > 0);
        assert_true(borg->offline_work_lost > 0.0);
        sim_result_free(r);
}

static void test_sim_oracle_never_evicts_across_a_series_break(void **state) {
        (void) state;
        /* Limit 10, job 0.5, margin 0.5. Usage 4 for samples 0..29, a gap, usage 9 for 48..83.
         * Before the gap steps 12..17 are scored (18..29 reach into it: skipped): the oracle's
         * budget 10 - 4 - 0.5 = 5.5 runs 11 jobs for 6 steps, half their work. Had they resumed
         * after the gap they would have been squeezed to 1 / 5.5 and 9 evicted; they end at the
         * break instead, neither done nor lost. After it, steps 48..71: budget 10 - 9 - 0.5 = 0.5,
         * one job at a time, 2 complete: 3600 CPU-s of 30 steps x 10 x 300 s, goodput 0.04. */
        SimOptions o = hour_options();
        static const char *const specs[] = { "oracle" };
        Sim *s = NULL;
        SimResult *r = NULL;
        ColoError err = {};
        assert_int_equal(sim_new(specs, 1, &o, &s, &err), 0);
        for (size_t i = 0; i < 84; i++) {
                if (i >= 30 && i < 48)
                        continue;
                TraceSample sample = { .node = 0, .t_usec = S(300 * i), .usage = i < 30 ? 4.0 : 9.0, .limit = 10 };
                assert_int_equal(sim_feed(s, &sample, &err), 0);
        }
        assert_int_equal(sim_finish(s, &r, &err), 0);
        sim_free(s);
        assert_int_equal(r->steps, 30);
        assert_int_equal(r->steps_skipped, 12);
        const SimPredictorResult *oracle = &r->predictors[0];
        assert_int_equal(oracle->evictions, 0);
        assert_float_equal(oracle->offline_work_lost, 0.0, 0.0);
        assert_int_equal(oracle->completed_jobs, 2);
        assert_float_equal(oracle->goodput, 0.04, 1e-12);
        assert_float_equal(r->oracle_goodput, 0.04, 1e-12);
        sim_result_free(r);
}

static void test_sim_rejects_bad_job_options(void **state) {
        (void) state;
        static const char *const specs[] = { "oracle" };
        SimOptions o = hour_options();
        Sim *s = NULL;
        ColoError err = {};
        o.jobs.job_cpu = 0;
        assert_int_equal(sim_new(specs, 1, &o, &s, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "job-cpu"));
        o = hour_options();
        o.jobs.squeeze_tolerance = 1.0;
        assert_int_equal(sim_new(specs, 1, &o, &s, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "squeeze-tolerance"));
        o = hour_options();
        o.jobs.policy.cpu_safety_margin = -1;
        assert_int_equal(sim_new(specs, 1, &o, &s, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "cpu_safety_margin"));
        assert_null(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sim_scores_a_hand_computed_trace),
                cmocka_unit_test(test_sim_violation_needs_more_than_epsilon),
                cmocka_unit_test(test_sim_clamps_predictions_to_the_limit),
                cmocka_unit_test(test_sim_warmup_counts_from_each_nodes_first_sample),
                cmocka_unit_test(test_sim_skips_steps_whose_horizon_has_a_gap),
                cmocka_unit_test(test_sim_rejects_bad_samples_and_options),
                cmocka_unit_test(test_sim_json_has_the_documented_shape),
                cmocka_unit_test(test_sim_runs_a_trace_file_with_csv_output),
                cmocka_unit_test(test_sim_plot_reports_missing_gnuplot_and_empty_nodes),
                cmocka_unit_test(test_sim_jobs_budget_is_the_policys),
                cmocka_unit_test(test_sim_jobs_squeeze_within_tolerance_keeps_the_jobs),
                cmocka_unit_test(test_sim_jobs_squeeze_beyond_tolerance_evicts_and_loses_the_work),
                cmocka_unit_test(test_sim_jobs_evict_in_the_policys_order),
                cmocka_unit_test(test_sim_jobs_complete_after_their_work),
                cmocka_unit_test(test_sim_goodput_of_a_constant_trace),
                cmocka_unit_test(test_sim_oracle_never_evicts_hour_jobs_at_an_hour_horizon),
                cmocka_unit_test(test_sim_oracle_never_evicts_across_a_series_break),
                cmocka_unit_test(test_sim_rejects_bad_job_options),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
