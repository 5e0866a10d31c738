/* Unit tests of src/lib/k8s/resource-quantity: Kubernetes quantity parsing and formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "k8s/resource-quantity.h"
#include "util/macro.h"

static void test_quantity_parses_kubernetes_examples(void **state) {
        (void) state;
        static const struct {
                const char *text;
                unsigned scale;
                int64_t value;
        } cases[] = {
                { "500m", 3, 500 },
                { "2", 3, 2000 },
                { "1.5", 3, 1500 },
                { "0.1", 3, 100 },
                { ".5", 3, 500 },
                { "5.", 3, 5000 },
                { "+1", 3, 1000 },
                { "-0", 3, 0 },
                { "0", 0, 0 },
                { "0.0001", 3, 1 },             /* rounds up, like ScaledValue() */
                { "1n", 3, 1 },
                { "1u", 3, 1 },
                { "128Mi", 0, 134217728 },
                { "1.5Gi", 0, 1610612736 },
                { "1Ki", 0, 1024 },
                { "1k", 0, 1000 },
                { "1G", 0, 1000000000 },
                { "1e3", 0, 1000 },
                { "1E3", 0, 1000 },
                { "1e+3", 0, 1000 },
                { "15e-1", 0, 2 },              /* 1.5 bytes round up */
                { "1E", 0, 1000000000000000000 },
                { "7Ei", 0, 7 * (INT64_C(1) << 60) },
                { "0.5Ki", 0, 512 },
                { "1.000000000000000000000000000", 3, 1000 },  /* trailing zeros are not significant */
                { "00000000000000000000001", 0, 1 },
                { "9223372036854775807", 0, INT64_MAX },
                { "9223372036854775.807", 3, INT64_MAX },
                { "1e-1000", 3, 1 },
                { "0e999999", 0, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int64_t v = -42;
                int r = quantity_parse_scaled(cases[i].text, cases[i].scale, &v);
                if (r != 0 || v != cases[i].value)
                        fail_msg("'%s' (scale %u): r=%d value=%lld, want %lld", cases[i].text, cases[i].scale, r,
                                 (long long) v, (long long) cases[i].value);
        }
}

static void test_quantity_rejects_overflow_and_negatives(void **state) {
        (void) state;
        static const struct {
                const char *text;
                unsigned scale;
        } cases[] = {
                { "9223372036854775808", 0 }, { "9223372036854775807", 3 }, { "8Ei", 0 }, { "1e19", 0 },
                { "1e999999999", 0 },         { "-1", 0 },                  { "-500m", 3 }, { "12345678901234567890", 0 },
                { "1.0000000000000000001", 3 }, { "10000000000Gi", 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int64_t v = 7;
                int r = quantity_parse_scaled(cases[i].text, cases[i].scale, &v);
                if (r != -ERANGE || v != 7)
                        fail_msg("'%s': r=%d value=%lld, want -ERANGE and untouched", cases[i].text, r, (long long) v);
        }
}

static void test_quantity_rejects_bad_syntax(void **state) {
        (void) state;
        static const char *const cases[] = {
                "", "m", ".", "1.2.3", "1 ", " 1", "1mm", "1e", "1e+", "Ki", "1K", "1ki", "1Mii", "0x10",
                "NaN", "inf", "1.5.Gi", "--1", "1e3m", "1e3m3", "1Gi ", "e3", "1Gie3",
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int64_t v = 7;
                int r = quantity_parse_scaled(cases[i], 0, &v);
                if (r != -EINVAL || v != 7)
                        fail_msg("'%s': r=%d, want -EINVAL", cases[i], r);
        }
        int64_t v;
        assert_int_equal(quantity_parse_scaled(NULL, 0, &v), -EINVAL);
}

static void test_quantity_integer_refuses_fractions(void **state) {
        (void) state;
        int64_t v = 7;
        assert_int_equal(quantity_parse_integer("1000", &v), 0);
        assert_int_equal(v, 1000);
        assert_int_equal(quantity_parse_integer("1k", &v), 0);
        assert_int_equal(v, 1000);
        assert_int_equal(quantity_parse_integer("1E", &v), 0);          /* too large in millis, fine in units */
        assert_int_equal(v, 1000000000000000000);
        assert_int_equal(quantity_parse_integer("15e-1", &v), -EDOM);
        assert_int_equal(quantity_parse_integer("1500m", &v), -EDOM);
        assert_int_equal(quantity_parse_integer("1e-100", &v), -EDOM);
        assert_int_equal(quantity_parse_integer("2000m", &v), 0);
        assert_int_equal(v, 2);
        assert_int_equal(quantity_parse_integer("0.0", &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(quantity_parse_integer("x", &v), -EINVAL);
        assert_int_equal(quantity_parse_integer("-3", &v), -ERANGE);
        assert_int_equal(v, 0);
}

static void test_quantity_formats_canonically(void **state) {
        (void) state;
        char buf[32];
        assert_int_equal(quantity_format_milli(2000, buf, sizeof(buf)), 1);
        assert_string_equal(buf, "2");
        assert_true(quantity_format_milli(1500, buf, sizeof(buf)) > 0);
        assert_string_equal(buf, "1500m");
        assert_true(quantity_format_milli(0, buf, sizeof(buf)) > 0);
        assert_string_equal(buf, "0");
        assert_true(quantity_format_units(134217728, buf, sizeof(buf)) > 0);
        assert_string_equal(buf, "134217728");
        assert_int_equal(quantity_format_units(-1, buf, sizeof(buf)), -ERANGE);
        assert_int_equal(quantity_format_units(123456, buf, 4), -ENOBUFS);
        /* Whatever is formatted parses back to the same value. */
        static const int64_t values[] = { 0, 1, 999, 1000, 1001, 123456789, INT64_MAX / 1000 * 1000 };
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                int64_t back;
                assert_true(quantity_format_milli(values[i], buf, sizeof(buf)) > 0);
                assert_int_equal(quantity_parse_milli(buf, &back), 0);
                assert_int_equal(back, values[i]);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_quantity_parses_kubernetes_examples),
                cmocka_unit_test(test_quantity_rejects_overflow_and_negatives),
                cmocka_unit_test(test_quantity_rejects_bad_syntax),
                cmocka_unit_test(test_quantity_integer_refuses_fractions),
                cmocka_unit_test(test_quantity_formats_canonically),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
