/* Unit tests of src/lib/util and src/lib/model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model/workload.h"
#include "util/error.h"
#include "util/failure-latch.h"
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

/* A FIFO (no writer) or a device is refused at once, naming the path; before, open() blocked
 * for good on the FIFO. */
static void test_read_full_file_refuses_fifos_and_devices(void **state) {
        (void) state;
        char dir[] = "/tmp/colo-test-util-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char fifo[PATH_MAX], link[PATH_MAX], file[PATH_MAX];
        snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
        snprintf(link, sizeof(link), "%s/link", dir);
        snprintf(file, sizeof(file), "%s/file", dir);
        assert_int_equal(mkfifo(fifo, 0600), 0);
        char *text = NULL;
        ColoError err = {};
        assert_int_equal(read_full_file(fifo, 1024, &text, NULL, &err), -EINVAL);
        assert_non_null(strstr(err.msg, fifo));
        assert_non_null(strstr(err.msg, "is a FIFO, not a regular file"));
        assert_int_equal(read_full_file("/dev/null", 1024, &text, NULL, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "'/dev/null' is a character device"));
        assert_int_equal(read_full_file(dir, 1024, &text, NULL, &err), -EISDIR);
        assert_null(text);

        assert_int_equal(write_file_atomic(file, "ok\n", 3, 0600, &err), 0);
        assert_int_equal(symlink(file, link), 0);
        assert_int_equal(read_full_file(link, 1024, &text, NULL, &err), 0);       /* links are followed... */
        assert_string_equal(text, "ok\n");
        free(text);
        text = NULL;
        assert_int_equal(read_full_file_flags(link, O_NOFOLLOW, 1024, &text, NULL, &err), -ELOOP);  /* ...unless not */
        assert_non_null(strstr(err.msg, "is a symbolic link"));
        assert_null(text);
        assert_int_equal(unlink(fifo), 0);
        assert_int_equal(unlink(link), 0);
        assert_int_equal(unlink(file), 0);
        assert_int_equal(rmdir(dir), 0);
}

static pid_t dead_pid(void) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(0);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        return pid;
}

/* Only "<base>.tmp.<pid>" of writers no longer alive go; everything else stays. */
static void test_stale_temp_files_of_dead_writers_are_removed(void **state) {
        (void) state;
        char dir[] = "/tmp/colo-test-util-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char path[PATH_MAX], p[PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s/profiles.ckpt", dir);
        pid_t dead = dead_pid();
        const struct {
                char name[64];
                bool removed;
        } files[] = {
                { "", false },                          /* the checkpoint itself (filled in below) */
                { "profiles.ckpt.tmp.%d", true },       /* a dead writer's */
                { "profiles.ckpt.tmp.1", false },       /* init is alive */
                { "profiles.ckpt.tmp.self", false },    /* ours (filled in below) */
                { "other.tmp.%d", false },              /* not this file's */
                { "profiles.ckpt.tmp.x%d", false },
                { "profiles.ckpt.tmp.0%d", false },
                { "profiles.ckpt.tmp.", false },
        };
        char names[8][80];
        for (size_t i = 0; i < 8; i++) {
                if (i == 0)
                        snprintf(names[i], sizeof(names[i]), "profiles.ckpt");
                else if (i == 3)
                        snprintf(names[i], sizeof(names[i]), "profiles.ckpt.tmp.%d", (int) getpid());
                else
                        snprintf(names[i], sizeof(names[i]), files[i].name, (int) dead);
                snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
                ColoError err = {};
                assert_int_equal(write_file_atomic(p, "x", 1, 0600, &err), 0);
        }
        ColoError err = {};
        assert_int_equal(remove_stale_temp_files(path, &err), 1);
        for (size_t i = 0; i < 8; i++) {
                snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
                assert_int_equal(access(p, F_OK) == 0, !files[i].removed);
                (void) unlink(p);
        }
        assert_int_equal(remove_stale_temp_files(path, &err), 0);
        assert_int_equal(rmdir(dir), 0);
        snprintf(p, sizeof(p), "%s/x", dir);
        assert_int_equal(remove_stale_temp_files(p, &err), -ENOENT);
        assert_non_null(strstr(err.msg, dir));
}

/* Ten failing periods report once; the recovery reports once, with the count. */
static void test_failure_latch_reports_the_edges_only(void **state) {
        (void) state;
        FailureLatch l = {};
        assert_int_equal(failure_latch_update(&l, false), FAILURE_LATCH_QUIET);
        assert_int_equal(failure_latch_update(&l, true), FAILURE_LATCH_FAILED);
        for (int i = 0; i < 9; i++)
                assert_int_equal(failure_latch_update(&l, true), FAILURE_LATCH_QUIET);
        assert_int_equal(failure_latch_update(&l, false), FAILURE_LATCH_RECOVERED);
        assert_int_equal(l.failures, 10);
        failure_latch_reset_count(&l);
        assert_int_equal(failure_latch_update(&l, false), FAILURE_LATCH_QUIET);
        assert_int_equal(failure_latch_update(&l, true), FAILURE_LATCH_FAILED);
        assert_int_equal(l.failures, 1);
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
                cmocka_unit_test(test_read_full_file_refuses_fifos_and_devices),
                cmocka_unit_test(test_stale_temp_files_of_dead_writers_are_removed),
                cmocka_unit_test(test_failure_latch_reports_the_edges_only),
                cmocka_unit_test(test_prom_histogram_buckets),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
