/* Which systemd unit properties colo sets for its knobs on systemd's slices (unit-props.h): slice
 * names from cgroup paths, the knob translation with and without CPUWeight=idle, and the diff
 * against what systemd reads back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "systemd/unit-props.h"

static void test_slice_name_is_the_last_slice_component(void **state) {
        (void) state;
        static const struct {
                const char *path, *want;
        } ok[] = {
                { "/kubepods.slice", "kubepods.slice" },
                { "/kubepods.slice/kubepods-besteffort.slice", "kubepods-besteffort.slice" },
                { "/kubepods.slice/kubepods-besteffort.slice/", "kubepods-besteffort.slice" },
                { "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f3c2a1e_7b4d.slice",
                  "kubepods-burstable-pod0f3c2a1e_7b4d.slice" },
        };
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                char buf[UNIT_NAME_MAX];
                assert_int_equal(unit_slice_name(ok[i].path, buf, sizeof(buf)), (int) strlen(ok[i].want));
                assert_string_equal(buf, ok[i].want);
        }
        /* The cgroupfs driver's directories, scopes, and names systemd would refuse. */
        static const char *const bad[] = { "/kubepods/besteffort", "/kubepods.slice/x/cri-containerd-ab.scope",
                                           ".slice", "/-a.slice", "/a-.slice", "/a--b.slice", "/a b.slice",
                                           "/a/b.slice.d", "" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char buf[UNIT_NAME_MAX];
                assert_int_equal(unit_slice_name(bad[i], buf, sizeof(buf)), -EINVAL);
        }
        char small[8];
        assert_int_equal(unit_slice_name("/kubepods.slice", small, sizeof(small)), -ENOBUFS);
        assert_int_equal(unit_slice_name(NULL, small, sizeof(small)), -EINVAL);
}

static void test_offline_parent_knobs_become_idle_quota_and_limits(void **state) {
        (void) state;
        CgKnobs k;
        cg_knobs_init(&k);
        k.cpu_idle = 1;
        k.cpu_quota_usec = 150000;
        k.cpu_period_usec = 100000;
        k.mem_max = 2ULL << 30;
        k.mem_high = CG_UNLIMITED;
        k.mem_low = 0;
        k.mem_min = 0;
        k.pids_max = 4096;
        k.io_weight = 20;
        k.oom_score_adj = 1000;         /* no unit property: stays a cgroupfs write */
        UnitWant w;
        unit_want_from_knobs(&k, true, &w);
        assert_false(w.cpu_not_idle);
        assert_int_equal(w.props.mask, (1u << _UNIT_PROP_MAX) - 1);
        assert_int_equal(w.props.value[UNIT_PROP_CPU_WEIGHT], UNIT_CPU_WEIGHT_IDLE);
        assert_int_equal(w.props.value[UNIT_PROP_CPU_QUOTA_PER_SEC], 1500000);
        assert_int_equal(w.props.value[UNIT_PROP_CPU_QUOTA_PERIOD], 100000);
        assert_int_equal(w.props.value[UNIT_PROP_MEMORY_MAX], 2ULL << 30);
        assert_true(w.props.value[UNIT_PROP_MEMORY_HIGH] == UNIT_PROP_INFINITY);
        assert_int_equal(w.props.value[UNIT_PROP_MEMORY_LOW], 0);
        assert_int_equal(w.props.value[UNIT_PROP_TASKS_MAX], 4096);
        assert_int_equal(w.props.value[UNIT_PROP_IO_WEIGHT], 20);

        /* systemd before 252: no idle, so colo owns no CPUWeight at all there. */
        unit_want_from_knobs(&k, false, &w);
        assert_false(w.props.mask & UNIT_PROP_BIT(UNIT_PROP_CPU_WEIGHT));
        assert_false(w.cpu_not_idle);
}

static void test_cpu_weight_and_quota_edges(void **state) {
        (void) state;
        static const struct {
                int32_t idle;
                uint64_t weight, quota, period;
                unsigned want_mask;
                bool not_idle;
                uint64_t want_weight, want_per_sec;
        } cases[] = {
                /* an offline pod: not idle, its tier's weight */
                { 0, 30, CG_UNSET, CG_UNSET, UNIT_PROP_BIT(UNIT_PROP_CPU_WEIGHT), false, 30, 0 },
                /* an online pod: not idle, kubelet's weight */
                { 0, CG_UNSET, CG_UNSET, CG_UNSET, 0, true, 0, 0 },
                { CG_UNSET_INT, 20000, CG_UNSET, CG_UNSET, UNIT_PROP_BIT(UNIT_PROP_CPU_WEIGHT), false, 10000, 0 },
                /* no quota; no period given: the kernel's 100 ms; a tiny quota: systemd's 1 ms floor */
                { CG_UNSET_INT, CG_UNSET, CG_UNLIMITED, CG_UNSET, UNIT_PROP_BIT(UNIT_PROP_CPU_QUOTA_PER_SEC), false, 0,
                  UNIT_PROP_INFINITY },
                { CG_UNSET_INT, CG_UNSET, 50000, CG_UNSET,
                  UNIT_PROP_BIT(UNIT_PROP_CPU_QUOTA_PER_SEC) | UNIT_PROP_BIT(UNIT_PROP_CPU_QUOTA_PERIOD), false, 0, 500000 },
                { CG_UNSET_INT, CG_UNSET, 1, 1000000,
                  UNIT_PROP_BIT(UNIT_PROP_CPU_QUOTA_PER_SEC) | UNIT_PROP_BIT(UNIT_PROP_CPU_QUOTA_PERIOD), false, 0, 1000 },
                { CG_UNSET_INT, CG_UNSET, UINT64_MAX - 2, 1,
                  UNIT_PROP_BIT(UNIT_PROP_CPU_QUOTA_PER_SEC) | UNIT_PROP_BIT(UNIT_PROP_CPU_QUOTA_PERIOD), false, 0,
                  UINT64_MAX - 1 },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                CgKnobs k;
                cg_knobs_init(&k);
                k.cpu_idle = cases[i].idle;
                k.cpu_weight = cases[i].weight;
                k.cpu_quota_usec = cases[i].quota;
                k.cpu_period_usec = cases[i].period;
                UnitWant w;
                unit_want_from_knobs(&k, true, &w);
                assert_int_equal(w.props.mask, cases[i].want_mask);
                assert_int_equal(w.cpu_not_idle, cases[i].not_idle);
                if (cases[i].want_mask & UNIT_PROP_BIT(UNIT_PROP_CPU_WEIGHT))
                        assert_true(w.props.value[UNIT_PROP_CPU_WEIGHT] == cases[i].want_weight);
                if (cases[i].want_mask & UNIT_PROP_BIT(UNIT_PROP_CPU_QUOTA_PER_SEC))
                        assert_true(w.props.value[UNIT_PROP_CPU_QUOTA_PER_SEC] == cases[i].want_per_sec);
        }
}

/* What a daemon-reload over `systemctl set-property kubepods-besteffort.slice CPUWeight=50`
 * leaves: CPUWeight 50 (not idle), MemoryMax infinity (colo wanted 1 GiB). */
static void test_diff_names_what_systemd_lost(void **state) {
        (void) state;
        CgKnobs k;
        cg_knobs_init(&k);
        k.cpu_idle = 1;
        k.mem_max = 1ULL << 30;
        k.mem_low = 0;
        UnitWant w;
        unit_want_from_knobs(&k, true, &w);
        unsigned all = unit_want_mask(&w);
        UnitProps actual = { .mask = all };
        actual.value[UNIT_PROP_CPU_WEIGHT] = 50;
        actual.value[UNIT_PROP_MEMORY_MAX] = UNIT_PROP_INFINITY;
        actual.value[UNIT_PROP_MEMORY_LOW] = 0;
        assert_int_equal(unit_want_diff(&w, &actual),
                         UNIT_PROP_BIT(UNIT_PROP_CPU_WEIGHT) | UNIT_PROP_BIT(UNIT_PROP_MEMORY_MAX));
        assert_true(unit_want_value(&w, UNIT_PROP_CPU_WEIGHT) == UNIT_CPU_WEIGHT_IDLE);
        actual.value[UNIT_PROP_CPU_WEIGHT] = 0;
        actual.value[UNIT_PROP_MEMORY_MAX] = 1ULL << 30;
        assert_int_equal(unit_want_diff(&w, &actual), 0);
        /* Not read back (the read failed half-way): set again. */
        actual.mask &= ~UNIT_PROP_BIT(UNIT_PROP_MEMORY_LOW);
        assert_int_equal(unit_want_diff(&w, &actual), UNIT_PROP_BIT(UNIT_PROP_MEMORY_LOW));
}

/* An online pod colo wants not idle: kubelet's weight matches, idle is reset to systemd's default. */
static void test_not_idle_accepts_any_weight_but_idle(void **state) {
        (void) state;
        CgKnobs k;
        cg_knobs_init(&k);
        k.cpu_idle = 0;
        UnitWant w;
        unit_want_from_knobs(&k, true, &w);
        assert_int_equal(unit_want_mask(&w), UNIT_PROP_BIT(UNIT_PROP_CPU_WEIGHT));
        UnitProps actual = { .mask = UNIT_PROP_BIT(UNIT_PROP_CPU_WEIGHT) };
        actual.value[UNIT_PROP_CPU_WEIGHT] = 39;
        assert_int_equal(unit_want_diff(&w, &actual), 0);
        actual.value[UNIT_PROP_CPU_WEIGHT] = UNIT_PROP_INFINITY;
        assert_int_equal(unit_want_diff(&w, &actual), 0);
        actual.value[UNIT_PROP_CPU_WEIGHT] = UNIT_CPU_WEIGHT_IDLE;
        assert_int_equal(unit_want_diff(&w, &actual), UNIT_PROP_BIT(UNIT_PROP_CPU_WEIGHT));
        assert_true(unit_want_value(&w, UNIT_PROP_CPU_WEIGHT) == UNIT_PROP_INFINITY);
}

static void test_prop_names(void **state) {
        (void) state;
        assert_string_equal(unit_prop_name(UNIT_PROP_CPU_WEIGHT), "CPUWeight");
        assert_string_equal(unit_prop_name(UNIT_PROP_TASKS_MAX), "TasksMax");
        assert_null(unit_prop_name(_UNIT_PROP_MAX));
        for (int p = 0; p < _UNIT_PROP_MAX; p++)
                assert_non_null(unit_prop_name(p));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_slice_name_is_the_last_slice_component),
                cmocka_unit_test(test_offline_parent_knobs_become_idle_quota_and_limits),
                cmocka_unit_test(test_cpu_weight_and_quota_edges),
                cmocka_unit_test(test_diff_names_what_systemd_lost),
                cmocka_unit_test(test_not_idle_accepts_any_weight_but_idle),
                cmocka_unit_test(test_prop_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
