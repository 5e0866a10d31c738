/* The policy's PIDs limits and its throttle-not-kill handling of offline memory (issue 12, must-haves
 * 5 and 6), as pure functions: pids.max per offline group from the configuration, and a growing
 * offline workload under memory pressure that is throttled with headroom above its working set,
 * never capped at it, until eviction takes it back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"
#include "util/macro.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define SEC USEC_PER_SEC
#define U CG_UNSET
#define UNLIMITED CG_UNLIMITED

static const WorkloadSample workloads[] = {
        { .name = "web", .cls = CLASS_ONLINE, .tier = TIER_NORMAL, .nr_tasks = 1 },
        { .name = "etl", .cls = CLASS_OFFLINE, .tier = TIER_BATCH, .nr_tasks = 1, .mem_working_set = 1 * GiB },
        { .name = "crawl", .cls = CLASS_OFFLINE, .tier = TIER_BEST_EFFORT, .nr_tasks = 1, .mem_working_set = 1 * GiB },
};

/* v2: the node has memory.high. */
static NodeSample node(uint64_t now_usec, bool v2) {
        return (NodeSample) {
                .now_usec = now_usec,
                .mem_high_available = v2,
                .cpu_capacity_cores = 4.0,
                .mem_capacity = 8 * GiB,
                .mem_available = 4 * GiB,
                .online_mem_working_set = 1 * GiB,
                .offline_mem_working_set = 2 * GiB,
                .offline_mem_usage = 2 * GiB,
                .online_mem_pressure = { .valid = true },
                .workloads = workloads,
                .n_workloads = ELEMENTSOF(workloads),
        };
}

static const CgKnobs *knobs_of(const Plan *p, const char *path) {
        for (size_t i = 0; i < p->n_groups; i++)
                if (strcmp(p->groups[i].path, path) == 0)
                        return &p->groups[i].knobs;
        fail_msg("no group '%s' in the plan", path);
        return NULL;
}

static void test_pids_max_per_offline_group_from_the_configuration(void **state) {
        (void) state;
        static const struct {
                const char *what;
                bool on;
                uint64_t offline, batch, best_effort;   /* configured */
                uint64_t want_offline, want_batch, want_best_effort;
        } cases[] = {
                { "defaults", true, 16384, 16384, 4096, 16384, 16384, 4096 },
                { "small node", true, 512, 256, 64, 512, 256, 64 },
                { "one pid is allowed", true, 1, 1, 1, 1, 1, 1 },
                { "the kernel's largest", true, CG_PIDS_MAX, CG_PIDS_MAX, CG_PIDS_MAX, CG_PIDS_MAX, CG_PIDS_MAX,
                  CG_PIDS_MAX },
                { "switched off writes max", false, 512, 256, 64, UNLIMITED, UNLIMITED, UNLIMITED },
        };
        static const char *const untouched[] = { "", "online", "online/critical", "online/normal",
                                                 "online/normal/web", "offline/batch/etl", "offline/best-effort/crawl" };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                PolicyConfig cfg;
                policy_config_init_defaults(&cfg);
                cfg.pids_limit = cases[i].on;
                cfg.offline_pids_max = cases[i].offline;
                cfg.batch_pids_max = cases[i].batch;
                cfg.best_effort_pids_max = cases[i].best_effort;
                NodeSample s = node(1000 * SEC, true);
                OnlineEstimate est = { .cpu_cores = 1.0, .mem_bytes = 1 * GiB };
                PolicyState st = {};
                Plan *p = NULL;
                assert_int_equal(policy_decide(&s, &est, &cfg, &st, &p), 0);
                uint64_t got[] = { knobs_of(p, "offline")->pids_max, knobs_of(p, "offline/batch")->pids_max,
                                   knobs_of(p, "offline/best-effort")->pids_max };
                uint64_t want[] = { cases[i].want_offline, cases[i].want_batch, cases[i].want_best_effort };
                for (size_t k = 0; k < ELEMENTSOF(got); k++)
                        if (got[k] != want[k])
                                fail_msg("%s: group %zu pids.max %llu, want %llu", cases[i].what, k,
                                         (unsigned long long) got[k], (unsigned long long) want[k]);
                /* Online work and the workload leaves are not colo's to limit here (Kubernetes pods
                 * get their own limit from the pod-limits path). */
                for (size_t k = 0; k < ELEMENTSOF(untouched); k++)
                        assert_int_equal(knobs_of(p, untouched[k])->pids_max, U);
                plan_free(p);
        }
}

static void test_pids_max_out_of_range_is_refused_by_name(void **state) {
        (void) state;
        static const struct {
                size_t field;
                uint64_t value;
                const char *name;
        } cases[] = {
                { offsetof(PolicyConfig, offline_pids_max), 0, "offline_pids_max" },
                { offsetof(PolicyConfig, offline_pids_max), CG_PIDS_MAX + 1, "offline_pids_max" },
                { offsetof(PolicyConfig, batch_pids_max), 0, "batch_pids_max" },
                { offsetof(PolicyConfig, best_effort_pids_max), UNLIMITED, "best_effort_pids_max" },
                { offsetof(PolicyConfig, mem_headroom), UNLIMITED, "mem_headroom" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                PolicyConfig cfg;
                policy_config_init_defaults(&cfg);
                *(uint64_t *) ((char *) &cfg + cases[i].field) = cases[i].value;
                const char *field = NULL;
                assert_int_equal(policy_config_check(&cfg, &field), -EINVAL);
                assert_string_equal(field, cases[i].name);
                NodeSample s = node(1000 * SEC, true);
                OnlineEstimate est = {};
                PolicyState st = {};
                Plan *p = NULL;
                assert_int_equal(policy_decide(&s, &est, &cfg, &st, &p), -EINVAL);
                assert_null(p);
        }
}

/* One period of a growing offline workload under memory pressure: MemAvailable below the
 * watermark but above half of it, so squeezing comes first and eviction only after the hold. */
typedef struct Period {
        uint64_t now_usec;
        uint64_t offline_working_set;
        bool v2;
} Period;

static Plan *decide_period(const PolicyConfig *cfg, PolicyState *st, const Period *per) {
        NodeSample s = node(per->now_usec, per->v2);
        s.mem_available = 400 * MiB;    /* watermark 512 MiB */
        s.offline_mem_working_set = per->offline_working_set;
        s.offline_mem_usage = per->offline_working_set + 64 * MiB;
        OnlineEstimate est = { .cpu_cores = 1.0, .mem_bytes = 1 * GiB };
        Plan *p = NULL;
        assert_int_equal(policy_decide(&s, &est, cfg, st, &p), 0);
        return p;
}

static void test_squeezed_growing_offline_workload_keeps_headroom_until_evicted(void **state) {
        (void) state;
        for (int v2 = 0; v2 <= 1; v2++) {
                PolicyConfig cfg;
                policy_config_init_defaults(&cfg);
                PolicyState st = {};
                bool evicted = false;

                /* 512 MiB more every second, past the budget (about 6.3 GiB) at the end; the
                 * squeeze hold is 10 s. */
                for (unsigned t = 0; t <= 10 && !evicted; t++) {
                        Period per = { .now_usec = (1000 + t) * SEC, .offline_working_set = 2 * GiB + t * 512 * MiB,
                                       .v2 = v2 };
                        Plan *p = decide_period(&cfg, &st, &per);
                        const CgKnobs *k = knobs_of(p, "offline");
                        assert_true(p->squeezed);
                        /* Throttled at the squeezed level, never killed at the working set: the
                         * hard limit stays the headroom above what the workload holds. */
                        if (k->mem_max < per.offline_working_set + cfg.mem_headroom)
                                fail_msg("v%d, t=%u s: memory.max %llu MiB, working set %llu MiB", v2 ? 2 : 1, t,
                                         (unsigned long long) (k->mem_max / MiB),
                                         (unsigned long long) (per.offline_working_set / MiB));
                        assert_true(k->mem_high <= k->mem_max);
                        assert_int_equal(k->mem_soft_limit, 0);         /* v1: offline reclaimed first */
                        if (p->n_evictions > 0) {
                                /* Only once the squeeze has been held without relief. */
                                assert_int_equal(t, 10);
                                assert_string_equal(p->evictions[0].name, "crawl");
                                assert_non_null(strstr(p->evictions[0].reason, "while squeezed for 10 s"));
                                evicted = true;
                        }
                        plan_free(p);
                }
                assert_true(evicted);
        }
}

/* Squeezed at 2 GiB of working set: the hard limit keeps the headroom on v1 and v2; with the
 * switch off it is the level itself, what the kernel OOM-kills at. */
static void test_squeezed_limit_per_kernel_and_switch(void **state) {
        (void) state;
        static const struct {
                bool throttle, v2;
                uint64_t want_max, want_high;   /* working set 2 GiB, usage +64 MiB, shortfall 112 MiB */
        } cases[] = {
                { true, true, 2 * GiB + 128 * MiB, 2 * GiB },
                { true, false, 2 * GiB + 128 * MiB, 2 * GiB },
                { false, true, 2 * GiB, UNLIMITED },
                { false, false, 2 * GiB, UNLIMITED },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                PolicyConfig cfg;
                policy_config_init_defaults(&cfg);
                cfg.memory_throttle = cases[i].throttle;
                PolicyState st = {};
                Period per = { .now_usec = 1000 * SEC, .offline_working_set = 2 * GiB, .v2 = cases[i].v2 };
                Plan *p = decide_period(&cfg, &st, &per);
                const CgKnobs *k = knobs_of(p, "offline");
                assert_true(p->squeezed);
                assert_int_equal(p->offline_mem_budget, 2 * GiB);
                if (k->mem_max != cases[i].want_max || k->mem_high != cases[i].want_high)
                        fail_msg("case %zu: max %llu, high %llu", i, (unsigned long long) k->mem_max,
                                 (unsigned long long) k->mem_high);
                plan_free(p);
        }
}

/* Without pressure, memory.high is the budget and, on v2, memory.max the headroom above it; v1
 * has no throttle, so its limit stays the budget. */
static void test_unsqueezed_offline_memory_high_is_the_budget(void **state) {
        (void) state;
        static const struct {
                bool v2;
                uint64_t headroom, want_max_above_budget;
        } cases[] = {
                { true, 128 * MiB, 128 * MiB },
                { true, 0, 0 },
                { true, 1 * GiB, 1 * GiB },
                { false, 128 * MiB, 0 },
                { false, 1 * GiB, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                PolicyConfig cfg;
                policy_config_init_defaults(&cfg);
                cfg.mem_headroom = cases[i].headroom;
                NodeSample s = node(1000 * SEC, cases[i].v2);
                OnlineEstimate est = { .cpu_cores = 1.0, .mem_bytes = 1 * GiB };
                PolicyState st = {};
                Plan *p = NULL;
                assert_int_equal(policy_decide(&s, &est, &cfg, &st, &p), 0);
                const CgKnobs *k = knobs_of(p, "offline");
                assert_false(p->squeezed);
                assert_int_equal(k->mem_high, p->offline_mem_budget);
                if (k->mem_max != p->offline_mem_budget + cases[i].want_max_above_budget)
                        fail_msg("case %zu: max %llu, budget %llu", i, (unsigned long long) k->mem_max,
                                 (unsigned long long) p->offline_mem_budget);
                plan_free(p);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pids_max_per_offline_group_from_the_configuration),
                cmocka_unit_test(test_pids_max_out_of_range_is_refused_by_name),
                cmocka_unit_test(test_squeezed_growing_offline_workload_keeps_headroom_until_evicted),
                cmocka_unit_test(test_squeezed_limit_per_kernel_and_switch),
                cmocka_unit_test(test_unsqueezed_offline_memory_high_is_the_budget),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
