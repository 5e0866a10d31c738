/* Unit tests of src/lib/collect: the pure parsers table-first, then collect_node() on a fixture
 * proc/sys tree under mkdtemp(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collect/collect.h"

static void test_parse_meminfo(void **state) {
        (void) state;
        uint64_t total = 0, avail = 0;
        assert_int_equal(collect_parse_meminfo("MemTotal:       24576000 kB\nMemFree:          100 kB\n"
                                               "MemAvailable:   12288000 kB\nBuffers:  1 kB\n",
                                               &total, &avail),
                         0);
        assert_int_equal(total, UINT64_C(24576000) * 1024);
        assert_int_equal(avail, UINT64_C(12288000) * 1024);
        /* Old kernels: MemFree + Buffers + Cached. */
        assert_int_equal(collect_parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 300 kB\n"
                                               "SwapCached: 5 kB\n",
                                               &total, &avail),
                         0);
        assert_int_equal(avail, 420 * 1024);
        static const char *const bad[] = {
                "", "MemFree: 1 kB\n", "MemTotal: x kB\n", "MemTotal: 10 MB\n", "MemTotal: 100 kB\nMemAvailable: -1 kB\n",
                "MemTotal: 99999999999999999999 kB\n", "MemTotal: 100 kB\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                total = avail = 7;
                assert_int_equal(collect_parse_meminfo(bad[i], &total, &avail), -EINVAL);
                assert_int_equal(total, 7);
        }
}

static void test_parse_cpu_list(void **state) {
        (void) state;
        static const struct {
                const char *text;
                int r;
                unsigned count;
        } cases[] = {
                { "0-1\n", 0, 2 }, { "0\n", 0, 1 }, { "0-3,8,10-11\n", 0, 7 }, { "5", 0, 1 }, { "", 0, 0 },
                { "3-1\n", -EINVAL, 0 }, { "0-\n", -EINVAL, 0 }, { "0,\n", -EINVAL, 0 }, { "a\n", -EINVAL, 0 },
                { "0 1\n", -EINVAL, 0 }, { "0\n1\n", -EINVAL, 0 }, { "99999999999\n", -EINVAL, 0 },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                unsigned n = 12345;
                assert_int_equal(collect_parse_cpu_list(cases[i].text, &n), cases[i].r);
                assert_int_equal(n, cases[i].r == 0 ? cases[i].count : 12345);
        }
}

static void test_cpu_cores_from_samples(void **state) {
        (void) state;
        CollectCpuSample a = { .usage_usec = 1000000, .wall_usec = 5000000 };
        CollectCpuSample b = { .usage_usec = 2500000, .wall_usec = 6000000 };
        assert_true(collect_cpu_cores(&a, &b) == 1.5);
        assert_true(collect_cpu_cores(&b, &a) == 0.0);         /* time went backwards */
        CollectCpuSample reset = { .usage_usec = 10, .wall_usec = 7000000 };
        assert_true(collect_cpu_cores(&b, &reset) == 0.0);     /* recreated group */
        assert_true(collect_cpu_cores(&a, &a) == 0.0);
}

static void put(const char *dir, const char *rel, const char *content) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", dir, rel);
        for (char *s = strchr(p + strlen(dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = '\0';
                (void) mkdir(p, 0755);
                *s = '/';
        }
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        return remove(p);
}

static void test_collect_node_from_fixture(void **state) {
        (void) state;
        char dir[] = "/tmp/colo-test-collect-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char proc[PATH_MAX], sys[PATH_MAX];
        snprintf(proc, sizeof(proc), "%s/proc", dir);
        snprintf(sys, sizeof(sys), "%s/sys", dir);
        put(dir, "proc/meminfo", "MemTotal:       2048 kB\nMemFree: 10 kB\nMemAvailable:   1024 kB\n");
        put(dir, "sys/devices/system/cpu/online", "0-7\n");
        put(dir, "proc/pressure/memory", "some avg10=5.00 avg60=1.00 avg300=0.00 total=10\n"
                                         "full avg10=1.00 avg60=0.00 avg300=0.00 total=3\n");
        CollectNode n;
        ColoError err = {};
        assert_int_equal(collect_node(proc, sys, &n, &err), 0);
        assert_int_equal(n.mem_total, 2048 * 1024);
        assert_int_equal(n.mem_available, 1024 * 1024);
        assert_int_equal(n.n_cpus, 8);
        assert_true(n.mem_pressure.valid && n.mem_pressure.some_avg10 == 5.0);
        assert_false(n.cpu_pressure.valid);

        put(dir, "sys/devices/system/cpu/online", "0-\n");
        assert_int_equal(collect_node(proc, sys, &n, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "cpu/online"));
        put(dir, "proc/meminfo", "nothing\n");
        assert_int_equal(collect_node(proc, sys, &n, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "meminfo"));
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_collect_node_on_this_machine(void **state) {
        (void) state;
        CollectNode n;
        ColoError err = {};
        assert_int_equal(collect_node(NULL, NULL, &n, &err), 0);
        assert_true(n.mem_total > 0 && n.mem_available <= n.mem_total);
        assert_true(n.n_cpus >= 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_meminfo),
                cmocka_unit_test(test_parse_cpu_list),
                cmocka_unit_test(test_cpu_cores_from_samples),
                cmocka_unit_test(test_collect_node_from_fixture),
                cmocka_unit_test(test_collect_node_on_this_machine),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
