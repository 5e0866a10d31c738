/* Starts the fake API server (tests/integration/fake-apiserver.c) with a node and pods, makes it
 * answer every kind of document colo reads from it, and writes each body into a directory, for
 * check-fake-apiserver.mjs to validate and compare with the generated fixtures:
 *   pod-list.json, pod.json         GET /api/v1/pods (one page), GET a pod
 *   node-list.json, node.json       GET /api/v1/nodes, GET a node after colo-style status patches
 *   watch-<type>.json               the first ADDED / MODIFIED / DELETED / BOOKMARK / ERROR event of a
 *                                   watch (the DELETED one after a graceful eviction)
 *   status-<code>-<what>.json       404 (a pod, a node), 409 (UID precondition), 410 (expired watch),
 *                                   429 (disruption budget), 201 (an accepted eviction)
 *   event-created.json              the Event the server created from a POST
 * Usage: dump-fake-apiserver DIR. Writes what it can; exit 0 only when every document was
 * written with the expected HTTP status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "fake-apiserver.h"

#define NODE "node-a"

typedef struct Body {
        char *data;
        size_t size;
        bool watch;                     /* stop the transfer at the first event of type want */
        const char *want;
        char *event;                    /* that event's line */
} Body;

/* The first line of the buffer whose "type" is b->want, or NULL. */
static char *find_event(Body *b) {
        char *line = b->data;
        for (char *nl; line && (nl = memchr(line, '\n', b->size - (size_t) (line - b->data))); line = nl + 1) {
                json_t *ev = json_loadb(line, (size_t) (nl - line), 0, NULL);
                bool match = ev && strcmp(json_string_value(json_object_get(ev, "type")) ?: "", b->want) == 0;
                json_decref(ev);
                if (match)
                        return strndup(line, (size_t) (nl - line));
        }
        return NULL;
}

static size_t on_data(char *p, size_t size, size_t n, void *userdata) {
        Body *b = userdata;
        char *d = realloc(b->data, b->size + size * n + 1);
        if (!d)
                return 0;
        memcpy(d + b->size, p, size * n);
        b->data = d;
        b->size += size * n;
        b->data[b->size] = '\0';
        if (b->watch && !b->event && (b->event = find_event(b)))
                return 0;       /* got it: end the stream */
        return size * n;
}

/* The body of method url (with body as JSON for POST/PATCH), or NULL; *code gets the status. */
static char *request(const FakeApi *f, const char *method, const char *path, const char *ctype, const char *body,
                     const char *want_event, long *code) {
        char url[1024];
        snprintf(url, sizeof(url), "%s%s", fake_api_url(f), path);
        CURL *c = curl_easy_init();
        struct curl_slist *h = NULL;
        Body b = { .watch = want_event != NULL, .want = want_event };
        if (!c)
                return NULL;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);      /* a bound only: every stream ends by itself */
        if (body) {
                char ct[128];
                snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
                h = curl_slist_append(h, ct);
                curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        }
        CURLcode rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        if (want_event) {
                free(b.data);
                if (!b.event)
                        fprintf(stderr, "dump-fake-apiserver: %s: no %s event (%s)\n", path, want_event,
                                curl_easy_strerror(rc));
                return b.event;
        }
        if (rc != CURLE_OK) {
                fprintf(stderr, "dump-fake-apiserver: %s %s: %s\n", method, path, curl_easy_strerror(rc));
                free(b.data);
                return NULL;
        }
        return b.data;
}

/* Writes text, pretty-printed, to dir/name. */
static int write_doc(const char *dir, const char *name, const char *text) {
        json_error_t jerr;
        json_t *j = text ? json_loads(text, 0, &jerr) : NULL;
        if (!j) {
                fprintf(stderr, "dump-fake-apiserver: %s: %s\n", name, text ? jerr.text : "no document");
                return -EINVAL;
        }
        char file[4096];
        snprintf(file, sizeof(file), "%s/%s", dir, name);
        int r = json_dump_file(j, file, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(j);
        if (r < 0)
                fprintf(stderr, "dump-fake-apiserver: cannot write '%s'\n", file);
        return r < 0 ? -EIO : 0;
}

/* GET/POST/PATCH path and write the body as name; fails unless the status is expect. */
static int dump(FakeApi *f, const char *dir, const char *name, const char *method, const char *path,
                const char *body, long expect) {
        long code = 0;
        const char *ctype = strcmp(method, "PATCH") == 0 ? "application/merge-patch+json" : "application/json";
        char *text = request(f, method, path, ctype, body, NULL, &code);
        int r = text ? 0 : -EIO;
        if (r == 0 && code != expect) {
                fprintf(stderr, "dump-fake-apiserver: %s %s: HTTP %ld, expected %ld: %s\n", method, path, code, expect, text);
                r = -EPROTO;
        }
        if (r == 0)
                r = write_doc(dir, name, text);
        free(text);
        return r;
}

static int dump_event(FakeApi *f, const char *dir, const char *name, const char *path, const char *type) {
        long code = 0;
        char *line = request(f, "GET", path, NULL, NULL, type, &code);
        int r = write_doc(dir, name, line);
        free(line);
        return r;
}

static void add_pods(FakeApi *f) {
        FakePod offline = {
                .name = "train-7f9c", .namespace_ = "batch", .uid = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", .node = NODE,
                .qos_class = "BestEffort", .class_annotation = "offline", .tier_annotation = "best-effort",
                .priority_class = "colo-offline", .offline_cpu_milli = 2000, .offline_memory = 1000000000,
                .container_id = "containerd://8e4b2f1a9c3d5e7f0b6a8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f",
        };
        FakePod online = {
                .name = "web-5d8f", .namespace_ = "default", .uid = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d", .node = NODE,
                .qos_class = "Burstable", .container_id = "containerd://0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978",
        };
        fake_api_add_pod(f, fake_pod_json(&offline));
        fake_api_add_pod(f, fake_pod_json(&online));
}

/* colo's node status patches (node-status.c: capacity and allocatable in plain integers). */
#define CAPACITY_PATCH "{\"status\":{\"capacity\":{\"colo.io/offline-cpu\":\"2000\",\"colo.io/offline-memory\":" \
        "\"1000000000\"},\"allocatable\":{\"colo.io/offline-cpu\":\"2000\",\"colo.io/offline-memory\":\"1000000000\"}}}"
#define EVICT_WRONG_UID "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"web-5d8f\"," \
        "\"namespace\":\"default\"},\"deleteOptions\":{\"preconditions\":{\"uid\":\"00000000-0000-4000-8000-0000000000ff\"}}}"
#define EVICT_WEB "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"web-5d8f\"," \
        "\"namespace\":\"default\"}}"
#define EVICT_TRAIN "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"train-7f9c\"," \
        "\"namespace\":\"batch\"}}"

#define EVENT "{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"generateName\":\"train-7f9c.\"," \
        "\"namespace\":\"batch\"},\"involvedObject\":{\"kind\":\"Pod\",\"namespace\":\"batch\",\"name\":\"train-7f9c\"," \
        "\"uid\":\"1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f\",\"apiVersion\":\"v1\"},\"reason\":\"Evicted\",\"message\":" \
        "\"evicted by colo\",\"type\":\"Warning\",\"source\":{\"component\":\"colo\"}}"

static int dump_all(FakeApi *f, const char *dir) {
        char watch[256];
        fake_api_add_node(f, NODE, "4", "16Gi");
        fake_api_add_node(f, "node-b", "8", "32Gi");
        uint64_t start = fake_api_resource_version(f);
        add_pods(f);
        int bad = 0;
        bad += 0 > dump(f, dir, "node-patched.json", "PATCH", "/api/v1/nodes/" NODE "/status", CAPACITY_PATCH, 200);
        bad += 0 > dump(f, dir, "node.json", "GET", "/api/v1/nodes/" NODE, NULL, 200);
        bad += 0 > dump(f, dir, "node-list.json", "GET", "/api/v1/nodes", NULL, 200);
        bad += 0 > dump(f, dir, "pod-list.json", "GET", "/api/v1/pods?fieldSelector=spec.nodeName%3D" NODE "&limit=1", NULL, 200);
        bad += 0 > dump(f, dir, "pod.json", "GET", "/api/v1/namespaces/batch/pods/train-7f9c", NULL, 200);
        bad += 0 > dump(f, dir, "status-404-pod.json", "GET", "/api/v1/namespaces/batch/pods/gone-0000", NULL, 404);
        bad += 0 > dump(f, dir, "status-404-node.json", "GET", "/api/v1/nodes/node-gone", NULL, 404);
        bad += 0 > dump(f, dir, "status-409-uid.json", "POST", "/api/v1/namespaces/default/pods/web-5d8f/eviction",
                      EVICT_WRONG_UID, 409);
        fake_api_refuse_evictions(f, FAKE_EVICT_PDB_BLOCKED, 1);
        bad += 0 > dump(f, dir, "status-429-pdb.json", "POST", "/api/v1/namespaces/default/pods/web-5d8f/eviction",
                      EVICT_WEB, 429);
        bad += 0 > dump(f, dir, "event-created.json", "POST", "/api/v1/namespaces/batch/events", EVENT, 201);
        /* Graceful deletion: MODIFIED (deletionTimestamp set), then DELETED when the kubelet is done. */
        bad += 0 > dump(f, dir, "status-201-evicted.json", "POST", "/api/v1/namespaces/batch/pods/train-7f9c/eviction",
                      EVICT_TRAIN, 201);
        if (!fake_api_finish_termination(f, "batch", "train-7f9c")) {
                fprintf(stderr, "dump-fake-apiserver: train-7f9c is not terminating after its eviction\n");
                bad++;
        }
        snprintf(watch, sizeof(watch), "/api/v1/pods?fieldSelector=spec.nodeName%%3D" NODE "&watch=true&resourceVersion=%llu"
                 "&allowWatchBookmarks=true", (unsigned long long) start);
        bad += 0 > dump_event(f, dir, "watch-added.json", watch, "ADDED");
        bad += 0 > dump_event(f, dir, "watch-modified.json", watch, "MODIFIED");
        bad += 0 > dump_event(f, dir, "watch-deleted.json", watch, "DELETED");
        fake_api_set_bookmark_interval(f, 20);
        bad += 0 > dump_event(f, dir, "watch-bookmark.json", watch, "BOOKMARK");
        fake_api_set_bookmark_interval(f, 0);
        fake_api_compact(f);
        bad += 0 > dump_event(f, dir, "watch-error.json", watch, "ERROR");
        fake_api_set_watch_gone_as_http(f, true);
        bad += 0 > dump(f, dir, "status-410-expired.json", "GET", watch, NULL, 410);
        return bad ? -EPROTO : 0;
}

int main(int argc, char **argv) {
        if (argc != 2) {
                fprintf(stderr, "usage: dump-fake-apiserver DIR\n");
                return 2;
        }
        curl_global_init(CURL_GLOBAL_DEFAULT);
        FakeApi *f = fake_api_start(NULL);
        int r = f ? dump_all(f, argv[1]) : -EIO;
        fake_api_stop(f);
        curl_global_cleanup();
        return r < 0 ? 1 : 0;
}
