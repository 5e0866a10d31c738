/* Unit tests of the pure rules of publishing a node's oversold capacity (src/lib/k8s/node-status.h):
 * the decay of stale data, the hysteresis, what is advertised while offline pods hold more, and
 * which pod an over-commitment evicts. Table-first; the publisher itself, against the fake API
 * server, is tested in tests/integration/test-k8s-agent.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kube/node-status.h"
#include "util/macro.h"

#define SEC USEC_PER_SEC

static void test_node_status_decays_stale_data_to_zero(void **state) {
        (void) state;
        const NodeCapacity b = { 4000, 8000 };
        const uint64_t s = 30 * SEC;
        static const struct { uint64_t age; int64_t cpu, mem; } cases[] = {
                { 0, 4000, 8000 },
                { 30 * SEC, 4000, 8000 },               /* stale_after itself: not yet */
                { 30 * SEC + 30 * SEC / 4, 3000, 6000 },
                { 45 * SEC, 2000, 4000 },               /* 1.5 x stale_after: half */
                { 60 * SEC, 0, 0 },                     /* 2 x stale_after: nothing */
                { 300 * SEC, 0, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                NodeCapacity d = node_status_decay(b, cases[i].age, s);
                if (d.cpu_milli != cases[i].cpu || d.memory != cases[i].mem)
                        fail_msg("age %llus: got %lld/%lld", (unsigned long long) (cases[i].age / SEC),
                                 (long long) d.cpu_milli, (long long) d.memory);
        }
}

static void test_node_status_hysteresis(void **state) {
        (void) state;
        const uint64_t interval = 300 * SEC, t = 1000 * SEC;
        const NodeStatusHysteresis never = {};
        const NodeStatusHysteresis once = { .published = true, .values = { 1000, 1000 }, .at_usec = t };
        static const struct {
                const char *what;
                bool published;
                int64_t v1;
                uint64_t at;
                double threshold;
                bool follow_small_drops, due;
        } cases[] = {
                { "never published", false, 1000, 1000 * SEC, 0.1, true, true },
                { "unchanged", true, 1000, 1020 * SEC, 0.1, true, false },
                { "a rise below the threshold", true, 1099, 1020 * SEC, 0.1, true, false },
                { "a rise of the threshold, after the spacing", true, 1100, 1020 * SEC, 0.1, true, true },
                { "a rise of the threshold, within the spacing", true, 1100, 1005 * SEC, 0.1, true, false },
                { "a drop of the threshold: at once", true, 900, 1000 * SEC + 1, 0.1, true, true },
                { "a small drop, within the spacing", true, 950, 1000 * SEC + 1, 0.1, true, false },
                { "a small drop, after the spacing, followed", true, 950, 1020 * SEC, 0.1, true, true },
                { "a small drop, after the spacing, not followed", true, 950, 1020 * SEC, 0.1, false, false },
                { "the interval elapsed", true, 1001, 1300 * SEC, 0.1, true, true },
                { "threshold 0: any change", true, 1001, 1020 * SEC, 0.0, true, true },
                { "reaching 0: at once", true, 0, 1000 * SEC + 1, 0.5, true, true },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int64_t v[2] = { 1000, cases[i].v1 };
                bool due = node_status_due(cases[i].published ? &once : &never, v, 2, cases[i].at, cases[i].threshold,
                                           interval, cases[i].follow_small_drops);
                if (due != cases[i].due)
                        fail_msg("%s: got %s", cases[i].what, due ? "due" : "not due");
        }
}

static void test_node_status_advertises_at_least_what_offline_pods_hold(void **state) {
        (void) state;
        static const struct { NodeCapacity budget, held, want; } cases[] = {
                { { 1000, 50 }, { 2000, 10 }, { 2000, 50 } },
                { { 3000, 50 }, { 2000, 60 }, { 3000, 60 } },
                { { 0, 0 }, { 0, 0 }, { 0, 0 } },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                NodeCapacity a = node_status_advertise(cases[i].budget, cases[i].held);
                assert_int_equal(a.cpu_milli, cases[i].want.cpu_milli);
                assert_int_equal(a.memory, cases[i].want.memory);
        }
}

static void test_node_status_overcommit_evicts_the_lowest_tier_first(void **state) {
        (void) state;
        /* Each row marks the pods already on their way out; -1: everything fits. */
        static const struct {
                const char *what;
                bool evicting[4];
                NodeCapacity budget;
                int pick;
        } cases[] = {
                { "everything fits (3600m held)", {}, { 3600, 7 }, -1 },
                { "best-effort first, the largest CPU holder", {}, { 3000, 7 }, 2 },
                { "a pod being evicted counts as released (2600m held)", { false, false, true, false }, { 2600, 7 }, -1 },
                { "then the other best-effort pod", { false, false, true, false }, { 2500, 7 }, 1 },
                { "memory over: the batch pod holding most memory", { false, true, true, false }, { 2500, 3 }, 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                OfflineHolding pods[] = {
                        { .tier = TIER_BATCH, .cpu_milli = 2000, .memory = 4 },
                        { .tier = TIER_BEST_EFFORT, .cpu_milli = 500, .memory = 1 },
                        { .tier = TIER_BEST_EFFORT, .cpu_milli = 1000, .memory = 1 },
                        { .tier = TIER_BATCH, .cpu_milli = 100, .memory = 1 },
                };
                for (size_t j = 0; j < ELEMENTSOF(pods); j++)
                        pods[j].being_evicted = cases[i].evicting[j];
                size_t idx = 99;
                int r = node_status_pick_overcommit(pods, ELEMENTSOF(pods), cases[i].budget, &idx);
                if (cases[i].pick < 0 ? r != -ENOENT : r != 0 || idx != (size_t) cases[i].pick)
                        fail_msg("%s: got r=%d index %zu", cases[i].what, r, idx);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_node_status_decays_stale_data_to_zero),
                cmocka_unit_test(test_node_status_hysteresis),
                cmocka_unit_test(test_node_status_advertises_at_least_what_offline_pods_hold),
                cmocka_unit_test(test_node_status_overcommit_evicts_the_lowest_tier_first),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
