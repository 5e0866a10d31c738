/* The tracker: a sorted array of workloads with their open groups, merged against the source's
 * list on each refresh (allocating only when the set changed), and the per-sample reads that turn
 * the cgroup counters into a NodeSample. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/collect.h"
#include "workloads/tracker.h"
#include "util/fileio.h"
#include "util/macro.h"

/* Per workload, only what the sample uses: CPU time, memory usage and working set, tasks. No
 * pressure files (the policy reads pressure of the online parent and the host; online workloads
 * without a parent add them, see sample_workload()), nor throttling counters, limits or OOM
 * kills, which the standalone sample has no field for. */
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
        WorkloadSource source;
        CgGroup *root_group;
        ClassUsage root_usage;          /* SOURCE_ONLINE_IS_THE_REST: the root's CPU rate */

        TrackedWorkload *items;         /* sorted by (name, tier, path) */
        size_t n_items;
        const TrackedWorkload **by_path;        /* the same, sorted by path */
        WorkloadSample *samples;
        size_t samples_cap;
        ClassUsage cls[_CLASS_MAX];
        /* SOURCE_ONLINE_IS_THE_REST: the online stall counters the policy reads, made of the most
         * stalled online workload of each interval (online_stall()). */
        uint64_t online_cpu_stall_usec, online_io_stall_usec;
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
        free(t->by_path);
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
        t->source = opts && opts->source ? *opts->source : (WorkloadSource) { .ops = &workload_source_tree };
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

static int compare_name_with_item(const void *key, const void *item) {
        return strcmp(key, ((const TrackedWorkload *) item)->id.name);
}

int tracker_find(const Tracker *t, const char *name) {
        const TrackedWorkload *w = t->n_items > 0 ? bsearch(name, t->items, t->n_items, sizeof(*t->items),
                                                             compare_name_with_item)
                                                  : NULL;
        if (!w)
                return -ENOENT;
        while (w > t->items && strcmp(w[-1].id.name, name) == 0)
                w--;
        return (int) (w - t->items);
}

const CgUsage *tracker_class_usage(const Tracker *t, WorkloadClass c) {
        return c >= 0 && c < _CLASS_MAX ? &t->cls[c].usage : NULL;
}

CgGroup *tracker_class_group(Tracker *t, WorkloadClass c) {
        return c >= 0 && c < _CLASS_MAX ? t->cls[c].group : NULL;
}

static int compare_ids(const TreeWorkload *a, const TreeWorkload *b) {
        int c = strcmp(a->name, b->name);
        if (c != 0)
                return c;
        if (a->tier != b->tier)
                return (int) a->tier - (int) b->tier;
        return strcmp(a->path, b->path);
}

static int compare_listed(const void *a, const void *b) {
        return compare_ids(&((const SourceWorkload *) a)->id, &((const SourceWorkload *) b)->id);
}

static int compare_path_with_item(const void *key, const void *item) {
        return strcmp(key, (*(const TrackedWorkload *const *) item)->id.path);
}

static int compare_by_path(const void *a, const void *b) {
        return strcmp((*(const TrackedWorkload *const *) a)->id.path, (*(const TrackedWorkload *const *) b)->id.path);
}

CgGroup *tracker_workload_group(Tracker *t, const char *path) {
        if (!path || !t->by_path || t->n_items == 0)
                return NULL;
        const TrackedWorkload *const *w = bsearch(path, t->by_path, t->n_items, sizeof(*t->by_path), compare_path_with_item);
        return w ? (*w)->group : NULL;
}

/* Opens class parents that appeared since the last refresh (the agent or `colo run` creates them). */
static void open_class_groups(Tracker *t) {
        if (t->source.ops->class_usage != SOURCE_CLASS_PARENTS)
                return;
        for (int c = 0; c < _CLASS_MAX; c++) {
                if (t->cls[c].group)
                        continue;
                if (cg_group_open(t->root, tree_class_path((WorkloadClass) c), false, &t->cls[c].group, NULL) < 0)
                        t->cls[c].group = NULL;
                t->cls[c].have_prev = false;
        }
}

/* Groups whose last read failed may be a directory removed and recreated: a fresh handle. */
static void reopen_failed(Tracker *t) {
        for (size_t i = 0; i < t->n_items; i++) {
                TrackedWorkload *w = &t->items[i];
                CgGroup *g = NULL;
                if (!w->read_failed || cg_group_open(t->root, w->id.path, false, &g, NULL) < 0)
                        continue;
                cg_group_free(w->group);
                w->group = g;
                w->have_prev = w->have_inactive = false;
        }
}

static int index_by_path(Tracker *t, ColoError *err) {
        const TrackedWorkload **p = reallocarray(t->by_path, MAX(t->n_items, (size_t) 1), sizeof(*p));
        if (!p)
                return colo_error_set(err, ENOMEM, "index %zu workloads", t->n_items);
        t->by_path = p;
        for (size_t i = 0; i < t->n_items; i++)
                p[i] = &t->items[i];
        qsort(p, t->n_items, sizeof(*p), compare_by_path);
        return 0;
}

/* Merges the sorted list into the items: keeps matches (and their open groups), opens new ones. */
static int merge(Tracker *t, const SourceWorkload *found, size_t n_found, uint64_t now_usec, TrackerChangeCallback cb,
                 void *userdata, ColoError *err) {
        TrackedWorkload *items = n_found > 0 ? calloc(n_found, sizeof(*items)) : NULL;
        if (n_found > 0 && !items)
                return colo_error_set(err, ENOMEM, "track %zu workloads", n_found);
        size_t i = 0, j = 0, n = 0;
        int changes = 0;
        while (i < n_found || j < t->n_items) {
                int c = i >= n_found ? 1 : j >= t->n_items ? -1 : compare_ids(&found[i].id, &t->items[j].id);
                if (c == 0) {
                        items[n] = t->items[j++];
                        items[n].cpu_limit_cores = found[i].cpu_limit_cores;
                        items[n++].mem_limit = found[i++].mem_limit;
                } else if (c > 0) {             /* gone from the source */
                        if (cb)
                                cb(userdata, &t->items[j].id, false);
                        tracked_done(&t->items[j++]);
                        changes++;
                } else {                        /* new */
                        TrackedWorkload w = { .id = found[i].id, .cpu_limit_cores = found[i].cpu_limit_cores,
                                              .mem_limit = found[i].mem_limit, .first_seen_usec = now_usec };
                        i++;
                        if (cg_group_open(t->root, w.id.path, false, &w.group, NULL) < 0)
                                continue;       /* not there (yet, or any more): tried again next time */
                        items[n++] = w;
                        if (cb)
                                cb(userdata, &w.id, true);
                        changes++;
                }
        }
        free(t->items);
        t->items = items;
        t->n_items = n;
        /* Without the index, lookups by path find nothing until the next change: handles are
         * then not lent, which costs opens, not correctness. */
        if (index_by_path(t, err) < 0) {
                free(t->by_path);
                t->by_path = NULL;
                return -ENOMEM;
        }
        return changes;
}

int tracker_refresh(Tracker *t, uint64_t now_usec, TrackerChangeCallback cb, void *userdata, ColoError *err) {
        _cleanup_free_ SourceWorkload *found = NULL;
        size_t n_found = 0;

        open_class_groups(t);
        reopen_failed(t);
        int r = t->source.ops->list(t->source.userdata, t->root, &found, &n_found, err);
        if (r < 0)
                return r;
        if (n_found > 1)
                qsort(found, n_found, sizeof(*found), compare_listed);

        bool same = n_found == t->n_items;
        for (size_t i = 0; same && i < n_found; i++)
                same = compare_ids(&found[i].id, &t->items[i].id) == 0;
        if (!same)
                return merge(t, found, n_found, now_usec, cb, userdata, err);
        for (size_t i = 0; i < n_found; i++) {
                t->items[i].cpu_limit_cores = found[i].cpu_limit_cores;
                t->items[i].mem_limit = found[i].mem_limit;
        }
        return 0;
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

/* One workload's read into its runtime and its WorkloadSample. Returns false when it failed. */
static bool sample_workload(Tracker *t, size_t i, uint64_t now_usec) {
        TrackedWorkload *w = &t->items[i];
        bool stat = !w->have_inactive || (t->n_samples + i) % TRACKER_WORKING_SET_EVERY == 0;
        unsigned fields = stat ? WORKLOAD_USAGE_FIELDS : WORKLOAD_USAGE_FIELDS & ~CG_USAGE_WORKING_SET;
        /* Online work without a parent of its own (pods): its cpu and io pressure is read per
         * workload (online_stall()); memory pressure comes from the root, so memory.pressure is not read. */
        if (w->id.cls == CLASS_ONLINE && t->source.ops->class_usage == SOURCE_ONLINE_IS_THE_REST)
                fields |= CG_USAGE_CPU_IO_PRESSURE;
        int r = cg_group_read_usage_fields(w->group, fields, &w->usage, NULL);
        w->read_failed = r < 0;
        if (r < 0) {
                w->usage = (CgUsage) {};
                w->have_prev = false;
                w->have_inactive = false;
                w->cpu_cores = 0;
        } else {
                if (stat) {
                        /* The layer floors the working set at 0: then all of usage is inactive. */
                        w->inactive_file = w->usage.mem_usage - w->usage.mem_working_set;
                        w->have_inactive = true;
                } else
                        w->usage.mem_working_set = w->usage.mem_usage > w->inactive_file
                                                           ? w->usage.mem_usage - w->inactive_file
                                                           : 0;
                w->cpu_cores = cpu_rate(w->usage.cpu_usage_usec, now_usec, &w->prev_cpu_usec, &w->prev_sample_usec,
                                        &w->have_prev);
        }
        if (w->usage.nr_tasks > 0) {
                w->ever_populated = true;
                w->empty_since_usec = 0;
        } else if (w->empty_since_usec == 0)
                w->empty_since_usec = now_usec;

        WorkloadSample *ws = &t->samples[i];
        *ws = (WorkloadSample) {
                .cls = w->id.cls,
                .tier = w->id.tier,
                .cpu_usage_cores = w->cpu_cores,
                .mem_usage = w->usage.mem_usage,
                .mem_working_set = w->usage.mem_working_set,
                .nr_tasks = w->usage.nr_tasks,
                .cpu_limit_cores = w->cpu_limit_cores,
                .mem_limit = w->mem_limit,
                .being_evicted = w->being_evicted,
        };
        memcpy(ws->name, w->id.name, sizeof(ws->name));
        return r >= 0;
}

/* The class's usage as the sum of its workloads. */
static void sum_workloads(const Tracker *t, WorkloadClass c, ClassUsage *cu) {
        cu->cpu_cores = 0;
        cu->usage = (CgUsage) {};
        for (size_t i = 0; i < t->n_items; i++)
                if (t->items[i].id.cls == c) {
                        cu->cpu_cores += t->items[i].cpu_cores;
                        cu->usage.mem_usage += t->items[i].usage.mem_usage;
                        cu->usage.mem_working_set += t->items[i].usage.mem_working_set;
                }
}

static void sample_class_parents(Tracker *t, uint64_t now_usec) {
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
                        sum_workloads(t, (WorkloadClass) c, cu);
                }
        }
}

/* One stall counter's growth since the previous sample (0 at the first, or after a reset). */
static uint64_t stall_growth(uint64_t now, uint64_t *prev, bool have_prev) {
        uint64_t grown = have_prev && now >= *prev ? now - *prev : 0;
        *prev = now;
        return grown;
}

/* The online CPU and IO pressure where online work has no common parent (SOURCE_ONLINE_IS_THE_
 * REST: pods under kubelet's tree, whose root also holds the offline pods, so the root's own
 * pressure would count offline's stalls): each interval, the stall of the most stalled online
 * workload, added to a counter of the tracker's, and the largest avg10. It is a lower bound of
 * the stall of all online work together (at least one online task waiting), so the controller
 * squeezes offline when any one online workload waits more than the target. !valid when no
 * online workload has pressure files (v1 without a cgroup2 mirror of the pods). */
static void online_stall(Tracker *t, CgUsage *online) {
        uint64_t cpu_max = 0, io_max = 0;
        bool cpu_valid = false, io_valid = false;
        for (size_t i = 0; i < t->n_items; i++) {
                TrackedWorkload *w = &t->items[i];
                if (w->id.cls != CLASS_ONLINE || w->read_failed)
                        continue;
                const CgPressure *cpu = &w->usage.cpu_pressure, *io = &w->usage.io_pressure;
                uint64_t c = stall_growth(cpu->some_total_usec, &w->prev_cpu_stall_usec, w->have_prev_stall);
                uint64_t o = stall_growth(io->some_total_usec, &w->prev_io_stall_usec, w->have_prev_stall);
                w->have_prev_stall = cpu->valid;
                if (cpu->valid) {
                        cpu_valid = true;
                        cpu_max = MAX(cpu_max, c);
                        online->cpu_pressure.some_avg10 = MAX(online->cpu_pressure.some_avg10, cpu->some_avg10);
                }
                if (io->valid) {
                        io_valid = true;
                        io_max = MAX(io_max, o);
                        online->io_pressure.some_avg10 = MAX(online->io_pressure.some_avg10, io->some_avg10);
                }
        }
        t->online_cpu_stall_usec += cpu_max;
        t->online_io_stall_usec += io_max;
        online->cpu_pressure.valid = cpu_valid;
        online->cpu_pressure.some_total_usec = t->online_cpu_stall_usec;
        online->io_pressure.valid = io_valid;
        online->io_pressure.some_total_usec = t->online_io_stall_usec;
}

/* SOURCE_ONLINE_IS_THE_REST: offline = its workloads, online = the root minus offline. */
static void sample_root_minus_offline(Tracker *t, uint64_t now_usec) {
        ClassUsage *root = &t->root_usage, *on = &t->cls[CLASS_ONLINE], *off = &t->cls[CLASS_OFFLINE];
        root->usage = (CgUsage) {};
        root->cpu_cores = 0;
        if (cg_group_read_usage_fields(t->root_group, CLASS_USAGE_FIELDS, &root->usage, NULL) >= 0)
                root->cpu_cores = cpu_rate(root->usage.cpu_usage_usec, now_usec, &root->prev_cpu_usec,
                                           &root->prev_sample_usec, &root->have_prev);
        else {
                root->usage = (CgUsage) {};
                root->have_prev = false;
        }
        sum_workloads(t, CLASS_OFFLINE, off);
        on->cpu_cores = MAX(root->cpu_cores - off->cpu_cores, 0.0);
        on->usage = (CgUsage) {
                .mem_usage = root->usage.mem_usage > off->usage.mem_usage ? root->usage.mem_usage - off->usage.mem_usage : 0,
                .mem_working_set = root->usage.mem_working_set > off->usage.mem_working_set
                                           ? root->usage.mem_working_set - off->usage.mem_working_set
                                           : 0,
                .mem_pressure = root->usage.mem_pressure,
        };
        online_stall(t, &on->usage);
}

static int grow_samples(Tracker *t, ColoError *err) {
        if (t->samples_cap >= t->n_items)
                return 0;
        size_t cap = MAX(t->n_items, t->samples_cap * 2);
        WorkloadSample *ns = realloc(t->samples, cap * sizeof(*ns));
        if (!ns)
                return colo_error_set(err, ENOMEM, "sample %zu workloads", t->n_items);
        t->samples = ns;
        t->samples_cap = cap;
        return 0;
}

int tracker_sample(Tracker *t, uint64_t now_usec, ColoError *err) {
        CollectNode node;
        int failed = 0;

        int r = collect_node(t->proc_root, NULL, &node, err);
        if (r < 0)
                return r;
        r = grow_samples(t, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < t->n_items; i++)
                failed += !sample_workload(t, i, now_usec);
        if (t->source.ops->class_usage == SOURCE_CLASS_PARENTS)
                sample_class_parents(t, now_usec);
        else
                sample_root_minus_offline(t, now_usec);

        CgUsage root_usage = {};
        uint64_t capacity = node.mem_total;
        if (t->source.ops->class_usage == SOURCE_CLASS_PARENTS)
                (void) cg_group_read_usage_fields(t->root_group, CG_USAGE_MEMORY, &root_usage, NULL);
        else
                root_usage = t->root_usage.usage;
        if (root_usage.mem_limit > 0 && root_usage.mem_limit < capacity)
                capacity = root_usage.mem_limit;

        const ClassUsage *on = &t->cls[CLASS_ONLINE], *off = &t->cls[CLASS_OFFLINE];
        t->node = (NodeSample) {
                .now_usec = now_usec,
                .cpu_capacity_cores = t->fixed_cpu_capacity > 0 ? t->fixed_cpu_capacity : (double) node.n_cpus,
                .mem_capacity = capacity,
                .mem_available = node.mem_available,
                .online_cpu_usage = on->cpu_cores,
                .offline_cpu_usage = off->cpu_cores,
                .online_mem_working_set = on->usage.mem_working_set,
                .offline_mem_working_set = off->usage.mem_working_set,
                .offline_mem_usage = off->usage.mem_usage,
                .cpu_idle_available = cg_group_has_file(t->root_group, CG_CTRL_CPU, "cpu.idle"),
                .mem_high_available = cg_group_has_file(t->root_group, CG_CTRL_MEMORY, "memory.high"),
                .io_throttle_per_leaf = cg_root_mode(t->root) != CG_MODE_V2,
                .online_mem_pressure = on->usage.mem_pressure.valid ? on->usage.mem_pressure : node.mem_pressure,
                .host_cpu_pressure = node.cpu_pressure,
                .host_mem_pressure = node.mem_pressure,
                .online_cpu_pressure = t->cls[CLASS_ONLINE].usage.cpu_pressure,
                .online_io_pressure = t->cls[CLASS_ONLINE].usage.io_pressure,
                .online_cpu_nr_periods = t->cls[CLASS_ONLINE].usage.cpu_nr_periods,
                .online_cpu_nr_throttled = t->cls[CLASS_ONLINE].usage.cpu_nr_throttled,
                .workloads = t->samples,
                .n_workloads = t->n_items,
        };
        t->n_samples++;
        return failed;
}
