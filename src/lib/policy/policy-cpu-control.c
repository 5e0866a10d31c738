/* The CPU interference controller: online work that waits for CPU (or IO) gets offline CPU taken
 * away step by step, and given back when the waiting stops.
 *
 * Inputs, each a percentage of wall time over the interval since the previous sample: the online
 * parent's CPU pressure (PSI `some`), its IO pressure, and the share of its CFS periods that were
 * throttled (where it has a quota). The interval figure comes from the cumulative `total` stall
 * counters, not from avg10: the kernel updates the averages only every 2 s, and avg10 keeps a
 * finished stall above 1% for half a minute, so a controller on avg10 would react late and give
 * back later still. Keeping the interval figure at or below the target keeps avg10, its 10 s
 * average, there too. avg10 stands in only where there is no base yet (the first sample).
 *
 * The cap moves like a congestion window: above a target it is cut by cpu_control_step_down of
 * itself (the first cut starts from what offline uses now, so it bites at once), never below the
 * floor; between release and target it holds (the hysteresis band); once every input has stayed
 * below its release level for cpu_control_hold since the last step, it grows by
 * cpu_control_step_up of the capacity per hold, and at the capacity it is lifted. At the floor
 * with pressure still above target for cpu_evict_periods decisions in a row, squeezing has not
 * helped, and one offline workload that uses CPU is evicted (lowest tier, most CPU first), under
 * the same switch and cooldown as memory evictions, but only where an eviction can help: for CPU
 * pressure, when the share of the node offline work still uses could account for the pressure
 * above target (online work wanting more CPUs than the node has, or other tenants of the machine,
 * wait just the same without offline work); IO pressure always can (offline IO goes on at the
 * CPU floor); throttling never (online work hits its own quota).
 *
 * CPU pressure left at the floor for a whole interval can be online's own: its threads waiting
 * for each other, other tenants, the wake-up latency of a virtual CPU. Holding offline work at
 * the floor for it takes the idle CPU away and gives online nothing, so it is learned and added
 * to the CPU target and release level for cpu_pressure_own_hold (then the floor measures it
 * anew): the cap goes back up and comes down only for pressure above online's own. It counts as
 * online's own under cpu.idle always (a SCHED_IDLE group capped at the floor is preempted at
 * every online wake-up; CPU-pressure eviction is left to nodes without cpu.idle), and elsewhere
 * when the squeeze lowered it by less than half of its excess over the target while offline had
 * used at least twice the floor, or when offline's use at the floor cannot explain it (the
 * eviction test above). Measured (docs/benchmarks.md, section 7): learning did not make the CPU
 * input pay under cpu.idle, which is why features.cpu_control auto leaves it out there. */
#include <stdio.h>
#include <string.h>

#include "policy/policy-internal.h"
#include "util/macro.h"

/* Ticks closer together than this (a burst of fast-reaction events) measure too little time to
 * say anything: the previous measurement and base stand. */
#define CPU_CONTROL_MIN_INTERVAL_USEC (10 * USEC_PER_MSEC)
/* Base of an input that had no valid counter: the next one measures from avg10 instead. */
#define NO_BASE UINT64_MAX
#define CORES_EPSILON 1e-9

static const char *const phase_names[_CPU_CONTROL_PHASE_MAX] = {
        [CPU_CONTROL_OFF] = "off",
        [CPU_CONTROL_NO_INPUT] = "no_input",
        [CPU_CONTROL_CALM] = "calm",
        [CPU_CONTROL_SQUEEZE] = "squeeze",
        [CPU_CONTROL_HOLD] = "hold",
        [CPU_CONTROL_RELEASE] = "release",
        [CPU_CONTROL_FLOOR] = "floor",
};

const char *cpu_control_phase_to_string(CpuControlPhase p) {
        return p >= 0 && p < _CPU_CONTROL_PHASE_MAX ? phase_names[p] : NULL;
}

static uint64_t elapsed(uint64_t now, uint64_t since) {
        return now > since ? now - since : 0;
}

/* Stall share (percent) since base, or avg10 without a base; -1 without the input. */
static double stall_percent(const CgPressure *p, uint64_t base, uint64_t dt) {
        if (!p->valid)
                return -1.0;
        if (base == NO_BASE || dt == 0 || p->some_total_usec < base)
                return p->some_avg10;
        return MIN(100.0, 100.0 * (double) (p->some_total_usec - base) / (double) dt);
}

static uint64_t base_of(const CgPressure *p) {
        return p->valid ? p->some_total_usec : NO_BASE;
}

/* Updates the three inputs from the sample (see the top of the file). */
static void measure(const PolicyInputs *in, CpuControlState *st) {
        const NodeSample *s = in->s;
        const PolicyConfig *cfg = in->cfg;
        uint64_t dt = elapsed(s->now_usec, st->base_usec);

        if (st->have_base && dt < CPU_CONTROL_MIN_INTERVAL_USEC)
                return;
        if (!st->have_base)
                st->cpu_stall_base_usec = st->io_stall_base_usec = NO_BASE;

        st->cpu_pressure = stall_percent(&s->online_cpu_pressure, st->cpu_stall_base_usec, dt);
        st->io_pressure = cfg->io_pressure_target > 0.0 ?
                                  stall_percent(&s->online_io_pressure, st->io_stall_base_usec, dt) : -1.0;
        st->throttled = -1.0;
        if (cfg->cpu_throttle_target > 0.0 && st->have_base && s->online_cpu_nr_periods > st->nr_periods_base &&
            s->online_cpu_nr_throttled >= st->nr_throttled_base)
                st->throttled = MIN(100.0, 100.0 * (double) (s->online_cpu_nr_throttled - st->nr_throttled_base) /
                                                   (double) (s->online_cpu_nr_periods - st->nr_periods_base));

        st->have_base = true;
        st->base_usec = s->now_usec;
        st->cpu_stall_base_usec = base_of(&s->online_cpu_pressure);
        st->io_stall_base_usec = base_of(&s->online_io_pressure);
        st->nr_periods_base = s->online_cpu_nr_periods;
        st->nr_throttled_base = s->online_cpu_nr_throttled;
}

/* The learned own pressure while it counts; 0 when none was learned, it expired, or learning is off. */
static double own_pressure_now(const PolicyConfig *cfg, const CpuControlState *st, uint64_t now) {
        if (cfg->cpu_pressure_own_hold_usec == 0 || !(st->own_cpu_pressure > 0.0) ||
            elapsed(now, st->own_cpu_pressure_usec) >= cfg->cpu_pressure_own_hold_usec)
                return 0.0;
        return st->own_cpu_pressure;
}

/* Whether offline work, using what it uses now, could account for the CPU pressure above the
 * target: if not, the pressure is not offline's doing. */
static bool offline_explains_cpu_pressure(const PolicyInputs *in, const CpuControlState *st) {
        double offline_share = 100.0 * in->s->offline_cpu_usage / in->s->cpu_capacity_cores;
        return st->cpu_pressure - offline_share <= st->cpu_target;
}

/* Whether the squeeze that brought offline work to the floor left the CPU pressure where it was
 * (see the top of the file). */
static bool squeeze_did_not_help(const CpuControlState *st, double floor) {
        return st->squeeze_start_offline_cores >= 2.0 * floor &&
               st->squeeze_start_cpu_pressure - st->cpu_pressure < 0.5 * (st->squeeze_start_cpu_pressure - st->cpu_target);
}

/* At the floor for a whole interval with CPU pressure over target that squeezing did not lower
 * (and no other input over): that pressure is online's own from now on. */
static void learn_own_pressure(const PolicyInputs *in, CpuControlState *st, double floor) {
        const PolicyConfig *cfg = in->cfg;
        if (cfg->cpu_pressure_own_hold_usec == 0 || st->phase != CPU_CONTROL_FLOOR || st->floor_periods < 2 ||
            !(st->cpu_pressure > st->cpu_target) || st->io_pressure > cfg->io_pressure_target ||
            (st->throttled >= 0.0 && st->throttled > cfg->cpu_throttle_target))
                return;
        if (!policy_cpu_idle_in_force(cfg, in->s->cpu_idle_available) && !squeeze_did_not_help(st, floor) &&
            offline_explains_cpu_pressure(in, st))
                return;
        st->own_cpu_pressure = st->cpu_pressure;
        st->own_cpu_pressure_usec = in->s->now_usec;
}

/* Whether any input is above its target (over) or at/above its release level (busy). */
static bool any_at_or_above(const CpuControlState *st, double cpu, double io, double throttle, bool strict) {
        const double v[] = { st->cpu_pressure, st->io_pressure, st->throttled }, lim[] = { cpu, io, throttle };
        for (size_t i = 0; i < ELEMENTSOF(v); i++)
                if (v[i] >= 0.0 && (strict ? v[i] > lim[i] : v[i] >= lim[i]))
                        return true;
        return false;
}

static void step_down(const PolicyInputs *in, CpuControlState *st, double floor) {
        const NodeSample *s = in->s;

        if (st->limiting && st->limit_cores <= floor + CORES_EPSILON) {
                st->limit_cores = floor;
                st->floor_periods++;
                st->phase = CPU_CONTROL_FLOOR;
                return;
        }
        if (!st->limiting) {            /* a squeeze begins: what it starts from, to judge it by */
                st->squeeze_start_cpu_pressure = MAX(st->cpu_pressure, 0.0);
                st->squeeze_start_offline_cores = s->offline_cpu_usage;
        }
        double from = st->limiting ? st->limit_cores : s->cpu_capacity_cores;
        from = MIN(from, MAX(s->offline_cpu_usage, floor));
        st->limit_cores = MAX(floor, from * (1.0 - in->cfg->cpu_control_step_down));
        st->limiting = true;
        st->last_step_usec = s->now_usec;
        st->steps_down++;
        st->floor_periods = 0;
        st->phase = CPU_CONTROL_SQUEEZE;
}

static void step_up(const PolicyInputs *in, CpuControlState *st) {
        const NodeSample *s = in->s;

        st->limit_cores += in->cfg->cpu_control_step_up * s->cpu_capacity_cores;
        st->last_step_usec = s->now_usec;
        st->steps_up++;
        st->floor_periods = 0;
        st->phase = CPU_CONTROL_RELEASE;
        if (st->limit_cores >= s->cpu_capacity_cores - CORES_EPSILON) {
                st->limiting = false;
                st->limit_cores = 0.0;
        }
}

static void describe(const CpuControlState *st, const char *what, char *buf, size_t size) {
        int n = snprintf(buf, size, "offline CPU capped at %.2f cores by the CPU interference controller (%s): "
                                    "online CPU pressure %.1f%%", st->limit_cores, what, MAX(st->cpu_pressure, 0.0));
        if (n >= 0 && (size_t) n < size && st->io_pressure >= 0.0)
                n += snprintf(buf + n, size - (size_t) n, ", IO pressure %.1f%%", st->io_pressure);
        if (n >= 0 && (size_t) n < size && st->throttled >= 0.0)
                (void) snprintf(buf + n, size - (size_t) n, ", %.1f%% of periods throttled", st->throttled);
}

void policy_cpu_control(const PolicyInputs *in, CpuControlState *st, CpuControlDecision *ret) {
        const PolicyConfig *cfg = in->cfg;
        const NodeSample *s = in->s;

        *ret = (CpuControlDecision) {};
        if (cfg->cpu_control == FEATURE_OFF || cfg->cpu_quota == FEATURE_OFF) {
                *st = (CpuControlState) { .phase = CPU_CONTROL_OFF, .cpu_pressure = -1.0, .io_pressure = -1.0,
                                          .throttled = -1.0, .steps_down = st->steps_down, .steps_up = st->steps_up,
                                          .evictions = st->evictions };
                return;
        }

        measure(in, st);
        if (!policy_cpu_control_takes_cpu_input(cfg, s->cpu_idle_available))
                st->cpu_pressure = st->throttled = -1.0;        /* IO pressure only: see FeatureMode */
        if (st->cpu_pressure < 0.0 && st->io_pressure < 0.0 && st->throttled < 0.0) {
                st->limiting = false;
                st->limit_cores = 0.0;
                st->floor_periods = 0;
                st->phase = CPU_CONTROL_NO_INPUT;
                return;
        }

        double floor = MIN(cfg->cpu_control_floor_cores, s->cpu_capacity_cores);
        double own = own_pressure_now(cfg, st, s->now_usec);
        st->cpu_target = cfg->cpu_pressure_target + own;
        bool over = any_at_or_above(st, st->cpu_target, cfg->io_pressure_target, cfg->cpu_throttle_target, true);
        bool busy = any_at_or_above(st, cfg->cpu_pressure_release + own, cfg->io_pressure_release,
                                    cfg->cpu_throttle_target / 2.0, false);
        if (busy)
                st->last_busy_usec = s->now_usec;

        if (over) {
                step_down(in, st, floor);
                learn_own_pressure(in, st, floor);
        } else if (!busy && st->limiting &&
                 elapsed(s->now_usec, MAX(st->last_step_usec, st->last_busy_usec)) >= cfg->cpu_control_hold_usec)
                step_up(in, st);
        else {
                st->floor_periods = 0;
                st->phase = st->limiting ? CPU_CONTROL_HOLD : CPU_CONTROL_CALM;
        }

        ret->limits = st->limiting;
        ret->limit_cores = st->limit_cores;
        if (st->limiting)
                describe(st, cpu_control_phase_to_string(st->phase), ret->reason, sizeof(ret->reason));
}

/* The offline workload whose eviction frees most CPU: lowest tier first, then the most CPU, then
 * the smallest name. Only workloads that use CPU: evicting an idle one would not help. */
static ssize_t pick_cpu_victim(const WorkloadSample *workloads, size_t n) {
        ssize_t best = -1;

        for (size_t i = 0; i < n; i++) {
                const WorkloadSample *w = &workloads[i];
                if (w->cls != CLASS_OFFLINE || w->being_evicted || w->nr_tasks == 0 || !(w->cpu_usage_cores > 0.0))
                        continue;
                const WorkloadSample *b = best >= 0 ? &workloads[best] : NULL;
                if (!b || w->tier > b->tier ||
                    (w->tier == b->tier && (w->cpu_usage_cores > b->cpu_usage_cores ||
                                            (w->cpu_usage_cores == b->cpu_usage_cores && strcmp(w->name, b->name) < 0))))
                        best = (ssize_t) i;
        }
        return best;
}

/* Which input an eviction could bring under its target (see the top of the file), or NULL. */
static const char *eviction_helps(const PolicyInputs *in, const CpuControlState *cc) {
        if (cc->io_pressure > in->cfg->io_pressure_target)
                return "IO";
        if (cc->cpu_pressure > cc->cpu_target && offline_explains_cpu_pressure(in, cc))
                return "CPU";
        return NULL;
}

bool policy_cpu_control_evict(const PolicyInputs *in, PolicyState *st, size_t *ret_index, char *reason, size_t size) {
        const PolicyConfig *cfg = in->cfg;
        const NodeSample *s = in->s;
        CpuControlState *cc = &st->cpu_control;

        if (!cfg->eviction || cfg->cpu_evict_periods == 0 || cc->phase != CPU_CONTROL_FLOOR ||
            cc->floor_periods < cfg->cpu_evict_periods)
                return false;
        const char *input = eviction_helps(in, cc);
        if (!input)
                return false;
        if (st->n_evictions > 0 && elapsed(s->now_usec, st->last_eviction_usec) < cfg->evict_cooldown_usec)
                return false;
        ssize_t victim = pick_cpu_victim(s->workloads, s->n_workloads);
        if (victim < 0)
                return false;

        const WorkloadSample *w = &s->workloads[victim];
        snprintf(reason, size,
                 "online %s pressure above target (CPU %.1f%%, IO %.1f%%) for %llu decisions with offline CPU at "
                 "the floor %.2f cores; %s workload using most CPU (%.2f cores)",
                 input, MAX(cc->cpu_pressure, 0.0), MAX(cc->io_pressure, 0.0), (unsigned long long) cc->floor_periods,
                 cc->limit_cores, workload_tier_to_string(w->tier), w->cpu_usage_cores);
        *ret_index = (size_t) victim;
        st->last_eviction_usec = s->now_usec;
        st->n_evictions++;
        cc->evictions++;
        cc->floor_periods = 0;         /* let the eviction show its effect before counting again */
        return true;
}
