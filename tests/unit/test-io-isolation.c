/* IO isolation (issue 12, must-have 4) without a kernel: the per-device configuration keys and
 * their errors, device resolution against a fake sysfs (partitions refused), the pure policy's
 * IO knobs per group and switch, and whether a disk honours a weight. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "blockdev/blockdev.h"
#include "config/config.h"
#include "fake-cgroupfs.h"
#include "policy/policy.h"
#include "util/macro.h"

static int parse_key(const char *key, const char *value, Config *c, ColoError *err) {
        char yaml[1024];
        snprintf(yaml, sizeof(yaml), "isolation:\n  %s: %s\n", key, value);
        return config_parse_yaml(yaml, strlen(yaml), "colo.yaml", c, err);
}

static void test_io_rules_parse_into_the_policy(void **state) {
        (void) state;
        Config c;
        ColoError err = {};
        config_init_defaults(&c);
        assert_int_equal(c.policy.offline_io_max.n, 0);
        assert_int_equal(parse_key("offline_io_max", "\"/dev/vda wbps=50Mi wiops=500; 8:16 rbps=1G riops=max\"", &c, &err), 0);
        const PolicyIoRules *r = &c.policy.offline_io_max;
        assert_int_equal(r->n, 2);
        assert_string_equal(r->rules[0].device, "/dev/vda");
        assert_string_equal(r->rules[0].devnum, "");    /* a path: resolved when the file is loaded */
        assert_int_equal(r->rules[0].wbps, 50ULL << 20);
        assert_int_equal(r->rules[0].wiops, 500);
        assert_int_equal(r->rules[0].rbps, CG_UNSET);
        assert_int_equal(r->rules[0].latency_usec, CG_UNSET);
        assert_string_equal(r->rules[1].devnum, "8:16");
        assert_int_equal(r->rules[1].rbps, 1000000000ULL);
        assert_int_equal(r->rules[1].riops, CG_UNLIMITED);
        assert_int_equal(parse_key("online_io_latency", "\"254:0 target=5ms\"", &c, &err), 0);
        assert_int_equal(c.policy.online_io_latency.rules[0].latency_usec, 5000);
        assert_int_equal(parse_key("offline_io_max", "\"  \"", &c, &err), 0);
        assert_int_equal(c.policy.offline_io_max.n, 0);
}

/* Each bad value is refused with file, line, key and what is wrong, and changes nothing. */
static void test_bad_io_rules_name_the_key_and_change_nothing(void **state) {
        (void) state;
        static const struct {
                const char *key, *value, *reason;
        } cases[] = {
                { "offline_io_max", "\"sda wbps=1M\"", "device \"sda\": expected a whole-disk path" },
                { "offline_io_max", "\"8:16\"", "8:16: nothing set" },
                { "offline_io_max", "\"8:16 wbs=1M\"", "8:16: unknown setting \"wbs=1M\"" },
                { "offline_io_max", "\"8:16 wbps=1M wbps=2M\"", "8:16: wbps given twice" },
                { "offline_io_max", "\"8:16 wbps=fast\"", "8:16: wbps: expected a rate in bytes per second" },
                { "offline_io_max", "\"8:16 wbps=0\"", "8:16: wbps: expected a rate" },
                { "batch_io_max", "\"8:16 riops=4294967296\"", "8:16: riops: expected a number of IOs" },
                { "best_effort_io_max", "\"8:16 wiops=1; 8:16 riops=2\"", "device 8:16 listed twice" },
                { "offline_io_max", "\"8:16 wiops=1;; 8:0 wiops=1\"", "empty entry" },
                { "offline_io_max", "\"8:16 wiops=1;\"", "empty entry after the last" },
                { "offline_io_max", "\"4096:0 wiops=1\"", "device \"4096:0\"" },
                { "offline_io_max", "\"/dev/v\\\"da wiops=1\"", "device \"/dev/v\"da\"" },
                { "offline_io_max", "\"8:0 target=5ms\"", "8:0: unknown setting \"target=5ms\"" },
                { "online_io_latency", "\"8:0 wbps=1M\"", "8:0: unknown setting \"wbps=1M\" (expected target=" },
                { "online_io_latency", "\"8:0 target=2m\"", "8:0: target: expected a duration of 1us..60s" },
                { "offline_io_max", "\"1:0 wiops=1;1:1 wiops=1;1:2 wiops=1;1:3 wiops=1;1:4 wiops=1;1:5 wiops=1;"
                                    "1:6 wiops=1;1:7 wiops=1;1:8 wiops=1\"", "more than 8 devices" },
                { "offline_io_max", "[\"8:0 wiops=1\"]", "offline_io_max" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Config c, before;
                ColoError err = {};
                config_init_defaults(&c);
                before = c;
                assert_true(parse_key(cases[i].key, cases[i].value, &c, &err) < 0);
                char want_key[96];
                snprintf(want_key, sizeof(want_key), "colo.yaml:2:");
                if (!strstr(err.msg, want_key) || !strstr(err.msg, cases[i].key) || !strstr(err.msg, cases[i].reason))
                        fail_msg("%s = %s: got \"%s\", want the key and \"%s\"", cases[i].key, cases[i].value, err.msg,
                                 cases[i].reason);
                assert_true(config_equal(&c, &before));
        }
}

/* A fake sysfs: vda (254:0) with partition vda1 (254:1), as the kernel links them. */
static void fake_sysfs(const char *dir) {
        char p[512], t[512];
        fakefs_write(dir, "devices/virtual/block/vda/dev", "254:0\n");
        fakefs_write(dir, "devices/virtual/block/vda/vda1/dev", "254:1\n");
        fakefs_write(dir, "devices/virtual/block/vda/vda1/partition", "1\n");
        fakefs_mkdir(dir, "dev/block");
        snprintf(p, sizeof(p), "%s/dev/block/254:0", dir);
        snprintf(t, sizeof(t), "../../devices/virtual/block/vda");
        assert_int_equal(symlink(t, p), 0);
        snprintf(p, sizeof(p), "%s/dev/block/254:1", dir);
        snprintf(t, sizeof(t), "../../devices/virtual/block/vda/vda1");
        assert_int_equal(symlink(t, p), 0);
}

static int resolve(const char *sys, const char *key, const char *value, Config *c, ColoError *err) {
        config_init_defaults(c);
        int r = parse_key(key, value, c, err);
        assert_int_equal(r, 0);
        return config_resolve_devices(c, sys, "colo.yaml", err);
}

static void test_devices_resolve_to_whole_disks_and_partitions_are_refused(void **state) {
        (void) state;
        char dir[128];
        Config c;
        ColoError err = {};
        fakefs_mkdtemp(dir, sizeof(dir), "blockdev");
        fake_sysfs(dir);

        assert_int_equal(resolve(dir, "offline_io_max", "\"254:0 wbps=1M\"", &c, &err), 0);
        assert_string_equal(c.policy.offline_io_max.rules[0].devnum, "254:0");

        assert_true(resolve(dir, "batch_io_max", "\"254:1 wbps=1M\"", &c, &err) < 0);
        assert_non_null(strstr(err.msg, "colo.yaml: isolation.batch_io_max: '254:1' (254:1) is a partition"));
        assert_non_null(strstr(err.msg, "name its disk, vda (254:0)"));

        assert_true(resolve(dir, "online_io_latency", "\"8:0 target=1ms\"", &c, &err) < 0);
        assert_non_null(strstr(err.msg, "isolation.online_io_latency: '8:0' (8:0) is no block device of this node"));

        assert_true(resolve(dir, "offline_io_max", "\"/nonexistent/vdz wbps=1M\"", &c, &err) < 0);
        assert_non_null(strstr(err.msg, "isolation.offline_io_max: cannot stat '/nonexistent/vdz'"));
        char file[200];
        snprintf(file, sizeof(file), "\"%s/devices/virtual/block/vda/dev wbps=1M\"", dir);
        assert_true(resolve(dir, "offline_io_max", file, &c, &err) < 0);
        assert_non_null(strstr(err.msg, "is not a block device"));

        /* A path to a device node: stat() gives its number (mknod needs root). */
        snprintf(file, sizeof(file), "%s/vda", dir);
        if (mknod(file, S_IFBLK | 0600, makedev(254, 0)) == 0) {
                char value[256];
                snprintf(value, sizeof(value), "\"%s wbps=1M\"", file);
                assert_int_equal(resolve(dir, "offline_io_max", value, &c, &err), 0);
                assert_string_equal(c.policy.offline_io_max.rules[0].devnum, "254:0");
                snprintf(value, sizeof(value), "\"%s wbps=1M; 254:0 rbps=1M\"", file);
                assert_true(resolve(dir, "offline_io_max", value, &c, &err) < 0);
                assert_non_null(strstr(err.msg, "are the same disk (254:0)"));
                snprintf(file, sizeof(file), "%s/vda1", dir);
                assert_int_equal(mknod(file, S_IFBLK | 0600, makedev(254, 1)), 0);
                snprintf(value, sizeof(value), "\"%s wbps=1M\"", file);
                assert_true(resolve(dir, "offline_io_max", value, &c, &err) < 0);
                assert_non_null(strstr(err.msg, "is a partition"));
        } else
                printf("mknod: %s: the path case is skipped (needs root)\n", strerror(errno));
        assert_int_equal(fakefs_remove_tree(dir), 0);
}

static const CgKnobs *knobs_of(const Plan *p, const char *path) {
        for (size_t i = 0; i < p->n_groups; i++)
                if (strcmp(p->groups[i].path, path) == 0)
                        return &p->groups[i].knobs;
        fail_msg("no group '%s' in the plan", path);
        return NULL;
}

static Plan *decide_on(const PolicyConfig *cfg, bool per_leaf) {
        static const WorkloadSample workloads[] = {
                { .name = "web", .cls = CLASS_ONLINE, .tier = TIER_NORMAL, .nr_tasks = 1 },
                { .name = "etl", .cls = CLASS_OFFLINE, .tier = TIER_BATCH, .nr_tasks = 1 },
                { .name = "crawl", .cls = CLASS_OFFLINE, .tier = TIER_BEST_EFFORT, .nr_tasks = 1 },
        };
        NodeSample s = { .now_usec = 1000 * USEC_PER_SEC, .cpu_capacity_cores = 4, .mem_capacity = 8ULL << 30,
                         .mem_available = 4ULL << 30, .workloads = workloads, .n_workloads = ELEMENTSOF(workloads),
                         .io_throttle_per_leaf = per_leaf };
        OnlineEstimate est = { .cpu_cores = 1, .mem_bytes = 1ULL << 30 };
        PolicyState st = {};
        Plan *p = NULL;
        assert_int_equal(policy_decide(&s, &est, cfg, &st, &p), 0);
        return p;
}

static Plan *decide(const PolicyConfig *cfg) {
        return decide_on(cfg, false);
}

static PolicyIoRule rule(const char *devnum, uint64_t rbps, uint64_t wbps, uint64_t riops, uint64_t wiops,
                         uint64_t latency) {
        PolicyIoRule r = { .rbps = rbps, .wbps = wbps, .riops = riops, .wiops = wiops, .latency_usec = latency };
        snprintf(r.device, sizeof(r.device), "%s", devnum);
        snprintf(r.devnum, sizeof(r.devnum), "%s", devnum);
        return r;
}

static void test_policy_io_knobs_per_group_and_switch(void **state) {
        (void) state;
        const uint64_t U = CG_UNSET, MAX = CG_UNLIMITED;
        for (int on = 1; on >= 0; on--) {
                PolicyConfig cfg;
                policy_config_init_defaults(&cfg);
                cfg.io_weight = cfg.io_throttle = cfg.io_latency = on;
                cfg.offline_io_max = (PolicyIoRules) { .rules = { rule("254:0", U, 50 << 20, U, 500, U) }, .n = 1 };
                cfg.best_effort_io_max = (PolicyIoRules) { .rules = { rule("8:16", 1 << 20, U, 100, U, U) }, .n = 1 };
                cfg.online_io_latency = (PolicyIoRules) { .rules = { rule("254:0", U, U, U, U, 5000) }, .n = 1 };
                Plan *p = decide(&cfg);

                const CgKnobs *off = knobs_of(p, "offline"), *on_k = knobs_of(p, "online");
                assert_int_equal(off->io_weight, on ? 10 : 100);
                assert_int_equal(on_k->io_weight, on ? 1000 : 100);
                assert_int_equal(knobs_of(p, "offline/batch")->io_weight, on ? 100 : 100);
                assert_int_equal(knobs_of(p, "offline/best-effort")->io_weight, on ? 10 : 100);
                assert_int_equal(off->n_io_limits, 1);
                assert_string_equal(off->io_limits[0].device, "254:0");
                assert_int_equal(off->io_limits[0].wbps, on ? 50 << 20 : MAX);
                assert_int_equal(off->io_limits[0].wiops, on ? 500 : MAX);
                assert_int_equal(off->io_limits[0].rbps, U);     /* not configured: left alone */
                assert_int_equal(off->io_limits[0].latency_usec, U);
                const CgKnobs *be = knobs_of(p, "offline/best-effort");
                assert_int_equal(be->n_io_limits, 1);
                assert_int_equal(be->io_limits[0].rbps, on ? 1 << 20 : MAX);
                assert_int_equal(knobs_of(p, "offline/batch")->n_io_limits, 0);
                assert_int_equal(on_k->n_io_limits, 1);
                assert_int_equal(on_k->io_limits[0].latency_usec, on ? 5000 : MAX);
                assert_int_equal(on_k->io_limits[0].wbps, U);
                /* Leaves and online tiers keep the parent's IO knobs. */
                assert_int_equal(knobs_of(p, "offline/batch/etl")->io_weight, U);
                assert_int_equal(knobs_of(p, "online/normal")->n_io_limits, 0);
                plan_free(p);
        }
}

/* cgroup v1's blk-throttle is not hierarchical: every offline leaf carries the parent's and its
 * tier's throttles, the smaller per setting; on v2 the leaves carry none. */
static void test_v1_leaves_carry_the_offline_throttles(void **state) {
        (void) state;
        const uint64_t U = CG_UNSET;
        PolicyConfig cfg;
        policy_config_init_defaults(&cfg);
        cfg.offline_io_max = (PolicyIoRules) { .rules = { rule("254:0", U, 50 << 20, U, U, U) }, .n = 1 };
        cfg.best_effort_io_max = (PolicyIoRules) { .rules = { rule("254:0", U, 10 << 20, 100, U, U),
                                                              rule("8:16", 1 << 20, U, U, U, U) }, .n = 2 };
        Plan *p = decide_on(&cfg, true);
        const CgKnobs *etl = knobs_of(p, "offline/batch/etl"), *crawl = knobs_of(p, "offline/best-effort/crawl");
        assert_int_equal(etl->n_io_limits, 1);
        assert_string_equal(etl->io_limits[0].device, "254:0");
        assert_int_equal(etl->io_limits[0].wbps, 50 << 20);
        assert_int_equal(etl->io_limits[0].riops, U);
        assert_int_equal(crawl->n_io_limits, 2);
        assert_int_equal(crawl->io_limits[0].wbps, 10 << 20);
        assert_int_equal(crawl->io_limits[0].riops, 100);
        assert_string_equal(crawl->io_limits[1].device, "8:16");
        assert_int_equal(crawl->io_limits[1].rbps, 1 << 20);
        assert_int_equal(knobs_of(p, "online/normal/web")->n_io_limits, 0);
        plan_free(p);

        p = decide_on(&cfg, false);
        assert_int_equal(knobs_of(p, "offline/batch/etl")->n_io_limits, 0);
        assert_int_equal(knobs_of(p, "offline/best-effort/crawl")->n_io_limits, 0);
        plan_free(p);

        cfg.io_throttle = false;        /* off: every throttle the rules name is lifted on the leaves too */
        p = decide_on(&cfg, true);
        crawl = knobs_of(p, "offline/best-effort/crawl");
        assert_int_equal(crawl->io_limits[0].wbps, CG_UNLIMITED);
        assert_int_equal(crawl->io_limits[0].riops, CG_UNLIMITED);
        plan_free(p);
}

/* A path that config_load_file() did not resolve is refused by the policy, naming the field. */
static void test_policy_refuses_unresolved_devices(void **state) {
        (void) state;
        PolicyConfig cfg;
        const char *field = NULL;
        policy_config_init_defaults(&cfg);
        cfg.batch_io_max.n = 1;
        cfg.batch_io_max.rules[0] = rule("8:0", CG_UNSET, 1, CG_UNSET, CG_UNSET, CG_UNSET);
        assert_int_equal(policy_config_check(&cfg, &field), 0);
        cfg.batch_io_max.rules[0].devnum[0] = '\0';
        assert_int_equal(policy_config_check(&cfg, &field), -EINVAL);
        assert_string_equal(field, "batch_io_max");
        policy_config_init_defaults(&cfg);
        cfg.offline_io_weight = 0;
        assert_int_equal(policy_config_check(&cfg, &field), -EINVAL);
        assert_string_equal(field, "offline_io_weight");
}

static void test_scheduler_and_iocost_decide_whether_a_weight_holds(void **state) {
        (void) state;
        static const struct {
                bool v2;
                const char *sched, *qos;
                const char *active;
                bool has_bfq;
                IoWeightSupport want;
                const char *fix;
        } cases[] = {
                { false, "none [mq-deadline] kyber bfq\n", "", "mq-deadline", true, IO_WEIGHT_IGNORED, "select BFQ" },
                { false, "[none] mq-deadline kyber\n", "", "none", false, IO_WEIGHT_IGNORED, "modprobe bfq" },
                { false, "mq-deadline kyber [bfq] none\n", "", "bfq", true, IO_WEIGHT_HONOURED, "" },
                { false, "noop deadline [cfq]\n", "", "cfq", false, IO_WEIGHT_HONOURED, "" },
                { true, "noop deadline [cfq]\n", "", "cfq", false, IO_WEIGHT_IGNORED, "modprobe bfq" },
                { true, "[none] mq-deadline\n", "254:0 enable=1 ctrl=auto rpct=0.00 rlat=250000\n", "none", false,
                  IO_WEIGHT_HONOURED, "" },
                { true, "[none] mq-deadline\n", "254:0 enable=0 ctrl=auto\n8:0 enable=1 ctrl=auto\n", "none", false,
                  IO_WEIGHT_IGNORED, "io.cost.qos" },
                { true, "none\n", "", "none", false, IO_WEIGHT_IGNORED, "modprobe bfq" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char active[32], why[512], fix[512];
                bool has_bfq = !cases[i].has_bfq;
                assert_int_equal(blockdev_parse_scheduler(cases[i].sched, active, sizeof(active), &has_bfq), 0);
                assert_string_equal(active, cases[i].active);
                assert_int_equal(has_bfq, cases[i].has_bfq);
                bool iocost = blockdev_iocost_enabled(cases[i].qos, "254:0");
                IoWeightSupport s = blockdev_weight_support(cases[i].v2, "vda", active, has_bfq, iocost, why, sizeof(why),
                                                            fix, sizeof(fix));
                assert_int_equal(s, cases[i].want);
                if (s == IO_WEIGHT_IGNORED) {
                        assert_non_null(strstr(why, "'vda'"));
                        assert_non_null(strstr(fix, cases[i].fix));
                }
        }
        char active[8];
        bool has_bfq;
        assert_int_equal(blockdev_parse_scheduler("[a] [b]", active, sizeof(active), &has_bfq), -EINVAL);
        assert_int_equal(blockdev_parse_scheduler("", active, sizeof(active), &has_bfq), -EINVAL);
        assert_int_equal(blockdev_parse_scheduler("[mq-deadline-long]", active, sizeof(active), &has_bfq), -EINVAL);
        assert_true(blockdev_devnum_is_valid("259:1048575"));
        assert_false(blockdev_devnum_is_valid("259:1048576"));
        assert_false(blockdev_devnum_is_valid("8:"));
        assert_false(blockdev_devnum_is_valid(":0"));
        assert_false(blockdev_devnum_is_valid("8:0 "));
}

static void collect_report(void *userdata, const char *what, const char *why, const char *fix) {
        char *buf = userdata;
        size_t n = strlen(buf);
        snprintf(buf + n, 4096 - n, "%s: %s. Fix: %s.\n", what, why, fix);
}

/* Disks whose scheduler ignores weights are reported once each (loop devices skipped), with the
 * fix; iocost enabled for a disk in io.cost.qos makes v2 weights hold; io.latency targets on v1
 * are reported. */
static void test_io_support_reports_disks_that_ignore_weights(void **state) {
        (void) state;
        char dir[128], cg[160], reports[4096] = "";
        fakefs_mkdtemp(dir, sizeof(dir), "iosupport");
        fakefs_write(dir, "block/vda/queue/scheduler", "none [mq-deadline] kyber bfq\n");
        fakefs_write(dir, "block/vda/dev", "254:0\n");
        fakefs_write(dir, "block/sdb/queue/scheduler", "mq-deadline kyber [bfq] none\n");
        fakefs_write(dir, "block/sdb/dev", "8:16\n");
        fakefs_write(dir, "block/loop0/queue/scheduler", "[none] mq-deadline\n");
        fakefs_write(dir, "block/loop0/dev", "7:0\n");
        snprintf(cg, sizeof(cg), "%s/cgroup", dir);
        fakefs_write(dir, "cgroup/io.cost.qos", "254:0 enable=1 ctrl=auto rpct=0.00 rlat=250000\n");

        IoSupportInput in = { .sys_root = dir, .cgroup_fs_root = cg, .v2 = false, .weights_wanted = true,
                              .latency_wanted = true };
        assert_int_equal(io_support_check(&in, collect_report, reports), 2);
        assert_non_null(strstr(reports, "io.latency on the online parent (isolation.online_io_latency): cgroup v1 has "
                                        "no io.latency"));
        assert_non_null(strstr(reports, "IO weights on 'vda' (254:0): 'vda' uses the 'mq-deadline' scheduler"));
        assert_non_null(strstr(reports, "echo bfq > /sys/block/vda/queue/scheduler"));
        assert_null(strstr(reports, "sdb"));
        assert_null(strstr(reports, "loop0"));

        reports[0] = '\0';
        in.v2 = true;
        in.latency_file_present = true;
        assert_int_equal(io_support_check(&in, collect_report, reports), 0);
        fakefs_write(dir, "cgroup/io.cost.qos", "254:0 enable=0 ctrl=auto\n");
        assert_int_equal(io_support_check(&in, collect_report, reports), 1);
        assert_non_null(strstr(reports, "iocost is not enabled for it"));
        in.weights_wanted = false;
        assert_int_equal(io_support_check(&in, collect_report, reports), 0);
        assert_int_equal(fakefs_remove_tree(dir), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_io_rules_parse_into_the_policy),
                cmocka_unit_test(test_bad_io_rules_name_the_key_and_change_nothing),
                cmocka_unit_test(test_devices_resolve_to_whole_disks_and_partitions_are_refused),
                cmocka_unit_test(test_policy_io_knobs_per_group_and_switch),
                cmocka_unit_test(test_v1_leaves_carry_the_offline_throttles),
                cmocka_unit_test(test_policy_refuses_unresolved_devices),
                cmocka_unit_test(test_scheduler_and_iocost_decide_whether_a_weight_holds),
                cmocka_unit_test(test_io_support_reports_disks_that_ignore_weights),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
