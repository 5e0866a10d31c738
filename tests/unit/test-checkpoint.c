/* Unit tests of profile-set checkpoints: the round trip restores everything (predictor
 * calibration included), and corrupt, truncated, foreign or future checkpoints are rejected
 * without touching the loaded set; a failed save leaves the old file in place. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "predict/checkpoint.h"
#include "predict/profile-set.h"
#include "util/fileio.h"

#define MINUTE (60 * USEC_PER_SEC)
#define GIB (1024ull * 1024 * 1024)
#define T0 ((uint64_t) 1700000000 * USEC_PER_SEC)

static ProfileSet *new_set(const char *spec) {
        ProfileSetConfig cfg;
        profile_set_config_init_defaults(&cfg);
        cfg.predictor_spec = spec;
        ProfileSet *s = NULL;
        ColoError err = {};
        assert_int_equal(profile_set_new(&cfg, &s, &err), 0);
        return s;
}

/* A few hours of two workloads with a daily-ish wave, one with limits, one without. */
static void feed(ProfileSet *s, unsigned minutes) {
        for (unsigned m = 0; m < minutes; m++) {
                double wave = 1 + sin(m / 60.0);
                ProfileSample x[] = {
                        { .name = "web", .cpu = 0.5 * wave, .mem = (uint64_t) (wave * GIB), .cpu_limit = 2,
                          .mem_limit = 4 * GIB },
                        { .name = "cache", .cpu = 0.2 + 0.01 * (m % 7), .mem = 3 * GIB },
                };
                ColoError err = {};
                assert_int_equal(profile_set_observe(s, T0 + m * MINUTE, x, ELEMENTSOF(x), x[0].cpu + x[1].cpu,
                                                     x[0].mem + x[1].mem, &err),
                                 0);
        }
}

static void save_image(const ProfileSet *s, uint8_t **image, size_t *size) {
        ColoError err = {};
        assert_int_equal(profile_set_save_buffer(s, image, size, &err), 0);
        assert_true(*size > CHECKPOINT_HEADER_SIZE);
}

static void assert_same_estimate(ProfileSet *a, ProfileSet *b, uint64_t t) {
        ProfileEstimate x, y;
        profile_set_estimate(a, t, 16, 64 * GIB, &x);
        profile_set_estimate(b, t, 16, 64 * GIB, &y);
        assert_true(x.cpu_peak == y.cpu_peak);
        assert_true(x.mem_peak == y.mem_peak);
        assert_int_equal(x.n_young, y.n_young);
        assert_int_equal(x.n_workloads, y.n_workloads);
}

static void test_round_trip_restores_everything(void **state) {
        (void) state;
        static const char *const specs[] = { "colo", "max(nsigma,peak)", "koord", "borg" };
        for (size_t i = 0; i < ELEMENTSOF(specs); i++) {
                ProfileSet *a = new_set(specs[i]), *b = new_set(specs[i]);
                feed(a, 600);
                uint8_t *image = NULL, *again = NULL;
                size_t size = 0, size_again = 0;
                save_image(a, &image, &size);
                ColoError err = {};
                assert_int_equal(profile_set_load_buffer(b, image, size, &err), 0);
                save_image(b, &again, &size_again);
                assert_int_equal(size, size_again);
                assert_memory_equal(image, again, size);
                assert_int_equal(profile_set_workload_count(b), 2);
                ProfileWorkloadInfo wa, wb;
                assert_int_equal(profile_set_workload_info(a, 1, T0 + 600 * MINUTE, &wa), 0);
                assert_int_equal(profile_set_workload_info(b, 1, T0 + 600 * MINUTE, &wb), 0);
                assert_string_equal(wb.name, "web");
                assert_int_equal(wa.samples, wb.samples);
                assert_true(wa.cpu_p95 == wb.cpu_p95 && wa.mem_peak == wb.mem_peak);
                assert_same_estimate(a, b, T0 + 600 * MINUTE);
                /* both carry on identically: the calibration survived */
                feed(a, 30);
                feed(b, 30);
                assert_same_estimate(a, b, T0 + 630 * MINUTE);
                free(image);
                free(again);
                profile_set_free(a);
                profile_set_free(b);
        }
}

/* Loading img into a set with a known state fails with code and leaves the set as it was. */
static void assert_rejected(const uint8_t *img, size_t size, int code, const char *msg) {
        ProfileSet *s = new_set("colo");
        feed(s, 90);
        uint8_t *before = NULL, *after = NULL;
        size_t n_before = 0, n_after = 0;
        save_image(s, &before, &n_before);
        ColoError err = {};
        int r = profile_set_load_buffer(s, img, size, &err);
        if (r != code || (msg && !strstr(err.msg, msg))) {
                print_error("size %zu: got %d '%s', want %d '%s'\n", size, r, err.msg, code, msg ? msg : "");
                fail();
        }
        assert_true(err.msg[0] != '\0');
        save_image(s, &after, &n_after);
        assert_int_equal(n_before, n_after);
        assert_memory_equal(before, after, n_before);
        free(before);
        free(after);
        profile_set_free(s);
}

static void test_truncation_at_every_offset_is_rejected(void **state) {
        (void) state;
        ProfileSet *s = new_set("colo");
        feed(s, 300);
        uint8_t *image = NULL;
        size_t size = 0;
        save_image(s, &image, &size);
        ProfileSet *t = new_set("colo");
        for (size_t n = 0; n < size; n++) {
                /* a fresh copy of exactly n bytes, so ASan catches any read past it */
                uint8_t *cut = malloc(MAX(n, (size_t) 1));
                memcpy(cut, image, n);
                ColoError err = {};
                int r = profile_set_load_buffer(t, cut, n, &err);
                if (r != -EBADMSG) {
                        print_error("truncated to %zu of %zu bytes: got %d (%s)\n", n, size, r, err.msg);
                        fail();
                }
                free(cut);
        }
        assert_int_equal(profile_set_workload_count(t), 0);
        assert_rejected(image, size / 2, -EBADMSG, "truncated");
        free(image);
        profile_set_free(s);
        profile_set_free(t);
}

static void test_flipped_bytes_are_rejected(void **state) {
        (void) state;
        ProfileSet *s = new_set("colo");
        feed(s, 120);
        uint8_t *image = NULL;
        size_t size = 0;
        save_image(s, &image, &size);
        ProfileSet *t = new_set("colo");
        for (size_t i = 0; i < size; i += 1 + i / 64) {
                for (unsigned bit = 0; bit < 8; bit += 3) {
                        image[i] ^= (uint8_t) (1u << bit);
                        ColoError err = {};
                        int r = profile_set_load_buffer(t, image, size, &err);
                        if (r >= 0) {
                                print_error("flipped bit %u of byte %zu accepted\n", bit, i);
                                fail();
                        }
                        image[i] ^= (uint8_t) (1u << bit);
                }
        }
        image[size - 1] ^= 0x40;
        assert_rejected(image, size, -EBADMSG, "checksum");
        free(image);
        profile_set_free(s);
        profile_set_free(t);
}

static void test_foreign_and_future_checkpoints_are_rejected(void **state) {
        (void) state;
        ProfileSet *s = new_set("colo");
        feed(s, 60);
        uint8_t *image = NULL;
        size_t size = 0;
        save_image(s, &image, &size);

        uint8_t *foreign = malloc(size);
        memcpy(foreign, image, size);
        memcpy(foreign, "NOTCOLO!", 8);
        assert_rejected(foreign, size, -EBADMSG, "wrong magic");
        assert_rejected((const uint8_t *) "{\"json\": true}\n", 15, -EBADMSG, "wrong magic");
        assert_rejected((const uint8_t *) "", 0, -EBADMSG, "wrong magic");
        free(foreign);

        /* a well-formed image from a newer colo: right magic and CRC, version + 1 */
        const uint8_t *payload;
        size_t payload_size;
        uint32_t version;
        ColoError err = {};
        assert_int_equal(checkpoint_unwrap(image, size, PROFILE_SET_CHECKPOINT_VERSION, &version, &payload,
                                           &payload_size, &err),
                         0);
        assert_int_equal(version, PROFILE_SET_CHECKPOINT_VERSION);
        uint8_t *future = NULL;
        size_t future_size = 0;
        assert_int_equal(checkpoint_wrap(PROFILE_SET_CHECKPOINT_VERSION + 1, payload, payload_size, &future,
                                         &future_size),
                         0);
        assert_rejected(future, future_size, -EPROTONOSUPPORT, "unsupported checkpoint version");
        free(future);
        assert_int_equal(checkpoint_wrap(0, payload, payload_size, &future, &future_size), 0);
        assert_rejected(future, future_size, -EPROTONOSUPPORT, "version 0");
        free(future);

        /* well-formed, but the payload says nonsense: caught by the bounded reader */
        static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 'x' };
        assert_int_equal(checkpoint_wrap(PROFILE_SET_CHECKPOINT_VERSION, junk, sizeof(junk), &future, &future_size), 0);
        assert_rejected(future, future_size, -EBADMSG, "predictor spec length");
        free(future);

        /* written by an agent configured with another predictor */
        ProfileSet *other = new_set("koord");
        uint8_t *koord = NULL;
        size_t koord_size = 0;
        save_image(other, &koord, &koord_size);
        assert_rejected(koord, koord_size, -EBADMSG, "predictor 'koord', not 'colo'");
        free(koord);
        profile_set_free(other);
        free(image);
        profile_set_free(s);
}

/* A FIFO or a link at the checkpoint path: refused at once, naming the path (before: open()
 * blocked for good on the FIFO, even against SIGTERM). */
static void test_a_fifo_or_link_at_the_checkpoint_path_is_refused(void **state) {
        (void) state;
        char dir[] = "/tmp/colo-test-checkpoint-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char path[256], target[300];
        snprintf(path, sizeof(path), "%s/profiles", dir);
        snprintf(target, sizeof(target), "%s/elsewhere", dir);
        ColoError err = {};
        ProfileSet *a = new_set("colo");
        assert_int_equal(mkfifo(path, 0600), 0);
        assert_int_equal(profile_set_load(a, path, &err), -EINVAL);
        assert_non_null(strstr(err.msg, path));
        assert_non_null(strstr(err.msg, "a FIFO"));
        assert_int_equal(unlink(path), 0);

        feed(a, 120);
        assert_int_equal(profile_set_save(a, target, &err), 0);
        assert_int_equal(symlink(target, path), 0);
        ProfileSet *b = new_set("colo");
        assert_int_equal(profile_set_load(b, path, &err), -ELOOP);
        assert_non_null(strstr(err.msg, "symbolic link"));
        assert_int_equal(profile_set_workload_count(b), 0);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(unlink(target), 0);
        assert_int_equal(rmdir(dir), 0);
        profile_set_free(a);
        profile_set_free(b);
}

/* The next save is due an interval after the file's own last save, whenever the agent started:
 * before, every start waited a whole interval, so an agent restarted more often never saved. */
static void test_checkpoint_schedule_survives_restarts(void **state) {
        (void) state;
        const uint64_t I = 300 * USEC_PER_SEC, P = USEC_PER_SEC, now = 1000000 * USEC_PER_SEC;
        assert_int_equal(checkpoint_save_delay_usec(0, now, I, P), P);                 /* no file: soon */
        assert_int_equal(checkpoint_save_delay_usec(now - 30 * USEC_PER_SEC, now, I, P), I - 30 * USEC_PER_SEC);
        assert_int_equal(checkpoint_save_delay_usec(now - I, now, I, P), P);           /* due: after a period */
        assert_int_equal(checkpoint_save_delay_usec(now - 10 * I, now, I, P), P);
        assert_int_equal(checkpoint_save_delay_usec(now - I + P / 2, now, I, P), P);   /* never sooner than P */
        assert_int_equal(checkpoint_save_delay_usec(now + 5 * I, now, I, P), I);       /* from the future */
        assert_int_equal(checkpoint_save_delay_usec(0, now, I, 2 * I), I);             /* P > I: at most I */

        /* An agent killed every 60 s with a 300 s interval: under the old rule (a full interval
         * from each start) nothing was ever saved; now a save is due at least every 300 s. */
        uint64_t saved = now - 10 * I, t = now, saves = 0;
        for (int start = 0; start < 30; start++, t += 60 * USEC_PER_SEC) {
                uint64_t due = t + checkpoint_save_delay_usec(saved, t, I, P);
                if (due < t + 60 * USEC_PER_SEC) {
                        saved = due;
                        saves++;
                }
        }
        assert_true(saves >= 30 * 60 / 300 - 1);
}

static void test_file_round_trip_and_failed_save_keeps_old_file(void **state) {
        (void) state;
        char dir[] = "/tmp/colo-test-checkpoint-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char path[256], tmp[300];
        snprintf(path, sizeof(path), "%s/profiles", dir);
        ColoError err = {};

        ProfileSet *a = new_set("colo");
        assert_int_equal(profile_set_load(a, path, &err), -ENOENT);
        assert_non_null(strstr(err.msg, path));
        feed(a, 120);
        assert_int_equal(profile_set_save(a, path, &err), 0);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        char *old = NULL;
        size_t old_size = 0;
        assert_int_equal(read_full_file(path, 1 << 24, &old, &old_size, &err), 0);

        /* block the temporary file: a directory where it would be created */
        snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int) getpid());
        assert_int_equal(mkdir(tmp, 0700), 0);
        feed(a, 60);
        assert_true(profile_set_save(a, path, &err) < 0);
        assert_non_null(strstr(err.msg, "save profiles"));
        char *now = NULL;
        size_t now_size = 0;
        assert_int_equal(read_full_file(path, 1 << 24, &now, &now_size, &err), 0);
        assert_int_equal(old_size, now_size);
        assert_memory_equal(old, now, old_size);
        assert_int_equal(rmdir(tmp), 0);

        ProfileSet *b = new_set("colo");
        assert_int_equal(profile_set_load(b, path, &err), 0);
        assert_int_equal(profile_set_workload_count(b), 2);

        /* a corrupt file on disk is reported with its path */
        now[now_size / 2] ^= 1;
        assert_int_equal(write_file_atomic(path, now, now_size, 0600, &err), 0);
        assert_int_equal(profile_set_load(b, path, &err), -EBADMSG);
        assert_non_null(strstr(err.msg, path));
        assert_int_equal(profile_set_workload_count(b), 2);

        free(old);
        free(now);
        profile_set_free(a);
        profile_set_free(b);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(rmdir(dir), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip_restores_everything),
                cmocka_unit_test(test_truncation_at_every_offset_is_rejected),
                cmocka_unit_test(test_flipped_bytes_are_rejected),
                cmocka_unit_test(test_foreign_and_future_checkpoints_are_rejected),
                cmocka_unit_test(test_file_round_trip_and_failed_save_keeps_old_file),
                cmocka_unit_test(test_a_fifo_or_link_at_the_checkpoint_path_is_refused),
                cmocka_unit_test(test_checkpoint_schedule_survives_restarts),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
