/* Unit tests of the pure isolation policy (src/lib/policy): struct literals in, Plan out. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "faultsim.h"
#include "policy/policy.h"
#include "util/macro.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define SEC USEC_PER_SEC

static PolicyConfig default_config(void) {
        PolicyConfig c;
        policy_config_init_defaults(&c);
        return c;
}

/* A quiet 4-core 8 GiB node: plenty of memory available, no pressure. */
static NodeSample quiet_node(const WorkloadSample *w, size_t n) {
        return (NodeSample) {
                .now_usec = 1000 * SEC,
                .cpu_capacity_cores = 4.0,
                .mem_capacity = 8 * GiB,
                .mem_available = 4 * GiB,
                .online_cpu_usage = 1.0,
                .offline_cpu_usage = 0.5,
                .online_mem_working_set = 1 * GiB,
                .offline_mem_working_set = 1 * GiB,
                .offline_mem_usage = 2 * GiB,
                .online_mem_pressure = { .valid = true },
                .mem_high_available = true,     /* v2: offline memory throttled at memory.high */
                .workloads = w,
                .n_workloads = n,
        };
}

static const GroupPlan *find_group(const Plan *p, const char *path) {
        for (size_t i = 0; i < p->n_groups; i++)
                if (strcmp(p->groups[i].path, path) == 0)
                        return &p->groups[i];
        fail_msg("no group '%s' in the plan", path);
        return NULL;
}

static ssize_t find_group_index(const Plan *p, const char *path) {
        for (size_t i = 0; i < p->n_groups; i++)
                if (strcmp(p->groups[i].path, path) == 0)
                        return (ssize_t) i;
        return -1;
}

static Plan *decide(const NodeSample *s, const OnlineEstimate *est, const PolicyConfig *cfg, PolicyState *st) {
        Plan *p = NULL;
        assert_int_equal(policy_decide(s, est, cfg, st, &p), 0);
        assert_non_null(p);
        return p;
}

/* Knob values by name, so tables can name the knob they check. */
static int64_t knob(const CgKnobs *k, const char *name) {
        if (strcmp(name, "cpu_weight") == 0)
                return (int64_t) k->cpu_weight;
        if (strcmp(name, "cpu_idle") == 0)
                return k->cpu_idle;
        if (strcmp(name, "cpu_quota_usec") == 0)
                return (int64_t) k->cpu_quota_usec;
        if (strcmp(name, "cpu_period_usec") == 0)
                return (int64_t) k->cpu_period_usec;
        if (strcmp(name, "mem_max") == 0)
                return (int64_t) k->mem_max;
        if (strcmp(name, "mem_high") == 0)
                return (int64_t) k->mem_high;
        if (strcmp(name, "pids_max") == 0)
                return (int64_t) k->pids_max;
        if (strcmp(name, "mem_low") == 0)
                return (int64_t) k->mem_low;
        if (strcmp(name, "mem_min") == 0)
                return (int64_t) k->mem_min;
        if (strcmp(name, "mem_soft_limit") == 0)
                return (int64_t) k->mem_soft_limit;
        if (strcmp(name, "oom_score_adj") == 0)
                return k->oom_score_adj;
        if (strcmp(name, "cpu_qos_level") == 0)
                return k->cpu_qos_level;
        if (strcmp(name, "mem_qos_level") == 0)
                return k->mem_qos_level;
        fail_msg("unknown knob '%s'", name);
        return 0;
}

#define UNLIMITED ((int64_t) CG_UNLIMITED)

static void test_policy_budget_is_capacity_minus_reserved_estimate_and_margin(void **state) {
        (void) state;
        static const struct {
                const char *what;
                double capacity, reserved, margin, floor, estimate, online_now;
                double raw, planned;
        } cases[] = {
                { "plain formula", 8.0, 0.5, 0.05, 0.1, 3.0, 2.0, 8.0 - 0.5 - 3.0 - 0.4, 8.0 - 0.5 - 3.0 - 0.4 },
                { "estimate below current use counts the use", 8.0, 0.5, 0.05, 0.1, 1.0, 3.0, 4.1, 4.1 },
                { "estimate above capacity floors at zero and at min_offline", 4.0, 0.1, 0.05, 0.2, 5.0, 0.0, 0.0, 0.2 },
                { "zero floor allowed", 4.0, 0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0 },
                { "no online work leaves all but reserve and margin", 2.0, 0.1, 0.05, 0.05, 0.0, 0.0, 1.8, 1.8 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                PolicyConfig cfg = default_config();
                cfg.reserved_cpu_cores = cases[i].reserved;
                cfg.cpu_safety_margin = cases[i].margin;
                cfg.min_offline_cpu_cores = cases[i].floor;
                NodeSample s = quiet_node(NULL, 0);
                s.cpu_capacity_cores = cases[i].capacity;
                s.online_cpu_usage = cases[i].online_now;
                s.offline_cpu_usage = 0;
                OnlineEstimate est = { .cpu_cores = cases[i].estimate };
                PolicyState st = {};

                double raw = policy_offline_cpu_budget(&s, &est, &cfg);
                Plan *p = decide(&s, &est, &cfg, &st);
                if (fabs(raw - cases[i].raw) > 1e-9 || fabs(p->offline_cpu_budget_cores - cases[i].planned) > 1e-9)
                        fail_msg("%s: raw %f (want %f), planned %f (want %f)", cases[i].what, raw, cases[i].raw,
                                 p->offline_cpu_budget_cores, cases[i].planned);
                assert_true(fabs(p->offline_cpu_budget_raw - cases[i].raw) < 1e-9);
                /* Quota = budget * period, never below the kernel's 1 ms minimum. */
                uint64_t quota = find_group(p, "offline")->knobs.cpu_quota_usec;
                uint64_t want = MAX((uint64_t) (cases[i].planned * (double) cfg.cpu_period_usec + 0.5),
                                    (uint64_t) POLICY_MIN_CPU_QUOTA_USEC);
                assert_int_equal(quota, want);
                plan_free(p);
        }
}

static void test_policy_memory_budget_is_capacity_minus_reserved_estimate_and_margin(void **state) {
        (void) state;
        static const struct {
                const char *what;
                uint64_t capacity, reserved, estimate, online_now;
                double margin;
                uint64_t budget;
        } cases[] = {
                { "plain formula", 10 * GiB, 1 * GiB, 3 * GiB, 2 * GiB, 0.1, 10 * GiB - 1 * GiB - 3 * GiB - 1 * GiB },
                { "working set above the estimate counts", 10 * GiB, 1 * GiB, 1 * GiB, 4 * GiB, 0.0, 5 * GiB },
                { "estimate above capacity floors at zero", 4 * GiB, 1 * GiB, 5 * GiB, 0, 0.05, 0 },
                { "reserve above capacity floors at zero", 1 * GiB, 2 * GiB, 0, 0, 0.0, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                PolicyConfig cfg = default_config();
                cfg.reserved_mem_bytes = cases[i].reserved;
                cfg.mem_safety_margin = cases[i].margin;
                cfg.mem_free_watermark = 0;     /* no squeeze */
                NodeSample s = quiet_node(NULL, 0);
                s.mem_capacity = cases[i].capacity;
                s.online_mem_working_set = cases[i].online_now;
                OnlineEstimate est = { .mem_bytes = cases[i].estimate };
                PolicyState st = {};

                uint64_t raw = policy_offline_mem_budget(&s, &est, &cfg);
                Plan *p = decide(&s, &est, &cfg, &st);
                if (raw != cases[i].budget || p->offline_mem_budget != cases[i].budget)
                        fail_msg("%s: raw %llu, planned %llu, want %llu", cases[i].what, (unsigned long long) raw,
                                 (unsigned long long) p->offline_mem_budget, (unsigned long long) cases[i].budget);
                /* memory_throttle: throttled at the budget, killed only the headroom above it. */
                assert_int_equal(find_group(p, "offline")->knobs.mem_high, cases[i].budget);
                assert_int_equal(find_group(p, "offline")->knobs.mem_max, cases[i].budget + cfg.mem_headroom);
                plan_free(p);
        }
}

static void test_policy_budget_functions_return_zero_for_invalid_input(void **state) {
        (void) state;
        PolicyConfig cfg = default_config();
        NodeSample s = quiet_node(NULL, 0);
        OnlineEstimate est = { .cpu_cores = 1.0, .mem_bytes = GiB };
        s.cpu_capacity_cores = NAN;
        assert_true(policy_offline_cpu_budget(&s, &est, &cfg) == 0.0);
        assert_int_equal(policy_offline_mem_budget(&s, &est, &cfg), 0);
        assert_true(policy_offline_cpu_budget(NULL, &est, &cfg) == 0.0);
        assert_int_equal(policy_offline_mem_budget(&s, NULL, &cfg), 0);
}

static const WorkloadSample one_of_each[] = {
        { .name = "db", .cls = CLASS_ONLINE, .tier = TIER_CRITICAL, .mem_working_set = 512 * MiB, .nr_tasks = 1 },
        { .name = "web", .cls = CLASS_ONLINE, .tier = TIER_NORMAL, .mem_working_set = 256 * MiB, .nr_tasks = 1 },
        { .name = "etl", .cls = CLASS_OFFLINE, .tier = TIER_BATCH, .mem_working_set = 512 * MiB, .nr_tasks = 1 },
        { .name = "crawl", .cls = CLASS_OFFLINE, .tier = TIER_BEST_EFFORT, .mem_working_set = 512 * MiB, .nr_tasks = 1 },
};

static void test_policy_sets_knobs_per_group(void **state) {
        (void) state;
        PolicyConfig cfg = default_config();
        NodeSample s = quiet_node(one_of_each, ELEMENTSOF(one_of_each));
        OnlineEstimate est = { .cpu_cores = 1.5, .mem_bytes = 2 * GiB };
        PolicyState st = {};
        Plan *p = decide(&s, &est, &cfg, &st);
        uint64_t quota = (uint64_t) (p->offline_cpu_budget_cores * (double) cfg.cpu_period_usec + 0.5);

        static const char *const knob_names[] = {
                "cpu_weight", "cpu_idle", "cpu_quota_usec", "cpu_period_usec", "mem_max", "mem_low",
                "mem_min", "mem_soft_limit", "oom_score_adj", "cpu_qos_level", "mem_qos_level", "mem_high", "pids_max",
        };
        const int64_t U = (int64_t) CG_UNSET, UI = CG_UNSET_INT;
        const struct {
                const char *path;
                int64_t want[ELEMENTSOF(knob_names)];
        } cases[] = {
                /*                      weight idle quota period max low min soft oom cqos mqos high pids */
                { "", { 10000, UI, U, U, U, 2 * GiB, 2 * GiB, U, UI, UI, UI, U, U } },
                { "online", { 10000, 0, U, U, U, 2 * GiB, 2 * GiB, U, UI, 0, 0, U, U } },
                { "online/critical", { POLICY_CPU_WEIGHT_CRITICAL, UI, U, U, U, UNLIMITED, UNLIMITED, U, UI, 0, 0, U, U } },
                { "online/normal", { POLICY_CPU_WEIGHT_NORMAL, UI, U, U, U, UNLIMITED, 0, U, UI, 0, 0, U, U } },
                { "offline", { 1, 1, (int64_t) quota, 100000, (int64_t) (p->offline_mem_budget + cfg.mem_headroom), 0, 0, 0,
                               UI, -1, -1, (int64_t) p->offline_mem_budget, 16384 } },
                { "offline/batch", { POLICY_CPU_WEIGHT_BATCH, UI, U, U, U, U, U, U, UI, -1, -1, U, 16384 } },
                { "offline/best-effort", { POLICY_CPU_WEIGHT_BEST_EFFORT, UI, U, U, U, U, U, U, UI, -1, -1, U, 4096 } },
                { "online/critical/db", { 100, 0, U, U, U, UNLIMITED, UNLIMITED, U, 0, 0, 0, U, U } },
                { "online/normal/web", { 100, 0, U, U, U, UNLIMITED, 0, U, 0, 0, 0, U, U } },
                { "offline/batch/etl", { 100, 0, U, U, U, 0, 0, U, 500, -1, -1, U, U } },
                { "offline/best-effort/crawl", { 100, 0, U, U, U, 0, 0, U, 1000, -1, -1, U, U } },
        };

        assert_int_equal(p->n_groups, ELEMENTSOF(cases));
        assert_true(POLICY_CPU_WEIGHT_CRITICAL > POLICY_CPU_WEIGHT_NORMAL);
        assert_true(POLICY_CPU_WEIGHT_BATCH > POLICY_CPU_WEIGHT_BEST_EFFORT);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const GroupPlan *g = find_group(p, cases[i].path);
                for (size_t k = 0; k < ELEMENTSOF(knob_names); k++)
                        if (knob(&g->knobs, knob_names[k]) != cases[i].want[k])
                                fail_msg("'%s' %s = %lld, want %lld", cases[i].path, knob_names[k],
                                         (long long) knob(&g->knobs, knob_names[k]), (long long) cases[i].want[k]);
                /* Untouched knobs stay unset. */
                assert_string_equal(g->knobs.cpuset_cpus, "");
        }
        plan_free(p);
}

static void test_policy_lists_parents_before_children(void **state) {
        (void) state;
        PolicyConfig cfg = default_config();
        NodeSample s = quiet_node(one_of_each, ELEMENTSOF(one_of_each));
        OnlineEstimate est = {};
        PolicyState st = {};
        Plan *p = decide(&s, &est, &cfg, &st);
        for (size_t i = 0; i < p->n_groups; i++) {
                char parent[sizeof(p->groups[i].path)];
                snprintf(parent, sizeof(parent), "%s", p->groups[i].path);
                char *slash = strrchr(parent, '/');
                if (!slash) {
                        assert_true(p->groups[i].path[0] == '\0' ? i == 0 : find_group_index(p, "") < (ssize_t) i);
                        continue;
                }
                *slash = '\0';
                ssize_t pi = find_group_index(p, parent);
                assert_true(pi >= 0 && pi < (ssize_t) i);
        }
        plan_free(p);
}

/* Each feature, switched off, puts its knob back to the kernel's default. */
static void test_policy_switched_off_features_reset_knobs_to_neutral(void **state) {
        (void) state;
        static const struct {
                size_t feature;         /* offsetof the bool in PolicyConfig */
                const char *path, *knob;
                int64_t on, off;
        } cases[] = {
                { offsetof(PolicyConfig, cpu_idle), "offline", "cpu_idle", 1, 0 },
                { offsetof(PolicyConfig, cpu_weight), "offline", "cpu_weight", 1, 100 },
                { offsetof(PolicyConfig, cpu_weight), "online", "cpu_weight", 10000, 100 },
                { offsetof(PolicyConfig, cpu_weight), "", "cpu_weight", 10000, 100 },
                { offsetof(PolicyConfig, root_cpu_weight), "", "cpu_weight", 10000, 100 },
                { offsetof(PolicyConfig, cpu_weight), "online/critical", "cpu_weight", POLICY_CPU_WEIGHT_CRITICAL, 100 },
                { offsetof(PolicyConfig, cpu_weight), "offline/best-effort", "cpu_weight", POLICY_CPU_WEIGHT_BEST_EFFORT, 100 },
                { offsetof(PolicyConfig, memory_limit), "offline", "mem_max", 3 * GiB + 128 * MiB, UNLIMITED },
                { offsetof(PolicyConfig, memory_limit), "offline", "mem_high", 3 * GiB, UNLIMITED },
                { offsetof(PolicyConfig, memory_throttle), "offline", "mem_high", 3 * GiB, UNLIMITED },
                { offsetof(PolicyConfig, memory_throttle), "offline", "mem_max", 3 * GiB + 128 * MiB, 3 * GiB },
                { offsetof(PolicyConfig, pids_limit), "offline", "pids_max", 16384, UNLIMITED },
                { offsetof(PolicyConfig, pids_limit), "offline/batch", "pids_max", 16384, UNLIMITED },
                { offsetof(PolicyConfig, pids_limit), "offline/best-effort", "pids_max", 4096, UNLIMITED },
                { offsetof(PolicyConfig, memory_protect), "", "mem_low", 2 * GiB, 0 },
                { offsetof(PolicyConfig, memory_protect), "online", "mem_low", 2 * GiB, 0 },
                { offsetof(PolicyConfig, memory_protect), "online", "mem_min", 2 * GiB, 0 },
                { offsetof(PolicyConfig, memory_protect), "online/critical", "mem_min", UNLIMITED, 0 },
                { offsetof(PolicyConfig, memory_protect), "online/normal/web", "mem_low", UNLIMITED, 0 },
                { offsetof(PolicyConfig, memory_protect), "offline", "mem_soft_limit", 0, UNLIMITED },
                { offsetof(PolicyConfig, oom_score_adj), "offline/batch/etl", "oom_score_adj", 500, 0 },
                { offsetof(PolicyConfig, oom_score_adj), "offline/best-effort/crawl", "oom_score_adj", 1000, 0 },
                { offsetof(PolicyConfig, qos_level), "offline", "cpu_qos_level", -1, 0 },
                { offsetof(PolicyConfig, qos_level), "offline", "mem_qos_level", -1, 0 },
                { offsetof(PolicyConfig, qos_level), "offline/batch/etl", "cpu_qos_level", -1, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                PolicyConfig cfg = default_config();
                cfg.reserved_cpu_cores = 0;
                cfg.cpu_safety_margin = 0;
                cfg.reserved_mem_bytes = 0;
                cfg.mem_safety_margin = 0;
                NodeSample s = quiet_node(one_of_each, ELEMENTSOF(one_of_each));
                s.online_cpu_usage = 0;
                s.online_mem_working_set = 0;
                s.cpu_capacity_cores = 4.0;
                s.mem_capacity = 5 * GiB;
                OnlineEstimate est = { .cpu_cores = 1.5, .mem_bytes = 2 * GiB };
                PolicyState st = {};

                /* On, then off at runtime with the same carried state. */
                for (int on = 1; on >= 0; on--) {
                        *(bool *) ((char *) &cfg + cases[i].feature) = on;
                        Plan *p = decide(&s, &est, &cfg, &st);
                        int64_t got = knob(&find_group(p, cases[i].path)->knobs, cases[i].knob);
                        int64_t want = on ? cases[i].on : cases[i].off;
                        if (got != want)
                                fail_msg("case %zu: '%s' %s = %lld with the feature %s, want %lld", i, cases[i].path,
                                         cases[i].knob, (long long) got, on ? "on" : "off", (long long) want);
                        plan_free(p);
                }
        }
}

/* The quota: always with "on", never with "off"; "auto" only where cpu.idle does not protect
 * online work (the feature off, or a kernel without the file). Off means the kernel's default. */
static void test_policy_cpu_quota_modes(void **state) {
        (void) state;
        static const struct {
                FeatureMode mode;
                bool cpu_idle, cpu_idle_available;
                bool quota;
        } cases[] = {
                { FEATURE_ON, true, true, true },
                { FEATURE_ON, false, false, true },
                { FEATURE_OFF, true, true, false },
                { FEATURE_OFF, false, false, false },
                { FEATURE_AUTO, true, true, false },
                { FEATURE_AUTO, true, false, true },          /* old kernel: no cpu.idle file */
                { FEATURE_AUTO, false, true, true },          /* cpu.idle switched off */
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                PolicyConfig cfg = default_config();
                cfg.cpu_quota = cases[i].mode;
                cfg.cpu_idle = cases[i].cpu_idle;
                cfg.reserved_cpu_cores = 0;
                cfg.cpu_safety_margin = 0;
                NodeSample s = quiet_node(one_of_each, ELEMENTSOF(one_of_each));
                s.cpu_capacity_cores = 4.0;
                s.online_cpu_usage = 0;
                s.cpu_idle_available = cases[i].cpu_idle_available;
                OnlineEstimate est = { .cpu_cores = 1.5, .mem_bytes = 1 * GiB };
                PolicyState st = {};
                Plan *p = decide(&s, &est, &cfg, &st);
                const CgKnobs *k = &find_group(p, "offline")->knobs;
                if (policy_cpu_quota_applies(&cfg, &s) != cases[i].quota)
                        fail_msg("case %zu: policy_cpu_quota_applies() = %d", i, !cases[i].quota);
                if (cases[i].quota) {
                        assert_int_equal(k->cpu_quota_usec, 250000);    /* 2.5 cores x 100 ms */
                        assert_int_equal(k->cpu_period_usec, 100000);
                } else {
                        assert_int_equal(k->cpu_quota_usec, UNLIMITED);
                        assert_int_equal(k->cpu_period_usec, POLICY_NEUTRAL_CPU_PERIOD_USEC);
                }
                /* The budget itself does not depend on whether it is enforced. */
                assert_float_equal(p->offline_cpu_budget_cores, 2.5, 1e-9);
                plan_free(p);
        }
        PolicyConfig bad = default_config();
        bad.cpu_quota = (FeatureMode) 7;
        const char *field = NULL;
        assert_int_equal(policy_config_check(&bad, &field), -EINVAL);
        assert_string_equal(field, "cpu_quota");
}

static void test_policy_squeezes_on_watermark_and_on_psi(void **state) {
        (void) state;
        static const struct {
                const char *what;
                uint64_t available;
                bool psi_valid;
                double psi;
                bool squeezed;
                uint64_t mem_limit;     /* offline memory.high; usage 2 GiB, working set 1 GiB */
                const char *reason;
        } cases[] = {
                { "plenty available, calm", 4 * GiB, true, 1.0, false, 0, "" },
                { "below the watermark lowers the limit by the shortfall", 400 * MiB, true, 0.0, true,
                  2 * GiB - 112 * MiB, "memory available 400 MiB < watermark 512 MiB" },
                { "at the watermark is not below it", 512 * MiB, true, 0.0, false, 0, "" },
                { "online PSI at the threshold reclaims down to the working set", 4 * GiB, true, 10.0, true, 1 * GiB,
                  "online memory pressure 10.0% >= 10.0%" },
                { "online PSI just below the threshold", 4 * GiB, true, 9.9, false, 0, "" },
                { "invalid PSI is ignored", 4 * GiB, false, 90.0, false, 0, "" },
                { "both causes are named", 100 * MiB, true, 20.0, true, 2 * GiB - 412 * MiB,
                  "memory available 100 MiB < watermark 512 MiB; online memory pressure 20.0% >= 10.0%" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                static const WorkloadSample w[] = {
                        { .name = "web", .cls = CLASS_ONLINE, .tier = TIER_NORMAL, .nr_tasks = 1 },
                        { .name = "etl", .cls = CLASS_OFFLINE, .tier = TIER_BATCH, .nr_tasks = 1 },
                };
                PolicyConfig cfg = default_config();
                cfg.eviction = false;
                NodeSample s = quiet_node(w, ELEMENTSOF(w));
                s.mem_available = cases[i].available;
                s.online_mem_pressure = (CgPressure) { .valid = cases[i].psi_valid, .some_avg10 = cases[i].psi };
                OnlineEstimate est = { .cpu_cores = 1.0, .mem_bytes = 1 * GiB };
                PolicyState st = {};
                Plan *p = decide(&s, &est, &cfg, &st);

                if (p->squeezed != cases[i].squeezed || st.squeezed != cases[i].squeezed)
                        fail_msg("%s: squeezed %d, want %d", cases[i].what, p->squeezed, cases[i].squeezed);
                assert_string_equal(p->squeeze_reason, cases[i].reason);
                const CgKnobs *off = &find_group(p, "offline")->knobs;
                if (cases[i].squeezed) {
                        /* Throttled at the squeezed level; the hard limit keeps the headroom. */
                        if (off->mem_high != cases[i].mem_limit || off->mem_max != cases[i].mem_limit + cfg.mem_headroom)
                                fail_msg("%s: high %llu MiB, max %llu MiB, want %llu MiB + headroom", cases[i].what,
                                         (unsigned long long) (off->mem_high / MiB),
                                         (unsigned long long) (off->mem_max / MiB),
                                         (unsigned long long) (cases[i].mem_limit / MiB));
                        assert_true(p->offline_cpu_budget_cores == cfg.min_offline_cpu_cores);
                        assert_int_equal(off->cpu_quota_usec, 5000);
                        assert_int_equal(p->workload_states[1], WORKLOAD_SQUEEZED);
                        assert_string_equal(p->workload_reasons[1], cases[i].reason);
                } else {
                        assert_int_equal(off->mem_high, p->offline_mem_budget_raw);
                        assert_int_equal(off->mem_max, p->offline_mem_budget_raw + cfg.mem_headroom);
                        assert_int_equal(p->workload_states[1], WORKLOAD_RUNNING);
                        assert_string_equal(p->workload_reasons[1], "");
                }
                assert_int_equal(p->workload_states[0], WORKLOAD_RUNNING);
                assert_int_equal(p->n_evictions, 0);
                plan_free(p);
        }
}

static void test_policy_squeeze_never_raises_the_limit_above_the_budget(void **state) {
        (void) state;
        PolicyConfig cfg = default_config();
        NodeSample s = quiet_node(NULL, 0);
        s.mem_available = 500 * MiB;            /* shortfall 12 MiB */
        s.offline_mem_usage = 6 * GiB;
        s.offline_mem_working_set = 5 * GiB;
        OnlineEstimate est = { .mem_bytes = 4 * GiB };
        PolicyState st = {};
        Plan *p = decide(&s, &est, &cfg, &st);
        assert_true(p->squeezed);
        assert_int_equal(p->offline_mem_budget, p->offline_mem_budget_raw);
        assert_true(p->offline_mem_budget < 5 * GiB);
        plan_free(p);
}

static void test_policy_holds_the_squeeze_after_pressure_ends(void **state) {
        (void) state;
        static const struct {
                uint64_t now_sec, available;
                bool squeezed;
                const char *reason;
        } steps[] = {
                { 100, 4 * GiB, false, "" },
                { 101, 400 * MiB, true, "memory available 400 MiB < watermark 512 MiB" },
                { 102, 4 * GiB, true, "memory pressure ended 1 s ago; holding the squeeze for 10 s" },
                { 110, 4 * GiB, true, "memory pressure ended 9 s ago; holding the squeeze for 10 s" },
                { 111, 4 * GiB, false, "" },      /* 10 s since pressure was last seen */
                { 112, 4 * GiB, false, "" },
                { 113, 300 * MiB, true, "memory available 300 MiB < watermark 512 MiB" },
                { 114, 300 * MiB, true, "memory available 300 MiB < watermark 512 MiB" },
        };
        PolicyConfig cfg = default_config();
        cfg.eviction = false;
        PolicyState st = {};
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                NodeSample s = quiet_node(NULL, 0);
                s.now_usec = steps[i].now_sec * SEC;
                s.mem_available = steps[i].available;
                OnlineEstimate est = {};
                Plan *p = decide(&s, &est, &cfg, &st);
                bool want = steps[i].squeezed;
                if (p->squeezed != want || st.squeezed != want)
                        fail_msg("step %zu (t=%llu s): squeezed %d, want %d", i,
                                 (unsigned long long) steps[i].now_sec, p->squeezed, want);
                if (want)
                        assert_string_equal(p->squeeze_reason, steps[i].reason);
                plan_free(p);
        }
}

static void test_policy_marks_offline_squeezed_when_cpu_budget_binds(void **state) {
        (void) state;
        static const WorkloadSample w[] = {
                { .name = "web", .cls = CLASS_ONLINE, .tier = TIER_NORMAL, .cpu_usage_cores = 2.0, .nr_tasks = 1 },
                { .name = "hog", .cls = CLASS_OFFLINE, .tier = TIER_BATCH, .cpu_usage_cores = 1.2, .nr_tasks = 1 },
                { .name = "idle", .cls = CLASS_OFFLINE, .tier = TIER_BATCH, .cpu_usage_cores = 0.0, .nr_tasks = 1 },
        };
        static const struct {
                double offline_usage;
                bool cpu_quota, held;
        } cases[] = {
                { 1.2, true, true },     /* budget 4 - 0.1 - 2.5 - 0.2 = 1.2: at it */
                { 0.5, true, false },
                { 1.2, false, false },   /* no quota, nothing holds it */
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                PolicyConfig cfg = default_config();
                cfg.cpu_quota = cases[i].cpu_quota;
                NodeSample s = quiet_node(w, ELEMENTSOF(w));
                s.online_cpu_usage = 2.0;
                s.offline_cpu_usage = cases[i].offline_usage;
                OnlineEstimate est = { .cpu_cores = 2.5 };
                PolicyState st = {};
                Plan *p = decide(&s, &est, &cfg, &st);
                assert_int_equal(p->cpu_held, cases[i].held);
                assert_false(p->squeezed);
                assert_int_equal(p->workload_states[0], WORKLOAD_RUNNING);
                assert_int_equal(p->workload_states[1], cases[i].held ? WORKLOAD_SQUEEZED : WORKLOAD_RUNNING);
                assert_int_equal(p->workload_states[2], WORKLOAD_RUNNING);
                if (cases[i].held)
                        assert_string_equal(p->workload_reasons[1],
                                            "offline CPU usage 1.20 cores at its budget 1.20 cores "
                                            "(online estimate 2.50 of 4.00 cores)");
                plan_free(p);
        }
}

/* A node under the watermark long enough to evict: squeezed at t=100, decided at t=112. */
static Plan *decide_under_pressure(const WorkloadSample *w, size_t n, PolicyConfig *cfg, PolicyState *st,
                                   uint64_t now_sec) {
        NodeSample s = quiet_node(w, n);
        s.now_usec = now_sec * SEC;
        s.mem_available = 300 * MiB;
        OnlineEstimate est = {};
        return decide(&s, &est, cfg, st);
}

static void test_policy_evicts_best_effort_before_batch_then_the_largest(void **state) {
        (void) state;
        static const struct {
                const char *what;
                WorkloadSample w[4];
                size_t n;
                const char *victim;     /* NULL: none */
        } cases[] = {
                { "best-effort before a larger batch",
                  { { .name = "big", .cls = CLASS_OFFLINE, .tier = TIER_BATCH, .mem_working_set = 4 * GiB, .nr_tasks = 1 },
                    { .name = "small", .cls = CLASS_OFFLINE, .tier = TIER_BEST_EFFORT, .mem_working_set = 10 * MiB, .nr_tasks = 1 } },
                  2, "small" },
                { "largest within the tier",
                  { { .name = "a", .cls = CLASS_OFFLINE, .tier = TIER_BEST_EFFORT, .mem_working_set = 100 * MiB, .nr_tasks = 1 },
                    { .name = "b", .cls = CLASS_OFFLINE, .tier = TIER_BEST_EFFORT, .mem_working_set = 300 * MiB, .nr_tasks = 1 },
                    { .name = "c", .cls = CLASS_OFFLINE, .tier = TIER_BEST_EFFORT, .mem_working_set = 200 * MiB, .nr_tasks = 1 } },
                  3, "b" },
                { "batch when no best-effort is left",
                  { { .name = "a", .cls = CLASS_OFFLINE, .tier = TIER_BATCH, .mem_working_set = 100 * MiB, .nr_tasks = 1 },
                    { .name = "b", .cls = CLASS_OFFLINE, .tier = TIER_BATCH, .mem_working_set = 300 * MiB, .nr_tasks = 1 },
                    { .name = "gone", .cls = CLASS_OFFLINE, .tier = TIER_BEST_EFFORT, .mem_working_set = 0, .nr_tasks = 0 },
                    { .name = "going", .cls = CLASS_OFFLINE, .tier = TIER_BEST_EFFORT, .mem_working_set = GiB, .nr_tasks = 3, .being_evicted = true } },
                  4, "b" },
                { "never online, even when online is the largest",
                  { { .name = "db", .cls = CLASS_ONLINE, .tier = TIER_NORMAL, .mem_working_set = 6 * GiB, .nr_tasks = 1 },
                    { .name = "etl", .cls = CLASS_OFFLINE, .tier = TIER_BATCH, .mem_working_set = 10 * MiB, .nr_tasks = 1 } },
                  2, "etl" },
                { "equal tier and memory: the smallest name",
                  { { .name = "job-b", .cls = CLASS_OFFLINE, .tier = TIER_BATCH, .nr_tasks = 1 },
                    { .name = "job-a", .cls = CLASS_OFFLINE, .tier = TIER_BATCH, .nr_tasks = 1 },
                    { .name = "job-c", .cls = CLASS_OFFLINE, .tier = TIER_BATCH, .nr_tasks = 1 } },
                  3, "job-a" },
                { "no offline workload: nothing to evict",
                  { { .name = "db", .cls = CLASS_ONLINE, .tier = TIER_CRITICAL, .mem_working_set = 6 * GiB, .nr_tasks = 1 },
                    { .name = "web", .cls = CLASS_ONLINE, .tier = TIER_NORMAL, .mem_working_set = 1 * GiB, .nr_tasks = 1 } },
                  2, NULL },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                /* The order alone, as the simulator's job model calls it, agrees with the plan. */
                ssize_t v = policy_pick_victim(cases[i].w, cases[i].n);
                if (cases[i].victim ? v < 0 || strcmp(cases[i].w[v].name, cases[i].victim) != 0 : v >= 0)
                        fail_msg("%s: policy_pick_victim() chose %s, want %s", cases[i].what, v >= 0 ? cases[i].w[v].name : "nothing",
                                 cases[i].victim ? cases[i].victim : "nothing");
                PolicyConfig cfg = default_config();
                PolicyState st = {};
                plan_free(decide_under_pressure(cases[i].w, cases[i].n, &cfg, &st, 100));
                Plan *p = decide_under_pressure(cases[i].w, cases[i].n, &cfg, &st, 112);
                if (!cases[i].victim) {
                        assert_int_equal(p->n_evictions, 0);
                        assert_int_equal(st.n_evictions, 0);
                        for (size_t j = 0; j < cases[i].n; j++)
                                assert_int_equal(p->workload_states[j], WORKLOAD_RUNNING);
                        plan_free(p);
                        continue;
                }
                if (p->n_evictions != 1 || strcmp(p->evictions[0].name, cases[i].victim) != 0)
                        fail_msg("%s: evicted %s, want %s", cases[i].what,
                                 p->n_evictions ? p->evictions[0].name : "nothing", cases[i].victim);
                for (size_t j = 0; j < cases[i].n; j++) {
                        const WorkloadSample *w = &cases[i].w[j];
                        WorkloadState want = w->cls == CLASS_ONLINE ? WORKLOAD_RUNNING :
                                             strcmp(w->name, cases[i].victim) == 0 || w->being_evicted ? WORKLOAD_EVICTED :
                                                                                                           WORKLOAD_SQUEEZED;
                        assert_int_equal(p->workload_states[j], want);
                }
                plan_free(p);
        }
}

static void test_policy_respects_the_eviction_cooldown(void **state) {
        (void) state;
        static const WorkloadSample w[] = {
                { .name = "a", .cls = CLASS_OFFLINE, .tier = TIER_BEST_EFFORT, .mem_working_set = 1 * GiB, .nr_tasks = 1 },
                { .name = "b", .cls = CLASS_OFFLINE, .tier = TIER_BEST_EFFORT, .mem_working_set = 2 * GiB, .nr_tasks = 1 },
        };
        static const struct {
                uint64_t now_sec;
                const char *evicted;
        } steps[] = {
                { 100, NULL },          /* squeezed, not yet long enough */
                { 110, "b" },           /* watermark still missed after the 10 s hold */
                { 111, NULL },
                { 139, NULL },          /* cooldown 30 s */
                { 140, "b" },           /* the sample still shows b (not marked being_evicted) */
        };
        PolicyConfig cfg = default_config();
        PolicyState st = {};
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                Plan *p = decide_under_pressure(w, ELEMENTSOF(w), &cfg, &st, steps[i].now_sec);
                if (steps[i].evicted) {
                        assert_int_equal(p->n_evictions, 1);
                        assert_string_equal(p->evictions[0].name, steps[i].evicted);
                        assert_int_equal(st.last_eviction_usec, steps[i].now_sec * SEC);
                } else
                        assert_int_equal(p->n_evictions, 0);
                plan_free(p);
        }
        assert_int_equal(st.n_evictions, 2);
}

static void test_policy_eviction_reason_says_why_with_numbers(void **state) {
        (void) state;
        static const WorkloadSample w[] = {
                { .name = "crawl", .cls = CLASS_OFFLINE, .tier = TIER_BEST_EFFORT, .mem_working_set = 800 * MiB, .nr_tasks = 2 },
        };
        static const struct {
                uint64_t squeeze_at, now;       /* seconds */
                uint64_t available;
                double psi;
                const char *reason;             /* NULL: no eviction yet */
        } cases[] = {
                { 100, 112, 300 * MiB, 0.0,
                  "memory available 300 MiB < watermark 512 MiB while squeezed for 12 s; "
                  "largest best-effort workload (800 MiB working set)" },
                { 100, 105, 300 * MiB, 0.0, NULL },
                { 100, 101, 200 * MiB, 0.0,
                  "memory available 200 MiB < half the watermark (256 MiB); largest best-effort workload (800 MiB working set)" },
                { 100, 101, 4 * GiB, 45.0,
                  "online memory pressure 45.0% >= eviction threshold 40.0% while squeezed; "
                  "largest best-effort workload (800 MiB working set)" },
                { 100, 101, 4 * GiB, 39.0, NULL },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                PolicyConfig cfg = default_config();
                PolicyState st = {};
                NodeSample s = quiet_node(w, ELEMENTSOF(w));
                OnlineEstimate est = {};

                s.now_usec = cases[i].squeeze_at * SEC;
                s.mem_available = 400 * MiB;
                plan_free(decide(&s, &est, &cfg, &st));
                assert_true(st.squeezed);

                s.now_usec = cases[i].now * SEC;
                s.mem_available = cases[i].available;
                s.online_mem_pressure.some_avg10 = cases[i].psi;
                Plan *p = decide(&s, &est, &cfg, &st);
                if (!cases[i].reason)
                        assert_int_equal(p->n_evictions, 0);
                else {
                        assert_int_equal(p->n_evictions, 1);
                        assert_string_equal(p->evictions[0].reason, cases[i].reason);
                        assert_int_equal(p->evictions[0].tier, TIER_BEST_EFFORT);
                        assert_string_equal(p->workload_reasons[0], cases[i].reason);
                }
                plan_free(p);
        }
}

static void test_policy_does_not_evict_when_eviction_is_off(void **state) {
        (void) state;
        static const WorkloadSample w[] = {
                { .name = "crawl", .cls = CLASS_OFFLINE, .tier = TIER_BEST_EFFORT, .mem_working_set = GiB, .nr_tasks = 1 },
        };
        PolicyConfig cfg = default_config();
        cfg.eviction = false;
        PolicyState st = {};
        plan_free(decide_under_pressure(w, 1, &cfg, &st, 100));
        Plan *p = decide_under_pressure(w, 1, &cfg, &st, 200);
        assert_true(p->squeezed);
        assert_int_equal(p->n_evictions, 0);
        assert_int_equal(p->workload_states[0], WORKLOAD_SQUEEZED);
        plan_free(p);
}

/* Counts the knobs a plan sets on a group. */
static size_t knobs_set(const CgKnobs *k) {
        return (k->cpu_weight != CG_UNSET) + (k->cpu_idle != CG_UNSET_INT) + (k->cpu_quota_usec != CG_UNSET) +
               (k->cpu_period_usec != CG_UNSET) + (k->mem_max != CG_UNSET) + (k->mem_low != CG_UNSET) +
               (k->mem_min != CG_UNSET) + (k->mem_soft_limit != CG_UNSET) + (k->oom_score_adj != CG_UNSET_INT) +
               (k->cpu_qos_level != CG_UNSET_INT) + (k->mem_qos_level != CG_UNSET_INT);
}

static void test_policy_moving_a_workload_between_classes_plans_the_new_path_completely(void **state) {
        (void) state;
        static const struct {
                WorkloadTier from, to;
                const char *new_path;
                int32_t oom, qos;
                uint64_t low, min;
        } cases[] = {
                { TIER_BEST_EFFORT, TIER_CRITICAL, "online/critical/job", 0, 0, CG_UNLIMITED, CG_UNLIMITED },
                { TIER_BATCH, TIER_NORMAL, "online/normal/job", 0, 0, CG_UNLIMITED, 0 },
                { TIER_CRITICAL, TIER_BEST_EFFORT, "offline/best-effort/job", 1000, -1, 0, 0 },
                { TIER_NORMAL, TIER_BATCH, "offline/batch/job", 500, -1, 0, 0 },
                { TIER_BATCH, TIER_BEST_EFFORT, "offline/best-effort/job", 1000, -1, 0, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                PolicyConfig cfg = default_config();
                PolicyState st = {};
                OnlineEstimate est = {};
                WorkloadSample before = { .name = "job", .cls = workload_tier_class(cases[i].from), .tier = cases[i].from, .nr_tasks = 1 };
                WorkloadSample after = { .name = "job", .cls = workload_tier_class(cases[i].to), .tier = cases[i].to, .nr_tasks = 1 };

                NodeSample s = quiet_node(&before, 1);
                Plan *p1 = decide(&s, &est, &cfg, &st);
                const CgKnobs *old = &p1->groups[p1->n_groups - 1].knobs;

                s = quiet_node(&after, 1);
                Plan *p2 = decide(&s, &est, &cfg, &st);
                const CgKnobs *k = &find_group(p2, cases[i].new_path)->knobs;
                assert_int_equal(find_group_index(p2, cases[i].new_path), (ssize_t) p2->n_groups - 1);

                /* The new leaf sets every knob the old one set: nothing is left from the old class. */
                assert_int_equal(knobs_set(k), knobs_set(old));
                assert_int_equal(k->oom_score_adj, cases[i].oom);
                assert_int_equal(k->cpu_qos_level, cases[i].qos);
                assert_int_equal(k->mem_qos_level, cases[i].qos);
                assert_int_equal(k->mem_low, cases[i].low);
                assert_int_equal(k->mem_min, cases[i].min);
                assert_int_equal(k->cpu_weight, 100);
                assert_int_equal(k->cpu_idle, 0);
                plan_free(p1);
                plan_free(p2);
        }
}

static void test_policy_plans_both_leaves_of_an_interrupted_move(void **state) {
        (void) state;
        static const WorkloadSample w[] = {
                { .name = "job", .cls = CLASS_OFFLINE, .tier = TIER_BATCH, .nr_tasks = 1 },
                { .name = "job", .cls = CLASS_ONLINE, .tier = TIER_NORMAL, .nr_tasks = 1 },
        };
        PolicyConfig cfg = default_config();
        PolicyState st = {};
        OnlineEstimate est = {};
        NodeSample s = quiet_node(w, ELEMENTSOF(w));
        Plan *p = decide(&s, &est, &cfg, &st);
        assert_int_equal(find_group(p, "offline/batch/job")->knobs.oom_score_adj, 500);
        assert_int_equal(find_group(p, "online/normal/job")->knobs.oom_score_adj, 0);
        plan_free(p);
}

static void test_policy_rejects_invalid_input_and_changes_nothing(void **state) {
        (void) state;
#define GOOD { .name = "a", .cls = CLASS_OFFLINE, .tier = TIER_BATCH }
        static const struct {
                const char *what;
                double capacity;
                uint64_t mem_capacity;
                double est_cpu, online_usage, psi;
                WorkloadSample w[2];
                size_t n;
                double reserved, margin;
                uint64_t period;
        } cases[] = {
                { "NaN capacity", NAN, GiB, 0, 0, 0, {}, 0, 0.1, 0.05, 100000 },
                { "negative capacity", -1.0, GiB, 0, 0, 0, {}, 0, 0.1, 0.05, 100000 },
                { "infinite capacity", INFINITY, GiB, 0, 0, 0, {}, 0, 0.1, 0.05, 100000 },
                { "zero memory", 4.0, 0, 0, 0, 0, {}, 0, 0.1, 0.05, 100000 },
                { "NaN estimate", 4.0, GiB, NAN, 0, 0, {}, 0, 0.1, 0.05, 100000 },
                { "negative estimate", 4.0, GiB, -1, 0, 0, {}, 0, 0.1, 0.05, 100000 },
                { "negative usage", 4.0, GiB, 0, -0.5, 0, {}, 0, 0.1, 0.05, 100000 },
                { "NaN PSI", 4.0, GiB, 0, 0, NAN, {}, 0, 0.1, 0.05, 100000 },
                { "tier of the other class",
                  4.0, GiB, 0, 0, 0, { { .name = "a", .cls = CLASS_ONLINE, .tier = TIER_BATCH } }, 1, 0.1, 0.05, 100000 },
                { "invalid name", 4.0, GiB, 0, 0, 0, { { .name = "../x", .cls = CLASS_OFFLINE, .tier = TIER_BATCH } }, 1, 0.1, 0.05, 100000 },
                { "same leaf twice", 4.0, GiB, 0, 0, 0, { GOOD, GOOD }, 2, 0.1, 0.05, 100000 },
                { "workload NaN CPU",
                  4.0, GiB, 0, 0, 0, { { .name = "a", .cls = CLASS_OFFLINE, .tier = TIER_BATCH, .cpu_usage_cores = NAN } }, 1, 0.1, 0.05, 100000 },
                { "negative reserve", 4.0, GiB, 0, 0, 0, {}, 0, -0.1, 0.05, 100000 },
                { "margin of 1", 4.0, GiB, 0, 0, 0, {}, 0, 0.1, 1.0, 100000 },
                { "zero period", 4.0, GiB, 0, 0, 0, {}, 0, 0.1, 0.05, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                PolicyConfig cfg = default_config();
                cfg.reserved_cpu_cores = cases[i].reserved;
                cfg.cpu_safety_margin = cases[i].margin;
                cfg.cpu_period_usec = cases[i].period;
                NodeSample s = quiet_node(cases[i].w, cases[i].n);
                s.cpu_capacity_cores = cases[i].capacity;
                s.mem_capacity = cases[i].mem_capacity;
                s.online_cpu_usage = cases[i].online_usage;
                s.online_mem_pressure.some_avg10 = cases[i].psi;
                s.mem_available = 0;    /* would squeeze */
                OnlineEstimate est = { .cpu_cores = cases[i].est_cpu };
                PolicyState st = { .squeeze_since_usec = 7 };
                Plan *p = (Plan *) 0x1;
                if (policy_decide(&s, &est, &cfg, &st, &p) != -EINVAL)
                        fail_msg("%s: accepted", cases[i].what);
                assert_ptr_equal(p, (Plan *) 0x1);
                assert_false(st.squeezed);
                assert_int_equal(st.squeeze_since_usec, 7);
        }
#undef GOOD

        PolicyConfig cfg = default_config();
        NodeSample s = quiet_node(NULL, 0);
        OnlineEstimate est = {};
        PolicyState st = {};
        Plan *p = NULL;
        assert_int_equal(policy_decide(NULL, &est, &cfg, &st, &p), -EINVAL);
        assert_int_equal(policy_decide(&s, NULL, &cfg, &st, &p), -EINVAL);
        assert_int_equal(policy_decide(&s, &est, NULL, &st, &p), -EINVAL);
        assert_int_equal(policy_decide(&s, &est, &cfg, NULL, &p), -EINVAL);
        assert_int_equal(policy_decide(&s, &est, &cfg, &st, NULL), -EINVAL);
        s.n_workloads = 3;      /* with workloads == NULL */
        assert_int_equal(policy_decide(&s, &est, &cfg, &st, &p), -EINVAL);
        assert_null(p);
}

static void test_policy_config_check_names_the_bad_field(void **state) {
        (void) state;
        static const struct {
                size_t offset;
                enum { DOUBLE, U64, I32 } type;
                double value;
                const char *field;
        } cases[] = {
                { offsetof(PolicyConfig, reserved_cpu_cores), DOUBLE, NAN, "reserved_cpu_cores" },
                { offsetof(PolicyConfig, cpu_safety_margin), DOUBLE, -0.1, "cpu_safety_margin" },
                { offsetof(PolicyConfig, mem_safety_margin), DOUBLE, 1.0, "mem_safety_margin" },
                { offsetof(PolicyConfig, min_offline_cpu_cores), DOUBLE, INFINITY, "min_offline_cpu_cores" },
                { offsetof(PolicyConfig, cpu_period_usec), U64, 999, "cpu_period_usec" },
                { offsetof(PolicyConfig, cpu_period_usec), U64, 1000001, "cpu_period_usec" },
                { offsetof(PolicyConfig, mem_psi_squeeze), DOUBLE, 101, "mem_psi_squeeze" },
                { offsetof(PolicyConfig, mem_psi_evict), DOUBLE, -1, "mem_psi_evict" },
                { offsetof(PolicyConfig, oom_score_adj_batch), I32, 1001, "oom_score_adj_batch" },
                { offsetof(PolicyConfig, oom_score_adj_best_effort), I32, -1001, "oom_score_adj_best_effort" },
                { offsetof(PolicyConfig, online_cpu_weight), U64, 10001, "online_cpu_weight" },
                { offsetof(PolicyConfig, offline_cpu_weight), U64, 0, "offline_cpu_weight" },
        };
        PolicyConfig cfg = default_config();
        const char *field = "x";
        assert_int_equal(policy_config_check(&cfg, &field), 0);
        assert_null(field);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                cfg = default_config();
                char *f = (char *) &cfg + cases[i].offset;
                switch (cases[i].type) {
                case DOUBLE:
                        *(double *) f = cases[i].value;
                        break;
                case U64:
                        *(uint64_t *) f = (uint64_t) cases[i].value;
                        break;
                case I32:
                        *(int32_t *) f = (int32_t) cases[i].value;
                        break;
                }
                assert_int_equal(policy_config_check(&cfg, &field), -EINVAL);
                assert_string_equal(field, cases[i].field);
        }
}

static void test_plan_free_accepts_null(void **state) {
        (void) state;
        assert_null(plan_free(NULL));
}

static void test_workload_state_names(void **state) {
        (void) state;
        assert_string_equal(workload_state_to_string(WORKLOAD_RUNNING), "running");
        assert_string_equal(workload_state_to_string(WORKLOAD_SQUEEZED), "squeezed");
        assert_string_equal(workload_state_to_string(WORKLOAD_EVICTED), "evicted");
        assert_null(workload_state_to_string(_WORKLOAD_STATE_MAX));
        assert_null(workload_state_to_string(_WORKLOAD_STATE_INVALID));
}


/* Allocation failures by countdown (faultsim.h): the Nth allocation of policy_decide() fails,
 * N = 1, 2, ... until a run completes without one, once and persistently. Every run that met a
 * failure returns -ENOMEM with *state and *ret_plan untouched (no partial squeeze or eviction
 * bookkeeping), and frees what it had allocated (ASan's leak check at exit). The node is squeezed
 * and evicts, so a clean run changes the state: an untouched state is a real check. */
static void test_policy_decide_fails_cleanly_at_every_allocation(void **state) {
        (void) state;
        static const WorkloadSample w[] = {
                { .name = "db", .cls = CLASS_ONLINE, .tier = TIER_CRITICAL, .nr_tasks = 1 },
                { .name = "web", .cls = CLASS_ONLINE, .tier = TIER_NORMAL, .nr_tasks = 1 },
                { .name = "etl", .cls = CLASS_OFFLINE, .tier = TIER_BATCH, .nr_tasks = 1, .mem_working_set = 1 * GiB },
                { .name = "crawl", .cls = CLASS_OFFLINE, .tier = TIER_BEST_EFFORT, .nr_tasks = 2,
                  .mem_working_set = 512 * MiB },
        };
        PolicyConfig cfg = default_config();
        NodeSample s = quiet_node(w, ELEMENTSOF(w));
        s.mem_available = 100 * MiB;    /* far below the watermark: squeezed, and evicting */
        OnlineEstimate est = { .cpu_cores = 1.0, .mem_bytes = 1 * GiB };
        PolicyState before;
        memset(&before, 0, sizeof(before));
        before.pressure_last_seen_usec = 10 * SEC;

        PolicyState clean = before;
        Plan *want = decide(&s, &est, &cfg, &clean);
        assert_true(clean.squeezed && want->n_evictions > 0);
        assert_memory_not_equal(&clean, &before, sizeof(before));

        for (int persistent = 0; persistent < 2; persistent++) {
                unsigned n = 1;
                for (;; n++) {
                        PolicyState st;
                        memcpy(&st, &before, sizeof(st));
                        Plan *p = NULL;
                        faultsim_arm(n, persistent);
                        int r = policy_decide(&s, &est, &cfg, &st, &p);
                        if (!faultsim_disarm()) {
                                assert_int_equal(r, 0);
                                assert_int_equal(p->n_groups, want->n_groups);
                                assert_int_equal(p->n_evictions, want->n_evictions);
                                assert_memory_equal(&st, &clean, sizeof(st));
                                plan_free(p);
                                break;
                        }
                        if (r != -ENOMEM || p || memcmp(&st, &before, sizeof(st)) != 0)
                                fail_msg("allocation %u failed (%s): returned %d, plan %p, state %s", n,
                                         persistent ? "and every later one" : "alone", r, (void *) p,
                                         memcmp(&st, &before, sizeof(st)) ? "changed" : "untouched");
                }
                fprintf(stderr, "policy_decide: %u allocations\n", n - 1);
                assert_true(n > 1);     /* it allocates at all: the sweep covered something */
        }
        plan_free(want);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_policy_budget_is_capacity_minus_reserved_estimate_and_margin),
                cmocka_unit_test(test_policy_memory_budget_is_capacity_minus_reserved_estimate_and_margin),
                cmocka_unit_test(test_policy_budget_functions_return_zero_for_invalid_input),
                cmocka_unit_test(test_policy_sets_knobs_per_group),
                cmocka_unit_test(test_policy_lists_parents_before_children),
                cmocka_unit_test(test_policy_switched_off_features_reset_knobs_to_neutral),
                cmocka_unit_test(test_policy_cpu_quota_modes),
        cmocka_unit_test(test_policy_squeezes_on_watermark_and_on_psi),
                cmocka_unit_test(test_policy_squeeze_never_raises_the_limit_above_the_budget),
                cmocka_unit_test(test_policy_holds_the_squeeze_after_pressure_ends),
                cmocka_unit_test(test_policy_marks_offline_squeezed_when_cpu_budget_binds),
                cmocka_unit_test(test_policy_evicts_best_effort_before_batch_then_the_largest),
                cmocka_unit_test(test_policy_respects_the_eviction_cooldown),
                cmocka_unit_test(test_policy_eviction_reason_says_why_with_numbers),
                cmocka_unit_test(test_policy_does_not_evict_when_eviction_is_off),
                cmocka_unit_test(test_policy_moving_a_workload_between_classes_plans_the_new_path_completely),
                cmocka_unit_test(test_policy_plans_both_leaves_of_an_interrupted_move),
                cmocka_unit_test(test_policy_rejects_invalid_input_and_changes_nothing),
                cmocka_unit_test(test_policy_config_check_names_the_bad_field),
                cmocka_unit_test(test_plan_free_accepts_null),
                cmocka_unit_test(test_workload_state_names),
                cmocka_unit_test(test_policy_decide_fails_cleanly_at_every_allocation),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
