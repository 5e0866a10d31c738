/* Parsing of what the pod watch receives: v1.Pod objects into KubePod, watch event lines, PodList
 * pages, and the line splitter for the chunked watch stream. Pure functions over bytes, fuzzed
 * (tests/fuzz/fuzz-watch-event.c). */
#include <stdio.h>
#include <string.h>

#include "k8s/node-annotation.h"
#include "kube/pod-watch.h"
#include "k8s/resource-quantity.h"
#include "util/macro.h"

static const char *const event_types[_KUBE_WATCH_EVENT_TYPE_MAX] = {
        [KUBE_WATCH_ADDED] = "ADDED",       [KUBE_WATCH_MODIFIED] = "MODIFIED", [KUBE_WATCH_DELETED] = "DELETED",
        [KUBE_WATCH_BOOKMARK] = "BOOKMARK", [KUBE_WATCH_ERROR] = "ERROR",
};

const char *kube_watch_event_type_to_string(KubeWatchEventType t) {
        return t >= 0 && t < _KUBE_WATCH_EVENT_TYPE_MAX ? event_types[t] : NULL;
}

const char *kube_pod_ref(const KubePod *p, char *buf, size_t size) {
        snprintf(buf, size, "%s/%s", p->namespace_, p->name);
        return buf;
}

bool kube_pod_is_terminal(const KubePod *p) {
        return strcmp(p->phase, "Succeeded") == 0 || strcmp(p->phase, "Failed") == 0;
}

/* Copies an optional string field into buf. -EINVAL if present but not a string or too long. */
static int copy_string(const json_t *obj, const char *key, const char *path, char *buf, size_t size, bool required,
                       ColoError *err) {
        json_t *v = json_object_get(obj, key);
        if (!v || json_is_null(v)) {
                if (required)
                        return colo_error_setf_plain(err, EINVAL, "%s: missing", path);
                buf[0] = '\0';
                return 0;
        }
        const char *s = json_string_value(v);
        if (!s)
                return colo_error_setf_plain(err, EINVAL, "%s: expected a string", path);
        size_t n = strlen(s);
        if (n >= size || (required && n == 0) || n != json_string_length(v))
                return colo_error_setf_plain(err, EINVAL, "%s: empty, too long or with a NUL byte", path);
        memcpy(buf, s, n + 1);
        return 0;
}

static int64_t add_saturating(int64_t a, int64_t b) {
        return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* One quantity of a container's requests or limits; 0 when absent. */
static int quantity(const json_t *list, const char *resource, int (*parse)(const char *, int64_t *), const char *path,
                    int64_t *ret, bool *ret_present, ColoError *err) {
        json_t *v = json_object_get(list, resource);
        *ret = 0;
        if (ret_present)
                *ret_present = v != NULL;
        if (!v)
                return 0;
        const char *s = json_string_value(v);
        int64_t q;
        if (json_is_integer(v) && json_integer_value(v) >= 0) {
                /* The API server always sends strings; integers are accepted as plain numbers. */
                char buf[32];
                snprintf(buf, sizeof(buf), "%lld", (long long) json_integer_value(v));
                if (parse(buf, &q) < 0)
                        return colo_error_setf_plain(err, EINVAL, "%s.%s: invalid quantity", path, resource);
        } else if (!s || parse(s, &q) < 0)
                return colo_error_setf_plain(err, EINVAL, "%s.%s: invalid quantity", path, resource);
        *ret = q;
        return 0;
}

/* Resources of one container list: sums (containers) or maxima (init containers, which run one
 * at a time), the way the scheduler computes a pod's effective request. */
typedef struct PodResources {
        int64_t offline_cpu, offline_memory, cpu_limit, memory_limit;
        bool all_cpu_limited, all_memory_limited;
} PodResources;

static int container_resources(const json_t *spec, const char *field, bool sum, PodResources *ret, ColoError *err) {
        json_t *list = json_object_get(spec, field);
        *ret = (PodResources) { .all_cpu_limited = true, .all_memory_limited = true };
        if (!list || json_is_null(list))
                return 0;
        if (!json_is_array(list))
                return colo_error_setf_plain(err, EINVAL, "spec.%s: expected a list", field);
        size_t i;
        json_t *c;
        json_array_foreach(list, i, c) {
                char path[96];
                snprintf(path, sizeof(path), "spec.%s[%zu].resources", field, i);
                json_t *res = json_object_get(c, "resources");
                json_t *req = json_object_get(res, "requests"), *lim = json_object_get(res, "limits");
                if ((req && !json_is_object(req) && !json_is_null(req)) || (lim && !json_is_object(lim) && !json_is_null(lim)))
                        return colo_error_setf_plain(err, EINVAL, "%s: requests and limits must be maps", path);
                int64_t ocpu, omem, cpu_lim, mem_lim;
                bool has_cpu, has_mem;
                int r;
                if ((r = quantity(req, NODE_OFFLINE_CPU_RESOURCE, quantity_parse_integer, path, &ocpu, NULL, err)) < 0 ||
                    (r = quantity(req, NODE_OFFLINE_MEMORY_RESOURCE, quantity_parse_integer, path, &omem, NULL, err)) < 0 ||
                    (r = quantity(lim, "cpu", quantity_parse_milli, path, &cpu_lim, &has_cpu, err)) < 0 ||
                    (r = quantity(lim, "memory", quantity_parse_units, path, &mem_lim, &has_mem, err)) < 0)
                        return r;
                if (sum) {
                        ret->offline_cpu = add_saturating(ret->offline_cpu, ocpu);
                        ret->offline_memory = add_saturating(ret->offline_memory, omem);
                        ret->cpu_limit = add_saturating(ret->cpu_limit, cpu_lim);
                        ret->memory_limit = add_saturating(ret->memory_limit, mem_lim);
                        ret->all_cpu_limited &= has_cpu;
                        ret->all_memory_limited &= has_mem;
                } else {
                        ret->offline_cpu = MAX(ret->offline_cpu, ocpu);
                        ret->offline_memory = MAX(ret->offline_memory, omem);
                }
        }
        return 0;
}

int kube_pod_from_json(const json_t *pod, KubePod *ret, ColoError *err) {
        KubePod p = { .qos = _KUBE_QOS_INVALID };
        int r;

        if (!json_is_object(pod))
                return colo_error_setf_plain(err, EINVAL, "pod: expected an object");
        const char *kind = json_string_value(json_object_get(pod, "kind"));
        if (kind && strcmp(kind, "Pod") != 0)
                return colo_error_setf_plain(err, EINVAL, "kind: '%s' is not a Pod", kind);
        json_t *meta = json_object_get(pod, "metadata"), *spec = json_object_get(pod, "spec"),
               *status = json_object_get(pod, "status");
        if (!json_is_object(meta))
                return colo_error_setf_plain(err, EINVAL, "metadata: missing");
        if ((spec && !json_is_object(spec)) || (status && !json_is_object(status) && !json_is_null(status)))
                return colo_error_setf_plain(err, EINVAL, "spec or status: expected an object");
        if ((r = copy_string(meta, "uid", "metadata.uid", p.uid, sizeof(p.uid), true, err)) < 0 ||
            (r = copy_string(meta, "name", "metadata.name", p.name, sizeof(p.name), true, err)) < 0 ||
            (r = copy_string(meta, "namespace", "metadata.namespace", p.namespace_, sizeof(p.namespace_), true, err)) < 0 ||
            (r = copy_string(meta, "resourceVersion", "metadata.resourceVersion", p.resource_version,
                             sizeof(p.resource_version), false, err)) < 0 ||
            (r = copy_string(spec, "nodeName", "spec.nodeName", p.node, sizeof(p.node), false, err)) < 0 ||
            (r = copy_string(status, "phase", "status.phase", p.phase, sizeof(p.phase), false, err)) < 0)
                return r;
        if (!pod_uid_is_valid(p.uid))
                return colo_error_setf_plain(err, EINVAL, "metadata.uid: '%s' is not a UID", p.uid);
        json_t *del = json_object_get(meta, "deletionTimestamp");
        p.deleting = del && !json_is_null(del);

        char qos[32];
        if ((r = copy_string(status, "qosClass", "status.qosClass", qos, sizeof(qos), false, err)) < 0)
                return r;
        if (qos[0]) {
                p.qos = kube_qos_class_from_string(qos);
                if (p.qos < 0)
                        return colo_error_setf_plain(err, EINVAL, "status.qosClass: '%s' is not a QoS class", qos);
        }

        ColoError cerr = {};
        if (pod_class_from_json(pod, POD_CLASS_PRECEDENCE, &p.cls, &cerr) < 0) {
                /* Unknown pods stay protected: online, normal tier, the reason kept for the log. */
                p.cls = (PodClass) { .workload_class = CLASS_ONLINE, .tier = TIER_NORMAL, .source = POD_CLASS_SOURCE_DEFAULT };
                snprintf(p.class_error, sizeof(p.class_error), "%s", colo_error_msg(&cerr));
        }

        PodResources main_res, init_res;
        if ((r = container_resources(spec, "containers", true, &main_res, err)) < 0 ||
            (r = container_resources(spec, "initContainers", false, &init_res, err)) < 0)
                return r;
        p.offline_cpu_request_milli = MAX(main_res.offline_cpu, init_res.offline_cpu);
        p.offline_memory_request = MAX(main_res.offline_memory, init_res.offline_memory);
        p.cpu_limit_milli = main_res.all_cpu_limited ? main_res.cpu_limit : 0;
        p.memory_limit = main_res.all_memory_limited ? main_res.memory_limit : 0;
        ColoError lerr = {};
        r = pod_limits_from_pod(pod, &p.own_limits, &lerr);
        if (r == -ENOMEM)       /* no memory to read it is not a malformed annotation */
                return colo_error_setf_plain(err, ENOMEM, "pod limits: %s", colo_error_msg(&lerr));
        if (r < 0) {
                p.own_limits = (PodLimits) {};
                snprintf(p.limits_error, sizeof(p.limits_error), "%s", colo_error_msg(&lerr));
        }

        *ret = p;
        return 0;
}

int kube_watch_event_parse(const char *line, size_t size, KubeWatchEvent *ret, ColoError *err) {
        json_error_t jerr;
        json_t *j = json_loadb(line, size, JSON_REJECT_DUPLICATES, &jerr);
        if (!j)
                return colo_error_setf_plain(err, EINVAL, "watch event: not JSON (%s at %d)", jerr.text, jerr.position);
        _cleanup_free_ KubeWatchEvent *ev = calloc(1, sizeof(*ev));
        int r = 0;
        if (!ev) {
                r = colo_error_set(err, ENOMEM, "watch event");
                goto done;
        }
        const char *type = json_string_value(json_object_get(j, "type"));
        json_t *obj = json_object_get(j, "object");
        if (!json_is_object(j) || !type || !json_is_object(obj)) {
                r = colo_error_setf_plain(err, EINVAL, "watch event: needs a \"type\" string and an \"object\"");
                goto done;
        }
        ev->type = _KUBE_WATCH_EVENT_TYPE_INVALID;
        for (int i = 0; i < _KUBE_WATCH_EVENT_TYPE_MAX; i++)
                if (strcmp(type, event_types[i]) == 0)
                        ev->type = (KubeWatchEventType) i;
        switch (ev->type) {
        case KUBE_WATCH_ERROR: {
                json_t *code = json_object_get(obj, "code");
                if (code && !json_is_integer(code)) {
                        r = colo_error_setf_plain(err, EINVAL, "watch ERROR event: code is not an integer");
                        goto done;
                }
                json_int_t c = code ? json_integer_value(code) : 0;
                ev->status.code = c >= 0 && c < 1000 ? (int) c : 0;
                snprintf(ev->status.reason, sizeof(ev->status.reason), "%s",
                         json_string_value(json_object_get(obj, "reason")) ?: "");
                snprintf(ev->status.message, sizeof(ev->status.message), "%s",
                         json_string_value(json_object_get(obj, "message")) ?: "");
                break;
        }
        case KUBE_WATCH_BOOKMARK:
                r = copy_string(json_object_get(obj, "metadata"), "resourceVersion", "BOOKMARK metadata.resourceVersion",
                                ev->resource_version, sizeof(ev->resource_version), true, err);
                break;
        case KUBE_WATCH_ADDED:
        case KUBE_WATCH_MODIFIED:
        case KUBE_WATCH_DELETED:
                r = kube_pod_from_json(obj, &ev->pod, err);
                if (r < 0) {
                        colo_error_wrap(err, "watch %s event", type);
                        goto done;
                }
                if (!ev->pod.resource_version[0]) {
                        r = colo_error_setf_plain(err, EINVAL, "watch %s event: metadata.resourceVersion: missing", type);
                        goto done;
                }
                memcpy(ev->resource_version, ev->pod.resource_version, sizeof(ev->resource_version));
                break;
        default:
                r = colo_error_setf_plain(err, EINVAL, "watch event: unknown type '%s'", type);
                break;
        }
done:
        json_decref(j);
        if (r >= 0)
                *ret = *ev;
        return r;
}

int kube_pod_list_parse(const char *body, size_t size, KubePod **ret_pods, size_t *ret_n,
                        char resource_version[KUBE_RESOURCE_VERSION_MAX], char **ret_continue, ColoError *err) {
        json_error_t jerr;
        json_t *j = json_loadb(body, size, 0, &jerr);
        if (!j)
                return colo_error_setf_plain(err, EINVAL, "pod list: not JSON (%s at %d)", jerr.text, jerr.position);
        KubePod *pods = NULL;
        size_t n = 0;
        char rv[KUBE_RESOURCE_VERSION_MAX], cont_buf[8192];
        int r = 0;
        const char *kind = json_string_value(json_object_get(j, "kind"));
        json_t *meta = json_object_get(j, "metadata"), *items = json_object_get(j, "items");
        if (!json_is_object(j) || (kind && strcmp(kind, "PodList") != 0) || !json_is_object(meta) ||
            (items && !json_is_array(items) && !json_is_null(items))) {
                r = colo_error_setf_plain(err, EINVAL, "pod list: not a PodList");
                goto done;
        }
        if ((r = copy_string(meta, "resourceVersion", "pod list metadata.resourceVersion", rv, sizeof(rv), true, err)) < 0 ||
            (r = copy_string(meta, "continue", "pod list metadata.continue", cont_buf, sizeof(cont_buf), false, err)) < 0)
                goto done;
        size_t total = json_is_array(items) ? json_array_size(items) : 0;
        if (total > 0) {
                pods = calloc(total, sizeof(*pods));
                if (!pods) {
                        r = colo_error_set(err, ENOMEM, "pod list of %zu items", total);
                        goto done;
                }
        }
        for (size_t i = 0; i < total; i++) {
                r = kube_pod_from_json(json_array_get(items, i), &pods[n], err);
                if (r < 0) {
                        colo_error_wrap(err, "pod list items[%zu]", i);
                        goto done;
                }
                n++;
        }
        char *cont = NULL;
        if (cont_buf[0] && !(cont = strdup(cont_buf))) {
                r = colo_error_set(err, ENOMEM, "pod list");
                goto done;
        }
        memcpy(resource_version, rv, sizeof(rv));
        *ret_continue = cont;
        *ret_pods = TAKE_PTR(pods);
        *ret_n = n;
done:
        free(pods);
        json_decref(j);
        return r;
}

/* --- the line splitter --- */

void kube_line_buffer_reset(KubeLineBuffer *b) {
        free(b->buf);
        b->buf = NULL;
        b->size = b->cap = 0;
}

int kube_line_buffer_feed(KubeLineBuffer *b, const char *data, size_t size, KubeLineCallback cb, void *userdata) {
        size_t max = b->max_line ? b->max_line : KUBE_WATCH_LINE_MAX;
        while (size > 0) {
                const char *nl = memchr(data, '\n', size);
                size_t take = nl ? (size_t) (nl - data) : size;
                if (b->size + take > max)
                        return -EMSGSIZE;
                if (b->size + take + 1 > b->cap) {
                        size_t cap = MAX(MAX(b->cap * 2, b->size + take + 1), (size_t) 4096);
                        char *n = realloc(b->buf, cap);
                        if (!n)
                                return -ENOMEM;
                        b->buf = n;
                        b->cap = cap;
                }
                memcpy(b->buf + b->size, data, take);
                b->size += take;
                data += take;
                size -= take;
                if (!nl)
                        break;
                data++, size--;         /* the newline */
                size_t len = b->size;
                if (len > 0 && b->buf[len - 1] == '\r')
                        len--;
                b->size = 0;
                if (len == 0)
                        continue;
                b->buf[len] = '\0';
                int r = cb(userdata, b->buf, len);
                if (r < 0)
                        return r;
        }
        return 0;
}
