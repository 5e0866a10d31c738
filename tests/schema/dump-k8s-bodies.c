/* Writes every request colo sends to the API server, as colo's own builders make it, into a
 * directory, for check-bodies.mjs to validate against the Kubernetes schemas:
 *   <name>.json   a request body: "<METHOD> <path>" on the first line, the body after it
 *   <name>.query  a GET: "GET <path?query>" alone
 *   webhook-<fixture>  the webhook's reply to an AdmissionReview fixture: "REPLY <fixture file>",
 *                 then the reply (an answer to the API server, whose patch it applies to the pod)
 * The set covers each builder and each of its branches (grace period set or not, an Event with
 * and without the pod's resourceVersion, the first and a continued list page). Usage:
 * dump-k8s-bodies DIR [ADMISSION_FIXTURE...]. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admission/admission.h"
#include "kube/curl-dl.h"
#include "kube/k8s-event.h"
#include "kube/k8s-evict.h"
#include "kube/node-status.h"
#include "kube/pod-watch.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/macro.h"

#define NODE "worker-3.example"

static int write_request(const char *dir, const char *name, const char *method, const char *path, const char *body) {
        _cleanup_free_ char *file = NULL;
        if (!path || asprintf(&file, "%s/%s", dir, name) < 0) {
                fprintf(stderr, "dump-k8s-bodies: %s: out of memory\n", name);
                return -ENOMEM;
        }
        FILE *f = fopen(file, "we");
        if (!f) {
                fprintf(stderr, "dump-k8s-bodies: open '%s': %s\n", file, strerror(errno));
                return -errno;
        }
        fprintf(f, "%s %s\n%s%s", method, path, body ? body : "", body ? "\n" : "");
        if (fclose(f) != 0) {
                fprintf(stderr, "dump-k8s-bodies: write '%s': %s\n", file, strerror(errno));
                return -EIO;
        }
        return 0;
}

static int fail(const char *what, const ColoError *err) {
        fprintf(stderr, "dump-k8s-bodies: %s: %s\n", what, colo_error_msg(err));
        return -EINVAL;
}

static int dump_node_status(const char *dir) {
        ColoError err = {};
        _cleanup_free_ char *capacity = NULL, *annotation = NULL, *read_path = node_status_read_path(NODE);
        if (node_status_capacity_patch((NodeCapacity) { .cpu_milli = 7250, .memory = 12884901888 }, &capacity, &err) < 0)
                return fail("node status patch", &err);
        NodeUsage u = {
                .cpu_capacity_milli = 16000, .mem_capacity = 68719476736, .cpu_usage_milli = 5300,
                .cpu_peak_milli = 8100, .mem_usage = 30064771072, .mem_peak = 34359738368,
                .offline_cpu_milli = 7250, .offline_memory = 12884901888, .offline_cpu_requested_milli = 2000,
                .offline_memory_requested = 4294967296, .updated_usec = 1764590400ULL * USEC_PER_SEC,
        };
        if (node_status_annotation_patch(&u, &annotation, &err) < 0)
                return fail("node annotation patch", &err);
        int r;
        if ((r = write_request(dir, "node-status-patch.json", "PATCH", "/api/v1/nodes/" NODE "/status", capacity)) < 0 ||
            (r = write_request(dir, "node-annotation-patch.json", "PATCH", "/api/v1/nodes/" NODE, annotation)) < 0 ||
            (r = write_request(dir, "node-read.query", "GET", read_path, NULL)) < 0)
                return r;
        return 0;
}

static int dump_eviction(const char *dir) {
        ColoError err = {};
        KubeEviction ev = { .tier = TIER_BATCH };
        snprintf(ev.uid, sizeof(ev.uid), "5f0c3a2e-8d4b-4c1e-9a7f-2b6d8e1c4f90");
        snprintf(ev.namespace_, sizeof(ev.namespace_), "batch");
        snprintf(ev.name, sizeof(ev.name), "train-7f9c");
        snprintf(ev.reason, sizeof(ev.reason), "node memory pressure: offline pods over the budget");
        _cleanup_free_ char *with_grace = NULL, *own_grace = NULL, *event = NULL, *event_rv = NULL;
        if (kube_eviction_body(&ev, 30, &with_grace, &err) < 0 || kube_eviction_body(&ev, -1, &own_grace, &err) < 0)
                return fail("eviction body", &err);
        uint64_t at = 1764590400ULL * USEC_PER_SEC + 123456;
        if (kube_eviction_event_body(&ev, NODE, at, &event, &err) < 0)
                return fail("eviction event body", &err);
        snprintf(ev.resource_version, sizeof(ev.resource_version), "48213");
        if (kube_eviction_event_body(&ev, NODE, at, &event_rv, &err) < 0)
                return fail("eviction event body", &err);
        const char *evict_path = "/api/v1/namespaces/batch/pods/train-7f9c/eviction";
        const char *event_path = "/api/v1/namespaces/batch/events";
        int r;
        if ((r = write_request(dir, "eviction-grace.json", "POST", evict_path, with_grace)) < 0 ||
            (r = write_request(dir, "eviction-pod-grace.json", "POST", evict_path, own_grace)) < 0 ||
            (r = write_request(dir, "eviction-event.json", "POST", event_path, event)) < 0 ||
            (r = write_request(dir, "eviction-event-resource-version.json", "POST", event_path, event_rv)) < 0)
                return r;
        return 0;
}

/* The Warning Event the agent posts for a malformed colo.io/original-resources annotation
 * (src/agent/k8s-pod-limits.c builds it with these fields). */
static int dump_limits_event(const char *dir) {
        ColoError err = {};
        KubeEventSpec spec = {
                .namespace_ = "batch", .name = "train-7f9c", .uid = "5f0c3a2e-8d4b-4c1e-9a7f-2b6d8e1c4f90",
                .resource_version = "48213", .reason = "ColoLimitsMalformed",
                .message = "colo.io/original-resources: containers.train.limits.cpu: not a quantity: \"lots\"; "
                           "capped at the defaults (2 cores, 4Gi, 4096 pids)",
                .type = "Warning", .action = "Cap", .node_name = NODE,
                .realtime_usec = 1764590400ULL * USEC_PER_SEC + 654321,
        };
        _cleanup_free_ char *event = NULL;
        if (kube_event_body(&spec, &event, &err) < 0)
                return fail("limits event body", &err);
        return write_request(dir, "limits-event.json", "POST", "/api/v1/namespaces/batch/events", event);
}

static int dump_pod_watch(const char *dir) {
        _cleanup_free_ char *first = pod_watch_list_path(NODE, 500, NULL);
        /* A continue token is opaque base64 with '=' and '/' that must be escaped. */
        _cleanup_free_ char *next = pod_watch_list_path(NODE, 500, "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6NDgyMTN9/a+b=");
        _cleanup_free_ char *watch = pod_watch_watch_path(NODE, "48213", 417);
        int r;
        if ((r = write_request(dir, "pod-list.query", "GET", first, NULL)) < 0 ||
            (r = write_request(dir, "pod-list-continue.query", "GET", next, NULL)) < 0 ||
            (r = write_request(dir, "pod-watch.query", "GET", watch, NULL)) < 0)
                return r;
        return 0;
}

static int dump_webhook_reply(const char *dir, const char *fixture) {
        ColoError err = {};
        _cleanup_free_ char *request = NULL, *reply = NULL, *name = NULL;
        size_t size, reply_size;
        AdmissionConfig cfg = ADMISSION_CONFIG_DEFAULT;
        if (read_full_file(fixture, ADMISSION_REVIEW_MAX_SIZE, &request, &size, &err) < 0)
                return fail("read fixture", &err);
        if (admission_review(&cfg, request, size, &reply, &reply_size, NULL, &err) < 0)
                return fail(fixture, &err);
        const char *base = strrchr(fixture, '/');
        if (asprintf(&name, "webhook-%s", base ? base + 1 : fixture) < 0)
                name = NULL;
        return write_request(dir, name ?: "", "REPLY", name ? fixture : NULL, reply);
}

int main(int argc, char **argv) {
        ColoError err = {};
        if (argc < 2) {
                fprintf(stderr, "usage: %s DIR [ADMISSION_FIXTURE...]\n", argv[0]);
                return 2;
        }
        for (int i = 2; i < argc; i++)
                if (dump_webhook_reply(argv[1], argv[i]) < 0)
                        return 1;
        /* The list and watch paths escape their values with libcurl. */
        if (curl_dl_open(&err) < 0)
                return fail("load libcurl", &err), 1;
        if (dump_node_status(argv[1]) < 0 || dump_eviction(argv[1]) < 0 || dump_limits_event(argv[1]) < 0 ||
            dump_pod_watch(argv[1]) < 0)
                return 1;
        return 0;
}
