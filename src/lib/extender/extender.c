/* Scheduler extender: reads ExtenderArgs once (a streaming pass over the candidates, a small tree
 * of the pod), decides per node, and writes the result with yajl's generator. Candidate nodes
 * come from the request (full Nodes, echoed verbatim when they pass) or, by name, from an indexed,
 * immutable ExtenderNodeSet that request threads share by reference count (extender-node-set.c). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <yajl/yajl_gen.h>

#include "extender/extender-internal.h"
#include "extender/extender.h"
#include "k8s/pod-class.h"
#include "k8s/resource-quantity.h"
#include "util/macro.h"

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

/* A filter decision. Reasons are the same text for every node failing the same way, so that
 * kube-scheduler's summary ("0/1000 nodes are available: 480 colo: ...") counts them together,
 * as it does for its own "Insufficient cpu". */
typedef enum Verdict {
        VERDICT_PASS,
        VERDICT_CPU_PEAK,
        VERDICT_MEMORY_PEAK,
        VERDICT_OFFLINE_CPU,
        VERDICT_OFFLINE_MEMORY,
        _VERDICT_MAX,
} Verdict;

/* Load-based refusals go to failedAndUnresolvableNodes: preempting pods cannot lower a peak that
 * was predicted from the node's history. */
static bool verdict_unresolvable(Verdict v) {
        return v == VERDICT_CPU_PEAK || v == VERDICT_MEMORY_PEAK;
}

static void verdict_reasons(const ExtenderConfig *cfg, char reasons[static _VERDICT_MAX][128]) {
        reasons[VERDICT_PASS][0] = '\0';
        snprintf(reasons[VERDICT_CPU_PEAK], 128,
                 "colo: predicted CPU peak plus the pod's request exceeds %.0f%% of allocatable CPU", cfg->cpu_threshold * 100);
        snprintf(reasons[VERDICT_MEMORY_PEAK], 128,
                 "colo: predicted memory peak plus the pod's request exceeds %.0f%% of allocatable memory",
                 cfg->memory_threshold * 100);
        snprintf(reasons[VERDICT_OFFLINE_CPU], 128, "colo: the node's offline CPU budget cannot hold the pod now");
        snprintf(reasons[VERDICT_OFFLINE_MEMORY], 128, "colo: the node's offline memory budget cannot hold the pod now");
}

static bool usage_fresh(const ExtenderConfig *cfg, const ExtenderNode *n, uint64_t now) {
        return n->has_usage && node_usage_is_fresh(&n->usage, now, cfg->stale_after_usec);
}

static int64_t online_alloc_cpu(const ExtenderNode *n) {
        return n->alloc_cpu_milli >= 0 ? n->alloc_cpu_milli : n->usage.cpu_capacity_milli;
}

static int64_t online_alloc_memory(const ExtenderNode *n) {
        return n->alloc_memory >= 0 ? n->alloc_memory : n->usage.mem_capacity;
}

static Verdict filter_online(const ExtenderConfig *cfg, const ExtenderNode *n, const PodDemand *pod, uint64_t now) {
        if (!usage_fresh(cfg, n, now))
                return VERDICT_PASS;
        int64_t cpu = online_alloc_cpu(n), mem = online_alloc_memory(n);
        if (cpu > 0 && (double) sat_add(n->usage.cpu_peak_milli, pod->cpu_milli) > (double) cpu * cfg->cpu_threshold)
                return VERDICT_CPU_PEAK;
        if (mem > 0 && (double) sat_add(n->usage.mem_peak, pod->memory) > (double) mem * cfg->memory_threshold)
                return VERDICT_MEMORY_PEAK;
        return VERDICT_PASS;
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
        if (!usage_fresh(cfg, n, now))
                return VERDICT_PASS;
        /* Only the budget the agent computes now (n->usage) is checked here: status.allocatable is
         * kube-scheduler's own business, and the annotation leads it. */
        if (pod->offline_cpu_milli > 0 &&
            sat_add(n->usage.offline_cpu_requested_milli, pod->offline_cpu_milli) > n->usage.offline_cpu_milli)
                return VERDICT_OFFLINE_CPU;
        if (pod->offline_memory > 0 &&
            sat_add(n->usage.offline_memory_requested, pod->offline_memory) > n->usage.offline_memory)
                return VERDICT_OFFLINE_MEMORY;
        return VERDICT_PASS;
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
        const ExtenderNode **nodes;     /* into the request's view or the node set; never NULL */
        const char **names;             /* as the request gave them */
        bool by_name;
} Candidates;

/* What is known of a node missing from the node set: nothing. */
static const ExtenderNode unknown_node = { .alloc_cpu_milli = -1, .alloc_memory = -1, .alloc_offline_cpu_milli = -1,
                                           .alloc_offline_memory = -1 };

/* Resolves names against the node set; names it lacks count as nodes without data. */
static int candidates_from_view(const ExtenderArgsView *v, const ExtenderNodeSet *set, Candidates *ret) {
        Candidates c = { .n = v->list.n, .by_name = v->has_names };
        c.nodes = malloc(MAX(c.n, (size_t) 1) * sizeof(*c.nodes));
        c.names = malloc(MAX(c.n, (size_t) 1) * sizeof(*c.names));
        if (!c.nodes || !c.names) {
                free(c.nodes);
                free(c.names);
                return -ENOMEM;
        }
        for (size_t i = 0; i < c.n; i++) {
                c.names[i] = v->list.names[i];
                if (!c.by_name)
                        c.nodes[i] = &v->list.nodes[i];
                else {
                        const ExtenderNode *known = extender_node_set_find(set, c.names[i]);
                        c.nodes[i] = known ? known : &unknown_node;
                }
        }
        *ret = c;
        return 0;
}

static void candidates_done(Candidates *c) {
        free(c->nodes);
        free(c->names);
}

static void yajl_gen_freep(yajl_gen *g) {
        if (*g)
                yajl_gen_free(*g);
}

#define GEN_STR(g, s) yajl_gen_string((g), (const unsigned char *) (s), strlen(s))

/* Takes the generator's output as a malloc'd NUL-terminated string, after prefix and before
 * skipping skip leading bytes of the generated text. */
static int gen_take(yajl_gen g, const char *prefix, size_t prefix_len, size_t skip, char **ret, size_t *ret_size) {
        const unsigned char *buf;
        size_t len;
        if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok || len < skip)
                return -ENOMEM;
        char *s = malloc(prefix_len + len - skip + 1);
        if (!s)
                return -ENOMEM;
        memcpy(s, prefix, prefix_len);
        memcpy(s + prefix_len, buf + skip, len - skip);
        s[prefix_len + len - skip] = '\0';
        *ret = s;
        *ret_size = prefix_len + len - skip;
        return 0;
}

char *extender_error_body(const char *message, size_t *ret_size) {
        _cleanup_(yajl_gen_freep) yajl_gen g = yajl_gen_alloc(NULL);
        char *s = NULL;
        size_t n;
        if (!g || yajl_gen_map_open(g) != yajl_gen_status_ok || GEN_STR(g, "Error") != yajl_gen_status_ok ||
            GEN_STR(g, message ? message : "") != yajl_gen_status_ok || yajl_gen_map_close(g) != yajl_gen_status_ok ||
            gen_take(g, "", 0, 0, &s, &n) < 0)
                return NULL;
        if (ret_size)
                *ret_size = n;
        return s;
}

#define NO_CACHE_MESSAGE                                                                          \
        "colo extender got only nodenames (nodeCacheCapable: true) but has no node data; set "    \
        "nodeCacheCapable: false in the KubeSchedulerConfiguration, or run colo extender with --node-source"

static bool gen_failed_map(yajl_gen g, const char *key, const Candidates *c, const uint8_t *v,
                           char reasons[static _VERDICT_MAX][128], bool unresolvable) {
        if (GEN_STR(g, key) != yajl_gen_status_ok || yajl_gen_map_open(g) != yajl_gen_status_ok)
                return false;
        for (size_t i = 0; i < c->n; i++)
                if (v[i] != VERDICT_PASS && verdict_unresolvable(v[i]) == unresolvable &&
                    (GEN_STR(g, c->names[i]) != yajl_gen_status_ok || GEN_STR(g, reasons[v[i]]) != yajl_gen_status_ok))
                        return false;
        return yajl_gen_map_close(g) == yajl_gen_status_ok;
}

/* Writes an ExtenderFilterResult. In nodes mode the passing Node objects are copied from the
 * request verbatim; the rest is generated. */
static int do_filter(const ExtenderConfig *cfg, bool offline, const PodDemand *demand, const Candidates *c,
                     const ExtenderArgsView *view, const char *body, uint64_t now, char **ret, size_t *ret_size,
                     ExtenderStats *stats) {
        _cleanup_free_ uint8_t *v = malloc(MAX(c->n, (size_t) 1));
        _cleanup_(yajl_gen_freep) yajl_gen g = yajl_gen_alloc(NULL);
        if (!v || !g)
                return -ENOMEM;
        char reasons[_VERDICT_MAX][128];
        verdict_reasons(cfg, reasons);
        size_t items_size = 0;
        for (size_t i = 0; i < c->n; i++) {
                const ExtenderNode *n = c->nodes[i];
                if (!usage_fresh(cfg, n, now))
                        stats->without_data++;
                v[i] = offline ? filter_offline(cfg, n, demand, now) : filter_online(cfg, n, demand, now);
                if (v[i] == VERDICT_PASS) {
                        stats->passed++;
                        if (!c->by_name)
                                items_size += view->list.end[i] - view->list.start[i] + 1;
                }
        }
        if (yajl_gen_map_open(g) != yajl_gen_status_ok)
                return -ENOMEM;
        /* Go field names, in ExtenderFilterResult's order, the unused list null: what encoding/json
         * writes for the type (kube-scheduler would read any case). */
        if (c->by_name) {
                if (GEN_STR(g, "Nodes") != yajl_gen_status_ok || yajl_gen_null(g) != yajl_gen_status_ok ||
                    GEN_STR(g, "NodeNames") != yajl_gen_status_ok || yajl_gen_array_open(g) != yajl_gen_status_ok)
                        return -ENOMEM;
                for (size_t i = 0; i < c->n; i++)
                        if (v[i] == VERDICT_PASS && GEN_STR(g, c->names[i]) != yajl_gen_status_ok)
                                return -ENOMEM;
                if (yajl_gen_array_close(g) != yajl_gen_status_ok)
                        return -ENOMEM;
        } else if (GEN_STR(g, "NodeNames") != yajl_gen_status_ok || yajl_gen_null(g) != yajl_gen_status_ok)
                return -ENOMEM;
        if (!gen_failed_map(g, "FailedNodes", c, v, reasons, false) ||
            !gen_failed_map(g, "FailedAndUnresolvableNodes", c, v, reasons, true) || GEN_STR(g, "Error") != yajl_gen_status_ok ||
            GEN_STR(g, "") != yajl_gen_status_ok || yajl_gen_map_close(g) != yajl_gen_status_ok)
                return -ENOMEM;
        if (c->by_name)
                return gen_take(g, "", 0, 0, ret, ret_size);

        /* {"Nodes":{"metadata":{},"items":[<node>,...]}, then the generated members. */
        static const char head[] = "{\"Nodes\":{\"metadata\":{},\"items\":[";
        _cleanup_free_ char *prefix = malloc(sizeof(head) + items_size + 3);
        if (!prefix)
                return -ENOMEM;
        size_t len = sizeof(head) - 1;
        memcpy(prefix, head, len);
        bool first = true;
        for (size_t i = 0; i < c->n; i++) {
                if (v[i] != VERDICT_PASS)
                        continue;
                if (!first)
                        prefix[len++] = ',';
                first = false;
                size_t n = view->list.end[i] - view->list.start[i];
                memcpy(prefix + len, body + view->list.start[i], n);
                len += n;
        }
        memcpy(prefix + len, "]},", 3);
        len += 3;
        return gen_take(g, prefix, len, 1, ret, ret_size);      /* skip the generated '{' */
}

/* Scores as JSON number text: yajl_gen_integer() would go through snprintf() for every node. */
static const char *const score_text[EXTENDER_MAX_PRIORITY + 1] = { "0", "1", "2", "3", "4", "5",
                                                                     "6", "7", "8", "9", "10" };

static int do_prioritize(const ExtenderConfig *cfg, bool offline, const PodDemand *demand, const Candidates *c,
                         uint64_t now, char **ret, size_t *ret_size, ExtenderStats *stats) {
        _cleanup_free_ int *scores = calloc(MAX(c->n, (size_t) 1), sizeof(int));
        _cleanup_free_ Headroom *room = offline ? calloc(MAX(c->n, (size_t) 1), sizeof(Headroom)) : NULL;
        _cleanup_(yajl_gen_freep) yajl_gen g = yajl_gen_alloc(NULL);
        if (!scores || (offline && !room) || !g)
                return -ENOMEM;
        int64_t best_cpu = 0, best_mem = 0;
        for (size_t i = 0; i < c->n; i++) {
                if (!usage_fresh(cfg, c->nodes[i], now))
                        stats->without_data++;
                if (offline) {
                        room[i] = offline_headroom(cfg, c->nodes[i], demand, now);
                        if (room[i].known) {
                                best_cpu = MAX(best_cpu, room[i].cpu_milli);
                                best_mem = MAX(best_mem, room[i].memory);
                        }
                } else
                        scores[i] = score_online(cfg, c->nodes[i], demand, now);
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
        if (yajl_gen_array_open(g) != yajl_gen_status_ok)
                return -ENOMEM;
        for (size_t i = 0; i < c->n; i++)
                if (yajl_gen_map_open(g) != yajl_gen_status_ok || GEN_STR(g, "Host") != yajl_gen_status_ok ||
                    GEN_STR(g, c->names[i]) != yajl_gen_status_ok || GEN_STR(g, "Score") != yajl_gen_status_ok ||
                    yajl_gen_number(g, score_text[scores[i]], strlen(score_text[scores[i]])) != yajl_gen_status_ok ||
                    yajl_gen_map_close(g) != yajl_gen_status_ok)
                        return -ENOMEM;
        if (yajl_gen_array_close(g) != yajl_gen_status_ok)
                return -ENOMEM;
        return gen_take(g, "", 0, 0, ret, ret_size);
}

int extender_handle(const ExtenderConfig *cfg, ExtenderVerb verb, const ExtenderNodeSet *set, const char *body,
                    size_t size, uint64_t now_usec, char **ret_body, size_t *ret_size, ExtenderStats *ret_stats,
                    ColoError *err) {
        if (verb < 0 || verb >= _EXTENDER_VERB_MAX)
                return colo_error_setf_plain(err, EINVAL, "unknown extender verb");
        if (size > cfg->max_request_size)
                return colo_error_setf_plain(err, EMSGSIZE, "ExtenderArgs of %zu bytes exceeds %zu", size,
                                             cfg->max_request_size);
        ExtenderArgsView view = {};
        int r = extender_args_parse(body, size, &view, err);
        if (r < 0)
                return r;

        ExtenderStats stats = { .candidates = view.list.n };
        json_error_t jerr;
        json_t *pod = json_loadb(body + view.pod_start, view.pod_end - view.pod_start, JSON_REJECT_DUPLICATES, &jerr);
        PodClass pc;
        PodDemand demand = {};
        Candidates c = {};
        ColoError perr = {};
        char *out = NULL;
        size_t out_size = 0;
        if (!pod)
                r = colo_error_setf_plain(err, EINVAL, "ExtenderArgs.Pod: %s", jerr.text);
        else if (pod_class_from_json(pod, POD_CLASS_PRECEDENCE, &pc, &perr) < 0)
                r = colo_error_setf_plain(err, EINVAL, "ExtenderArgs.Pod: %s", perr.msg);
        else if ((r = pod_demand(pod, &demand, err)) >= 0) {
                const json_t *meta = json_object_get(pod, "metadata");
                const char *ns = json_string_value(json_object_get(meta, "namespace"));
                const char *name = json_string_value(json_object_get(meta, "name"));
                snprintf(stats.pod, sizeof(stats.pod), "%.100s/%.140s", ns ? ns : "", name ? name : "");
                stats.offline = pc.workload_class == CLASS_OFFLINE;
        }
        json_decref(pod);

        if (r >= 0 && view.has_names && !set) {
                if (verb == EXTENDER_PRIORITIZE)
                        r = colo_error_setf_plain(err, EINVAL, "%s", NO_CACHE_MESSAGE);
                else if (!(out = extender_error_body(NO_CACHE_MESSAGE, &out_size)))
                        r = colo_error_set(err, ENOMEM, "extender response");
        } else if (r >= 0) {
                r = candidates_from_view(&view, set, &c);
                if (r >= 0)
                        r = verb == EXTENDER_FILTER ? do_filter(cfg, stats.offline, &demand, &c, &view, body, now_usec, &out,
                                                                &out_size, &stats)
                                                    : do_prioritize(cfg, stats.offline, &demand, &c, now_usec, &out,
                                                                    &out_size, &stats);
                candidates_done(&c);
                if (r < 0)
                        r = colo_error_set(err, ENOMEM, "extender response");
        }
        node_list_view_done(&view.list);
        if (r < 0) {
                free(out);
                return r;
        }
        *ret_body = out;
        *ret_size = out_size;
        if (ret_stats)
                *ret_stats = stats;
        return 0;
}
