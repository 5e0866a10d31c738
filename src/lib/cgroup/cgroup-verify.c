/* Reconcile: reads back the knobs colo last wrote to a group and compares them with what the
 * kernel holds now, so a knob changed behind colo's back (by hand, by another agent, by systemd)
 * is found and rewritten by the next cg_group_apply(). Only files that hold one colo knob as the
 * kernel keeps it are read: CPU weight, cpu.idle, quota and period, the memory limits and
 * protections, pids.max. Each costs one open, read and close. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgroup/cgroup-internal.h"
#include "util/fileio.h"

typedef enum CheckKind {
        CHECK_NUMBER,           /* a plain number: cpu.shares, cpu.weight, cpu.cfs_period_us */
        CHECK_LIMIT,            /* bytes, "max"/-1 unlimited, rounded down to pages by the kernel */
        CHECK_QUOTA,            /* v1 cpu.cfs_quota_us: -1 unlimited */
        CHECK_PIDS,             /* "max" or a count */
        CHECK_CPU_MAX_QUOTA,    /* v2 cpu.max: first field */
        CHECK_CPU_MAX_PERIOD,   /* v2 cpu.max: second field */
} CheckKind;

typedef struct KnobCheck {
        const char *file;
        CgSlot slot;
        CheckKind kind;
        uint64_t expect;        /* in the file's units (shares on v1) */
        uint64_t *last;         /* invalidated when the kernel holds something else */
} KnobCheck;

static int parse_found(CheckKind kind, const char *text, uint64_t *ret) {
        char field[64];
        const char *s = text;
        if (kind == CHECK_CPU_MAX_QUOTA || kind == CHECK_CPU_MAX_PERIOD) {
                if (kind == CHECK_CPU_MAX_PERIOD) {
                        s = strchr(text, ' ');
                        if (!s)
                                return -EINVAL;
                        s++;
                }
                snprintf(field, sizeof(field), "%.*s", (int) strcspn(s, " \n"), s);
                s = field;
        }
        if (kind == CHECK_NUMBER || kind == CHECK_CPU_MAX_PERIOD)
                return parse_u64(s, ret);
        return cg_parse_limit(s, ret);
}

static bool matches(CheckKind kind, uint64_t expect, uint64_t found) {
        if (found == expect)
                return true;
        if (kind != CHECK_LIMIT || expect == CG_UNLIMITED)
                return false;
        /* The kernel keeps byte limits in pages. */
        uint64_t page = (uint64_t) sysconf(_SC_PAGESIZE);
        return found == expect / page * page;
}

static void fmt_expect(const CgGroup *g, const KnobCheck *k, char *buf, size_t size) {
        bool v1_minus_one = g->root->mode != CG_MODE_V2 && (k->kind == CHECK_QUOTA || k->kind == CHECK_LIMIT);
        if (k->expect == CG_UNLIMITED)
                snprintf(buf, size, "%s", v1_minus_one ? "-1" : "max");
        else
                snprintf(buf, size, "%" PRIu64, k->expect);
}

/* 1 when the file holds something else than colo wrote (reported, *last invalidated), else 0. */
static int check_one(CgGroup *g, const KnobCheck *k, CgDriftCallback cb, void *userdata) {
        if (*k->last == CG_UNSET || !cg_slot_present(g->root, k->slot))
                return 0;
        char text[128];
        int r = read_small_file_at(cg_slot_fd(g, k->slot), k->file, text, sizeof(text), NULL);
        uint64_t found;
        if (r < 0 || parse_found(k->kind, text, &found) < 0 || matches(k->kind, k->expect, found))
                return 0;       /* unreadable ones are the apply's business (it reports its failures) */
        char path[PATH_MAX], want[32];
        cg_group_file_path(g, k->slot, k->file, path, sizeof(path));
        fmt_expect(g, k, want, sizeof(want));
        text[strcspn(text, "\n")] = '\0';
        if (cb)
                cb(userdata, path, want, text);
        *k->last = CG_UNSET;
        return 1;
}

/* cpu.idle: a flip behind colo's back also reset the weight in the kernel. */
static int check_idle(CgGroup *g, CgKnobs *last, CgDriftCallback cb, void *userdata) {
        if (last->cpu_idle == CG_UNSET_INT || (g->absent & (1u << CG_OPT_CPU_IDLE)))
                return 0;
        uint64_t idle = (uint64_t) last->cpu_idle;
        KnobCheck k = { "cpu.idle", CG_SLOT_CPU, CHECK_NUMBER, idle, &idle };
        if (!check_one(g, &k, cb, userdata))
                return 0;
        last->cpu_idle = CG_UNSET_INT;
        last->cpu_weight = CG_UNSET;
        return 1;
}

int cg_group_verify(CgGroup *g, CgKnobs *last, CgDriftCallback cb, void *userdata) {
        if (g->root->dry_record || g->dry_created)
                return 0;       /* a dry run wrote nothing that could have changed */
        bool v2 = g->root->mode == CG_MODE_V2;
        CgSlot mem = v2 ? CG_SLOT_CPU : CG_SLOT_MEMORY, pids = v2 ? CG_SLOT_CPU : CG_SLOT_PIDS;
        int changed = check_idle(g, last, cb, userdata);
        /* No weight is written while the group is idle (the kernel refuses it). */
        bool weighted = last->cpu_idle != 1 && last->cpu_weight != CG_UNSET;
        uint64_t weight = weighted ? (v2 ? last->cpu_weight : cg_weight_to_shares(last->cpu_weight)) : CG_UNSET;
        const KnobCheck checks[] = {
                { v2 ? "cpu.weight" : "cpu.shares", CG_SLOT_CPU, CHECK_NUMBER, weight,
                  weighted ? &last->cpu_weight : &weight },
                { v2 ? "cpu.max" : "cpu.cfs_quota_us", CG_SLOT_CPU, v2 ? CHECK_CPU_MAX_QUOTA : CHECK_QUOTA,
                  last->cpu_quota_usec, &last->cpu_quota_usec },
                { v2 ? "cpu.max" : "cpu.cfs_period_us", CG_SLOT_CPU, v2 ? CHECK_CPU_MAX_PERIOD : CHECK_NUMBER,
                  last->cpu_period_usec, &last->cpu_period_usec },
                { v2 ? "memory.max" : "memory.limit_in_bytes", mem, CHECK_LIMIT, last->mem_max, &last->mem_max },
                { v2 ? "memory.high" : NULL, mem, CHECK_LIMIT, last->mem_high, &last->mem_high },
                { v2 ? "memory.low" : NULL, mem, CHECK_LIMIT, last->mem_low, &last->mem_low },
                { v2 ? "memory.min" : NULL, mem, CHECK_LIMIT, last->mem_min, &last->mem_min },
                { v2 ? NULL : "memory.soft_limit_in_bytes", mem, CHECK_LIMIT, last->mem_soft_limit,
                  &last->mem_soft_limit },
                { "pids.max", pids, CHECK_PIDS, last->pids_max, &last->pids_max },
        };
        for (size_t i = 0; i < ELEMENTSOF(checks); i++)
                if (checks[i].file)
                        changed += check_one(g, &checks[i], cb, userdata);
        return changed;
}
