/* Enforcement: turns a Plan into cgroup writes. Writes are diffed against what was last applied
 * to each path (kept in EnforceState with the open group handles), so a steady state costs no
 * writes and no opens; offline groups go first, so when online grows its offline limits drop
 * before its guarantees rise, and when online shrinks offline gains only what online already
 * released. The state is updated in place (an entry holds a full CgKnobs, about 1 KiB, so a copy
 * of it every period would double the agent's largest allocation); a steady state allocates only
 * the small apply order. What was last applied is checked against the kernel (the reconcile,
 * cg_group_verify()) so a knob changed behind colo's back does not stay changed; a steady state
 * then costs those reads, parents every period and leaves in turns. A dry run is the cgroup
 * layer's (cg_root_set_dry_run()): nothing here knows of it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enforce/enforce.h"
#include "policy/policy.h"
#include "util/macro.h"

typedef struct EnforceEntry {
        char *path;
        CgGroup *group;                 /* NULL until opened (or after a failure that needs a reopen) */
        /* The borrowed handle last applied through (identity only, never dereferenced outside an
         * apply): a different one may be a fresh directory, so everything is rewritten. */
        uintptr_t borrowed;
        CgKnobs last;                   /* what colo last applied; unset = unknown */
        unsigned verify_slot;           /* leaves: read back in the periods where this matches */
        bool keep;                      /* during an apply: planned, and not a vanished leaf */
} EnforceEntry;

struct EnforceState {
        EnforceEntry *entries;          /* sorted by path */
        size_t n, cap;
        EnforceGroupLookup lookup;
        void *lookup_userdata;
        CgDriftCallback drift;          /* reconcile: set, knobs are read back before each apply */
        void *drift_userdata;
        uint64_t applies;               /* number of enforce_apply() calls: the leaves' read-back turn */
        unsigned next_verify_slot;
};

static void entry_done(EnforceEntry *e) {
        cg_group_free(e->group);
        free(e->path);
        *e = (EnforceEntry) {};
}

EnforceState *enforce_state_new(void) {
        return calloc(1, sizeof(EnforceState));
}

EnforceState *enforce_state_free(EnforceState *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n; i++)
                entry_done(&s->entries[i]);
        free(s->entries);
        free(s);
        return NULL;
}

void enforce_state_set_drift_callback(EnforceState *s, CgDriftCallback fn, void *userdata) {
        if (!s)
                return;
        s->drift = fn;
        s->drift_userdata = fn ? userdata : NULL;
}

void enforce_state_set_group_lookup(EnforceState *s, EnforceGroupLookup fn, void *userdata) {
        if (!s)
                return;
        s->lookup = fn;
        s->lookup_userdata = fn ? userdata : NULL;
}

size_t enforce_state_size(const EnforceState *s) {
        return s ? s->n : 0;
}

static int entry_cmp(const void *a, const void *b) {
        return strcmp(((const EnforceEntry *) a)->path, ((const EnforceEntry *) b)->path);
}

static EnforceEntry *state_find(EnforceState *s, const char *path) {
        EnforceEntry key = { .path = (char *) path };
        return s->n ? bsearch(&key, s->entries, s->n, sizeof(*s->entries), entry_cmp) : NULL;
}

void enforce_state_forget(EnforceState *s, const char *path) {
        if (!s)
                return;
        for (size_t i = 0; i < s->n; i++) {
                if (path && strcmp(s->entries[i].path, path) != 0)
                        continue;
                /* Keep the path (the array stays sorted); drop the handle and what was applied. */
                s->entries[i].group = cg_group_free(s->entries[i].group);
                s->entries[i].borrowed = 0;
                cg_knobs_init(&s->entries[i].last);
        }
}

const CgKnobs *enforce_state_last(const EnforceState *s, const char *path) {
        const EnforceEntry *e = s && path ? state_find((EnforceState *) s, path) : NULL;
        return e ? &e->last : NULL;
}

static size_t path_depth(const char *path) {
        if (!path[0])
                return 0;
        size_t d = 1;
        for (const char *p = path; *p; p++)
                d += *p == '/';
        return d;
}

/* Workload leaves sit at <class>/<tier>/<name>; colo run and the tree code create them. */
static bool path_is_leaf(const char *path) {
        return path_depth(path) >= 3;
}

static bool path_is_offline(const char *path) {
        const char *cls = workload_class_to_string(CLASS_OFFLINE);
        size_t n = strlen(cls);
        return strncmp(path, cls, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

typedef struct OrderKey {
        size_t index;                   /* in plan->groups */
        int phase;                      /* 0: offline subtree, 1: the rest */
        size_t depth;
        EnforceEntry *entry;            /* the group's state entry */
} OrderKey;

static int order_cmp(const void *a, const void *b) {
        const OrderKey *x = a, *y = b;
        if (x->phase != y->phase)
                return x->phase < y->phase ? -1 : 1;
        if (x->depth != y->depth)
                return x->depth < y->depth ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

static int path_ptr_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Every path once, each NUL-terminated within its buffer. */
static int plan_check(const Plan *plan, ColoError *err) {
        if (plan->n_groups > 0 && !plan->groups)
                return colo_error_setf_plain(err, EINVAL, "plan has %zu groups but no group array", plan->n_groups);
        if (plan->n_groups == 0)
                return 0;
        _cleanup_free_ const char **paths = malloc(plan->n_groups * sizeof(*paths));
        if (!paths)
                return colo_error_set(err, ENOMEM, "check plan");
        for (size_t i = 0; i < plan->n_groups; i++) {
                if (!memchr(plan->groups[i].path, '\0', sizeof(plan->groups[i].path)))
                        return colo_error_setf_plain(err, EINVAL, "plan group %zu: path not terminated", i);
                paths[i] = plan->groups[i].path;
        }
        qsort(paths, plan->n_groups, sizeof(*paths), path_ptr_cmp);
        for (size_t i = 1; i < plan->n_groups; i++)
                if (strcmp(paths[i - 1], paths[i]) == 0)
                        return colo_error_setf_plain(err, EINVAL, "cgroup '%s' appears twice in the plan", paths[i]);
        return 0;
}

typedef struct ApplyRun {
        CgRoot *root;
        const EnforceState *state;
        size_t verify_stride;           /* a leaf is read back every this many applies */
        bool foreign_tree;              /* plan->foreign_tree: create nothing, skip what is missing */
        CgWriteCallback cb;
        void *userdata;
        ColoError *err;
        int failures;
} ApplyRun;

static void run_fail(ApplyRun *run, const char *path, const char *value, ColoError *e, int r) {
        if (run->failures == 0 && run->err) {
                *run->err = *e;
                (void) colo_error_wrap(run->err, "apply plan to cgroup '%s'", path);
        }
        run->failures++;
        if (run->cb && value)
                run->cb(run->userdata, path, value, r);
}

/* Class and tier parents hold the protections and are few: read back every period. Leaves (one
 * per workload, inside a tier whose parent carries the isolation) are read back in turns, at
 * most ENFORCE_VERIFY_LEAVES per period, to keep the agent's overhead at 200 workloads. */
static bool verify_due(const ApplyRun *run, const char *path, const EnforceEntry *e) {
        if (!path_is_leaf(path))
                return true;
        return e->verify_slot % run->verify_stride == run->state->applies % run->verify_stride;
}

/* Returns false when the entry should be dropped (a leaf that no longer exists). */
static bool apply_group(ApplyRun *run, const GroupPlan *gp, EnforceEntry *e) {
        ColoError lerr = {};
        int r;

        CgGroup *g = run->state->lookup ? run->state->lookup(run->state->lookup_userdata, gp->path) : NULL;
        if (g) {
                /* A borrowed handle replaces our own; a different one than last time may be a
                 * fresh directory: nothing is known to be applied. */
                e->group = cg_group_free(e->group);
                if (e->borrowed != (uintptr_t) g) {
                        e->borrowed = (uintptr_t) g;
                        cg_knobs_init(&e->last);
                }
        } else if (e->borrowed) {
                e->borrowed = 0;
                cg_knobs_init(&e->last);
        }

        if (!g && !e->group) {
                bool leaf = run->foreign_tree || path_is_leaf(gp->path);
                bool create = !leaf && gp->path[0] != '\0';
                r = cg_group_open(run->root, gp->path, create, &e->group, &lerr);
                if (r == -ENOENT && leaf)
                        return false;
                if (r < 0) {
                        run_fail(run, gp->path, create ? "(create)" : "(open)", &lerr, r);
                        return true;
                }
                /* A fresh handle may be a fresh directory: nothing is known to be applied. */
                cg_knobs_init(&e->last);
        }
        if (!g)
                g = e->group;

        /* Reconcile: what changed behind colo's back is invalidated in e->last, so rewritten now. */
        if (run->state->drift && verify_due(run, gp->path, e))
                (void) cg_group_verify(g, &e->last, run->state->drift, run->state->drift_userdata);
        r = cg_group_apply(g, &gp->knobs, &e->last, run->cb, run->userdata, &lerr);
        if (r == 0)
                return true;
        if (r < 0) {
                /* The cgroup layer rejected the knobs before writing any: the group is untouched. */
                run_fail(run, gp->path, "(invalid knobs)", &lerr, r);
                return true;
        }
        /* cg_group_apply() already reported each failed write through cb. */
        run_fail(run, gp->path, NULL, &lerr, -lerr.code);
        run->failures += r - 1;
        /* A vanished directory (the group was removed and maybe recreated behind our back) shows
         * as ENOENT/ENODEV: reopen and rewrite everything next time. A knob file missing from a
         * directory that is still there (a controller not enabled for it) is not that: like other
         * failures it is retried knob by knob; the cgroup layer already invalidated it in e->last. */
        if ((lerr.code == ENOENT || lerr.code == ENODEV) && !cg_group_has_file(g, CG_CTRL_CPU, "cgroup.procs") &&
            !cg_group_has_file(g, CG_CTRL_MEMORY, "cgroup.procs")) {
                e->group = cg_group_free(e->group);
                e->borrowed = 0;
                cg_knobs_init(&e->last);
        }
        return true;
}

/* Adds an entry, with nothing known to be applied, for each planned path the state lacks, and
 * re-sorts. On ENOMEM nothing changes (the array may only have grown its capacity). */
static int state_add_missing(EnforceState *state, const Plan *plan, ColoError *err) {
        size_t missing = 0;
        for (size_t i = 0; i < plan->n_groups; i++)
                missing += !state_find(state, plan->groups[i].path);
        if (missing == 0)
                return 0;
        if (state->n + missing > state->cap) {
                /* Exactly what is needed: entries are large and new paths are rare after start. */
                size_t cap = state->n + missing;
                EnforceEntry *e = reallocarray(state->entries, cap, sizeof(*e));
                if (!e)
                        return colo_error_set(err, ENOMEM, "enforce plan");
                state->entries = e;
                state->cap = cap;
        }
        /* Appended past n, so state_find() (which searches the first n) cannot see them yet. */
        size_t n = state->n;
        for (size_t i = 0; i < plan->n_groups; i++) {
                const char *path = plan->groups[i].path;
                if (state_find(state, path))
                        continue;
                EnforceEntry *e = &state->entries[n];
                *e = (EnforceEntry) { .path = strdup(path) };
                if (!e->path) {
                        while (n > state->n)
                                free(state->entries[--n].path);
                        return colo_error_set(err, ENOMEM, "enforce plan");
                }
                cg_knobs_init(&e->last);
                e->verify_slot = state->next_verify_slot++;
                n++;
        }
        state->n = n;
        qsort(state->entries, state->n, sizeof(*state->entries), entry_cmp);
        return 0;
}

int enforce_apply(CgRoot *root, const Plan *plan, EnforceState *state, CgWriteCallback cb, void *userdata,
                  ColoError *err) {
        if (!root || !plan || !state)
                return colo_error_setf_plain(err, EINVAL, "enforce: missing cgroup root, plan or state");
        int r = plan_check(plan, err);
        if (r < 0)
                return r;

        /* First every allocation, so running out of memory changes nothing. */
        size_t n = plan->n_groups;
        _cleanup_free_ OrderKey *order = calloc(MAX(n, (size_t) 1), sizeof(*order));
        if (!order)
                return colo_error_set(err, ENOMEM, "enforce plan");
        r = state_add_missing(state, plan, err);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                const char *path = plan->groups[i].path;
                /* A foreign tree's plan comes in its order: phase and depth 0 leave the index. */
                bool own = !plan->foreign_tree;
                order[i] = (OrderKey) { .index = i, .phase = own && !path_is_offline(path) ? 1 : 0,
                                        .depth = own ? path_depth(path) : 0, .entry = state_find(state, path) };
        }
        qsort(order, n, sizeof(*order), order_cmp);

        size_t leaves = 0;
        for (size_t i = 0; i < n; i++)
                leaves += path_is_leaf(plan->groups[i].path);
        ApplyRun run = { .root = root, .state = state, .foreign_tree = plan->foreign_tree, .cb = cb,
                         .userdata = userdata, .err = err,
                         .verify_stride = MAX((leaves + ENFORCE_VERIFY_LEAVES - 1) / ENFORCE_VERIFY_LEAVES, (size_t) 1) };
        for (size_t k = 0; k < n; k++) {
                const GroupPlan *gp = &plan->groups[order[k].index];
                EnforceEntry *e = order[k].entry;
                e->keep = apply_group(&run, gp, e);
        }
        state->applies++;

        /* Forget paths no longer planned and leaves that vanished; what stays is still sorted. */
        size_t m = 0;
        for (size_t i = 0; i < state->n; i++) {
                EnforceEntry *e = &state->entries[i];
                if (!e->keep) {
                        entry_done(e);
                        continue;
                }
                e->keep = false;
                if (m != i)
                        state->entries[m] = *e;
                m++;
        }
        state->n = m;
        /* Give back most of the array after many workloads left (a failed shrink keeps the old one). */
        if (state->cap > 64 && m < state->cap / 4) {
                EnforceEntry *e = reallocarray(state->entries, MAX(m, (size_t) 1), sizeof(*e));
                if (e) {
                        state->entries = e;
                        state->cap = MAX(m, (size_t) 1);
                }
        }
        return run.failures;
}
