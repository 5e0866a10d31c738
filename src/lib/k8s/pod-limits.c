/* Offline pods' own limits: the colo.io/original-resources annotation and the pod's spec turned
 * into the pod-level limits kubelet would have written, and those into cgroup knobs. The
 * annotation is outside input (anyone who may edit the pod can write it), so it is read strictly:
 * only the shape the webhook writes, every quantity checked, sizes bounded. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "k8s/pod-class.h"
#include "k8s/pod-limits.h"
#include "k8s/resource-quantity.h"
#include "util/macro.h"

#define ANN POD_ORIGINAL_RESOURCES_ANNOTATION

static const char *const list_names[2] = { "containers", "initContainers" };

/* One quantity of a record's requests or limits map, bounded by max. */
static int parse_quantity(const json_t *v, const char *where, const char *resource, int64_t max, int64_t *ret,
                          ColoError *err) {
        const char *s = json_string_value(v);
        if (!s)
                return colo_error_setf_plain(err, EINVAL, "%s.%s: not a quantity string", where, resource);
        int64_t q;
        int r = strcmp(resource, "cpu") == 0 ? quantity_parse_milli(s, &q) : quantity_parse_units(s, &q);
        if (r == -ERANGE || (r >= 0 && q > max))
                return colo_error_setf_plain(err, ERANGE, "%s.%s: '%.64s' is out of range (at most %" PRIi64 "%s)", where,
                                             resource, s, strcmp(resource, "cpu") == 0 ? max / 1000 : max,
                                             strcmp(resource, "cpu") == 0 ? " cores" : " bytes");
        if (r < 0)
                return colo_error_setf_plain(err, EINVAL, "%s.%s: '%.64s' is not a quantity", where, resource, s);
        *ret = q;
        return 0;
}

/* requests or limits of one record: a map with only cpu and memory. */
static int parse_map(const json_t *map, const char *where, bool *has_cpu, int64_t *cpu, bool *has_mem, int64_t *mem,
                     ColoError *err) {
        if (!json_is_object(map))
                return colo_error_setf_plain(err, EINVAL, "%s: not an object", where);
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *) map, key, v) {
                int r;
                if (strcmp(key, "cpu") == 0) {
                        if ((r = parse_quantity(v, where, key, POD_LIMITS_CPU_MILLI_MAX, cpu, err)) < 0)
                                return r;
                        *has_cpu = true;
                } else if (strcmp(key, "memory") == 0) {
                        if ((r = parse_quantity(v, where, key, POD_LIMITS_MEMORY_MAX, mem, err)) < 0)
                                return r;
                        *has_mem = true;
                } else
                        return colo_error_setf_plain(err, EINVAL, "%s: unexpected resource '%.64s' (only cpu and memory "
                                                     "are kept)", where, key);
        }
        return 0;
}

static int parse_record(const char *list, const char *name, const json_t *rec, PodOriginalContainer *ret,
                        ColoError *err) {
        char where[160];
        snprintf(where, sizeof(where), "%s.%.63s", list, name);
        if (strlen(name) == 0 || strlen(name) >= sizeof(ret->name))
                return colo_error_setf_plain(err, EINVAL, "%s: container name must be 1..%zu characters", where,
                                             sizeof(ret->name) - 1);
        if (!json_is_object(rec))
                return colo_error_setf_plain(err, EINVAL, "%s: not an object", where);
        PodOriginalContainer c = {};
        snprintf(c.name, sizeof(c.name), "%s", name);
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *) rec, key, v) {
                char sub[200];
                snprintf(sub, sizeof(sub), "%s.%.16s", where, key);
                bool has_cpu = false, has_mem = false;
                int64_t cpu = 0, mem = 0;
                int r;
                if (strcmp(key, "requests") == 0) {
                        if ((r = parse_map(v, sub, &has_cpu, &cpu, &has_mem, &mem, err)) < 0)
                                return r;
                } else if (strcmp(key, "limits") == 0) {
                        if ((r = parse_map(v, sub, &c.has_cpu_limit, &c.cpu_limit_milli, &c.has_memory_limit,
                                           &c.memory_limit, err)) < 0)
                                return r;
                } else
                        return colo_error_setf_plain(err, EINVAL, "%s: unexpected key '%.64s' (want requests, limits)",
                                                     where, key);
        }
        *ret = c;
        return 0;
}

static int parse_list(const json_t *obj, size_t l, PodOriginalContainer *out, size_t *ret_n, ColoError *err) {
        if (!json_is_object(obj))
                return colo_error_setf_plain(err, EINVAL, "%s: not an object", list_names[l]);
        if (json_object_size(obj) > POD_LIMITS_CONTAINERS_MAX)
                return colo_error_setf_plain(err, E2BIG, "%s: more than %d containers", list_names[l],
                                             POD_LIMITS_CONTAINERS_MAX);
        size_t n = 0;
        const char *name;
        const json_t *rec;
        json_object_foreach((json_t *) obj, name, rec) {
                int r = parse_record(list_names[l], name, rec, &out[n], err);
                if (r < 0)
                        return r;
                n++;
        }
        *ret_n = n;
        return 0;
}

int pod_limits_parse_annotation(const char *text, size_t size, PodOriginalResources *ret, ColoError *err) {
        if (!text)
                return colo_error_setf_plain(err, EINVAL, "annotation " ANN ": missing");
        if (size > POD_LIMITS_ANNOTATION_MAX)
                return colo_error_setf_plain(err, E2BIG, "annotation " ANN ": %zu bytes, more than %u", size,
                                             POD_LIMITS_ANNOTATION_MAX);
        json_error_t jerr;
        _cleanup_(json_decrefp) json_t *doc = json_loadb(text, size, JSON_REJECT_DUPLICATES, &jerr);
        if (!doc)
                return colo_error_setf_plain(err, EINVAL, "annotation " ANN ": not JSON (%s at %d)", jerr.text,
                                             jerr.position);
        if (!json_is_object(doc))
                return colo_error_setf_plain(err, EINVAL, "annotation " ANN ": not a JSON object");
        _cleanup_free_ PodOriginalResources *o = calloc(1, sizeof(*o));
        if (!o)
                return colo_error_set(err, ENOMEM, "annotation " ANN);
        const char *key;
        const json_t *v;
        json_object_foreach(doc, key, v) {
                int r;
                if (strcmp(key, list_names[0]) == 0)
                        r = parse_list(v, 0, o->containers, &o->n_containers, err);
                else if (strcmp(key, list_names[1]) == 0)
                        r = parse_list(v, 1, o->init_containers, &o->n_init_containers, err);
                else
                        r = colo_error_setf_plain(err, EINVAL, "unexpected key '%.64s' (want containers, initContainers)",
                                                  key);
                if (r < 0) {
                        if (err)
                                (void) colo_error_wrap(err, "annotation " ANN);
                        return r;
                }
        }
        *ret = *o;
        return 0;
}

static const PodOriginalContainer *find_original(const PodOriginalContainer *list, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(list[i].name, name) == 0)
                        return &list[i];
        return NULL;
}

/* One container's original limits: its annotation record, else its spec's cpu/memory limits. */
static int container_limits(const json_t *c, const char *list, size_t i, const PodOriginalResources *orig,
                            PodOriginalContainer *ret, ColoError *err) {
        const char *name = json_string_value(json_object_get(c, "name"));
        if (!name)
                return colo_error_setf_plain(err, EINVAL, "spec.%s[%zu].name: missing", list, i);
        const PodOriginalContainer *o = NULL;
        if (orig)
                o = strcmp(list, list_names[0]) == 0 ? find_original(orig->containers, orig->n_containers, name)
                                                     : find_original(orig->init_containers, orig->n_init_containers, name);
        if (o) {
                *ret = *o;
                return 0;
        }
        /* Not in the annotation: the spec's own limits are the originals. */
        PodOriginalContainer spec = {};
        char where[160];
        snprintf(where, sizeof(where), "spec.%s[%zu].resources.limits", list, i);
        const json_t *lim = json_object_get(json_object_get(c, "resources"), "limits"), *q;
        int r;
        if ((q = json_object_get(lim, "cpu")) &&
            (r = parse_quantity(q, where, "cpu", POD_LIMITS_CPU_MILLI_MAX, &spec.cpu_limit_milli, err)) < 0)
                return r;
        spec.has_cpu_limit = q != NULL;
        if ((q = json_object_get(lim, "memory")) &&
            (r = parse_quantity(q, where, "memory", POD_LIMITS_MEMORY_MAX, &spec.memory_limit, err)) < 0)
                return r;
        spec.has_memory_limit = q != NULL;
        *ret = spec;
        return 0;
}

/* The pod's limit of one kind, as kubelet and the scheduler add it up (KEP-753 sidecars
 * included): app containers and restartable init containers (restartPolicy Always, sidecars) run
 * together and add up; a regular init container runs next to the sidecars declared before it;
 * the pod's limit is the larger of the two. all is false once any container lacks the kind (a
 * zero limit counts as none, as in kubelet). */
typedef struct KindTotal {
        int64_t app, sidecars, init;
        bool all;
} KindTotal;

static void add_kind(KindTotal *t, bool has, int64_t v, size_t l, bool sidecar) {
        t->all &= has && v > 0;
        if (l == 0)
                t->app += v;
        else if (sidecar)
                t->sidecars += v;
        else
                t->init = MAX(t->init, v + t->sidecars);
}

static int64_t kind_total(const KindTotal *t) {
        return t->all ? MAX(t->app + t->sidecars, t->init) : 0;
}

/* Every name in the annotation must be a container of the pod: a record for a container that does
 * not exist means the annotation was written for another pod, or by hand. */
static int check_names(const json_t *spec, const PodOriginalResources *orig, ColoError *err) {
        for (size_t l = 0; l < 2; l++) {
                const PodOriginalContainer *list = l == 0 ? orig->containers : orig->init_containers;
                size_t n = l == 0 ? orig->n_containers : orig->n_init_containers;
                const json_t *arr = json_object_get(spec, list_names[l]);
                for (size_t k = 0; k < n; k++) {
                        bool found = false;
                        size_t i;
                        const json_t *c;
                        json_array_foreach(arr, i, c) {
                                const char *name = json_string_value(json_object_get(c, "name"));
                                found = found || (name && strcmp(name, list[k].name) == 0);
                        }
                        if (!found)
                                return colo_error_setf_plain(err, EINVAL, "annotation " ANN ": %s.%s: the pod has no "
                                                             "such container", list_names[l], list[k].name);
                }
        }
        return 0;
}

int pod_limits_from_pod(const json_t *pod, PodLimits *ret, ColoError *err) {
        const json_t *spec = json_object_get(pod, "spec");
        const json_t *ann = json_object_get(json_object_get(json_object_get(pod, "metadata"), "annotations"), ANN);
        _cleanup_free_ PodOriginalResources *orig = NULL;
        int r;
        if (ann) {
                if (!json_is_string(ann))
                        return colo_error_setf_plain(err, EINVAL, "annotation " ANN ": not a string");
                if (!(orig = malloc(sizeof(*orig))))
                        return colo_error_set(err, ENOMEM, "annotation " ANN);
                if ((r = pod_limits_parse_annotation(json_string_value(ann), json_string_length(ann), orig, err)) < 0 ||
                    (r = check_names(spec, orig, err)) < 0)
                        return r;
        }
        KindTotal cpu = { .all = true }, mem = { .all = true };
        for (size_t l = 0; l < 2; l++) {
                const json_t *arr = json_object_get(spec, list_names[l]);
                if (arr && !json_is_array(arr) && !json_is_null(arr))
                        return colo_error_setf_plain(err, EINVAL, "spec.%s: not an array", list_names[l]);
                size_t i;
                const json_t *c;
                json_array_foreach(arr, i, c) {
                        if (!json_is_object(c))
                                return colo_error_setf_plain(err, EINVAL, "spec.%s[%zu]: not an object", list_names[l], i);
                        PodOriginalContainer o = {};
                        if ((r = container_limits(c, list_names[l], i, orig, &o, err)) < 0)
                                return r;
                        const char *policy = json_string_value(json_object_get(c, "restartPolicy"));
                        bool sidecar = l == 1 && policy && strcmp(policy, "Always") == 0;
                        add_kind(&cpu, o.has_cpu_limit, o.cpu_limit_milli, l, sidecar);
                        add_kind(&mem, o.has_memory_limit, o.memory_limit, l, sidecar);
                        /* Each term is bounded, so these sums cannot overflow before the check. */
                        if (MAX(cpu.app + cpu.sidecars, cpu.init) > POD_LIMITS_CPU_MILLI_MAX ||
                            MAX(mem.app + mem.sidecars, mem.init) > POD_LIMITS_MEMORY_MAX)
                                return colo_error_setf_plain(err, ERANGE, "spec.%s: the pod's summed limits are out of "
                                                             "range", list_names[l]);
                }
        }
        /* No containers at all is not a pod the API server accepts: no limit to derive. */
        bool any = json_array_size(json_object_get(spec, list_names[0])) > 0;
        *ret = (PodLimits) {
                .cpu_milli = any ? kind_total(&cpu) : 0,
                .memory = any ? kind_total(&mem) : 0,
        };
        return 0;
}

void pod_limits_knobs(const PodLimits *lim, const PodLimitDefaults *d, CgKnobs *ret) {
        int64_t cpu = lim && lim->cpu_milli > 0 ? lim->cpu_milli : d->cpu_milli;
        int64_t mem = lim && lim->memory > 0 ? lim->memory : d->memory;
        uint64_t quota = (uint64_t) cpu * POD_LIMITS_CFS_PERIOD_USEC / 1000;
        ret->cpu_period_usec = POD_LIMITS_CFS_PERIOD_USEC;
        ret->cpu_quota_usec = MAX(quota, POD_LIMITS_CFS_QUOTA_MIN_USEC);
        ret->mem_max = (uint64_t) mem;
        uint64_t high = (uint64_t) mem / 100 * POD_LIMITS_MEMORY_HIGH_PERCENT / POD_LIMITS_PAGE_SIZE * POD_LIMITS_PAGE_SIZE;
        /* A limit of a few pages leaves no room below it: then high = max, no throttling. */
        ret->mem_high = high > 0 ? high : ret->mem_max;
        ret->pids_max = d->pids_max;
}

static bool has_quota(const CgKnobs *k) {
        return k->cpu_quota_usec != CG_UNSET && k->cpu_quota_usec != CG_UNLIMITED && k->cpu_period_usec != CG_UNSET &&
               k->cpu_period_usec > 0;
}

void pod_limits_clamp_quota_v1(CgKnobs *pod, const CgKnobs *parent) {
        if (!parent || !has_quota(parent) || !has_quota(pod))
                return;
        /* Same ratio at the pod's period, rounded down so the kernel's check passes. */
        uint64_t cap = parent->cpu_quota_usec * pod->cpu_period_usec / parent->cpu_period_usec;
        if (pod->cpu_quota_usec > cap)
                pod->cpu_quota_usec = MAX(cap, POD_LIMITS_CFS_QUOTA_MIN_USEC);
}

bool pod_limits_parent_quota_drops(const CgKnobs *want, const CgKnobs *last) {
        if (!has_quota(want))
                return false;
        if (!has_quota(last))
                return true;
        /* want.q / want.p < last.q / last.p, without division. */
        return (unsigned __int128) want->cpu_quota_usec * last->cpu_period_usec <
               (unsigned __int128) last->cpu_quota_usec * want->cpu_period_usec;
}
