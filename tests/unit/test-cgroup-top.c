/* Unit tests of the top group (src/lib/cgroup/cgroup-top.c): the pure path mapping, and on fake v1
 * and v2 trees of plain files that the tree above the cgroup layer (tree.c) finds, creates,
 * lists and removes "offline/..." next to the managed subtree, that the dry run records the
 * sibling's paths, that the old layout and failures leave the group below the subtree with the
 * cause kept, and what the protections check reports for each. */
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
#include <unistd.h>

#include "cgroup/cgroup.h"
#include "cgroup/cgroup-internal.h"
#include "fake-cgroup-root.h"
#include "fake-cgroupfs.h"
#include "policy/policy.h"
#include "status/status-doc.h"
#include "workloads/protections.h"
#include "workloads/tree.h"

typedef struct Fake {
        char dir[64];
        CgRoot *root;
        char last_write[PATH_MAX];
        char last_mkdir[PATH_MAX];
} Fake;

static const char v1_self[] = "7:blkio:/\n4:memory:/process_api/abc\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n"
                              "6:pids:/\n0::/\n";
static const char *const v1_hierarchies[] = { "cpu", "cpuacct", "cpuset", "memory/process_api/abc", "blkio", "pids",
                                              "unified" };

static int write_hook(void *userdata, const char *path, const char *value) {
        Fake *f = userdata;
        (void) value;
        snprintf(f->last_write, sizeof(f->last_write), "%s", path);
        return 0;
}

static void record(void *userdata, const char *path, const char *old_value, const char *new_value) {
        Fake *f = userdata;
        (void) old_value;
        if (strcmp(new_value, "(mkdir)") == 0 && !f->last_mkdir[0])
                snprintf(f->last_mkdir, sizeof(f->last_mkdir), "%s", path);
}

/* The managed subtree "colo" in every v1 hierarchy (and the PSI mirror), parents with cpusets. */
static Fake *fake_v1(void) {
        Fake *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        fakefs_mkdtemp(f->dir, sizeof(f->dir), "cgtop");
        char p[PATH_MAX];
        for (size_t i = 0; i < sizeof(v1_hierarchies) / sizeof(v1_hierarchies[0]); i++) {
                snprintf(p, sizeof(p), "fs/%s/colo/cgroup.procs", v1_hierarchies[i]);
                fakefs_write(f->dir, p, "");
        }
        fakefs_write(f->dir, "fs/cpuset/cpuset.cpus", "0-1\n");
        fakefs_write(f->dir, "fs/cpuset/cpuset.mems", "0\n");
        fakefs_write(f->dir, "proc/self/cgroup", v1_self);
        return f;
}

static int fake_open(Fake *f, CgMode mode, const char *top, bool create, ColoError *err) {
        int r = fake_root_open(f->dir, (CgRootOptions) { .mode = mode, .create = create, .top_group = top }, &f->root,
                               err);
        if (r >= 0)
                cg_root_set_write_hook(f->root, write_hook, f);
        return r;
}

FAKE_ROOT_DEFINE_TEARDOWN(teardown, Fake)

static void test_map_path(void **state) {
        (void) state;
        static const struct {
                const char *path, *want;
        } cases[] = {
                { "offline", "colo.offline" },
                { "offline/batch", "colo.offline/batch" },
                { "offline/best-effort/job-1", "colo.offline/best-effort/job-1" },
                { "online", NULL },
                { "online/normal/offline", NULL },
                { "offlinex", NULL },
                { "offlin", NULL },
                { "", NULL },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char buf[64] = "untouched";
                int r = cg_top_map_path("offline", "colo.offline", cases[i].path, buf, sizeof(buf));
                assert_int_equal(r, cases[i].want ? 1 : 0);
                assert_string_equal(buf, cases[i].want ? cases[i].want : "untouched");
        }
        char small[8];
        assert_int_equal(cg_top_map_path("offline", "colo.offline", "offline/batch", small, sizeof(small)),
                         -ENAMETOOLONG);
        assert_int_equal(cg_top_map_path("", "x", "offline", small, sizeof(small)), 0);
}

static void test_place(void **state) {
        (void) state;
        static const struct {
                const char *root;
                size_t mount_len;
                int r;
                const char *parent, *name;
        } cases[] = {
                { "/sys/fs/cgroup/cpu,cpuacct/colo", 26, 0, "/sys/fs/cgroup/cpu,cpuacct", "colo.offline" },
                { "/sys/fs/cgroup/cpu/colo/", 18, 0, "/sys/fs/cgroup/cpu", "colo.offline" },
                { "/sys/fs/cgroup/memory/system.slice/colo.service/colo", 21, 0,
                  "/sys/fs/cgroup/memory/system.slice/colo.service", "colo.offline" },
                { "/sys/fs/cgroup/cpu/colo-test-1-0", 18, 0, "/sys/fs/cgroup/cpu", "colo-test-1-0.offline" },
                { "/sys/fs/cgroup/cpu", 18, -EINVAL, NULL, NULL },
                { "/sys/fs/cgroup/cpu/", 18, -EINVAL, NULL, NULL },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                size_t parent_len = 99999;
                char name[64] = "";
                assert_int_equal(cg_top_place(cases[i].root, cases[i].mount_len, "offline", &parent_len, name,
                                              sizeof(name)), cases[i].r);
                if (cases[i].r < 0)
                        continue;
                assert_int_equal(parent_len, strlen(cases[i].parent));
                assert_memory_equal(cases[i].root, cases[i].parent, parent_len);
                assert_string_equal(name, cases[i].name);
        }
        size_t len;
        char tiny[6];
        assert_int_equal(cg_top_place("/m/colo", 2, "offline", &len, tiny, sizeof(tiny)), -ENAMETOOLONG);
}

/* The tree, unchanged above the cgroup layer, lives half in the subtree and half next to it. */
static void test_tree_next_to_subtree(void **state) {
        Fake *f = *state = fake_v1();
        ColoError err = {};
        assert_int_equal(fake_open(f, CG_MODE_V1, "offline", true, &err), 0);
        const CgTopGroup *t = cg_root_top_group(f->root);
        assert_true(t->requested && t->placed && t->parent_is_root);
        char want[PATH_MAX];
        snprintf(want, sizeof(want), "%s/fs/cpu/colo.offline", f->dir);
        assert_string_equal(t->path, want);
        for (size_t i = 0; i < sizeof(v1_hierarchies) / sizeof(v1_hierarchies[0]); i++) {
                char p[PATH_MAX];
                snprintf(p, sizeof(p), "fs/%s/colo.offline", v1_hierarchies[i]);
                assert_true(fakefs_exists(f->dir, p));
        }
        assert_string_equal(fakefs_read(f->dir, "fs/cpuset/colo.offline/cpuset.cpus"), "0-1\n");

        assert_int_equal(tree_ensure_parents(f->root, &err), 0);
        assert_true(fakefs_exists(f->dir, "fs/cpu/colo/online/critical"));
        assert_true(fakefs_exists(f->dir, "fs/memory/process_api/abc/colo.offline/best-effort"));
        assert_false(fakefs_exists(f->dir, "fs/cpu/colo/offline"));
        CgGroup *g = NULL;
        assert_int_equal(tree_create_workload(f->root, TIER_BATCH, "job", &g, &err), 0);
        assert_string_equal(cg_group_path(g), "offline/batch/job");
        assert_true(fakefs_exists(f->dir, "fs/blkio/colo.offline/batch/job"));
        assert_true(fakefs_exists(f->dir, "fs/unified/colo.offline/batch/job"));
        g = cg_group_free(g);

        TreeWorkload *list = NULL;
        size_t n = 0;
        assert_int_equal(tree_discover(f->root, &list, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_string_equal(list[0].path, "offline/batch/job");
        assert_int_equal(list[0].cls, CLASS_OFFLINE);
        free(list);

        /* Writes go to the sibling's files, by their full path. */
        fakefs_write(f->dir, "fs/cpu/colo.offline/cpu.shares", "1024\n");
        assert_int_equal(cg_group_open(f->root, "offline", false, &g, &err), 0);
        CgKnobs knobs, last;
        cg_knobs_init(&knobs);
        cg_knobs_init(&last);
        knobs.cpu_weight = 100;
        (void) cg_group_apply(g, &knobs, &last, NULL, NULL, &err);
        g = cg_group_free(g);
        char shares[PATH_MAX];
        snprintf(shares, sizeof(shares), "%s/fs/cpu/colo.offline/cpu.shares", f->dir);
        assert_string_equal(f->last_write, shares);

        /* Removing the tree removes the sibling (the fake cpuset directories hold plain files,
         * which cgroupfs would not: remove them first). */
        static const char *const cpuset_dirs[] = { "colo.offline/batch/job", "colo.offline/batch",
                                                   "colo.offline/best-effort", "colo.offline" };
        for (size_t i = 0; i < sizeof(cpuset_dirs) / sizeof(cpuset_dirs[0]); i++)
                for (int k = 0; k < 2; k++) {
                        char p[PATH_MAX];
                        snprintf(p, sizeof(p), "%s/fs/cpuset/%s/cpuset.%s", f->dir, cpuset_dirs[i], k ? "mems" : "cpus");
                        (void) unlink(p);
                }
        (void) unlink(shares);
        assert_int_equal(tree_remove_if_empty(f->root, "offline/batch/job", &err), 1);
        assert_int_equal(cg_group_remove(f->root, "offline/batch", &err), 0);
        assert_int_equal(cg_group_remove(f->root, "offline/best-effort", &err), 0);
        assert_int_equal(cg_group_remove(f->root, "offline", &err), 0);
        assert_false(fakefs_exists(f->dir, "fs/cpu/colo.offline"));
        assert_false(fakefs_exists(f->dir, "fs/pids/colo.offline"));
        assert_true(fakefs_exists(f->dir, "fs/cpu/colo/online"));
}

/* A dry run opens groups a real run would make without directories, recording the sibling's. */
static void test_dry_run_records_the_sibling(void **state) {
        Fake *f = *state = fake_v1();
        ColoError err = {};
        assert_int_equal(fake_open(f, CG_MODE_V1, "offline", false, &err), 0);
        assert_true(cg_root_top_group(f->root)->placed);
        assert_false(fakefs_exists(f->dir, "fs/cpu/colo.offline"));
        cg_root_set_dry_run(f->root, record, f);
        CgGroup *g = NULL;
        assert_int_equal(cg_group_open(f->root, "offline/batch", true, &g, &err), 0);
        cg_group_free(g);
        char want[PATH_MAX];
        snprintf(want, sizeof(want), "%s/fs/cpu/colo.offline", f->dir);
        assert_string_equal(f->last_mkdir, want);
        assert_false(fakefs_exists(f->dir, "fs/cpu/colo.offline"));
}

/* Without the option, and for a tree made in the old layout, "offline" is below the subtree. */
static void test_old_layout(void **state) {
        Fake *f = *state = fake_v1();
        ColoError err = {};
        assert_int_equal(fake_open(f, CG_MODE_V1, NULL, true, &err), 0);
        assert_false(cg_root_top_group(f->root)->requested);
        assert_int_equal(tree_ensure_parents(f->root, &err), 0);
        assert_true(fakefs_exists(f->dir, "fs/cpu/colo/offline/batch"));
        assert_false(fakefs_exists(f->dir, "fs/cpu/colo.offline"));
        f->root = cg_root_free(f->root);

        /* An agent (or `colo status`) that does not create follows the tree on disk. */
        assert_int_equal(fake_open(f, CG_MODE_V1, "offline", false, &err), 0);
        const CgTopGroup *t = cg_root_top_group(f->root);
        assert_true(t->requested);
        assert_false(t->placed);
        assert_int_equal(t->error, -ENOENT);
        assert_null(strstr(t->cause, "processes"));
        assert_non_null(strstr(t->cause, "/fs/cpu/colo'"));
        TreeWorkload *list = NULL;
        size_t n = 0;
        CgGroup *g = NULL;
        assert_int_equal(tree_create_workload(f->root, TIER_BEST_EFFORT, "old", &g, &err), 0);
        cg_group_free(g);
        assert_true(fakefs_exists(f->dir, "fs/cpu/colo/offline/best-effort/old"));
        assert_int_equal(tree_discover(f->root, &list, &n, &err), 0);
        assert_int_equal(n, 1);
        free(list);
        f->root = cg_root_free(f->root);

        /* An agent that creates keeps it there while a process runs in it (a fake non-empty leaf). */
        fakefs_write(f->dir, "fs/cpu/colo/offline/best-effort/old/cgroup.procs", "123\n");
        assert_int_equal(fake_open(f, CG_MODE_V1, "offline", true, &err), 0);
        t = cg_root_top_group(f->root);
        assert_false(t->placed);
        assert_non_null(strstr(t->cause, "processes still run there"));
        assert_true(fakefs_exists(f->dir, "fs/cpu/colo/offline/best-effort/old/cgroup.procs"));
        assert_false(fakefs_exists(f->dir, "fs/cpu/colo.offline"));
}

/* An empty tree of the old layout moves: its groups are removed, the sibling made. */
static void test_empty_old_layout_moves(void **state) {
        Fake *f = *state = fake_v1();
        ColoError err = {};
        char p[PATH_MAX];
        for (size_t i = 0; i < sizeof(v1_hierarchies) / sizeof(v1_hierarchies[0]); i++) {
                snprintf(p, sizeof(p), "fs/%s/colo/offline/batch/gone", v1_hierarchies[i]);
                fakefs_mkdir(f->dir, p);
        }
        assert_int_equal(fake_open(f, CG_MODE_V1, "offline", true, &err), 0);
        assert_true(cg_root_top_group(f->root)->placed);
        for (size_t i = 0; i < sizeof(v1_hierarchies) / sizeof(v1_hierarchies[0]); i++) {
                snprintf(p, sizeof(p), "fs/%s/colo/offline", v1_hierarchies[i]);
                assert_false(fakefs_exists(f->dir, p));
                snprintf(p, sizeof(p), "fs/%s/colo.offline", v1_hierarchies[i]);
                assert_true(fakefs_exists(f->dir, p));
        }
}

/* A mkdir failing in one hierarchy leaves nothing next to the subtree and says where. */
static void test_create_failure_falls_back(void **state) {
        Fake *f = *state = fake_v1();
        ColoError err = {};
        fakefs_write(f->dir, "fs/memory/process_api/abc/colo.offline", "not a directory");
        assert_int_equal(fake_open(f, CG_MODE_V1, "offline", true, &err), 0);
        const CgTopGroup *t = cg_root_top_group(f->root);
        assert_true(t->requested);
        assert_false(t->placed);
        assert_true(t->error < 0);
        assert_non_null(strstr(t->cause, "memory/process_api/abc/colo.offline"));
        assert_false(fakefs_exists(f->dir, "fs/cpu/colo.offline"));
        assert_false(fakefs_exists(f->dir, "fs/cpuacct/colo.offline"));
        assert_int_equal(tree_ensure_parents(f->root, &err), 0);
        assert_true(fakefs_exists(f->dir, "fs/cpu/colo/offline/batch"));
}

/* cgroup v2: today's layout, reported. */
static void test_v2_keeps_the_layout(void **state) {
        Fake *f = *state = calloc(1, sizeof(Fake));
        assert_non_null(f);
        fakefs_mkdtemp(f->dir, sizeof(f->dir), "cgtop");
        fakefs_write(f->dir, "fs/svc/colo/cgroup.controllers", "cpu memory io pids\n");
        fakefs_write(f->dir, "fs/svc/colo/cgroup.subtree_control", "");
        fakefs_write(f->dir, "proc/self/cgroup", "0::/svc\n");
        ColoError err = {};
        assert_int_equal(fake_open(f, CG_MODE_V2, "offline", true, &err), 0);
        const CgTopGroup *t = cg_root_top_group(f->root);
        assert_true(t->requested);
        assert_false(t->placed);
        assert_int_equal(t->error, -EOPNOTSUPP);
        assert_non_null(strstr(t->cause, "cgroup v2"));
        assert_false(fakefs_exists(f->dir, "fs/svc/colo.offline"));
        CgGroup *g = NULL;
        assert_int_equal(cg_group_open(f->root, "offline", true, &g, &err), 0);
        cg_group_free(g);
        assert_true(fakefs_exists(f->dir, "fs/svc/colo/offline"));
}

static const StatusProtection *find_protection(const StatusDoc *d, const char *name) {
        for (size_t i = 0; i < d->n_protections; i++)
                if (strcmp(d->protections[i].name, name) == 0)
                        return &d->protections[i];
        return NULL;
}

/* The offline-idle-machine-wide protection of f's root under the default policy, checked into *d. */
static const StatusProtection *offline_top_protection(Fake *f, StatusDoc *d) {
        PolicyConfig cfg;
        policy_config_init_defaults(&cfg);
        *d = (StatusDoc) {};
        protections_check(f->root, &cfg, false, d);
        return find_protection(d, PROTECTION_OFFLINE_TOP);
}

/* In force only placed in the root cgroup with cpu.idle wanted; otherwise cause and fix. */
static void test_protection(void **state) {
        Fake *f = *state = fake_v1();
        ColoError err = {};
        PolicyConfig cfg;
        policy_config_init_defaults(&cfg);
        StatusDoc d = {};
        assert_int_equal(fake_open(f, CG_MODE_V1, "offline", true, &err), 0);
        protections_check(f->root, &cfg, false, &d);
        const StatusProtection *p = find_protection(&d, PROTECTION_OFFLINE_TOP);
        assert_non_null(p);
        assert_true(p->in_force);
        assert_non_null(strstr(p->cgroup, "/fs/cpu/colo.offline"));
        assert_true(d.isolation_in_force);     /* from the cpu and memory entries */
        assert_true(protections_in_force(&d, "cpu") && protections_in_force(&d, "memory"));

        protections_check(f->root, &cfg, true, &d);
        p = find_protection(&d, PROTECTION_OFFLINE_TOP);
        assert_false(p->in_force);
        assert_non_null(strstr(p->cause, "kubepods"));
        assert_non_null(strstr(p->fix, "--system-reserved"));

        cfg.cpu_idle = false;
        protections_check(f->root, &cfg, false, &d);
        assert_false(find_protection(&d, PROTECTION_OFFLINE_TOP)->in_force);
        cfg.cpu_idle = true;

        f->root = cg_root_free(f->root);
        assert_int_equal(fake_open(f, CG_MODE_V1, NULL, true, &err), 0);
        protections_check(f->root, &cfg, false, &d);
        p = find_protection(&d, PROTECTION_OFFLINE_TOP);
        assert_false(p->in_force);
        assert_non_null(strstr(p->cause, "agent.offline_placement is subtree"));
        assert_non_null(strstr(p->cgroup, "/fs/cpu/colo/offline"));
        assert_non_null(strstr(p->fix, "agent.offline_placement: top"));
}

/* The agent's controller metrics, readiness and IO report read the protections list: an entry's
 * in_force, and nothing missing for one not listed (not checked, or not wanted). */
static void test_protections_in_force_reads_the_list(void **state) {
        (void) state;
        StatusDoc d = { .n_protections = 2 };
        d.protections[0] = (StatusProtection) { .name = "cpu", .in_force = true };
        d.protections[1] = (StatusProtection) { .name = "memory", .in_force = false };
        assert_true(protections_in_force(&d, "cpu"));
        assert_false(protections_in_force(&d, "memory"));
        assert_true(protections_in_force(&d, "io"));
        assert_true(protections_in_force(&d, "cpu.idle"));
        d.n_protections = 0;
        assert_true(protections_in_force(&d, "memory"));
}

/* Below an ordinary cgroup (the agent started in a service's cgroup), it is idle only there. */
static void test_protection_below_an_ordinary_cgroup(void **state) {
        Fake *f = *state = fake_v1();
        ColoError err = {};
        fakefs_write(f->dir, "proc/self/cgroup", "7:blkio:/svc\n4:memory:/svc\n3:cpuset:/svc\n2:cpuacct:/svc\n"
                                                 "1:cpu:/svc\n6:pids:/svc\n");
        for (size_t i = 0; i < sizeof(v1_hierarchies) / sizeof(v1_hierarchies[0]) - 1; i++) {
                char p[PATH_MAX];
                snprintf(p, sizeof(p), "fs/%s/svc/colo/cgroup.procs", i == 3 ? "memory" : v1_hierarchies[i]);
                fakefs_write(f->dir, p, "");
        }
        assert_int_equal(fake_open(f, CG_MODE_V1, "offline", true, &err), 0);
        const CgTopGroup *t = cg_root_top_group(f->root);
        assert_true(t->placed);
        assert_false(t->parent_is_root);
        assert_true(fakefs_exists(f->dir, "fs/cpu/svc/colo.offline"));
        StatusDoc d;
        const StatusProtection *p = offline_top_protection(f, &d);
        assert_false(p->in_force);
        assert_non_null(strstr(p->fix, "root cgroup"));
}

/* Through a process in the agent's own cpu group "<own>/colo.agent" (the agent, as the CLI finds
 * it by its pid), the relative subtree "colo" is "<own>/colo", not "<own>/colo.agent/colo"; a
 * group of another name is an ordinary cgroup. */
static void test_agent_group_resolves_from_its_parent(void **state) {
        Fake *f = *state = fake_v1();
        ColoError err = {};
        fakefs_write(f->dir, "proc/self/cgroup", "7:blkio:/svc\n4:memory:/svc\n3:cpuset:/svc\n2:cpuacct:/svc\n"
                                                 "1:cpu:/svc/colo.agent\n6:pids:/svc\n");
        assert_int_equal(fake_open(f, CG_MODE_V1, NULL, true, &err), 0);
        assert_true(fakefs_exists(f->dir, "fs/cpu/svc/colo"));
        assert_false(fakefs_exists(f->dir, "fs/cpu/svc/colo.agent/colo"));
        f->root = cg_root_free(f->root);
        fakefs_write(f->dir, "proc/self/cgroup", "7:blkio:/svc\n4:memory:/svc\n3:cpuset:/svc\n2:cpuacct:/svc\n"
                                                 "1:cpu:/svc/web.agent\n6:pids:/svc\n");
        assert_int_equal(fake_open(f, CG_MODE_V1, NULL, true, &err), 0);
        assert_true(fakefs_exists(f->dir, "fs/cpu/svc/web.agent/colo"));
}

/* cgroup v2 under systemd: the agent's scope at top_dir holds "offline"; the slice's cpu.idle 1
 * at the top makes the protection in force, cpu.idle 0 (set-property behind colo's back) not. */
static const char v2_scope[] = "/colo.offline.slice/colo.offline.scope";

static int fake_open_v2(Fake *f, const char *top_dir, bool create, ColoError *err) {
        char fs[PATH_MAX], proc[PATH_MAX], self[PATH_MAX];
        snprintf(fs, sizeof(fs), "%s/fs", f->dir);
        snprintf(proc, sizeof(proc), "%s/proc", f->dir);
        snprintf(self, sizeof(self), "%s/proc/self/cgroup", f->dir);
        CgRootOptions o = { .fs_root = fs, .mode = CG_MODE_V2, .proc_self_cgroup = self, .subtree = "colo",
                            .create = create, .proc_root = proc, .top_group = "offline", .top_dir = top_dir,
                            .top_cause = "no systemd on the system bus" };
        return cg_root_open(&o, &f->root, err);
}

static Fake *fake_v2_scope(const char *idle) {
        Fake *f = calloc(1, sizeof(Fake));
        assert_non_null(f);
        fakefs_mkdtemp(f->dir, sizeof(f->dir), "cgtop");
        fakefs_write(f->dir, "fs/svc/colo/cgroup.controllers", "cpu memory io pids\n");
        fakefs_write(f->dir, "fs/svc/colo/cgroup.subtree_control", "");
        fakefs_write(f->dir, "fs/colo.offline.slice/cpu.idle", idle);
        fakefs_write(f->dir, "fs/colo.offline.slice/colo.offline.scope/cgroup.controllers", "cpu memory io pids\n");
        fakefs_write(f->dir, "fs/colo.offline.slice/colo.offline.scope/cgroup.subtree_control", "");
        fakefs_write(f->dir, "fs/colo.offline.slice/colo.offline.scope/holder/cgroup.procs", "");
        fakefs_write(f->dir, "proc/self/cgroup", "0::/svc\n");
        return f;
}

static void test_v2_in_the_scope(void **state) {
        Fake *f = *state = fake_v2_scope("1\n");
        ColoError err = {};
        assert_int_equal(fake_open_v2(f, v2_scope, true, &err), 0);
        const CgTopGroup *t = cg_root_top_group(f->root);
        assert_true(t->placed);
        assert_true(t->in_systemd_unit);
        assert_true(t->parent_is_root);
        assert_non_null(strstr(t->path, "/fs/colo.offline.slice/colo.offline.scope/offline"));
        assert_int_equal(tree_ensure_parents(f->root, &err), 0);
        assert_true(fakefs_exists(f->dir, "fs/colo.offline.slice/colo.offline.scope/offline/batch"));
        assert_true(fakefs_exists(f->dir, "fs/colo.offline.slice/colo.offline.scope/offline/best-effort"));
        assert_false(fakefs_exists(f->dir, "fs/svc/colo/offline"));
        assert_true(fakefs_exists(f->dir, "fs/svc/colo/online"));
        CgGroup *g = NULL;
        assert_int_equal(cg_group_open(f->root, "offline/batch/job", true, &g, &err), 0);
        char file[PATH_MAX];
        cg_group_file_path(g, CG_SLOT_UNIFIED, "cpu.idle", file, sizeof(file));
        assert_non_null(strstr(file, "/fs/colo.offline.slice/colo.offline.scope/offline/batch/job/cpu.idle"));
        cg_group_free(g);
        StatusDoc d;
        const StatusProtection *p = offline_top_protection(f, &d);
        assert_true(p->in_force);
        assert_non_null(strstr(p->cgroup, "colo.offline.scope/offline"));
}

static void test_v2_slice_not_idle(void **state) {
        Fake *f = *state = fake_v2_scope("0\n");
        ColoError err = {};
        assert_int_equal(fake_open_v2(f, v2_scope, true, &err), 0);
        const CgTopGroup *t = cg_root_top_group(f->root);
        assert_true(t->placed);
        assert_false(t->parent_is_root);
        StatusDoc d;
        const StatusProtection *p = offline_top_protection(f, &d);
        assert_false(p->in_force);
        assert_non_null(strstr(p->cause, "colo.offline.slice' is not idle (cpu.idle: 0)"));
        assert_non_null(strstr(p->fix, "CPUWeight=idle"));
}

/* Without the agent's scope: a front-end that does not create stays below, and so does an agent
 * that could not make it (its cause kept). */
static void test_v2_scope_missing(void **state) {
        Fake *f = *state = fake_v2_scope("1\n");
        ColoError err = {};
        assert_int_equal(fake_open_v2(f, "/other.offline.slice/other.offline.scope", false, &err), 0);
        const CgTopGroup *t = cg_root_top_group(f->root);
        assert_false(t->placed);
        assert_int_equal(t->error, -EOPNOTSUPP);
        assert_non_null(strstr(t->cause, "no agent made the systemd scope"));
        assert_non_null(strstr(t->cause, "other.offline.scope"));
        f->root = cg_root_free(f->root);
        assert_int_equal(fake_open_v2(f, NULL, true, &err), 0);
        t = cg_root_top_group(f->root);
        assert_false(t->placed);
        assert_int_equal(t->error, -EOPNOTSUPP);
        assert_non_null(strstr(t->cause, "no systemd on the system bus"));
        StatusDoc d;
        const StatusProtection *p = offline_top_protection(f, &d);
        assert_false(p->in_force);
        assert_non_null(strstr(p->fix, "systemd 252"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_map_path),
                cmocka_unit_test(test_place),
                cmocka_unit_test_teardown(test_tree_next_to_subtree, teardown),
                cmocka_unit_test_teardown(test_dry_run_records_the_sibling, teardown),
                cmocka_unit_test_teardown(test_old_layout, teardown),
                cmocka_unit_test_teardown(test_empty_old_layout_moves, teardown),
                cmocka_unit_test_teardown(test_create_failure_falls_back, teardown),
                cmocka_unit_test_teardown(test_v2_keeps_the_layout, teardown),
                cmocka_unit_test_teardown(test_protection, teardown),
                cmocka_unit_test(test_protections_in_force_reads_the_list),
                cmocka_unit_test_teardown(test_protection_below_an_ordinary_cgroup, teardown),
                cmocka_unit_test_teardown(test_agent_group_resolves_from_its_parent, teardown),
                cmocka_unit_test_teardown(test_v2_in_the_scope, teardown),
                cmocka_unit_test_teardown(test_v2_slice_not_idle, teardown),
                cmocka_unit_test_teardown(test_v2_scope_missing, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
