/* Unit tests of workload name reservation (src/lib/workloads/tree.c, cg_group_create() and
 * cg_root_lock_below() in src/lib/cgroup/cgroup.c) on fake cgroup trees of plain directories: which
 * names are refused up front, that one name has exactly one winner across classes and tiers when
 * many processes create it at once, that an empty (stale) leaf is reclaimed while a live one is
 * "in use", and that a create failing in one v1 hierarchy leaves nothing behind in the others.
 * In a fake tree a leaf "has processes" when it holds a file (rmdir fails), as on cgroupfs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup/cgroup.h"
#include "fake-cgroup-root.h"
#include "fake-cgroupfs.h"
#include "model/workload.h"
#include "workloads/tree.h"

#define RACERS 8
#define ROUNDS 10

typedef struct Fake {
        char dir[64];
        CgMode mode;
        CgRoot *root;
} Fake;

static int fake_open_root(Fake *f, CgRoot **ret) {
        return fake_root_open(f->dir, (CgRootOptions) { .mode = f->mode, .create = true }, ret, NULL);
}

static int setup(void **state, CgMode mode) {
        Fake *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        f->mode = mode;
        fakefs_mkdtemp(f->dir, sizeof(f->dir), "names");
        if (mode == CG_MODE_V2) {
                fakefs_write(f->dir, "proc/self/cgroup", "0::/\n");
                fakefs_mkdir(f->dir, "fs");
        } else {
                fakefs_write(f->dir, "proc/self/cgroup", "5:blkio:/\n4:memory:/\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n");
                static const char *const hier[] = { "cpu", "cpuacct", "cpuset", "memory", "blkio" };
                for (size_t i = 0; i < 5; i++) {
                        char p[64];
                        snprintf(p, sizeof(p), "fs/%s", hier[i]);
                        fakefs_mkdir(f->dir, p);
                }
        }
        *state = f;
        return fake_open_root(f, &f->root);
}

static int setup_v2(void **state) {
        return setup(state, CG_MODE_V2);
}

static int setup_v1(void **state) {
        return setup(state, CG_MODE_V1);
}

FAKE_ROOT_DEFINE_TEARDOWN(teardown, Fake)

static void test_names_of_cgroup_files_and_hidden_names_are_refused(void **state) {
        (void) state;
        static const char *const refused[] = {
                ".hidden", ".", "..", ".colo-names.lock", "cpu.shares", "cpuset.cpus", "memory.limit_in_bytes",
                "cgroup.procs", "cgroup.x", "io.max", "blkio.weight", "hugetlb.2MB.limit_in_bytes", "pids.max",
                "tasks", "notify_on_release", "release_agent", "a/b", "", "sp ace",
        };
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
                if (workload_name_is_valid(refused[i]))
                        fail_msg("'%s' accepted", refused[i]);
                assert_non_null(workload_name_problem(refused[i]));
        }
        static const char *const accepted[] = { "web-1.a_b", "cpu", "memory-hog", "cpu_job.1", "backup.sh-1a2b",
                                                "job.", "x.cpu" };
        for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++)
                if (!workload_name_is_valid(accepted[i]))
                        fail_msg("'%s' refused: %s", accepted[i], workload_name_problem(accepted[i]));
        assert_string_equal(workload_name_problem(".x"), "starts with '.'");
}

static void test_create_refuses_bad_names_before_touching_the_tree_v2(void **state) {
        Fake *f = *state;
        ColoError err = {};
        assert_int_equal(tree_create_workload(f->root, TIER_BATCH, "memory.limit_in_bytes", NULL, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "cgroup interface file"));
        assert_int_equal(tree_create_workload(f->root, TIER_NORMAL, ".hidden", NULL, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "starts with '.'"));
        assert_false(fakefs_exists(f->dir, "fs/colo/offline"));
        assert_false(fakefs_exists(f->dir, "fs/colo/online"));
}

static void test_an_empty_leaf_is_reclaimed_and_a_live_one_is_in_use_v2(void **state) {
        Fake *f = *state;
        ColoError err = {};
        /* A crashed `colo run` left an empty leaf: the name is free again, in any tier. */
        fakefs_mkdir(f->dir, "fs/colo/offline/batch/job");
        assert_int_equal(tree_create_workload(f->root, TIER_CRITICAL, "job", NULL, &err), 0);
        assert_false(fakefs_exists(f->dir, "fs/colo/offline/batch/job"));
        assert_true(fakefs_exists(f->dir, "fs/colo/online/critical/job"));
        /* Once it has a process it is in use, for every class and tier, and nothing is created. */
        fakefs_write(f->dir, "fs/colo/online/critical/job/cgroup.procs", "42\n");
        for (int t = 0; t < _TIER_MAX; t++) {
                assert_int_equal(tree_create_workload(f->root, (WorkloadTier) t, "job", NULL, &err), -EEXIST);
                assert_non_null(strstr(err.msg, "name in use"));
                assert_non_null(strstr(err.msg, "online/critical/job"));
        }
        assert_false(fakefs_exists(f->dir, "fs/colo/offline/batch/job"));
        /* A file where the leaf would go is not a group to join either. */
        fakefs_write(f->dir, "fs/colo/offline/best-effort/cpu.x", "");
        assert_int_equal(tree_create_workload(f->root, TIER_BEST_EFFORT, "cpux", NULL, &err), 0);
}

/* One racer: its own root (a separate process, as each `colo run` is), the names lock, the
 * create, then a "process" in the leaf before the lock goes. Exits 0 when it won, 1 when the
 * name was in use, 2 on any other error. */
static _Noreturn void race_once(Fake *f, WorkloadTier tier) {
        CgRoot *root = NULL;
        ColoError err = {};
        if (fake_open_root(f, &root) < 0)
                _exit(2);
        int lock_fd = tree_lock_names(root, &err);
        if (lock_fd < 0)
                _exit(2);
        CgGroup *g = NULL;
        int r = tree_create_workload(root, tier, "X", &g, &err);
        if (r == -EEXIST)
                _exit(1);
        if (r < 0) {
                fprintf(stderr, "racer: %s\n", err.msg);
                _exit(2);
        }
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "fs/%scolo/%s/cgroup.procs", f->mode == CG_MODE_V1 ? "cpu/" : "", cg_group_path(g));
        fakefs_write(f->dir, p, "1\n");
        _exit(0);
}

/* Exactly one of RACERS simultaneous creates of one name wins, whatever their tiers; before the
 * names lock and the exclusive mkdir, several did (the shared leaf, or one per class). */
static void test_concurrent_creates_of_one_name_have_one_winner(void **state) {
        Fake *f = *state;
        int multi = 0;
        for (int round = 0; round < ROUNDS; round++) {
                pid_t pids[RACERS];
                for (int i = 0; i < RACERS; i++) {
                        /* Even rounds: all in one tier (the shared leaf); odd rounds: every tier. */
                        WorkloadTier tier = round % 2 == 0 ? TIER_BATCH : (WorkloadTier) (i % _TIER_MAX);
                        pids[i] = fork();
                        assert_true(pids[i] >= 0);
                        if (pids[i] == 0)
                                race_once(f, tier);
                }
                int won = 0, in_use = 0;
                for (int i = 0; i < RACERS; i++) {
                        int status;
                        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
                        assert_true(WIFEXITED(status) && WEXITSTATUS(status) <= 1);
                        won += WEXITSTATUS(status) == 0;
                        in_use += WEXITSTATUS(status) == 1;
                }
                multi += won > 1;
                assert_int_equal(won, 1);
                assert_int_equal(in_use, RACERS - 1);
                /* The winner's workload ends: its leaf goes, as `colo run` removes it. */
                TreeWorkload w[_TIER_MAX];
                ColoError err = {};
                assert_int_equal(tree_find(f->root, "X", w, _TIER_MAX, &err), 1);
                char p[PATH_MAX];
                snprintf(p, sizeof(p), "%s/fs/%scolo/%s/cgroup.procs", f->dir, f->mode == CG_MODE_V1 ? "cpu/" : "",
                         w[0].path);
                assert_int_equal(unlink(p), 0);
                assert_int_equal(cg_group_remove(f->root, w[0].path, &err), 0);
        }
        assert_int_equal(multi, 0);
}

/* v1: the leaf exists in the memory hierarchy only (a file there, or a foreign group with a
 * task): the create fails and the directories it made in cpu, cpuacct and cpuset are removed. */
static void test_a_create_failing_in_one_hierarchy_is_rolled_back_in_the_others_v1(void **state) {
        Fake *f = *state;
        ColoError err = {};
        assert_int_equal(tree_ensure_parents(f->root, &err), 0);
        fakefs_write(f->dir, "fs/memory/colo/offline/batch/job", "not a group\n");
        CgGroup *g = NULL;
        assert_int_equal(cg_group_create(f->root, "offline/batch/job", &g, &err), -EEXIST);
        assert_non_null(strstr(err.msg, "memory/colo/offline/batch/job"));
        assert_false(fakefs_exists(f->dir, "fs/cpu/colo/offline/batch/job"));
        assert_false(fakefs_exists(f->dir, "fs/cpuacct/colo/offline/batch/job"));
        assert_false(fakefs_exists(f->dir, "fs/cpuset/colo/offline/batch/job"));

        /* Through the tree: a leaf found in one hierarchy only blocks the name, nothing is left. */
        (void) unlink(strcat(strcpy((char[PATH_MAX]) {}, f->dir), "/fs/memory/colo/offline/batch/job"));
        fakefs_write(f->dir, "fs/memory/colo/online/normal/job/cgroup.procs", "42\n");
        assert_int_equal(tree_create_workload(f->root, TIER_BATCH, "job", NULL, &err), -EEXIST);
        assert_non_null(strstr(err.msg, "name in use"));
        assert_false(fakefs_exists(f->dir, "fs/cpu/colo/offline/batch/job"));
        assert_false(fakefs_exists(f->dir, "fs/memory/colo/offline/batch/job"));

        /* A plain create makes the leaf in every hierarchy; a second one is refused. */
        assert_int_equal(cg_group_create(f->root, "offline/batch/ok", &g, &err), 0);
        cg_group_free(g);
        assert_true(fakefs_exists(f->dir, "fs/cpu/colo/offline/batch/ok"));
        assert_true(fakefs_exists(f->dir, "fs/blkio/colo/offline/batch/ok"));
        assert_int_equal(cg_group_create(f->root, "offline/batch/ok", &g, &err), -EEXIST);
        assert_true(fakefs_exists(f->dir, "fs/cpu/colo/offline/batch/ok"));
}

static void test_the_names_lock_is_private_and_reusable(void **state) {
        Fake *f = *state;
        ColoError err = {};
        int fd = tree_lock_names(f->root, &err);
        assert_true(fd >= 0);
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/fs/colo/%s", f->dir, TREE_NAMES_LOCK);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);
        (void) close(fd);
        assert_int_equal(chmod(p, 0777), 0);            /* loosened behind our back: tightened again */
        fd = tree_lock_names(f->root, &err);
        assert_true(fd >= 0);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);
        (void) close(fd);
        /* Not a workload: discovery never lists it. */
        TreeWorkload *list = NULL;
        size_t n = 0;
        assert_int_equal(tree_discover(f->root, &list, &n, &err), 0);
        assert_int_equal(n, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names_of_cgroup_files_and_hidden_names_are_refused),
                cmocka_unit_test_setup_teardown(test_create_refuses_bad_names_before_touching_the_tree_v2, setup_v2,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_an_empty_leaf_is_reclaimed_and_a_live_one_is_in_use_v2, setup_v2,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_concurrent_creates_of_one_name_have_one_winner, setup_v2, teardown),
                cmocka_unit_test_setup_teardown(test_concurrent_creates_of_one_name_have_one_winner, setup_v1, teardown),
                cmocka_unit_test_setup_teardown(test_a_create_failing_in_one_hierarchy_is_rolled_back_in_the_others_v1,
                                                setup_v1, teardown),
                cmocka_unit_test_setup_teardown(test_the_names_lock_is_private_and_reusable, setup_v2, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
