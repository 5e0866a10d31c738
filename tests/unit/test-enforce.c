/* Unit tests of src/lib/enforce against fake v1 and v2 trees of plain files under mkdtemp(): the
 * real policy makes the plan, enforce applies it, and the tests read back what was written. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup/cgroup.h"
#include "enforce/enforce.h"
#include "fake-cgroupfs.h"
#include "faultsim.h"
#include "policy/policy.h"
#include "util/fileio.h"
#include "util/macro.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

#define WRITES_MAX 256

typedef struct Write {
        char path[512];
        char value[192];
        char old[192];          /* dry run: the file's content when the write was recorded */
        int r;
} Write;

typedef struct Fake {
        char dir[64];
        CgMode mode;
        CgRoot *root;
        EnforceState *state;
        Write writes[WRITES_MAX];
        size_t n_writes;
} Fake;

static void record_write(void *userdata, const char *path, const char *value, int r) {
        Fake *f = userdata;
        assert_true(f->n_writes < WRITES_MAX);
        Write *w = &f->writes[f->n_writes++];
        snprintf(w->path, sizeof(w->path), "%s", path);
        snprintf(w->value, sizeof(w->value), "%s", value);
        w->r = r;
}

/* The dry run's record at the cgroup layer's seam. */
static void record_dry(void *userdata, const char *path, const char *old_value, const char *new_value) {
        Fake *f = userdata;
        record_write(f, path, new_value, 0);
        snprintf(f->writes[f->n_writes - 1].old, sizeof(f->writes[0].old), "%s", old_value);
}

static const char *const v2_files[] = {
        "cpu.weight", "cpu.idle", "cpu.max", "memory.max", "memory.high", "memory.low", "memory.min", "pids.max", "cgroup.procs",
};
static const char *const v1_cpu_files[] = { "cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.idle", "cgroup.procs" };
static const char *const v1_memory_files[] = { "memory.limit_in_bytes", "memory.soft_limit_in_bytes", "cgroup.procs" };

static const char *const all_groups[] = {
        "", "online", "online/critical", "online/normal", "offline", "offline/batch", "offline/best-effort",
        "online/critical/db", "online/normal/web", "offline/batch/etl", "offline/best-effort/crawl",
        "online/normal/job", "offline/batch/job",
};

/* Directory of group path in hierarchy ("" on v2, "cpu" or "memory" on v1), relative to f->dir. */
static void group_rel(const char *hierarchy, const char *path, char *buf, size_t size) {
        snprintf(buf, size, "%s%scolo%s%s", hierarchy, hierarchy[0] ? "/" : "", path[0] ? "/" : "", path);
}

static void group_dir(const Fake *f, const char *hierarchy, const char *path, char *buf, size_t size) {
        char rel[512];
        group_rel(hierarchy, path, rel, sizeof(rel));
        snprintf(buf, size, "%s/%s", f->dir, rel);
}

static void fake_add_files(const Fake *f, const char *hierarchy, const char *path, const char *const *files, size_t n) {
        char dir[512], file[600];
        group_rel(hierarchy, path, dir, sizeof(dir));
        fakefs_mkdir(f->dir, dir);
        for (size_t i = 0; i < n; i++) {
                snprintf(file, sizeof(file), "%s/%s", dir, files[i]);
                fakefs_write(f->dir, file, strcmp(files[i], "cgroup.procs") == 0 ? "" : "init\n");
        }
}

static void fake_add_group(const Fake *f, const char *path) {
        if (f->mode == CG_MODE_V2)
                fake_add_files(f, "", path, v2_files, ELEMENTSOF(v2_files));
        else {
                fake_add_files(f, "cpu", path, v1_cpu_files, ELEMENTSOF(v1_cpu_files));
                fake_add_files(f, "memory", path, v1_memory_files, ELEMENTSOF(v1_memory_files));
        }
}

/* The contents of a knob file, newline stripped ("init" when never written). */
static const char *fake_read(const Fake *f, const char *hierarchy, const char *path, const char *file) {
        static char buf[256];
        char dir[512], rel[600];
        group_rel(hierarchy, path, dir, sizeof(dir));
        snprintf(rel, sizeof(rel), "%s/%s", dir, file);
        const char *text = fakefs_read(f->dir, rel);
        assert_non_null(text);
        snprintf(buf, sizeof(buf), "%.*s", (int) strcspn(text, "\n"), text);
        return buf;
}

static int fake_setup(void **state, CgMode mode, bool populate) {
        Fake *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        fakefs_mkdtemp(f->dir, sizeof(f->dir), "enforce");
        f->mode = mode;
        fake_add_group(f, "");
        if (populate)
                for (size_t i = 0; i < ELEMENTSOF(all_groups); i++)
                        fake_add_group(f, all_groups[i]);
        CgRootOptions o = { .fs_root = f->dir, .mode = mode, .subtree = "/colo", .report_successes = true };
        ColoError err = {};
        if (cg_root_open(&o, &f->root, &err) < 0)
                fail_msg("cg_root_open: %s", err.msg);
        f->state = enforce_state_new();
        assert_non_null(f->state);
        *state = f;
        return 0;
}

static int setup_v2(void **state) {
        return fake_setup(state, CG_MODE_V2, true);
}
static int setup_v1(void **state) {
        return fake_setup(state, CG_MODE_V1, true);
}
static int setup_v2_bare(void **state) {
        return fake_setup(state, CG_MODE_V2, false);
}

static int teardown(void **state) {
        Fake *f = *state;
        enforce_state_free(f->state);
        cg_root_free(f->root);
        assert_int_equal(fakefs_remove_tree(f->dir), 0);
        free(f);
        return 0;
}

static const WorkloadSample workloads[] = {
        { .name = "db", .cls = CLASS_ONLINE, .tier = TIER_CRITICAL, .nr_tasks = 1 },
        { .name = "web", .cls = CLASS_ONLINE, .tier = TIER_NORMAL, .nr_tasks = 1 },
        { .name = "etl", .cls = CLASS_OFFLINE, .tier = TIER_BATCH, .nr_tasks = 1 },
        { .name = "crawl", .cls = CLASS_OFFLINE, .tier = TIER_BEST_EFFORT, .nr_tasks = 1 },
};

/* The policy's plan for a quiet 4-core 8 GiB node: offline CPU budget 4 - 0.1 - online - 0.2. */
/* mem_high: the node has memory.high (v2), so offline memory is throttled with headroom. */
static Plan *make_plan_on(const WorkloadSample *w, size_t n, double online_cpu, bool mem_high) {
        PolicyConfig cfg;
        policy_config_init_defaults(&cfg);
        NodeSample s = {
                .now_usec = 1000 * USEC_PER_SEC,
                .cpu_capacity_cores = 4.0,
                .mem_capacity = 8 * GiB,
                .mem_available = 4 * GiB,
                .mem_high_available = mem_high,
                .workloads = w,
                .n_workloads = n,
        };
        OnlineEstimate est = { .cpu_cores = online_cpu, .mem_bytes = 2 * GiB };
        PolicyState st = {};
        Plan *p = NULL;
        assert_int_equal(policy_decide(&s, &est, &cfg, &st, &p), 0);
        return p;
}

static Plan *make_plan(const WorkloadSample *w, size_t n, double online_cpu) {
        return make_plan_on(w, n, online_cpu, true);
}

static int apply(Fake *f, const Plan *p, bool dry_run) {
        ColoError err = {};
        f->n_writes = 0;
        cg_root_set_dry_run(f->root, dry_run ? record_dry : NULL, f);
        int r = enforce_apply(f->root, p, f->state, record_write, f, &err);
        if (r < 0)
                fail_msg("enforce_apply: %s", err.msg);
        return r;
}

static size_t failed_writes(const Fake *f) {
        size_t n = 0;
        for (size_t i = 0; i < f->n_writes; i++)
                n += f->writes[i].r < 0;
        return n;
}

static char *u64str(uint64_t v) {
        static char buf[4][32];
        static int i;
        i = (i + 1) % 4;
        snprintf(buf[i], sizeof(buf[i]), "%llu", (unsigned long long) v);
        return buf[i];
}

static void test_enforce_first_apply_writes_the_plan_v2(void **state) {
        Fake *f = *state;
        Plan *p = make_plan(workloads, ELEMENTSOF(workloads), 1.5);     /* budget 2.2 cores */

        assert_int_equal(apply(f, p, false), 0);
        assert_true(f->n_writes > 20);
        assert_int_equal(failed_writes(f), 0);
        assert_string_equal(fake_read(f, "", "offline", "cpu.max"), "220000 100000");
        assert_string_equal(fake_read(f, "", "offline", "cpu.idle"), "1");
        assert_string_equal(fake_read(f, "", "offline", "cpu.weight"), "init");   /* idle groups take no weight */
        /* Throttled at the budget, with the default 128 MiB headroom before the hard limit. */
        assert_string_equal(fake_read(f, "", "offline", "memory.high"), u64str(p->offline_mem_budget));
        assert_string_equal(fake_read(f, "", "offline", "memory.max"), u64str(p->offline_mem_budget + 128 * MiB));
        assert_string_equal(fake_read(f, "", "offline", "pids.max"), "16384");
        assert_string_equal(fake_read(f, "", "offline/best-effort", "pids.max"), "4096");
        assert_string_equal(fake_read(f, "", "online", "pids.max"), "init");
        assert_string_equal(fake_read(f, "", "online", "cpu.weight"), "10000");
        assert_string_equal(fake_read(f, "", "online", "memory.low"), u64str(2 * GiB));
        assert_string_equal(fake_read(f, "", "", "memory.min"), u64str(2 * GiB));
        assert_string_equal(fake_read(f, "", "online/critical", "memory.min"), "max");
        assert_string_equal(fake_read(f, "", "online/normal", "memory.min"), "0");
        assert_string_equal(fake_read(f, "", "offline/best-effort", "cpu.weight"), "10");
        assert_string_equal(fake_read(f, "", "offline/batch/etl", "memory.low"), "0");
        assert_int_equal(enforce_state_size(f->state), p->n_groups);
        plan_free(p);
}

static void test_enforce_first_apply_writes_the_plan_v1(void **state) {
        Fake *f = *state;
        Plan *p = make_plan_on(workloads, ELEMENTSOF(workloads), 1.5, false);

        assert_int_equal(apply(f, p, false), 0);
        assert_int_equal(failed_writes(f), 0);
        assert_string_equal(fake_read(f, "cpu", "offline", "cpu.cfs_quota_us"), "220000");
        assert_string_equal(fake_read(f, "cpu", "offline", "cpu.cfs_period_us"), "100000");
        assert_string_equal(fake_read(f, "cpu", "offline", "cpu.idle"), "1");
        assert_string_equal(fake_read(f, "cpu", "online", "cpu.shares"), u64str(cg_weight_to_shares(10000)));
        assert_string_equal(fake_read(f, "cpu", "offline/best-effort", "cpu.shares"), u64str(cg_weight_to_shares(10)));
        /* No memory.high on v1: the limit is the budget itself. */
        assert_string_equal(fake_read(f, "memory", "offline", "memory.limit_in_bytes"), u64str(p->offline_mem_budget));
        assert_string_equal(fake_read(f, "memory", "offline", "memory.soft_limit_in_bytes"), "0");
        /* v1 has no memory.low: nothing was written for online protection. */
        for (size_t i = 0; i < f->n_writes; i++)
                assert_null(strstr(f->writes[i].path, "memory.low"));
        plan_free(p);
}

static void steady_state_writes_nothing(Fake *f) {
        Plan *p = make_plan(workloads, ELEMENTSOF(workloads), 1.5);
        assert_int_equal(apply(f, p, false), 0);
        assert_true(f->n_writes > 0);
        assert_int_equal(apply(f, p, false), 0);
        assert_int_equal(f->n_writes, 0);
        /* A new but equal plan, as the next period makes it. */
        Plan *again = make_plan(workloads, ELEMENTSOF(workloads), 1.5);
        assert_int_equal(apply(f, again, false), 0);
        assert_int_equal(f->n_writes, 0);
        plan_free(p);
        plan_free(again);
}

static void test_enforce_second_apply_of_the_same_plan_writes_nothing_v2(void **state) {
        steady_state_writes_nothing(*state);
}

static void test_enforce_second_apply_of_the_same_plan_writes_nothing_v1(void **state) {
        steady_state_writes_nothing(*state);
}

static void changed_budget_writes_only_the_quota(Fake *f, const char *hierarchy, const char *file, const char *value) {
        Plan *p = make_plan(workloads, ELEMENTSOF(workloads), 1.5);
        assert_int_equal(apply(f, p, false), 0);
        Plan *q = make_plan(workloads, ELEMENTSOF(workloads), 2.5);     /* budget 1.2 cores */
        assert_int_equal(apply(f, q, false), 0);
        assert_int_equal(f->n_writes, 1);
        char want[600];
        group_dir(f, hierarchy, "offline", want, sizeof(want));
        snprintf(want + strlen(want), sizeof(want) - strlen(want), "/%s", file);
        assert_string_equal(f->writes[0].path, want);
        assert_string_equal(f->writes[0].value, value);
        assert_string_equal(fake_read(f, hierarchy, "offline", file), value);
        plan_free(p);
        plan_free(q);
}

static void test_enforce_changed_budget_writes_only_cpu_max_v2(void **state) {
        changed_budget_writes_only_the_quota(*state, "", "cpu.max", "120000 100000");
}

static void test_enforce_changed_budget_writes_only_the_quota_v1(void **state) {
        changed_budget_writes_only_the_quota(*state, "cpu", "cpu.cfs_quota_us", "120000");
}

/* Whether the dry run recorded value for rel ("offline/cpu.idle", below the managed root), the
 * file then holding old. */
static bool dry_run_recorded(const Fake *f, const char *rel, const char *old, const char *value) {
        char suffix[256];
        snprintf(suffix, sizeof(suffix), "/colo/%s", rel);
        for (size_t i = 0; i < f->n_writes; i++) {
                const Write *w = &f->writes[i];
                size_t pl = strlen(w->path), sl = strlen(suffix);
                if (pl >= sl && strcmp(w->path + pl - sl, suffix) == 0 && strcmp(w->value, value) == 0 &&
                    strcmp(w->old, old) == 0)
                        return w->r == 0;
        }
        return false;
}

static void dry_run_writes_nothing(Fake *f, const char *hierarchy, const char *quota_file, const char *quota) {
        Plan *p = make_plan(workloads, ELEMENTSOF(workloads), 1.5);
        assert_int_equal(apply(f, p, true), 0);
        assert_true(f->n_writes > 20);
        char rel[64];
        snprintf(rel, sizeof(rel), "offline/%s", quota_file);
        assert_true(dry_run_recorded(f, rel, "init", quota));
        assert_true(dry_run_recorded(f, "offline/cpu.idle", "init", "1"));
        assert_true(dry_run_recorded(f, "offline/best-effort/crawl/cpu.idle", "init", "0"));
        for (size_t i = 0; i < ELEMENTSOF(all_groups); i++) {
                assert_string_equal(fake_read(f, hierarchy, all_groups[i], quota_file), "init");
                assert_string_equal(fake_read(f, hierarchy, all_groups[i], "cpu.idle"), "init");
        }
        /* The dry state remembers what it recorded: the same plan records nothing new. */
        assert_int_equal(apply(f, p, true), 0);
        assert_int_equal(f->n_writes, 0);
        plan_free(p);
}

typedef struct Drift {
        char path[512], colo_value[64], found[64];
        size_t n;
} Drift;

static void record_drift(void *userdata, const char *path, const char *colo_value, const char *found) {
        Drift *d = userdata;
        d->n++;
        snprintf(d->path, sizeof(d->path), "%s", path);
        snprintf(d->colo_value, sizeof(d->colo_value), "%s", colo_value);
        snprintf(d->found, sizeof(d->found), "%s", found);
}

static void write_behind_colos_back(const Fake *f, const char *hierarchy, const char *group, const char *file,
                                    const char *value) {
        char dir[512], rel[600];
        group_rel(hierarchy, group, dir, sizeof(dir));
        snprintf(rel, sizeof(rel), "%s/%s", dir, file);
        fakefs_write(f->dir, rel, value);
}

/* A knob changed behind colo's back is found, reported with its path and written again by the
 * next apply; a knob the kernel merely rounded to pages is not a change. */
static void reconcile_restores(Fake *f, const char *hierarchy, const char *file, const char *foreign,
                               const char *mem_hierarchy, const char *mem_file) {
        Drift d = {};
        enforce_state_set_drift_callback(f->state, record_drift, &d);
        Plan *p = make_plan(workloads, ELEMENTSOF(workloads), 1.5);
        assert_int_equal(apply(f, p, false), 0);
        char colo_value[64];
        snprintf(colo_value, sizeof(colo_value), "%s", fake_read(f, hierarchy, "offline", file));
        write_behind_colos_back(f, hierarchy, "offline", file, foreign);
        /* offline's memory limit as the kernel keeps it: rounded down to a page. */
        uint64_t limit = 0;
        assert_int_equal(parse_u64(fake_read(f, mem_hierarchy, "offline", mem_file), &limit), 0);
        uint64_t page = (uint64_t) sysconf(_SC_PAGESIZE);
        write_behind_colos_back(f, mem_hierarchy, "offline", mem_file, u64str(limit / page * page));

        assert_int_equal(apply(f, p, false), 0);
        assert_int_equal(d.n, 1);
        char suffix[128];
        snprintf(suffix, sizeof(suffix), "/colo/offline/%s", file);
        assert_true(strlen(d.path) > strlen(suffix) && strcmp(d.path + strlen(d.path) - strlen(suffix), suffix) == 0);
        assert_string_equal(d.found, foreign);
        assert_string_equal(fake_read(f, hierarchy, "offline", file), colo_value);
        assert_int_equal(f->n_writes, 1);
        /* Put back: nothing more to restore. */
        assert_int_equal(apply(f, p, false), 0);
        assert_int_equal(d.n, 1);
        assert_int_equal(f->n_writes, 0);
        plan_free(p);
}

static void test_enforce_reconcile_restores_a_changed_knob_v2(void **state) {
        reconcile_restores(*state, "", "cpu.max", "max 100000", "", "memory.max");
}

static void test_enforce_reconcile_restores_a_changed_knob_v1(void **state) {
        reconcile_restores(*state, "cpu", "cpu.cfs_quota_us", "-1", "memory", "memory.limit_in_bytes");
}

static void test_enforce_reconcile_reads_nothing_in_a_dry_run_v1(void **state) {
        Fake *f = *state;
        Drift d = {};
        enforce_state_set_drift_callback(f->state, record_drift, &d);
        Plan *p = make_plan(workloads, ELEMENTSOF(workloads), 1.5);
        assert_int_equal(apply(f, p, true), 0);
        /* The files still hold "init", not what the dry state recorded: no restore either. */
        assert_int_equal(apply(f, p, true), 0);
        assert_int_equal(d.n, 0);
        assert_int_equal(f->n_writes, 0);
        plan_free(p);
}

static void test_enforce_dry_run_writes_nothing_v2(void **state) {
        dry_run_writes_nothing(*state, "", "cpu.max", "220000 100000");
}

static void test_enforce_dry_run_writes_nothing_v1(void **state) {
        dry_run_writes_nothing(*state, "cpu", "cpu.cfs_quota_us", "220000");
}

static void test_enforce_dry_run_does_not_create_groups_v2(void **state) {
        Fake *f = *state;
        Plan *p = make_plan(workloads, ELEMENTSOF(workloads), 1.5);
        assert_int_equal(apply(f, p, true), 0);
        assert_true(dry_run_recorded(f, "offline", "(no directory)", "(mkdir)"));
        assert_true(dry_run_recorded(f, "offline/cpu.idle", "(group not created yet)", "1"));
        char dir[512];
        group_dir(f, "", "offline", dir, sizeof(dir));
        assert_int_equal(access(dir, F_OK), -1);
        plan_free(p);
}

static ssize_t write_index(const Fake *f, const char *group, const char *file) {
        char suffix[256];
        snprintf(suffix, sizeof(suffix), "/colo%s%s/%s", group[0] ? "/" : "", group, file);
        for (size_t i = 0; i < f->n_writes; i++) {
                size_t n = strlen(f->writes[i].path), m = strlen(suffix);
                if (n >= m && strcmp(f->writes[i].path + n - m, suffix) == 0)
                        return (ssize_t) i;
        }
        return -1;
}

static void test_enforce_lowers_offline_limits_before_raising_online_guarantees_v2(void **state) {
        Fake *f = *state;
        Plan *p = make_plan(workloads, ELEMENTSOF(workloads), 1.5);
        assert_int_equal(apply(f, p, false), 0);

        /* Online grows: offline's memory.max drops and online's memory.low rises. */
        PolicyConfig cfg;
        policy_config_init_defaults(&cfg);
        NodeSample s = { .now_usec = 1, .cpu_capacity_cores = 4.0, .mem_capacity = 8 * GiB, .mem_available = 4 * GiB,
                         .mem_high_available = true, .workloads = workloads, .n_workloads = ELEMENTSOF(workloads) };
        OnlineEstimate est = { .cpu_cores = 1.5, .mem_bytes = 4 * GiB };
        PolicyState st = {};
        Plan *q = NULL;
        assert_int_equal(policy_decide(&s, &est, &cfg, &st, &q), 0);
        assert_true(q->offline_mem_budget < p->offline_mem_budget);
        assert_int_equal(apply(f, q, false), 0);

        ssize_t offline_max = write_index(f, "offline", "memory.max");
        ssize_t offline_high = write_index(f, "offline", "memory.high");
        ssize_t online_low = write_index(f, "online", "memory.low");
        ssize_t online_min = write_index(f, "online", "memory.min");
        ssize_t root_low = write_index(f, "", "memory.low");
        assert_true(offline_max >= 0 && online_low >= 0 && online_min >= 0 && root_low >= 0);
        assert_true(offline_max < online_low && offline_max < online_min && offline_max < root_low);
        assert_true(offline_high >= 0 && offline_high < online_low && offline_high < root_low);
        assert_int_equal(f->n_writes, 6);       /* root low+min, online low+min, offline high+max */
        plan_free(p);
        plan_free(q);
}

static void test_enforce_creates_class_and_tier_parents_but_not_leaves_v2(void **state) {
        Fake *f = *state;
        Plan *p = make_plan(workloads, ELEMENTSOF(workloads), 1.5);
        ColoError err = {};
        f->n_writes = 0;
        int r = enforce_apply(f->root, p, f->state, record_write, f, &err);
        /* Plain mkdir in a fake tree makes no knob files, so writes to new groups fail. */
        assert_true(r > 0);
        assert_int_equal((size_t) r, failed_writes(f));
        assert_non_null(strstr(err.msg, "apply plan to cgroup 'offline'"));
        static const char *const parents[] = { "online", "online/critical", "online/normal", "offline", "offline/batch",
                                               "offline/best-effort" };
        char dir[512];
        for (size_t i = 0; i < ELEMENTSOF(parents); i++) {
                group_dir(f, "", parents[i], dir, sizeof(dir));
                assert_int_equal(access(dir, F_OK), 0);
        }
        group_dir(f, "", "offline/batch/etl", dir, sizeof(dir));
        assert_int_equal(access(dir, F_OK), -1);
        /* Vanished leaves are not failures and are not remembered. */
        for (size_t i = 0; i < f->n_writes; i++)
                assert_null(strstr(f->writes[i].path, "etl"));
        assert_int_equal(enforce_state_size(f->state), 7);
        plan_free(p);
}

/* A transform's plan onto a tree colo does not own (kubelet's): applied in its own order, with
 * nothing created; a group that does not exist is skipped, not a failure, and not remembered. */
static void test_enforce_applies_a_foreign_tree_in_order_and_creates_nothing_v2(void **state) {
        Fake *f = *state;
        fake_add_group(f, "besteffort");
        fake_add_group(f, "besteffort/poda");
        GroupPlan groups[4] = {};
        static const char *const paths[] = { "burstable", "besteffort/poda", "besteffort", "" };
        for (size_t i = 0; i < ELEMENTSOF(groups); i++) {
                snprintf(groups[i].path, sizeof(groups[i].path), "%s", paths[i]);
                cg_knobs_init(&groups[i].knobs);
                groups[i].knobs.cpu_weight = 10 + i;
        }
        Plan p = { .groups = groups, .n_groups = ELEMENTSOF(groups), .foreign_tree = true };
        ColoError err = {};
        f->n_writes = 0;
        assert_int_equal(enforce_apply(f->root, &p, f->state, record_write, f, &err), 0);
        char dir[512];
        group_dir(f, "", "burstable", dir, sizeof(dir));
        assert_int_equal(access(dir, F_OK), -1);                /* not created */
        assert_null(enforce_state_last(f->state, "burstable"));
        assert_non_null(enforce_state_last(f->state, "besteffort"));
        assert_int_equal(enforce_state_last(f->state, "besteffort/poda")->cpu_weight, 11);
        /* In the plan's order, not offline-first and parents-first. */
        ssize_t pod = write_index(f, "besteffort/poda", "cpu.weight"), qos = write_index(f, "besteffort", "cpu.weight"),
                root = write_index(f, "", "cpu.weight");
        assert_true(pod >= 0 && qos > pod && root > qos);
        assert_string_equal(fake_read(f, "", "besteffort", "cpu.weight"), "12");
        assert_int_equal(enforce_state_size(f->state), 3);
}

static void test_enforce_forgets_paths_no_longer_planned_v2(void **state) {
        Fake *f = *state;
        Plan *all = make_plan(workloads, ELEMENTSOF(workloads), 1.5);
        Plan *fewer = make_plan(workloads, 2, 1.5);     /* etl and crawl ended */
        assert_int_equal(apply(f, all, false), 0);
        assert_int_equal(enforce_state_size(f->state), all->n_groups);
        assert_int_equal(apply(f, fewer, false), 0);
        assert_int_equal(f->n_writes, 0);
        assert_int_equal(enforce_state_size(f->state), fewer->n_groups);
        /* Back again: nothing is remembered for them, so everything is written. */
        assert_int_equal(apply(f, all, false), 0);
        assert_true(write_index(f, "offline/batch/etl", "cpu.weight") >= 0);
        assert_true(write_index(f, "offline/best-effort/crawl", "memory.min") >= 0);
        plan_free(all);
        plan_free(fewer);
}

static bool wrote_below(const Fake *f, const char *group) {
        char needle[128];
        snprintf(needle, sizeof(needle), "/colo/%s/", group);
        for (size_t i = 0; i < f->n_writes; i++)
                if (strstr(f->writes[i].path, needle))
                        return true;
        return false;
}

static void test_enforce_new_paths_between_remembered_ones_keep_what_was_applied_v2(void **state) {
        Fake *f = *state;
        const WorkloadSample ends[] = { workloads[0], workloads[3] };   /* db and crawl */
        Plan *some = make_plan(ends, ELEMENTSOF(ends), 1.5);
        Plan *all = make_plan(workloads, ELEMENTSOF(workloads), 1.5);
        assert_int_equal(apply(f, some, false), 0);
        assert_int_equal(enforce_state_size(f->state), some->n_groups);
        /* web and etl sort between the remembered paths: only their leaves are new. */
        assert_int_equal(apply(f, all, false), 0);
        assert_int_equal(enforce_state_size(f->state), all->n_groups);
        assert_true(wrote_below(f, "online/normal/web"));
        assert_true(wrote_below(f, "offline/batch/etl"));
        assert_false(wrote_below(f, "online/critical/db"));
        assert_false(wrote_below(f, "offline/best-effort/crawl"));
        assert_int_equal(apply(f, all, false), 0);
        assert_int_equal(f->n_writes, 0);
        /* And out again: the stayers are still remembered. */
        assert_int_equal(apply(f, some, false), 0);
        assert_int_equal(enforce_state_size(f->state), some->n_groups);
        assert_false(wrote_below(f, "online/critical/db"));
        assert_false(wrote_below(f, "offline/best-effort/crawl"));
        plan_free(some);
        plan_free(all);
}

static void test_enforce_forget_rewrites_the_group_v2(void **state) {
        Fake *f = *state;
        Plan *p = make_plan(workloads, ELEMENTSOF(workloads), 1.5);
        assert_int_equal(apply(f, p, false), 0);
        enforce_state_forget(f->state, "offline");
        assert_int_equal(apply(f, p, false), 0);
        assert_true(f->n_writes > 0);
        for (size_t i = 0; i < f->n_writes; i++)
                assert_non_null(strstr(f->writes[i].path, "/colo/offline/cpu.") ?: strstr(f->writes[i].path, "/colo/offline/memory.")
                                                                             ?: strstr(f->writes[i].path, "/colo/offline/pids."));
        enforce_state_forget(f->state, NULL);
        assert_int_equal(apply(f, p, false), 0);
        assert_true(f->n_writes > 20);
        plan_free(p);
}

static void test_enforce_moving_a_workload_between_classes_applies_the_new_leaf_v2(void **state) {
        Fake *f = *state;
        static const WorkloadSample before[] = { { .name = "job", .cls = CLASS_OFFLINE, .tier = TIER_BATCH, .nr_tasks = 1 } };
        static const WorkloadSample after[] = { { .name = "job", .cls = CLASS_ONLINE, .tier = TIER_NORMAL, .nr_tasks = 1 } };
        Plan *p = make_plan(before, 1, 1.0);
        Plan *q = make_plan(after, 1, 1.0);
        assert_int_equal(apply(f, p, false), 0);
        assert_string_equal(fake_read(f, "", "offline/batch/job", "memory.low"), "0");
        assert_int_equal(apply(f, q, false), 0);
        assert_string_equal(fake_read(f, "", "online/normal/job", "memory.low"), "max");
        assert_string_equal(fake_read(f, "", "online/normal/job", "cpu.weight"), "100");
        assert_string_equal(fake_read(f, "", "online/normal/job", "cpu.idle"), "0");
        assert_int_equal(enforce_state_size(f->state), q->n_groups);
        plan_free(p);
        plan_free(q);
}

/* A knob file missing from a group that still exists (its controller not enabled there) fails
 * alone: retried next time, and only that knob; the group is not taken for a vanished directory
 * and rewritten whole every period. */
static void test_enforce_retries_only_a_missing_knob_file_v2(void **state) {
        Fake *f = *state;
        char dir[512], file[600];
        group_dir(f, "", "offline", dir, sizeof(dir));
        snprintf(file, sizeof(file), "%s/pids.max", dir);
        assert_int_equal(unlink(file), 0);

        Plan *p = make_plan(workloads, ELEMENTSOF(workloads), 1.5);
        assert_int_equal(apply(f, p, false), 1);
        ssize_t i = write_index(f, "offline", "pids.max");
        assert_true(i >= 0 && f->writes[i].r == -ENOENT);
        assert_int_equal(apply(f, p, false), 1);
        assert_int_equal(f->n_writes, 1);
        assert_int_equal(write_index(f, "offline", "pids.max"), 0);
        plan_free(p);
}

static void test_enforce_reports_failed_writes_with_their_path_v2(void **state) {
        Fake *f = *state;
        char dir[512], file[600];
        group_dir(f, "", "offline", dir, sizeof(dir));
        snprintf(file, sizeof(file), "%s/cpu.max", dir);
        assert_int_equal(unlink(file), 0);
        assert_int_equal(mkdir(file, 0755), 0);         /* open(O_WRONLY) fails with EISDIR */

        Plan *p = make_plan(workloads, ELEMENTSOF(workloads), 1.5);
        ColoError err = {};
        f->n_writes = 0;
        assert_int_equal(enforce_apply(f->root, p, f->state, record_write, f, &err), 1);
        assert_int_equal(failed_writes(f), 1);
        ssize_t i = write_index(f, "offline", "cpu.max");
        assert_true(i >= 0 && f->writes[i].r == -EISDIR);
        assert_non_null(strstr(err.msg, file));
        assert_int_equal(err.code, EISDIR);

        /* Retried next time, and only that knob. */
        assert_int_equal(apply(f, p, false), 1);
        assert_int_equal(f->n_writes, 1);
        plan_free(p);
}

/* Every knob file that a first apply writes, relative to the fake tree. */
typedef struct Snapshot {
        char file[WRITES_MAX][256];
        char value[WRITES_MAX][64];
        size_t n;
} Snapshot;

static void snapshot_written(const Fake *f, Snapshot *snap) {
        snap->n = 0;
        for (size_t i = 0; i < f->n_writes; i++) {
                const char *rel = f->writes[i].path + strlen(f->dir);
                if (strncmp(f->writes[i].path, f->dir, strlen(f->dir)) != 0)
                        continue;       /* /proc/<pid>/oom_score_adj: none here, the fake groups are empty */
                snprintf(snap->file[snap->n], sizeof(snap->file[0]), "%s", rel);
                snprintf(snap->value[snap->n], sizeof(snap->value[0]), "%s", f->writes[i].value);
                snap->n++;
        }
}

static void assert_tree_matches(const Fake *f, const Snapshot *snap) {
        for (size_t i = 0; i < snap->n; i++) {
                char p[600], buf[128] = "";
                snprintf(p, sizeof(p), "%s%s", f->dir, snap->file[i]);
                assert_true(read_small_file_at(AT_FDCWD, p, buf, sizeof(buf), NULL) >= 0);
                buf[strcspn(buf, "\n")] = '\0';
                if (strcmp(buf, snap->value[i]) != 0)
                        fail_msg("'%s' is '%s', want '%s'", snap->file[i], buf, snap->value[i]);
        }
}

/* Fault sweep: each knob file in turn refuses its write (a directory in its place, EISDIR). The
 * apply reports exactly that failure and still writes everything else; once the file is back, the
 * next apply writes only that knob, and the tree ends as a fault-free apply leaves it. One tree
 * serves every position: forgetting the state makes each round rewrite everything. */
static void failed_write_is_retried_alone_at_every_position(CgMode mode) {
        Plan *p = make_plan(workloads, ELEMENTSOF(workloads), 1.5);
        void *st = NULL;
        fake_setup(&st, mode, true);
        Fake *f = st;
        assert_int_equal(apply(f, p, false), 0);
        static Snapshot snap;
        snapshot_written(f, &snap);
        assert_true(snap.n > 10);

        for (size_t k = 0; k < snap.n; k++) {
                char victim[600];
                snprintf(victim, sizeof(victim), "%s%s", f->dir, snap.file[k]);
                assert_int_equal(unlink(victim), 0);
                assert_int_equal(mkdir(victim, 0755), 0);

                enforce_state_forget(f->state, NULL);
                assert_int_equal(apply(f, p, false), 1);
                assert_int_equal(failed_writes(f), 1);
                assert_int_equal(f->n_writes, snap.n);
                for (size_t i = 0; i < f->n_writes; i++)
                        if (f->writes[i].r < 0)
                                assert_string_equal(f->writes[i].path, victim);

                assert_int_equal(rmdir(victim), 0);
                FILE *fp = fopen(victim, "we");
                assert_non_null(fp);
                fclose(fp);
                assert_int_equal(apply(f, p, false), 0);
                if (f->n_writes != 1 || strcmp(f->writes[0].path, victim) != 0)
                        fail_msg("after fixing '%s': %zu writes, first '%s'", snap.file[k], f->n_writes,
                                 f->n_writes ? f->writes[0].path : "");
                assert_tree_matches(f, &snap);
                assert_int_equal(apply(f, p, false), 0);
                assert_int_equal(f->n_writes, 0);
        }
        teardown(&st);
        plan_free(p);
}

static void test_enforce_retries_only_the_failed_write_at_every_position_v2(void **state) {
        (void) state;
        failed_write_is_retried_alone_at_every_position(CG_MODE_V2);
}

static void test_enforce_retries_only_the_failed_write_at_every_position_v1(void **state) {
        (void) state;
        failed_write_is_retried_alone_at_every_position(CG_MODE_V1);
}

/* Puts back the kernel's defaults ("init" here) in every file of snap and gives f a fresh
 * EnforceState: the tree as before a first apply, without making it again. */
static void reset_tree(Fake *f, const Snapshot *snap) {
        for (size_t i = 0; i < snap->n; i++)
                fakefs_write(f->dir, snap->file[i] + 1, "init\n");
        enforce_state_free(f->state);
        f->state = enforce_state_new();
        assert_non_null(f->state);
}

/* Allocation failures by countdown (faultsim.h): the Nth allocation of enforce_apply() fails, N =
 * 1, 2, ... until an apply completes without one, once and persistently, each from a first
 * apply's start. An apply that met a failure reports it (-ENOMEM, or failed writes) and leaves no
 * partial state: the next apply, without failures, leaves the tree exactly as a fault-free first
 * apply does, and the one after writes nothing (what enforce remembers as applied is what is in
 * force). ASan's leak check at exit sees anything a failed apply did not free. */
static void apply_fails_cleanly_at_every_allocation(CgMode mode) {
        Plan *p = make_plan(workloads, ELEMENTSOF(workloads), 1.5);
        static Snapshot want;
        void *st = NULL;
        fake_setup(&st, mode, true);
        Fake *f = st;
        assert_int_equal(apply(f, p, false), 0);
        snapshot_written(f, &want);
        assert_true(want.n > 10);

        for (int persistent = 0; persistent < 2; persistent++) {
                unsigned n = 1;
                for (;; n++) {
                        reset_tree(f, &want);
                        ColoError err = {};
                        f->n_writes = 0;
                        faultsim_arm(n, persistent);
                        int r = enforce_apply(f->root, p, f->state, record_write, f, &err);
                        bool fired = faultsim_disarm();
                        if (fired && r == 0)
                                fail_msg("allocation %u failed (%s), yet enforce_apply() returned 0", n,
                                         persistent ? "and every later one" : "alone");
                        if (fired)
                                assert_int_equal(apply(f, p, false), 0);
                        assert_tree_matches(f, &want);
                        assert_int_equal(apply(f, p, false), 0);
                        assert_int_equal(f->n_writes, 0);
                        if (!fired)
                                break;
                }
                fprintf(stderr, "enforce_apply (%s): %u allocations\n", mode == CG_MODE_V2 ? "v2" : "v1", n - 1);
                assert_true(n > 1);
        }
        teardown(&st);
        plan_free(p);
}

static void test_enforce_apply_fails_cleanly_at_every_allocation_v2(void **state) {
        (void) state;
        apply_fails_cleanly_at_every_allocation(CG_MODE_V2);
}

static void test_enforce_apply_fails_cleanly_at_every_allocation_v1(void **state) {
        (void) state;
        apply_fails_cleanly_at_every_allocation(CG_MODE_V1);
}

/* The lender of test_enforce_applies_through_borrowed_handles_v1: one leaf's handle. */
typedef struct Lender {
        const char *path;
        CgGroup *group;
        int calls;
} Lender;

static CgGroup *lend(void *userdata, const char *path) {
        Lender *l = userdata;
        l->calls++;
        return strcmp(path, l->path) == 0 ? l->group : NULL;
}

static size_t writes_below(const Fake *f, const char *hierarchy, const char *path) {
        char dir[512];
        group_dir(f, hierarchy, path, dir, sizeof(dir));
        size_t n = 0, len = strlen(dir);
        for (size_t i = 0; i < f->n_writes; i++)
                n += strncmp(f->writes[i].path, dir, len) == 0 && f->writes[i].path[len] == '/' &&
                     !strchr(f->writes[i].path + len + 1, '/');
        return n;
}

static void test_enforce_applies_through_borrowed_handles_v1(void **state) {
        Fake *f = *state;
        ColoError err = {};
        Lender l = { .path = "offline/batch/etl" };
        assert_int_equal(cg_group_open(f->root, l.path, false, &l.group, &err), 0);
        enforce_state_set_group_lookup(f->state, lend, &l);

        Plan *p = make_plan(workloads, ELEMENTSOF(workloads), 1.5);
        assert_int_equal(apply(f, p, false), 0);
        assert_int_equal(failed_writes(f), 0);
        assert_true(l.calls >= (int) p->n_groups);
        assert_true(writes_below(f, "cpu", l.path) > 0);
        assert_string_equal(fake_read(f, "cpu", l.path, "cpu.shares"), u64str(cg_weight_to_shares(100)));
        assert_int_equal(apply(f, p, false), 0);
        assert_int_equal(f->n_writes, 0);

        /* Another handle for the same path may be a recreated directory: its knobs are rewritten. */
        CgGroup *first = l.group;
        assert_int_equal(cg_group_open(f->root, l.path, false, &l.group, &err), 0);
        assert_int_equal(apply(f, p, false), 0);
        assert_true(writes_below(f, "cpu", l.path) > 0);
        assert_int_equal(f->n_writes, writes_below(f, "cpu", l.path) + writes_below(f, "memory", l.path));
        assert_int_equal(apply(f, p, false), 0);
        assert_int_equal(f->n_writes, 0);
        cg_group_free(first);   /* enforce only borrowed it */

        /* No handle to lend any more: enforce opens its own and rewrites the group. */
        l.path = "none";
        assert_int_equal(apply(f, p, false), 0);
        assert_true(writes_below(f, "cpu", "offline/batch/etl") > 0);
        assert_int_equal(apply(f, p, false), 0);
        assert_int_equal(f->n_writes, 0);

        /* Removing the lookup leaves the state working on its own handles. */
        enforce_state_set_group_lookup(f->state, NULL, NULL);
        assert_int_equal(apply(f, p, false), 0);
        assert_int_equal(f->n_writes, 0);
        cg_group_free(l.group);
        plan_free(p);
}

static void test_enforce_rejects_a_path_planned_twice(void **state) {
        Fake *f = *state;
        Plan *p = make_plan(workloads, ELEMENTSOF(workloads), 1.5);
        memcpy(p->groups[p->n_groups - 1].path, p->groups[p->n_groups - 2].path, sizeof(p->groups[0].path));
        ColoError err = {};
        f->n_writes = 0;
        assert_int_equal(enforce_apply(f->root, p, f->state, record_write, f, &err), -EINVAL);
        assert_int_equal(f->n_writes, 0);
        assert_non_null(strstr(err.msg, "appears twice"));
        assert_int_equal(enforce_state_size(f->state), 0);
        assert_int_equal(enforce_apply(NULL, p, f->state, NULL, NULL, NULL), -EINVAL);
        assert_int_equal(enforce_apply(f->root, NULL, f->state, NULL, NULL, NULL), -EINVAL);
        assert_int_equal(enforce_apply(f->root, p, NULL, NULL, NULL, NULL), -EINVAL);
        plan_free(p);
}

static void test_enforce_state_free_accepts_null(void **state) {
        (void) state;
        assert_null(enforce_state_free(NULL));
        assert_int_equal(enforce_state_size(NULL), 0);
        enforce_state_forget(NULL, "x");
}

/* Each fixture test runs on a fresh populated tree (bare: the root group only) that teardown removes. */
#define TEST_V1(t) cmocka_unit_test_setup_teardown(t, setup_v1, teardown)
#define TEST_V2(t) cmocka_unit_test_setup_teardown(t, setup_v2, teardown)
#define TEST_V2_BARE(t) cmocka_unit_test_setup_teardown(t, setup_v2_bare, teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                TEST_V2(test_enforce_first_apply_writes_the_plan_v2),
                TEST_V1(test_enforce_first_apply_writes_the_plan_v1),
                TEST_V2(test_enforce_second_apply_of_the_same_plan_writes_nothing_v2),
                TEST_V1(test_enforce_second_apply_of_the_same_plan_writes_nothing_v1),
                TEST_V2(test_enforce_changed_budget_writes_only_cpu_max_v2),
                TEST_V1(test_enforce_changed_budget_writes_only_the_quota_v1),
                TEST_V2(test_enforce_dry_run_writes_nothing_v2),
                TEST_V1(test_enforce_dry_run_writes_nothing_v1),
                TEST_V2(test_enforce_reconcile_restores_a_changed_knob_v2),
                TEST_V1(test_enforce_reconcile_restores_a_changed_knob_v1),
                TEST_V1(test_enforce_reconcile_reads_nothing_in_a_dry_run_v1),
                TEST_V2_BARE(test_enforce_dry_run_does_not_create_groups_v2),
                TEST_V2(test_enforce_lowers_offline_limits_before_raising_online_guarantees_v2),
                TEST_V2_BARE(test_enforce_applies_a_foreign_tree_in_order_and_creates_nothing_v2),
                TEST_V2_BARE(test_enforce_creates_class_and_tier_parents_but_not_leaves_v2),
                TEST_V2(test_enforce_forgets_paths_no_longer_planned_v2),
                TEST_V2(test_enforce_new_paths_between_remembered_ones_keep_what_was_applied_v2),
                TEST_V2(test_enforce_forget_rewrites_the_group_v2),
                TEST_V2(test_enforce_moving_a_workload_between_classes_applies_the_new_leaf_v2),
                TEST_V2(test_enforce_retries_only_a_missing_knob_file_v2),
                TEST_V2(test_enforce_reports_failed_writes_with_their_path_v2),
                cmocka_unit_test(test_enforce_retries_only_the_failed_write_at_every_position_v2),
                cmocka_unit_test(test_enforce_retries_only_the_failed_write_at_every_position_v1),
                TEST_V1(test_enforce_applies_through_borrowed_handles_v1),
                TEST_V2(test_enforce_rejects_a_path_planned_twice),
                cmocka_unit_test(test_enforce_state_free_accepts_null),
                cmocka_unit_test(test_enforce_apply_fails_cleanly_at_every_allocation_v2),
                cmocka_unit_test(test_enforce_apply_fails_cleanly_at_every_allocation_v1),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
