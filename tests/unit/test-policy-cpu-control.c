/* The CPU interference controller (issue 12, must-have 3) as a pure function: each table is a
 * sequence of samples (time, online CPU and IO pressure over the interval, offline CPU use) run
 * through policy_decide() with one carried PolicyState, and each row says what the controller
 * must do in that period: step the offline cap down under pressure, hold inside the hysteresis
 * band, step up after a calm hold, stay at the floor, evict only after N periods at the floor,
 * and nothing at all when switched off. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "policy/policy.h"
#include "util/macro.h"

#define GiB (1ULL << 30)
#define MS USEC_PER_MSEC
#define NONE -1.0               /* the input is absent from the sample */
#define NOCAP 0.0               /* the controller does not cap */

static const WorkloadSample workloads[] = {
        { .name = "web", .cls = CLASS_ONLINE, .tier = TIER_NORMAL, .nr_tasks = 2, .cpu_usage_cores = 1.0 },
        { .name = "etl", .cls = CLASS_OFFLINE, .tier = TIER_BATCH, .nr_tasks = 1, .cpu_usage_cores = 0.5 },
        { .name = "crawl", .cls = CLASS_OFFLINE, .tier = TIER_BEST_EFFORT, .nr_tasks = 1, .cpu_usage_cores = 0.2 },
        { .name = "idle", .cls = CLASS_OFFLINE, .tier = TIER_BEST_EFFORT, .nr_tasks = 1 },
};

typedef struct Row {
        uint64_t at_ms;
        double cpu_pct, io_pct;         /* stall share of the interval since the previous row; NONE */
        double throttled_pct;           /* share of the interval's CFS periods throttled; NONE */
        double offline_cores;           /* offline CPU use in the sample */
        CpuControlPhase want_phase;
        double want_cap;                /* NOCAP: not capping */
        const char *want_evict;         /* NULL: no eviction */
} Row;

typedef struct Run {
        PolicyConfig cfg;
        PolicyState st;
        bool no_cpu_idle;               /* a kernel without cpu.idle: offline at the floor competes */
        uint64_t cpu_total, io_total, periods, throttled, prev_ms;
} Run;

static void run_init(Run *r) {
        *r = (Run) {};
        policy_config_init_defaults(&r->cfg);
        r->cfg.cpu_control = FEATURE_ON;        /* the default, auto, ignores CPU pressure under cpu.idle */
        r->cfg.cpu_evict_periods = 3;
        r->cfg.evict_cooldown_usec = 0;
}

static CgPressure pressure(double pct, uint64_t *total, uint64_t dt_usec) {
        if (pct < 0)
                return (CgPressure) {};
        *total += (uint64_t) llround(pct / 100.0 * (double) dt_usec);
        return (CgPressure) { .valid = true, .some_avg10 = pct, .some_total_usec = *total };
}

/* A 2-core node with an offline budget of 1.8 cores (nothing online predicted, 0.2 held back). */
static NodeSample sample(Run *r, const Row *row) {
        uint64_t dt = (row->at_ms - r->prev_ms) * MS;
        r->prev_ms = row->at_ms;
        NodeSample s = {
                .now_usec = 1000000 * MS + row->at_ms * MS,
                .cpu_capacity_cores = 2.0,
                .mem_capacity = 8 * GiB,
                .mem_available = 4 * GiB,
                .offline_cpu_usage = row->offline_cores,
                .cpu_idle_available = !r->no_cpu_idle,
                .online_mem_pressure = { .valid = true },
                .online_cpu_pressure = pressure(row->cpu_pct, &r->cpu_total, dt),
                .online_io_pressure = pressure(row->io_pct, &r->io_total, dt),
                .workloads = workloads,
                .n_workloads = ELEMENTSOF(workloads),
        };
        if (row->throttled_pct >= 0) {
                uint64_t n = dt / (100 * MS);
                r->periods += n;
                r->throttled += (uint64_t) llround(row->throttled_pct / 100.0 * (double) n);
                s.online_cpu_nr_periods = r->periods;
                s.online_cpu_nr_throttled = r->throttled;
        }
        return s;
}

static const CgKnobs *offline_knobs(const Plan *p) {
        for (size_t i = 0; i < p->n_groups; i++)
                if (strcmp(p->groups[i].path, "offline") == 0)
                        return &p->groups[i].knobs;
        fail_msg("no offline group in the plan");
        return NULL;
}

static void run_rows(Run *r, const char *table, const Row *rows, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const Row *row = &rows[i];
                NodeSample s = sample(r, row);
                OnlineEstimate est = {};
                Plan *p = NULL;
                assert_int_equal(policy_decide(&s, &est, &r->cfg, &r->st, &p), 0);
                const CpuControlState *cc = &r->st.cpu_control;
                const CgKnobs *k = offline_knobs(p);
                char where[128];
                snprintf(where, sizeof(where), "%s, row %zu (t=%llu ms)", table, i, (unsigned long long) row->at_ms);

                if (cc->phase != row->want_phase)
                        fail_msg("%s: phase %s, want %s", where, cpu_control_phase_to_string(cc->phase),
                                 cpu_control_phase_to_string(row->want_phase));
                if (row->want_cap == NOCAP) {
                        if (cc->limiting || p->cpu_control_limits)
                                fail_msg("%s: caps at %.3f, want no cap", where, cc->limit_cores);
                        /* cpu.idle in force, quota auto: no quota unless the controller caps;
                         * without cpu.idle the budget's quota. */
                        assert_int_equal(k->cpu_quota_usec, r->no_cpu_idle ? 180000 : CG_UNLIMITED);
                        assert_float_equal(p->offline_cpu_budget_cores, 1.8, 1e-9);
                } else {
                        if (!cc->limiting || fabs(cc->limit_cores - row->want_cap) > 1e-9)
                                fail_msg("%s: cap %.4f (limiting %d), want %.4f", where, cc->limit_cores, cc->limiting,
                                         row->want_cap);
                        double budget = MAX(MIN(1.8, row->want_cap), r->cfg.min_offline_cpu_cores);
                        assert_float_equal(p->offline_cpu_budget_cores, budget, 1e-9);
                        assert_int_equal(k->cpu_quota_usec, (uint64_t) llround(budget * 100000.0));
                        assert_int_equal(k->cpu_period_usec, 100000);
                }
                if (!row->want_evict && p->n_evictions > 0)
                        fail_msg("%s: evicts %s, want none", where, p->evictions[0].name);
                if (row->want_evict && (p->n_evictions != 1 || strcmp(p->evictions[0].name, row->want_evict) != 0))
                        fail_msg("%s: %zu evictions, want %s", where, p->n_evictions, row->want_evict);
                plan_free(p);
        }
}

#define RUN(r, rows) run_rows(r, #rows, rows, ELEMENTSOF(rows))

static void test_steps_down_under_pressure_to_the_floor(void **state) {
        (void) state;
        static const Row rows[] = {
                { 0, 0.0, NONE, NONE, 1.8, CPU_CONTROL_CALM, NOCAP, NULL },
                /* The first cut starts from what offline uses (1.8 cores), halved. */
                { 1000, 10.0, NONE, NONE, 1.8, CPU_CONTROL_SQUEEZE, 0.9, NULL },
                { 2000, 5.0, NONE, NONE, 0.9, CPU_CONTROL_SQUEEZE, 0.45, NULL },
                /* Offline uses less than its cap: the cut starts from the use. */
                { 3000, 2.0, NONE, NONE, 0.3, CPU_CONTROL_SQUEEZE, 0.15, NULL },
                { 4000, 2.0, NONE, NONE, 0.15, CPU_CONTROL_SQUEEZE, 0.1, NULL },
                { 5000, 2.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                { 6000, 1.5, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
        };
        Run r;
        run_init(&r);
        r.cfg.cpu_evict_periods = 0;
        RUN(&r, rows);
        assert_int_equal(r.st.cpu_control.steps_down, 4);
        assert_int_equal(r.st.cpu_control.steps_up, 0);
}

static void test_hysteresis_band_holds(void **state) {
        (void) state;
        static const Row rows[] = {
                { 0, 0.0, NONE, NONE, 1.0, CPU_CONTROL_CALM, NOCAP, NULL },
                /* At the target is not above it. */
                { 1000, 1.0, NONE, NONE, 1.0, CPU_CONTROL_CALM, NOCAP, NULL },
                { 2000, 4.0, NONE, NONE, 1.0, CPU_CONTROL_SQUEEZE, 0.5, NULL },
                /* Between release (0.5%) and target (1%): neither direction, for as long as it lasts. */
                { 3000, 0.9, NONE, NONE, 0.5, CPU_CONTROL_HOLD, 0.5, NULL },
                { 6000, 0.6, NONE, NONE, 0.5, CPU_CONTROL_HOLD, 0.5, NULL },
                { 20000, 0.5, NONE, NONE, 0.5, CPU_CONTROL_HOLD, 0.5, NULL },
                /* A burst of ticks closer than 10 ms measures nothing new. */
                { 20005, 100.0, NONE, NONE, 0.5, CPU_CONTROL_HOLD, 0.5, NULL },
        };
        Run r;
        run_init(&r);
        RUN(&r, rows);
}

static void test_steps_up_when_calm_after_the_hold(void **state) {
        (void) state;
        static const Row rows[] = {
                { 0, 0.0, NONE, NONE, 1.8, CPU_CONTROL_CALM, NOCAP, NULL },
                { 1000, 20.0, NONE, NONE, 1.8, CPU_CONTROL_SQUEEZE, 0.9, NULL },
                { 2000, 30.0, NONE, NONE, 0.9, CPU_CONTROL_SQUEEZE, 0.45, NULL },
                /* Calm, but the hold (2 s) since the last step and the last pressure has not passed. */
                { 3000, 0.0, NONE, NONE, 0.45, CPU_CONTROL_HOLD, 0.45, NULL },
                { 3900, 0.2, NONE, NONE, 0.45, CPU_CONTROL_HOLD, 0.45, NULL },
                /* Each step gives back a fifth of the capacity, one per hold. */
                { 4000, 0.0, NONE, NONE, 0.45, CPU_CONTROL_RELEASE, 0.85, NULL },
                { 5000, 0.0, NONE, NONE, 0.85, CPU_CONTROL_HOLD, 0.85, NULL },
                { 6000, 0.0, NONE, NONE, 0.85, CPU_CONTROL_RELEASE, 1.25, NULL },
                { 8000, 0.0, NONE, NONE, 1.25, CPU_CONTROL_RELEASE, 1.65, NULL },
                /* Above release again: the hold restarts from here. */
                { 9000, 0.7, NONE, NONE, 1.65, CPU_CONTROL_HOLD, 1.65, NULL },
                { 10000, 0.0, NONE, NONE, 1.65, CPU_CONTROL_HOLD, 1.65, NULL },
                /* At the capacity the cap is lifted. */
                { 11000, 0.0, NONE, NONE, 1.65, CPU_CONTROL_RELEASE, NOCAP, NULL },
                { 12000, 0.0, NONE, NONE, 1.8, CPU_CONTROL_CALM, NOCAP, NULL },
        };
        Run r;
        run_init(&r);
        RUN(&r, rows);
        assert_int_equal(r.st.cpu_control.steps_down, 2);
        assert_int_equal(r.st.cpu_control.steps_up, 4);
}

static void test_evicts_only_after_n_periods_at_the_floor(void **state) {
        (void) state;
        static const Row rows[] = {
                { 0, 0.0, NONE, NONE, 0.7, CPU_CONTROL_CALM, NOCAP, NULL },
                { 1000, 50.0, NONE, NONE, 0.7, CPU_CONTROL_SQUEEZE, 0.35, NULL },
                { 2000, 20.0, NONE, NONE, 0.35, CPU_CONTROL_SQUEEZE, 0.175, NULL },
                { 3000, 5.0, NONE, NONE, 0.175, CPU_CONTROL_SQUEEZE, 0.1, NULL },
                /* At the floor offline still takes 0.1 of 2 cores (5%): enough to explain online
                 * pressure of 3% over a 1% target, so evicting can help. */
                { 4000, 3.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                { 5000, 3.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                /* Pressure falls into the band: squeezing helped, the count starts over. */
                { 6000, 0.8, NONE, NONE, 0.1, CPU_CONTROL_HOLD, 0.1, NULL },
                { 7000, 3.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                { 8000, 3.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                /* The third period in a row: the lowest tier's workload that uses CPU goes, not
                 * the idle one (its eviction would free nothing). */
                { 9000, 3.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, "crawl" },
                { 10000, 3.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
        };
        Run r;
        run_init(&r);
        r.no_cpu_idle = true;   /* with cpu.idle the floor's pressure is online's own: learned, not evicted for */
        RUN(&r, rows);
        assert_int_equal(r.st.cpu_control.evictions, 1);
        assert_int_equal(r.st.n_evictions, 1);

        /* 50% online pressure with offline at 5% of the node: online waits for its own threads
         * or other tenants, and no eviction could bring it to target. Without learning online's
         * own pressure the floor holds for as long as it lasts; nobody is evicted. */
        static const Row own_demand[] = {
                { 0, 50.0, NONE, NONE, 0.1, CPU_CONTROL_SQUEEZE, 0.1, NULL },
                { 1000, 50.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                { 2000, 50.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                { 3000, 50.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                { 4000, 50.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                { 5000, 50.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
        };
        run_init(&r);
        r.cfg.cpu_pressure_own_hold_usec = 0;
        RUN(&r, own_demand);
        assert_int_equal(r.st.cpu_control.floor_periods, 5);
        /* IO pressure at the floor can be offline IO, which goes on at any CPU cap: it evicts. */
        static const Row io_at_floor[] = {
                { 0, 0.0, 50.0, NONE, 0.1, CPU_CONTROL_SQUEEZE, 0.1, NULL },
                { 1000, 0.0, 50.0, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                { 2000, 0.0, 50.0, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                { 3000, 0.0, 50.0, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, "crawl" },
        };
        run_init(&r);
        RUN(&r, io_at_floor);

        /* With eviction switched off the controller stays at the floor and evicts nothing. */
        run_init(&r);
        r.no_cpu_idle = true;
        r.cfg.eviction = false;
        static const Row no_eviction[] = {
                { 0, 3.0, NONE, NONE, 0.1, CPU_CONTROL_SQUEEZE, 0.1, NULL },
                { 1000, 3.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                { 2000, 3.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                { 3000, 3.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                { 4000, 3.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
        };
        RUN(&r, no_eviction);
}

/* Pressure that offline at the floor cannot explain is learned as online's own (after a whole
 * interval at the floor), and the cap goes back up; only pressure above online's own plus the
 * target squeezes again; after cpu_pressure_own_hold (5 min) the floor measures it again.
 * Nobody is evicted for it. */
static void test_learns_online_own_pressure_and_gives_cpu_back(void **state) {
        (void) state;
        static const Row rows[] = {
                { 0, 50.0, NONE, NONE, 0.1, CPU_CONTROL_SQUEEZE, 0.1, NULL },
                { 1000, 50.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                /* A whole interval at the floor, 45 points above what offline's 5% could explain:
                 * learned. Nothing is evicted (cpu_evict_periods 3 never comes). */
                { 2000, 50.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                /* Now 50% is below online's own + target and release: calm, the hold, then steps up. */
                { 3000, 50.0, NONE, NONE, 0.1, CPU_CONTROL_HOLD, 0.1, NULL },
                { 4000, 50.0, NONE, NONE, 0.1, CPU_CONTROL_RELEASE, 0.5, NULL },
                { 6000, 50.0, NONE, NONE, 0.5, CPU_CONTROL_RELEASE, 0.9, NULL },
                { 8000, 50.0, NONE, NONE, 0.9, CPU_CONTROL_RELEASE, 1.3, NULL },
                { 10000, 50.0, NONE, NONE, 1.3, CPU_CONTROL_RELEASE, 1.7, NULL },
                { 12000, 50.0, NONE, NONE, 1.7, CPU_CONTROL_RELEASE, NOCAP, NULL },
                { 13000, 50.5, NONE, NONE, 1.8, CPU_CONTROL_CALM, NOCAP, NULL },
                /* Above online's own plus the 1% target: offline's doing, squeezed from its use. */
                { 14000, 53.0, NONE, NONE, 1.8, CPU_CONTROL_SQUEEZE, 0.9, NULL },
                { 15000, 50.0, NONE, NONE, 0.9, CPU_CONTROL_HOLD, 0.9, NULL },
                /* Just before the hold (5 min from t=2 s) ends, online's own 50% still counts: 30% is
                 * calm. After it, 30% is over the bare 1% target and squeezes to the floor. */
                { 301000, 30.0, NONE, NONE, 0.9, CPU_CONTROL_RELEASE, 1.3, NULL },
                { 302000, 30.0, NONE, NONE, 1.3, CPU_CONTROL_SQUEEZE, 0.65, NULL },
                { 303000, 30.0, NONE, NONE, 0.65, CPU_CONTROL_SQUEEZE, 0.325, NULL },
                { 304000, 30.0, NONE, NONE, 0.325, CPU_CONTROL_SQUEEZE, 0.1625, NULL },
                { 305000, 30.0, NONE, NONE, 0.1625, CPU_CONTROL_SQUEEZE, 0.1, NULL },
                { 306000, 30.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                /* Measured anew at the floor: online's own is 30% now. */
                { 307000, 30.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                { 308000, 30.0, NONE, NONE, 0.1, CPU_CONTROL_HOLD, 0.1, NULL },
        };
        Run r;
        run_init(&r);
        RUN(&r, rows);
        assert_int_equal(r.st.cpu_control.evictions, 0);
        assert_float_equal(r.st.cpu_control.own_cpu_pressure, 30.0, 1e-9);
        assert_float_equal(r.st.cpu_control.cpu_target, 1.0 + 30.0, 1e-9);

        /* Without cpu.idle, pressure that offline at the floor could explain (3% with offline at 5%
         * of the node, competing at its weight) is not learned: the floor holds and the eviction
         * comes, as without learning. */
        static const Row explained[] = {
                { 0, 3.0, NONE, NONE, 0.1, CPU_CONTROL_SQUEEZE, 0.1, NULL },
                { 1000, 3.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                { 2000, 3.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                { 3000, 3.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, "crawl" },
        };
        run_init(&r);
        r.no_cpu_idle = true;
        RUN(&r, explained);
        assert_float_equal(r.st.cpu_control.own_cpu_pressure, 0.0, 1e-12);
}

/* A squeeze from 1.8 cores to the floor that lowers online pressure only from 5% to 4% did not
 * help: that 4% is online's own, although offline's 5% of the node at the floor could explain it
 * by the eviction test. Without cpu.idle, one that lowers it to 2% did help: the floor holds and,
 * still above target, one workload is evicted; with cpu.idle what is left at the floor is
 * learned as well. */
static void test_learns_what_squeezing_did_not_lower(void **state) {
        (void) state;
        static const Row no_help[] = {
                { 0, 5.0, NONE, NONE, 1.8, CPU_CONTROL_SQUEEZE, 0.9, NULL },
                { 1000, 4.5, NONE, NONE, 0.9, CPU_CONTROL_SQUEEZE, 0.45, NULL },
                { 2000, 4.2, NONE, NONE, 0.45, CPU_CONTROL_SQUEEZE, 0.225, NULL },
                { 3000, 4.0, NONE, NONE, 0.225, CPU_CONTROL_SQUEEZE, 0.1125, NULL },
                { 4000, 4.0, NONE, NONE, 0.1125, CPU_CONTROL_SQUEEZE, 0.1, NULL },
                { 5000, 4.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                { 6000, 4.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                { 7000, 4.0, NONE, NONE, 0.1, CPU_CONTROL_HOLD, 0.1, NULL },
                { 8000, 4.0, NONE, NONE, 0.1, CPU_CONTROL_RELEASE, 0.5, NULL },
        };
        Run r;
        run_init(&r);
        RUN(&r, no_help);
        assert_float_equal(r.st.cpu_control.own_cpu_pressure, 4.0, 1e-9);
        assert_int_equal(r.st.cpu_control.evictions, 0);

        static const Row helped[] = {
                { 0, 5.0, NONE, NONE, 1.8, CPU_CONTROL_SQUEEZE, 0.9, NULL },
                { 1000, 4.0, NONE, NONE, 0.9, CPU_CONTROL_SQUEEZE, 0.45, NULL },
                { 2000, 3.0, NONE, NONE, 0.45, CPU_CONTROL_SQUEEZE, 0.225, NULL },
                { 3000, 2.0, NONE, NONE, 0.225, CPU_CONTROL_SQUEEZE, 0.1125, NULL },
                { 4000, 2.0, NONE, NONE, 0.1125, CPU_CONTROL_SQUEEZE, 0.1, NULL },
                { 5000, 2.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                { 6000, 2.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                { 7000, 2.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, "crawl" },
        };
        run_init(&r);
        r.no_cpu_idle = true;
        RUN(&r, helped);
        assert_float_equal(r.st.cpu_control.own_cpu_pressure, 0.0, 1e-12);

        static const Row helped_idle[] = {
                { 0, 5.0, NONE, NONE, 1.8, CPU_CONTROL_SQUEEZE, 0.9, NULL },
                { 1000, 4.0, NONE, NONE, 0.9, CPU_CONTROL_SQUEEZE, 0.45, NULL },
                { 2000, 3.0, NONE, NONE, 0.45, CPU_CONTROL_SQUEEZE, 0.225, NULL },
                { 3000, 2.0, NONE, NONE, 0.225, CPU_CONTROL_SQUEEZE, 0.1125, NULL },
                { 4000, 2.0, NONE, NONE, 0.1125, CPU_CONTROL_SQUEEZE, 0.1, NULL },
                { 5000, 2.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                { 6000, 2.0, NONE, NONE, 0.1, CPU_CONTROL_FLOOR, 0.1, NULL },
                { 7000, 2.0, NONE, NONE, 0.1, CPU_CONTROL_HOLD, 0.1, NULL },
        };
        run_init(&r);
        RUN(&r, helped_idle);
        assert_float_equal(r.st.cpu_control.own_cpu_pressure, 2.0, 1e-9);
        assert_int_equal(r.st.cpu_control.evictions, 0);
}

/* features.cpu_control auto (the default): under cpu.idle CPU pressure and throttling are no
 * input, IO pressure is; without cpu.idle CPU pressure squeezes as with on. */
static void test_auto_takes_cpu_pressure_only_without_cpu_idle(void **state) {
        (void) state;
        static const Row idle[] = {
                { 0, 0.0, 0.0, NONE, 1.8, CPU_CONTROL_CALM, NOCAP, NULL },
                { 1000, 50.0, 0.0, 50.0, 1.8, CPU_CONTROL_CALM, NOCAP, NULL },
                { 2000, 50.0, 30.0, 50.0, 1.8, CPU_CONTROL_SQUEEZE, 0.9, NULL },
        };
        Run r;
        run_init(&r);
        r.cfg.cpu_control = FEATURE_AUTO;
        r.cfg.cpu_throttle_target = 5.0;
        RUN(&r, idle);
        assert_true(r.st.cpu_control.cpu_pressure < 0.0 && r.st.cpu_control.throttled < 0.0);

        static const Row no_idle[] = {
                { 0, 0.0, NONE, NONE, 1.8, CPU_CONTROL_CALM, NOCAP, NULL },
                { 1000, 50.0, NONE, NONE, 1.8, CPU_CONTROL_SQUEEZE, 0.9, NULL },
        };
        run_init(&r);
        r.cfg.cpu_control = FEATURE_AUTO;
        r.no_cpu_idle = true;
        RUN(&r, no_idle);

        /* Without any input at all under cpu.idle: no input, no cap. */
        static const Row nothing[] = {
                { 0, 50.0, NONE, NONE, 1.8, CPU_CONTROL_NO_INPUT, NOCAP, NULL },
        };
        run_init(&r);
        r.cfg.cpu_control = FEATURE_AUTO;
        RUN(&r, nothing);
}

static void test_io_and_throttling_inputs(void **state) {
        (void) state;
        static const Row io[] = {
                { 0, 0.0, 0.0, NONE, 1.0, CPU_CONTROL_CALM, NOCAP, NULL },
                /* IO pressure above its target (10%) squeezes though CPU pressure is nil. */
                { 1000, 0.0, 25.0, NONE, 1.0, CPU_CONTROL_SQUEEZE, 0.5, NULL },
                /* IO in its band (5..10%) holds the cap. */
                { 4000, 0.0, 7.0, NONE, 0.5, CPU_CONTROL_HOLD, 0.5, NULL },
                { 6500, 0.0, 1.0, NONE, 0.5, CPU_CONTROL_RELEASE, 0.9, NULL },
        };
        Run r;
        run_init(&r);
        RUN(&r, io);

        /* io_pressure_target 0 switches the IO input off. */
        static const Row io_off[] = {
                { 0, 0.0, 0.0, NONE, 1.0, CPU_CONTROL_CALM, NOCAP, NULL },
                { 1000, 0.0, 90.0, NONE, 1.0, CPU_CONTROL_CALM, NOCAP, NULL },
        };
        run_init(&r);
        r.cfg.io_pressure_target = 0.0;
        r.cfg.io_pressure_release = 0.0;
        RUN(&r, io_off);

        /* Throttling counts once its target is set: 30% of the periods over a 20% target. */
        static const Row throttled[] = {
                { 0, 0.0, NONE, 0.0, 1.0, CPU_CONTROL_CALM, NOCAP, NULL },
                { 1000, 0.0, NONE, 30.0, 1.0, CPU_CONTROL_SQUEEZE, 0.5, NULL },
                { 2000, 0.0, NONE, 10.0, 0.5, CPU_CONTROL_HOLD, 0.5, NULL },
        };
        run_init(&r);
        r.cfg.cpu_throttle_target = 20.0;
        RUN(&r, throttled);
        /* By default (0) it does not. */
        static const Row throttled_off[] = {
                { 0, 0.0, NONE, 0.0, 1.0, CPU_CONTROL_CALM, NOCAP, NULL },
                { 1000, 0.0, NONE, 90.0, 1.0, CPU_CONTROL_CALM, NOCAP, NULL },
        };
        run_init(&r);
        RUN(&r, throttled_off);
}

static void test_disabled_switch_and_no_input(void **state) {
        (void) state;
        static const Row off[] = {
                { 0, 50.0, 50.0, NONE, 1.8, CPU_CONTROL_OFF, NOCAP, NULL },
                { 1000, 80.0, 50.0, NONE, 1.8, CPU_CONTROL_OFF, NOCAP, NULL },
                { 2000, 80.0, 50.0, NONE, 1.8, CPU_CONTROL_OFF, NOCAP, NULL },
                { 3000, 80.0, 50.0, NONE, 1.8, CPU_CONTROL_OFF, NOCAP, NULL },
                { 4000, 80.0, 50.0, NONE, 1.8, CPU_CONTROL_OFF, NOCAP, NULL },
        };
        Run r;
        run_init(&r);
        r.cfg.cpu_control = FEATURE_OFF;
        RUN(&r, off);
        assert_int_equal(r.st.n_evictions, 0);

        /* features.cpu_quota off leaves the controller nothing to act with. */
        run_init(&r);
        r.cfg.cpu_quota = FEATURE_OFF;
        RUN(&r, off);

        /* No per-group PSI (pure v1, Kubernetes mode): nothing to control on, and a cap in force
         * when the input goes away is lifted. */
        static const Row no_input[] = {
                { 0, 0.0, NONE, NONE, 1.8, CPU_CONTROL_CALM, NOCAP, NULL },
                { 1000, 30.0, NONE, NONE, 1.8, CPU_CONTROL_SQUEEZE, 0.9, NULL },
                { 2000, NONE, NONE, NONE, 0.9, CPU_CONTROL_NO_INPUT, NOCAP, NULL },
        };
        run_init(&r);
        RUN(&r, no_input);
}

static void test_config_ranges(void **state) {
        (void) state;
        PolicyConfig c;
        const char *field = NULL;
        policy_config_init_defaults(&c);
        assert_int_equal(policy_config_check(&c, &field), 0);
        c.cpu_pressure_release = 2.0;   /* above the target */
        assert_int_equal(policy_config_check(&c, &field), -EINVAL);
        assert_string_equal(field, "cpu_pressure_release");
        policy_config_init_defaults(&c);
        c.cpu_control_step_down = 1.0;  /* would cut to nothing at once */
        assert_int_equal(policy_config_check(&c, &field), -EINVAL);
        assert_string_equal(field, "cpu_control_step_down");
        policy_config_init_defaults(&c);
        c.io_pressure_target = 101.0;
        assert_int_equal(policy_config_check(&c, &field), -EINVAL);
        assert_string_equal(field, "io_pressure_target");
        policy_config_init_defaults(&c);
        c.cpu_control_floor_cores = NAN;
        assert_int_equal(policy_config_check(&c, &field), -EINVAL);
        assert_string_equal(field, "cpu_control_floor_cores");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_steps_down_under_pressure_to_the_floor),
                cmocka_unit_test(test_hysteresis_band_holds),
                cmocka_unit_test(test_steps_up_when_calm_after_the_hold),
                cmocka_unit_test(test_evicts_only_after_n_periods_at_the_floor),
                cmocka_unit_test(test_learns_online_own_pressure_and_gives_cpu_back),
                cmocka_unit_test(test_learns_what_squeezing_did_not_lower),
                cmocka_unit_test(test_auto_takes_cpu_pressure_only_without_cpu_idle),
                cmocka_unit_test(test_io_and_throttling_inputs),
                cmocka_unit_test(test_disabled_switch_and_no_input),
                cmocka_unit_test(test_config_ranges),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
