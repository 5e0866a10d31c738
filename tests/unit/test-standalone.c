/* Unit tests of src/lib/workloads: tree paths and name generation (pure), discovery and creation
 * against a fake cgroup v2 tree of plain directories and files, the tracker's CPU rates and
 * adoption over the same fake tree, and the status document's JSON round trip and errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup/cgroup.h"
#include "fake-cgroup-root.h"
#include "fake-cgroupfs.h"
#include "workloads/session.h"
#include "workloads/snapshot.h"
#include "status/status-doc.h"
#include "workloads/tracker.h"
#include "workloads/tree.h"
#include "util/macro.h"

typedef struct Fake {
        char dir[64];
        char fs[PATH_MAX], proc[PATH_MAX];
        CgRoot *root;
} Fake;

/* A v2 group's files as the tracker reads them. */
static void fake_v2_group(Fake *f, const char *path, uint64_t cpu_usec, uint64_t mem, const char *procs) {
        char p[PATH_MAX], v[256];
#define W(file, content) (snprintf(p, sizeof(p), "fs/%s%s%s", path, path[0] ? "/" : "", file), fakefs_write(f->dir, p, content))
        snprintf(v, sizeof(v), "usage_usec %llu\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
                 (unsigned long long) cpu_usec);
        W("cpu.stat", v);
        snprintf(v, sizeof(v), "%llu\n", (unsigned long long) mem);
        W("memory.current", v);
        W("memory.max", "max\n");
        W("memory.stat", "anon 0\nfile 0\ninactive_file 4096\n");
        W("memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
        W("cgroup.procs", procs);
        W("cgroup.controllers", "cpuset cpu io memory pids\n");
        W("cgroup.subtree_control", "");
#undef W
}

static int setup_fake(void **state) {
        Fake *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        fakefs_mkdtemp(f->dir, sizeof(f->dir), "sa");
        snprintf(f->fs, sizeof(f->fs), "%s/fs", f->dir);
        snprintf(f->proc, sizeof(f->proc), "%s/proc", f->dir);
        fakefs_write(f->dir, "proc/self/cgroup", "0::/\n");
        fakefs_write(f->dir, "proc/meminfo", "MemTotal:       4000000 kB\nMemFree:        1000 kB\n"
                                      "MemAvailable:   3000000 kB\n");
        fake_v2_group(f, "", 0, 0, "");
        fake_v2_group(f, "colo", 0, 0, "");
        *state = f;
        return fake_root_open(f->dir, (CgRootOptions) { .mode = CG_MODE_V2, .create = true }, &f->root, NULL);
}

FAKE_ROOT_DEFINE_TEARDOWN(teardown_fake, Fake)

/* --- pure --- */

static void test_tree_paths_follow_the_layout(void **state) {
        (void) state;
        char buf[TREE_PATH_MAX];
        assert_int_equal(tree_workload_path(TIER_CRITICAL, "db", buf, sizeof(buf)), 0);
        assert_string_equal(buf, "online/critical/db");
        assert_int_equal(tree_workload_path(TIER_BEST_EFFORT, "x.1", buf, sizeof(buf)), 0);
        assert_string_equal(buf, "offline/best-effort/x.1");
        assert_int_equal(tree_workload_path(TIER_NORMAL, "..", buf, sizeof(buf)), -EINVAL);
        assert_int_equal(tree_workload_path(TIER_NORMAL, "a/b", buf, sizeof(buf)), -EINVAL);
        assert_int_equal(tree_workload_path(_TIER_MAX, "a", buf, sizeof(buf)), -EINVAL);
        assert_int_equal(tree_workload_path(TIER_NORMAL, "abc", buf, 8), -ENAMETOOLONG);
        assert_string_equal(tree_tier_path(TIER_BATCH), "offline/batch");
        assert_string_equal(tree_class_path(CLASS_ONLINE), "online");
        assert_null(tree_tier_path(_TIER_INVALID));
}

static void test_tree_parse_path_accepts_only_leaves(void **state) {
        (void) state;
        static const struct {
                const char *path;
                int r;
                WorkloadClass cls;
                WorkloadTier tier;
                const char *name;
        } cases[] = {
                { "online/normal/web", 0, CLASS_ONLINE, TIER_NORMAL, "web" },
                { "offline/best-effort/j-1", 0, CLASS_OFFLINE, TIER_BEST_EFFORT, "j-1" },
                { "online/batch/web", -EINVAL },        /* tier of the other class */
                { "offline/normal/web", -EINVAL },
                { "online/normal", -EINVAL },           /* a tier parent, not a leaf */
                { "online/normal/web/sub", -EINVAL },
                { "online/normal/", -EINVAL },
                { "online/normal/..", -EINVAL },
                { "online/norm/web", -EINVAL },
                { "", -EINVAL },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                TreeWorkload w = {};
                assert_int_equal(tree_parse_path(cases[i].path, &w), cases[i].r);
                if (cases[i].r < 0)
                        continue;
                assert_int_equal(w.cls, cases[i].cls);
                assert_int_equal(w.tier, cases[i].tier);
                assert_string_equal(w.name, cases[i].name);
                assert_string_equal(w.path, cases[i].path);
        }
        assert_int_equal(tree_parse_path(NULL, &(TreeWorkload) {}), -EINVAL);
}

static void test_generated_names_are_valid_and_derived_from_the_command(void **state) {
        (void) state;
        static const struct {
                const char *command;
                uint32_t suffix;
                const char *name;
        } cases[] = {
                { "/usr/bin/stress-ng", 0x1a2b, "stress-ng-1a2b" },
                { "memcached", 0, "memcached-0" },
                { "./my job!", 0xff, "my_job_-ff" },            /* runs of odd characters collapse */
                { "..hidden", 1, "hidden-1" },                  /* no leading dots */
                { "...", 2, "cmd-2" },
                { "", 3, "cmd-3" },
                { "/usr/bin/", 4, "cmd-4" },
                { "sh", 0xffffffff, "sh-ffffffff" },
                { "/opt/memory.hog", 5, "memory_hog-5" },       /* not a cgroup file's name */
                { "backup.sh", 6, "backup.sh-6" },
                { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 7,
                  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-7" },  /* 40 characters kept */
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char buf[WORKLOAD_NAME_MAX];
                assert_int_equal(tree_generate_name(cases[i].command, cases[i].suffix, buf, sizeof(buf)), 0);
                assert_string_equal(buf, cases[i].name);
                assert_true(workload_name_is_valid(buf));
        }
        char small[4];
        assert_int_equal(tree_generate_name("abcdef", 1, small, sizeof(small)), -ENAMETOOLONG);
        assert_int_equal(tree_generate_name(NULL, 5, (char[WORKLOAD_NAME_MAX]) {}, WORKLOAD_NAME_MAX), 0);
}

/* --- the tree on a fake v2 hierarchy --- */

static void test_discover_lists_workload_leaves_sorted_v2(void **state) {
        Fake *f = *state;
        fakefs_mkdir(f->dir, "fs/colo/online/normal/web");
        fakefs_mkdir(f->dir, "fs/colo/online/critical/db");
        fakefs_mkdir(f->dir, "fs/colo/offline/batch/job1");
        fakefs_mkdir(f->dir, "fs/colo/offline/best-effort/a-job");
        fakefs_mkdir(f->dir, "fs/colo/offline/batch/bad name");       /* not a workload name: skipped */
        fakefs_mkdir(f->dir, "fs/colo/online/normal/web/nested");     /* below a leaf: not a workload */
        fakefs_mkdir(f->dir, "fs/colo/elsewhere/normal/x");           /* not a class parent */
        fakefs_mkdir(f->dir, "fs/colo/offline/best-effort/web");      /* an interrupted move: listed twice */

        TreeWorkload *list = NULL;
        size_t n = 0;
        ColoError err = {};
        assert_int_equal(tree_discover(f->root, &list, &n, &err), 0);
        static const struct {
                const char *name, *path;
                WorkloadClass cls;
        } want[] = {
                { "a-job", "offline/best-effort/a-job", CLASS_OFFLINE },
                { "db", "online/critical/db", CLASS_ONLINE },
                { "job1", "offline/batch/job1", CLASS_OFFLINE },
                { "web", "online/normal/web", CLASS_ONLINE },
                { "web", "offline/best-effort/web", CLASS_OFFLINE },
        };
        assert_int_equal(n, ELEMENTSOF(want));
        for (size_t i = 0; i < n; i++) {
                assert_string_equal(list[i].name, want[i].name);
                assert_string_equal(list[i].path, want[i].path);
                assert_int_equal(list[i].cls, want[i].cls);
        }
        free(list);

        TreeWorkload found[4];
        assert_int_equal(tree_find(f->root, "web", found, ELEMENTSOF(found), &err), 2);
        assert_int_equal(tree_find(f->root, "nothing", found, ELEMENTSOF(found), &err), 0);
        assert_int_equal(tree_find(f->root, "a/b", found, ELEMENTSOF(found), &err), -EINVAL);
}

static void test_discover_on_an_empty_root_finds_nothing_v2(void **state) {
        Fake *f = *state;
        TreeWorkload *list = (TreeWorkload *) 1;
        size_t n = 99;
        assert_int_equal(tree_discover(f->root, &list, &n, NULL), 0);
        assert_int_equal(n, 0);
        assert_null(list);
}

static void test_create_makes_parents_and_refuses_a_used_name_v2(void **state) {
        Fake *f = *state;
        ColoError err = {};
        assert_int_equal(tree_create_workload(f->root, TIER_BATCH, "job", NULL, &err), 0);
        assert_true(fakefs_exists(f->dir, "fs/colo/offline/batch/job"));
        fakefs_write(f->dir, "fs/colo/offline/batch/job/cgroup.procs", "42\n");   /* it has a process */
        for (int t = 0; t < _TIER_MAX; t++) {
                char p[PATH_MAX];
                snprintf(p, sizeof(p), "fs/colo/%s", tree_tier_path((WorkloadTier) t));
                assert_true(fakefs_exists(f->dir, p));
        }
        /* The same name under another tier or class is refused, and nothing is created. */
        assert_int_equal(tree_create_workload(f->root, TIER_NORMAL, "job", NULL, &err), -EEXIST);
        assert_non_null(strstr(err.msg, "job"));
        assert_false(fakefs_exists(f->dir, "fs/colo/online/normal/job"));
        assert_int_equal(tree_create_workload(f->root, TIER_BATCH, "bad/name", NULL, &err), -EINVAL);
        assert_int_equal(tree_create_workload(f->root, _TIER_INVALID, "x", NULL, &err), -EINVAL);
        assert_false(fakefs_exists(f->dir, "fs/colo/online/normal/x"));

        assert_int_equal(tree_move_workload(f->root, "absent", TIER_NORMAL, &err), -ENOENT);
        assert_int_equal(tree_remove_if_empty(f->root, "offline/batch/gone", &err), 1);
}

/* --- the tracker --- */

static void test_tracker_adopts_workloads_and_computes_cpu_rates_v2(void **state) {
        Fake *f = *state;
        ColoError err = {};
        fake_v2_group(f, "colo/online", 0, 0, "");
        fake_v2_group(f, "colo/offline", 0, 0, "");
        fake_v2_group(f, "colo/online/normal/web", 1000000, 50 << 20, "10\n11\n");
        fake_v2_group(f, "colo/offline/batch/job", 0, 0, "");

        Tracker *t = NULL;
        TrackerOptions o = { .proc_root = f->proc, .cpu_capacity_cores = 4 };
        assert_int_equal(tracker_new(f->root, &o, &t, &err), 0);
        assert_int_equal(tracker_refresh(t, 1000000, NULL, NULL, &err), 2);
        assert_int_equal(tracker_refresh(t, 1000000, NULL, NULL, &err), 0);   /* steady: no change */
        assert_int_equal(tracker_count(t), 2);
        assert_int_equal(tracker_sample(t, 1000000, &err), 0);

        /* One second later: web used 0.5 s of CPU, the online parent 1.5 s. */
        fake_v2_group(f, "colo/online/normal/web", 1500000, 50 << 20, "10\n11\n");
        fake_v2_group(f, "colo/online", 1500000, 60 << 20, "");
        assert_int_equal(tracker_sample(t, 2000000, &err), 0);
        const NodeSample *s = tracker_node(t);
        assert_int_equal(s->n_workloads, 2);
        assert_true(fabs(s->cpu_capacity_cores - 4) < 1e-9);
        assert_int_equal(s->mem_available, 3000000ULL * 1024);
        assert_int_equal(s->mem_capacity, 4000000ULL * 1024);
        int web = tracker_find(t, "web");
        assert_true(web >= 0);
        assert_string_equal(s->workloads[web].name, "web");
        assert_true(fabs(s->workloads[web].cpu_usage_cores - 0.5) < 1e-9);
        assert_int_equal(s->workloads[web].mem_working_set, (50 << 20) - 4096);
        assert_int_equal(s->workloads[web].nr_tasks, 2);
        assert_true(fabs(s->online_cpu_usage - 1.5) < 1e-9);
        assert_int_equal(s->online_mem_working_set, (60 << 20) - 4096);

        TrackedWorkload *job = tracker_get(t, (size_t) tracker_find(t, "job"));
        assert_non_null(job);
        assert_false(job->ever_populated);
        assert_int_equal(job->empty_since_usec, 1000000);

        /* Handles by leaf path, for enforce to borrow; anything but a tracked leaf has none. */
        assert_ptr_equal(tracker_workload_group(t, "online/normal/web"), tracker_get(t, (size_t) web)->group);
        assert_ptr_equal(tracker_workload_group(t, "offline/batch/job"), job->group);
        assert_null(tracker_workload_group(t, "offline/best-effort/job"));
        assert_null(tracker_workload_group(t, "online/normal"));
        assert_null(tracker_workload_group(t, "online"));
        assert_null(tracker_workload_group(t, ""));
        assert_null(tracker_workload_group(t, NULL));

        /* A workload moved to another tier is dropped and adopted under its new path. */
        char old[PATH_MAX];
        snprintf(old, sizeof(old), "%s/colo/offline/batch/job", f->fs);
        (void) fakefs_remove_tree(old);
        fake_v2_group(f, "colo/offline/best-effort/job", 0, 0, "42\n");
        assert_int_equal(tracker_refresh(t, 3000000, NULL, NULL, &err), 2);
        job = tracker_get(t, (size_t) tracker_find(t, "job"));
        assert_int_equal(job->id.tier, TIER_BEST_EFFORT);
        assert_null(tracker_workload_group(t, "offline/batch/job"));
        assert_ptr_equal(tracker_workload_group(t, "offline/best-effort/job"), job->group);
        assert_int_equal(tracker_sample(t, 3000000, &err), 0);
        assert_true(job->ever_populated);
        tracker_free(t);
}

/* A source shaped like Kubernetes mode's: pods at kubelet-like paths, no class parents. */
static int list_pods(void *userdata, CgRoot *root, SourceWorkload **ret, size_t *ret_n, ColoError *err) {
        static const SourceWorkload pods[] = {
                { .id = { "podc", CLASS_OFFLINE, TIER_BATCH, "besteffort/podc" } },     /* no cgroup yet */
                { .id = { "podb", CLASS_ONLINE, TIER_NORMAL, "burstable/podb" }, .cpu_limit_cores = 2.0, .mem_limit = 1 << 30 },
                { .id = { "poda", CLASS_OFFLINE, TIER_BATCH, "besteffort/poda" } },
        };
        (void) userdata;
        (void) root;
        (void) err;
        *ret = malloc(sizeof(pods));
        assert_non_null(*ret);
        memcpy(*ret, pods, sizeof(pods));
        *ret_n = ELEMENTSOF(pods);
        return 0;
}

static void test_tracker_samples_a_source_whose_online_is_the_rest_v2(void **state) {
        Fake *f = *state;
        ColoError err = {};
        static const WorkloadSourceOps ops = { .name = "pods", .class_usage = SOURCE_ONLINE_IS_THE_REST, .list = list_pods };
        WorkloadSource source = { .ops = &ops };
        fake_v2_group(f, "colo/besteffort/poda", 0, 20 << 20, "7\n");
        fake_v2_group(f, "colo/burstable/podb", 0, 30 << 20, "8\n");

        Tracker *t = NULL;
        TrackerOptions o = { .proc_root = f->proc, .source = &source };
        assert_int_equal(tracker_new(f->root, &o, &t, &err), 0);
        assert_int_equal(tracker_refresh(t, 1000000, NULL, NULL, &err), 2);    /* podc has no cgroup */
        assert_int_equal(tracker_sample(t, 1000000, &err), 0);

        /* One second later: the root used 1.5 s of CPU, the offline pod 0.5 s. */
        fake_v2_group(f, "colo/besteffort/poda", 500000, 20 << 20, "7\n");
        fake_v2_group(f, "colo", 1500000, 100 << 20, "");
        assert_int_equal(tracker_sample(t, 2000000, &err), 0);
        const NodeSample *s = tracker_node(t);
        assert_int_equal(s->n_workloads, 2);
        assert_true(fabs(s->offline_cpu_usage - 0.5) < 1e-9);
        assert_true(fabs(s->online_cpu_usage - 1.0) < 1e-9);           /* the rest of the root */
        assert_int_equal(s->offline_mem_working_set, (20 << 20) - 4096);
        assert_int_equal(s->online_mem_working_set, (100 << 20) - (20 << 20));
        const WorkloadSample *b = &s->workloads[tracker_find(t, "podb")];
        assert_true(b->cpu_limit_cores == 2.0 && b->mem_limit == 1 << 30);     /* the source's limits */
        assert_null(tracker_class_group(t, CLASS_ONLINE));              /* no class parents opened */
        /* Handles by the source's paths. */
        assert_ptr_equal(tracker_workload_group(t, "besteffort/poda"), tracker_get(t, (size_t) tracker_find(t, "poda"))->group);
        assert_null(tracker_workload_group(t, "besteffort/podc"));

        /* The missing cgroup appears: adopted at the next refresh. */
        fake_v2_group(f, "colo/besteffort/podc", 0, 0, "");
        assert_int_equal(tracker_refresh(t, 3000000, NULL, NULL, &err), 1);
        assert_non_null(tracker_workload_group(t, "besteffort/podc"));
        tracker_free(t);
}

/* The pods of list_pods() and, once *(bool *) userdata, one more online pod "podd". */
static int list_pods_then_podd(void *userdata, CgRoot *root, SourceWorkload **ret, size_t *ret_n, ColoError *err) {
        int r = list_pods(NULL, root, ret, ret_n, err);
        if (r < 0 || !*(bool *) userdata)
                return r;
        SourceWorkload *more = realloc(*ret, (*ret_n + 1) * sizeof(**ret));
        assert_non_null(more);
        more[(*ret_n)++] = (SourceWorkload) { .id = { "podd", CLASS_ONLINE, TIER_NORMAL, "burstable/podd" } };
        *ret = more;
        return 0;
}

static void fake_pressure(Fake *f, const char *path, const char *file, double avg10, uint64_t total) {
        char p[PATH_MAX], v[256];
        snprintf(p, sizeof(p), "fs/%s/%s", path, file);
        snprintf(v, sizeof(v), "some avg10=%.2f avg60=0.00 avg300=0.00 total=%llu\nfull avg10=0.00 avg60=0.00 avg300=0.00 "
                 "total=0\n", avg10, (unsigned long long) total);
        fakefs_write(f->dir, p, v);
}

/* Online pods have no common parent, and the root's pressure counts the offline pods' stalls too:
 * the online pressure is, each interval, the stall of the most stalled online pod. */
static void test_tracker_online_pressure_is_the_most_stalled_online_workload_v2(void **state) {
        Fake *f = *state;
        ColoError err = {};
        static const WorkloadSourceOps ops = { .name = "pods", .class_usage = SOURCE_ONLINE_IS_THE_REST,
                                               .list = list_pods_then_podd };
        bool with_podd = false;
        WorkloadSource source = { .ops = &ops, .userdata = &with_podd };
        fake_v2_group(f, "colo/besteffort/poda", 0, 0, "7\n");
        fake_v2_group(f, "colo/burstable/podb", 0, 0, "8\n");
        fake_v2_group(f, "colo/besteffort/podc", 0, 0, "9\n");
        fake_pressure(f, "colo/burstable/podb", "cpu.pressure", 1.0, 1000000);
        fake_pressure(f, "colo/burstable/podb", "io.pressure", 0.5, 2000000);
        fake_pressure(f, "colo/besteffort/poda", "cpu.pressure", 90.0, 5000000);    /* offline: ignored */
        fake_pressure(f, "colo", "cpu.pressure", 90.0, 5000000);                    /* the root: ignored */
        Tracker *t = NULL;
        TrackerOptions o = { .proc_root = f->proc, .source = &source };
        assert_int_equal(tracker_new(f->root, &o, &t, &err), 0);
        assert_int_equal(tracker_refresh(t, 1000000, NULL, NULL, &err), 3);
        assert_int_equal(tracker_sample(t, 1000000, &err), 0);
        const NodeSample *s = tracker_node(t);
        assert_true(s->online_cpu_pressure.valid && s->online_io_pressure.valid);
        uint64_t cpu0 = s->online_cpu_pressure.some_total_usec, io0 = s->online_io_pressure.some_total_usec;

        /* One second later podb stalled 30 ms on CPU and 5 ms on IO; the offline pod and the root a
         * whole second: the online pressure grows by podb's stall only. */
        fake_pressure(f, "colo/burstable/podb", "cpu.pressure", 3.0, 1030000);
        fake_pressure(f, "colo/burstable/podb", "io.pressure", 0.5, 2005000);
        fake_pressure(f, "colo/besteffort/poda", "cpu.pressure", 95.0, 6000000);
        fake_pressure(f, "colo", "cpu.pressure", 95.0, 6000000);
        assert_int_equal(tracker_sample(t, 2000000, &err), 0);
        s = tracker_node(t);
        assert_int_equal(s->online_cpu_pressure.some_total_usec - cpu0, 30000);
        assert_int_equal(s->online_io_pressure.some_total_usec - io0, 5000);
        assert_true(fabs(s->online_cpu_pressure.some_avg10 - 3.0) < 1e-9);

        /* A second online pod that stalls more this interval sets the growth; the counter never
         * goes back when a pod's own counter restarts lower (a new cgroup of the same pod). */
        with_podd = true;
        fake_v2_group(f, "colo/burstable/podd", 0, 0, "10\n");
        fake_pressure(f, "colo/burstable/podd", "cpu.pressure", 0.0, 0);
        assert_int_equal(tracker_refresh(t, 3000000, NULL, NULL, &err), 1);
        assert_int_equal(tracker_sample(t, 3000000, &err), 0);
        uint64_t cpu1 = tracker_node(t)->online_cpu_pressure.some_total_usec;
        fake_pressure(f, "colo/burstable/podb", "cpu.pressure", 1.0, 1040000);      /* +10 ms */
        fake_pressure(f, "colo/burstable/podd", "cpu.pressure", 8.0, 80000);        /* +80 ms */
        assert_int_equal(tracker_sample(t, 4000000, &err), 0);
        assert_int_equal(tracker_node(t)->online_cpu_pressure.some_total_usec - cpu1, 80000);
        fake_pressure(f, "colo/burstable/podb", "cpu.pressure", 0.0, 100);          /* restarted */
        fake_pressure(f, "colo/burstable/podd", "cpu.pressure", 0.0, 80000);
        assert_int_equal(tracker_sample(t, 5000000, &err), 0);
        assert_int_equal(tracker_node(t)->online_cpu_pressure.some_total_usec - cpu1, 80000);
        tracker_free(t);
}

/* memory.stat is read at adoption and every TRACKER_WORKING_SET_EVERY samples; in between the
 * working set follows the fresh usage minus the last inactive file cache read. */
static void test_tracker_reads_workload_memory_stat_every_few_samples_v2(void **state) {
        Fake *f = *state;
        ColoError err = {};
        fake_v2_group(f, "colo/online/normal/web", 0, 50 << 20, "10\n");
        Tracker *t = NULL;
        TrackerOptions o = { .proc_root = f->proc, .cpu_capacity_cores = 4 };
        assert_int_equal(tracker_new(f->root, &o, &t, &err), 0);
        assert_int_equal(tracker_refresh(t, 1000000, NULL, NULL, &err), 1);
        assert_int_equal(tracker_sample(t, 1000000, &err), 0);
        assert_int_equal(tracker_node(t)->workloads[0].mem_working_set, (50 << 20) - 4096);

        fakefs_write(f->dir, "fs/colo/online/normal/web/memory.stat", "anon 0\nfile 0\ninactive_file 1048576\n");
        int stale = 0;
        for (int k = 1; k <= TRACKER_WORKING_SET_EVERY; k++) {
                char v[32];
                uint64_t usage = (uint64_t) (50 + k) << 20;
                snprintf(v, sizeof(v), "%llu\n", (unsigned long long) usage);
                fakefs_write(f->dir, "fs/colo/online/normal/web/memory.current", v);
                assert_int_equal(tracker_sample(t, 1000000 + (uint64_t) k * 1000000, &err), 0);
                uint64_t ws = tracker_node(t)->workloads[0].mem_working_set;
                if (ws == usage - 1048576)
                        break;
                assert_int_equal(ws, usage - 4096);     /* fresh usage, last inactive */
                stale++;
        }
        /* Re-read within TRACKER_WORKING_SET_EVERY samples, but not at every one. */
        assert_true(stale >= 1 && stale < TRACKER_WORKING_SET_EVERY);

        /* A workload adopted later has its memory.stat read at once. */
        fake_v2_group(f, "colo/offline/batch/job", 0, 8 << 20, "11\n");
        assert_int_equal(tracker_refresh(t, 9000000, NULL, NULL, &err), 1);
        assert_int_equal(tracker_sample(t, 9000000, &err), 0);
        int job = tracker_find(t, "job");
        assert_true(job >= 0);
        assert_int_equal(tracker_node(t)->workloads[job].mem_working_set, (8 << 20) - 4096);
        tracker_free(t);
}

/* --- the status document --- */

static void fill_doc(StatusDoc *d) {
        *d = (StatusDoc) {
                .agent_pid = 4242,
                .dry_run = true,
                .updated_realtime_usec = 1700000000123456ULL,
                .period_usec = 1000000,
                .cpu_capacity_cores = 2,
                .mem_capacity = 24ULL << 30,
                .mem_available = 20ULL << 30,
                .online_cpu_usage_cores = 0.75,
                .online_mem_working_set = 1ULL << 30,
                .offline_cpu_usage_cores = 1.125,
                .offline_mem_working_set = 3ULL << 30,
                .offline_cpu_budget_cores = 0.9,
                .offline_cpu_quota_enforced = 0,
                .offline_mem_budget = 18ULL << 30,
                .has_predicted_peak = true,
                .online_estimate_cpu_cores = 1.25,
                .online_estimate_mem_bytes = 2ULL << 30,
                .squeezed = true,
                .evictions_total = 3,
        };
        snprintf(d->subtree, sizeof(d->subtree), "colo");
        snprintf(d->cgroup_root, sizeof(d->cgroup_root), "cpu=/sys/fs/cgroup/cpu/colo \"quoted\"");
        snprintf(d->cgroup_mode, sizeof(d->cgroup_mode), "v1");
        snprintf(d->estimate_source, sizeof(d->estimate_source), "profiles");
        snprintf(d->squeeze_reason, sizeof(d->squeeze_reason), "MemAvailable 400Mi below the watermark 512Mi");
        d->protections_checked = true;
        d->isolation_in_force = false;
        d->n_protections = 2;
        d->protections[0] = (StatusProtection) { .name = "cpu", .in_force = true };
        d->protections[1] = (StatusProtection) { .name = "memory", .cgroup = "/sys/fs/cgroup/colo.service/colo",
                                                 .cause = "'/sys/fs/cgroup/colo.service' still holds processes (42)",
                                                 .fix = "let colo be the only process of its unit" };
        assert_int_equal(status_doc_reserve(d, 2), 0);
        d->n_workloads = 2;
        d->workloads[0] = (StatusWorkload) { .name = "web", .cls = CLASS_ONLINE, .tier = TIER_CRITICAL,
                                             .cpu_usage_cores = 0.5, .mem_usage = 100, .mem_working_set = 90,
                                             .nr_tasks = 4, .state = WORKLOAD_RUNNING };
        d->workloads[1] = (StatusWorkload) { .name = "hog", .cls = CLASS_OFFLINE, .tier = TIER_BEST_EFFORT,
                                             .mem_usage = 5ULL << 30, .mem_working_set = 4ULL << 30,
                                             .state = WORKLOAD_EVICTED, .evicted_realtime_usec = 1700000000000000ULL,
                                             .reason = "online memory pressure 45% (some avg10)" };
}

static void test_status_doc_round_trips_through_json(void **state) {
        (void) state;
        StatusDoc d, back = {};
        fill_doc(&d);
        char *json = NULL;
        ColoError err = {};
        assert_int_equal(status_doc_to_json(&d, &json, &err), 0);
        assert_int_equal(status_doc_from_json(json, strlen(json), &back, &err), 0);

        assert_int_equal(back.agent_pid, d.agent_pid);
        assert_true(back.dry_run);
        assert_int_equal(back.updated_realtime_usec, d.updated_realtime_usec);
        assert_int_equal(back.period_usec, d.period_usec);
        assert_string_equal(back.subtree, d.subtree);
        assert_string_equal(back.cgroup_root, d.cgroup_root);
        assert_string_equal(back.cgroup_mode, d.cgroup_mode);
        assert_true(back.cpu_capacity_cores == d.cpu_capacity_cores);
        assert_int_equal(back.mem_capacity, d.mem_capacity);
        assert_int_equal(back.mem_available, d.mem_available);
        assert_true(back.online_cpu_usage_cores == d.online_cpu_usage_cores);
        assert_int_equal(back.online_mem_working_set, d.online_mem_working_set);
        assert_true(back.offline_cpu_usage_cores == d.offline_cpu_usage_cores);
        assert_int_equal(back.offline_mem_working_set, d.offline_mem_working_set);
        assert_true(back.offline_cpu_budget_cores == d.offline_cpu_budget_cores);
        assert_int_equal(back.offline_cpu_quota_enforced, 0);
        assert_int_equal(back.offline_mem_budget, d.offline_mem_budget);
        assert_string_equal(back.estimate_source, d.estimate_source);
        assert_true(back.has_predicted_peak);
        assert_true(back.online_estimate_cpu_cores == d.online_estimate_cpu_cores);
        assert_int_equal(back.online_estimate_mem_bytes, d.online_estimate_mem_bytes);
        assert_true(back.squeezed);
        assert_string_equal(back.squeeze_reason, d.squeeze_reason);
        assert_int_equal(back.evictions_total, 3);
        assert_true(back.protections_checked);
        assert_false(back.isolation_in_force);
        assert_int_equal(back.n_protections, 2);
        for (size_t i = 0; i < 2; i++) {
                const StatusProtection *a = &d.protections[i], *b = &back.protections[i];
                assert_string_equal(a->name, b->name);
                assert_int_equal(a->in_force, b->in_force);
                assert_string_equal(a->cgroup, b->cgroup);
                assert_string_equal(a->cause, b->cause);
                assert_string_equal(a->fix, b->fix);
        }
        assert_int_equal(back.n_workloads, 2);
        for (size_t i = 0; i < 2; i++) {
                const StatusWorkload *a = &d.workloads[i], *b = &back.workloads[i];
                assert_string_equal(a->name, b->name);
                assert_int_equal(a->cls, b->cls);
                assert_int_equal(a->tier, b->tier);
                assert_true(a->cpu_usage_cores == b->cpu_usage_cores);
                assert_int_equal(a->mem_usage, b->mem_usage);
                assert_int_equal(a->mem_working_set, b->mem_working_set);
                assert_int_equal(a->nr_tasks, b->nr_tasks);
                assert_int_equal(a->state, b->state);
                assert_string_equal(a->reason, b->reason);
                assert_int_equal(a->evicted_realtime_usec, b->evicted_realtime_usec);
        }
        assert_non_null(status_doc_find(&back, "hog"));
        assert_null(status_doc_find(&back, "nope"));
        free(json);
        status_doc_done(&back);
        status_doc_done(&d);
        assert_null(d.workloads);
}

/* The workloads are streamed into the text one at a time; the text must still be exactly what
 * jansson prints for the whole document, with none, one or several workloads. */
static void test_status_doc_json_is_what_jansson_prints_for_the_whole_tree(void **state) {
        (void) state;
        StatusDoc d;
        fill_doc(&d);
        snprintf(d.workloads[0].reason, sizeof(d.workloads[0].reason), "two\nlines, \"quoted\"\ttab");
        for (size_t n = 0; n <= 2; n++) {
                d.n_workloads = n;
                char *json = NULL;
                ColoError err = {};
                assert_int_equal(status_doc_to_json(&d, &json, &err), 0);
                json_error_t jerr;
                json_t *tree = json_loads(json, 0, &jerr);
                assert_non_null(tree);
                assert_int_equal(json_array_size(json_object_get(tree, "workloads")), n);
                char *expected = json_dumps(tree, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                assert_non_null(expected);
                assert_string_equal(json, expected);
                free(expected);
                json_decref(tree);
                free(json);
        }
        status_doc_done(&d);
}

/* Replaces the first occurrence of from in text by to, in a new buffer. */
static char *replace(const char *text, const char *from, const char *to) {
        const char *at = strstr(text, from);
        assert_non_null(at);
        size_t n = strlen(text) - strlen(from) + strlen(to);
        char *out = malloc(n + 1);
        assert_non_null(out);
        snprintf(out, n + 1, "%.*s%s%s", (int) (at - text), text, to, at + strlen(from));
        return out;
}

static void test_status_doc_rejects_bad_documents_naming_the_field(void **state) {
        (void) state;
        StatusDoc d;
        fill_doc(&d);
        char *json = NULL;
        assert_int_equal(status_doc_to_json(&d, &json, NULL), 0);
        static const struct {
                const char *from, *to, *message;
        } cases[] = {
                { "\"version\": 1", "\"version\": 2", "version 2" },
                { "\"pid\": 4242", "\"pid\": -1", "agent.pid" },
                { "\"cpu_capacity_cores\": 2.0", "\"cpu_capacity_cores\": \"2\"", "node.cpu_capacity_cores" },
                { "\"memory_budget_bytes\"", "\"memory_budget\"", "offline.memory_budget_bytes" },
                { "\"state\": \"evicted\"", "\"state\": \"sleeping\"", "workloads[1].state" },
                { "\"name\": \"hog\"", "\"name\": \"../hog\"", "workloads[1].name" },
                { "\"tier\": \"critical\"", "\"tier\": \"batch\"", "workloads[0]" },
                { "\"squeezed\": true", "\"squeezed\": 1", "offline.squeezed" },
                { "\"cpu_quota_enforced\": false", "\"cpu_quota_enforced\": 0", "offline.cpu_quota_enforced" },
                { "\"workloads\": [", "\"workloads\": {\"x\": [", "line" },
                { "\"in_force\": false", "\"in_force\": \"no\"", "protections.checked[1].in_force" },
                { "\"isolation_in_force\": false", "\"isolation_in_force\": 0", "protections.isolation_in_force" },
                { "\"protections\": {", "\"protections\": [1], \"x\": {", "protections" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *bad = replace(json, cases[i].from, cases[i].to);
                StatusDoc out = { .agent_pid = 77 };
                ColoError err = {};
                assert_int_equal(status_doc_from_json(bad, strlen(bad), &out, &err), -EBADMSG);
                if (!strstr(err.msg, cases[i].message))
                        fail_msg("case %zu: '%s' does not mention '%s'", i, err.msg, cases[i].message);
                assert_int_equal(out.agent_pid, 77);    /* untouched on error */
                free(bad);
        }
        ColoError err = {};
        StatusDoc out = {};
        assert_int_equal(status_doc_from_json("[]", 2, &out, &err), -EBADMSG);
        assert_int_equal(status_doc_from_json("", 0, &out, &err), -EBADMSG);
        /* Unknown fields are ignored: a newer agent may add some. */
        char *extra = replace(json, "\"version\": 1", "\"future\": {\"x\": 1}, \"version\": 1");
        assert_int_equal(status_doc_from_json(extra, strlen(extra), &out, &err), 0);
        assert_int_equal(out.n_workloads, 2);
        assert_int_equal(out.offline_cpu_quota_enforced, 0);
        status_doc_done(&out);
        free(extra);
        /* A field added after version 1 may be missing (an older agent): "not reported", and the
         * same document without it again when encoded. */
        char *older = replace(json, "\"cpu_quota_enforced\": false,", "");
        out = (StatusDoc) {};
        assert_int_equal(status_doc_from_json(older, strlen(older), &out, &err), 0);
        assert_int_equal(out.offline_cpu_quota_enforced, -1);
        char *again = NULL;
        assert_int_equal(status_doc_to_json(&out, &again, &err), 0);
        assert_null(strstr(again, "cpu_quota_enforced"));
        free(again);
        status_doc_done(&out);
        free(older);
        free(json);
        status_doc_done(&d);
}

static void test_fill_status_without_a_plan_reports_running_and_formula_budgets(void **state) {
        (void) state;
        WorkloadSample ws[] = {
                { .name = "web", .cls = CLASS_ONLINE, .tier = TIER_NORMAL, .cpu_usage_cores = 0.5, .nr_tasks = 1 },
                { .name = "job", .cls = CLASS_OFFLINE, .tier = TIER_BATCH, .cpu_usage_cores = 1.0, .nr_tasks = 2 },
        };
        NodeSample s = { .cpu_capacity_cores = 2, .mem_capacity = 8ULL << 30, .mem_available = 6ULL << 30,
                         .online_cpu_usage = 0.5, .offline_cpu_usage = 1.0, .workloads = ws, .n_workloads = 2 };
        OnlineEstimate est = { .cpu_cores = 0.8, .mem_bytes = 1ULL << 30 };
        PolicyConfig cfg;
        policy_config_init_defaults(&cfg);
        StatusDoc d = {};
        assert_int_equal(snapshot_fill_status(&d, &s, &est, &cfg, NULL), 0);
        assert_int_equal(d.n_workloads, 2);
        assert_string_equal(d.workloads[1].name, "job");
        assert_int_equal(d.workloads[1].state, WORKLOAD_RUNNING);
        assert_int_equal(d.workloads[1].nr_tasks, 2);
        assert_true(fabs(d.offline_cpu_budget_cores - policy_offline_cpu_budget(&s, &est, &cfg)) < 1e-12);
        assert_int_equal(d.offline_mem_budget, policy_offline_mem_budget(&s, &est, &cfg));
        assert_true(fabs(d.online_estimate_cpu_cores - 0.8) < 1e-12);
        /* Default auto: the quota is enforced exactly when the node lacks cpu.idle. */
        assert_int_equal(d.offline_cpu_quota_enforced, 1);
        status_doc_done(&d);
        s.cpu_idle_available = true;
        assert_int_equal(snapshot_fill_status(&d, &s, &est, &cfg, NULL), 0);
        assert_int_equal(d.offline_cpu_quota_enforced, 0);
        status_doc_done(&d);
}

static void test_agent_liveness_needs_a_live_colo_and_a_fresh_file(void **state) {
        Fake *f = *state;
        StatusDoc d = { .agent_pid = getpid(), .period_usec = USEC_PER_SEC, .updated_realtime_usec = 100 * USEC_PER_SEC };
        char rel[64];
        snprintf(rel, sizeof(rel), "proc/%d/stat", (int) getpid());
        static const struct {
                const char *stat;
                uint64_t now_sec;
                bool live;
        } cases[] = {
                { "42 (colo) S 1 2 3", 101, true },
                { "42 (colo) R 1 2 3", 108, true },            /* 3 periods + 5 s */
                { "42 (colo) S 1 2 3", 109, false },           /* stale file: agent stuck */
                { "42 (colo) Z 1 2 3", 101, false },           /* dead, not yet reaped */
                { "42 (bash) S 1 2 3", 101, false },           /* pid recycled */
                { "42 (colo x) S 1 2 3", 101, false },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                fakefs_write(f->dir, rel, cases[i].stat);
                assert_int_equal(session_agent_is_live(&d, cases[i].now_sec * USEC_PER_SEC, f->proc), cases[i].live);
        }
        d.agent_pid = 0;
        assert_false(session_agent_is_live(&d, 101 * USEC_PER_SEC, f->proc));
        assert_false(session_agent_is_live(NULL, 101 * USEC_PER_SEC, f->proc));

        /* Stale (alive, silent) and gone are told apart, by the file's own timestamp. */
        d.agent_pid = getpid();
        fakefs_write(f->dir, rel, "42 (colo) S 1 2 3");
        assert_int_equal(session_classify_status(&d, 108 * USEC_PER_SEC, f->proc), STATUS_FILE_LIVE);
        assert_int_equal(session_classify_status(&d, 109 * USEC_PER_SEC, f->proc), STATUS_FILE_STALE);
        fakefs_write(f->dir, rel, "42 (bash) S 1 2 3");
        assert_int_equal(session_classify_status(&d, 101 * USEC_PER_SEC, f->proc), STATUS_FILE_AGENT_GONE);
        assert_int_equal(STATUS_STALE_AFTER(USEC_PER_SEC), 8 * USEC_PER_SEC);
}

/* Absent, unreadable (a FIFO, a directory) and corrupt status files are told apart, with the
 * path; before, all of them read as "agent: not running". */
static void test_status_file_problems_are_told_apart(void **state) {
        Fake *f = *state;
        char sd[PATH_MAX], path[PATH_MAX];
        snprintf(sd, sizeof(sd), "%s/state", f->dir);
        snprintf(path, sizeof(path), "%s/status.json", sd);
        StatusDoc d = {};
        StatusFileState st = STATUS_FILE_LIVE;
        ColoError err = {};
        assert_int_equal(session_read_status(sd, &d, &st, &err), -ENOENT);
        assert_int_equal(st, STATUS_FILE_ABSENT);

        fakefs_write(f->dir, "state/status.json", "{\"agent\": {\"pid\": 1");
        assert_true(session_read_status(sd, &d, &st, &err) < 0);
        assert_int_equal(st, STATUS_FILE_CORRUPT);
        assert_non_null(strstr(err.msg, path));
        fakefs_write(f->dir, "state/status.json", "");         /* a write cut short by a full disk */
        assert_true(session_read_status(sd, &d, &st, &err) < 0);
        assert_int_equal(st, STATUS_FILE_CORRUPT);

        assert_int_equal(unlink(path), 0);
        assert_int_equal(mkfifo(path, 0600), 0);
        assert_int_equal(session_read_status(sd, &d, &st, &err), -EINVAL);
        assert_int_equal(st, STATUS_FILE_UNREADABLE);
        assert_non_null(strstr(err.msg, "is a FIFO"));
        assert_int_equal(unlink(path), 0);
        assert_int_equal(mkdir(path, 0700), 0);
        assert_int_equal(session_read_status(sd, &d, &st, &err), -EISDIR);
        assert_int_equal(st, STATUS_FILE_UNREADABLE);
        assert_int_equal(rmdir(path), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tree_paths_follow_the_layout),
                cmocka_unit_test(test_tree_parse_path_accepts_only_leaves),
                cmocka_unit_test(test_generated_names_are_valid_and_derived_from_the_command),
                cmocka_unit_test_setup_teardown(test_discover_lists_workload_leaves_sorted_v2, setup_fake, teardown_fake),
                cmocka_unit_test_setup_teardown(test_discover_on_an_empty_root_finds_nothing_v2, setup_fake, teardown_fake),
                cmocka_unit_test_setup_teardown(test_create_makes_parents_and_refuses_a_used_name_v2, setup_fake,
                                                teardown_fake),
                cmocka_unit_test_setup_teardown(test_tracker_samples_a_source_whose_online_is_the_rest_v2, setup_fake,
                                                teardown_fake),
                cmocka_unit_test_setup_teardown(test_tracker_online_pressure_is_the_most_stalled_online_workload_v2,
                                                setup_fake, teardown_fake),
                cmocka_unit_test_setup_teardown(test_tracker_adopts_workloads_and_computes_cpu_rates_v2, setup_fake,
                                                teardown_fake),
                cmocka_unit_test_setup_teardown(test_tracker_reads_workload_memory_stat_every_few_samples_v2, setup_fake,
                                                teardown_fake),
                cmocka_unit_test_setup_teardown(test_agent_liveness_needs_a_live_colo_and_a_fresh_file, setup_fake,
                                                teardown_fake),
                cmocka_unit_test_setup_teardown(test_status_file_problems_are_told_apart, setup_fake, teardown_fake),
                cmocka_unit_test(test_status_doc_round_trips_through_json),
                cmocka_unit_test(test_status_doc_json_is_what_jansson_prints_for_the_whole_tree),
                cmocka_unit_test(test_status_doc_rejects_bad_documents_naming_the_field),
                cmocka_unit_test(test_fill_status_without_a_plan_reports_running_and_formula_budgets),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
