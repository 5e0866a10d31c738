/* The tracker: a sorted array of workloads with their open groups, merged against the tree on
 * each refresh (allocating only when the set changed), and the per-sample reads that turn the
 * cgroup counters into a NodeSample. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/collect.h"
#include "standalone/tracker.h"
#include "util/fileio.h"
#include "util/macro.h"

/* Per workload, only what the sample uses: CPU time, memory usage and working set, tasks. No
 * pressure files (the policy reads pressure of the online parent and the host only), nor
 * throttling counters, limits or OOM kills, which the standalone sample has no field for. */
#define WORKLOAD_USAGE_FIELDS (CG_USAGE_CPU_TIME | CG_USAGE_MEM_CURRENT | CG_USAGE_WORKING_SET | CG_USAGE_TASKS)
/* Per class parent: no task count, which would walk every workload's cgroup.procs again. */
#define CLASS_USAGE_FIELDS (CG_USAGE_CPU | CG_USAGE_MEMORY | CG_USAGE_WORKING_SET | CG_USAGE_PRESSURE)

typedef struct ClassUsage {
        CgGroup *group;                 /* NULL while the class parent does not exist */
        CgUsage usage;
        double cpu_cores;
        uint64_t prev_cpu_usec, prev_sample_usec;
        bool have_prev;
} ClassUsage;

struct Tracker {
        CgRoot *root;
        char proc_root[256];
        double fixed_cpu_capacity;      /* > 0: overrides the CPU count */
        CgGroup *root_group;

        TrackedWorkload *items;         /* sorted by (name, tier), like tree_discover() */
        size_t n_items;
        WorkloadSample *samples;
        size_t samples_cap;
        ClassUsage cls[_CLASS_MAX];
        NodeSample node;
        uint64_t n_samples;
};

static void tracked_done(TrackedWorkload *w) {
        cg_group_free(w->group);
        w->group = NULL;
}

Tracker *tracker_free(Tracker *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_items; i++)
                tracked_done(&t->items[i]);
        free(t->items);
        free(t->samples);
        for (int c = 0; c < _CLASS_MAX; c++)
                cg_group_free(t->cls[c].group);
        cg_group_free(t->root_group);
        free(t);
        return NULL;
}

int tracker_new(CgRoot *root, const TrackerOptions *opts, Tracker **ret, ColoError *err) {
        _cleanup_(tracker_freep) Tracker *t = calloc(1, sizeof(*t));
        if (!t)
                return colo_error_set(err, ENOMEM, "create tracker");
        t->root = root;
        snprintf(t->proc_root, sizeof(t->proc_root), "%s", opts && opts->proc_root ? opts->proc_root : "/proc");
        t->fixed_cpu_capacity = opts ? opts->cpu_capacity_cores : 0;
        int r = cg_group_open(root, "", false, &t->root_group, err);
        if (r < 0)
                return colo_error_wrap(err, "open the managed root");
        *ret = TAKE_PTR(t);
        return 0;
}

const NodeSample *tracker_node(const Tracker *t) {
        return &t->node;
}

size_t tracker_count(const Tracker *t) {
        return t->n_items;
}

TrackedWorkload *tracker_get(Tracker *t, size_t i) {
        return i < t->n_items ? &t->items[i] : NULL;
}

int tracker_find(const Tracker *t, const char *name) {
        for (size_t i = 0; i < t->n_items; i++)
                if (strcmp(t->items[i].id.name, name) == 0)
                        return (int) i;
        return -ENOENT;
}

const CgUsage *tracker_class_usage(const Tracker *t, WorkloadClass c) {
        return c >= 0 && c < _CLASS_MAX ? &t->cls[c].usage : NULL;
}

CgGroup *tracker_class_group(Tracker *t, WorkloadClass c) {
        return c >= 0 && c < _CLASS_MAX ? t->cls[c].group : NULL;
}

static int compare_ids(const TreeWorkload *a, const TreeWorkload *b) {
        int c = strcmp(a->name, b->name);
        return c != 0 ? c : (int) a->tier - (int) b->tier;
}

static int compare_id_with_item(const void *key, const void *item) {
        return compare_ids(key, &((const TrackedWorkload *) item)->id);
}

CgGroup *tracker_workload_group(Tracker *t, const char *path) {
        TreeWorkload id;
        if (!path || tree_parse_path(path, &id) < 0 || t->n_items == 0)
                return NULL;
        const TrackedWorkload *w = bsearch(&id, t->items, t->n_items, sizeof(*t->items), compare_id_with_item);
        return w && strcmp(w->id.path, path) == 0 ? w->group : NULL;
}

/* Opens class parents that appeared since the last refresh (the agent or `colo run` creates them). */
static void open_class_groups(Tracker *t) {
        for (int c = 0; c < _CLASS_MAX; c++) {
                if (t->cls[c].group)
                        continue;
                if (cg_group_open(t->root, tree_class_path((WorkloadClass) c), false, &t->cls[c].group, NULL) < 0)
                        t->cls[c].group = NULL;
                t->cls[c].have_prev = false;
        }
}

int tracker_refresh(Tracker *t, uint64_t now_usec, TrackerChangeCallback cb, void *userdata, ColoError *err) {
        _cleanup_free_ TreeWorkload *found = NULL;
        size_t n_found = 0;

        open_class_groups(t);
        int r = tree_discover(t->root, &found, &n_found, err);
        if (r < 0)
                return r;

        bool same = n_found == t->n_items;
        for (size_t i = 0; same && i < n_found; i++)
                same = compare_ids(&found[i], &t->items[i].id) == 0;
        if (same)
                return 0;

        /* Merge the two sorted lists: keep matches (and their open groups), open new ones. */
        TrackedWorkload *items = n_found > 0 ? calloc(n_found, sizeof(*items)) : NULL;
        if (n_found > 0 && !items)
                return colo_error_set(err, ENOMEM, "track %zu workloads", n_found);
        size_t i = 0, j = 0, n = 0;
        int changes = 0;
        while (i < n_found || j < t->n_items) {
                int c = i >= n_found ? 1 : j >= t->n_items ? -1 : compare_ids(&found[i], &t->items[j].id);
                if (c == 0) {
                        items[n++] = t->items[j];
                        i++, j++;
                } else if (c > 0) {             /* gone from the tree */
                        if (cb)
                                cb(userdata, &t->items[j].id, false);
                        tracked_done(&t->items[j++]);
                        changes++;
                } else {                        /* new in the tree */
                        TrackedWorkload w = { .id = found[i++], .first_seen_usec = now_usec };
                        if (cg_group_open(t->root, w.id.path, false, &w.group, NULL) < 0)
                                continue;       /* removed again meanwhile: pick it up next time, if ever */
                        items[n++] = w;
                        if (cb)
                                cb(userdata, &w.id, true);
                        changes++;
                }
        }
        free(t->items);
        t->items = items;
        t->n_items = n;
        return changes;
}

/* Cores used since the previous sample, from cumulative CPU time. */
static double cpu_rate(uint64_t cpu_usec, uint64_t now_usec, uint64_t *prev_cpu, uint64_t *prev_t, bool *have_prev) {
        CollectCpuSample prev = { .usage_usec = *prev_cpu, .wall_usec = *prev_t }, now = { cpu_usec, now_usec };
        double cores = *have_prev ? collect_cpu_cores(&prev, &now) : 0.0;
        *prev_cpu = cpu_usec;
        *prev_t = now_usec;
        *have_prev = true;
        return cores;
}

int tracker_sample(Tracker *t, uint64_t now_usec, ColoError *err) {
        NodeSample *s = &t->node;
        CollectNode node;
        int r, failed = 0;

        r = collect_node(t->proc_root, NULL, &node, err);
        if (r < 0)
                return r;

        if (t->samples_cap < t->n_items) {
                size_t cap = MAX(t->n_items, t->samples_cap * 2);
                WorkloadSample *ns = realloc(t->samples, cap * sizeof(*ns));
                if (!ns)
                        return colo_error_set(err, ENOMEM, "sample %zu workloads", t->n_items);
                t->samples = ns;
                t->samples_cap = cap;
        }

        for (size_t i = 0; i < t->n_items; i++) {
                TrackedWorkload *w = &t->items[i];
                WorkloadSample *ws = &t->samples[i];
                bool stat = !w->have_inactive || (t->n_samples + i) % TRACKER_WORKING_SET_EVERY == 0;
                unsigned fields = stat ? WORKLOAD_USAGE_FIELDS : WORKLOAD_USAGE_FIELDS & ~CG_USAGE_WORKING_SET;
                r = cg_group_read_usage_fields(w->group, fields, &w->usage, NULL);
                w->read_failed = r < 0;
                if (r < 0) {
                        w->usage = (CgUsage) {};
                        w->have_prev = false;
                        w->have_inactive = false;
                        w->cpu_cores = 0;
                        failed++;
                } else {
                        if (stat) {
                                /* The layer floors the working set at 0: then all of usage is inactive. */
                                w->inactive_file = w->usage.mem_usage - w->usage.mem_working_set;
                                w->have_inactive = true;
                        } else
                                w->usage.mem_working_set = w->usage.mem_usage > w->inactive_file
                                                                   ? w->usage.mem_usage - w->inactive_file
                                                                   : 0;
                        w->cpu_cores = cpu_rate(w->usage.cpu_usage_usec, now_usec, &w->prev_cpu_usec,
                                                &w->prev_sample_usec, &w->have_prev);
                }
                if (w->usage.nr_tasks > 0) {
                        w->ever_populated = true;
                        w->empty_since_usec = 0;
                } else if (w->empty_since_usec == 0)
                        w->empty_since_usec = now_usec;

                *ws = (WorkloadSample) {
                        .cls = w->id.cls,
                        .tier = w->id.tier,
                        .cpu_usage_cores = w->cpu_cores,
                        .mem_usage = w->usage.mem_usage,
                        .mem_working_set = w->usage.mem_working_set,
                        .nr_tasks = w->usage.nr_tasks,
                        .being_evicted = w->being_evicted,
                };
                memcpy(ws->name, w->id.name, sizeof(ws->name));
        }

        for (int c = 0; c < _CLASS_MAX; c++) {
                ClassUsage *cu = &t->cls[c];
                cu->usage = (CgUsage) {};
                cu->cpu_cores = 0;
                if (cu->group && cg_group_read_usage_fields(cu->group, CLASS_USAGE_FIELDS, &cu->usage, NULL) < 0) {
                        cu->group = cg_group_free(cu->group);   /* removed behind our back: reopen at refresh */
                        cu->usage = (CgUsage) {};
                }
                if (cu->group)
                        cu->cpu_cores = cpu_rate(cu->usage.cpu_usage_usec, now_usec, &cu->prev_cpu_usec,
                                                 &cu->prev_sample_usec, &cu->have_prev);
                else {
                        /* No parent yet (or unreadable): the sum of its workloads is the best we have. */
                        cu->have_prev = false;
                        for (size_t i = 0; i < t->n_items; i++)
                                if (t->items[i].id.cls == (WorkloadClass) c) {
                                        cu->cpu_cores += t->items[i].cpu_cores;
                                        cu->usage.mem_usage += t->items[i].usage.mem_usage;
                                        cu->usage.mem_working_set += t->items[i].usage.mem_working_set;
                                }
                }
        }

        CgUsage root_usage = {};
        uint64_t capacity = node.mem_total;
        if (cg_group_read_usage_fields(t->root_group, CG_USAGE_MEMORY, &root_usage, NULL) >= 0 && root_usage.mem_limit > 0 &&
            root_usage.mem_limit < capacity)
                capacity = root_usage.mem_limit;

        *s = (NodeSample) {
                .now_usec = now_usec,
                .cpu_capacity_cores = t->fixed_cpu_capacity > 0 ? t->fixed_cpu_capacity : (double) node.n_cpus,
                .mem_capacity = capacity,
                .mem_available = node.mem_available,
                .online_cpu_usage = t->cls[CLASS_ONLINE].cpu_cores,
                .offline_cpu_usage = t->cls[CLASS_OFFLINE].cpu_cores,
                .online_mem_working_set = t->cls[CLASS_ONLINE].usage.mem_working_set,
                .offline_mem_working_set = t->cls[CLASS_OFFLINE].usage.mem_working_set,
                .offline_mem_usage = t->cls[CLASS_OFFLINE].usage.mem_usage,
                .cpu_idle_available = cg_group_has_file(t->root_group, CG_CTRL_CPU, "cpu.idle"),
                .mem_high_available = cg_group_has_file(t->root_group, CG_CTRL_MEMORY, "memory.high"),
                .online_mem_pressure = t->cls[CLASS_ONLINE].usage.mem_pressure.valid
                                               ? t->cls[CLASS_ONLINE].usage.mem_pressure
                                               : node.mem_pressure,
                .host_cpu_pressure = node.cpu_pressure,
                .host_mem_pressure = node.mem_pressure,
                .workloads = t->samples,
                .n_workloads = t->n_items,
        };
        t->n_samples++;
        return failed;
}
