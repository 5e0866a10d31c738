/* Applying a Plan: one open CgGroup and the knobs last written per planned group, kept across
 * ticks, so a steady state writes nothing (cg_group_apply() diffs against the last values) and no
 * directory is reopened. Groups are applied in the plan's order (parents before children); a
 * group that left the plan (a workload that exited or moved) is closed. */
#include <string.h>

#include "agent/agent.h"
#include "cgroup/cgroup.h"
#include "util/log.h"
#include "util/macro.h"

typedef struct EnforcedGroup {
        char path[sizeof(((GroupPlan *) 0)->path)];
        CgGroup *group;
        CgKnobs last;
        bool in_plan;
} EnforcedGroup;

struct Enforcer {
        CgRoot *root;
        EnforcedGroup *groups;          /* in the order of the last plan */
        size_t n, cap;
};

Enforcer *enforcer_free(Enforcer *e) {
        if (!e)
                return NULL;
        for (size_t i = 0; i < e->n; i++)
                cg_group_free(e->groups[i].group);
        free(e->groups);
        free(e);
        return NULL;
}

int enforcer_new(CgRoot *root, Enforcer **ret) {
        Enforcer *e = calloc(1, sizeof(*e));
        if (!e)
                return -ENOMEM;
        e->root = root;
        *ret = e;
        return 0;
}

/* Finds path, starting at the slot the same index had last time (plans are stable). */
static EnforcedGroup *lookup(Enforcer *e, size_t hint, const char *path) {
        if (hint < e->n && strcmp(e->groups[hint].path, path) == 0)
                return &e->groups[hint];
        for (size_t i = 0; i < e->n; i++)
                if (strcmp(e->groups[i].path, path) == 0)
                        return &e->groups[i];
        return NULL;
}

static EnforcedGroup *add(Enforcer *e, const char *path) {
        if (e->n == e->cap) {
                size_t cap = e->cap ? e->cap * 2 : 16;
                EnforcedGroup *g = realloc(e->groups, cap * sizeof(*g));
                if (!g)
                        return NULL;
                e->groups = g;
                e->cap = cap;
        }
        EnforcedGroup *g = &e->groups[e->n++];
        *g = (EnforcedGroup) {};
        snprintf(g->path, sizeof(g->path), "%s", path);
        cg_knobs_init(&g->last);
        return g;
}

int enforcer_apply(Enforcer *e, const Plan *plan, bool dry_run, CgWriteCallback cb, void *userdata,
                   uint64_t *ret_failures) {
        uint64_t failures = 0;

        for (size_t i = 0; i < e->n; i++)
                e->groups[i].in_plan = false;

        for (size_t i = 0; i < plan->n_groups; i++) {
                const GroupPlan *gp = &plan->groups[i];
                EnforcedGroup *g = lookup(e, i, gp->path);
                if (!g) {
                        g = add(e, gp->path);
                        if (!g)
                                return -ENOMEM;
                }
                g->in_plan = true;
                if (dry_run)
                        continue;
                if (!g->group) {
                        ColoError err = {};
                        /* Parents are created (the agent owns them); leaves must exist: a workload
                         * that vanished since the sample is not recreated. */
                        bool leaf = strchr(gp->path, '/') && strchr(strchr(gp->path, '/') + 1, '/');
                        int r = cg_group_open(e->root, gp->path, !leaf, &g->group, &err);
                        if (r == -ENOENT && leaf)
                                continue;
                        if (r < 0) {
                                log_warning("Failed to open cgroup '%s': %s", gp->path, colo_error_msg(&err));
                                failures++;
                                continue;
                        }
                }
                ColoError err = {};
                int r = cg_group_apply(g->group, &gp->knobs, &g->last, cb, userdata, &err);
                if (r > 0)
                        failures += (uint64_t) r;
                else if (r < 0) {
                        log_warning("Failed to apply knobs to '%s': %s", gp->path, colo_error_msg(&err));
                        failures++;
                }
        }

        /* Close what left the plan, keeping the order of the rest. */
        size_t keep = 0;
        for (size_t i = 0; i < e->n; i++) {
                if (!e->groups[i].in_plan) {
                        cg_group_free(e->groups[i].group);
                        continue;
                }
                e->groups[keep++] = e->groups[i];
        }
        e->n = keep;
        *ret_failures = failures;
        return 0;
}
