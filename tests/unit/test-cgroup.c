/* Unit tests of src/lib/cgroup against fake v1 and v2 trees of plain files under mkdtemp(): each
 * fixture lays out the directories and initial file contents, runs the real code and reads back
 * what it wrote. Writes are counted (and failed on demand) through the test-only write seam. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup/cgroup-internal.h"
#include "cgroup/cgroup.h"
#include "fake-cgroup-root.h"
#include "fake-cgroupfs.h"

typedef struct FakeCg {
        char dir[64];
        CgRoot *root;
        /* write seam */
        int writes;
        int fail_at;            /* index of the write to fail, -1 for none */
        int fail_errno;
        bool fired;
        char failed_path[PATH_MAX];
        char watch_path[PATH_MAX];      /* sets watch_seen when written */
        bool watch_seen;
        /* CgWriteCallback */
        int reported;
        char reported_path[PATH_MAX];
        char reported_value[256];
        int reported_r;
} FakeCg;

static int write_hook(void *userdata, const char *path, const char *value) {
        FakeCg *f = userdata;
        (void) value;
        int n = f->writes++;
        if (strcmp(path, f->watch_path) == 0)
                f->watch_seen = true;
        if (n == f->fail_at) {
                f->fired = true;
                snprintf(f->failed_path, sizeof(f->failed_path), "%s", path);
                return -f->fail_errno;
        }
        return 0;
}

static void on_write(void *userdata, const char *path, const char *value, int r) {
        FakeCg *f = userdata;
        if (r < 0) {
                f->reported++;
                snprintf(f->reported_path, sizeof(f->reported_path), "%s", path);
                snprintf(f->reported_value, sizeof(f->reported_value), "%s", value);
                f->reported_r = r;
        }
}

static void fake_reset_counters(FakeCg *f) {
        f->writes = 0;
        f->fail_at = -1;
        f->fired = false;
        f->reported = 0;
        f->failed_path[0] = f->reported_path[0] = '\0';
}

static FakeCg *fake_new(void) {
        FakeCg *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        fakefs_mkdtemp(f->dir, sizeof(f->dir), "cg");
        fake_reset_counters(f);
        f->fail_errno = EBUSY;
        return f;
}

FAKE_ROOT_DEFINE_TEARDOWN(fake_teardown, FakeCg)

static int fake_open(FakeCg *f, CgMode mode, const char *self_cgroup) {
        fakefs_write(f->dir, "proc/self/cgroup", self_cgroup);
        int r = fake_root_open(f->dir, (CgRootOptions) { .mode = mode, .create = true }, &f->root, NULL);
        if (r >= 0)
                cg_root_set_write_hook(f->root, write_hook, f);
        return r;
}

static const char v1_self_no_v2[] = "7:blkio:/\n4:memory:/process_api/abc\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n";
static const char v1_self[] = "9:name=systemd:/\n7:blkio:/\n4:memory:/process_api/abc\n3:cpuset:/\n2:cpuacct:/\n"
                              "1:cpu:/\n0::/\n";

/* The files a v1 kernel shows in a new group, minus the optional ones a test wants missing. */
static void fake_v1_group(FakeCg *f, const char *path, bool optional) {
        char p[PATH_MAX];
#define W(hier, file, content) \
        (snprintf(p, sizeof(p), "fs/%s/%s/%s", hier, path, file), fakefs_write(f->dir, p, content))
        W("cpu", "cpu.shares", "1024\n");
        W("cpu", "cpu.cfs_quota_us", "-1\n");
        W("cpu", "cpu.cfs_period_us", "100000\n");
        W("cpu", "cpu.stat", "nr_periods 10\nnr_throttled 3\nthrottled_time 5000000\n");
        W("cpu", "cgroup.procs", "");
        W("cpuacct", "cpuacct.usage", "123456789\n");
        W("cpuacct", "cgroup.procs", "");
        W("cpuset", "cpuset.cpus", "");
        W("cpuset", "cpuset.mems", "");
        W("cpuset", "cgroup.procs", "");
        W("memory/process_api/abc", "memory.limit_in_bytes", "9223372036854771712\n");
        W("memory/process_api/abc", "memory.soft_limit_in_bytes", "9223372036854771712\n");
        W("memory/process_api/abc", "memory.usage_in_bytes", "104857600\n");
        W("memory/process_api/abc", "memory.stat", "cache 100\ninactive_file 7\ntotal_cache 200\n"
                                                    "total_inactive_file 4194304\n");
        W("memory/process_api/abc", "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
        W("memory/process_api/abc", "cgroup.procs", "");
        W("memory/process_api/abc", "cgroup.event_control", "");
        W("blkio", "blkio.throttle.read_bps_device", "");
        W("blkio", "blkio.throttle.write_bps_device", "");
        W("blkio", "blkio.throttle.read_iops_device", "");
        W("blkio", "blkio.throttle.write_iops_device", "");
        W("blkio", "cgroup.procs", "");
        if (optional) {
                W("cpu", "cpu.idle", "0\n");
                W("cpu", "cpu.cfs_burst_us", "0\n");
                W("cpu", "cpu.qos_level", "0\n");
                W("memory/process_api/abc", "memory.qos_level", "0\n");
                W("blkio", "blkio.weight", "500\n");
        }
#undef W
}

static void fake_v2_group(FakeCg *f, const char *path) {
        char p[PATH_MAX];
#define W(file, content) (snprintf(p, sizeof(p), "fs/%s/%s", path, file), fakefs_write(f->dir, p, content))
        W("cgroup.controllers", "cpuset cpu io memory pids\n");
        W("cgroup.subtree_control", "");
        W("cgroup.procs", "");
        W("cpu.weight", "100\n");
        W("cpu.idle", "0\n");
        W("cpu.max", "max 100000\n");
        W("cpu.max.burst", "0\n");
        W("cpu.stat", "usage_usec 5000\nuser_usec 3000\nsystem_usec 2000\nnr_periods 7\nnr_throttled 1\n"
                      "throttled_usec 250\n");
        W("cpuset.cpus", "");
        W("cpuset.mems", "");
        W("memory.max", "max\n");
        W("memory.high", "max\n");
        W("memory.low", "0\n");
        W("memory.min", "0\n");
        W("memory.current", "2097152\n");
        W("memory.stat", "anon 1000\nfile 2000\ninactive_file 1048576\nactive_file 5\n");
        W("memory.events", "low 0\nhigh 0\nmax 0\noom 1\noom_kill 1\n");
        W("io.weight", "default 100\n");
        W("io.max", "");
        W("pids.max", "max\n");
        W("cpu.pressure", "some avg10=1.50 avg60=0.50 avg300=0.10 total=12345\n"
                          "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
        W("memory.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=1\n"
                             "full avg10=0.00 avg60=0.00 avg300=0.00 total=1\n");
#undef W
}

static int setup_v1(void **state) {
        FakeCg *f = *state = fake_new();
        fake_v1_group(f, "colo", true);
        fake_v1_group(f, "colo/offline", true);
        return fake_open(f, CG_MODE_V1, v1_self);
}

static int setup_v1_minimal(void **state) {
        FakeCg *f = *state = fake_new();
        fake_v1_group(f, "colo", false);
        fake_v1_group(f, "colo/offline", false);
        return fake_open(f, CG_MODE_V1, v1_self);
}

static int setup_v2(void **state) {
        FakeCg *f = *state = fake_new();
        fake_v2_group(f, "svc/colo");
        fake_v2_group(f, "svc/colo/offline");
        return fake_open(f, CG_MODE_V2, "0::/svc\n");
}

/* --- pure functions --- */

static void test_weight_converts_to_shares_and_back(void **state) {
        (void) state;
        static const struct {
                uint64_t weight, shares;
        } cases[] = {
                { 1, 10 }, { 100, 1024 }, { 50, 512 }, { 10000, 102400 }, { 0, 2 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                assert_int_equal(cg_weight_to_shares(cases[i].weight), cases[i].shares);
        assert_int_equal(cg_shares_to_weight(1024), 100);
        assert_int_equal(cg_shares_to_weight(2), 1);
        assert_int_equal(cg_shares_to_weight(262144), 10000);
        assert_int_equal(cg_io_weight_to_blkio_weight(1), 10);
        assert_int_equal(cg_io_weight_to_blkio_weight(500), 500);
        assert_int_equal(cg_io_weight_to_blkio_weight(10000), 1000);
}

static void test_parse_proc_cgroup_v1(void **state) {
        (void) state;
        const char *text = "12:cpu,cpuacct:/a/b\n4:memory:/process_api/abc\n1:name=systemd:/user.slice\n0::/\n";
        char p[256];
        assert_int_equal(cg_parse_proc_cgroup(text, "cpuacct", p, sizeof(p)), 0);
        assert_string_equal(p, "/a/b");
        assert_int_equal(cg_parse_proc_cgroup(text, "cpu", p, sizeof(p)), 0);
        assert_string_equal(p, "/a/b");
        assert_int_equal(cg_parse_proc_cgroup(text, "memory", p, sizeof(p)), 0);
        assert_string_equal(p, "/process_api/abc");
        assert_int_equal(cg_parse_proc_cgroup(text, "name=systemd", p, sizeof(p)), 0);
        assert_string_equal(p, "/user.slice");
        assert_int_equal(cg_parse_proc_cgroup(text, "blkio", p, sizeof(p)), -ENOENT);
        assert_int_equal(cg_parse_proc_cgroup(text, "cpus", p, sizeof(p)), -ENOENT);
}

static void test_parse_proc_cgroup_v2(void **state) {
        (void) state;
        char p[256];
        assert_int_equal(cg_parse_proc_cgroup("0::/system.slice/colo.service\n", NULL, p, sizeof(p)), 0);
        assert_string_equal(p, "/system.slice/colo.service");
        assert_int_equal(cg_parse_proc_cgroup("0::/x", "cpu", p, sizeof(p)), -ENOENT);
        assert_int_equal(cg_parse_proc_cgroup("0::relative\n", NULL, p, sizeof(p)), -EINVAL);
        assert_int_equal(cg_parse_proc_cgroup("", NULL, p, sizeof(p)), -ENOENT);
        assert_int_equal(cg_parse_proc_cgroup("0::/abcdef\n", NULL, p, 4), -ENAMETOOLONG);
}

static void test_parse_proc_cgroup_hybrid(void **state) {
        (void) state;
        char p[256];
        /* This machine's layout: v1 controllers plus an empty cgroup2 line. */
        assert_int_equal(cg_parse_proc_cgroup(v1_self, "memory", p, sizeof(p)), 0);
        assert_string_equal(p, "/process_api/abc");
        assert_int_equal(cg_parse_proc_cgroup(v1_self, "cpu", p, sizeof(p)), 0);
        assert_string_equal(p, "/");
        assert_int_equal(cg_parse_proc_cgroup(v1_self, NULL, p, sizeof(p)), 0);
        assert_string_equal(p, "/");
}

static void test_parse_pressure(void **state) {
        (void) state;
        CgPressure p;
        assert_int_equal(cg_parse_pressure("some avg10=2.18 avg60=1.65 avg300=0.53 total=6765318\n"
                                           "full avg10=0.50 avg60=0.00 avg300=0.00 total=17\n",
                                           &p),
                         0);
        assert_true(p.valid);
        assert_true(p.some_avg10 == 2.18 && p.some_avg60 == 1.65 && p.some_avg300 == 0.53);
        assert_int_equal(p.some_total_usec, 6765318);
        assert_true(p.full_avg10 == 0.5);
        assert_int_equal(p.full_total_usec, 17);
        /* Kernels before 5.13 have no "full" line for cpu. */
        assert_int_equal(cg_parse_pressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", &p), 0);
        assert_true(p.valid);
        static const char *const bad[] = {
                "", "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
                "some avg10=x avg60=0.00 avg300=0.00 total=0\n", "some avg10=0.00 avg60=0.00 total=0\n",
                "some avg10=0.00 avg60=0.00 avg300=0.00 total=-1\n", "some avg10=0.00 avg60=0.00 avg300=0.00 total=1 x\n",
                "bogus\n", "some avg10=500 avg60=0 avg300=0 total=0\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                p.valid = true;
                assert_int_equal(cg_parse_pressure(bad[i], &p), -EINVAL);
        }
}

static void test_parse_keyed_and_limits(void **state) {
        (void) state;
        uint64_t v = 0;
        const char *stat = "nr_periods 10\nnr_throttled 3\nthrottled_time 5000000";
        assert_int_equal(cg_parse_keyed_u64(stat, "nr_throttled", &v), 0);
        assert_int_equal(v, 3);
        assert_int_equal(cg_parse_keyed_u64(stat, "throttled_time", &v), 0);
        assert_int_equal(v, 5000000);
        assert_int_equal(cg_parse_keyed_u64(stat, "nr", &v), -ENOENT);
        assert_int_equal(cg_parse_keyed_u64("nr 1x\n", "nr", &v), -EINVAL);
        assert_int_equal(cg_parse_limit("max\n", &v), 0);
        assert_true(v == CG_UNLIMITED);
        assert_int_equal(cg_parse_limit("-1\n", &v), 0);
        assert_true(v == CG_UNLIMITED);
        assert_int_equal(cg_parse_limit("9223372036854771712\n", &v), 0);
        assert_true(v == CG_UNLIMITED);
        assert_int_equal(cg_parse_limit("4096\n", &v), 0);
        assert_int_equal(v, 4096);
        assert_int_equal(cg_parse_limit("lots\n", &v), -EINVAL);
        assert_int_equal(cg_parse_controllers("cpuset cpu io memory hugetlb pids\n"),
                         (1u << CG_CTRL_CPU) | (1u << CG_CTRL_CPUSET) | (1u << CG_CTRL_IO) | (1u << CG_CTRL_MEMORY) |
                                 (1u << CG_CTRL_PIDS));
        assert_int_equal(cg_parse_controllers("hugetlb\n"), 0);
}

/* v1 throttle files merge into one set of rules per device, the smaller value winning. */
static void test_parse_v1_throttle_rules(void **state) {
        (void) state;
        CgKnobs k;
        cg_knobs_init(&k);
        assert_int_equal(cg_parse_v1_throttle_rules("", CG_V1_THROTTLE_WRITE_BPS, &k), 0);
        assert_int_equal(k.n_io_limits, 0);
        assert_int_equal(cg_parse_v1_throttle_rules("8:0 10485760\n253:1 5000\n", CG_V1_THROTTLE_WRITE_BPS, &k), 0);
        assert_int_equal(cg_parse_v1_throttle_rules("8:0 20971520\n", CG_V1_THROTTLE_WRITE_BPS, &k), 0);
        assert_int_equal(cg_parse_v1_throttle_rules("253:1 4000\n", CG_V1_THROTTLE_WRITE_BPS, &k), 0);
        assert_int_equal(cg_parse_v1_throttle_rules("8:0 100\n", CG_V1_THROTTLE_READ_IOPS, &k), 0);
        assert_int_equal(k.n_io_limits, 2);
        assert_string_equal(k.io_limits[0].device, "8:0");
        assert_true(k.io_limits[0].wbps == 10485760 && k.io_limits[0].riops == 100);
        assert_true(k.io_limits[0].rbps == CG_UNSET && k.io_limits[0].wiops == CG_UNSET);
        assert_string_equal(k.io_limits[1].device, "253:1");
        assert_true(k.io_limits[1].wbps == 4000 && k.io_limits[1].riops == CG_UNSET);
        /* Malformed lines are refused, whatever came before them. */
        static const char *const bad[] = { "8:0\n", "8 100\n", "8:0 x\n", "8:0 100 7\n", "8:0 0\n", "8:0 -5\n" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(cg_parse_v1_throttle_rules(bad[i], CG_V1_THROTTLE_READ_BPS, &k), -EINVAL);
        assert_int_equal(cg_parse_v1_throttle_rules("8:0 1\n", _CG_V1_THROTTLE_MAX, &k), -EINVAL);
        /* Past CG_IO_LIMITS_MAX devices: -E2BIG. */
        char many[512] = "";
        for (int i = 0; i <= CG_IO_LIMITS_MAX; i++)
                snprintf(many + strlen(many), sizeof(many) - strlen(many), "9:%d 1\n", i);
        cg_knobs_init(&k);
        assert_int_equal(cg_parse_v1_throttle_rules(many, CG_V1_THROTTLE_READ_BPS, &k), -E2BIG);
        assert_int_equal(k.n_io_limits, CG_IO_LIMITS_MAX);
}

static void test_path_validation(void **state) {
        (void) state;
        assert_true(cg_path_is_valid(""));
        assert_true(cg_path_is_valid("online/normal/web-1"));
        assert_false(cg_path_is_valid("/abs"));
        assert_false(cg_path_is_valid("a//b"));
        assert_false(cg_path_is_valid("a/../b"));
        assert_false(cg_path_is_valid("./a"));
        assert_false(cg_path_is_valid(NULL));
}

/* --- root and groups --- */

static void test_root_open_v1_resolves_own_cgroup(void **state) {
        FakeCg *f = *state;
        assert_int_equal(cg_root_mode(f->root), CG_MODE_V1);
        assert_false(cg_root_is_hybrid(f->root));
        const char *d = cg_root_describe(f->root);
        char want[PATH_MAX];
        snprintf(want, sizeof(want), "memory=%s/fs/memory/process_api/abc/colo", f->dir);
        assert_non_null(strstr(d, want));
        snprintf(want, sizeof(want), "cpu=%s/fs/cpu/colo", f->dir);
        assert_non_null(strstr(d, want));
        assert_true(cg_root_has_controller(f->root, CG_CTRL_CPU));
        assert_true(cg_root_has_controller(f->root, CG_CTRL_IO));
}

static void test_root_open_v2_and_bad_options(void **state) {
        FakeCg *f = *state;
        assert_int_equal(cg_root_mode(f->root), CG_MODE_V2);
        char want[PATH_MAX];
        snprintf(want, sizeof(want), "cgroup v2: %s/fs/svc/colo", f->dir);
        assert_string_equal(cg_root_describe(f->root), want);
        assert_false(cg_root_has_controller(f->root, _CG_CTRL_MAX));

        char fs[PATH_MAX];
        snprintf(fs, sizeof(fs), "%s/fs", f->dir);
        CgRoot *r2 = NULL;
        ColoError err = {};
        CgRootOptions bad = { .fs_root = fs, .mode = CG_MODE_V2, .subtree = "../escape" };
        assert_int_equal(cg_root_open(&bad, &r2, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "../escape"));
        CgRootOptions missing = { .fs_root = fs, .mode = CG_MODE_V2, .subtree = "/nope", .create = false };
        assert_int_equal(cg_root_open(&missing, &r2, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "nope"));
        assert_null(r2);
}

static void test_root_open_v1_comounted_cpu_cpuacct(void **state) {
        (void) state;
        FakeCg *f = fake_new();
        *state = f;
        fakefs_write(f->dir, "fs/cpu,cpuacct/colo/cpu.shares", "1024\n");
        fakefs_write(f->dir, "fs/cpu,cpuacct/colo/cpuacct.usage", "2000\n");
        fakefs_write(f->dir, "fs/memory/colo/memory.usage_in_bytes", "0\n");
        char a[PATH_MAX];
        snprintf(a, sizeof(a), "%s/fs/cpu", f->dir);
        assert_int_equal(symlink("cpu,cpuacct", a), 0);
        snprintf(a, sizeof(a), "%s/fs/cpuacct", f->dir);
        assert_int_equal(symlink("cpu,cpuacct", a), 0);
        assert_int_equal(fake_open(f, CG_MODE_V1, "3:memory:/\n2:cpu,cpuacct:/\n"), 0);
        ColoError err = {};
        CgGroup *g = NULL;
        assert_int_equal(cg_group_open(f->root, "job", true, &g, &err), 0);
        assert_true(fakefs_exists(f->dir, "fs/cpu,cpuacct/colo/job"));
        fakefs_write(f->dir, "fs/cpu,cpuacct/colo/job/cgroup.procs", "");
        fakefs_write(f->dir, "fs/cpu,cpuacct/colo/job/cpuacct.usage", "7000\n");
        fakefs_write(f->dir, "fs/memory/colo/job/cgroup.procs", "");
        /* One write per real directory, not per symlink. */
        assert_int_equal(cg_group_attach(g, 4242, &err), 0);
        assert_int_equal(f->writes, 2);
        assert_string_equal(fakefs_read(f->dir, "fs/cpu,cpuacct/colo/job/cgroup.procs"), "4242");
        CgUsage u;
        assert_int_equal(cg_group_read_usage(g, &u, &err), 0);
        assert_int_equal(u.cpu_usage_usec, 7);
        assert_false(cg_root_has_controller(f->root, CG_CTRL_IO));
        cg_group_free(g);
}

static void test_group_open_rejects_bad_paths(void **state) {
        FakeCg *f = *state;
        CgGroup *g = NULL;
        ColoError err = {};
        assert_int_equal(cg_group_open(f->root, "a/../../etc", true, &g, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "a/../../etc"));
        assert_int_equal(cg_group_open(f->root, "/abs", true, &g, &err), -EINVAL);
        assert_int_equal(cg_group_open(f->root, "missing", false, &g, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "missing"));
        assert_null(g);
}

static void test_group_create_initialises_cpuset_v1(void **state) {
        FakeCg *f = *state;
        fakefs_write(f->dir, "fs/cpuset/colo/cpuset.cpus", "0-1\n");
        fakefs_write(f->dir, "fs/cpuset/colo/cpuset.mems", "0\n");
        CgGroup *g = NULL;
        ColoError err = {};
        assert_int_equal(cg_group_open(f->root, "online/normal/web", true, &g, &err), 0);
        assert_string_equal(cg_group_path(g), "online/normal/web");
        assert_string_equal(fakefs_read(f->dir, "fs/cpuset/colo/online/cpuset.cpus"), "0-1\n");
        assert_string_equal(fakefs_read(f->dir, "fs/cpuset/colo/online/normal/web/cpuset.mems"), "0\n");
        assert_true(fakefs_exists(f->dir, "fs/memory/process_api/abc/colo/online/normal/web"));
        assert_true(fakefs_exists(f->dir, "fs/blkio/colo/online/normal/web"));
        cg_group_free(g);
        /* An existing group with an empty cpuset is initialised when opened with create only. */
        assert_int_equal(cg_group_open(f->root, "offline", false, &g, &err), 0);
        cg_group_free(g);
        assert_string_equal(fakefs_read(f->dir, "fs/cpuset/colo/offline/cpuset.cpus"), "");
        assert_int_equal(cg_group_open(f->root, "offline", true, &g, &err), 0);
        cg_group_free(g);
        assert_string_equal(fakefs_read(f->dir, "fs/cpuset/colo/offline/cpuset.cpus"), "0-1\n");

        char **children = NULL;
        size_t n = 0;
        assert_int_equal(cg_group_list_children(f->root, "", &children, &n, &err), 0);
        assert_int_equal(n, 2);
        assert_string_equal(children[0], "offline");
        assert_string_equal(children[1], "online");
        assert_null(children[2]);
        strv_free(children);

        /* Removing a group with files left is refused as busy; an empty one goes everywhere. */
        assert_int_equal(cg_group_remove(f->root, "online/normal", &err), -EBUSY);
        assert_non_null(strstr(err.msg, "online/normal"));
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/fs/cpuset/colo/online/normal/web/cpuset.cpus", f->dir);
        unlink(p);
        snprintf(p, sizeof(p), "%s/fs/cpuset/colo/online/normal/web/cpuset.mems", f->dir);
        unlink(p);
        assert_int_equal(cg_group_remove(f->root, "online/normal/web", &err), 0);
        assert_false(fakefs_exists(f->dir, "fs/cpu/colo/online/normal/web"));
        assert_false(fakefs_exists(f->dir, "fs/memory/process_api/abc/colo/online/normal/web"));
        assert_int_equal(cg_group_remove(f->root, "", &err), -EINVAL);
}

/* The one rmdir walk (cgroup-top's old layout, cg_group_remove, the integration tests' scratch
 * groups): empty directories go depth-first; a directory with a file (a cgroup with tasks refuses
 * rmdir the same way) stays with its parents; a symlink is not followed; the depth is bounded. */
static void test_remove_empty_tree_keeps_files_links_and_deep_trees(void **state) {
        (void) state;
        char dir[64];
        fakefs_mkdtemp(dir, sizeof(dir), "remove-tree");
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        fakefs_mkdir(dir, "empty/a/b");
        fakefs_mkdir(dir, "empty/c");
        assert_int_equal(cg_remove_empty_tree_at(dfd, "empty", CG_REMOVE_DEPTH_MAX), 0);
        assert_false(fakefs_exists(dir, "empty"));
        assert_int_equal(cg_remove_empty_tree_at(dfd, "empty", CG_REMOVE_DEPTH_MAX), 0);    /* absent: done */

        fakefs_write(dir, "busy/a/task", "1\n");
        assert_int_equal(cg_remove_empty_tree_at(dfd, "busy", CG_REMOVE_DEPTH_MAX), -ENOTEMPTY);
        assert_true(fakefs_exists(dir, "busy/a/task"));

        fakefs_write(dir, "target/keep/file", "x\n");
        fakefs_mkdir(dir, "linked");
        char p[PATH_MAX], t[PATH_MAX];
        snprintf(t, sizeof(t), "%s/target", dir);
        snprintf(p, sizeof(p), "%s/linked/to-target", dir);
        assert_int_equal(symlink(t, p), 0);
        assert_int_equal(cg_remove_empty_tree_at(dfd, "linked", CG_REMOVE_DEPTH_MAX), -ENOTEMPTY);
        assert_true(fakefs_exists(dir, "target/keep/file"));
        assert_int_equal(cg_remove_empty_tree_at(dfd, "target/keep", CG_REMOVE_DEPTH_MAX), -ENOTEMPTY);

        fakefs_mkdir(dir, "deep/1/2/3");
        assert_int_equal(cg_remove_empty_tree_at(dfd, "deep", 2), -ENOTEMPTY);     /* 3 is below the bound */
        assert_true(fakefs_exists(dir, "deep/1/2/3"));
        assert_int_equal(cg_remove_empty_tree_at(dfd, "deep", 0), -ENOTEMPTY);
        assert_int_equal(cg_remove_empty_tree_at(dfd, "deep", 3), 0);
        assert_false(fakefs_exists(dir, "deep"));
        close(dfd);
        assert_int_equal(fakefs_remove_tree(dir), 0);
}

static void test_group_create_enables_controllers_v2(void **state) {
        FakeCg *f = *state;
        fakefs_write(f->dir, "fs/svc/colo/cgroup.subtree_control", "memory\n");
        CgGroup *g = NULL;
        ColoError err = {};
        assert_int_equal(cg_group_open(f->root, "online/web", true, &g, &err), 0);
        assert_string_equal(fakefs_read(f->dir, "fs/svc/colo/cgroup.subtree_control"), "+cpu +cpuset +io +pids");
        /* Nothing missing: nothing written. */
        fakefs_write(f->dir, "fs/svc/colo/cgroup.subtree_control", "cpuset cpu io memory pids\n");
        fakefs_write(f->dir, "fs/svc/colo/online/cgroup.controllers", "cpu memory\n");
        fakefs_write(f->dir, "fs/svc/colo/online/cgroup.subtree_control", "cpu\n");
        CgGroup *g2 = NULL;
        assert_int_equal(cg_group_open(f->root, "online/db", true, &g2, &err), 0);
        assert_string_equal(fakefs_read(f->dir, "fs/svc/colo/cgroup.subtree_control"), "cpuset cpu io memory pids\n");
        assert_string_equal(fakefs_read(f->dir, "fs/svc/colo/online/cgroup.subtree_control"), "+memory");
        cg_group_free(g);
        cg_group_free(g2);
}

/* --- applying knobs --- */

static CgGroup *open_offline(FakeCg *f) {
        CgGroup *g = NULL;
        ColoError err = {};
        assert_int_equal(cg_group_open(f->root, "offline", false, &g, &err), 0);
        return g;
}

/* Opens the offline group with fresh wants and last-applied knobs. */
static CgGroup *open_offline_knobs(FakeCg *f, CgKnobs *want, CgKnobs *last) {
        CgGroup *g = open_offline(f);
        cg_knobs_init(want);
        cg_knobs_init(last);
        return g;
}

/* Applies want again from zeroed counters: it must succeed with exactly n writes. */
static void assert_apply_writes(FakeCg *f, CgGroup *g, const CgKnobs *want, CgKnobs *last, int n) {
        ColoError err = {};
        fake_reset_counters(f);
        assert_int_equal(cg_group_apply(g, want, last, on_write, f, &err), 0);
        assert_int_equal(f->writes, n);
}

static void test_apply_converts_units_v1(void **state) {
        FakeCg *f = *state;
        CgKnobs want, last;
        CgGroup *g = open_offline_knobs(f, &want, &last);
        want.cpu_weight = 50;
        want.cpu_quota_usec = 150000;
        want.cpu_period_usec = 50000;
        want.cpu_burst_usec = 1000;
        snprintf(want.cpuset_cpus, sizeof(want.cpuset_cpus), "1");
        snprintf(want.cpuset_mems, sizeof(want.cpuset_mems), "0");
        want.mem_max = 1 << 30;
        want.mem_soft_limit = CG_UNLIMITED;
        want.mem_high = 1 << 20;        /* no v1 equivalent: ignored */
        want.mem_low = 1 << 20;
        want.io_weight = 5000;
        want.n_io_limits = 1;
        want.io_limits[0] = (CgIoLimit) { "8:0", 1048576, CG_UNLIMITED, CG_UNSET, 100 };
        want.cpu_qos_level = -1;
        want.mem_qos_level = -1;
        ColoError err = {};
        assert_int_equal(cg_group_apply(g, &want, &last, on_write, f, &err), 0);
        static const FakeFile written[] = {
                { "cpu/colo/offline/cpu.shares", "512" },
                { "cpu/colo/offline/cpu.cfs_quota_us", "150000" },
                { "cpu/colo/offline/cpu.cfs_period_us", "50000" },
                { "cpu/colo/offline/cpu.cfs_burst_us", "1000" },
                { "cpu/colo/offline/cpu.qos_level", "-1" },
                { "cpuset/colo/offline/cpuset.cpus", "1" },
                { "cpuset/colo/offline/cpuset.mems", "0" },
                { "memory/process_api/abc/colo/offline/memory.limit_in_bytes", "1073741824" },
                { "memory/process_api/abc/colo/offline/memory.soft_limit_in_bytes", "-1" },
                { "memory/process_api/abc/colo/offline/memory.qos_level", "-1" },
                { "memory/process_api/abc/colo/offline/memory.high", NULL },
                { "blkio/colo/offline/blkio.weight", "1000" },
                { "blkio/colo/offline/blkio.throttle.read_bps_device", "8:0 1048576" },
                { "blkio/colo/offline/blkio.throttle.write_bps_device", "8:0 0" },
                { "blkio/colo/offline/blkio.throttle.read_iops_device", "" },
                { "blkio/colo/offline/blkio.throttle.write_iops_device", "8:0 100" },
        };
        fakefs_assert_files(f->dir, "fs", written, ELEMENTSOF(written));
        assert_int_equal(f->reported, 0);

        /* The same wants again: not one write. */
        assert_apply_writes(f, g, &want, &last, 0);

        /* Unlimited quota is -1; only the changed knob is written. */
        want.cpu_quota_usec = CG_UNLIMITED;
        assert_int_equal(cg_group_apply(g, &want, &last, on_write, f, &err), 0);
        assert_int_equal(f->writes, 1);
        assert_string_equal(fakefs_read(f->dir, "fs/cpu/colo/offline/cpu.cfs_quota_us"), "-1");
        cg_group_free(g);
}

static void test_apply_idle_suspends_weight(void **state) {
        FakeCg *f = *state;
        CgKnobs want, last;
        CgGroup *g = open_offline_knobs(f, &want, &last);
        want.cpu_weight = 100;
        want.cpu_idle = 1;
        ColoError err = {};
        assert_int_equal(cg_group_apply(g, &want, &last, NULL, NULL, &err), 0);
        assert_string_equal(fakefs_read(f->dir, "fs/cpu/colo/offline/cpu.idle"), "1");
        assert_string_equal(fakefs_read(f->dir, "fs/cpu/colo/offline/cpu.shares"), "1024\n");      /* untouched */
        /* Leaving idle writes cpu.idle first, then the weight. */
        want.cpu_idle = 0;
        want.cpu_weight = 200;
        fake_reset_counters(f);
        assert_int_equal(cg_group_apply(g, &want, &last, NULL, NULL, &err), 0);
        assert_int_equal(f->writes, 2);
        assert_string_equal(fakefs_read(f->dir, "fs/cpu/colo/offline/cpu.idle"), "0");
        assert_string_equal(fakefs_read(f->dir, "fs/cpu/colo/offline/cpu.shares"), "2048");
        cg_group_free(g);
}

static void test_apply_skips_missing_optional_files_v1(void **state) {
        FakeCg *f = *state;
        CgKnobs want, last;
        CgGroup *g = open_offline_knobs(f, &want, &last);
        want.cpu_weight = 10;
        want.cpu_idle = 1;
        want.cpu_burst_usec = 5000;
        want.cpu_qos_level = -1;
        want.mem_qos_level = -1;
        want.io_weight = 100;
        ColoError err = {};
        assert_int_equal(cg_group_apply(g, &want, &last, on_write, f, &err), 0);
        assert_int_equal(f->reported, 0);
        assert_int_equal(err.code, 0);
        /* Without cpu.idle the weight is the fallback, so it is written. */
        assert_string_equal(fakefs_read(f->dir, "fs/cpu/colo/offline/cpu.shares"), "102");
        assert_false(fakefs_exists(f->dir, "fs/cpu/colo/offline/cpu.idle"));
        assert_false(fakefs_exists(f->dir, "fs/blkio/colo/offline/blkio.bfq.weight"));
        /* Remembered as absent: not tried again. */
        assert_apply_writes(f, g, &want, &last, 0);
        assert_false(cg_group_has_file(g, CG_CTRL_CPU, "cpu.idle"));
        assert_true(cg_group_has_file(g, CG_CTRL_CPU, "cpu.shares"));
        assert_true(cg_group_has_file(g, CG_CTRL_CPU, "cpuacct.usage"));
        cg_group_free(g);
}

static void test_apply_rejects_bad_input_without_writing(void **state) {
        FakeCg *f = *state;
        CgGroup *g = open_offline(f);
        CgKnobs want, last;
        ColoError err = {};
        for (int i = 0; i < 8; i++) {
                cg_knobs_init(&want);
                cg_knobs_init(&last);
                want.mem_max = 1 << 20;         /* valid, must not be written either */
                switch (i) {
                case 0: want.cpu_weight = 0; break;
                case 1: want.cpu_weight = 10001; break;
                case 2: want.cpu_idle = 2; break;
                case 3: want.cpu_quota_usec = 10; break;
                case 4: want.cpu_period_usec = 2000000; break;
                case 5: snprintf(want.cpuset_cpus, sizeof(want.cpuset_cpus), "0;rm"); break;
                case 6: want.n_io_limits = 1; snprintf(want.io_limits[0].device, 32, "sda"); break;
                case 7: want.oom_score_adj = 1001; break;
                }
                fake_reset_counters(f);
                assert_int_equal(cg_group_apply(g, &want, &last, on_write, f, &err), -EINVAL);
                assert_non_null(strstr(err.msg, "'offline'"));
                assert_int_equal(f->writes, 0);
        }
        cg_group_free(g);
}

/* io.latency (the online protection) and io.bfq.weight next to io.weight, where the files
 * exist; "max" removes a latency target, and a steady state writes nothing. */
static void test_apply_io_latency_and_bfq_weight_v2(void **state) {
        FakeCg *f = *state;
        CgKnobs want, last;
        fakefs_write(f->dir, "fs/svc/colo/offline/io.latency", "");
        fakefs_write(f->dir, "fs/svc/colo/offline/io.bfq.weight", "default 100\n");
        CgGroup *g = open_offline_knobs(f, &want, &last);
        want.io_weight = 5000;
        want.n_io_limits = 2;
        want.io_limits[0] = (CgIoLimit) { "254:0", CG_UNSET, CG_UNSET, CG_UNSET, CG_UNSET, .latency_usec = 5000 };
        want.io_limits[1] = (CgIoLimit) { "8:16", CG_UNSET, 1048576, CG_UNSET, CG_UNSET };
        ColoError err = {};
        assert_int_equal(cg_group_apply(g, &want, &last, on_write, f, &err), 0);
        static const FakeFile written[] = {
                { "io.weight", "default 5000" },
                { "io.bfq.weight", "default 1000" },     /* BFQ's range ends at 1000 */
                { "io.latency", "254:0 target=5000" },
                { "io.max", "8:16 wbps=1048576" },
        };
        fakefs_assert_files(f->dir, "fs/svc/colo/offline", written, ELEMENTSOF(written));
        assert_apply_writes(f, g, &want, &last, 0);

        want.io_limits[0].latency_usec = CG_UNLIMITED;
        assert_int_equal(cg_group_apply(g, &want, &last, on_write, f, &err), 0);
        assert_string_equal(fakefs_read(f->dir, "fs/svc/colo/offline/io.latency"), "254:0 target=max");
        cg_group_free(g);
}

static void test_apply_v2(void **state) {
        FakeCg *f = *state;
        CgKnobs want, last;
        CgGroup *g = open_offline_knobs(f, &want, &last);
        want.cpu_weight = 20;
        want.cpu_quota_usec = 50000;
        want.cpu_period_usec = 100000;
        want.cpu_burst_usec = 10000;
        want.mem_max = CG_UNLIMITED;
        want.mem_high = 3 << 20;
        want.mem_low = 1 << 20;
        want.mem_min = 4096;
        want.mem_soft_limit = 4096;     /* v1 only: ignored */
        want.io_weight = 50;
        want.n_io_limits = 1;
        want.io_limits[0] = (CgIoLimit) { "259:0", 2097152, CG_UNSET, CG_UNLIMITED, 300 };
        want.cpu_qos_level = -1;        /* no cpu.qos_level on upstream kernels: skipped */
        ColoError err = {};
        assert_int_equal(cg_group_apply(g, &want, &last, on_write, f, &err), 0);
        static const FakeFile written[] = {
                { "cpu.weight", "20" },
                { "cpu.max", "50000 100000" },
                { "cpu.max.burst", "10000" },
                { "memory.max", "max" },
                { "memory.high", "3145728" },
                { "memory.low", "1048576" },
                { "memory.min", "4096" },
                { "io.weight", "default 50" },
                { "io.max", "259:0 rbps=2097152 riops=max wiops=300" },
                { "memory.soft_limit_in_bytes", NULL },
                { "cpu.qos_level", NULL },
        };
        fakefs_assert_files(f->dir, "fs/svc/colo/offline", written, ELEMENTSOF(written));

        assert_apply_writes(f, g, &want, &last, 0);

        /* "max" quota keeps the period; a period alone keeps the current quota. */
        want.cpu_quota_usec = CG_UNLIMITED;
        assert_int_equal(cg_group_apply(g, &want, &last, on_write, f, &err), 0);
        assert_string_equal(fakefs_read(f->dir, "fs/svc/colo/offline/cpu.max"), "max 100000");
        CgKnobs period_only;
        cg_knobs_init(&period_only);
        period_only.cpu_period_usec = 20000;
        CgKnobs last2;
        cg_knobs_init(&last2);
        assert_int_equal(cg_group_apply(g, &period_only, &last2, on_write, f, &err), 0);
        assert_string_equal(fakefs_read(f->dir, "fs/svc/colo/offline/cpu.max"), "max 20000");
        cg_group_free(g);
}

/* pids.max lives in the pids hierarchy on v1 (its own directory next to cpu and memory) and in
 * the one directory on v2; both take "max" or a count. */
static void test_apply_pids_max_v1(void **state) {
        FakeCg *f = *state = fake_new();
        static const char self[] = "8:pids:/\n7:blkio:/\n4:memory:/process_api/abc\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n";
        fake_v1_group(f, "colo", false);
        fake_v1_group(f, "colo/offline", false);
        fakefs_write(f->dir, "fs/pids/colo/offline/pids.max", "max\n");
        fakefs_write(f->dir, "fs/pids/colo/offline/cgroup.procs", "");
        assert_int_equal(fake_open(f, CG_MODE_V1, self), 0);
        assert_true(cg_root_has_controller(f->root, CG_CTRL_PIDS));
        CgKnobs want, last;
        CgGroup *g = open_offline_knobs(f, &want, &last);
        assert_true(cg_group_has_file(g, CG_CTRL_PIDS, "pids.max"));
        ColoError err = {};
        static const struct {
                uint64_t pids_max;
                const char *file;
        } cases[] = {
                { 4096, "4096" },
                { CG_UNLIMITED, "max" },
                { 1, "1" },
                { CG_PIDS_MAX, "4194304" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                want.pids_max = cases[i].pids_max;
                fake_reset_counters(f);
                assert_int_equal(cg_group_apply(g, &want, &last, on_write, f, &err), 0);
                assert_int_equal(f->writes, 1);
                assert_string_equal(fakefs_read(f->dir, "fs/pids/colo/offline/pids.max"), cases[i].file);
                assert_apply_writes(f, g, &want, &last, 0);
        }
        /* A failed write names its path and is retried at the next apply. */
        want.pids_max = 512;
        fake_reset_counters(f);
        f->fail_at = 0;
        assert_int_equal(cg_group_apply(g, &want, &last, on_write, f, &err), 1);
        assert_non_null(strstr(f->reported_path, "fs/pids/colo/offline/pids.max"));
        assert_int_equal(last.pids_max, CG_UNSET);
        assert_apply_writes(f, g, &want, &last, 1);
        assert_string_equal(fakefs_read(f->dir, "fs/pids/colo/offline/pids.max"), "512");
        /* Out of range: refused, nothing written. */
        const uint64_t bad[] = { 0, CG_PIDS_MAX + 1 };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                want.pids_max = bad[i];
                fake_reset_counters(f);
                assert_int_equal(cg_group_apply(g, &want, &last, on_write, f, &err), -EINVAL);
                assert_non_null(strstr(err.msg, "pids.max"));
                assert_int_equal(f->writes, 0);
        }
        cg_group_free(g);
}

/* Without a pids hierarchy (the minimal tree) the knob is skipped, as other controllers' are. */
static void test_apply_pids_max_without_pids_hierarchy_v1(void **state) {
        FakeCg *f = *state;
        CgKnobs want, last;
        CgGroup *g = open_offline_knobs(f, &want, &last);
        assert_false(cg_root_has_controller(f->root, CG_CTRL_PIDS));
        want.pids_max = 100;
        assert_apply_writes(f, g, &want, &last, 0);
        assert_false(fakefs_exists(f->dir, "fs/pids"));
        cg_group_free(g);
}

static void test_apply_pids_max_v2(void **state) {
        FakeCg *f = *state;
        CgKnobs want, last;
        CgGroup *g = open_offline_knobs(f, &want, &last);
        want.pids_max = 2048;
        want.mem_max = 1 << 30;
        want.mem_high = 966367232;
        ColoError err = {};
        assert_int_equal(cg_group_apply(g, &want, &last, on_write, f, &err), 0);
        static const FakeFile written[] = {
                { "pids.max", "2048" },
                { "memory.max", "1073741824" },
                { "memory.high", "966367232" },
        };
        fakefs_assert_files(f->dir, "fs/svc/colo/offline", written, ELEMENTSOF(written));
        assert_apply_writes(f, g, &want, &last, 0);
        want.pids_max = CG_UNLIMITED;
        assert_apply_writes(f, g, &want, &last, 1);
        assert_string_equal(fakefs_read(f->dir, "fs/svc/colo/offline/pids.max"), "max");
        cg_group_free(g);
}

/* Fails write n (EBUSY) for every n until no write fault fires: each failure must be reported
 * with its path, leave the knob invalid in *last, and be retried by the next apply. */
static void fault_sweep(FakeCg *f, const CgKnobs *want) {
        for (int n = 0;; n++) {
                CgGroup *g = open_offline(f);
                CgKnobs last;
                cg_knobs_init(&last);
                fake_reset_counters(f);
                f->fail_at = n;
                ColoError err = {};
                int r = cg_group_apply(g, want, &last, on_write, f, &err);
                if (!f->fired) {
                        assert_int_equal(r, 0);
                        cg_group_free(g);
                        assert_true(n > 5);
                        break;
                }
                assert_int_equal(r, 1);
                assert_int_equal(f->reported, 1);
                assert_int_equal(f->reported_r, -EBUSY);
                assert_string_equal(f->reported_path, f->failed_path);
                assert_non_null(strstr(err.msg, f->failed_path));
                assert_non_null(strstr(err.msg, f->reported_value));

                /* The next apply retries the failed knob. */
                snprintf(f->watch_path, sizeof(f->watch_path), "%s", f->failed_path);
                fake_reset_counters(f);
                f->watch_seen = false;
                r = cg_group_apply(g, want, &last, on_write, f, &err);
                assert_int_equal(r, 0);
                assert_true(f->watch_seen);
                f->watch_path[0] = '\0';
                assert_int_equal(f->reported, 0);
                /* And then the steady state writes nothing. */
                fake_reset_counters(f);
                assert_int_equal(cg_group_apply(g, want, &last, on_write, f, &err), 0);
                assert_int_equal(f->writes, 0);
                cg_group_free(g);
        }
}

static void test_apply_fault_sweep_v1(void **state) {
        FakeCg *f = *state;
        CgKnobs want;
        cg_knobs_init(&want);
        want.cpu_weight = 300;
        want.cpu_quota_usec = 20000;
        want.cpu_period_usec = 100000;
        want.cpu_burst_usec = 1000;
        want.mem_max = 1 << 30;
        want.mem_soft_limit = 1 << 29;
        want.io_weight = 100;
        want.n_io_limits = 1;
        want.io_limits[0] = (CgIoLimit) { "8:0", 1000, 2000, CG_UNSET, CG_UNSET };
        want.cpu_qos_level = 0;
        fault_sweep(f, &want);
}

static void test_apply_fault_sweep_v2(void **state) {
        FakeCg *f = *state;
        CgKnobs want;
        cg_knobs_init(&want);
        want.cpu_weight = 300;
        want.cpu_idle = 0;
        want.cpu_quota_usec = 20000;
        want.cpu_period_usec = 100000;
        want.cpu_burst_usec = 1000;
        snprintf(want.cpuset_cpus, sizeof(want.cpuset_cpus), "0-1");
        want.mem_max = 1 << 30;
        want.mem_high = 1 << 29;
        want.mem_low = 1 << 20;
        want.io_weight = 100;
        want.n_io_limits = 1;
        want.io_limits[0] = (CgIoLimit) { "8:0", 1000, 2000, CG_UNSET, CG_UNSET };
        want.pids_max = 1000;
        fault_sweep(f, &want);
}

static void test_apply_oom_score_adj_to_new_tasks_only(void **state) {
        FakeCg *f = *state;
        fakefs_write(f->dir, "proc/100/oom_score_adj", "0\n");
        fakefs_write(f->dir, "proc/101/oom_score_adj", "0\n");
        fakefs_write(f->dir, "proc/102/oom_score_adj", "0\n");
        fakefs_write(f->dir, "fs/cpu/colo/offline/cgroup.procs", "100\n101\n");
        fakefs_write(f->dir, "fs/cpu/colo/offline/sub/cgroup.procs", "999\n");     /* exited: no proc entry */
        CgKnobs want, last;
        CgGroup *g = open_offline_knobs(f, &want, &last);
        want.oom_score_adj = 500;
        ColoError err = {};
        assert_int_equal(cg_group_apply(g, &want, &last, on_write, f, &err), 0);
        assert_string_equal(fakefs_read(f->dir, "proc/100/oom_score_adj"), "500");
        assert_string_equal(fakefs_read(f->dir, "proc/101/oom_score_adj"), "500");
        assert_int_equal(last.oom_score_adj, 500);
        assert_apply_writes(f, g, &want, &last, 0);
        /* A new task gets it; old ones are not rewritten. */
        fakefs_write(f->dir, "fs/cpu/colo/offline/cgroup.procs", "100\n101\n102\n");
        assert_apply_writes(f, g, &want, &last, 1);
        assert_string_equal(fakefs_read(f->dir, "proc/102/oom_score_adj"), "500");
        /* A task colo attaches gets it at once. */
        fakefs_write(f->dir, "proc/103/oom_score_adj", "0\n");
        assert_int_equal(cg_group_attach(g, 103, &err), 0);
        assert_string_equal(fakefs_read(f->dir, "proc/103/oom_score_adj"), "500");
        assert_string_equal(fakefs_read(f->dir, "fs/memory/process_api/abc/colo/offline/cgroup.procs"), "103");
        /* As the kernel would list them. */
        fakefs_write(f->dir, "fs/cpu/colo/offline/cgroup.procs", "100\n101\n102\n103\n");
        /* A failed write is reported with the /proc path and retried. */
        want.oom_score_adj = 900;
        fake_reset_counters(f);
        f->fail_at = 0;
        assert_int_equal(cg_group_apply(g, &want, &last, on_write, f, &err), 1);
        assert_int_equal(last.oom_score_adj, CG_UNSET_INT);
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/proc/100/oom_score_adj", f->dir);
        assert_string_equal(f->reported_path, p);
        assert_apply_writes(f, g, &want, &last, 1);
        assert_string_equal(fakefs_read(f->dir, "proc/100/oom_score_adj"), "900");
        assert_int_equal(last.oom_score_adj, 900);

        /* After a usage read saw the same tasks, apply does not rescan; a task that arrives
         * later is handled after the next usage read. */
        CgUsage u;
        assert_int_equal(cg_group_read_usage_fields(g, CG_USAGE_TASKS, &u, &err), 0);
        assert_int_equal(u.nr_tasks, 5);
        fakefs_write(f->dir, "proc/104/oom_score_adj", "0\n");
        fakefs_write(f->dir, "fs/cpu/colo/offline/cgroup.procs", "100\n101\n102\n103\n104\n");
        assert_apply_writes(f, g, &want, &last, 0);
        assert_int_equal(cg_group_read_usage_fields(g, CG_USAGE_TASKS, &u, &err), 0);
        assert_int_equal(u.nr_tasks, 6);
        assert_int_equal(cg_group_apply(g, &want, &last, on_write, f, &err), 0);
        assert_int_equal(f->writes, 1);
        assert_string_equal(fakefs_read(f->dir, "proc/104/oom_score_adj"), "900");
        cg_group_free(g);
}

/* --- dry run: the write seam records and writes nothing --- */

typedef struct DryRecord {
        size_t n;
        char paths[32][PATH_MAX];
        char olds[32][64], news[32][64];
} DryRecord;

static void record_dry(void *userdata, const char *path, const char *old_value, const char *new_value) {
        DryRecord *d = userdata;
        assert_true(d->n < 32);
        snprintf(d->paths[d->n], sizeof(d->paths[0]), "%s", path);
        snprintf(d->olds[d->n], sizeof(d->olds[0]), "%s", old_value);
        snprintf(d->news[d->n], sizeof(d->news[0]), "%s", new_value);
        d->n++;
}

/* Whether rel (below f->dir) was recorded with old and new. */
static bool dry_recorded(const FakeCg *f, const DryRecord *d, const char *rel, const char *old, const char *new) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", f->dir, rel);
        for (size_t i = 0; i < d->n; i++)
                if (strcmp(d->paths[i], p) == 0 && strcmp(d->olds[i], old) == 0 && strcmp(d->news[i], new) == 0)
                        return true;
        return false;
}

static void test_dry_run_records_every_write_and_makes_none_v1(void **state) {
        FakeCg *f = *state;
        fakefs_write(f->dir, "proc/100/oom_score_adj", "0\n");
        fakefs_write(f->dir, "fs/cpu/colo/offline/cgroup.procs", "100\n");
        DryRecord d = {};
        cg_root_set_dry_run(f->root, record_dry, &d);
        assert_true(cg_root_is_dry_run(f->root));
        CgKnobs want, last;
        CgGroup *g = open_offline_knobs(f, &want, &last);
        want.cpu_weight = 50;
        want.cpu_quota_usec = 150000;
        want.oom_score_adj = 500;
        ColoError err = {};
        /* Everything above the seam sees the writes succeed, and remembers them. */
        assert_int_equal(cg_group_apply(g, &want, &last, on_write, f, &err), 0);
        assert_int_equal(last.cpu_weight, 50);
        assert_int_equal(last.oom_score_adj, 500);
        assert_int_equal(f->writes, 0);         /* not even the test hook is reached */
        assert_true(dry_recorded(f, &d, "fs/cpu/colo/offline/cpu.shares", "1024", "512"));
        assert_true(dry_recorded(f, &d, "fs/cpu/colo/offline/cpu.cfs_quota_us", "-1", "150000"));
        assert_true(dry_recorded(f, &d, "proc/100/oom_score_adj", "0", "500"));
        assert_string_equal(fakefs_read(f->dir, "fs/cpu/colo/offline/cpu.shares"), "1024\n");
        assert_string_equal(fakefs_read(f->dir, "proc/100/oom_score_adj"), "0\n");
        /* Nothing to read back: nothing was written. */
        assert_int_equal(cg_group_verify(g, &last, NULL, NULL), 0);
        /* A group a real run would create: the mkdir is recorded, no directory made, and its
         * writes are recorded against the group it would be. */
        CgGroup *fresh = NULL;
        assert_int_equal(cg_group_open(f->root, "offline/new", true, &fresh, &err), 0);
        assert_true(dry_recorded(f, &d, "fs/cpu/colo/offline/new", "(no directory)", "(mkdir)"));
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/fs/cpu/colo/offline/new", f->dir);
        assert_int_equal(access(dir, F_OK), -1);
        CgKnobs fresh_last;
        cg_knobs_init(&fresh_last);
        assert_int_equal(cg_group_apply(fresh, &want, &fresh_last, on_write, f, &err), 0);
        assert_true(dry_recorded(f, &d, "fs/cpu/colo/offline/new/cpu.shares", "(group not created yet)", "512"));
        cg_group_free(fresh);
        /* Signals too are only recorded. */
        assert_int_equal(cg_group_kill(g, SIGKILL, &err), 1);
        assert_true(dry_recorded(f, &d, "fs/cpu/colo/offline/cgroup.procs", "", "(signal 9 to each of 1 tasks)"));
        cg_group_free(g);
}

/* --- reconcile --- */

static void test_verify_finds_knobs_changed_behind_colos_back_v1(void **state) {
        FakeCg *f = *state;
        CgKnobs want, last;
        CgGroup *g = open_offline_knobs(f, &want, &last);
        want.cpu_weight = 50;
        want.cpu_idle = 0;
        want.mem_max = (1 << 30) + 100;         /* the kernel keeps 1 GiB: pages */
        ColoError err = {};
        assert_int_equal(cg_group_apply(g, &want, &last, on_write, f, &err), 0);
        assert_int_equal(cg_group_verify(g, &last, NULL, NULL), 0);
        /* Someone makes the group idle: the kernel reset the weight then, so both are rewritten. */
        fakefs_write(f->dir, "fs/cpu/colo/offline/cpu.idle", "1\n");
        assert_int_equal(cg_group_verify(g, &last, NULL, NULL), 1);
        assert_int_equal(last.cpu_idle, CG_UNSET_INT);
        assert_int_equal(last.cpu_weight, CG_UNSET);
        assert_apply_writes(f, g, &want, &last, 2);
        assert_string_equal(fakefs_read(f->dir, "fs/cpu/colo/offline/cpu.idle"), "0");
        /* Page rounding of a byte limit by the kernel is no change; another value is. */
        fakefs_write(f->dir, "fs/memory/process_api/abc/colo/offline/memory.limit_in_bytes", "1073741824\n");
        assert_int_equal(cg_group_verify(g, &last, NULL, NULL), 0);
        fakefs_write(f->dir, "fs/memory/process_api/abc/colo/offline/memory.limit_in_bytes", "-1\n");
        assert_int_equal(cg_group_verify(g, &last, NULL, NULL), 1);
        assert_apply_writes(f, g, &want, &last, 1);
        cg_group_free(g);
}

/* --- reading --- */

static void test_read_usage_v1(void **state) {
        FakeCg *f = *state;
        fakefs_write(f->dir, "fs/cpu/colo/offline/cgroup.procs", "10\n11\n");
        fakefs_write(f->dir, "fs/cpu/colo/offline/a/cgroup.procs", "12\n");
        fakefs_write(f->dir, "fs/cpu/colo/offline/a/b/cgroup.procs", "13\n14\n");
        CgGroup *g = open_offline(f);
        CgUsage u;
        ColoError err = {};
        assert_int_equal(cg_group_read_usage(g, &u, &err), 0);
        assert_int_equal(u.cpu_usage_usec, 123456);
        assert_int_equal(u.cpu_nr_periods, 10);
        assert_int_equal(u.cpu_nr_throttled, 3);
        assert_int_equal(u.cpu_throttled_usec, 5000);
        assert_int_equal(u.mem_usage, 104857600);
        assert_int_equal(u.mem_working_set, 104857600 - 4194304);
        assert_true(u.mem_limit == CG_UNLIMITED);
        assert_int_equal(u.mem_oom_kills, 2);
        assert_false(u.cpu_pressure.valid);
        assert_int_equal(u.nr_tasks, 5);

        /* Kept-open files see new contents; inactive above usage floors the working set at 0. */
        fakefs_write(f->dir, "fs/memory/process_api/abc/colo/offline/memory.usage_in_bytes", "1000\n");
        fakefs_write(f->dir, "fs/memory/process_api/abc/colo/offline/memory.limit_in_bytes", "4096\n");
        assert_int_equal(cg_group_read_usage(g, &u, &err), 0);
        assert_int_equal(u.mem_usage, 1000);
        assert_int_equal(u.mem_working_set, 0);
        assert_int_equal(u.mem_limit, 4096);

        /* Only what is asked for is read. */
        assert_int_equal(cg_group_read_usage_fields(g, CG_USAGE_CPU, &u, &err), 0);
        assert_int_equal(u.cpu_usage_usec, 123456);
        assert_int_equal(u.mem_usage, 0);
        assert_true(u.mem_limit == CG_UNLIMITED);
        assert_int_equal(u.nr_tasks, 0);
        assert_int_equal(cg_group_read_usage_fields(g, CG_USAGE_WORKING_SET, &u, &err), 0);
        assert_int_equal(u.cpu_usage_usec, 0);
        assert_int_equal(u.mem_usage, 1000);
        assert_true(u.mem_limit == CG_UNLIMITED);
        /* The narrow fields leave out cpu.stat, the limit and oom_control. */
        assert_int_equal(cg_group_read_usage_fields(g, CG_USAGE_CPU_TIME | CG_USAGE_MEM_CURRENT, &u, &err), 0);
        assert_int_equal(u.cpu_usage_usec, 123456);
        assert_int_equal(u.cpu_nr_periods, 0);
        assert_int_equal(u.mem_usage, 1000);
        assert_true(u.mem_limit == CG_UNLIMITED);
        assert_int_equal(u.mem_oom_kills, 0);
        assert_int_equal(cg_group_read_usage_fields(g, CG_USAGE_CPU_THROTTLING | CG_USAGE_MEM_LIMITS, &u, &err), 0);
        assert_int_equal(u.cpu_usage_usec, 0);
        assert_int_equal(u.cpu_nr_throttled, 3);
        assert_int_equal(u.mem_usage, 0);
        assert_int_equal(u.mem_limit, 4096);
        assert_int_equal(u.mem_oom_kills, 2);

        fakefs_write(f->dir, "fs/cpu/colo/offline/cpu.stat", "nr_periods x\n");
        assert_int_equal(cg_group_read_usage(g, &u, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "colo/offline/cpu.stat"));
        cg_group_free(g);
}

/* Files are read with one pread() that stops short of the buffer's end; a file that fills the
 * buffer exactly is still read whole, one byte more is too large (single-number buffer: 64). */
static void test_read_buffer_boundaries_v1(void **state) {
        FakeCg *f = *state;
        const char *file = "fs/memory/process_api/abc/colo/offline/memory.usage_in_bytes";
        CgGroup *g = open_offline(f);
        CgUsage u;
        ColoError err = {};
        char text[128];

        /* 63 bytes: leading zeros, the value, a newline. */
        snprintf(text, sizeof(text), "%058d4096\n", 0);
        assert_int_equal(strlen(text), 63);
        fakefs_write(f->dir, file, text);
        assert_int_equal(cg_group_read_usage_fields(g, CG_USAGE_MEMORY, &u, &err), 0);
        assert_int_equal(u.mem_usage, 4096);

        snprintf(text, sizeof(text), "%059d4096\n", 0);
        fakefs_write(f->dir, file, text);
        assert_int_equal(cg_group_read_usage_fields(g, CG_USAGE_MEMORY, &u, &err), -EFBIG);
        assert_non_null(strstr(err.msg, "colo/offline/memory.usage_in_bytes"));

        /* A shorter file after a longer one: nothing of the old contents is left over. */
        fakefs_write(f->dir, file, "7\n");
        assert_int_equal(cg_group_read_usage_fields(g, CG_USAGE_MEMORY, &u, &err), 0);
        assert_int_equal(u.mem_usage, 7);
        cg_group_free(g);
}

static void test_read_usage_v2(void **state) {
        FakeCg *f = *state;
        CgGroup *g = open_offline(f);
        CgUsage u;
        ColoError err = {};
        assert_int_equal(cg_group_read_usage(g, &u, &err), 0);
        assert_int_equal(u.cpu_usage_usec, 5000);
        assert_int_equal(u.cpu_nr_periods, 7);
        assert_int_equal(u.cpu_nr_throttled, 1);
        assert_int_equal(u.cpu_throttled_usec, 250);
        assert_int_equal(u.mem_usage, 2097152);
        assert_int_equal(u.mem_working_set, 1048576);
        assert_true(u.mem_limit == CG_UNLIMITED);
        assert_int_equal(u.mem_oom_kills, 1);
        assert_true(u.cpu_pressure.valid);
        assert_true(u.cpu_pressure.some_avg10 == 1.5);
        assert_int_equal(u.cpu_pressure.some_total_usec, 12345);
        assert_true(u.mem_pressure.valid);
        assert_false(u.io_pressure.valid);      /* no io.pressure file */
        assert_int_equal(u.nr_tasks, 0);
        assert_int_equal(cg_group_read_usage_fields(g, CG_USAGE_CPU_TIME | CG_USAGE_MEM_CURRENT, &u, &err), 0);
        assert_int_equal(u.cpu_usage_usec, 5000);
        assert_int_equal(u.mem_usage, 2097152);
        assert_int_equal(u.mem_oom_kills, 0);
        assert_false(u.cpu_pressure.valid);
        char p[PATH_MAX], want[PATH_MAX];
        assert_int_equal(cg_group_pressure_path(g, "memory", p, sizeof(p)), 0);
        snprintf(want, sizeof(want), "%s/fs/svc/colo/offline/memory.pressure", f->dir);
        assert_string_equal(p, want);
        assert_int_equal(cg_group_pressure_path(g, "disk", p, sizeof(p)), -EINVAL);
        cg_group_free(g);
}

static void test_read_host_pressure(void **state) {
        FakeCg *f = *state = fake_new();
        fakefs_write(f->dir, "proc/pressure/cpu", "some avg10=3.00 avg60=2.00 avg300=1.00 total=99\n");
        fakefs_write(f->dir, "proc/pressure/memory", "some avg10=0.10 avg60=0.00 avg300=0.00 total=5\n"
                                              "full avg10=0.05 avg60=0.00 avg300=0.00 total=2\n");
        char proc[PATH_MAX];
        snprintf(proc, sizeof(proc), "%s/proc", f->dir);
        CgPressure cpu, mem, io;
        ColoError err = {};
        assert_int_equal(cg_read_host_pressure(proc, &cpu, &mem, &io, &err), 0);
        assert_true(cpu.valid && cpu.some_avg10 == 3.0 && cpu.some_total_usec == 99);
        assert_true(mem.valid && mem.full_avg10 == 0.05);
        assert_false(io.valid);
        fakefs_write(f->dir, "proc/pressure/io", "garbage\n");
        assert_int_equal(cg_read_host_pressure(proc, &cpu, &mem, &io, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "pressure/io"));
}

static void test_hybrid_mirrors_groups_for_pressure(void **state) {
        (void) state;
        FakeCg *f = fake_new();
        *state = f;
        fake_v1_group(f, "colo", true);
        fake_v1_group(f, "colo/offline", true);
        fakefs_write(f->dir, "fs/unified/svc/colo/offline/cgroup.procs", "");
        fakefs_write(f->dir, "fs/unified/svc/colo/offline/cpu.pressure",
                     "some avg10=9.00 avg60=0.00 avg300=0.00 total=4\n");
        assert_int_equal(fake_open(f, CG_MODE_V1, "4:memory:/process_api/abc\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n"
                                                  "7:blkio:/\n0::/svc\n"),
                         0);
        assert_int_equal(cg_root_mode(f->root), CG_MODE_V1);
        assert_true(cg_root_is_hybrid(f->root));
        CgGroup *g = open_offline(f);
        CgUsage u;
        ColoError err = {};
        assert_int_equal(cg_group_read_usage(g, &u, &err), 0);
        assert_true(u.cpu_pressure.valid && u.cpu_pressure.some_avg10 == 9.0);
        assert_false(u.mem_pressure.valid);
        char p[PATH_MAX], want[PATH_MAX];
        assert_int_equal(cg_group_pressure_path(g, "memory", p, sizeof(p)), 0);
        snprintf(want, sizeof(want), "%s/fs/unified/svc/colo/offline/memory.pressure", f->dir);
        assert_string_equal(p, want);
        assert_int_equal(cg_group_attach(g, 77, &err), 0);
        assert_string_equal(fakefs_read(f->dir, "fs/unified/svc/colo/offline/cgroup.procs"), "77");
        /* New groups are mirrored; knobs never go there. */
        CgGroup *g2 = NULL;
        assert_int_equal(cg_group_open(f->root, "online/web", true, &g2, &err), 0);
        assert_true(fakefs_exists(f->dir, "fs/unified/svc/colo/online/web"));
        cg_group_free(g2);
        cg_group_free(g);
}

/* Whether this process has a file named name open (a link in /proc/self/fd ending "/name"). */
static bool has_open_file(const char *name) {
        DIR *d = opendir("/proc/self/fd");
        assert_non_null(d);
        bool found = false;
        struct dirent *de;
        while (!found && (de = readdir(d))) {
                char link[PATH_MAX + 64], target[PATH_MAX];
                snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
                ssize_t n = readlink(link, target, sizeof(target) - 1);
                if (n <= 0)
                        continue;
                target[n] = '\0';
                size_t len = strlen(name);
                found = (size_t) n > len && target[n - len - 1] == '/' && strcmp(target + n - len, name) == 0;
        }
        closedir(d);
        return found;
}

/* CG_USAGE_CPU_IO_PRESSURE (each online pod, every tick in Kubernetes mode) reads cpu.pressure and
 * io.pressure only: a malformed memory.pressure is neither opened nor read until
 * CG_USAGE_MEM_PRESSURE asks for it. dir: where the group's pressure files are. */
static void check_pressure_fields_split(FakeCg *f, const char *dir) {
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/cpu.pressure", dir);
        fakefs_write(f->dir, p, "some avg10=2.00 avg60=0.00 avg300=0.00 total=20\n");
        snprintf(p, sizeof(p), "%s/io.pressure", dir);
        fakefs_write(f->dir, p, "some avg10=3.00 avg60=0.00 avg300=0.00 total=30\n");
        snprintf(p, sizeof(p), "%s/memory.pressure", dir);
        fakefs_write(f->dir, p, "not pressure\n");
        CgGroup *g = open_offline(f);
        CgUsage u;
        ColoError err = {};
        assert_int_equal(cg_group_read_usage_fields(g, CG_USAGE_CPU_IO_PRESSURE, &u, &err), 0);
        assert_true(u.cpu_pressure.valid && u.cpu_pressure.some_total_usec == 20);
        assert_true(u.io_pressure.valid && u.io_pressure.some_total_usec == 30);
        assert_false(u.mem_pressure.valid);
        assert_true(has_open_file("cpu.pressure") && has_open_file("io.pressure"));
        assert_false(has_open_file("memory.pressure"));
        assert_int_equal(cg_group_read_usage_fields(g, CG_USAGE_MEM_PRESSURE, &u, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "memory.pressure"));
        assert_true(u.cpu_pressure.valid);      /* untouched on failure: still the last read's */
        snprintf(p, sizeof(p), "%s/memory.pressure", dir);
        fakefs_write(f->dir, p, "some avg10=4.00 avg60=0.00 avg300=0.00 total=40\n");
        assert_int_equal(cg_group_read_usage_fields(g, CG_USAGE_MEM_PRESSURE, &u, &err), 0);
        assert_true(u.mem_pressure.valid && u.mem_pressure.some_total_usec == 40);
        assert_false(u.cpu_pressure.valid || u.io_pressure.valid);
        assert_int_equal(cg_group_read_usage_fields(g, CG_USAGE_PRESSURE, &u, &err), 0);
        assert_true(u.cpu_pressure.valid && u.io_pressure.valid && u.mem_pressure.valid);
        cg_group_free(g);
}

static void test_cpu_io_pressure_leaves_memory_pressure_unread_v2(void **state) {
        check_pressure_fields_split(*state, "fs/svc/colo/offline");
}

static void test_cpu_io_pressure_leaves_memory_pressure_unread_v1(void **state) {
        FakeCg *f = fake_new();
        *state = f;
        fake_v1_group(f, "colo", true);
        fake_v1_group(f, "colo/offline", true);
        fakefs_write(f->dir, "fs/unified/svc/colo/offline/cgroup.procs", "");
        assert_int_equal(fake_open(f, CG_MODE_V1, "4:memory:/process_api/abc\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n"
                                                  "7:blkio:/\n0::/svc\n"),
                         0);
        check_pressure_fields_split(f, "fs/unified/svc/colo/offline");
}

static void test_hybrid_without_v2_entry_has_no_mirror(void **state) {
        (void) state;
        FakeCg *f = fake_new();
        *state = f;
        fake_v1_group(f, "colo/offline", true);
        fakefs_write(f->dir, "fs/unified/README", "");
        assert_int_equal(fake_open(f, CG_MODE_V1, v1_self_no_v2), 0);
        CgGroup *g = open_offline(f);
        char p[PATH_MAX];
        assert_int_equal(cg_group_pressure_path(g, "cpu", p, sizeof(p)), -EOPNOTSUPP);
        cg_group_free(g);
}

static void test_detect_on_plain_directory_fails_clearly(void **state) {
        FakeCg *f = *state = fake_new();
        fakefs_write(f->dir, "fs/cpu/cpu.shares", "1024\n");
        char fs[PATH_MAX];
        snprintf(fs, sizeof(fs), "%s/fs", f->dir);
        CgRootOptions o = { .fs_root = fs, .mode = CG_MODE_DETECT, .subtree = "/" };
        CgRoot *r = NULL;
        ColoError err = {};
        assert_int_equal(cg_root_open(&o, &r, &err), -ENOMEDIUM);
        assert_non_null(strstr(err.msg, fs));
        assert_null(r);
}

/* The process's v2 cgroup beside an absolute subtree (the same parent) is found, with that parent
 * and its own name; anything else is not beside. */
static void test_v2_self_beside(void **state) {
        FakeCg *f = *state = fake_new();
        char self[PATH_MAX], dir[256], leaf[256], tiny[4];
        snprintf(self, sizeof(self), "%s/proc/self/cgroup", f->dir);
        static const struct {
                const char *self, *subtree, *dir, *leaf;
        } beside[] = {
                { "0::/svc/test-self\n", "/svc/test", "/svc", "test-self" },
                { "0::/a\n", "/colo", "", "a" },
        };
        for (size_t i = 0; i < ELEMENTSOF(beside); i++) {
                fakefs_write(f->dir, "proc/self/cgroup", beside[i].self);
                assert_int_equal(cg_v2_self_beside(self, beside[i].subtree, dir, sizeof(dir), leaf, sizeof(leaf)), 1);
                assert_string_equal(dir, beside[i].dir);
                assert_string_equal(leaf, beside[i].leaf);
        }
        static const struct {
                const char *self, *subtree;
        } not_beside[] = {
                { "0::/svc/test-self\n", "colo" },             /* relative: cg_v2_relocate_self's case */
                { "0::/svc/test-self\n", "/other/test" },
                { "0::/svc/test-self\n", "/svc/test-self" },   /* itself */
                { "0::/svc/test/online\n", "/svc/test" },      /* inside it */
                { "0::/svcx/a\n", "/svc/test" },
                { "0::/svc/test-self\n", "/svc/a/test" },      /* the subtree a level deeper */
                { "0::/\n", "/colo" },                          /* the root cgroup */
                { v1_self, "/svc/test" },
        };
        fakefs_write(f->dir, "proc/self/cgroup", "0::/svc/x/test-self\n");      /* below a sibling */
        assert_int_equal(cg_v2_self_beside(self, "/svc/test", dir, sizeof(dir), leaf, sizeof(leaf)), 2);
        assert_string_equal(dir, "/svc");
        assert_string_equal(leaf, "x");
        for (size_t i = 0; i < ELEMENTSOF(not_beside); i++) {
                fakefs_write(f->dir, "proc/self/cgroup", not_beside[i].self);
                assert_int_equal(cg_v2_self_beside(self, not_beside[i].subtree, dir, sizeof(dir), leaf, sizeof(leaf)), 0);
        }
        fakefs_write(f->dir, "proc/self/cgroup", "0::/svc/test-self\n");
        assert_int_equal(cg_v2_self_beside(self, "/svc/test", dir, sizeof(dir), tiny, sizeof(tiny)), -ENAMETOOLONG);
}

/* cgroup v2's no-internal-processes rule: the process leaves its own cgroup for a leaf next to
 * the managed subtree, which is then named by absolute path; v1, hybrid, the root cgroup and an
 * absolute subtree are left alone, and a dry run resolves the subtree without moving. */
static void test_v2_relocate_self(void **state) {
        FakeCg *f = *state = fake_new();
        char fs[PATH_MAX], self[PATH_MAX], subtree[256], pid[32];
        snprintf(fs, sizeof(fs), "%s/fs", f->dir);
        snprintf(self, sizeof(self), "%s/proc/self/cgroup", f->dir);
        snprintf(pid, sizeof(pid), "%d", (int) getpid());
        CgRelocation rel = { .fs_root = fs, .proc_self_cgroup = self, .subtree = "colo", .leaf = "agent" };
        ColoError err = {};

        static const char *const left_alone[] = { v1_self, "0::/\n", "1:cpu:/a\n0::/svc\n" };
        for (size_t i = 0; i < ELEMENTSOF(left_alone); i++) {
                fakefs_write(f->dir, "proc/self/cgroup", left_alone[i]);
                snprintf(subtree, sizeof(subtree), "untouched");
                assert_int_equal(cg_v2_relocate_self(&rel, subtree, sizeof(subtree), &err), 0);
                assert_string_equal(subtree, "untouched");
        }
        fakefs_write(f->dir, "proc/self/cgroup", "0::/svc\n");
        rel.subtree = "/colo.slice/colo";
        assert_int_equal(cg_v2_relocate_self(&rel, subtree, sizeof(subtree), &err), 0);
        assert_string_equal(subtree, "untouched");

        rel.subtree = "colo";   /* dry run: the subtree resolves, nothing is made */
        assert_int_equal(cg_v2_relocate_self(&rel, subtree, sizeof(subtree), &err), 1);
        assert_string_equal(subtree, "/svc/colo");
        assert_false(fakefs_exists(f->dir, "fs/svc/agent"));

        rel.move = true;        /* no such parent cgroup: the mkdir fails, naming the leaf */
        assert_int_equal(cg_v2_relocate_self(&rel, subtree, sizeof(subtree), &err), -ENOENT);
        assert_non_null(strstr(err.msg, "fs/svc/agent"));

        fakefs_write(f->dir, "fs/svc/agent/cgroup.procs", "");  /* cgroupfs has the file; a plain dir does not */
        subtree[0] = '\0';
        assert_int_equal(cg_v2_relocate_self(&rel, subtree, sizeof(subtree), &err), 1);
        assert_string_equal(subtree, "/svc/colo");
        assert_string_equal(fakefs_read(f->dir, "fs/svc/agent/cgroup.procs"), pid);

        char tiny[8];           /* the resolved subtree does not fit: refused before anything moves */
        assert_int_equal(cg_v2_relocate_self(&rel, tiny, sizeof(tiny), &err), -ENAMETOOLONG);
}

static void test_detect_this_machine_read_only(void **state) {
        (void) state;
        if (access("/sys/fs/cgroup", F_OK) < 0)
                skip();
        /* The hierarchy roots themselves, opened without creating or writing anything. */
        CgRootOptions o = { .mode = CG_MODE_DETECT, .subtree = "/" };
        CgRoot *r = NULL;
        ColoError err = {};
        int k = cg_root_open(&o, &r, &err);
        if (k == -ENOMEDIUM)
                skip();
        assert_int_equal(k, 0);
        assert_true(cg_root_mode(r) == CG_MODE_V1 || cg_root_mode(r) == CG_MODE_V2);
        assert_true(cg_root_has_controller(r, CG_CTRL_CPU) || cg_root_mode(r) == CG_MODE_V2);
        print_message("%s\n", cg_root_describe(r));
        cg_root_free(r);
}

/* --- tasks and events --- */

static void test_kill_signals_every_task(void **state) {
        FakeCg *f = *state;
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                pause();
                _exit(0);
        }
        char procs[32];
        snprintf(procs, sizeof(procs), "%d\n", (int) child);
        fakefs_write(f->dir, "fs/cpu/colo/offline/x/cgroup.procs", procs);
        CgGroup *g = open_offline(f);
        ColoError err = {};
        pid_t *pids = NULL;
        size_t n = 0;
        assert_int_equal(cg_group_get_pids(g, &pids, &n, &err), 0);
        assert_int_equal(n, 0);         /* the group itself, not descendants */
        free(pids);
        assert_int_equal(cg_group_kill(g, SIGKILL, &err), 1);
        int status = 0;
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        cg_group_free(g);
}

static void test_events_v1_threshold_registration(void **state) {
        FakeCg *f = *state;
        CgGroup *g = open_offline(f);
        int fd = -1;
        ColoError err = {};
        assert_int_equal(cg_group_memory_threshold_fd(g, 1 << 20, &fd, &err), 0);
        assert_true(fd >= 0);
        int efd = -1, ufd = -1;
        unsigned long long thr = 0;
        const char *control = fakefs_read(f->dir, "fs/memory/process_api/abc/colo/offline/cgroup.event_control");
        assert_int_equal(sscanf(control, "%d %d %llu", &efd, &ufd, &thr), 3);
        assert_int_equal(efd, fd);
        assert_int_equal(thr, 1 << 20);
        close(fd);
        assert_int_equal(cg_group_memory_events_fd(g, &fd, &err), -EOPNOTSUPP);
        char p[64];
        assert_int_equal(cg_group_pressure_path(g, "cpu", p, sizeof(p)), -EOPNOTSUPP);
        /* Trigger parameters are checked before anything is opened. */
        assert_int_equal(cg_psi_trigger_open("/nonexistent", false, 100000, 100, &fd, &err), -EINVAL);
        assert_int_equal(cg_psi_trigger_open("/nonexistent", false, 2000000, 1000000, &fd, &err), -EINVAL);
        assert_int_equal(cg_psi_trigger_open("/nonexistent", false, 100000, 1000000, &fd, &err), -ENOENT);
        cg_group_free(g);
}

static void test_events_v2_memory_events_inotify(void **state) {
        FakeCg *f = *state;
        CgGroup *g = open_offline(f);
        int fd = -1;
        ColoError err = {};
        assert_int_equal(cg_group_memory_events_fd(g, &fd, &err), 0);
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        assert_int_equal(poll(&pfd, 1, 0), 0);
        fakefs_write(f->dir, "fs/svc/colo/offline/memory.events", "oom_kill 2\n");
        assert_int_equal(poll(&pfd, 1, 1000), 1);
        close(fd);
        assert_int_equal(cg_group_memory_threshold_fd(g, 1, &fd, &err), -EOPNOTSUPP);
        cg_group_free(g);
}

/* Each fixture test runs on a fresh tree that fake_teardown removes; TEST_OWN_TREE tests lay out their own. */
#define TEST_V1(t) cmocka_unit_test_setup_teardown(t, setup_v1, fake_teardown)
#define TEST_V1_MINIMAL(t) cmocka_unit_test_setup_teardown(t, setup_v1_minimal, fake_teardown)
#define TEST_V2(t) cmocka_unit_test_setup_teardown(t, setup_v2, fake_teardown)
#define TEST_OWN_TREE(t) cmocka_unit_test_teardown(t, fake_teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_v1_throttle_rules),
                cmocka_unit_test(test_weight_converts_to_shares_and_back),
                cmocka_unit_test(test_parse_proc_cgroup_v1),
                cmocka_unit_test(test_parse_proc_cgroup_v2),
                cmocka_unit_test(test_parse_proc_cgroup_hybrid),
                cmocka_unit_test(test_parse_pressure),
                cmocka_unit_test(test_parse_keyed_and_limits),
                cmocka_unit_test(test_path_validation),
                cmocka_unit_test(test_remove_empty_tree_keeps_files_links_and_deep_trees),
                TEST_OWN_TREE(test_apply_pids_max_v1),
                TEST_V1_MINIMAL(test_apply_pids_max_without_pids_hierarchy_v1),
                TEST_V2(test_apply_pids_max_v2),
                TEST_V1(test_root_open_v1_resolves_own_cgroup),
                TEST_V2(test_root_open_v2_and_bad_options),
                TEST_OWN_TREE(test_root_open_v1_comounted_cpu_cpuacct),
                TEST_V1(test_group_open_rejects_bad_paths),
                TEST_V1(test_group_create_initialises_cpuset_v1),
                TEST_V2(test_group_create_enables_controllers_v2),
                TEST_V1(test_apply_converts_units_v1),
                TEST_V1(test_apply_idle_suspends_weight),
                TEST_V1_MINIMAL(test_apply_skips_missing_optional_files_v1),
                TEST_V1(test_apply_rejects_bad_input_without_writing),
                TEST_V2(test_apply_v2),
                TEST_V2(test_apply_io_latency_and_bfq_weight_v2),
                TEST_V1(test_apply_fault_sweep_v1),
                TEST_V2(test_apply_fault_sweep_v2),
                TEST_V1(test_apply_oom_score_adj_to_new_tasks_only),
                TEST_V1(test_dry_run_records_every_write_and_makes_none_v1),
                TEST_V1(test_verify_finds_knobs_changed_behind_colos_back_v1),
                TEST_V1(test_read_usage_v1),
                TEST_V1(test_read_buffer_boundaries_v1),
                TEST_V2(test_read_usage_v2),
                TEST_OWN_TREE(test_read_host_pressure),
                TEST_OWN_TREE(test_hybrid_mirrors_groups_for_pressure),
                TEST_V2(test_cpu_io_pressure_leaves_memory_pressure_unread_v2),
                TEST_OWN_TREE(test_cpu_io_pressure_leaves_memory_pressure_unread_v1),
                TEST_OWN_TREE(test_hybrid_without_v2_entry_has_no_mirror),
                TEST_OWN_TREE(test_detect_on_plain_directory_fails_clearly),
                TEST_OWN_TREE(test_v2_relocate_self),
                TEST_OWN_TREE(test_v2_self_beside),
                cmocka_unit_test(test_detect_this_machine_read_only),
                TEST_V1(test_kill_signals_every_task),
                TEST_V1(test_events_v1_threshold_registration),
                TEST_V2(test_events_v2_memory_events_inotify),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
