/* Unit tests of the benchmark library (bench/): the load generator's latency histogram and its
 * memcached text-protocol reply parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "latency-histogram.h"
#include "memcache-text.h"

static void test_histogram_small_values_are_exact(void **state) {
        (void) state;
        for (uint64_t v = 0; v < 2 * LATENCY_SUB_COUNT; v++) {
                assert_int_equal(latency_bucket_index(v), v);
                assert_int_equal(latency_bucket_highest(latency_bucket_index(v)), v);
        }
}

static void test_histogram_buckets_cover_every_value_within_one_percent(void **state) {
        (void) state;
        static const uint64_t samples[] = { 256, 257, 1000, 4095, 4096, 123456789, UINT64_C(1) << 40,
                                            (UINT64_C(1) << 63) + 12345, UINT64_MAX };
        for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
                uint64_t v = samples[i];
                unsigned idx = latency_bucket_index(v);
                assert_true(idx < LATENCY_BUCKETS);
                uint64_t hi = latency_bucket_highest(idx);
                assert_true(hi >= v);
                assert_true((long double) (hi - v) <= (long double) v / LATENCY_SUB_COUNT);
                /* The next bucket starts right after this one's highest value. */
                if (hi != UINT64_MAX)
                        assert_int_equal(latency_bucket_index(hi + 1), idx + 1);
        }
        assert_int_equal(latency_bucket_index(UINT64_MAX), LATENCY_BUCKETS - 1);
}

static void test_histogram_quantiles_of_uniform_values(void **state) {
        (void) state;
        LatencyHistogram *h = malloc(sizeof(*h));
        assert_non_null(h);
        latency_histogram_init(h);
        assert_int_equal(latency_histogram_quantile(h, 0.99), 0);
        for (uint64_t v = 1; v <= 100000; v++)
                latency_histogram_record(h, v * 1000);  /* 1 us .. 100 ms in ns */
        assert_int_equal(h->total, 100000);
        assert_int_equal(h->min, 1000);
        assert_int_equal(h->max, 100000000);
        uint64_t p50 = latency_histogram_quantile(h, 0.50), p99 = latency_histogram_quantile(h, 0.99);
        assert_true(p50 >= 50000000 && p50 <= 50000000 + 50000000 / LATENCY_SUB_COUNT);
        assert_true(p99 >= 99000000 && p99 <= 99000000 + 99000000 / LATENCY_SUB_COUNT);
        assert_int_equal(latency_histogram_quantile(h, 1.0), 100000000);
        assert_int_equal(latency_histogram_quantile(h, 0.0), 1000);
        assert_true(latency_histogram_mean(h) > 50000000 && latency_histogram_mean(h) < 50001000);
        free(h);
}

static void test_histogram_quantile_never_exceeds_max(void **state) {
        (void) state;
        LatencyHistogram *h = malloc(sizeof(*h));
        assert_non_null(h);
        latency_histogram_init(h);
        latency_histogram_record(h, 1000001);
        assert_int_equal(latency_histogram_quantile(h, 0.5), 1000001);
        free(h);
}

static void test_parse_reply_kinds(void **state) {
        (void) state;
        static const struct {
                const char *text;
                int used;
                McReplyKind kind;
        } cases[] = {
                { "END\r\n", 5, MC_REPLY_MISS },
                { "STORED\r\nEND\r\n", 8, MC_REPLY_STORED },
                { "NOT_STORED\r\n", 12, MC_REPLY_NOT_STORED },
                { "ERROR\r\n", 7, MC_REPLY_ERROR },
                { "SERVER_ERROR out of memory\r\n", 28, MC_REPLY_ERROR },
                { "VALUE k 0 3\r\nabc\r\nEND\r\n", 23, MC_REPLY_HIT },
                { "VALUE k 7 0 99\r\n\r\nEND\r\nEND\r\n", 23, MC_REPLY_HIT },
                { "VALUE a 0 1\r\nx\r\nVALUE bb 0 2\r\nyz\r\nEND\r\n", 39, MC_REPLY_HIT },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                McReplyKind kind = _MC_REPLY_KIND_MAX;
                assert_int_equal(mc_parse_reply(cases[i].text, strlen(cases[i].text), &kind), cases[i].used);
                assert_int_equal(kind, cases[i].kind);
        }
}

static void test_parse_reply_waits_for_partial_input(void **state) {
        (void) state;
        const char *full = "VALUE colo-bench:1 0 5\r\nhello\r\nVALUE colo-bench:2 0 3\r\nabc\r\nEND\r\n";
        McReplyKind kind;
        for (size_t n = 0; n < strlen(full); n++)
                assert_int_equal(mc_parse_reply(full, n, &kind), 0);
        assert_int_equal(mc_parse_reply(full, strlen(full), &kind), (int) strlen(full));
        assert_int_equal(kind, MC_REPLY_HIT);
}

static void test_parse_reply_rejects_garbage(void **state) {
        (void) state;
        static const char *bad[] = {
                "HELLO\r\n", "VALUE k 0\r\n", "VALUE k 0 3\r\nabcXXEND\r\n", "VALUE k 0 99999999999\r\n",
                "VALUE  0 3\r\nabc\r\nEND\r\n", "VALUE k 0 -1\r\n", "VALUE k 0 3 x\r\nabc\r\nEND\r\n",
                "VALUE k 4294967296 1\r\na\r\nEND\r\n", "VALUE a 0 1\r\nx\r\nSTORED\r\n",
                "VALUE a 0 1\r\nx\r\nVALUE b 0 1\r\nyy\r\nEND\r\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                McReplyKind kind;
                assert_int_equal(mc_parse_reply(bad[i], strlen(bad[i]), &kind), -EBADMSG);
        }
        /* A line that never ends is refused once it is longer than any valid reply line. */
        char *junk = malloc(4096);
        assert_non_null(junk);
        memset(junk, 'A', 4096);
        McReplyKind kind;
        assert_int_equal(mc_parse_reply(junk, 4096, &kind), -EBADMSG);
        assert_int_equal(mc_parse_reply(junk, 100, &kind), 0);
        free(junk);
}

static void test_format_requests(void **state) {
        (void) state;
        char buf[64];
        const char *one[] = { "k1" }, *two[] = { "k1", "key2" }, *bad[] = { "bad key" }, *empty[] = { "" };
        assert_int_equal(mc_format_get(buf, sizeof(buf), one, 1), 8);
        assert_memory_equal(buf, "get k1\r\n", 8);
        assert_int_equal(mc_format_get(buf, sizeof(buf), two, 2), 13);
        assert_memory_equal(buf, "get k1 key2\r\n", 13);
        assert_int_equal(mc_format_set(buf, sizeof(buf), "k1", "xyz", 3), 19);
        assert_memory_equal(buf, "set k1 0 0 3\r\nxyz\r\n", 19);
        assert_int_equal(mc_format_get(buf, sizeof(buf), bad, 1), -EINVAL);
        assert_int_equal(mc_format_get(buf, sizeof(buf), empty, 1), -EINVAL);
        assert_int_equal(mc_format_get(buf, sizeof(buf), one, 0), -EINVAL);
        assert_int_equal(mc_format_get(buf, 5, one, 1), -ENOBUFS);
        assert_int_equal(mc_format_set(buf, 16, "k1", "xyz", 3), -ENOBUFS);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_histogram_small_values_are_exact),
                cmocka_unit_test(test_histogram_buckets_cover_every_value_within_one_percent),
                cmocka_unit_test(test_histogram_quantiles_of_uniform_values),
                cmocka_unit_test(test_histogram_quantile_never_exceeds_max),
                cmocka_unit_test(test_parse_reply_kinds),
                cmocka_unit_test(test_parse_reply_waits_for_partial_input),
                cmocka_unit_test(test_parse_reply_rejects_garbage),
                cmocka_unit_test(test_format_requests),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
