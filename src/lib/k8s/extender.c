/* Scheduler extender: parses ExtenderArgs once into plain ExtenderNode structs, decides per node,
 * and writes the result. Candidate nodes come from the request (full Nodes) or, by name, from a
 * sorted, immutable ExtenderNodeSet that request threads share by reference count. */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "k8s/extender.h"
#include "k8s/pod-class.h"
#include "k8s/resource-quantity.h"
#include "util/macro.h"

/* ---- nodes ---------------------------------------------------------------------------------- */

static int64_t quantity_or_unknown(const json_t *map, const char *key, unsigned scale) {
        const json_t *v = json_object_get(map, key);
        int64_t x;
        if (json_is_string(v) && quantity_parse_scaled(json_string_value(v), scale, &x) >= 0)
                return x;
        if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= INT64_MAX / 1000)
                return json_integer_value(v) * (scale == 3 ? 1000 : 1);
        return -1;
}

int extender_node_from_json(const json_t *node, ExtenderNode *ret, ColoError *err) {
        const json_t *meta = json_object_get(node, "metadata");
        const json_t *name = json_object_get(meta, "name");
        if (!json_is_string(name) || json_string_length(name) == 0)
                return colo_error_setf_plain(err, EINVAL, "node without metadata.name");
        ExtenderNode n = { .name = json_string_value(name) };

        const json_t *status = json_object_get(node, "status");
        const json_t *alloc = json_object_get(status, "allocatable");
        if (!json_is_object(alloc))
                alloc = json_object_get(status, "capacity");
        n.alloc_cpu_milli = quantity_or_unknown(alloc, "cpu", 3);
        n.alloc_memory = quantity_or_unknown(alloc, "memory", 0);
        /* colo.io/offline-cpu counts millicores as an integer quantity. */
        n.alloc_offline_cpu_milli = quantity_or_unknown(alloc, NODE_OFFLINE_CPU_RESOURCE, 0);
        n.alloc_offline_memory = quantity_or_unknown(alloc, NODE_OFFLINE_MEMORY_RESOURCE, 0);

        const json_t *usage = json_object_get(json_object_get(meta, "annotations"), NODE_USAGE_ANNOTATION);
        if (json_is_string(usage))
                n.has_usage = node_usage_parse(json_string_value(usage), json_string_length(usage), &n.usage, NULL) >= 0;
        *ret = n;
        return 0;
}

struct ExtenderNodeSet {
        unsigned refs;
        size_t n;
        ExtenderNode *nodes;            /* sorted by name; names owned */
};

static int node_cmp(const void *a, const void *b) {
        return strcmp(((const ExtenderNode *) a)->name, ((const ExtenderNode *) b)->name);
}

ExtenderNodeSet *extender_node_set_unref(ExtenderNodeSet *s) {
        if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) > 0)
                return NULL;
        for (size_t i = 0; i < s->n; i++)
                free((char *) s->nodes[i].name);
        free(s->nodes);
        free(s);
        return NULL;
}

ExtenderNodeSet *extender_node_set_ref(ExtenderNodeSet *s) {
        if (s)
                __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
        return s;
}

int extender_node_set_new(const json_t *node_list, ExtenderNodeSet **ret, ColoError *err) {
        const json_t *items = json_is_array(node_list) ? node_list : json_object_get(node_list, "items");
        if (!json_is_array(items))
                return colo_error_setf_plain(err, EINVAL, "NodeList: items missing or not an array");
        _cleanup_(extender_node_set_unrefp) ExtenderNodeSet *s = calloc(1, sizeof(*s));
        if (!s)
                return colo_error_set(err, ENOMEM, "node set");
        s->refs = 1;
        s->nodes = calloc(MAX(json_array_size(items), (size_t) 1), sizeof(ExtenderNode));
        if (!s->nodes)
                return colo_error_set(err, ENOMEM, "node set");
        size_t i;
        const json_t *item;
        json_array_foreach(items, i, item) {
                ExtenderNode n;
                int r = extender_node_from_json(item, &n, err);
                if (r < 0)
                        return colo_error_wrap(err, "NodeList items[%zu]", i);
                n.name = strdup(n.name);
                if (!n.name)
                        return colo_error_set(err, ENOMEM, "node set");
                s->nodes[s->n++] = n;
        }
        qsort(s->nodes, s->n, sizeof(ExtenderNode), node_cmp);
        for (i = 1; i < s->n; i++)
                if (strcmp(s->nodes[i - 1].name, s->nodes[i].name) == 0)
                        return colo_error_setf_plain(err, EINVAL, "NodeList: node '%s' listed twice", s->nodes[i].name);
        *ret = TAKE_PTR(s);
        return 0;
}

size_t extender_node_set_size(const ExtenderNodeSet *s) {
        return s ? s->n : 0;
}

const ExtenderNode *extender_node_set_find(const ExtenderNodeSet *s, const char *name) {
        if (!s)
                return NULL;
        ExtenderNode key = { .name = name };
        return bsearch(&key, s->nodes, s->n, sizeof(ExtenderNode), node_cmp);
}

struct ExtenderNodeCache {
        pthread_mutex_t lock;
        ExtenderNodeSet *current;
};

int extender_node_cache_new(ExtenderNodeCache **ret) {
        ExtenderNodeCache *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        pthread_mutex_init(&c->lock, NULL);
        *ret = c;
        return 0;
}

ExtenderNodeCache *extender_node_cache_free(ExtenderNodeCache *c) {
        if (!c)
                return NULL;
        extender_node_set_unref(c->current);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
}

void extender_node_cache_replace(ExtenderNodeCache *c, ExtenderNodeSet *s) {
        extender_node_set_ref(s);
        pthread_mutex_lock(&c->lock);
        ExtenderNodeSet *old = c->current;
        c->current = s;
        pthread_mutex_unlock(&c->lock);
        extender_node_set_unref(old);
}

ExtenderNodeSet *extender_node_cache_acquire(ExtenderNodeCache *c) {
        pthread_mutex_lock(&c->lock);
        ExtenderNodeSet *s = extender_node_set_ref(c->current);
        pthread_mutex_unlock(&c->lock);
        return s;
}

/* ---- the pod -------------------------------------------------------------------------------- */

typedef struct PodDemand {
        int64_t cpu_milli;
        int64_t memory;
        int64_t offline_cpu_milli;
        int64_t offline_memory;
} PodDemand;

enum { DEMAND_CPU, DEMAND_MEMORY, DEMAND_OFFLINE_CPU, DEMAND_OFFLINE_MEMORY, _DEMAND_MAX };

static const struct {
        const char *name;
        unsigned scale;
} demand_resources[_DEMAND_MAX] = {
        [DEMAND_CPU] = { "cpu", 3 },
        [DEMAND_MEMORY] = { "memory", 0 },
        [DEMAND_OFFLINE_CPU] = { NODE_OFFLINE_CPU_RESOURCE, 0 },
        [DEMAND_OFFLINE_MEMORY] = { NODE_OFFLINE_MEMORY_RESOURCE, 0 },
};

static int64_t sat_add(int64_t a, int64_t b) {
        return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int container_requests(const json_t *c, const char *where, int64_t out[static _DEMAND_MAX], ColoError *err) {
        const json_t *req = json_object_get(json_object_get(c, "resources"), "requests");
        for (int d = 0; d < _DEMAND_MAX; d++) {
                out[d] = 0;
                const json_t *v = json_object_get(req, demand_resources[d].name);
                if (!v)
                        continue;
                if (!json_is_string(v) || quantity_parse_scaled(json_string_value(v), demand_resources[d].scale, &out[d]) < 0)
                        return colo_error_setf_plain(err, EINVAL, "pod %s requests %s: not a valid quantity", where,
                                                     demand_resources[d].name);
        }
        return 0;
}

/* The pod's effective request as kube-scheduler computes it: the sum over containers (plus
 * restartable init containers, i.e. sidecars), at least the largest ordinary init container,
 * plus spec.overhead. */
static int pod_demand(const json_t *pod, PodDemand *ret, ColoError *err) {
        const json_t *spec = json_object_get(pod, "spec");
        const json_t *containers = json_object_get(spec, "containers");
        const json_t *init = json_object_get(spec, "initContainers");
        if (!json_is_array(containers))
                return colo_error_setf_plain(err, EINVAL, "pod.spec.containers: missing or not an array");
        if (init && !json_is_array(init) && !json_is_null(init))
                return colo_error_setf_plain(err, EINVAL, "pod.spec.initContainers: not an array");
        int64_t sum[_DEMAND_MAX] = {}, init_max[_DEMAND_MAX] = {}, c[_DEMAND_MAX];
        size_t i;
        const json_t *v;
        char where[64];
        json_array_foreach(containers, i, v) {
                snprintf(where, sizeof(where), "containers[%zu]", i);
                if (container_requests(v, where, c, err) < 0)
                        return -EINVAL;
                for (int d = 0; d < _DEMAND_MAX; d++)
                        sum[d] = sat_add(sum[d], c[d]);
        }
        json_array_foreach(init, i, v) {
                snprintf(where, sizeof(where), "initContainers[%zu]", i);
                if (container_requests(v, where, c, err) < 0)
                        return -EINVAL;
                const char *policy = json_string_value(json_object_get(v, "restartPolicy"));
                bool sidecar = policy && strcmp(policy, "Always") == 0;
                for (int d = 0; d < _DEMAND_MAX; d++)
                        if (sidecar)
                                sum[d] = sat_add(sum[d], c[d]);
                        else
                                init_max[d] = MAX(init_max[d], c[d]);
        }
        const json_t *overhead = json_object_get(spec, "overhead");
        int64_t o[_DEMAND_MAX] = {};
        if (overhead) {
                const json_t *wrapper = json_pack("{s:{s:O}}", "resources", "requests", overhead);
                int r = wrapper ? container_requests(wrapper, "overhead", o, err) : -ENOMEM;
                json_decref((json_t *) wrapper);
                if (r < 0)
                        return r == -ENOMEM ? colo_error_set(err, ENOMEM, "pod overhead") : r;
        }
        int64_t total[_DEMAND_MAX];
        for (int d = 0; d < _DEMAND_MAX; d++)
                total[d] = sat_add(MAX(sum[d], init_max[d]), o[d]);
        *ret = (PodDemand) { total[DEMAND_CPU], total[DEMAND_MEMORY], total[DEMAND_OFFLINE_CPU], total[DEMAND_OFFLINE_MEMORY] };
        return 0;
}

/* ---- decisions ------------------------------------------------------------------------------ */

typedef struct Verdict {
        bool pass;
        bool unresolvable;
        char reason[256];
} Verdict;

static bool usage_fresh(const ExtenderConfig *cfg, const ExtenderNode *n, uint64_t now) {
        return n->has_usage && node_usage_is_fresh(&n->usage, now, cfg->stale_after_usec);
}

static int64_t online_alloc_cpu(const ExtenderNode *n) {
        return n->alloc_cpu_milli >= 0 ? n->alloc_cpu_milli : n->usage.cpu_capacity_milli;
}

static int64_t online_alloc_memory(const ExtenderNode *n) {
        return n->alloc_memory >= 0 ? n->alloc_memory : n->usage.mem_capacity;
}

static void format_mib(int64_t bytes, char *buf, size_t size) {
        snprintf(buf, size, "%.0fMi", (double) bytes / (1 << 20));
}

static Verdict filter_online(const ExtenderConfig *cfg, const ExtenderNode *n, const PodDemand *pod, uint64_t now) {
        Verdict v = { .pass = true };
        if (!usage_fresh(cfg, n, now))
                return v;
        int64_t cpu = online_alloc_cpu(n), mem = online_alloc_memory(n);
        double cpu_limit = (double) cpu * cfg->cpu_threshold, mem_limit = (double) mem * cfg->memory_threshold;
        if (cpu > 0 && (double) sat_add(n->usage.cpu_peak_milli, pod->cpu_milli) > cpu_limit) {
                snprintf(v.reason, sizeof(v.reason),
                         "colo: predicted cpu peak %" PRId64 "m + pod request %" PRId64 "m exceeds %.0f%% of allocatable "
                         "%" PRId64 "m", n->usage.cpu_peak_milli, pod->cpu_milli, cfg->cpu_threshold * 100, cpu);
                v.pass = false;
        } else if (mem > 0 && (double) sat_add(n->usage.mem_peak, pod->memory) > mem_limit) {
                char peak[32], req[32], alloc[32];
                format_mib(n->usage.mem_peak, peak, sizeof(peak));
                format_mib(pod->memory, req, sizeof(req));
                format_mib(mem, alloc, sizeof(alloc));
                snprintf(v.reason, sizeof(v.reason),
                         "colo: predicted memory peak %s + pod request %s exceeds %.0f%% of allocatable %s", peak, req,
                         cfg->memory_threshold * 100, alloc);
                v.pass = false;
        }
        v.unresolvable = !v.pass;
        return v;
}

static int64_t offline_budget_cpu(const ExtenderNode *n) {
        return n->alloc_offline_cpu_milli >= 0 ? MIN(n->alloc_offline_cpu_milli, n->usage.offline_cpu_milli)
                                               : n->usage.offline_cpu_milli;
}

static int64_t offline_budget_memory(const ExtenderNode *n) {
        return n->alloc_offline_memory >= 0 ? MIN(n->alloc_offline_memory, n->usage.offline_memory)
                                            : n->usage.offline_memory;
}

static Verdict filter_offline(const ExtenderConfig *cfg, const ExtenderNode *n, const PodDemand *pod, uint64_t now) {
        Verdict v = { .pass = true };
        if (!usage_fresh(cfg, n, now))
                return v;
        /* Only the budget the agent computes now (n->usage) is checked here: status.allocatable is
         * kube-scheduler's own business, and the annotation leads it. */
        if (pod->offline_cpu_milli > 0 &&
            sat_add(n->usage.offline_cpu_requested_milli, pod->offline_cpu_milli) > n->usage.offline_cpu_milli) {
                snprintf(v.reason, sizeof(v.reason),
                         "colo: offline cpu budget %" PRId64 "m, already requested %" PRId64 "m, pod needs %" PRId64 "m",
                         n->usage.offline_cpu_milli, n->usage.offline_cpu_requested_milli, pod->offline_cpu_milli);
                v.pass = false;
        } else if (pod->offline_memory > 0 &&
                   sat_add(n->usage.offline_memory_requested, pod->offline_memory) > n->usage.offline_memory) {
                char budget[32], used[32], req[32];
                format_mib(n->usage.offline_memory, budget, sizeof(budget));
                format_mib(n->usage.offline_memory_requested, used, sizeof(used));
                format_mib(pod->offline_memory, req, sizeof(req));
                snprintf(v.reason, sizeof(v.reason),
                         "colo: offline memory budget %s, already requested %s, pod needs %s", budget, used, req);
                v.pass = false;
        }
        return v;
}

/* Online score: free share of allocatable left under the predicted peak, 0..10. */
static int score_online(const ExtenderConfig *cfg, const ExtenderNode *n, const PodDemand *pod, uint64_t now) {
        if (!usage_fresh(cfg, n, now))
                return 0;
        int64_t cpu = online_alloc_cpu(n), mem = online_alloc_memory(n);
        if (cpu <= 0 || mem <= 0)
                return 0;
        double fc = 1.0 - (double) sat_add(n->usage.cpu_peak_milli, pod->cpu_milli) / (double) cpu;
        double fm = 1.0 - (double) sat_add(n->usage.mem_peak, pod->memory) / (double) mem;
        double f = CLAMP(MIN(fc, fm), 0.0, 1.0);
        return (int) floor(f * EXTENDER_MAX_PRIORITY);
}

typedef struct Headroom {
        bool known;
        int64_t cpu_milli;
        int64_t memory;
} Headroom;

static Headroom offline_headroom(const ExtenderConfig *cfg, const ExtenderNode *n, const PodDemand *pod, uint64_t now) {
        if (!usage_fresh(cfg, n, now))
                return (Headroom) { .known = false };
        return (Headroom) {
                .known = true,
                .cpu_milli = offline_budget_cpu(n) - n->usage.offline_cpu_requested_milli - pod->offline_cpu_milli,
                .memory = offline_budget_memory(n) - n->usage.offline_memory_requested - pod->offline_memory,
        };
}

/* ---- protocol ------------------------------------------------------------------------------- */

typedef struct Candidates {
        size_t n;
        ExtenderNode *nodes;            /* names point into the request or the node set */
        const json_t **objects;         /* full Node objects (nodes mode), else NULL */
        bool by_name;
} Candidates;

static void candidates_done(Candidates *c) {
        free(c->nodes);
        free(c->objects);
}

static int read_candidates(const json_t *args, const ExtenderNodeSet *set, Candidates *ret, bool *ret_no_cache,
                           ColoError *err) {
        const json_t *nodes = json_object_get(args, "nodes");
        const json_t *names = json_object_get(args, "nodenames");
        Candidates c = {};
        *ret_no_cache = false;
        if (nodes && !json_is_null(nodes)) {
                const json_t *items = json_object_get(nodes, "items");
                if (!json_is_object(nodes) || (items && !json_is_array(items) && !json_is_null(items)))
                        return colo_error_setf_plain(err, EINVAL, "nodes: not a NodeList");
                size_t count = json_array_size(items);
                c.nodes = calloc(MAX(count, (size_t) 1), sizeof(ExtenderNode));
                c.objects = calloc(MAX(count, (size_t) 1), sizeof(json_t *));
                if (!c.nodes || !c.objects) {
                        candidates_done(&c);
                        return colo_error_set(err, ENOMEM, "candidates");
                }
                size_t i;
                const json_t *item;
                json_array_foreach(items, i, item) {
                        if (extender_node_from_json(item, &c.nodes[i], err) < 0) {
                                candidates_done(&c);
                                return colo_error_wrap(err, "nodes.items[%zu]", i);
                        }
                        c.objects[i] = item;
                }
                c.n = count;
        } else if (names && !json_is_null(names)) {
                if (!json_is_array(names))
                        return colo_error_setf_plain(err, EINVAL, "nodenames: not an array");
                c.by_name = true;
                if (!set) {
                        *ret_no_cache = true;
                        *ret = c;
                        return 0;
                }
                size_t count = json_array_size(names);
                c.nodes = calloc(MAX(count, (size_t) 1), sizeof(ExtenderNode));
                if (!c.nodes)
                        return colo_error_set(err, ENOMEM, "candidates");
                size_t i;
                const json_t *name;
                json_array_foreach(names, i, name) {
                        if (!json_is_string(name) || json_string_length(name) == 0) {
                                candidates_done(&c);
                                return colo_error_setf_plain(err, EINVAL, "nodenames[%zu]: not a node name", i);
                        }
                        const ExtenderNode *known = extender_node_set_find(set, json_string_value(name));
                        c.nodes[i] = known ? *known
                                           : (ExtenderNode) { .name = json_string_value(name), .alloc_cpu_milli = -1,
                                                              .alloc_memory = -1, .alloc_offline_cpu_milli = -1,
                                                              .alloc_offline_memory = -1 };
                        c.nodes[i].name = json_string_value(name);
                }
                c.n = count;
        } else
                return colo_error_setf_plain(err, EINVAL, "ExtenderArgs has neither nodes nor nodenames");
        *ret = c;
        return 0;
}

static int dump(json_t *o, char **ret_body, size_t *ret_size, ColoError *err) {
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (!s)
                return colo_error_set(err, ENOMEM, "extender response");
        *ret_body = s;
        *ret_size = strlen(s);
        return 0;
}

char *extender_error_body(const char *message, size_t *ret_size) {
        json_auto_t *o = json_pack("{s:s}", "error", message ? message : "");
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (s && ret_size)
                *ret_size = strlen(s);
        return s;
}

#define NO_CACHE_MESSAGE                                                                          \
        "colo extender got only nodenames (nodeCacheCapable: true) but has no node data; set "    \
        "nodeCacheCapable: false in the KubeSchedulerConfiguration, or run colo extender with --node-source"

static int do_filter(const ExtenderConfig *cfg, bool offline, const PodDemand *demand, const Candidates *c,
                     uint64_t now, json_t *result, ExtenderStats *stats) {
        json_t *failed = json_object(), *unresolvable = json_object(), *passed = json_array();
        if (json_object_set_new(result, "failedNodes", failed) < 0 ||
            json_object_set_new(result, "failedAndUnresolvableNodes", unresolvable) < 0 || !passed)
                return -ENOMEM;
        json_t *items = passed;
        if (c->by_name) {
                if (json_object_set_new(result, "nodenames", passed) < 0)
                        return -ENOMEM;
        } else if (json_object_set_new(result, "nodes", json_pack("{s:{}, s:o}", "metadata", "items", passed)) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < c->n; i++) {
                const ExtenderNode *n = &c->nodes[i];
                if (!usage_fresh(cfg, n, now))
                        stats->without_data++;
                Verdict v = offline ? filter_offline(cfg, n, demand, now) : filter_online(cfg, n, demand, now);
                int r;
                if (v.pass) {
                        stats->passed++;
                        r = c->by_name ? json_array_append_new(items, json_string(n->name))
                                       : json_array_append(items, (json_t *) c->objects[i]);
                } else
                        r = json_object_set_new(v.unresolvable ? unresolvable : failed, n->name, json_string(v.reason));
                if (r < 0)
                        return -ENOMEM;
        }
        return json_object_set_new(result, "error", json_string("")) < 0 ? -ENOMEM : 0;
}

static int do_prioritize(const ExtenderConfig *cfg, bool offline, const PodDemand *demand, const Candidates *c,
                         uint64_t now, json_t *list, ExtenderStats *stats) {
        _cleanup_free_ int *scores = calloc(MAX(c->n, (size_t) 1), sizeof(int));
        _cleanup_free_ Headroom *room = offline ? calloc(MAX(c->n, (size_t) 1), sizeof(Headroom)) : NULL;
        if (!scores || (offline && !room))
                return -ENOMEM;
        int64_t best_cpu = 0, best_mem = 0;
        for (size_t i = 0; i < c->n; i++) {
                if (!usage_fresh(cfg, &c->nodes[i], now))
                        stats->without_data++;
                if (offline) {
                        room[i] = offline_headroom(cfg, &c->nodes[i], demand, now);
                        if (room[i].known) {
                                best_cpu = MAX(best_cpu, room[i].cpu_milli);
                                best_mem = MAX(best_mem, room[i].memory);
                        }
                } else
                        scores[i] = score_online(cfg, &c->nodes[i], demand, now);
        }
        if (offline) {
                /* Rank on the resources the pod asks for; a pod asking for none ranks on both. */
                bool use_cpu = demand->offline_cpu_milli > 0 || demand->offline_memory == 0;
                bool use_mem = demand->offline_memory > 0 || demand->offline_cpu_milli == 0;
                for (size_t i = 0; i < c->n; i++) {
                        if (!room[i].known)
                                continue;
                        double f = 1.0;
                        if (use_cpu)
                                f = MIN(f, best_cpu > 0 ? (double) MAX(room[i].cpu_milli, (int64_t) 0) / (double) best_cpu : 0.0);
                        if (use_mem)
                                f = MIN(f, best_mem > 0 ? (double) MAX(room[i].memory, (int64_t) 0) / (double) best_mem : 0.0);
                        scores[i] = (int) floor(CLAMP(f, 0.0, 1.0) * EXTENDER_MAX_PRIORITY);
                }
        }
        for (size_t i = 0; i < c->n; i++)
                if (json_array_append_new(list, json_pack("{s:s, s:i}", "host", c->nodes[i].name, "score", scores[i])) < 0)
                        return -ENOMEM;
        return 0;
}

int extender_handle(const ExtenderConfig *cfg, ExtenderVerb verb, const ExtenderNodeSet *set, const char *body,
                    size_t size, uint64_t now_usec, char **ret_body, size_t *ret_size, ExtenderStats *ret_stats,
                    ColoError *err) {
        if (verb < 0 || verb >= _EXTENDER_VERB_MAX)
                return colo_error_setf_plain(err, EINVAL, "unknown extender verb");
        if (size > cfg->max_request_size)
                return colo_error_setf_plain(err, EMSGSIZE, "ExtenderArgs of %zu bytes exceeds %zu", size,
                                             cfg->max_request_size);
        json_error_t jerr;
        json_auto_t *args = json_loadb(body, size, JSON_REJECT_DUPLICATES, &jerr);
        if (!args)
                return colo_error_setf_plain(err, EINVAL, "request body is not JSON: %s (line %d, column %d)", jerr.text,
                                             jerr.line, jerr.column);
        if (!json_is_object(args))
                return colo_error_setf_plain(err, EINVAL, "ExtenderArgs: not a JSON object");
        const json_t *pod = json_object_get(args, "pod");
        if (!json_is_object(pod))
                return colo_error_setf_plain(err, EINVAL, "ExtenderArgs.pod: missing or not an object");

        ExtenderStats stats = {};
        const json_t *meta = json_object_get(pod, "metadata");
        const char *ns = json_string_value(json_object_get(meta, "namespace"));
        const char *name = json_string_value(json_object_get(meta, "name"));
        snprintf(stats.pod, sizeof(stats.pod), "%.100s/%.140s", ns ? ns : "", name ? name : "");

        PodClass pc;
        ColoError perr = {};
        if (pod_class_from_json(pod, POD_CLASS_PRECEDENCE, &pc, &perr) < 0)
                return colo_error_setf_plain(err, EINVAL, "ExtenderArgs.pod: %s", perr.msg);
        stats.offline = pc.workload_class == CLASS_OFFLINE;
        PodDemand demand;
        int r = pod_demand(pod, &demand, err);
        if (r < 0)
                return r;

        Candidates c;
        bool no_cache;
        if ((r = read_candidates(args, set, &c, &no_cache, err)) < 0)
                return r;
        stats.candidates = c.n;

        json_auto_t *result = verb == EXTENDER_FILTER ? json_object() : json_array();
        if (!result)
                r = -ENOMEM;
        else if (no_cache) {
                if (verb == EXTENDER_PRIORITIZE) {
                        candidates_done(&c);
                        return colo_error_setf_plain(err, EINVAL, "%s", NO_CACHE_MESSAGE);
                }
                r = json_object_set_new(result, "error", json_string(NO_CACHE_MESSAGE));
        } else if (verb == EXTENDER_FILTER)
                r = do_filter(cfg, stats.offline, &demand, &c, now_usec, result, &stats);
        else
                r = do_prioritize(cfg, stats.offline, &demand, &c, now_usec, result, &stats);
        candidates_done(&c);
        if (r < 0)
                return colo_error_set(err, ENOMEM, "extender response");
        if ((r = dump(result, ret_body, ret_size, err)) < 0)
                return r;
        if (ret_stats)
                *ret_stats = stats;
        return 0;
}
