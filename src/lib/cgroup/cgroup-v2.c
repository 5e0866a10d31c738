/* cgroup v2 backend: colo's knobs are v2's, so the mapping is nearly one to one. cpu.max and
 * io.max pack several knobs into one line, written whole when any part changes; the v1-only soft
 * limit is ignored. Knobs of controllers the managed root does not offer are skipped. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cgroup/cgroup-internal.h"
#include "util/fileio.h"

static const char *v2_file_name(CgFile f) {
        static const char *const names[_CG_FILE_MAX] = {
                [CG_FILE_CPU_USAGE] = "cpu.stat",
                [CG_FILE_CPU_STAT] = "cpu.stat",
                [CG_FILE_MEM_USAGE] = "memory.current",
                [CG_FILE_MEM_STAT] = "memory.stat",
                [CG_FILE_MEM_LIMIT] = "memory.max",
                [CG_FILE_MEM_OOM] = "memory.events",
                [CG_FILE_CPU_PRESSURE] = "cpu.pressure",
                [CG_FILE_MEM_PRESSURE] = "memory.pressure",
                [CG_FILE_IO_PRESSURE] = "io.pressure",
                [CG_FILE_PROCS] = "cgroup.procs",
        };
        return names[f];
}

static CgSlot v2_file_slot(const CgRoot *root, CgFile f) {
        (void) root, (void) f;
        return CG_SLOT_CPU;     /* the one unified directory */
}

static bool has(const CgGroup *g, CgController c) {
        return g->root->v2_controllers & (1u << c);
}

static void fmt_max(char *buf, size_t size, uint64_t v) {
        if (v == CG_UNLIMITED)
                snprintf(buf, size, "max");
        else
                snprintf(buf, size, "%" PRIu64, v);
}

static void v2_write_burst(CgGroup *g, CgApplyCtx *c, const CgKnobs *w, CgKnobs *l) {
        char v[32];
        snprintf(v, sizeof(v), "%" PRIu64, w->cpu_burst_usec);
        cg_knob_u64(g, c, CG_SLOT_CPU, "cpu.max.burst", CG_OPT_CPU_BURST, w->cpu_burst_usec, &l->cpu_burst_usec, v);
}

/* cpu.max is "quota period"; a burst larger than the quota is refused, so a smaller burst goes
 * first and a larger one after. When only the period is wanted, the current quota is kept. */
static void v2_apply_bandwidth(CgGroup *g, CgApplyCtx *c, const CgKnobs *w, CgKnobs *l) {
        bool burst = cg_u64_differs(w->cpu_burst_usec, l->cpu_burst_usec);
        bool burst_first = burst && l->cpu_burst_usec != CG_UNSET && w->cpu_burst_usec < l->cpu_burst_usec;
        if (burst && burst_first)
                v2_write_burst(g, c, w, l);

        bool quota = cg_u64_differs(w->cpu_quota_usec, l->cpu_quota_usec);
        bool period = cg_u64_differs(w->cpu_period_usec, l->cpu_period_usec);
        if (quota || period) {
                char q[32], v[64];
                if (w->cpu_quota_usec != CG_UNSET)
                        fmt_max(q, sizeof(q), w->cpu_quota_usec);
                else {
                        char cur[64];
                        int r = read_small_file_at(cg_slot_fd(g, CG_SLOT_CPU), "cpu.max", cur, sizeof(cur), NULL);
                        snprintf(q, sizeof(q), "%.*s", r > 0 ? (int) strcspn(cur, " \n") : 3, r > 0 ? cur : "max");
                }
                if (w->cpu_period_usec != CG_UNSET)
                        snprintf(v, sizeof(v), "%s %" PRIu64, q, w->cpu_period_usec);
                else
                        snprintf(v, sizeof(v), "%s", q);
                int r = cg_apply_write(g, c, CG_SLOT_CPU, "cpu.max", -1, v);
                if (r == 0) {
                        if (w->cpu_quota_usec != CG_UNSET)
                                l->cpu_quota_usec = w->cpu_quota_usec;
                        if (w->cpu_period_usec != CG_UNSET)
                                l->cpu_period_usec = w->cpu_period_usec;
                } else if (r < 0)
                        l->cpu_quota_usec = l->cpu_period_usec = CG_UNSET;
        }
        if (burst && !burst_first)
                v2_write_burst(g, c, w, l);
}

static void v2_apply_memory(CgGroup *g, CgApplyCtx *c, const CgKnobs *w, CgKnobs *l) {
        /* Limits before protections. */
        const struct {
                const char *file;
                uint64_t want;
                uint64_t *last;
        } knobs[] = {
                { "memory.max", w->mem_max, &l->mem_max },
                { "memory.high", w->mem_high, &l->mem_high },
                { "memory.low", w->mem_low, &l->mem_low },
                { "memory.min", w->mem_min, &l->mem_min },
        };
        for (size_t i = 0; i < ELEMENTSOF(knobs); i++) {
                if (!cg_u64_differs(knobs[i].want, *knobs[i].last))
                        continue;
                char v[32];
                fmt_max(v, sizeof(v), knobs[i].want);
                cg_knob_u64(g, c, CG_SLOT_CPU, knobs[i].file, -1, knobs[i].want, knobs[i].last, v);
        }
}

/* io.weight is iocost's (in force only where the root's io.cost.qos enables it for a device),
 * io.bfq.weight BFQ's: both are written where present, as systemd does, so the weight holds
 * under either. colo remembers the weight as applied when either file took it. */
static void v2_apply_io_weight(CgGroup *g, CgApplyCtx *c, const CgKnobs *w, CgKnobs *l) {
        char v[64];
        if (!cg_u64_differs(w->io_weight, l->io_weight))
                return;
        snprintf(v, sizeof(v), "default %" PRIu64, w->io_weight);
        int r = cg_apply_write(g, c, CG_SLOT_CPU, "io.weight", CG_OPT_IO_WEIGHT, v);
        snprintf(v, sizeof(v), "default %" PRIu64, CLAMP(w->io_weight, (uint64_t) 1, (uint64_t) 1000));
        int rb = cg_apply_write(g, c, CG_SLOT_CPU, "io.bfq.weight", CG_OPT_IO_BFQ_WEIGHT, v);
        if (r < 0 || rb < 0)
                l->io_weight = CG_UNSET;
        else if (r == 0 || rb == 0)
                l->io_weight = w->io_weight;
}

static bool latency_wanted(uint64_t v) {
        return v != 0 && v != CG_UNSET;
}

/* io.latency: "MAJ:MIN target=<usec>", or target=max to remove the protection. */
static void v2_apply_io_latency(CgGroup *g, CgApplyCtx *c, const CgIoLimit *wl, CgIoLimit *ll) {
        if (!latency_wanted(wl->latency_usec) || wl->latency_usec == ll->latency_usec)
                return;
        char v[96];
        if (wl->latency_usec == CG_UNLIMITED)
                snprintf(v, sizeof(v), "%s target=max", wl->device);
        else
                snprintf(v, sizeof(v), "%s target=%" PRIu64, wl->device, wl->latency_usec);
        cg_knob_u64(g, c, CG_SLOT_CPU, "io.latency", CG_OPT_IO_LATENCY, wl->latency_usec, &ll->latency_usec, v);
}

static void v2_apply_io(CgGroup *g, CgApplyCtx *c, const CgKnobs *w, CgKnobs *l) {
        char v[160];
        v2_apply_io_weight(g, c, w, l);
        for (size_t i = 0; i < w->n_io_limits; i++) {
                const CgIoLimit *wl = &w->io_limits[i];
                CgIoLimit *ll = cg_last_io_limit(l, wl, i);
                v2_apply_io_latency(g, c, wl, ll);
                if (!cg_u64_differs(wl->rbps, ll->rbps) && !cg_u64_differs(wl->wbps, ll->wbps) &&
                    !cg_u64_differs(wl->riops, ll->riops) && !cg_u64_differs(wl->wiops, ll->wiops))
                        continue;
                static const char *const keys[4] = { "rbps", "wbps", "riops", "wiops" };
                const uint64_t want[4] = { wl->rbps, wl->wbps, wl->riops, wl->wiops };
                size_t n = (size_t) snprintf(v, sizeof(v), "%s", wl->device);
                for (size_t k = 0; k < 4; k++) {
                        if (want[k] == CG_UNSET)
                                continue;
                        char num[32];
                        fmt_max(num, sizeof(num), want[k]);
                        n += (size_t) snprintf(v + n, sizeof(v) - n, " %s=%s", keys[k], num);
                }
                int r = cg_apply_write(g, c, CG_SLOT_CPU, "io.max", -1, v);
                uint64_t *last[4] = { &ll->rbps, &ll->wbps, &ll->riops, &ll->wiops };
                for (size_t k = 0; k < 4; k++)
                        if (r < 0)
                                *last[k] = CG_UNSET;
                        else if (want[k] != CG_UNSET)
                                *last[k] = want[k];
        }
}

static int v2_apply(CgGroup *g, const CgKnobs *w, CgKnobs *l, void *ctx) {
        CgApplyCtx *c = ctx;
        if (has(g, CG_CTRL_CPUSET))
                cg_knob_cpuset(g, c, w, l);
        if (has(g, CG_CTRL_CPU)) {
                cg_knob_cpu_weight_idle(g, c, w, l, "cpu.weight", w->cpu_weight);
                v2_apply_bandwidth(g, c, w, l);
        }
        if (has(g, CG_CTRL_MEMORY))
                v2_apply_memory(g, c, w, l);
        cg_knob_qos(g, c, w, l);
        if (has(g, CG_CTRL_IO))
                v2_apply_io(g, c, w, l);
        if (has(g, CG_CTRL_PIDS))
                cg_knob_pids_max(g, c, CG_SLOT_CPU, w, l);
        return 0;
}

/* Cost: one pread() per file asked for, on fds kept open (cpu.stat; memory.current,
 * memory.max, memory.events; memory.stat; 3 pressure files). */
static int v2_read_usage(CgGroup *g, unsigned fields, CgUsage *u, ColoError *err) {
        int r;
        if (fields & CG_USAGE_CPU) {       /* one file for time and throttling */
                r = cg_read_keys(g, CG_FILE_CPU_STAT,
                                 (const char *[]) { "usage_usec", "nr_periods", "nr_throttled", "throttled_usec" },
                                 (uint64_t *[]) { &u->cpu_usage_usec, &u->cpu_nr_periods, &u->cpu_nr_throttled,
                                                  &u->cpu_throttled_usec },
                                 4, err);
                if (r < 0)
                        return r;
        }
        r = cg_read_memory_usage_and_limits(g, fields, u, err);
        if (r < 0)
                return r;
        if (fields & CG_USAGE_WORKING_SET) {
                uint64_t inactive = 0;
                r = cg_read_keys(g, CG_FILE_MEM_STAT, (const char *[]) { "inactive_file" }, (uint64_t *[]) { &inactive },
                                 1, err);
                if (r < 0)
                        return r;
                u->mem_working_set = u->mem_usage > inactive ? u->mem_usage - inactive : 0;
        }
        return cg_read_pressures(g, fields, u, err);
}

const CgBackend cg_backend_v2 = {
        .apply = v2_apply,
        .read_usage = v2_read_usage,
        .file_name = v2_file_name,
        .file_slot = v2_file_slot,
};
