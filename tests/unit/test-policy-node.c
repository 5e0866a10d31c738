/* Unit tests of the node-level decisions (src/lib/policy/policy-node.h): the advertised budget
 * and the over-commitment eviction cooldown, table-first with the clock passed in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "policy/policy-node.h"
#include "util/macro.h"

#define SEC USEC_PER_SEC
#define GiB (1ULL << 30)

static PolicyConfig config(void) {
        PolicyConfig c;
        policy_config_init_defaults(&c);
        c.reserved_cpu_cores = 0.5;
        c.reserved_mem_bytes = 1 * GiB;
        c.cpu_safety_margin = 0.0;
        c.mem_safety_margin = 0.0;
        c.min_offline_cpu_cores = 0.25;
        return c;
}

static void test_node_budget_follows_the_plan_and_the_squeeze(void **state) {
        (void) state;
        PolicyConfig cfg = config();
        NodeSample s = { .now_usec = 10 * SEC, .cpu_capacity_cores = 4.0, .mem_capacity = 8 * GiB,
                         .online_cpu_usage = 1.0, .online_mem_working_set = 2 * GiB };
        static const struct {
                const char *what;
                OnlineEstimate est;
                bool with_plan;
                Plan plan;
                double cpu, peak_cpu;
                uint64_t mem, peak_mem;
        } cases[] = {
                /* No plan (the simulator): capacity - reserved - max(estimate, usage). */
                { "no plan", { 1.5, 3 * GiB }, false, {}, 2.0, 1.5, 4 * GiB, 3 * GiB },
                { "no plan, the estimate below the usage now", { 0.5, 1 * GiB }, false, {}, 2.5, 1.0, 5 * GiB, 2 * GiB },
                { "no plan, online beyond the capacity: 0, not negative", { 9.0, 9 * GiB }, false, {}, 0.0, 9.0, 0,
                  9 * GiB },
                /* The plan's budget before the floor, not the enforced floor. */
                { "plan, not squeezed", { 1.5, 3 * GiB }, true,
                  { .offline_cpu_budget_raw = 0.1, .offline_cpu_budget_cores = 0.25, .offline_mem_budget = 4 * GiB },
                  0.1, 1.5, 4 * GiB, 3 * GiB },
                { "plan, squeezed: the lower of budget and squeezed level", { 1.5, 3 * GiB }, true,
                  { .squeezed = true, .offline_cpu_budget_raw = 2.0, .offline_cpu_budget_cores = 0.25,
                    .offline_mem_budget = 1 * GiB },
                  0.25, 1.5, 1 * GiB, 3 * GiB },
                { "plan, squeezed, the budget already lower", { 1.5, 3 * GiB }, true,
                  { .squeezed = true, .offline_cpu_budget_raw = 0.1, .offline_cpu_budget_cores = 0.25,
                    .offline_mem_budget = 1 * GiB },
                  0.1, 1.5, 1 * GiB, 3 * GiB },
                { "plan with a negative raw budget: 0", { 1.5, 3 * GiB }, true,
                  { .offline_cpu_budget_raw = -1.0, .offline_mem_budget = 0 }, 0.0, 1.5, 0, 3 * GiB },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                NodeBudget b;
                policy_node_budget(&s, &cases[i].est, &cfg, cases[i].with_plan ? &cases[i].plan : NULL, &b);
                if (fabs(b.offline_cpu_cores - cases[i].cpu) > 1e-9 || b.offline_mem_bytes != cases[i].mem ||
                    fabs(b.online_cpu_peak - cases[i].peak_cpu) > 1e-9 || b.online_mem_peak != cases[i].peak_mem)
                        fail_msg("%s: got cpu %.3f mem %llu peak %.3f/%llu", cases[i].what, b.offline_cpu_cores,
                                 (unsigned long long) b.offline_mem_bytes, b.online_cpu_peak,
                                 (unsigned long long) b.online_mem_peak);
                assert_true(b.cpu_capacity_cores == 4.0 && b.mem_capacity == 8 * GiB);
                assert_true(b.online_cpu_usage == 1.0 && b.online_mem_usage == 2 * GiB);
        }
}

static void test_node_budget_without_a_plan_is_the_policy_formula(void **state) {
        (void) state;
        PolicyConfig cfg = config();
        cfg.cpu_safety_margin = 0.05;
        cfg.reserved_cpu_cores = 0.0;
        for (double usage = 0.0; usage <= 10.0; usage += 0.5) {
                NodeSample s = { .cpu_capacity_cores = 10.0, .mem_capacity = 1, .online_cpu_usage = usage };
                OnlineEstimate est = { .cpu_cores = 10.0 - usage };
                NodeBudget b;
                policy_node_budget(&s, &est, &cfg, NULL, &b);
                assert_true(b.offline_cpu_cores == policy_offline_cpu_budget(&s, &est, &cfg));
        }
}

/* One step of the cooldown table: what happens at time t. */
typedef struct Step {
        uint64_t t;
        bool judged, over;
        unsigned act;
} Step;

static void test_overcommit_evicts_after_the_cooldown_and_one_per_cooldown(void **state) {
        (void) state;
        static const struct {
                const char *what;
                bool eviction;
                uint64_t cooldown;
                Step steps[8];
                size_t n;
        } cases[] = {
                { "fits: nothing", true, 30 * SEC, { { 100 * SEC, true, false, 0 } }, 1 },
                { "starts, waits the cooldown, evicts, then one per cooldown", true, 30 * SEC,
                  { { 100 * SEC, true, true, OVERCOMMIT_STARTED },
                    { 129 * SEC, true, true, 0 },
                    { 130 * SEC, true, true, OVERCOMMIT_EVICT },
                    { 140 * SEC, true, true, 0 },
                    { 159 * SEC, true, true, 0 },
                    { 160 * SEC, true, true, OVERCOMMIT_EVICT } }, 6 },
                { "fits again: ended once; a new over-commitment waits again", true, 30 * SEC,
                  { { 100 * SEC, true, true, OVERCOMMIT_STARTED },
                    { 110 * SEC, true, false, OVERCOMMIT_ENDED },
                    { 111 * SEC, true, false, 0 },
                    { 120 * SEC, true, true, OVERCOMMIT_STARTED },
                    { 149 * SEC, true, true, 0 },
                    { 150 * SEC, true, true, OVERCOMMIT_EVICT } }, 6 },
                { "the last eviction's cooldown holds across over-commitments", true, 30 * SEC,
                  { { 100 * SEC, true, true, OVERCOMMIT_STARTED },
                    { 130 * SEC, true, true, OVERCOMMIT_EVICT },
                    { 131 * SEC, true, false, OVERCOMMIT_ENDED },
                    { 132 * SEC, true, true, OVERCOMMIT_STARTED },
                    { 159 * SEC, true, true, 0 },
                    { 162 * SEC, true, true, OVERCOMMIT_EVICT } }, 6 },
                { "cooldown 0: evicts at once, every period", true, 0,
                  { { 100 * SEC, true, true, OVERCOMMIT_STARTED | OVERCOMMIT_EVICT },
                    { 101 * SEC, true, true, OVERCOMMIT_EVICT } }, 2 },
                { "eviction off: squeezed, never evicted", false, 30 * SEC,
                  { { 100 * SEC, true, true, OVERCOMMIT_STARTED },
                    { 500 * SEC, true, true, 0 } }, 2 },
                { "not judged (stale, not synced, dry run): forgotten silently", true, 30 * SEC,
                  { { 100 * SEC, true, true, OVERCOMMIT_STARTED },
                    { 120 * SEC, false, true, 0 },
                    { 130 * SEC, true, true, OVERCOMMIT_STARTED },
                    { 159 * SEC, true, true, 0 },
                    { 160 * SEC, true, true, OVERCOMMIT_EVICT } }, 5 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                PolicyConfig cfg = config();
                cfg.eviction = cases[i].eviction;
                cfg.evict_cooldown_usec = cases[i].cooldown;
                OvercommitState st = {};
                for (size_t j = 0; j < cases[i].n; j++) {
                        const Step *s = &cases[i].steps[j];
                        unsigned act = policy_overcommit_step(&st, s->judged, s->over, &cfg, s->t);
                        if (act != s->act)
                                fail_msg("%s, step %zu (t=%llus): got %#x, want %#x", cases[i].what, j,
                                         (unsigned long long) (s->t / SEC), act, s->act);
                }
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_node_budget_follows_the_plan_and_the_squeeze),
                cmocka_unit_test(test_node_budget_without_a_plan_is_the_policy_formula),
                cmocka_unit_test(test_overcommit_evicts_after_the_cooldown_and_one_per_cooldown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
