/* Mutating admission webhook logic: classifies the pod of an AdmissionReview, validates what it
 * would touch, and builds the JSON Patch that moves an offline pod from cpu/memory onto colo's
 * oversold extended resources. The patch is computed as "target form minus current form", which is
 * what makes the webhook idempotent: a pod already in the target form yields no operation. The
 * AdmissionReview around it is admission-review.c. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "admission/admission-internal.h"
#include "admission/admission.h"
#include "k8s/node-annotation.h"
#include "k8s/pod-class.h"
#include "k8s/resource-quantity.h"
#include "util/macro.h"

#define COLO_RESOURCE_PREFIX "colo.io/"

int admission_reject(AdmissionOutcome *out, int code, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(out->message, sizeof(out->message), fmt, ap);
        va_end(ap);
        out->allowed = false;
        out->code = code;
        return -EINVAL;
}

static int oom(AdmissionOutcome *out) {
        admission_reject(out, 500, "out of memory");
        return -ENOMEM;
}

/* RFC 6901: "~" becomes "~0" and "/" becomes "~1" inside a JSON Pointer segment. */
static void json_pointer_escape(const char *segment, char *buf, size_t size) {
        size_t n = 0;
        for (const char *s = segment; *s && n + 3 < size; s++) {
                if (*s == '~' || *s == '/') {
                        buf[n++] = '~';
                        buf[n++] = *s == '~' ? '0' : '1';
                } else
                        buf[n++] = *s;
        }
        buf[n] = '\0';
}

static int patch_append(json_t *patch, const char *op, const char *path, json_t *value_stolen) {
        if (!value_stolen)
                return -ENOMEM;
        json_t *o = json_pack("{s:s, s:s}", "op", op, "path", path);
        if (!o) {
                json_decref(value_stolen);
                return -ENOMEM;
        }
        /* Both *_new calls take the reference even when they fail. */
        if (json_object_set_new(o, "value", value_stolen) < 0) {
                json_decref(o);
                return -ENOMEM;
        }
        return json_array_append_new(patch, o) < 0 ? -ENOMEM : 0;
}

/* Reads an optional member that must be of type (JSON_OBJECT or JSON_ARRAY) when present; JSON
 * null counts as absent. */
static int optional_member(const json_t *parent, const char *key, json_type type, const char *where,
                           const json_t **ret, AdmissionOutcome *out) {
        const json_t *v = parent ? json_object_get(parent, key) : NULL;
        *ret = NULL;
        if (v && json_is_null(v))
                v = NULL;
        if (v && json_typeof(v) != type)
                return admission_reject(out, 400, "%s.%s: must be an %s", where, key,
                                        type == JSON_ARRAY ? "array" : "object");
        *ret = v;
        return 0;
}

static int optional_object(const json_t *parent, const char *key, const char *where, const json_t **ret,
                           AdmissionOutcome *out) {
        return optional_member(parent, key, JSON_OBJECT, where, ret, out);
}

static int optional_array(const json_t *parent, const char *key, const char *where, const json_t **ret,
                          AdmissionOutcome *out) {
        return optional_member(parent, key, JSON_ARRAY, where, ret, out);
}

/* A quantity as the API server serialises it: a string; integers are accepted for hand-written
 * documents. Floating-point JSON numbers are refused: 0.1 is not exactly representable. */
static const char *quantity_text(const json_t *v, char buf[static 32]) {
        if (json_is_string(v))
                return json_string_value(v);
        if (json_is_integer(v)) {
                snprintf(buf, 32, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                return buf;
        }
        return NULL;
}

/* The text of quantity map[key]: 0 when absent, 1 with *ret_text set, or the rejection of a value
 * that is no quantity at all (example: what the message offers instead). */
static int quantity_field(const json_t *map, const char *key, const char *where, const char *example,
                          char buf[static 32], const char **ret_text, AdmissionOutcome *out) {
        const json_t *v = map ? json_object_get(map, key) : NULL;
        if (!v)
                return 0;
        *ret_text = quantity_text(v, buf);
        if (!*ret_text)
                return admission_reject(out, 400, "%s[\"%s\"]: must be a quantity string such as %s", where, key,
                                        example);
        return 1;
}

/* Parses map[key] (if present) at the given scale. *ret_present tells whether it was there. */
static int read_quantity(const json_t *map, const char *key, unsigned scale, const char *where, int64_t *ret,
                         bool *ret_present, AdmissionOutcome *out) {
        *ret_present = false;
        char buf[32];
        const char *text;
        int r = quantity_field(map, key, where, "\"500m\" or \"128Mi\"", buf, &text, out);
        if (r <= 0)
                return r;
        r = quantity_parse_scaled(text, scale, ret);
        if (r == -ERANGE)
                return admission_reject(out, 400, "%s[\"%s\"]: '%s' is negative or too large (at most %d significant digits, "
                              "below 2^63 %s)", where, key, text, QUANTITY_SIGNIFICANT_DIGITS_MAX,
                              scale == 3 ? "millicores" : "units");
        if (r < 0)
                return admission_reject(out, 400, "%s[\"%s\"]: '%s' is not a Kubernetes quantity (examples: 500m, 2, 1.5, "
                              "128Mi, 1G, 1e3)", where, key, text);
        *ret_present = true;
        return 0;
}

/* Only colo.io/offline-cpu and colo.io/offline-memory exist in colo's resource domain. */
static int check_colo_names(const json_t *map, const char *where, AdmissionOutcome *out) {
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *) map, key, v)
                if (strncmp(key, COLO_RESOURCE_PREFIX, strlen(COLO_RESOURCE_PREFIX)) == 0 &&
                    strcmp(key, NODE_OFFLINE_CPU_RESOURCE) != 0 && strcmp(key, NODE_OFFLINE_MEMORY_RESOURCE) != 0)
                        return admission_reject(out, 422, "%s: unknown resource '%s'; colo provides only "
                                      NODE_OFFLINE_CPU_RESOURCE " and " NODE_OFFLINE_MEMORY_RESOURCE, where, key);
        return 0;
}

typedef struct ContainerView {
        const char *name;
        const json_t *resources, *requests, *limits;
        char where[160];                /* "spec.containers[0] 'app'" */
} ContainerView;

static int container_view(const json_t *c, const char *list, size_t idx, ContainerView *ret, AdmissionOutcome *out) {
        ContainerView v = {};
        snprintf(v.where, sizeof(v.where), "spec.%s[%zu]", list, idx);
        if (!json_is_object(c))
                return admission_reject(out, 400, "%s: must be an object", v.where);
        const json_t *name = json_object_get(c, "name");
        if (!json_is_string(name) || json_string_length(name) == 0)
                return admission_reject(out, 400, "%s: missing container name", v.where);
        v.name = json_string_value(name);
        snprintf(v.where, sizeof(v.where), "spec.%s[%zu] '%.100s'", list, idx, v.name);
        char where[200];
        int r = optional_object(c, "resources", v.where, &v.resources, out);
        if (r < 0)
                return r;
        snprintf(where, sizeof(where), "%s.resources", v.where);
        if ((r = optional_object(v.resources, "requests", where, &v.requests, out)) < 0 ||
            (r = optional_object(v.resources, "limits", where, &v.limits, out)) < 0)
                return r;
        snprintf(where, sizeof(where), "%s.resources.requests", v.where);
        if (v.requests && (r = check_colo_names(v.requests, where, out)) < 0)
                return r;
        snprintf(where, sizeof(where), "%s.resources.limits", v.where);
        if (v.limits && (r = check_colo_names(v.limits, where, out)) < 0)
                return r;
        *ret = v;
        return 0;
}

static bool has_key(const json_t *map, const char *key) {
        return map && json_object_get(map, key);
}

static bool container_uses_colo(const ContainerView *v) {
        return has_key(v->requests, NODE_OFFLINE_CPU_RESOURCE) || has_key(v->limits, NODE_OFFLINE_CPU_RESOURCE) ||
               has_key(v->requests, NODE_OFFLINE_MEMORY_RESOURCE) || has_key(v->limits, NODE_OFFLINE_MEMORY_RESOURCE);
}

static bool container_uses_cpu_memory(const ContainerView *v) {
        return has_key(v->requests, "cpu") || has_key(v->limits, "cpu") || has_key(v->requests, "memory") ||
               has_key(v->limits, "memory");
}

/* Reads map[key] as an extended-resource quantity: a whole number. */
static int read_whole_quantity(const json_t *map, const char *key, const char *where, int64_t *ret, bool *ret_present,
                               AdmissionOutcome *out) {
        *ret_present = false;
        char buf[32];
        const char *text;
        int r = quantity_field(map, key, where, "\"1000\"", buf, &text, out);
        if (r <= 0)
                return r;
        r = quantity_parse_integer(text, ret);
        if (r == -EDOM)
                return admission_reject(out, 422, "%s[\"%s\"]: '%s' must be a whole number", where, key, text);
        if (r == -ERANGE)
                return admission_reject(out, 400, "%s[\"%s\"]: '%s' is negative or too large", where, key, text);
        if (r < 0)
                return admission_reject(out, 400, "%s[\"%s\"]: '%s' is not a Kubernetes quantity", where, key, text);
        *ret_present = true;
        return 0;
}

/* An offline container already on colo resources: they must be whole numbers with requests equal
 * to limits, as Kubernetes demands of extended resources. */
static int check_colo_container(const ContainerView *v, const char *resource, AdmissionOutcome *out) {
        char where_req[200], where_lim[200];
        snprintf(where_req, sizeof(where_req), "%s.resources.requests", v->where);
        snprintf(where_lim, sizeof(where_lim), "%s.resources.limits", v->where);
        int64_t req = 0, lim = 0;
        bool has_req, has_lim;
        int r;
        if ((r = read_whole_quantity(v->requests, resource, where_req, &req, &has_req, out)) < 0 ||
            (r = read_whole_quantity(v->limits, resource, where_lim, &lim, &has_lim, out)) < 0)
                return r;
        if (has_req && !has_lim)
                return admission_reject(out, 422, "%s: resources.requests[\"%s\"] needs resources.limits[\"%s\"] with the same "
                              "value (extended resources cannot be overcommitted)", v->where, resource, resource);
        if (has_req && has_lim && req != lim)
                return admission_reject(out, 422, "%s: resources.requests[\"%s\"] and resources.limits[\"%s\"] differ; set them "
                              "equal", v->where, resource, resource);
        return 0;
}

/* The effective request of cpu or memory: the request, else the limit (what the API server's
 * defaulting would make the request). Rejects a request above its limit. */
static int effective_request(const ContainerView *v, const char *resource, unsigned scale, int64_t *ret,
                             AdmissionOutcome *out) {
        char where_req[200], where_lim[200];
        snprintf(where_req, sizeof(where_req), "%s.resources.requests", v->where);
        snprintf(where_lim, sizeof(where_lim), "%s.resources.limits", v->where);
        int64_t req = 0, lim = 0;
        bool has_req, has_lim;
        int r;
        if ((r = read_quantity(v->requests, resource, scale, where_req, &req, &has_req, out)) < 0 ||
            (r = read_quantity(v->limits, resource, scale, where_lim, &lim, &has_lim, out)) < 0)
                return r;
        if (has_req && has_lim && req > lim)
                return admission_reject(out, 422, "%s: resources.requests[\"%s\"] exceeds resources.limits[\"%s\"]", v->where,
                              resource, resource);
        *ret = has_req ? req : has_lim ? lim : 0;
        return 0;
}

/* Copies map without cpu and memory, adding the colo resources with a non-zero value.
 * Returns NULL on allocation failure. */
static json_t *rewrite_map(const json_t *map, int64_t cpu_milli, int64_t memory) {
        json_t *m = map ? json_copy((json_t *) map) : json_object();
        if (!m)
                return NULL;
        (void) json_object_del(m, "cpu");
        (void) json_object_del(m, "memory");
        char buf[32];
        if (cpu_milli > 0) {
                quantity_format_units(cpu_milli, buf, sizeof(buf));
                if (json_object_set_new(m, NODE_OFFLINE_CPU_RESOURCE, json_string(buf)) < 0)
                        goto fail;
        }
        if (memory > 0) {
                quantity_format_units(memory, buf, sizeof(buf));
                if (json_object_set_new(m, NODE_OFFLINE_MEMORY_RESOURCE, json_string(buf)) < 0)
                        goto fail;
        }
        return m;
fail:
        json_decref(m);
        return NULL;
}

/* Keeps map's cpu and memory entries, verbatim, in record[field], next to what is there. */
static int keep_original(json_t *record, const char *field, const json_t *map) {
        if (!map)
                return 0;
        json_t *kept = json_object_get(record, field);
        if (!kept) {
                if (json_object_set_new(record, field, json_object()) < 0)
                        return -ENOMEM;
                kept = json_object_get(record, field);
        }
        static const char *const keys[] = { "cpu", "memory" };
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                json_t *v = json_object_get(map, keys[i]);
                if (v && json_object_set(kept, keys[i], v) < 0)
                        return -ENOMEM;
        }
        if (json_object_size(kept) == 0)
                (void) json_object_del(record, field);
        return 0;
}

/* Converts one offline container. Adds a "replace resources" operation to patch and the original
 * values to originals[name] when the container used cpu or memory. converted says whether the pod
 * was converted before: then cpu/memory next to colo.io/offline-* were added after colo ran (by a
 * sidecar injector or another webhook, colo being reinvoked) and are converted in turn, the newer
 * values winning; in a pod written that way by hand they are ambiguous and refused. seen holds the
 * container names of this list met so far. */
static int convert_container(const ContainerView *v, const char *list, size_t idx, json_t *patch, json_t *originals,
                             json_t *seen, bool converted, AdmissionOutcome *out) {
        bool colo = container_uses_colo(v), classic = container_uses_cpu_memory(v);
        int r;
        if (json_object_get(seen, v->name))
                return admission_reject(out, 400, "%s: duplicate container name '%s'", v->where, v->name);
        if (json_object_set_new(seen, v->name, json_true()) < 0)
                return oom(out);
        if (colo && classic && !converted)
                return admission_reject(out, 422, "%s: sets both cpu/memory and colo.io/offline-*; give only cpu and memory, "
                              "the webhook converts them", v->where);
        if (colo && !classic) {
                if ((r = check_colo_container(v, NODE_OFFLINE_CPU_RESOURCE, out)) < 0 ||
                    (r = check_colo_container(v, NODE_OFFLINE_MEMORY_RESOURCE, out)) < 0)
                        return r;
                return 0;
        }
        if (!classic)
                return 0;

        int64_t cpu_milli, memory;
        if ((r = effective_request(v, "cpu", 3, &cpu_milli, out)) < 0 ||
            (r = effective_request(v, "memory", 0, &memory, out)) < 0)
                return r;

        json_t *record = json_object_get(originals, v->name);
        if (!json_is_object(record)) {
                if (json_object_set_new(originals, v->name, json_object()) < 0)
                        return oom(out);
                record = json_object_get(originals, v->name);
        }
        if (keep_original(record, "requests", v->requests) < 0 || keep_original(record, "limits", v->limits) < 0)
                return oom(out);

        _cleanup_(json_decrefp) json_t *resources = json_copy((json_t *) v->resources);
        _cleanup_(json_decrefp) json_t *requests = rewrite_map(v->requests, cpu_milli, memory);
        _cleanup_(json_decrefp) json_t *limits = rewrite_map(v->limits, cpu_milli, memory);
        if (!resources || !requests || !limits)
                return oom(out);
        if ((json_object_size(requests) > 0 ? json_object_set(resources, "requests", requests)
                                            : (json_object_del(resources, "requests"), 0)) < 0 ||
            (json_object_size(limits) > 0 ? json_object_set(resources, "limits", limits)
                                          : (json_object_del(resources, "limits"), 0)) < 0)
                return oom(out);

        char path[128];
        snprintf(path, sizeof(path), "/spec/%s/%zu/resources", list, idx);
        if (patch_append(patch, "replace", path, TAKE_PTR(resources)) < 0)
                return oom(out);
        return 0;
}

static const char *annotation(const json_t *pod, const char *key, AdmissionOutcome *out, int *ret_r) {
        const json_t *meta = json_object_get(pod, "metadata"), *ann;
        *ret_r = 0;
        if (!meta)
                return NULL;
        if ((*ret_r = optional_object(meta, "annotations", "metadata", &ann, out)) < 0 || !ann)
                return NULL;
        const json_t *v = json_object_get(ann, key);
        return json_is_string(v) ? json_string_value(v) : NULL;
}

static int check_pod_level_resources(const json_t *spec, AdmissionOutcome *out) {
        const json_t *res = NULL, *req = NULL, *lim = NULL;
        int r;
        if ((r = optional_object(spec, "resources", "spec", &res, out)) < 0 ||
            (r = optional_object(res, "requests", "spec.resources", &req, out)) < 0 ||
            (r = optional_object(res, "limits", "spec.resources", &lim, out)) < 0)
                return r;
        if (has_key(req, "cpu") || has_key(req, "memory") || has_key(lim, "cpu") || has_key(lim, "memory"))
                return admission_reject(out, 422, "spec.resources: pod-level cpu/memory cannot be moved to oversold capacity; "
                              "set resources per container");
        return 0;
}

static bool priority_class_replaceable(const AdmissionConfig *cfg, const char *name) {
        if (strncmp(name, "system-", 7) == 0)
                return false;
        for (const char *const *p = cfg->replaceable_priority_classes; p && *p; p++)
                if (strcmp(*p, name) == 0)
                        return true;
        return false;
}

/* Sets spec.<key> to value (stolen) unless it already equals it. */
static int patch_spec_field(json_t *patch, const json_t *spec, const char *key, json_t *value_stolen) {
        _cleanup_(json_decrefp) json_t *value = value_stolen;
        if (!value)
                return -ENOMEM;
        const json_t *cur = json_object_get(spec, key);
        if (cur && json_equal((json_t *) cur, value))
                return 0;
        char path[64];
        snprintf(path, sizeof(path), "/spec/%s", key);
        return patch_append(patch, cur ? "replace" : "add", path, TAKE_PTR(value));
}

static int mutate_offline(const AdmissionConfig *cfg, const json_t *pod, const json_t *spec, json_t *patch,
                          AdmissionOutcome *out) {
        int r;
        const json_t *pcn = json_object_get(spec, "priorityClassName");
        const char *pcn_value = json_is_string(pcn) ? json_string_value(pcn) : "";
        if (pcn_value[0] && strcmp(pcn_value, POD_OFFLINE_PRIORITY_CLASS) != 0 &&
            !priority_class_replaceable(cfg, pcn_value))
                return admission_reject(out, 422, "spec.priorityClassName '%s' conflicts with offline class: remove it (the "
                              "webhook sets " POD_OFFLINE_PRIORITY_CLASS "), or start the webhook with "
                              "--replaceable-priority-class=%s if it is the cluster default", pcn_value, pcn_value);
        if ((r = check_pod_level_resources(spec, out)) < 0)
                return r;

        const char *kept = annotation(pod, ADMISSION_ORIGINAL_RESOURCES_ANNOTATION, out, &r);
        if (r < 0)
                return r;
        /* The record of originals: the one kept from an earlier pass, or a new one. */
        _cleanup_(json_decrefp) json_t *originals = NULL;
        if (kept) {
                json_error_t jerr;
                originals = json_loads(kept, JSON_REJECT_DUPLICATES, &jerr);
                if (!json_is_object(originals))
                        return admission_reject(out, 422, "annotation " ADMISSION_ORIGINAL_RESOURCES_ANNOTATION " is not a JSON "
                                      "object; remove it (the webhook writes it)");
        } else if (!(originals = json_object()))
                return oom(out);

        size_t ops_before = json_array_size(patch);
        static const char *const lists[] = { "containers", "initContainers" };
        for (size_t l = 0; l < ELEMENTSOF(lists); l++) {
                const json_t *arr;
                if ((r = optional_array(spec, lists[l], "spec", &arr, out)) < 0)
                        return r;
                json_t *list_originals = json_object_get(originals, lists[l]);
                if (!json_is_object(list_originals)) {
                        if (json_object_set_new(originals, lists[l], json_object()) < 0)
                                return oom(out);
                        list_originals = json_object_get(originals, lists[l]);
                }
                _cleanup_(json_decrefp) json_t *seen = json_object();
                if (!seen)
                        return oom(out);
                size_t i;
                const json_t *c;
                json_array_foreach(arr, i, c) {
                        ContainerView v;
                        if ((r = container_view(c, lists[l], i, &v, out)) < 0 ||
                            (r = convert_container(&v, lists[l], i, patch, list_originals, seen, kept != NULL, out)) < 0)
                                return r;
                }
        }

        /* Written when the pod is first converted, and rewritten when a later pass converted more. */
        if (!kept || json_array_size(patch) > ops_before) {
                _cleanup_free_ char *value = json_dumps(originals, JSON_COMPACT | JSON_SORT_KEYS);
                if (!value)
                        return oom(out);
                const json_t *meta = json_object_get(pod, "metadata");
                bool have_annotations = json_is_object(json_object_get(meta, "annotations"));
                if (!meta)
                        r = patch_append(patch, "add", "/metadata",
                                         json_pack("{s:{s:s}}", "annotations", ADMISSION_ORIGINAL_RESOURCES_ANNOTATION,
                                                   value));
                else if (!have_annotations)
                        r = patch_append(patch, "add", "/metadata/annotations",
                                         json_pack("{s:s}", ADMISSION_ORIGINAL_RESOURCES_ANNOTATION, value));
                else {
                        char seg[128], path[160];
                        json_pointer_escape(ADMISSION_ORIGINAL_RESOURCES_ANNOTATION, seg, sizeof(seg));
                        snprintf(path, sizeof(path), "/metadata/annotations/%s", seg);
                        r = patch_append(patch, kept ? "replace" : "add", path, json_string(value));
                }
                if (r < 0)
                        return oom(out);
        }

        if (patch_spec_field(patch, spec, "priorityClassName", json_string(POD_OFFLINE_PRIORITY_CLASS)) < 0 ||
            patch_spec_field(patch, spec, "priority", json_integer(cfg->offline_priority)) < 0 ||
            (cfg->offline_preemption_policy &&
             patch_spec_field(patch, spec, "preemptionPolicy", json_string(cfg->offline_preemption_policy)) < 0))
                return oom(out);
        return 0;
}

static int check_online(const json_t *pod, const json_t *spec, AdmissionOutcome *out) {
        int r;
        if (annotation(pod, ADMISSION_ORIGINAL_RESOURCES_ANNOTATION, out, &r))
                return admission_reject(out, 422, "annotation " ADMISSION_ORIGINAL_RESOURCES_ANNOTATION " on an online pod: "
                              "remove it, or mark the pod offline");
        if (r < 0)
                return r;
        static const char *const lists[] = { "containers", "initContainers" };
        for (size_t l = 0; l < ELEMENTSOF(lists); l++) {
                const json_t *arr, *c;
                size_t i;
                if ((r = optional_array(spec, lists[l], "spec", &arr, out)) < 0)
                        return r;
                json_array_foreach(arr, i, c) {
                        ContainerView v;
                        if ((r = container_view(c, lists[l], i, &v, out)) < 0)
                                return r;
                        if (container_uses_colo(&v))
                                return admission_reject(out, 422, "%s: an online pod cannot use colo.io/offline-* (oversold "
                                              "capacity); remove them, or annotate the pod "
                                              POD_CLASS_ANNOTATION ": offline", v.where);
                }
        }
        return 0;
}

int admission_mutate_pod(const AdmissionConfig *cfg, const json_t *pod, json_t **ret_patch, AdmissionOutcome *out) {
        out->workload_class = _CLASS_INVALID;
        if (!json_is_object(pod))
                return admission_reject(out, 400, "request.object: must be a Pod object");
        const json_t *spec = json_object_get(pod, "spec");
        if (!json_is_object(spec))
                return admission_reject(out, 400, "request.object.spec: missing or not an object");
        const json_t *containers = json_object_get(spec, "containers");
        if (!json_is_array(containers) || json_array_size(containers) == 0)
                return admission_reject(out, 400, "request.object.spec.containers: missing or empty");

        ColoError err = {};
        PodClass pc;
        if (pod_class_from_json(pod, POD_CLASS_STRICT, &pc, &err) < 0)
                return admission_reject(out, 422, "%s", err.msg);
        out->workload_class = pc.workload_class;

        _cleanup_(json_decrefp) json_t *patch = json_array();
        if (!patch)
                return oom(out);
        int r = pc.workload_class == CLASS_OFFLINE ? mutate_offline(cfg, pod, spec, patch, out)
                                                   : check_online(pod, spec, out);
        if (r < 0)
                return r;
        out->allowed = true;
        out->code = 200;
        out->patch_ops = json_array_size(patch);
        *ret_patch = TAKE_PTR(patch);
        return 0;
}
