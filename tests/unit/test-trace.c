/* Unit tests of src/lib/trace: the Azure and Alibaba readers against small fixtures cut from the
 * real traces (tests/fixtures/traces/README.md), with values computed by hand from the rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/trace.h"

#define MAX_NODES 4
#define MAX_SAMPLES 64

typedef struct Series {
        size_t n;
        uint64_t t_sec[MAX_SAMPLES];
        double usage[MAX_SAMPLES];
        double limit;
} Series;

typedef struct Collected {
        size_t n_nodes;
        Series nodes[MAX_NODES];
        TraceStats stats;
        TraceFormat format;
        char names[MAX_NODES][32];
} Collected;

static const char *fixture(const char *name) {
        static char path[4096];
        const char *dir = getenv("COLO_TEST_FIXTURES");
        snprintf(path, sizeof(path), "%s/traces/%s", dir ? dir : "tests/fixtures", name);
        return path;
}

static int collect_reader(TraceReader *r, Collected *c, ColoError *err) {
        TraceSample s;
        int k;
        memset(c, 0, sizeof(*c));
        while ((k = trace_reader_next(r, &s, err)) > 0) {
                assert_true(s.node < MAX_NODES);
                Series *ser = &c->nodes[s.node];
                assert_true(ser->n < MAX_SAMPLES);
                assert_true(s.t_usec % 1000000 == 0);
                /* Each node's samples strictly increase in time. */
                if (ser->n > 0)
                        assert_true(s.t_usec / 1000000 > ser->t_sec[ser->n - 1]);
                ser->t_sec[ser->n] = s.t_usec / 1000000;
                ser->usage[ser->n++] = s.usage;
                ser->limit = s.limit;
        }
        c->n_nodes = trace_reader_n_nodes(r);
        c->stats = *trace_reader_stats(r);
        c->format = trace_reader_format(r);
        for (size_t i = 0; i < c->n_nodes && i < MAX_NODES; i++)
                snprintf(c->names[i], sizeof(c->names[i]), "%s", trace_reader_node_name(r, i));
        return k;
}

static int collect_file(const char *name, const TraceOptions *o, Collected *c, ColoError *err) {
        TraceReader *r = NULL;
        int k = trace_reader_open(fixture(name), o, &r, err);
        if (k < 0)
                return k;
        k = collect_reader(r, c, err);
        trace_reader_free(r);
        return k;
}

static int collect_text(const char *text, const TraceOptions *o, Collected *c, ColoError *err) {
        TraceReader *r = NULL;
        int k = trace_reader_open_buffer(text, strlen(text), "buffer", o, &r, err);
        assert_int_equal(k, 0);
        k = collect_reader(r, c, err);
        trace_reader_free(r);
        return k;
}

static void assert_series(const Series *s, size_t n, const uint64_t *t, const double *usage) {
        assert_int_equal(s->n, n);
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(s->t_sec[i], t[i]);
                assert_true(fabs(s->usage[i] - usage[i]) < 1e-12);
        }
}

static TraceOptions options(size_t node_size) {
        TraceOptions o;
        trace_options_init_defaults(&o);
        o.node_size = node_size;
        return o;
}

static void test_azure_packs_vms_into_nodes_in_order_of_appearance(void **state) {
        (void) state;
        TraceOptions o = options(5);
        Collected c;
        ColoError err = {};
        assert_int_equal(collect_file("azure_small.csv", &o, &c, &err), 0);
        assert_int_equal(c.format, TRACE_FORMAT_AZURE);
        assert_int_equal(c.n_nodes, 2);
        assert_string_equal(c.names[0], "node0");
        assert_int_equal(c.stats.rows, 48);
        assert_int_equal(c.stats.sources, 12);
        assert_int_equal(c.stats.sources_dropped, 2);
        assert_int_equal(trace_stats_malformed_total(&c.stats), 0);

        /* node0 = the first five VMs of the file; max cpu / 100 summed; limit 5 x 1.0. */
        const uint64_t t[] = { 0, 300, 600, 900 };
        const double node0[] = {
                (71.889037 + 9.102524 + 10.163622 + 8.68892 + 9.354582) / 100,
                (84.010293 + 8.729906 + 7.615133 + 7.842974000000001 + 11.338313000000001) / 100,
                (74.952156 + 8.265178 + 21.611304999999998 + 7.702802 + 9.587763) / 100,
                (63.421149 + 8.914125 + 12.44817 + 23.868835 + 10.378461) / 100,
        };
        const double node1[] = {
                (0.538331 + 17.654826 + 33.538219 + 17.798762 + 23.436874) / 100,
                (0.557212 + 4.666572 + 71.46763299999999 + 17.141964 + 22.860373000000003) / 100,
                (0.526878 + 4.171748 + 38.028256 + 12.428703 + 23.970104) / 100,
                (0.533269 + 4.016387 + 35.577651 + 47.036374 + 23.014246) / 100,
        };
        assert_series(&c.nodes[0], 4, t, node0);
        assert_series(&c.nodes[1], 4, t, node1);
        assert_true(c.nodes[0].limit == 5.0);
}

static void test_azure_drops_the_incomplete_last_node(void **state) {
        (void) state;
        TraceOptions o = options(10);
        Collected c;
        ColoError err = {};
        assert_int_equal(collect_file("azure_small.csv", &o, &c, &err), 0);
        assert_int_equal(c.n_nodes, 1);
        assert_int_equal(c.stats.sources_dropped, 2);
        assert_int_equal(c.nodes[0].n, 4);
        assert_true(c.nodes[0].limit == 10.0);

        TraceReader *r = NULL;
        assert_int_equal(trace_reader_open(fixture("azure_small.csv"), &o, &r, &err), 0);
        assert_true(trace_reader_drain(r, &err) == 4);
        assert_string_equal(trace_reader_node_member(r, 0, 0), "vm1633748");
        assert_string_equal(trace_reader_node_member(r, 0, 9), "vm633346");
        assert_null(trace_reader_node_member(r, 0, 10));
        assert_null(trace_reader_node_member(r, 1, 0));
        trace_reader_free(r);
}

static void test_azure_fewer_vms_than_one_node_is_an_error(void **state) {
        (void) state;
        TraceOptions o = options(13);
        Collected c;
        ColoError err = {};
        assert_int_equal(collect_file("azure_small.csv", &o, &c, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "azure_small.csv"));
        assert_non_null(strstr(err.msg, "12 VMs, fewer than one node of 13"));
}

static void test_azure_signal_avg_reads_the_average_column(void **state) {
        (void) state;
        TraceOptions o = options(5);
        o.signal = TRACE_SIGNAL_AVG;
        Collected c;
        ColoError err = {};
        assert_int_equal(collect_file("azure_small.csv", &o, &c, &err), 0);
        assert_true(fabs(c.nodes[0].usage[0] -
                         (44.459092 + 5.860568 + 6.60502 + 6.7211929999999995 + 3.374396) / 100) < 1e-12);
}

static void test_gzip_and_plain_give_identical_samples(void **state) {
        (void) state;
        static const char *const names[][2] = {
                { "azure_small.csv", "azure_small.csv.gz" },
                { "alibaba_small.csv", "alibaba_small.csv.gz" },
        };
        for (size_t i = 0; i < 2; i++) {
                TraceOptions o = options(5);
                Collected *plain = calloc(1, sizeof(Collected)), *gz = calloc(1, sizeof(Collected));
                ColoError err = {};
                assert_int_equal(collect_file(names[i][0], &o, plain, &err), 0);
                assert_int_equal(collect_file(names[i][1], &o, gz, &err), 0);
                assert_true(plain->n_nodes > 0);
                assert_memory_equal(plain->nodes, gz->nodes, sizeof(plain->nodes));
                assert_memory_equal(&plain->stats, &gz->stats, sizeof(plain->stats));
                free(plain);
                free(gz);
        }
}

static void test_azure_malformed_rows_are_counted_by_kind_with_lines(void **state) {
        (void) state;
        TraceOptions o = options(5);
        Collected c;
        ColoError err = {};
        assert_int_equal(collect_file("azure_malformed.csv", &o, &c, &err), 0);
        assert_int_equal(c.stats.lines, 57);
        assert_int_equal(c.stats.rows, 47);
        static const struct {
                TraceRowError kind;
                uint64_t count, first_line;
        } want[] = {
                { TRACE_ROW_FIELD_COUNT, 1, 3 },   { TRACE_ROW_BLANK, 1, 4 },
                { TRACE_ROW_EMPTY_VALUE, 1, 16 },  { TRACE_ROW_BAD_TIMESTAMP, 1, 28 },
                { TRACE_ROW_BAD_ID, 1, 29 },       { TRACE_ROW_DUPLICATE, 1, 31 },
                { TRACE_ROW_BAD_NUMBER, 2, 35 },   { TRACE_ROW_OUT_OF_RANGE, 1, 36 },
                { TRACE_ROW_OUT_OF_ORDER, 1, 45 },
        };
        uint64_t total = 0;
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
                assert_int_equal(c.stats.malformed[want[i].kind], want[i].count);
                assert_int_equal(c.stats.first_line[want[i].kind], want[i].first_line);
                total += want[i].count;
        }
        assert_int_equal(trace_stats_malformed_total(&c.stats), total);

        /* The clean rows give the same values as the clean file; vm1942922's missing reading at
         * 900 carries its 600 value (4.171748) forward. */
        assert_int_equal(c.n_nodes, 2);
        assert_int_equal(c.stats.vm_readings_carried, 1);
        assert_int_equal(c.stats.vm_readings_absent, 0);
        assert_true(fabs(c.nodes[0].usage[1] -
                         (84.010293 + 8.729906 + 7.615133 + 7.842974000000001 + 11.338313000000001) / 100) < 1e-12);
        assert_true(fabs(c.nodes[1].usage[3] - (0.533269 + 4.171748 + 35.577651 + 47.036374 + 23.014246) / 100) <
                    1e-12);
}

static void test_all_malformed_file_is_an_error_naming_file_and_line(void **state) {
        (void) state;
        TraceOptions o = options(10);
        Collected c;
        ColoError err = {};
        assert_int_equal(collect_file("all_malformed.csv", &o, &c, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "all_malformed.csv"));
        assert_non_null(strstr(err.msg, "no valid azure row in 5 lines"));
        assert_non_null(strstr(err.msg, "line 1: bad timestamp"));

        assert_int_equal(collect_text("", &o, &c, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "empty file"));
}

static void test_missing_and_truncated_files_are_errors(void **state) {
        (void) state;
        TraceOptions o = options(5);
        Collected c;
        ColoError err = {};
        assert_int_equal(collect_file("no-such-trace.csv", &o, &c, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "no-such-trace.csv"));

        assert_int_equal(collect_file("azure_truncated.csv.gz", &o, &c, &err), -EIO);
        assert_non_null(strstr(err.msg, "azure_truncated.csv.gz': line "));
}

/* Alibaba usage is in cores: cpu_util_percent / 100 x the machine's cores (96 unless told). */
#define C TRACE_ALIBABA_MACHINE_CORES

static void test_alibaba_resamples_to_the_max_per_step_and_handles_gaps(void **state) {
        (void) state;
        TraceOptions o = options(10);
        Collected c;
        ColoError err = {};
        assert_int_equal(collect_file("alibaba_small.csv", &o, &c, &err), 0);
        assert_int_equal(c.format, TRACE_FORMAT_ALIBABA);
        assert_int_equal(c.n_nodes, 2);
        assert_string_equal(c.names[0], "m_1932");
        assert_string_equal(c.names[1], "m_1933");
        assert_int_equal(c.stats.rows, 45);
        assert_int_equal(c.stats.sources, 2);
        assert_true(c.nodes[0].limit == 96.0);

        /* m_1932: steps (t-300, t]; 551100 has no reading and is filled with 550800's value. */
        const uint64_t t0[] = { 550200, 550500, 550800, 551100, 551400, 551700 };
        const double u0[] = { 0.57 * C, 0.61 * C, 0.54 * C, 0.54 * C, 0.63 * C, 0.65 * C };
        assert_series(&c.nodes[0], 6, t0, u0);
        /* m_1933: 5790 -> 7370 leaves 6300..7200 empty, 4 steps > max gap 3: skipped. */
        const uint64_t t1[] = { 5100, 5400, 5700, 6000, 7500, 7800, 8100 };
        const double u1[] = { 0.05 * C, 0.06 * C, 0.05 * C, 0.04 * C, 0.07 * C, 0.05 * C, 0.05 * C };
        assert_series(&c.nodes[1], 7, t1, u1);
        assert_int_equal(c.stats.gap_steps_filled, 1);
        assert_int_equal(c.stats.gap_steps_skipped, 4);
        assert_int_equal(c.stats.series_breaks, 1);

        /* With a max gap of 4 steps the long gap is filled too. */
        o.max_gap_steps = 4;
        assert_int_equal(collect_file("alibaba_small.csv", &o, &c, &err), 0);
        assert_int_equal(c.nodes[1].n, 11);
        assert_int_equal(c.stats.gap_steps_filled, 5);
        assert_int_equal(c.stats.series_breaks, 0);
        assert_true(fabs(c.nodes[1].usage[4] - 0.04 * C) < 1e-12 && c.nodes[1].t_sec[4] == 6300);
}

static void test_alibaba_invalid_markers_and_empty_fields(void **state) {
        (void) state;
        TraceOptions o = options(10);
        Collected c;
        ColoError err = {};
        assert_int_equal(collect_file("alibaba_malformed.csv", &o, &c, &err), 0);
        assert_int_equal(c.stats.lines, 21);
        assert_int_equal(c.stats.rows, 12);
        static const struct {
                TraceRowError kind;
                uint64_t count, first_line;
        } want[] = {
                { TRACE_ROW_INVALID_MARKER, 2, 3 }, { TRACE_ROW_EMPTY_VALUE, 1, 7 },
                { TRACE_ROW_FIELD_COUNT, 1, 10 },   { TRACE_ROW_BAD_ID, 1, 11 },
                { TRACE_ROW_BAD_TIMESTAMP, 1, 12 }, { TRACE_ROW_OUT_OF_ORDER, 1, 15 },
                { TRACE_ROW_OUT_OF_RANGE, 1, 16 },  { TRACE_ROW_BAD_NUMBER, 1, 17 },
        };
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
                assert_int_equal(c.stats.malformed[want[i].kind], want[i].count);
                assert_int_equal(c.stats.first_line[want[i].kind], want[i].first_line);
        }
        assert_int_equal(trace_stats_malformed_total(&c.stats), 9);
        /* Empty mem_gps and mkpi fields are fine: only the cpu field is read. */
        const uint64_t t[] = { 2700, 3000, 3300, 3600 };
        const double u[] = { 0.35 * C, 0.27 * C, 0.40 * C, 0.34 * C };
        assert_series(&c.nodes[0], 4, t, u);
}

static void test_azure_vm_gone_longer_than_max_gap_counts_as_zero(void **state) {
        (void) state;
        TraceOptions o = options(2);
        o.max_gap_steps = 1;
        Collected c;
        ColoError err = {};
        assert_int_equal(collect_text("0,a,,10,5\n0,b,,20,5\n"
                                      "300,a,,30,5\n"
                                      "600,a,,40,5\n"
                                      "900,a,,50,5\n900,b,,60,5\n",
                                      &o, &c, &err),
                         0);
        const uint64_t t[] = { 0, 300, 600, 900 };
        const double u[] = { 0.30, 0.30 + 0.20, 0.40, 1.10 };
        assert_series(&c.nodes[0], 4, t, u);
        assert_int_equal(c.stats.vm_readings_carried, 1);
        assert_int_equal(c.stats.vm_readings_absent, 1);
}

static void test_azure_node_starts_when_its_last_vm_appears(void **state) {
        (void) state;
        TraceOptions o = options(2);
        Collected c;
        ColoError err = {};
        assert_int_equal(collect_text("0,a,,10,5\n0,b,,20,5\n0,c,,1,1\n"
                                      "300,a,,30,5\n300,b,,40,5\n300,c,,2,2\n300,d,,3,3\n"
                                      "600,a,,50,5\n600,b,,60,5\n600,c,,4,4\n600,d,,5,5\n600,e,,7,7\n",
                                      &o, &c, &err),
                         0);
        assert_int_equal(c.n_nodes, 2);
        const uint64_t t0[] = { 0, 300, 600 }, t1[] = { 300, 600 };
        const double u0[] = { 0.30, 0.70, 1.10 }, u1[] = { 0.05, 0.09 };
        assert_series(&c.nodes[0], 3, t0, u0);
        assert_series(&c.nodes[1], 2, t1, u1);
        assert_int_equal(c.stats.sources_dropped, 1);
}

static void test_step_larger_than_interval_takes_the_max(void **state) {
        (void) state;
        TraceOptions o = options(5);
        o.step_sec = 600;
        Collected c;
        ColoError err = {};
        assert_int_equal(collect_file("azure_small.csv", &o, &c, &err), 0);
        /* Steps end at 0, 600 (the max of 300 and 600: 600's), 900 -> 1200. */
        const uint64_t t[] = { 0, 600, 1200 };
        const double u[] = {
                (71.889037 + 9.102524 + 10.163622 + 8.68892 + 9.354582) / 100,
                (74.952156 + 8.265178 + 21.611304999999998 + 7.702802 + 9.587763) / 100,
                (63.421149 + 8.914125 + 12.44817 + 23.868835 + 10.378461) / 100,
        };
        assert_series(&c.nodes[0], 3, t, u);
}

static void test_buffer_reader_handles_crlf_long_lines_and_forced_formats(void **state) {
        (void) state;
        TraceOptions o = options(1);
        Collected c;
        ColoError err = {};
        size_t n = 2 * TRACE_LINE_MAX;
        char *text = malloc(n + 64);
        memset(text, 'x', n);
        strcpy(text + n, "\n0,a,,50,5\r\n300,a,,25,5");
        assert_int_equal(collect_text(text, &o, &c, &err), 0);
        free(text);
        assert_int_equal(c.stats.malformed[TRACE_ROW_TOO_LONG], 1);
        assert_int_equal(c.stats.first_line[TRACE_ROW_TOO_LONG], 1);
        const uint64_t t[] = { 0, 300 };
        const double u[] = { 0.5, 0.25 };
        assert_series(&c.nodes[0], 2, t, u);

        /* Alibaba forced on an Azure file: every row has the wrong field count. */
        o.format = TRACE_FORMAT_ALIBABA;
        assert_int_equal(collect_file("azure_small.csv", &o, &c, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, "no valid alibaba row in 48 lines (first at line 1: wrong field count)"));
}

static void test_alibaba_interleaved_machines(void **state) {
        (void) state;
        TraceOptions o = options(1);
        o.step_sec = 60;
        Collected c;
        ColoError err = {};
        assert_int_equal(collect_text("m_1,10,50,,,,,,\nm_2,20,20,,,,,,\nm_1,70,40,,,,,,\nm_2,30,30,,,,,,\n", &o, &c,
                                      &err),
                         0);
        const uint64_t t0[] = { 60, 120 }, t1[] = { 60 };
        const double u0[] = { 0.5 * C, 0.4 * C }, u1[] = { 0.3 * C };
        assert_series(&c.nodes[0], 2, t0, u0);
        assert_series(&c.nodes[1], 1, t1, u1);

        /* Machines of 8 cores: the same readings, in cores of those. */
        o.machine_cores = 8;
        assert_int_equal(collect_text("m_1,10,50,,,,,,\nm_1,70,40,,,,,,\n", &o, &c, &err), 0);
        const double u8[] = { 4.0, 3.2 };
        assert_true(c.nodes[0].limit == 8.0);
        assert_series(&c.nodes[0], 2, t0, u8);
        /* Less than one core is refused before anything is read. */
        o.machine_cores = 0.5;
        TraceReader *r = NULL;
        assert_int_equal(trace_reader_open_buffer("m_1,10,50,,,,,,\n", 16, "buffer", &o, &r, &err), -EINVAL);
        assert_null(r);
        assert_non_null(strstr(err.msg, "machine cores 0.5"));

        /* The mem signal reads mem_util_percent, in units of the machine's memory (limit 1). */
        o.machine_cores = 8;
        o.signal = TRACE_SIGNAL_MEM;
        assert_int_equal(trace_reader_open_buffer("m_1,10,50,,,,,,\n", 16, "buffer", &o, &r, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "signal mem needs format alibaba"));
        o.format = TRACE_FORMAT_ALIBABA;
        assert_int_equal(collect_text("m_1,10,50,70,,,,,\nm_1,70,40,,,,,,\nm_1,80,40,101,,,,,\nm_1,130,40,65,,,,,\n",
                                      &o, &c, &err),
                         0);
        /* 60: 0.7; 120 has no valid reading (empty, marker) and is filled; 180: 0.65 */
        const uint64_t tm[] = { 60, 120, 180 };
        const double um[] = { 0.7, 0.7, 0.65 };
        assert_true(c.nodes[0].limit == 1.0);
        assert_series(&c.nodes[0], 3, tm, um);
        assert_int_equal(c.stats.malformed[TRACE_ROW_EMPTY_VALUE], 1);
        assert_int_equal(c.stats.malformed[TRACE_ROW_INVALID_MARKER], 1);
}

#undef C

static void test_option_and_name_conversions(void **state) {
        (void) state;
        assert_int_equal(trace_format_from_string("alibaba"), TRACE_FORMAT_ALIBABA);
        assert_int_equal(trace_format_from_string("csv"), _TRACE_FORMAT_INVALID);
        assert_string_equal(trace_format_to_string(TRACE_FORMAT_AZURE), "azure");
        assert_int_equal(trace_signal_from_string("avg"), TRACE_SIGNAL_AVG);
        assert_int_equal(trace_signal_from_string("min"), _TRACE_SIGNAL_INVALID);
        assert_string_equal(trace_row_error_to_string(TRACE_ROW_INVALID_MARKER), "invalid marker (-1 or 101)");

        TraceOptions o = options(0);
        TraceReader *r = NULL;
        ColoError err = {};
        assert_int_equal(trace_reader_open_buffer("", 0, "x", &o, &r, &err), -EINVAL);
        assert_null(r);
        o = options(10);
        o.step_sec = 0;
        assert_int_equal(trace_reader_open_buffer("", 0, "x", &o, &r, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "step"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_azure_packs_vms_into_nodes_in_order_of_appearance),
                cmocka_unit_test(test_azure_drops_the_incomplete_last_node),
                cmocka_unit_test(test_azure_fewer_vms_than_one_node_is_an_error),
                cmocka_unit_test(test_azure_signal_avg_reads_the_average_column),
                cmocka_unit_test(test_gzip_and_plain_give_identical_samples),
                cmocka_unit_test(test_azure_malformed_rows_are_counted_by_kind_with_lines),
                cmocka_unit_test(test_all_malformed_file_is_an_error_naming_file_and_line),
                cmocka_unit_test(test_missing_and_truncated_files_are_errors),
                cmocka_unit_test(test_alibaba_resamples_to_the_max_per_step_and_handles_gaps),
                cmocka_unit_test(test_alibaba_invalid_markers_and_empty_fields),
                cmocka_unit_test(test_azure_vm_gone_longer_than_max_gap_counts_as_zero),
                cmocka_unit_test(test_azure_node_starts_when_its_last_vm_appears),
                cmocka_unit_test(test_step_larger_than_interval_takes_the_max),
                cmocka_unit_test(test_buffer_reader_handles_crlf_long_lines_and_forced_formats),
                cmocka_unit_test(test_alibaba_interleaved_machines),
                cmocka_unit_test(test_option_and_name_conversions),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
