/* The fake API server's objects in the shapes a real API server writes them (the generated
 * fixtures in tests/fixtures/k8s are the reference; tests/schema/check-fake-apiserver.mjs keeps it
 * so): every key Go's encoding/json writes for the upstream types, null where it writes nil, no
 * empty map or list where a field is omitempty, and resource quantities in canonical form, as the
 * API server re-encodes every resource.Quantity it stores. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fake-apiserver-internal.h"

/* Bounds that keep every product below in an __int128 (about 1.7e38): at most 19 significant
 * digits, times at most 10^30 or 1024^6 * 10^18. A test's quantities are far inside them. */
#define SIGNIFICANT_MAX 19
#define EXP10_MIN (-40)
#define EXP10_MAX 30

typedef enum QuantityFormat { FORMAT_DECIMAL_SI, FORMAT_BINARY_SI, FORMAT_DECIMAL_EXPONENT } QuantityFormat;

/* s as mantissa * 10^exp10 * 1024^bin with its format, as resource.ParseQuantity reads it. */
static int quantity_split(const char *s, __int128 *mantissa, int *exp10, int *bin, QuantityFormat *format) {
        static const char decimal[] = "num kMGTPE";     /* index - 3 is the power of 1000 */
        static const char binary[] = "KMGTPE";
        __int128 m = 0;
        int digits = 0, e = 0;
        bool any = false, fraction = false;
        const char *p = s;
        if (*p == '+')
                p++;
        for (; (*p >= '0' && *p <= '9') || (*p == '.' && !fraction); p++) {
                if (*p == '.') {
                        fraction = true;
                        continue;
                }
                any = true;
                if (m == 0 && *p == '0') {
                        e -= fraction;
                        continue;
                }
                if (++digits > SIGNIFICANT_MAX)
                        return -ERANGE;
                m = m * 10 + (*p - '0');
                e -= fraction;
        }
        if (!any)
                return -EINVAL;
        *bin = 0;
        *format = FORMAT_DECIMAL_SI;
        const char *at;
        if (!*p)
                ;
        else if (p[1] == 'i' && !p[2] && (at = strchr(binary, p[0]))) {
                *bin = (int) (at - binary) + 1;
                *format = FORMAT_BINARY_SI;
        } else if ((*p == 'e' || *p == 'E') && p[1]) {
                char *end;
                long x = strtol(p + 1, &end, 10);
                if (*end || x < -100 || x > 100)
                        return -EINVAL;
                e += (int) x;
                *format = FORMAT_DECIMAL_EXPONENT;
        } else if (!p[1] && *p != ' ' && (at = strchr(decimal, *p)))
                e += 3 * ((int) (at - decimal) - 3);
        else
                return -EINVAL;
        if (e < EXP10_MIN || e > EXP10_MAX || (*format == FORMAT_BINARY_SI && e > 18))
                return -ERANGE;
        *mantissa = m;
        *exp10 = e;
        return 0;
}

static int format_int128(__int128 v, char *buf, size_t size) {
        char tmp[64];
        size_t n = 0;
        do {
                tmp[n++] = (char) ('0' + (int) (v % 10));
                v /= 10;
        } while (v > 0);
        if (n >= size)
                return -ENOBUFS;
        for (size_t i = 0; i < n; i++)
                buf[i] = tmp[n - 1 - i];
        buf[n] = '\0';
        return (int) n;
}

/* value = m * 1024^k as "<m><K..E>i", k as large as divides; false if not a whole number >= 1024. */
static bool canonical_binary(__int128 m, int exp10, int bin, char *buf, size_t size) {
        for (; bin > 0; bin--)
                m *= 1024;
        for (; exp10 > 0; exp10--)
                m *= 10;
        for (; exp10 < 0; exp10++) {
                if (m % 10 != 0)
                        return false;
                m /= 10;
        }
        if (m < 1024)
                return false;
        int k = 0;
        while (k < 6 && m % 1024 == 0) {
                m /= 1024;
                k++;
        }
        int n = format_int128(m, buf, size);
        if (n < 0 || (size_t) n + 3 > size)
                return false;
        if (k > 0)
                snprintf(buf + n, size - (size_t) n, "%ci", "KMGTPE"[k - 1]);
        return true;
}

int fake_quantity_canonical(const char *s, char *buf, size_t size) {
        __int128 m;
        int e, bin;
        QuantityFormat format;
        int r = quantity_split(s, &m, &e, &bin, &format);
        if (r < 0)
                return r;
        if (m == 0)
                return snprintf(buf, size, "0") < (int) size ? 0 : -ENOBUFS;
        if (format == FORMAT_BINARY_SI && canonical_binary(m, e, bin, buf, size))
                return 0;
        for (; bin > 0; bin--) {        /* a binary value below 1024 or fractional: decimal SI */
                m *= 1024;
                format = FORMAT_DECIMAL_SI;
        }
        while (m % 10 == 0) {
                m /= 10;
                e++;
        }
        /* Below nano is rounded up to it, as the API server does; exponents are multiples of 3. */
        while (e < -9) {
                m = m / 10 + (m % 10 != 0);
                e++;
        }
        while (((e % 3) + 3) % 3 != 0 || (format != FORMAT_DECIMAL_EXPONENT && e > 18)) {
                m *= 10;
                e--;
        }
        int n = format_int128(m, buf, size);
        if (n < 0 || (size_t) n + 6 > size)
                return -ENOBUFS;
        if (format == FORMAT_DECIMAL_EXPONENT && e != 0)
                snprintf(buf + n, size - (size_t) n, "e%d", e);
        else if (e != 0)
                snprintf(buf + n, size - (size_t) n, "%c", "num kMGTPE"[e / 3 + 3]);
        return 0;
}

int fake_canonicalize_resource_list(json_t *list, char *bad, size_t bad_size) {
        const char *key;
        json_t *v;
        json_object_foreach(list, key, v) {
                char q[64];
                if (!json_is_string(v) || fake_quantity_canonical(json_string_value(v), q, sizeof(q)) < 0) {
                        snprintf(bad, bad_size, "%s", key);
                        return -EINVAL;
                }
                json_string_set(v, q);
        }
        return 0;
}

static json_t *canonical(const char *s) {
        char q[64];
        return json_string(fake_quantity_canonical(s, q, sizeof(q)) == 0 ? q : s);
}

/* --- Node --- */

static json_t *node_condition(const char *type, const char *status, const char *reason, const char *message) {
        return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", type, "status", status, "lastHeartbeatTime",
                         "2024-05-01T12:00:00Z", "lastTransitionTime", "2024-04-01T08:00:00Z", "reason", reason,
                         "message", message);
}

static json_t *node_resources(const char *cpu, const char *memory) {
        return json_pack("{s:o, s:s, s:s, s:o, s:s}", "cpu", canonical(cpu), "ephemeral-storage", "103609200Ki",
                         "hugepages-2Mi", "0", "memory", canonical(memory), "pods", "110");
}

/* A Node as kubelet registers it and the controllers annotate it; seq makes uid and addresses unique. */
json_t *fake_node_json(const char *name, const char *cpu, const char *memory, unsigned seq) {
        char uid[64], cidr[32], ip[32];
        snprintf(uid, sizeof(uid), "6a5b4c3d-%04x-4000-8000-%012x", seq & 0xffff, seq);
        snprintf(cidr, sizeof(cidr), "10.244.%u.0/24", seq % 256);
        snprintf(ip, sizeof(ip), "10.0.0.%u", 10 + seq % 240);
        json_t *conditions = json_pack("[o, o, o, o]",
                                       node_condition("MemoryPressure", "False", "KubeletHasSufficientMemory",
                                                      "kubelet has sufficient memory available"),
                                       node_condition("DiskPressure", "False", "KubeletHasNoDiskPressure",
                                                      "kubelet has no disk pressure"),
                                       node_condition("PIDPressure", "False", "KubeletHasSufficientPID",
                                                      "kubelet has sufficient PID available"),
                                       node_condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"));
        json_t *info = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "machineID",
                                 "ec2d6f1e8b0a4c2f9d3e5a7b1c0d2e4f", "systemUUID", "ec2d6f1e-8b0a-4c2f-9d3e-5a7b1c0d2e4f",
                                 "bootID", "3b1f0c9e-5d2a-4e7b-8c6f-1a0d9e8b7c6a", "kernelVersion", "6.1.0-18-amd64",
                                 "osImage", "Debian GNU/Linux 12 (bookworm)", "containerRuntimeVersion",
                                 "containerd://1.7.13", "kubeletVersion", "v1.29.2", "kubeProxyVersion", "v1.29.2",
                                 "operatingSystem", "linux", "architecture", "amd64");
        json_t *status = json_pack("{s:o, s:o, s:o, s:[{s:s, s:s}, {s:s, s:s}], s:{s:{s:i}}, s:o}", "capacity",
                                   node_resources(cpu, memory), "allocatable", node_resources(cpu, memory),
                                   "conditions", conditions, "addresses", "type", "InternalIP", "address", ip, "type",
                                   "Hostname", "address", name, "daemonEndpoints", "kubeletEndpoint", "Port", 10250,
                                   "nodeInfo", info);
        return json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}, s:{s:s, s:s}}, s:{s:s, s:[s]}, s:o}",
                         "kind", "Node", "apiVersion", "v1", "metadata", "name", name, "uid", uid, "creationTimestamp",
                         "2024-04-01T08:00:00Z", "labels", "beta.kubernetes.io/arch", "amd64", "beta.kubernetes.io/os",
                         "linux", "kubernetes.io/arch", "amd64", "kubernetes.io/hostname", name, "kubernetes.io/os",
                         "linux", "annotations", "node.alpha.kubernetes.io/ttl", "0",
                         "volumes.kubernetes.io/controller-managed-attach-detach", "true", "spec", "podCIDR", cidr,
                         "podCIDRs", cidr, "status", status);
}

/* --- Pod --- */

/* The kube-api-access volume the ServiceAccount admission plugin adds, named after the pod. */
static json_t *api_access_volume(const char *volume) {
        return json_pack("{s:s, s:{s:[{s:{s:i, s:s}}, {s:{s:s, s:[{s:s, s:s}]}}, {s:{s:[{s:s, s:{s:s, s:s}}]}}], s:i}}",
                         "name", volume, "projected", "sources", "serviceAccountToken", "expirationSeconds", 3607, "path",
                         "token", "configMap", "name", "kube-root-ca.crt", "items", "key", "ca.crt", "path", "ca.crt",
                         "downwardAPI", "items", "path", "namespace", "fieldRef", "apiVersion", "v1", "fieldPath",
                         "metadata.namespace", "defaultMode", 420);
}

/* The two NoExecute tolerations the DefaultTolerationSeconds admission plugin adds. */
static json_t *default_tolerations(void) {
        return json_pack("[{s:s, s:s, s:s, s:i}, {s:s, s:s, s:s, s:i}]", "key", "node.kubernetes.io/not-ready", "operator",
                         "Exists", "effect", "NoExecute", "tolerationSeconds", 300, "key",
                         "node.kubernetes.io/unreachable", "operator", "Exists", "effect", "NoExecute",
                         "tolerationSeconds", 300);
}

static void set_offline_resources(const FakePod *p, json_t *requests, json_t *limits) {
        char q[64];
        if (p->offline_cpu_milli > 0) {
                snprintf(q, sizeof(q), "%lld", (long long) p->offline_cpu_milli);
                json_object_set_new(requests, "colo.io/offline-cpu", canonical(q));
                json_object_set_new(limits, "colo.io/offline-cpu", canonical(q));
        }
        if (p->offline_memory > 0) {
                snprintf(q, sizeof(q), "%lld", (long long) p->offline_memory);
                json_object_set_new(requests, "colo.io/offline-memory", canonical(q));
                json_object_set_new(limits, "colo.io/offline-memory", canonical(q));
        }
        const char *qos = p->qos_class ? p->qos_class : "BestEffort";
        if (strcmp(qos, "BestEffort") != 0) {
                json_object_set_new(requests, "cpu", json_string("500m"));
                json_object_set_new(requests, "memory", json_string("256Mi"));
                if (strcmp(qos, "Guaranteed") == 0) {
                        json_object_set_new(limits, "cpu", json_string("500m"));
                        json_object_set_new(limits, "memory", json_string("256Mi"));
                }
        }
}

/* resources {limits, requests}, each left out when empty (omitempty). */
static json_t *container_resources(const FakePod *p) {
        json_t *requests = json_object(), *limits = json_object(), *res = json_object();
        set_offline_resources(p, requests, limits);
        json_object_set_new(res, "limits", limits);
        json_object_set_new(res, "requests", requests);
        if (json_object_size(limits) == 0)
                json_object_del(res, "limits");
        if (json_object_size(requests) == 0)
                json_object_del(res, "requests");
        return res;
}

static json_t *pod_spec(const FakePod *p, const char *volume) {
        bool offline_class = p->priority_class && strcmp(p->priority_class, "colo-offline") == 0;
        json_t *container = json_pack("{s:s, s:s, s:[s, s, s], s:o, s:[{s:s, s:b, s:s}], s:s, s:s, s:s}", "name", "main",
                                      "image", "busybox:1.36", "command", "sleep", "infinity", "--", "resources",
                                      container_resources(p), "volumeMounts", "name", volume, "readOnly", 1, "mountPath",
                                      "/var/run/secrets/kubernetes.io/serviceaccount", "terminationMessagePath",
                                      "/dev/termination-log", "terminationMessagePolicy", "File", "imagePullPolicy",
                                      "IfNotPresent");
        json_t *spec = json_pack("{s:[o], s:[o], s:s, s:i, s:s, s:s, s:s, s:s, s:{}, s:s, s:o}", "volumes",
                                 api_access_volume(volume), "containers", container, "restartPolicy", "Always",
                                 "terminationGracePeriodSeconds", 30, "dnsPolicy", "ClusterFirst", "serviceAccountName",
                                 "default", "serviceAccount", "default", "nodeName", p->node, "securityContext",
                                 "schedulerName", "default-scheduler", "tolerations", default_tolerations());
        if (p->priority_class)
                json_object_set_new(spec, "priorityClassName", json_string(p->priority_class));
        json_object_set_new(spec, "priority", json_integer(offline_class ? -10 : 0));
        json_object_set_new(spec, "enableServiceLinks", json_true());
        json_object_set_new(spec, "preemptionPolicy", json_string(offline_class ? "Never" : "PreemptLowerPriority"));
        return spec;
}

static json_t *pod_condition(const char *type, const char *status, const char *at) {
        return json_pack("{s:s, s:s, s:n, s:s}", "type", type, "status", status, "lastProbeTime", "lastTransitionTime", at);
}

/* containerStatuses: running with its containerID, or waiting to be created (no containerID yet). */
static json_t *container_status(const FakePod *p) {
        bool started = p->container_id != NULL;
        json_t *st = json_pack("{s:s, s:o, s:{}, s:b, s:i, s:s, s:s}", "name", "main", "state",
                               started ? json_pack("{s:{s:s}}", "running", "startedAt", "2024-05-01T12:00:05Z")
                                       : json_pack("{s:{s:s}}", "waiting", "reason", "ContainerCreating"),
                               "lastState", "ready", started, "restartCount", 0, "image", "docker.io/library/busybox:1.36",
                               "imageID", started ? "docker.io/library/busybox@sha256:0123" : "");
        if (started)
                json_object_set_new(st, "containerID", json_string(p->container_id));
        json_object_set_new(st, "started", json_boolean(started));
        return st;
}

json_t *fake_pod_json(const FakePod *p) {
        char volume[64];
        unsigned h = 5381;
        for (const char *c = p->uid; *c; c++)
                h = h * 33 + (unsigned char) *c;
        snprintf(volume, sizeof(volume), "kube-api-access-%05x", h & 0xfffff);
        bool started = p->container_id != NULL;
        const char *ready = started ? "True" : "False";
        json_t *conditions = json_pack("[o, o, o, o]", pod_condition("Initialized", "True", "2024-05-01T12:00:01Z"),
                                       pod_condition("Ready", ready, "2024-05-01T12:00:06Z"),
                                       pod_condition("ContainersReady", ready, "2024-05-01T12:00:06Z"),
                                       pod_condition("PodScheduled", "True", "2024-05-01T12:00:00Z"));
        json_t *status = json_pack("{s:s, s:o, s:s, s:s, s:[{s:s}], s:s, s:[o], s:s}", "phase",
                                   p->phase ? p->phase : "Running", "conditions", conditions, "hostIP", "192.168.1.10",
                                   "podIP", "10.244.1.7", "podIPs", "ip", "10.244.1.7", "startTime", "2024-05-01T12:00:01Z",
                                   "containerStatuses", container_status(p), "qosClass",
                                   p->qos_class ? p->qos_class : "BestEffort");
        json_t *meta = json_pack("{s:s, s:s, s:s, s:s, s:{s:s}}", "name", p->name, "namespace", p->namespace_, "uid", p->uid,
                                 "creationTimestamp", "2024-05-01T12:00:00Z", "labels", "app", p->name);
        json_t *annotations = json_object();
        if (p->class_annotation)
                json_object_set_new(annotations, "colo.io/class", json_string(p->class_annotation));
        if (p->tier_annotation)
                json_object_set_new(annotations, "colo.io/tier", json_string(p->tier_annotation));
        if (json_object_size(annotations))
                json_object_set(meta, "annotations", annotations);
        json_decref(annotations);
        return json_pack("{s:s, s:s, s:o, s:o, s:o}", "kind", "Pod", "apiVersion", "v1", "metadata", meta, "spec",
                         pod_spec(p, volume), "status", status);
}
