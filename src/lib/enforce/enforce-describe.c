/* Dry run: what the cgroup layer would write for a knob diff, named per cgroup version. It
 * mirrors the backends' choice of files and formats (v2 packs quota and period in cpu.max, v1
 * writes -1 for unlimited and shares for weights, each version ignores the other's memory knobs)
 * but never touches a file, so `--dry-run` can show a plan on a production node. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "enforce/enforce-internal.h"
#include "util/macro.h"

typedef struct Describer {
        CgMode mode;
        EnforceHasFile has_file;
        EnforceChangeFn fn;
        void *userdata;
} Describer;

static bool differs(uint64_t want, uint64_t last) {
        return want != CG_UNSET && want != last;
}

static bool differs_i32(int32_t want, int32_t last) {
        return want != CG_UNSET_INT && want != last;
}

static void fmt_limit(const Describer *d, char *buf, size_t size, uint64_t v) {
        if (v == CG_UNLIMITED)
                snprintf(buf, size, "%s", d->mode == CG_MODE_V2 ? "max" : "-1");
        else
                snprintf(buf, size, "%" PRIu64, v);
}

static bool has(const Describer *d, CgController c, const char *file) {
        return !d->has_file || d->has_file(d->userdata, c, file);
}

/* Emits one change; an optional file the group lacks is skipped. Returns whether emitted. */
static bool emit(const Describer *d, CgController c, const char *file, bool optional, const char *fmt, ...)
        _printf_(5, 6);
static bool emit(const Describer *d, CgController c, const char *file, bool optional, const char *fmt, ...) {
        if (optional && !has(d, c, file))
                return false;
        EnforceChange ch = { .controller = c, .file = file, .optional = optional };
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ch.value, sizeof(ch.value), fmt, ap);
        va_end(ap);
        d->fn(d->userdata, &ch);
        return true;
}

static void describe_cpu(const Describer *d, const CgKnobs *w, const CgKnobs *l) {
        bool v2 = d->mode == CG_MODE_V2;
        char q[32];

        if (differs_i32(w->cpu_idle, l->cpu_idle))
                emit(d, CG_CTRL_CPU, "cpu.idle", true, "%d", (int) w->cpu_idle);
        /* An idle group refuses weights; the layer leaves the weight alone while idle. */
        bool idle = w->cpu_idle == 1 && has(d, CG_CTRL_CPU, "cpu.idle");
        if (differs(w->cpu_weight, l->cpu_weight) && !idle) {
                if (v2)
                        emit(d, CG_CTRL_CPU, "cpu.weight", false, "%" PRIu64, w->cpu_weight);
                else
                        emit(d, CG_CTRL_CPU, "cpu.shares", false, "%" PRIu64, cg_weight_to_shares(w->cpu_weight));
        }

        bool quota = differs(w->cpu_quota_usec, l->cpu_quota_usec);
        bool period = differs(w->cpu_period_usec, l->cpu_period_usec);
        if (v2 && (quota || period)) {
                uint64_t qv = w->cpu_quota_usec != CG_UNSET ? w->cpu_quota_usec : l->cpu_quota_usec;
                fmt_limit(d, q, sizeof(q), qv == CG_UNSET ? CG_UNLIMITED : qv);
                if (w->cpu_period_usec != CG_UNSET)
                        emit(d, CG_CTRL_CPU, "cpu.max", false, "%s %" PRIu64, q, w->cpu_period_usec);
                else
                        emit(d, CG_CTRL_CPU, "cpu.max", false, "%s", q);
        } else if (!v2) {
                if (period)
                        emit(d, CG_CTRL_CPU, "cpu.cfs_period_us", false, "%" PRIu64, w->cpu_period_usec);
                if (quota) {
                        fmt_limit(d, q, sizeof(q), w->cpu_quota_usec);
                        emit(d, CG_CTRL_CPU, "cpu.cfs_quota_us", false, "%s", q);
                }
        }
        if (differs(w->cpu_burst_usec, l->cpu_burst_usec))
                emit(d, CG_CTRL_CPU, v2 ? "cpu.max.burst" : "cpu.cfs_burst_us", true, "%" PRIu64, w->cpu_burst_usec);
        if (differs_i32(w->cpu_qos_level, l->cpu_qos_level))
                emit(d, CG_CTRL_CPU, "cpu.qos_level", true, "%d", (int) w->cpu_qos_level);
}

static void describe_cpuset(const Describer *d, const CgKnobs *w, const CgKnobs *l) {
        if (w->cpuset_cpus[0] && strcmp(w->cpuset_cpus, l->cpuset_cpus) != 0)
                emit(d, CG_CTRL_CPUSET, "cpuset.cpus", false, "%s", w->cpuset_cpus);
        if (w->cpuset_mems[0] && strcmp(w->cpuset_mems, l->cpuset_mems) != 0)
                emit(d, CG_CTRL_CPUSET, "cpuset.mems", false, "%s", w->cpuset_mems);
}

static void describe_memory(const Describer *d, const CgKnobs *w, const CgKnobs *l) {
        const struct {
                const char *v2, *v1;    /* NULL: the version has no such knob */
                uint64_t want, last;
        } knobs[] = {
                { "memory.max", "memory.limit_in_bytes", w->mem_max, l->mem_max },
                { "memory.high", NULL, w->mem_high, l->mem_high },
                { "memory.low", NULL, w->mem_low, l->mem_low },
                { "memory.min", NULL, w->mem_min, l->mem_min },
                { NULL, "memory.soft_limit_in_bytes", w->mem_soft_limit, l->mem_soft_limit },
        };
        for (size_t i = 0; i < ELEMENTSOF(knobs); i++) {
                const char *file = d->mode == CG_MODE_V2 ? knobs[i].v2 : knobs[i].v1;
                if (!file || !differs(knobs[i].want, knobs[i].last))
                        continue;
                char v[32];
                fmt_limit(d, v, sizeof(v), knobs[i].want);
                emit(d, CG_CTRL_MEMORY, file, false, "%s", v);
        }
        if (differs_i32(w->mem_qos_level, l->mem_qos_level))
                emit(d, CG_CTRL_MEMORY, "memory.qos_level", true, "%d", (int) w->mem_qos_level);
}

static void describe_pids(const Describer *d, const CgKnobs *w, const CgKnobs *l) {
        if (!differs(w->pids_max, l->pids_max))
                return;
        char v[32];
        if (w->pids_max == CG_UNLIMITED)
                snprintf(v, sizeof(v), "max");
        else
                snprintf(v, sizeof(v), "%" PRIu64, w->pids_max);
        emit(d, CG_CTRL_PIDS, "pids.max", true, "%s", v);
}

static void describe_io(const Describer *d, const CgKnobs *w, const CgKnobs *l) {
        bool v2 = d->mode == CG_MODE_V2;
        if (differs(w->io_weight, l->io_weight)) {
                if (v2 && !emit(d, CG_CTRL_IO, "io.weight", true, "default %" PRIu64, w->io_weight))
                        emit(d, CG_CTRL_IO, "io.bfq.weight", true, "default %" PRIu64, MIN(w->io_weight, (uint64_t) 1000));
                else if (!v2 && !emit(d, CG_CTRL_IO, "blkio.weight", true, "%" PRIu64,
                                      cg_io_weight_to_blkio_weight(w->io_weight)))
                        emit(d, CG_CTRL_IO, "blkio.bfq.weight", true, "%" PRIu64, cg_io_weight_to_blkio_weight(w->io_weight));
        }
        static const char *const keys[4] = { "rbps", "wbps", "riops", "wiops" };
        static const char *const v1_files[4] = {
                "blkio.throttle.read_bps_device",
                "blkio.throttle.write_bps_device",
                "blkio.throttle.read_iops_device",
                "blkio.throttle.write_iops_device",
        };
        for (size_t i = 0; i < w->n_io_limits && i < CG_IO_LIMITS_MAX; i++) {
                const CgIoLimit *wl = &w->io_limits[i];
                const CgIoLimit *ll = i < l->n_io_limits && strcmp(l->io_limits[i].device, wl->device) == 0 ?
                                              &l->io_limits[i] :
                                              &(const CgIoLimit) { .rbps = CG_UNSET, .wbps = CG_UNSET,
                                                                   .riops = CG_UNSET, .wiops = CG_UNSET };
                const uint64_t want[4] = { wl->rbps, wl->wbps, wl->riops, wl->wiops };
                const uint64_t last[4] = { ll->rbps, ll->wbps, ll->riops, ll->wiops };
                char v[160];
                size_t n = (size_t) snprintf(v, sizeof(v), "%s", wl->device);
                bool any = false;
                for (size_t k = 0; k < 4; k++) {
                        if (!differs(want[k], last[k]))
                                continue;
                        any = true;
                        if (!v2)
                                emit(d, CG_CTRL_IO, v1_files[k], false, "%s %" PRIu64, wl->device,
                                     want[k] == CG_UNLIMITED ? 0 : want[k]);
                }
                if (!v2 || !any)
                        continue;
                for (size_t k = 0; k < 4; k++) {
                        if (want[k] == CG_UNSET)
                                continue;
                        char num[32];
                        fmt_limit(d, num, sizeof(num), want[k]);
                        n += (size_t) snprintf(v + MIN(n, sizeof(v)), sizeof(v) - MIN(n, sizeof(v)), " %s=%s", keys[k], num);
                }
                emit(d, CG_CTRL_IO, "io.max", false, "%s", v);
        }
}

void enforce_describe_changes(CgMode mode, const CgKnobs *want, const CgKnobs *last, EnforceHasFile has_file,
                              EnforceChangeFn fn, void *userdata) {
        Describer d = { .mode = mode, .has_file = has_file, .fn = fn, .userdata = userdata };

        describe_cpuset(&d, want, last);
        describe_cpu(&d, want, last);
        describe_memory(&d, want, last);
        describe_io(&d, want, last);
        describe_pids(&d, want, last);
        if (differs_i32(want->oom_score_adj, last->oom_score_adj))
                emit(&d, CG_CTRL_CPU, "oom_score_adj of each task", false, "%d", (int) want->oom_score_adj);
}

static void record_u64(uint64_t want, uint64_t *last) {
        if (want != CG_UNSET)
                *last = want;
}

static void record_i32(int32_t want, int32_t *last) {
        if (want != CG_UNSET_INT)
                *last = want;
}

void enforce_knobs_record(const CgKnobs *w, CgKnobs *l) {
        record_u64(w->cpu_weight, &l->cpu_weight);
        record_i32(w->cpu_idle, &l->cpu_idle);
        record_u64(w->cpu_quota_usec, &l->cpu_quota_usec);
        record_u64(w->cpu_period_usec, &l->cpu_period_usec);
        record_u64(w->cpu_burst_usec, &l->cpu_burst_usec);
        if (w->cpuset_cpus[0])
                memcpy(l->cpuset_cpus, w->cpuset_cpus, sizeof(l->cpuset_cpus));
        if (w->cpuset_mems[0])
                memcpy(l->cpuset_mems, w->cpuset_mems, sizeof(l->cpuset_mems));
        record_u64(w->mem_max, &l->mem_max);
        record_u64(w->mem_high, &l->mem_high);
        record_u64(w->mem_low, &l->mem_low);
        record_u64(w->mem_min, &l->mem_min);
        record_u64(w->mem_soft_limit, &l->mem_soft_limit);
        record_u64(w->io_weight, &l->io_weight);
        if (w->n_io_limits > 0) {
                memcpy(l->io_limits, w->io_limits, sizeof(l->io_limits));
                l->n_io_limits = w->n_io_limits;
        }
        record_i32(w->oom_score_adj, &l->oom_score_adj);
        record_i32(w->cpu_qos_level, &l->cpu_qos_level);
        record_i32(w->mem_qos_level, &l->mem_qos_level);
        record_u64(w->pids_max, &l->pids_max);
}
