/* Unit tests of the Prometheus range-query reader (trace.h) and its limits file: an export
 * captured from a real Prometheus 2.42 (tests/fixtures/traces/README.md), hand-written exports
 * with NaN, a gap and a series that ends, whose node sums are computed by hand, and the errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace/trace.h"

#define MAX_SAMPLES 512

typedef struct Node {
        size_t n;
        uint64_t t_sec[MAX_SAMPLES];
        double usage[MAX_SAMPLES];
        double limit;
} Node;

typedef struct Read {
        size_t n_nodes;
        Node nodes[2];
        TraceStats stats;
} Read;

static const char *fixture(const char *name) {
        static char path[4096];
        const char *dir = getenv("COLO_TEST_FIXTURES");
        snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/fixtures", name);
        return path;
}

static int drain(TraceReader *r, Read *out, ColoError *err) {
        TraceSample s;
        int k;
        memset(out, 0, sizeof(*out));
        while ((k = trace_reader_next(r, &s, err)) > 0) {
                assert_true(s.node < 2);
                Node *n = &out->nodes[s.node];
                assert_true(n->n < MAX_SAMPLES);
                n->t_sec[n->n] = s.t_usec / 1000000;
                n->usage[n->n++] = s.usage;
                n->limit = s.limit;
        }
        out->n_nodes = trace_reader_n_nodes(r);
        out->stats = *trace_reader_stats(r);
        return k;
}

static int read_text(const char *text, const TraceOptions *o, Read *out, ColoError *err) {
        TraceReader *r = NULL;
        assert_int_equal(trace_reader_open_buffer(text, strlen(text), "export.json", o, &r, err), 0);
        int k = drain(r, out, err);
        trace_reader_free(r);
        return k;
}

static void test_captured_export_from_a_real_prometheus(void **state) {
        (void) state;
        static Read rd;
        TraceOptions o;
        TraceReader *r = NULL;
        ColoError err = {};
        trace_options_init_defaults(&o);
        /* auto-detected by its '{'; without a limits file d and e have no limit */
        assert_int_equal(trace_reader_open(fixture("traces/prometheus_query_range.json"), &o, &r, &err), 0);
        assert_int_equal(drain(r, &rd, &err), 0);
        assert_int_equal(trace_reader_format(r), TRACE_FORMAT_PROMETHEUS);
        assert_int_equal(rd.n_nodes, 1);
        assert_string_equal(trace_reader_node_name(r, 0), "n1");
        /* Prometheus returned n1's series as b, c, a */
        assert_string_equal(trace_reader_node_member(r, 0, 0), "b");
        assert_string_equal(trace_reader_node_member(r, 0, 2), "a");
        assert_null(trace_reader_node_member(r, 0, 3));
        assert_int_equal(rd.stats.sources, 3);
        assert_int_equal(rd.stats.series_without_limit, 2);
        assert_int_equal(rd.stats.series_ended, 1);            /* c stopped at 20 h */
        assert_int_equal(rd.stats.values_not_finite, 1);       /* b's NaN at 5 h */
        /* b's 30-minute hole: the query's 5-minute lookback leaves 5 steps (10:05..10:25) out */
        assert_int_equal(rd.stats.vm_readings_carried + rd.stats.vm_readings_absent, 1 + 5);
        const Node *n1 = &rd.nodes[0];
        assert_true(n1->limit == 4.0);
        assert_int_equal(n1->n, 360);
        assert_int_equal(n1->t_sec[0], 1699920000);
        assert_true(fabs(n1->usage[0] - (0.8 + 0.3 + 0.25)) < 1e-12);
        trace_reader_free(r);

        /* with the limits file, d joins as node n2 */
        char limits[] = "/tmp/colo-test-limits-XXXXXX";
        int fd = mkstemp(limits);
        assert_true(fd >= 0);
        FILE *f = fdopen(fd, "w");
        assert_non_null(f);
        fputs("# workload,cores\nd,4\n", f);
        fclose(f);
        o.limits_path = limits;
        assert_int_equal(trace_reader_open(fixture("traces/prometheus_query_range.json"), &o, &r, &err), 0);
        assert_int_equal(drain(r, &rd, &err), 0);
        assert_int_equal(rd.n_nodes, 2);
        assert_int_equal(rd.stats.series_without_limit, 1);
        assert_true(rd.nodes[1].limit == 4.0);
        assert_true(fabs(rd.nodes[1].usage[0] - 1.5) < 1e-12);
        trace_reader_free(r);
        unlink(limits);
}

static void test_nan_gap_and_end_by_hand(void **state) {
        (void) state;
        static Read rd;
        static const char *export = "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
                "{\"metric\":{\"pod\":\"s1\",\"limit\":\"1\",\"node\":\"x\"},"
                " \"values\":[[0,\"0.5\"],[300,\"NaN\"],[600,\"0.2\"],[1500,\"0.4\"]]},"
                "{\"metric\":{\"pod\":\"s2\",\"limit\":\"1\",\"node\":\"x\"},"
                " \"values\":[[0,\"0.1\"],[300,\"0.1\"],[600,\"0.1\"],[900,\"0.1\"],[1200,\"0.1\"],[1500,\"0.1\"],"
                "[1800,\"0.1\"]]}]}}";
        TraceOptions o;
        ColoError err = {};
        trace_options_init_defaults(&o);
        o.max_gap_steps = 1;
        assert_int_equal(read_text(export, &o, &rd, &err), 0);
        /* 300: s1's NaN carries 0.5; 900: its gap carries 0.2 once; 1200: beyond the gap, 0;
         * 1800: s1 has ended, 0. */
        static const double want[] = { 0.6, 0.6, 0.3, 0.3, 0.1, 0.5, 0.1 };
        const Node *x = &rd.nodes[0];
        assert_int_equal(x->n, 7);
        for (size_t i = 0; i < 7; i++) {
                assert_int_equal(x->t_sec[i], 300 * i);
                if (fabs(x->usage[i] - want[i]) > 1e-12)
                        fail_msg("t=%zu: usage %g, want %g", 300 * i, x->usage[i], want[i]);
        }
        assert_true(x->limit == 2.0);
        assert_int_equal(rd.stats.values_not_finite, 1);
        assert_int_equal(rd.stats.vm_readings_carried, 2);
        assert_int_equal(rd.stats.vm_readings_absent, 1);
        assert_int_equal(rd.stats.series_ended, 1);
        assert_int_equal(rd.stats.rows, 10);
}

static void test_unlabeled_series_are_packed_and_clamped(void **state) {
        (void) state;
        static Read rd;
        static const char *export = "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
                "{\"metric\":{\"job\":\"a\",\"limit\":\"0.5\"},\"values\":[[60,\"0.9\"],[120,\"-1\"]]},"
                "{\"metric\":{\"job\":\"b\",\"limit\":\"1\"},\"values\":[[60,\"+Inf\"],[120,\"0.25\"]]},"
                "{\"metric\":{\"job\":\"c\",\"limit\":\"2\"},\"values\":[[60,\"1e-1\"]]}]}}";
        TraceOptions o;
        ColoError err = {};
        TraceReader *r = NULL;
        trace_options_init_defaults(&o);
        o.node_size = 2;
        o.step_sec = 60;
        o.max_gap_steps = 0;
        assert_int_equal(trace_reader_open_buffer(export, strlen(export), "e", &o, &r, &err), 0);
        assert_int_equal(drain(r, &rd, &err), 0);
        assert_int_equal(rd.n_nodes, 2);
        assert_string_equal(trace_reader_node_name(r, 0), "group0");
        /* no pod label: the name is the sorted label set */
        assert_string_equal(trace_reader_node_member(r, 0, 0), "{job=\"a\",limit=\"0.5\"}");
        /* a: 0.9 clamped to 0.5; b: +Inf missing (nothing to carry); then a's -1 is missing */
        assert_true(fabs(rd.nodes[0].usage[0] - 0.5) < 1e-12);
        assert_true(fabs(rd.nodes[0].usage[1] - 0.25) < 1e-12);
        assert_true(fabs(rd.nodes[1].usage[0] - 0.1) < 1e-12);
        assert_int_equal(rd.stats.values_clamped, 1);
        assert_int_equal(rd.stats.values_not_finite, 1);
        assert_int_equal(rd.stats.values_negative, 1);
        trace_reader_free(r);
}

static void test_bad_exports_name_the_field(void **state) {
        (void) state;
        static const struct {
                const char *json, *want;
        } cases[] = {
                { "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid parameter \\\"query\\\"\"}",
                  "Prometheus reported error: bad_data: invalid parameter" },
                { "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}", "expected \"matrix\"" },
                { "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}", "no series" },
                { "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"limit\":\"1\"},"
                  "\"values\":[[60,\"1\"],[60,\"1\"]]}]}}", "data.result[0].values[1]: time 60.000 not after" },
                { "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"limit\":\"1\"},"
                  "\"values\":[[60,\"nan\"]]}]}}", "data.result[0].values[0][1]: expected a number" },
                { "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"limit\":\"1\"},"
                  "\"values\":[[\"60\",\"1\"]]}]}}", "data.result[0].values[0]: expected [unix time" },
                { "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"limit\":\"0\"},"
                  "\"values\":[[60,\"1\"]]}]}}", "data.result[0].metric.limit: expected cores > 0" },
                { "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"limit\":\"1e308\"},"
                  "\"values\":[[60,\"1e308\"]]},{\"metric\":{\"limit\":\"1e308\"},\"values\":[[60,\"1e308\"]]}]}}",
                  "data.result[0].metric.limit: expected cores > 0 and <= 1e+06" },
                { "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"pod\":7},"
                  "\"values\":[]}]}}", "data.result[0].metric.pod: expected a string" },
                { "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"pod\":\"p\"},"
                  "\"values\":[[60,\"1\"]]}]}}", "1 without a 'limit' label" },
                { "{\"status\":\"success\",", "line 1 column" },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                static Read rd;
                TraceOptions o;
                ColoError err = {};
                trace_options_init_defaults(&o);
                o.format = TRACE_FORMAT_PROMETHEUS;
                int k = read_text(cases[i].json, &o, &rd, &err);
                if (k >= 0 || !strstr(err.msg, cases[i].want) || !strstr(err.msg, "export.json"))
                        fail_msg("case %zu: got %d '%s', want '%s'", i, k, err.msg, cases[i].want);
                assert_int_equal(rd.nodes[0].n, 0);     /* nothing handed out before the error */
        }
}

static void test_limits_file(void **state) {
        (void) state;
        TraceLimits *l = NULL;
        ColoError err = {};
        static const char good[] = "# comment\n\nweb-1,2\r\ndb,0.5\n";
        assert_int_equal(trace_limits_parse(good, strlen(good), "limits.csv", &l, &err), 0);
        assert_int_equal(trace_limits_count(l), 2);
        assert_true(trace_limits_get(l, "web-1") == 2.0);
        assert_true(trace_limits_get(l, "db") == 0.5);
        assert_true(isnan(trace_limits_get(l, "other")));
        l = trace_limits_free(l);
        static const struct {
                const char *text, *want;
        } bad[] = {
                { "a,1\nb\n", "line 2: expected workload,cores" },
                { "a,0\n", "line 1: cores: expected a number > 0 and <= 1e+06, got '0'" },
                { "a,1e308\n", "line 1: cores: expected a number > 0 and <= 1e+06" },
                { "a,1\n#\na,2\n", "line 3: workload 'a' given twice" },
                { ",1\n", "line 1: expected workload,cores" },
                { "a,nan\n", "line 1: cores" },
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(trace_limits_parse(bad[i].text, strlen(bad[i].text), "limits.csv", &l, &err), -EINVAL);
                if (!strstr(err.msg, bad[i].want) || !strstr(err.msg, "limits.csv"))
                        fail_msg("case %zu: '%s', want '%s'", i, err.msg, bad[i].want);
                assert_null(l);
        }
        assert_int_equal(trace_limits_load("/nonexistent/limits.csv", &l, &err), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_captured_export_from_a_real_prometheus),
                cmocka_unit_test(test_nan_gap_and_end_by_hand),
                cmocka_unit_test(test_unlabeled_series_are_packed_and_clamped),
                cmocka_unit_test(test_bad_exports_name_the_field),
                cmocka_unit_test(test_limits_file),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
