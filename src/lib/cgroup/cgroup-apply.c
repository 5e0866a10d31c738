/* The diffed write path: validation of wanted knobs (bad input changes nothing), the write seam
 * every cgroupfs and /proc write goes through (the dry run's one record-only switch; tests fail
 * the N-th write there), failure reporting with full paths, and the knob helpers both backends
 * use. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cgroup/cgroup-internal.h"
#include "util/fileio.h"

/* --- write path --- */

/* The file's current content on one line (dry run: the "old value" of the record). -ENOENT when
 * the file does not exist, so optional knobs behave as in a real run. */
static int seam_read_old(int dfd, const char *name, char *buf, size_t size) {
        if (dfd < 0) {
                snprintf(buf, size, "(group not created yet)");
                return 0;
        }
        int r = read_small_file_at(dfd, name, buf, size, NULL);
        if (r == -ENOENT)
                return r;
        if (r < 0) {
                snprintf(buf, size, "(unreadable: %s)", strerror(-r));
                return 0;
        }
        size_t len = strlen(buf);
        while (len > 0 && buf[len - 1] == '\n')
                buf[--len] = '\0';
        for (char *q = buf; (q = strchr(q, '\n'));)
                *q = ' ';
        return 0;
}

int cg_seam_write(CgRoot *root, int dfd, const char *path, const char *name, const char *value, int flags) {
        if (root->dry_record) {
                /* Record only: the code above runs as in a real run and sees the write succeed. */
                char old[512];
                int r = seam_read_old(dfd, name, old, sizeof(old));
                if (r < 0)
                        return r;
                root->dry_record(root->dry_record_userdata, path, old, value);
                return 0;
        }
        if (root->write_hook) {
                int r = root->write_hook(root->write_hook_userdata, path, value);
                if (r < 0)
                        return r;
        }
        _cleanup_close_ int fd = openat(dfd, name, flags | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        size_t len = strlen(value);
        ssize_t k = write(fd, value, len);
        if (k < 0)
                return -errno;
        if ((size_t) k != len)
                return -EIO;
        return 0;
}

int cg_write_raw(CgGroup *g, CgSlot slot, const char *name, const char *value) {
        int dfd = cg_slot_fd(g, slot);
        /* A group a dry run would have created has no directory, but its writes are recorded. */
        if (dfd < 0 && !(g->dry_created && cg_slot_present(g->root, slot)))
                return -ENOENT;
        char p[PATH_MAX];
        cg_group_file_path(g, slot, name, p, sizeof(p));
        /* O_TRUNC: harmless on cgroupfs, and keeps a fake tree of plain files exact. */
        return cg_seam_write(g->root, dfd, p, name, value, 0);
}

void cg_root_set_dry_run(CgRoot *root, CgDryRunRecorder record, void *userdata) {
        root->dry_record = record;
        root->dry_record_userdata = record ? userdata : NULL;
}

bool cg_root_is_dry_run(const CgRoot *root) {
        return root->dry_record != NULL;
}

void cg_apply_report(CgApplyCtx *c, const char *path, const char *value, int r) {
        if (r < 0) {
                c->failures++;
                if (c->err && c->failures == 1)
                        (void) colo_error_set(c->err, r, "write '%s' to '%s'", value, path);
        }
        if (c->cb)
                c->cb(c->userdata, path, value, r);
}

int cg_apply_write(CgGroup *g, CgApplyCtx *c, CgSlot slot, const char *name, int opt, const char *value) {
        if (opt >= 0 && (g->absent & (1u << opt)))
                return 1;
        int r = cg_write_raw(g, slot, name, value);
        if (r == -ENOENT && opt >= 0) {
                g->absent |= 1u << opt;
                return 1;
        }
        if (r < 0 || g->root->report_successes) {
                char p[PATH_MAX];
                cg_group_file_path(g, slot, name, p, sizeof(p));
                cg_apply_report(c, p, value, r);
        }
        return r;
}

/* --- validation and dispatch --- */

static bool cpuset_list_is_valid(const char *s, size_t size) {
        if (!memchr(s, '\0', size))
                return false;
        return strspn(s, "0123456789,-") == strlen(s);
}

static bool device_is_valid(const char *d, size_t size) {
        if (!memchr(d, '\0', size))
                return false;
        unsigned maj, min;
        int end = 0;
        return sscanf(d, "%u:%u%n", &maj, &min, &end) == 2 && d[end] == '\0' && d[0] >= '0' && d[0] <= '9';
}

static int validate_knobs(const CgGroup *g, const CgKnobs *k, ColoError *err) {
#define BAD(...) colo_error_setf_plain(err, EINVAL, "cgroup '%s': " __VA_ARGS__)
        if (k->cpu_weight != CG_UNSET && (k->cpu_weight < 1 || k->cpu_weight > 10000))
                return BAD("cpu weight %" PRIu64 " out of range 1..10000", g->path, k->cpu_weight);
        if (k->cpu_idle != CG_UNSET_INT && k->cpu_idle != 0 && k->cpu_idle != 1)
                return BAD("cpu.idle %d is not 0 or 1", g->path, (int) k->cpu_idle);
        if (k->cpu_quota_usec != CG_UNSET && k->cpu_quota_usec != CG_UNLIMITED &&
            (k->cpu_quota_usec < 1000 || k->cpu_quota_usec > UINT64_C(1) << 44))
                return BAD("cpu quota %" PRIu64 " us out of range (>= 1000)", g->path, k->cpu_quota_usec);
        if (k->cpu_period_usec != CG_UNSET && (k->cpu_period_usec < 1000 || k->cpu_period_usec > 1000000))
                return BAD("cpu period %" PRIu64 " us out of range 1000..1000000", g->path, k->cpu_period_usec);
        if (k->cpu_burst_usec != CG_UNSET && k->cpu_burst_usec > UINT64_C(1) << 44)
                return BAD("cpu burst %" PRIu64 " us out of range", g->path, k->cpu_burst_usec);
        if (!cpuset_list_is_valid(k->cpuset_cpus, sizeof(k->cpuset_cpus)))
                return BAD("invalid cpuset cpus '%.*s'", g->path, (int) sizeof(k->cpuset_cpus), k->cpuset_cpus);
        if (!cpuset_list_is_valid(k->cpuset_mems, sizeof(k->cpuset_mems)))
                return BAD("invalid cpuset mems '%.*s'", g->path, (int) sizeof(k->cpuset_mems), k->cpuset_mems);
        if (k->io_weight != CG_UNSET && (k->io_weight < 1 || k->io_weight > 10000))
                return BAD("io weight %" PRIu64 " out of range 1..10000", g->path, k->io_weight);
        if (k->n_io_limits > CG_IO_LIMITS_MAX)
                return BAD("%zu io limits, at most %d", g->path, k->n_io_limits, CG_IO_LIMITS_MAX);
        for (size_t i = 0; i < k->n_io_limits; i++)
                if (!device_is_valid(k->io_limits[i].device, sizeof(k->io_limits[i].device)))
                        return BAD("invalid io device '%.*s' (want MAJ:MIN)", g->path,
                                   (int) sizeof(k->io_limits[i].device), k->io_limits[i].device);
        if (k->oom_score_adj != CG_UNSET_INT && (k->oom_score_adj < -1000 || k->oom_score_adj > 1000))
                return BAD("oom_score_adj %d out of range -1000..1000", g->path, (int) k->oom_score_adj);
        if (k->cpu_qos_level != CG_UNSET_INT && (k->cpu_qos_level < -2 || k->cpu_qos_level > 2))
                return BAD("cpu.qos_level %d out of range -2..2", g->path, (int) k->cpu_qos_level);
        if (k->mem_qos_level != CG_UNSET_INT && (k->mem_qos_level < -2 || k->mem_qos_level > 2))
                return BAD("memory.qos_level %d out of range -2..2", g->path, (int) k->mem_qos_level);
        if (k->pids_max != CG_UNSET && k->pids_max != CG_UNLIMITED && (k->pids_max < 1 || k->pids_max > CG_PIDS_MAX))
                return BAD("pids.max %" PRIu64 " out of range 1..%" PRIu64, g->path, k->pids_max, CG_PIDS_MAX);
#undef BAD
        return 0;
}

int cg_group_apply(CgGroup *g, const CgKnobs *want, CgKnobs *last, CgWriteCallback cb, void *userdata,
                   ColoError *err) {
        int r = validate_knobs(g, want, err);
        if (r < 0)
                return r;
        CgApplyCtx c = { .cb = cb, .userdata = userdata, .err = err };
        g->root->backend->apply(g, want, last, &c);
        cg_apply_oom_score_adj(g, &c, want, last);
        return c.failures;
}

/* --- knob helpers shared by the backends --- */

void cg_knob_u64(CgGroup *g, CgApplyCtx *c, CgSlot slot, const char *name, int opt, uint64_t want, uint64_t *last,
                 const char *value) {
        int r = cg_apply_write(g, c, slot, name, opt, value);
        if (r == 0)
                *last = want;
        else if (r < 0)
                *last = CG_UNSET;       /* differs from any wanted value: retried next apply */
}

void cg_knob_i32(CgGroup *g, CgApplyCtx *c, CgSlot slot, const char *name, int opt, int32_t want, int32_t *last) {
        char v[16];
        snprintf(v, sizeof(v), "%d", (int) want);
        int r = cg_apply_write(g, c, slot, name, opt, v);
        if (r == 0)
                *last = want;
        else if (r < 0)
                *last = CG_UNSET_INT;
}

void cg_knob_cpuset(CgGroup *g, CgApplyCtx *c, const CgKnobs *want, CgKnobs *last) {
        if (!cg_slot_present(g->root, CG_SLOT_CPUSET))
                return;
        if (want->cpuset_cpus[0] && strcmp(want->cpuset_cpus, last->cpuset_cpus) != 0) {
                if (cg_apply_write(g, c, CG_SLOT_CPUSET, "cpuset.cpus", -1, want->cpuset_cpus) == 0)
                        memcpy(last->cpuset_cpus, want->cpuset_cpus, sizeof(last->cpuset_cpus));
                else
                        last->cpuset_cpus[0] = '\0';
        }
        if (want->cpuset_mems[0] && strcmp(want->cpuset_mems, last->cpuset_mems) != 0) {
                if (cg_apply_write(g, c, CG_SLOT_CPUSET, "cpuset.mems", -1, want->cpuset_mems) == 0)
                        memcpy(last->cpuset_mems, want->cpuset_mems, sizeof(last->cpuset_mems));
                else
                        last->cpuset_mems[0] = '\0';
        }
}

/* cpu.idle and the weight: the kernel refuses a weight (EINVAL) while the group is idle, so
 * leaving idle comes first, and while the group is (or becomes) idle no weight is written. Each
 * change of cpu.idle resets the weight in the kernel (sched_group_set_idle(): the idle minimum
 * on entering, the default 1024 shares / weight 100 on leaving), so the weight colo last wrote is
 * forgotten then and written again once the group is not idle. */
void cg_knob_cpu_weight_idle(CgGroup *g, CgApplyCtx *c, const CgKnobs *want, CgKnobs *last, const char *weight_file,
                             uint64_t weight_value) {
        bool idle_differs = want->cpu_idle != CG_UNSET_INT && want->cpu_idle != last->cpu_idle;
        if (idle_differs) {
                /* Known to flip (not merely unknown after a failed write, when the kernel may
                 * already hold it and then leaves the weight alone). */
                bool flips = last->cpu_idle != CG_UNSET_INT;
                cg_knob_i32(g, c, CG_SLOT_CPU, "cpu.idle", CG_OPT_CPU_IDLE, want->cpu_idle, &last->cpu_idle);
                if (flips && last->cpu_idle == want->cpu_idle)
                        last->cpu_weight = CG_UNSET;    /* the kernel reset the weight */
        }
        bool idle = want->cpu_idle == 1 && !(g->absent & (1u << CG_OPT_CPU_IDLE));
        if (want->cpu_weight != CG_UNSET && want->cpu_weight != last->cpu_weight && !idle) {
                char v[32];
                snprintf(v, sizeof(v), "%" PRIu64, weight_value);
                cg_knob_u64(g, c, CG_SLOT_CPU, weight_file, -1, want->cpu_weight, &last->cpu_weight, v);
        }
}

void cg_knob_qos(CgGroup *g, CgApplyCtx *c, const CgKnobs *want, CgKnobs *last) {
        if (want->cpu_qos_level != CG_UNSET_INT && want->cpu_qos_level != last->cpu_qos_level &&
            cg_slot_present(g->root, CG_SLOT_CPU))
                cg_knob_i32(g, c, CG_SLOT_CPU, "cpu.qos_level", CG_OPT_CPU_QOS, want->cpu_qos_level, &last->cpu_qos_level);
        if (want->mem_qos_level != CG_UNSET_INT && want->mem_qos_level != last->mem_qos_level &&
            cg_slot_present(g->root, CG_SLOT_MEMORY))
                cg_knob_i32(g, c, CG_SLOT_MEMORY, "memory.qos_level", CG_OPT_MEM_QOS, want->mem_qos_level,
                            &last->mem_qos_level);
}

void cg_knob_pids_max(CgGroup *g, CgApplyCtx *c, CgSlot slot, const CgKnobs *want, CgKnobs *last) {
        if (!cg_u64_differs(want->pids_max, last->pids_max))
                return;
        char v[32];
        if (want->pids_max == CG_UNLIMITED)
                snprintf(v, sizeof(v), "max");
        else
                snprintf(v, sizeof(v), "%" PRIu64, want->pids_max);
        cg_knob_u64(g, c, slot, "pids.max", -1, want->pids_max, &last->pids_max, v);
}

/* Index of want->io_limits[i]'s device in last, made to match position i (devices rarely move,
 * so a moved or new device simply starts from "unknown"). */
CgIoLimit *cg_last_io_limit(CgKnobs *last, const CgIoLimit *want, size_t i) {
        CgIoLimit *l = &last->io_limits[i];
        if (i >= last->n_io_limits || strcmp(l->device, want->device) != 0) {
                *l = (CgIoLimit) { .rbps = CG_UNSET, .wbps = CG_UNSET, .riops = CG_UNSET, .wiops = CG_UNSET,
                                   .latency_usec = CG_UNSET };
                memcpy(l->device, want->device, sizeof(l->device));
                if (last->n_io_limits <= i)
                        last->n_io_limits = i + 1;
        }
        return l;
}

bool cg_u64_differs(uint64_t want, uint64_t last) {
        return want != CG_UNSET && want != last;
}
