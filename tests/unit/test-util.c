/* Unit tests of src/lib/util and src/lib/model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/workload.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/macro.h"
#include "util/prom-histogram.h"

static void test_parse_u64_rejects_garbage(void **state) {
        (void) state;
        uint64_t v = 7;
        assert_int_equal(parse_u64("42\n", &v), 0);
        assert_int_equal(v, 42);
        assert_true(parse_u64("", &v) < 0);
        assert_true(parse_u64("-1", &v) < 0);
        assert_true(parse_u64("12abc", &v) < 0);
        assert_true(parse_u64("99999999999999999999999", &v) < 0);
        assert_int_equal(v, 42);
}

static void test_parse_double_rejects_nan(void **state) {
        (void) state;
        double d = 0;
        assert_int_equal(parse_double("0.25", &d), 0);
        assert_true(d == 0.25);
        assert_true(parse_double("nan", &d) < 0);
        assert_true(parse_double("1e999", &d) < 0);
}

static void test_error_wrap_prefixes_context(void **state) {
        (void) state;
        ColoError err = {};
        assert_int_equal(colo_error_set(&err, ENOENT, "open '%s'", "x"), -ENOENT);
        assert_int_equal(colo_error_wrap(&err, "load config"), -ENOENT);
        assert_string_equal(err.msg, "load config: open 'x': No such file or directory");
}

static void test_write_file_atomic_replaces(void **state) {
        (void) state;
        char dir[] = "/tmp/colo-test-util-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char path[256];
        snprintf(path, sizeof(path), "%s/f", dir);
        ColoError err = {};
        assert_int_equal(write_file_atomic(path, "one", 3, 0600, &err), 0);
        assert_int_equal(write_file_atomic(path, "two!", 4, 0600, &err), 0);
        char *buf = NULL;
        size_t n = 0;
        assert_int_equal(read_full_file(path, 1024, &buf, &n, &err), 0);
        assert_int_equal(n, 4);
        assert_string_equal(buf, "two!");
        free(buf);
        unlink(path);
        rmdir(dir);
}

static void test_tiers_belong_to_classes(void **state) {
        (void) state;
        assert_int_equal(workload_tier_class(TIER_CRITICAL), CLASS_ONLINE);
        assert_int_equal(workload_tier_class(TIER_BEST_EFFORT), CLASS_OFFLINE);
        assert_int_equal(workload_tier_from_string("best-effort"), TIER_BEST_EFFORT);
        assert_int_equal(workload_class_from_string("bogus"), _CLASS_INVALID);
        assert_true(workload_name_is_valid("web-1.a_b"));
        assert_false(workload_name_is_valid(".."));
        assert_false(workload_name_is_valid("a/b"));
        assert_false(workload_name_is_valid(""));
}

/* Values land in the first bucket whose bound is >= the value; le lines are cumulative; the
 * +Inf bucket (count) holds everything; NaN is not counted at all. */
static void test_prom_histogram_buckets(void **state) {
        (void) state;
        static const double bounds[] = { 0.001, 0.01, 0.1 };
        static const struct {
                double v;
                uint64_t want[3], count;
        } steps[] = {
                { 0.0005, { 1, 1, 1 }, 1 },
                { 0.001, { 2, 2, 2 }, 2 },      /* on a bound: that bucket (le is <=) */
                { 0.05, { 2, 2, 3 }, 3 },
                { 7.0, { 2, 2, 3 }, 4 },        /* above every bound: only +Inf */
                { NAN, { 2, 2, 3 }, 4 },
        };
        PromHistogram h;
        prom_histogram_init(&h, bounds, ELEMENTSOF(bounds));
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                prom_histogram_observe(&h, steps[i].v);
                for (size_t b = 0; b < 3; b++)
                        assert_int_equal(prom_histogram_cumulative(&h, b), steps[i].want[b]);
                assert_int_equal(h.count, steps[i].count);
        }
        assert_true(fabs(h.sum - (0.0005 + 0.001 + 0.05 + 7.0)) < 1e-12);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_u64_rejects_garbage),
                cmocka_unit_test(test_parse_double_rejects_nan),
                cmocka_unit_test(test_error_wrap_prefixes_context),
                cmocka_unit_test(test_write_file_atomic_replaces),
                cmocka_unit_test(test_tiers_belong_to_classes),
                cmocka_unit_test(test_prom_histogram_buckets),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
