/* cgroup v1 backend: maps colo's knobs (v2 units) onto the per-controller hierarchies and reads
 * usage from them. Weights become cpu.shares and blkio.weight, "unlimited" is -1, memory.high,
 * memory.low and memory.min have no v1 equivalent and are ignored, pids.max is the file v2 has (in
 * the pids hierarchy, "max" for unlimited there too), and the soft limit exists only
 * here. CPU time comes from cpuacct, which may be comounted with cpu. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cgroup/cgroup-internal.h"

static const char *v1_file_name(CgFile f) {
        static const char *const names[_CG_FILE_MAX] = {
                [CG_FILE_CPU_USAGE] = "cpuacct.usage",
                [CG_FILE_CPU_STAT] = "cpu.stat",
                [CG_FILE_MEM_USAGE] = "memory.usage_in_bytes",
                [CG_FILE_MEM_STAT] = "memory.stat",
                [CG_FILE_MEM_LIMIT] = "memory.limit_in_bytes",
                [CG_FILE_MEM_OOM] = "memory.oom_control",
                [CG_FILE_CPU_PRESSURE] = "cpu.pressure",
                [CG_FILE_MEM_PRESSURE] = "memory.pressure",
                [CG_FILE_IO_PRESSURE] = "io.pressure",
                [CG_FILE_PROCS] = "cgroup.procs",
        };
        return names[f];
}

static CgSlot v1_file_slot(const CgRoot *root, CgFile f) {
        switch (f) {
        case CG_FILE_CPU_USAGE:
                return CG_SLOT_CPUACCT;
        case CG_FILE_CPU_STAT:
        case CG_FILE_PROCS:
                return CG_SLOT_CPU;
        case CG_FILE_MEM_USAGE:
        case CG_FILE_MEM_STAT:
        case CG_FILE_MEM_LIMIT:
        case CG_FILE_MEM_OOM:
                return CG_SLOT_MEMORY;
        case CG_FILE_CPU_PRESSURE:
        case CG_FILE_MEM_PRESSURE:
        case CG_FILE_IO_PRESSURE:
                /* Hybrid: the cgroup2 mirror has per-group PSI. Otherwise only kernels with
                 * cgroup1 PSI (psi_v1) show pressure files, in the cpuacct hierarchy. */
                return root->h[CG_SLOT_UNIFIED].present ? CG_SLOT_UNIFIED : CG_SLOT_CPUACCT;
        default:
                return CG_SLOT_CPU;
        }
}

static void fmt_v1_value(char *buf, size_t size, uint64_t v) {
        if (v == CG_UNLIMITED)
                snprintf(buf, size, "-1");
        else
                snprintf(buf, size, "%" PRIu64, v);
}

/* Quota, period and burst. The kernel checks quota against period (and against the parent's
 * ratio on v1) and burst against quota at every write, so the intermediate state must be valid:
 * a longer period goes before the quota, a shorter one after; a smaller burst before the quota,
 * a larger one after. */
static void v1_apply_bandwidth(CgGroup *g, CgApplyCtx *c, const CgKnobs *w, CgKnobs *l) {
        char v[32];
        bool burst = cg_u64_differs(w->cpu_burst_usec, l->cpu_burst_usec);
        bool burst_first = burst && l->cpu_burst_usec != CG_UNSET && w->cpu_burst_usec < l->cpu_burst_usec;
        bool period = cg_u64_differs(w->cpu_period_usec, l->cpu_period_usec);
        bool period_first = !(l->cpu_period_usec != CG_UNSET && w->cpu_period_usec < l->cpu_period_usec);

        if (burst && burst_first) {
                snprintf(v, sizeof(v), "%" PRIu64, w->cpu_burst_usec);
                cg_knob_u64(g, c, CG_SLOT_CPU, "cpu.cfs_burst_us", CG_OPT_CPU_BURST, w->cpu_burst_usec,
                            &l->cpu_burst_usec, v);
        }
        if (period && period_first) {
                snprintf(v, sizeof(v), "%" PRIu64, w->cpu_period_usec);
                cg_knob_u64(g, c, CG_SLOT_CPU, "cpu.cfs_period_us", -1, w->cpu_period_usec, &l->cpu_period_usec, v);
        }
        if (cg_u64_differs(w->cpu_quota_usec, l->cpu_quota_usec)) {
                fmt_v1_value(v, sizeof(v), w->cpu_quota_usec);
                cg_knob_u64(g, c, CG_SLOT_CPU, "cpu.cfs_quota_us", -1, w->cpu_quota_usec, &l->cpu_quota_usec, v);
        }
        if (period && !period_first) {
                snprintf(v, sizeof(v), "%" PRIu64, w->cpu_period_usec);
                cg_knob_u64(g, c, CG_SLOT_CPU, "cpu.cfs_period_us", -1, w->cpu_period_usec, &l->cpu_period_usec, v);
        }
        if (burst && !burst_first) {
                snprintf(v, sizeof(v), "%" PRIu64, w->cpu_burst_usec);
                cg_knob_u64(g, c, CG_SLOT_CPU, "cpu.cfs_burst_us", CG_OPT_CPU_BURST, w->cpu_burst_usec,
                            &l->cpu_burst_usec, v);
        }
}

static void v1_apply_io(CgGroup *g, CgApplyCtx *c, const CgKnobs *w, CgKnobs *l) {
        char v[64];
        if (cg_u64_differs(w->io_weight, l->io_weight)) {
                snprintf(v, sizeof(v), "%" PRIu64, cg_io_weight_to_blkio_weight(w->io_weight));
                /* CFQ's blkio.weight, else BFQ's blkio.bfq.weight; neither under other schedulers. */
                int r = cg_apply_write(g, c, CG_SLOT_BLKIO, "blkio.weight", CG_OPT_IO_WEIGHT, v);
                if (r == 1)
                        r = cg_apply_write(g, c, CG_SLOT_BLKIO, "blkio.bfq.weight", CG_OPT_IO_BFQ_WEIGHT, v);
                if (r == 0)
                        l->io_weight = w->io_weight;
                else if (r < 0)
                        l->io_weight = CG_UNSET;
        }
        static const char *const files[4] = {
                "blkio.throttle.read_bps_device",
                "blkio.throttle.write_bps_device",
                "blkio.throttle.read_iops_device",
                "blkio.throttle.write_iops_device",
        };
        for (size_t i = 0; i < w->n_io_limits; i++) {
                const CgIoLimit *wl = &w->io_limits[i];
                CgIoLimit *ll = cg_last_io_limit(l, wl, i);
                const uint64_t want[4] = { wl->rbps, wl->wbps, wl->riops, wl->wiops };
                uint64_t *last[4] = { &ll->rbps, &ll->wbps, &ll->riops, &ll->wiops };
                for (size_t k = 0; k < 4; k++) {
                        if (!cg_u64_differs(want[k], *last[k]))
                                continue;
                        /* v1 removes a throttle rule by writing 0. */
                        snprintf(v, sizeof(v), "%s %" PRIu64, wl->device, want[k] == CG_UNLIMITED ? 0 : want[k]);
                        cg_knob_u64(g, c, CG_SLOT_BLKIO, files[k], -1, want[k], last[k], v);
                }
        }
}

static int v1_apply(CgGroup *g, const CgKnobs *w, CgKnobs *l, void *ctx) {
        CgApplyCtx *c = ctx;
        char v[32];
        cg_knob_cpuset(g, c, w, l);
        if (cg_slot_present(g->root, CG_SLOT_CPU)) {
                cg_knob_cpu_weight_idle(g, c, w, l, "cpu.shares",
                                        w->cpu_weight != CG_UNSET ? cg_weight_to_shares(w->cpu_weight) : 0);
                v1_apply_bandwidth(g, c, w, l);
        }
        if (cg_slot_present(g->root, CG_SLOT_MEMORY)) {
                if (cg_u64_differs(w->mem_max, l->mem_max)) {
                        fmt_v1_value(v, sizeof(v), w->mem_max);
                        cg_knob_u64(g, c, CG_SLOT_MEMORY, "memory.limit_in_bytes", -1, w->mem_max, &l->mem_max, v);
                }
                if (cg_u64_differs(w->mem_soft_limit, l->mem_soft_limit)) {
                        fmt_v1_value(v, sizeof(v), w->mem_soft_limit);
                        cg_knob_u64(g, c, CG_SLOT_MEMORY, "memory.soft_limit_in_bytes", -1, w->mem_soft_limit,
                                    &l->mem_soft_limit, v);
                }
        }
        cg_knob_qos(g, c, w, l);
        if (cg_slot_present(g->root, CG_SLOT_BLKIO))
                v1_apply_io(g, c, w, l);
        if (cg_slot_present(g->root, CG_SLOT_PIDS))
                cg_knob_pids_max(g, c, CG_SLOT_PIDS, w, l);
        return 0;
}

/* Cost: one pread() per file asked for, on fds kept open (cpuacct.usage, cpu.stat;
 * memory.usage_in_bytes, memory.limit_in_bytes, memory.oom_control; memory.stat; 3 pressure files
 * where present). memory.stat is the expensive one in the kernel. */
static int v1_read_usage(CgGroup *g, unsigned fields, CgUsage *u, ColoError *err) {
        int r;
        if (fields & CG_USAGE_CPU_TIME) {
                uint64_t ns = 0;
                r = cg_read_number(g, CG_FILE_CPU_USAGE, false, &ns, err);
                if (r < 0)
                        return r;
                u->cpu_usage_usec = ns / NSEC_PER_USEC;
        }
        if (fields & CG_USAGE_CPU_THROTTLING) {
                uint64_t throttled_ns = 0;
                r = cg_read_keys(g, CG_FILE_CPU_STAT, (const char *[]) { "nr_periods", "nr_throttled", "throttled_time" },
                                 (uint64_t *[]) { &u->cpu_nr_periods, &u->cpu_nr_throttled, &throttled_ns }, 3, err);
                if (r < 0)
                        return r;
                u->cpu_throttled_usec = throttled_ns / NSEC_PER_USEC;
        }
        r = cg_read_memory_usage_and_limits(g, fields, u, err);
        if (r < 0)
                return r;
        if (fields & CG_USAGE_WORKING_SET) {
                /* total_ includes descendants, as usage_in_bytes does with use_hierarchy=1. */
                uint64_t inactive = 0, inactive_local = 0;
                r = cg_read_keys(g, CG_FILE_MEM_STAT, (const char *[]) { "total_inactive_file", "inactive_file" },
                                 (uint64_t *[]) { &inactive, &inactive_local }, 2, err);
                if (r < 0)
                        return r;
                if (inactive == 0)
                        inactive = inactive_local;
                u->mem_working_set = u->mem_usage > inactive ? u->mem_usage - inactive : 0;
        }
        return cg_read_pressures(g, fields, u, err);
}

const CgBackend cg_backend_v1 = {
        .apply = v1_apply,
        .read_usage = v1_read_usage,
        .file_name = v1_file_name,
        .file_slot = v1_file_slot,
};
