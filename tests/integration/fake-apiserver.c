/* The fake API server: objects in memory under one mutex, an event history for watches, and a
 * libmicrohttpd daemon with a thread per connection, so a watch is a content-reader callback
 * that blocks on a condition variable until there is something to stream. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "fake-apiserver-internal.h"

#define WATCH_DEFAULT_TIMEOUT_SEC 1800
#define BODY_MAX (8 << 20)
#define MIN_SIZE(a, b) ((a) < (b) ? (a) : (b))

typedef struct HistoryEvent {
        char type[16];
        uint64_t rv;
        json_t *object;                 /* snapshot, with kind and apiVersion */
} HistoryEvent;

typedef struct Record {
        FakeRequest r;
} Record;

struct FakeApi {
        pthread_mutex_t lock;
        pthread_cond_t changed;
        struct MHD_Daemon *daemon;
        FakeApiOptions opts;
        char *cert, *key, *ca, *token;
        uint16_t port;
        char url[64];

        uint64_t rv;
        uint64_t compacted_rv;          /* resourceVersions below this are gone */
        json_t **pods;
        size_t n_pods;
        json_t *nodes;                  /* name -> Node */
        unsigned node_seq;              /* nodes made: each gets its own uid */
        HistoryEvent *history;
        size_t n_history;

        unsigned drop_gen, expire_gen, bookmark_gen;
        bool stopping;
        bool gone_as_http;
        size_t open_watches;
        FakeEvict *evict;               /* evictions and graceful deletion: fake-apiserver-evict.c */
        int list_fail_n;
        size_t page_size;
        uint64_t next_event;

        Record *records;
        size_t n_records;
};

/* Per request: the upload being collected. */
typedef struct Upload {
        char *body;
        size_t size;
        bool too_large;
} Upload;

static json_t *status_json(int code, const char *reason, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return json_pack("{s:s, s:s, s:{}, s:s, s:s, s:s, s:i}", "kind", "Status", "apiVersion", "v1", "metadata",
                         "status", code < 400 ? "Success" : "Failure", "message", msg, "reason", reason, "code", code);
}

/* --- objects (callers hold the lock) --- */

static const char *meta_str(const json_t *obj, const char *key) {
        return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

static const char *pod_node(const json_t *pod) {
        return json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName"));
}

static ssize_t find_pod(FakeApi *f, const char *ns, const char *name) {
        for (size_t i = 0; i < f->n_pods; i++) {
                const char *pns = meta_str(f->pods[i], "namespace"), *pn = meta_str(f->pods[i], "name");
                if (pns && pn && strcmp(pns, ns) == 0 && strcmp(pn, name) == 0)
                        return (ssize_t) i;
        }
        return -1;
}

static void set_rv(json_t *obj, uint64_t rv) {
        char s[32];
        snprintf(s, sizeof(s), "%llu", (unsigned long long) rv);
        json_t *meta = json_object_get(obj, "metadata");
        if (!meta) {
                meta = json_object();
                json_object_set_new(obj, "metadata", meta);
        }
        json_object_set_new(meta, "resourceVersion", json_string(s));
}

/* Records an event on obj (a new rv is assigned and written into obj) and wakes watches. */
static uint64_t emit(FakeApi *f, const char *type, json_t *obj) {
        uint64_t rv = ++f->rv;
        set_rv(obj, rv);
        HistoryEvent *h = realloc(f->history, (f->n_history + 1) * sizeof(*h));
        if (!h)
                abort();
        f->history = h;
        HistoryEvent *e = &h[f->n_history++];
        snprintf(e->type, sizeof(e->type), "%s", type);
        e->rv = rv;
        e->object = json_deep_copy(obj);
        pthread_cond_broadcast(&f->changed);
        return rv;
}

uint64_t fake_api_add_pod(FakeApi *f, json_t *pod) {
        pthread_mutex_lock(&f->lock);
        json_t **p = realloc(f->pods, (f->n_pods + 1) * sizeof(*p));
        if (!p)
                abort();
        f->pods = p;
        f->pods[f->n_pods++] = pod;
        uint64_t rv = emit(f, "ADDED", pod);
        pthread_mutex_unlock(&f->lock);
        return rv;
}

uint64_t fake_api_update_pod(FakeApi *f, json_t *pod) {
        uint64_t rv = 0;
        pthread_mutex_lock(&f->lock);
        ssize_t i = find_pod(f, meta_str(pod, "namespace"), meta_str(pod, "name"));
        if (i >= 0) {
                json_decref(f->pods[i]);
                f->pods[i] = pod;
                rv = emit(f, "MODIFIED", pod);
        } else
                json_decref(pod);
        pthread_mutex_unlock(&f->lock);
        return rv;
}

uint64_t fake_api_annotate_pod(FakeApi *f, const char *ns, const char *name, const char *key, const char *value) {
        uint64_t rv = 0;
        pthread_mutex_lock(&f->lock);
        ssize_t i = find_pod(f, ns, name);
        if (i >= 0) {
                json_t *meta = json_object_get(f->pods[i], "metadata");
                json_t *ann = json_object_get(meta, "annotations");
                if (!ann) {
                        ann = json_object();
                        json_object_set_new(meta, "annotations", ann);
                }
                if (value)
                        json_object_set_new(ann, key, json_string(value));
                else
                        json_object_del(ann, key);
                rv = emit(f, "MODIFIED", f->pods[i]);
        }
        pthread_mutex_unlock(&f->lock);
        return rv;
}

/* Caller holds the lock. */
static uint64_t delete_pod_locked(FakeApi *f, ssize_t i) {
        json_t *pod = f->pods[i];
        memmove(&f->pods[i], &f->pods[i + 1], (f->n_pods - (size_t) i - 1) * sizeof(*f->pods));
        f->n_pods--;
        uint64_t rv = emit(f, "DELETED", pod);
        json_decref(pod);
        return rv;
}

uint64_t fake_api_delete_pod(FakeApi *f, const char *ns, const char *name) {
        uint64_t rv = 0;
        pthread_mutex_lock(&f->lock);
        ssize_t i = find_pod(f, ns, name);
        if (i >= 0)
                rv = delete_pod_locked(f, i);
        pthread_mutex_unlock(&f->lock);
        return rv;
}

void fake_api_lock(FakeApi *f) {
        pthread_mutex_lock(&f->lock);
}

void fake_api_unlock(FakeApi *f) {
        pthread_mutex_unlock(&f->lock);
}

json_t *fake_api_pod_locked(FakeApi *f, const char *ns, const char *name) {
        ssize_t i = find_pod(f, ns, name);
        return i >= 0 ? f->pods[i] : NULL;
}

uint64_t fake_api_emit_locked(FakeApi *f, const char *type, json_t *obj) {
        return emit(f, type, obj);
}

uint64_t fake_api_remove_pod_locked(FakeApi *f, const char *ns, const char *name) {
        ssize_t i = find_pod(f, ns, name);
        return i >= 0 ? delete_pod_locked(f, i) : 0;
}

FakeEvict *fake_api_evict_state(FakeApi *f) {
        return f->evict;
}

json_t *fake_api_get_pod(FakeApi *f, const char *ns, const char *name) {
        pthread_mutex_lock(&f->lock);
        ssize_t i = find_pod(f, ns, name);
        json_t *copy = i >= 0 ? json_deep_copy(f->pods[i]) : NULL;
        pthread_mutex_unlock(&f->lock);
        return copy;
}

size_t fake_api_pod_count(FakeApi *f) {
        pthread_mutex_lock(&f->lock);
        size_t n = f->n_pods;
        pthread_mutex_unlock(&f->lock);
        return n;
}

uint64_t fake_api_resource_version(FakeApi *f) {
        pthread_mutex_lock(&f->lock);
        uint64_t rv = f->rv;
        pthread_mutex_unlock(&f->lock);
        return rv;
}

void fake_api_add_node(FakeApi *f, const char *name, const char *cpu, const char *memory) {
        pthread_mutex_lock(&f->lock);
        json_t *node = fake_node_json(name, cpu, memory, ++f->node_seq);
        f->rv++;
        set_rv(node, f->rv);
        json_object_set_new(f->nodes, name, node);
        pthread_mutex_unlock(&f->lock);
}

void fake_api_reset_node_resources(FakeApi *f, const char *name) {
        pthread_mutex_lock(&f->lock);
        json_t *status = json_object_get(json_object_get(f->nodes, name), "status");
        const char *sections[] = { "capacity", "allocatable" };
        for (size_t i = 0; i < 2; i++) {
                json_t *m = json_object_get(status, sections[i]);
                json_object_del(m, "colo.io/offline-cpu");
                json_object_del(m, "colo.io/offline-memory");
        }
        f->rv++;
        if (status)
                set_rv(json_object_get(f->nodes, name), f->rv);
        pthread_mutex_unlock(&f->lock);
}

json_t *fake_api_get_node(FakeApi *f, const char *name) {
        pthread_mutex_lock(&f->lock);
        json_t *n = json_object_get(f->nodes, name);
        json_t *copy = n ? json_deep_copy(n) : NULL;
        pthread_mutex_unlock(&f->lock);
        return copy;
}

/* --- failure injection --- */

void fake_api_compact(FakeApi *f) {
        pthread_mutex_lock(&f->lock);
        for (size_t i = 0; i < f->n_history; i++)
                json_decref(f->history[i].object);
        f->n_history = 0;
        f->compacted_rv = f->rv;
        pthread_mutex_unlock(&f->lock);
}

void fake_api_expire_watches(FakeApi *f) {
        pthread_mutex_lock(&f->lock);
        f->expire_gen++;
        pthread_cond_broadcast(&f->changed);
        pthread_mutex_unlock(&f->lock);
}

void fake_api_set_watch_gone_as_http(FakeApi *f, bool http) {
        pthread_mutex_lock(&f->lock);
        f->gone_as_http = http;
        pthread_mutex_unlock(&f->lock);
}

void fake_api_send_bookmark(FakeApi *f) {
        pthread_mutex_lock(&f->lock);
        f->bookmark_gen++;
        pthread_cond_broadcast(&f->changed);
        pthread_mutex_unlock(&f->lock);
}

void fake_api_drop_connections(FakeApi *f) {
        pthread_mutex_lock(&f->lock);
        f->drop_gen++;
        pthread_cond_broadcast(&f->changed);
        pthread_mutex_unlock(&f->lock);
}

void fake_api_fail_lists(FakeApi *f, int n) {
        pthread_mutex_lock(&f->lock);
        f->list_fail_n = n;
        pthread_mutex_unlock(&f->lock);
}

void fake_api_set_page_size(FakeApi *f, size_t n) {
        pthread_mutex_lock(&f->lock);
        f->page_size = n;
        pthread_mutex_unlock(&f->lock);
}

/* --- request records --- */

static void record(FakeApi *f, struct MHD_Connection *conn, const char *method, const char *url, const Upload *up,
                   long status);

void fake_request_free(FakeRequest *r) {
        free(r->body);
        r->body = NULL;
}

static bool request_matches(const FakeRequest *r, const char *method, const char *prefix) {
        return (!method || strcmp(r->method, method) == 0) && (!prefix || strncmp(r->path, prefix, strlen(prefix)) == 0);
}

size_t fake_api_count_requests(FakeApi *f, const char *method, const char *path_prefix) {
        size_t n = 0;
        pthread_mutex_lock(&f->lock);
        for (size_t i = 0; i < f->n_records; i++)
                n += request_matches(&f->records[i].r, method, path_prefix);
        pthread_mutex_unlock(&f->lock);
        return n;
}

bool fake_api_get_request(FakeApi *f, const char *method, const char *path_prefix, size_t index, FakeRequest *ret) {
        bool found = false;
        pthread_mutex_lock(&f->lock);
        for (size_t i = 0, k = 0; i < f->n_records && !found; i++) {
                if (!request_matches(&f->records[i].r, method, path_prefix))
                        continue;
                if (k++ == index) {
                        *ret = f->records[i].r;
                        ret->body = strdup(f->records[i].r.body ? f->records[i].r.body : "");
                        found = true;
                }
        }
        pthread_mutex_unlock(&f->lock);
        return found;
}

size_t fake_api_open_watches(FakeApi *f) {
        pthread_mutex_lock(&f->lock);
        size_t n = f->open_watches;
        pthread_mutex_unlock(&f->lock);
        return n;
}

bool fake_api_wait_for(FakeApi *f, bool (*pred)(FakeApi *f, void *userdata), void *userdata, int timeout_ms) {
        for (int waited = 0;; waited += 10) {
                if (pred(f, userdata))
                        return true;
                if (waited >= timeout_ms)
                        return false;
                usleep(10000);
        }
}

/* --- HTTP --- */

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, json_t *body) {
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(resp, "Content-Type", "application/json");
        MHD_add_response_header(resp, "Audit-Id", "00000000-0000-4000-8000-000000000000");
        enum MHD_Result r = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return r;
}

typedef struct WatchStream {
        FakeApi *f;
        char node[256];                 /* "" = every node */
        uint64_t rv;                    /* last resourceVersion sent */
        bool bookmarks;
        time_t deadline;
        unsigned drop_gen, expire_gen, bookmark_gen;
        bool gone;                      /* send the 410 ERROR event, then end */
        bool ending;                    /* end the stream once pending is sent */
        json_t *initial;                /* synthetic ADDED events for a watch from "any" version */
        size_t initial_next;
        char *pending;
        size_t pending_size, pending_off;
} WatchStream;

static void stream_set_line(WatchStream *w, const char *type, json_t *object) {
        json_t *ev = json_pack("{s:s, s:O}", "type", type, "object", object);
        char *text = json_dumps(ev, JSON_COMPACT);
        json_decref(ev);
        free(w->pending);
        size_t n = strlen(text);
        w->pending = realloc(text, n + 2);
        w->pending[n] = '\n';
        w->pending[n + 1] = '\0';
        w->pending_size = n + 1;
        w->pending_off = 0;
}

static bool node_matches(const WatchStream *w, const json_t *obj) {
        const char *n = pod_node(obj);
        return !w->node[0] || (n && strcmp(n, w->node) == 0);
}

/* Fills w->pending with the next line, if any. Caller holds the lock. */
static bool stream_next(WatchStream *w) {
        FakeApi *f = w->f;
        if (w->gone) {
                json_t *st = status_json(410, "Expired", "too old resource version: %llu (%llu)",
                                         (unsigned long long) w->rv, (unsigned long long) f->compacted_rv);
                stream_set_line(w, "ERROR", st);
                json_decref(st);
                w->gone = false;
                w->ending = true;
                return true;
        }
        if (w->initial && w->initial_next < json_array_size(w->initial)) {
                stream_set_line(w, "ADDED", json_array_get(w->initial, w->initial_next++));
                return true;
        }
        for (size_t i = 0; i < f->n_history; i++) {
                HistoryEvent *e = &f->history[i];
                if (e->rv <= w->rv)
                        continue;
                w->rv = e->rv;
                if (!node_matches(w, e->object))
                        continue;
                stream_set_line(w, e->type, e->object);
                return true;
        }
        if (w->bookmark_gen != f->bookmark_gen) {
                w->bookmark_gen = f->bookmark_gen;
                if (w->bookmarks) {
                        char rv[32];
                        snprintf(rv, sizeof(rv), "%llu", (unsigned long long) f->rv);
                        w->rv = f->rv;
                        json_t *bm = json_pack("{s:s, s:s, s:{s:s, s:n}, s:{s:n}, s:{}}", "kind", "Pod", "apiVersion", "v1",
                                               "metadata", "resourceVersion", rv, "creationTimestamp", "spec", "containers",
                                               "status");
                        stream_set_line(w, "BOOKMARK", bm);
                        json_decref(bm);
                        return true;
                }
        }
        return false;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
        WatchStream *w = cls;
        FakeApi *f = w->f;
        (void) pos;
        pthread_mutex_lock(&f->lock);
        for (;;) {
                if (f->stopping || w->drop_gen != f->drop_gen) {
                        pthread_mutex_unlock(&f->lock);
                        return MHD_CONTENT_READER_END_WITH_ERROR;
                }
                if (w->pending && w->pending_off < w->pending_size) {
                        size_t n = MIN_SIZE(max, w->pending_size - w->pending_off);
                        memcpy(buf, w->pending + w->pending_off, n);
                        w->pending_off += n;
                        pthread_mutex_unlock(&f->lock);
                        return (ssize_t) n;
                }
                if (w->ending || time(NULL) >= w->deadline) {
                        pthread_mutex_unlock(&f->lock);
                        return MHD_CONTENT_READER_END_OF_STREAM;
                }
                if (w->expire_gen != f->expire_gen) {
                        w->expire_gen = f->expire_gen;
                        w->gone = true;
                }
                if (stream_next(w))
                        continue;
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += 100 * 1000 * 1000;
                if (ts.tv_nsec >= 1000000000) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&f->changed, &f->lock, &ts);
        }
}

static void stream_free(void *cls) {
        WatchStream *w = cls;
        pthread_mutex_lock(&w->f->lock);
        w->f->open_watches--;
        pthread_mutex_unlock(&w->f->lock);
        json_decref(w->initial);
        free(w->pending);
        free(w);
}

static bool parse_rv(const char *s, uint64_t *ret) {
        char *end;
        if (!s || !*s)
                return false;
        unsigned long long v = strtoull(s, &end, 10);
        if (*end)
                return false;
        *ret = v;
        return true;
}

static json_t *list_item(const json_t *pod) {
        json_t *c = json_deep_copy(pod);
        json_object_del(c, "kind");
        json_object_del(c, "apiVersion");
        return c;
}

static enum MHD_Result handle_pods(FakeApi *f, struct MHD_Connection *conn, unsigned *status) {
        const char *fs = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "fieldSelector");
        const char *watch = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "watch");
        const char *rv_s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "resourceVersion");
        const char *bm = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "allowWatchBookmarks");
        const char *timeout_s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "timeoutSeconds");
        const char *limit_s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
        const char *cont = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "continue");
        char node[256] = "";

        if (fs) {
                if (strncmp(fs, "spec.nodeName=", 14) != 0 || strlen(fs + 14) >= sizeof(node)) {
                        *status = 400;
                        return respond(conn, 400, status_json(400, "BadRequest",
                                                              "Unable to find \"/v1, Resource=pods\" that match label "
                                                              "selector \"\", field selector \"%s\": field label not supported",
                                                              fs));
                }
                snprintf(node, sizeof(node), "%s", fs + 14);
        }
        bool is_watch = watch && (strcmp(watch, "true") == 0 || strcmp(watch, "1") == 0);

        pthread_mutex_lock(&f->lock);
        if (is_watch) {
                uint64_t rv = 0;
                bool any = !rv_s || !*rv_s || strcmp(rv_s, "0") == 0;
                if (!any && !parse_rv(rv_s, &rv)) {
                        pthread_mutex_unlock(&f->lock);
                        *status = 400;
                        return respond(conn, 400, status_json(400, "BadRequest", "invalid resourceVersion \"%s\"", rv_s));
                }
                bool too_old = !any && rv < f->compacted_rv;
                if (too_old && f->gone_as_http) {
                        uint64_t c = f->compacted_rv;
                        pthread_mutex_unlock(&f->lock);
                        *status = 410;
                        return respond(conn, 410, status_json(410, "Expired", "too old resource version: %llu (%llu)",
                                                              (unsigned long long) rv, (unsigned long long) c));
                }
                WatchStream *w = calloc(1, sizeof(*w));
                w->f = f;
                snprintf(w->node, sizeof(w->node), "%s", node);
                w->bookmarks = bm && strcmp(bm, "true") == 0;
                long timeout = timeout_s ? atol(timeout_s) : 0;
                w->deadline = time(NULL) + (timeout > 0 ? timeout : WATCH_DEFAULT_TIMEOUT_SEC);
                w->drop_gen = f->drop_gen;
                w->expire_gen = f->expire_gen;
                w->bookmark_gen = f->bookmark_gen;
                w->gone = too_old;
                if (any) {
                        /* "Any" version: the current state as ADDED events, then changes. */
                        w->initial = json_array();
                        for (size_t i = 0; i < f->n_pods; i++)
                                if (node_matches(w, f->pods[i]))
                                        json_array_append_new(w->initial, json_deep_copy(f->pods[i]));
                        w->rv = f->rv;
                } else
                        w->rv = rv;
                f->open_watches++;
                pthread_mutex_unlock(&f->lock);
                struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, w,
                                                                              stream_free);
                MHD_add_response_header(resp, "Content-Type", "application/json");
                MHD_add_response_header(resp, "Cache-Control", "no-cache, private");
                enum MHD_Result r = MHD_queue_response(conn, 200, resp);
                MHD_destroy_response(resp);
                *status = 200;
                return r;
        }

        if (f->list_fail_n > 0) {
                f->list_fail_n--;
                pthread_mutex_unlock(&f->lock);
                *status = 500;
                return respond(conn, 500, status_json(500, "InternalError", "etcdserver: request timed out"));
        }
        size_t offset = 0;
        if (cont) {
                unsigned long long crv = 0, off = 0;
                if (sscanf(cont, "%llu:%llu", &crv, &off) != 2) {
                        pthread_mutex_unlock(&f->lock);
                        *status = 400;
                        return respond(conn, 400, status_json(400, "BadRequest", "continue key is not valid"));
                }
                if (crv < f->compacted_rv) {
                        pthread_mutex_unlock(&f->lock);
                        *status = 410;
                        return respond(conn, 410,
                                       status_json(410, "Expired",
                                                   "The provided continue parameter is too old to display a consistent "
                                                   "list result. You can start a new list without the continue "
                                                   "parameter."));
                }
                offset = off;
        }
        size_t limit = limit_s ? (size_t) atol(limit_s) : 0;
        if (f->page_size > 0 && (limit == 0 || f->page_size < limit))
                limit = f->page_size;
        json_t *items = json_array();
        size_t matched = 0, next = 0;
        bool more = false;
        for (size_t i = 0; i < f->n_pods; i++) {
                const char *n = pod_node(f->pods[i]);
                if (node[0] && (!n || strcmp(n, node) != 0))
                        continue;
                if (matched++ < offset)
                        continue;
                if (limit > 0 && json_array_size(items) >= limit) {
                        more = true;
                        break;
                }
                json_array_append_new(items, list_item(f->pods[i]));
                next = matched;
        }
        char rv[32], token[64];
        snprintf(rv, sizeof(rv), "%llu", (unsigned long long) f->rv);
        json_t *meta = json_pack("{s:s}", "resourceVersion", rv);
        if (more) {
                snprintf(token, sizeof(token), "%llu:%zu", (unsigned long long) f->rv, next);
                json_object_set_new(meta, "continue", json_string(token));
        }
        pthread_mutex_unlock(&f->lock);
        *status = 200;
        return respond(conn, 200, json_pack("{s:s, s:s, s:o, s:o}", "kind", "PodList", "apiVersion", "v1", "metadata", meta,
                                            "items", items));
}

/* RFC 7386 JSON merge patch (strategic merge is the same for the maps patched here). */
static json_t *merge_patch(json_t *target, json_t *patch) {
        if (!json_is_object(patch))
                return json_deep_copy(patch);
        json_t *out = json_is_object(target) ? json_deep_copy(target) : json_object();
        const char *key;
        json_t *value;
        json_object_foreach(patch, key, value) {
                if (json_is_null(value))
                        json_object_del(out, key);
                else
                        json_object_set_new(out, key, merge_patch(json_object_get(out, key), value));
        }
        return out;
}

static enum MHD_Result handle_node(FakeApi *f, struct MHD_Connection *conn, const char *method, const char *name,
                                   bool status_sub, const Upload *up, unsigned *status) {
        pthread_mutex_lock(&f->lock);
        json_t *node = json_object_get(f->nodes, name);
        if (!node) {
                pthread_mutex_unlock(&f->lock);
                *status = 404;
                json_t *st = status_json(404, "NotFound", "nodes \"%s\" not found", name);
                json_object_set_new(st, "details", json_pack("{s:s, s:s}", "name", name, "kind", "nodes"));
                return respond(conn, 404, st);
        }
        if (strcmp(method, "GET") == 0) {
                json_t *copy = json_deep_copy(node);
                pthread_mutex_unlock(&f->lock);
                *status = 200;
                return respond(conn, 200, copy);
        }
        if (strcmp(method, "PATCH") != 0) {
                pthread_mutex_unlock(&f->lock);
                *status = 405;
                return respond(conn, 405, status_json(405, "MethodNotAllowed", "the server does not allow this method"));
        }
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        if (!ct || (strcmp(ct, "application/merge-patch+json") != 0 &&
                    strcmp(ct, "application/strategic-merge-patch+json") != 0)) {
                pthread_mutex_unlock(&f->lock);
                *status = 415;
                return respond(conn, 415, status_json(415, "UnsupportedMediaType", "the body of the request was in an "
                                                      "unknown format - accepted media types include: "
                                                      "application/json-patch+json, application/merge-patch+json, "
                                                      "application/apply-patch+yaml"));
        }
        json_error_t jerr;
        json_t *patch = up->body ? json_loadb(up->body, up->size, 0, &jerr) : NULL;
        if (!json_is_object(patch)) {
                json_decref(patch);
                pthread_mutex_unlock(&f->lock);
                *status = 400;
                return respond(conn, 400, status_json(400, "BadRequest", "error decoding patch"));
        }
        if (status_sub)
                json_object_del(patch, "spec");         /* the status subresource ignores spec */
        else
                json_object_del(patch, "status");       /* and the main resource ignores status */
        json_t *merged = merge_patch(node, patch);
        json_decref(patch);
        /* The API server stores quantities decoded and writes them back canonical ("2000" -> "2k"). */
        const char *lists[] = { "capacity", "allocatable" };
        char bad[256];
        for (size_t i = 0; i < 2; i++)
                if (fake_canonicalize_resource_list(json_object_get(json_object_get(merged, "status"), lists[i]), bad,
                                                    sizeof(bad)) < 0) {
                        json_decref(merged);
                        pthread_mutex_unlock(&f->lock);
                        *status = 400;
                        return respond(conn, 400, status_json(400, "BadRequest", "status.%s[%s]: quantities must match "
                                                              "the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*"
                                                              "[-+]?[0-9]*)$'", lists[i], bad));
                }
        f->rv++;
        set_rv(merged, f->rv);
        json_object_set(f->nodes, name, merged);
        pthread_mutex_unlock(&f->lock);
        *status = 200;
        return respond(conn, 200, merged);
}

/* GET /api/v1/nodes: a NodeList, items without kind and apiVersion as the API server writes them. */
static enum MHD_Result handle_node_list(FakeApi *f, struct MHD_Connection *conn, unsigned *status) {
        char rv[32];
        json_t *items = json_array();
        const char *name;
        json_t *node;
        pthread_mutex_lock(&f->lock);
        json_object_foreach(f->nodes, name, node)
                json_array_append_new(items, list_item(node));
        snprintf(rv, sizeof(rv), "%llu", (unsigned long long) f->rv);
        pthread_mutex_unlock(&f->lock);
        *status = 200;
        return respond(conn, 200, json_pack("{s:s, s:s, s:{s:s}, s:o}", "kind", "NodeList", "apiVersion", "v1", "metadata",
                                            "resourceVersion", rv, "items", items));
}

static enum MHD_Result handle_event(FakeApi *f, struct MHD_Connection *conn, const char *ns, const Upload *up,
                                    unsigned *status) {
        json_error_t jerr;
        json_t *ev = up->body ? json_loadb(up->body, up->size, 0, &jerr) : NULL;
        json_t *inv = json_object_get(ev, "involvedObject");
        const char *api = json_string_value(json_object_get(ev, "apiVersion"));
        const char *kind = json_string_value(json_object_get(ev, "kind"));
        const char *name = meta_str(ev, "name"), *gen = meta_str(ev, "generateName"), *mns = meta_str(ev, "namespace");
        const char *type = json_string_value(json_object_get(ev, "type"));
        const char *inv_ns = json_string_value(json_object_get(inv, "namespace"));
        if (!api || strcmp(api, "v1") != 0 || !kind || strcmp(kind, "Event") != 0 || (!name && !gen) ||
            (mns && strcmp(mns, ns) != 0) || !json_string_value(json_object_get(inv, "kind")) ||
            !json_string_value(json_object_get(inv, "name")) || !inv_ns || strcmp(inv_ns, ns) != 0 ||
            !json_string_value(json_object_get(ev, "reason")) || !json_string_value(json_object_get(ev, "message")) ||
            !type || (strcmp(type, "Normal") != 0 && strcmp(type, "Warning") != 0)) {
                json_decref(ev);
                *status = 422;
                return respond(conn, 422, status_json(422, "Invalid", "Event is invalid: involvedObject.namespace, "
                                                      "reason, message, type or metadata.name is missing or wrong"));
        }
        pthread_mutex_lock(&f->lock);
        json_t *meta = json_object_get(ev, "metadata");
        if (!name) {
                char n[300];
                snprintf(n, sizeof(n), "%s%05llx", gen, (unsigned long long) ++f->next_event);
                json_object_set_new(meta, "name", json_string(n));
        }
        json_object_set_new(meta, "namespace", json_string(ns));
        /* The API server gives every object it creates its own uid and a creationTimestamp. */
        char uid[64], created[32];
        time_t now = time(NULL);
        struct tm tm;
        unsigned long long seq = ++f->next_event;
        snprintf(uid, sizeof(uid), "e7e7e7e7-%04llx-4000-8000-%012llx", seq & 0xffff, seq);
        strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
        json_object_set_new(meta, "uid", json_string(uid));
        json_object_set_new(meta, "creationTimestamp", json_string(created));
        f->rv++;
        set_rv(ev, f->rv);
        pthread_mutex_unlock(&f->lock);
        *status = 201;
        return respond(conn, 201, ev);
}

static bool authorized(FakeApi *f, struct MHD_Connection *conn) {
        if (f->opts.client_ca_pem) {
                const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
                unsigned st = 1, n = 0;
                if (!ci || !ci->tls_session || !gnutls_certificate_get_peers(ci->tls_session, &n) || n == 0 ||
                    gnutls_certificate_verify_peers2(ci->tls_session, &st) < 0 || st != 0)
                        return false;
        }
        if (f->token) {
                const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
                if (!auth || strncmp(auth, "Bearer ", 7) != 0 || strcmp(auth + 7, f->token) != 0)
                        return false;
        }
        return true;
}

static enum MHD_Result route(FakeApi *f, struct MHD_Connection *conn, const char *url, const char *method,
                             const Upload *up, unsigned *status) {
        char a[256], b[256];
        if (!authorized(f, conn)) {
                *status = 401;
                return respond(conn, 401, status_json(401, "Unauthorized", "Unauthorized"));
        }
        if (up->too_large) {
                *status = 413;
                return respond(conn, 413, status_json(413, "RequestEntityTooLarge", "request is too large"));
        }
        if (strcmp(url, "/api/v1/pods") == 0 && strcmp(method, "GET") == 0)
                return handle_pods(f, conn, status);
        if (strcmp(url, "/api/v1/nodes") == 0 && strcmp(method, "GET") == 0)
                return handle_node_list(f, conn, status);
        if (sscanf(url, "/api/v1/nodes/%255[^/]", a) == 1) {
                size_t n = strlen("/api/v1/nodes/") + strlen(a);
                if (url[n] == '\0' || strcmp(url + n, "/status") == 0)
                        return handle_node(f, conn, method, a, url[n] != '\0', up, status);
        }
        if (sscanf(url, "/api/v1/namespaces/%255[^/]/pods/%255[^/]/eviction", a, b) == 2 && strcmp(method, "POST") == 0) {
                char expect[600];
                snprintf(expect, sizeof(expect), "/api/v1/namespaces/%s/pods/%s/eviction", a, b);
                if (strcmp(url, expect) == 0)
                        return fake_evict_handle_eviction(f, conn, a, b, up->body, up->size, status);
        }
        if (sscanf(url, "/api/v1/namespaces/%255[^/]/pods/%255[^/]", a, b) == 2 && strcmp(method, "GET") == 0) {
                char expect[600];
                snprintf(expect, sizeof(expect), "/api/v1/namespaces/%s/pods/%s", a, b);
                if (strcmp(url, expect) == 0)
                        return fake_evict_handle_get_pod(f, conn, a, b, status);
        }
        if (sscanf(url, "/api/v1/namespaces/%255[^/]/events", a) == 1 && strcmp(method, "POST") == 0) {
                char expect[300];
                snprintf(expect, sizeof(expect), "/api/v1/namespaces/%s/events", a);
                if (strcmp(url, expect) == 0)
                        return handle_event(f, conn, a, up, status);
        }
        *status = 404;
        /* An unknown path: a NotFound with empty details, as the API server's resource-less 404. */
        json_t *st = status_json(404, "NotFound", "the server could not find the requested resource");
        json_object_set_new(st, "details", json_object());
        return respond(conn, 404, st);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls) {
        FakeApi *f = cls;
        (void) version;
        Upload *up = *con_cls;
        if (!up) {
                *con_cls = calloc(1, sizeof(Upload));
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                if (up->size + *upload_data_size > BODY_MAX)
                        up->too_large = true;
                else {
                        up->body = realloc(up->body, up->size + *upload_data_size + 1);
                        memcpy(up->body + up->size, upload_data, *upload_data_size);
                        up->size += *upload_data_size;
                        up->body[up->size] = '\0';
                }
                *upload_data_size = 0;
                return MHD_YES;
        }
        unsigned status = 0;
        enum MHD_Result r = route(f, conn, url, method, up, &status);
        record(f, conn, method, url, up, status);
        return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
        (void) cls;
        (void) conn;
        (void) toe;
        Upload *up = *con_cls;
        if (up) {
                free(up->body);
                free(up);
        }
        *con_cls = NULL;
}

typedef struct QueryBuf {
        char *buf;
        size_t size;
} QueryBuf;

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        QueryBuf *q = cls;
        (void) kind;
        size_t n = strlen(q->buf);
        snprintf(q->buf + n, q->size - n, "%s%s=%s", n ? "&" : "", key, value ? value : "");
        return MHD_YES;
}

static void record(FakeApi *f, struct MHD_Connection *conn, const char *method, const char *url, const Upload *up,
                   long status) {
        FakeRequest r = { .status = status };
        snprintf(r.method, sizeof(r.method), "%s", method);
        snprintf(r.path, sizeof(r.path), "%s", url);
        QueryBuf q = { r.query, sizeof(r.query) };
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_query, &q);
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        snprintf(r.content_type, sizeof(r.content_type), "%s", ct ? ct : "");
        r.body = strdup(up->body ? up->body : "");
        pthread_mutex_lock(&f->lock);
        Record *recs = realloc(f->records, (f->n_records + 1) * sizeof(*recs));
        if (!recs)
                abort();
        f->records = recs;
        f->records[f->n_records++].r = r;
        pthread_mutex_unlock(&f->lock);
}

static bool daemon_start(FakeApi *f) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(f->port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
        if (f->cert)
                flags |= MHD_USE_TLS;
        struct MHD_OptionItem tls[] = {
                { f->cert ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, f->key },
                { f->cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, f->cert },
                { f->ca ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, f->ca },
                { MHD_OPTION_END, 0, NULL },
        };
        /* MHD stops at the first MHD_OPTION_END: compact the TLS options. */
        struct MHD_OptionItem opts[4];
        size_t n = 0;
        for (size_t i = 0; i < 3; i++)
                if (tls[i].option != MHD_OPTION_END)
                        opts[n++] = tls[i];
        opts[n] = (struct MHD_OptionItem) { MHD_OPTION_END, 0, NULL };
        f->daemon = MHD_start_daemon(flags, f->port, NULL, NULL, on_request, f, MHD_OPTION_SOCK_ADDR, &sa,
                                     MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned) 1, MHD_OPTION_NOTIFY_COMPLETED,
                                     on_completed, f, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
        if (!f->daemon) {
                fprintf(stderr, "fake-apiserver: cannot start libmicrohttpd on 127.0.0.1:%u\n", f->port);
                return false;
        }
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(f->daemon, MHD_DAEMON_INFO_BIND_PORT);
        if (info)
                f->port = info->port;
        return true;
}

static void daemon_stop(FakeApi *f) {
        if (!f->daemon)
                return;
        pthread_mutex_lock(&f->lock);
        f->stopping = true;
        pthread_cond_broadcast(&f->changed);
        pthread_mutex_unlock(&f->lock);
        MHD_stop_daemon(f->daemon);
        f->daemon = NULL;
        pthread_mutex_lock(&f->lock);
        f->stopping = false;
        pthread_mutex_unlock(&f->lock);
}

void fake_api_set_unreachable(FakeApi *f, bool unreachable) {
        if (unreachable)
                daemon_stop(f);
        else if (!f->daemon) {
                /* The port may linger in TIME_WAIT for a moment; retry briefly. */
                for (int i = 0; i < 50 && !daemon_start(f); i++)
                        usleep(100000);
        }
}

FakeApi *fake_api_start(const FakeApiOptions *opts) {
        FakeApi *f = calloc(1, sizeof(*f));
        pthread_mutex_init(&f->lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_cond_init(&f->changed, &ca);
        pthread_condattr_destroy(&ca);
        f->nodes = json_object();
        f->rv = 1000;           /* resourceVersions are opaque strings; start somewhere non-trivial */
        if (opts) {
                f->opts = *opts;
                f->cert = opts->tls_cert_pem ? strdup(opts->tls_cert_pem) : NULL;
                f->key = opts->tls_key_pem ? strdup(opts->tls_key_pem) : NULL;
                f->ca = opts->client_ca_pem ? strdup(opts->client_ca_pem) : NULL;
                f->token = opts->token ? strdup(opts->token) : NULL;
        }
        f->evict = fake_evict_start(f);
        if (!f->evict || !daemon_start(f)) {
                fake_api_stop(f);
                return NULL;
        }
        snprintf(f->url, sizeof(f->url), "%s://127.0.0.1:%u", f->cert ? "https" : "http", f->port);
        return f;
}

void fake_api_stop(FakeApi *f) {
        if (!f)
                return;
        daemon_stop(f);
        fake_evict_stop(f->evict);
        for (size_t i = 0; i < f->n_pods; i++)
                json_decref(f->pods[i]);
        free(f->pods);
        for (size_t i = 0; i < f->n_history; i++)
                json_decref(f->history[i].object);
        free(f->history);
        for (size_t i = 0; i < f->n_records; i++)
                free(f->records[i].r.body);
        free(f->records);
        json_decref(f->nodes);
        free(f->cert);
        free(f->key);
        free(f->ca);
        free(f->token);
        pthread_cond_destroy(&f->changed);
        pthread_mutex_destroy(&f->lock);
        free(f);
}

uint16_t fake_api_port(const FakeApi *f) {
        return f->port;
}

const char *fake_api_url(const FakeApi *f) {
        return f->url;
}
