/* The list-then-watch state machine over this node's pods. One call at a time: a list (possibly
 * several pages), then a watch that lasts until the server ends it (timeoutSeconds) or the
 * connection breaks. Immediate transitions (list done -> watch, watch ended normally -> watch
 * again) start the next call from the completion callback; failures wait out a jittered
 * exponential backoff, which the caller drives through pod_watch_dispatch(). */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "kube/curl-dl.h"
#include "kube/pod-watch.h"
#include "util/fileio.h"
#include "util/macro.h"

#define BACKOFF_INITIAL_USEC (500 * USEC_PER_MSEC)
#define BACKOFF_MAX_USEC (30 * USEC_PER_SEC)
#define PAGE_SIZE_DEFAULT 500
/* A watch that ends sooner than this without delivering anything counts as a failure, so a
 * server that closes every watch at once cannot make us spin. */
#define WATCH_MIN_HEALTHY_USEC USEC_PER_SEC
/* A list that takes longer than this is abandoned (a node's pods are a few MiB at most). */
#define LIST_TIMEOUT_USEC (60 * USEC_PER_SEC)
/* A watch gets this long beyond its timeoutSeconds before the client gives up on it. */
#define WATCH_GRACE_USEC (60 * USEC_PER_SEC)

static const char *const state_names[_POD_WATCH_STATE_MAX] = {
        [POD_WATCH_LIST_DUE] = "list-due",
        [POD_WATCH_LISTING] = "listing",
        [POD_WATCH_WATCH_DUE] = "watch-due",
        [POD_WATCH_WATCHING] = "watching",
};

const char *pod_watch_state_to_string(PodWatchState s) {
        return s >= 0 && s < _POD_WATCH_STATE_MAX ? state_names[s] : NULL;
}

struct PodWatch {
        KubeClient *client;
        char node[254];
        PodWatchOptions opts;
        PodWatchCallback cb;
        void *userdata;
        uint64_t rng;

        KubePod *pods;                  /* the store */
        size_t n_pods, cap_pods;

        KubePod *pending;               /* pages of the list in progress */
        size_t n_pending, cap_pending;
        char *continue_token;

        KubeCall *call;
        KubeLineBuffer lines;
        bool gone;                      /* this watch saw a 410 */
        bool bad_stream;                /* this watch sent something unparsable: relist */
        bool watch_error;               /* this watch sent a non-410 ERROR event */
        unsigned gone_in_row;
        uint64_t watch_started_usec;
        uint64_t watch_events;

        PodWatchStats stats;
};

uint64_t pod_watch_backoff_usec(uint64_t initial_usec, uint64_t max_usec, unsigned failures, double rnd) {
        uint64_t d = initial_usec;
        for (unsigned i = 1; i < failures && d < max_usec; i++)
                d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
        d = MIN(d, max_usec);
        if (!(rnd >= 0.0 && rnd < 1.0))
                rnd = 0.0;
        return d / 2 + (uint64_t) ((double) (d - d / 2) * rnd);
}

static double next_random(PodWatch *w) {
        /* xorshift64*: jitter only needs to spread nodes apart, not to be unpredictable. */
        w->rng ^= w->rng >> 12;
        w->rng ^= w->rng << 25;
        w->rng ^= w->rng >> 27;
        return (double) ((w->rng * 2685821657736338717ULL) >> 11) / (double) (1ULL << 53);
}

static uint64_t now(const PodWatch *w) {
        return w->opts.now ? w->opts.now() : now_monotonic_usec();
}

/* --- the store --- */

static ssize_t store_find(const KubePod *pods, size_t n, const char *uid) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(pods[i].uid, uid) == 0)
                        return (ssize_t) i;
        return -1;
}

static int store_upsert(PodWatch *w, const KubePod *p) {
        ssize_t i = store_find(w->pods, w->n_pods, p->uid);
        if (i >= 0) {
                w->pods[i] = *p;
                if (w->cb)
                        w->cb(w->userdata, POD_WATCH_UPDATED, &w->pods[i]);
                return 0;
        }
        if (w->n_pods == w->cap_pods) {
                size_t cap = MAX(w->cap_pods * 2, (size_t) 16);
                KubePod *n = realloc(w->pods, cap * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                w->pods = n;
                w->cap_pods = cap;
        }
        w->pods[w->n_pods++] = *p;
        if (w->cb)
                w->cb(w->userdata, POD_WATCH_ADDED, &w->pods[w->n_pods - 1]);
        return 0;
}

static void store_remove(PodWatch *w, const char *uid) {
        ssize_t i = store_find(w->pods, w->n_pods, uid);
        if (i < 0)
                return;
        KubePod gone = w->pods[i];
        memmove(&w->pods[i], &w->pods[i + 1], (w->n_pods - (size_t) i - 1) * sizeof(*w->pods));
        w->n_pods--;
        if (w->cb)
                w->cb(w->userdata, POD_WATCH_REMOVED, &gone);
}

/* Replaces the store with a completed list, telling cb what changed. */
static void store_replace(PodWatch *w) {
        if (w->cb) {
                for (size_t i = 0; i < w->n_pods; i++)
                        if (store_find(w->pending, w->n_pending, w->pods[i].uid) < 0)
                                w->cb(w->userdata, POD_WATCH_REMOVED, &w->pods[i]);
                for (size_t i = 0; i < w->n_pending; i++) {
                        ssize_t old = store_find(w->pods, w->n_pods, w->pending[i].uid);
                        if (old < 0)
                                w->cb(w->userdata, POD_WATCH_ADDED, &w->pending[i]);
                        else if (strcmp(w->pods[old].resource_version, w->pending[i].resource_version) != 0)
                                w->cb(w->userdata, POD_WATCH_UPDATED, &w->pending[i]);
                }
        }
        free(w->pods);
        w->pods = TAKE_PTR(w->pending);
        w->n_pods = w->n_pending;
        w->cap_pods = w->cap_pending;
        w->n_pending = w->cap_pending = 0;
}

/* --- calls --- */

static void start_list(PodWatch *w);
static void start_watch(PodWatch *w);

static void schedule(PodWatch *w, PodWatchState state, uint64_t delay_usec) {
        w->stats.state = state;
        w->stats.next_attempt_usec = now(w) + delay_usec;
        if (delay_usec == 0)
                pod_watch_dispatch(w);
}

static void describe_failure(PodWatch *w, const char *what, const KubeResponse *resp) {
        KubeStatus st;
        if (resp->error < 0)
                snprintf(w->stats.last_error, sizeof(w->stats.last_error), "%s: %s", what,
                         resp->message[0] ? resp->message : strerror(-resp->error));
        else if (kube_status_parse(resp->body, resp->body_size, &st) >= 0 && st.message[0])
                snprintf(w->stats.last_error, sizeof(w->stats.last_error), "%s: HTTP %ld %s: %s", what, resp->status,
                         st.reason, st.message);
        else
                snprintf(w->stats.last_error, sizeof(w->stats.last_error), "%s: HTTP %ld", what, resp->status);
}

/* Counts a failure and waits out the backoff before next_state. */
static void fail(PodWatch *w, PodWatchState next_state) {
        w->stats.failures++;
        w->stats.failures_in_row++;
        uint64_t delay = pod_watch_backoff_usec(w->opts.backoff_initial_usec, w->opts.backoff_max_usec,
                                                w->stats.failures_in_row, next_random(w));
        schedule(w, next_state, delay);
}

static void succeeded(PodWatch *w) {
        w->stats.connected = true;
        w->stats.failures_in_row = 0;
        w->stats.last_success_usec = now(w);
}

/* libcurl is loaded: the watch's client was created. */
static char *escape(const char *s) {
        char *e = sym_curl_easy_escape(NULL, s, 0);
        char *copy = e ? strdup(e) : NULL;
        sym_curl_free(e);
        return copy;
}

static void drop_pending(PodWatch *w) {
        free(w->pending);
        w->pending = NULL;
        w->n_pending = w->cap_pending = 0;
        free(w->continue_token);
        w->continue_token = NULL;
}

static void on_list_done(void *userdata, const KubeResponse *resp) {
        PodWatch *w = userdata;
        w->call = NULL;
        if (resp->error < 0 || resp->status != 200) {
                bool expired = resp->status == 410 && w->continue_token;
                describe_failure(w, "list pods", resp);
                w->stats.connected = resp->status > 0;
                drop_pending(w);
                if (expired) {
                        /* The continue token outlived the history: start the list over. */
                        w->stats.relists_gone++;
                        schedule(w, POD_WATCH_LIST_DUE, 0);
                        return;
                }
                fail(w, POD_WATCH_LIST_DUE);
                return;
        }

        KubePod *page = NULL;
        size_t n = 0;
        char rv[KUBE_RESOURCE_VERSION_MAX];
        char *cont = NULL;
        ColoError err = {};
        int r = kube_pod_list_parse(resp->body, resp->body_size, &page, &n, rv, &cont, &err);
        if (r < 0) {
                snprintf(w->stats.last_error, sizeof(w->stats.last_error), "list pods: %s", colo_error_msg(&err));
                drop_pending(w);
                fail(w, POD_WATCH_LIST_DUE);
                return;
        }
        size_t kept = 0;
        for (size_t i = 0; i < n; i++)
                if (strcmp(page[i].node, w->node) == 0)         /* the field selector should see to it */
                        page[kept++] = page[i];
        if (w->n_pending + kept > w->cap_pending) {
                size_t cap = MAX(w->cap_pending * 2, w->n_pending + kept);
                KubePod *p = realloc(w->pending, MAX(cap, (size_t) 1) * sizeof(*p));
                if (!p) {
                        free(page);
                        free(cont);
                        snprintf(w->stats.last_error, sizeof(w->stats.last_error), "list pods: out of memory");
                        drop_pending(w);
                        fail(w, POD_WATCH_LIST_DUE);
                        return;
                }
                w->pending = p;
                w->cap_pending = cap;
        }
        if (kept > 0)
                memcpy(w->pending + w->n_pending, page, kept * sizeof(*page));
        w->n_pending += kept;
        free(page);
        free(w->continue_token);
        w->continue_token = cont;
        succeeded(w);
        if (cont) {
                start_list(w);          /* the next page */
                return;
        }
        store_replace(w);
        memcpy(w->stats.resource_version, rv, sizeof(rv));
        w->stats.synced = true;
        w->stats.lists++;
        w->gone_in_row = 0;
        start_watch(w);
}

char *pod_watch_list_path(const char *node, unsigned page_size, const char *continue_token) {
        _cleanup_free_ char *cont = NULL;
        char *path;
        if (continue_token && !(cont = escape(continue_token)))
                return NULL;
        if (asprintf(&path, "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s&limit=%u%s%s", node, page_size,
                     cont ? "&continue=" : "", cont ? cont : "") < 0)
                return NULL;
        return path;
}

static void start_list(PodWatch *w) {
        _cleanup_free_ char *path = pod_watch_list_path(w->node, w->opts.page_size, w->continue_token);
        ColoError err = {};
        if (!path)
                goto oom;
        KubeRequest req = {
                .method = "GET", .path = path, .timeout_usec = LIST_TIMEOUT_USEC,
                .on_done = on_list_done, .userdata = w,
        };
        w->stats.state = POD_WATCH_LISTING;
        w->stats.next_attempt_usec = 0;
        if (kube_client_start(w->client, &req, &w->call, &err) < 0) {
                snprintf(w->stats.last_error, sizeof(w->stats.last_error), "list pods: %s", colo_error_msg(&err));
                drop_pending(w);
                fail(w, POD_WATCH_LIST_DUE);
        }
        return;
oom:
        snprintf(w->stats.last_error, sizeof(w->stats.last_error), "list pods: out of memory");
        drop_pending(w);
        fail(w, POD_WATCH_LIST_DUE);
}

static int on_watch_line(void *userdata, const char *line, size_t size) {
        PodWatch *w = userdata;
        _cleanup_free_ KubeWatchEvent *ev = malloc(sizeof(*ev));
        ColoError err = {};
        if (!ev)
                return -ENOMEM;
        int r = kube_watch_event_parse(line, size, ev, &err);
        if (r < 0) {
                snprintf(w->stats.last_error, sizeof(w->stats.last_error), "watch pods: %s", colo_error_msg(&err));
                w->bad_stream = true;
                return r;
        }
        switch (ev->type) {
        case KUBE_WATCH_ADDED:
        case KUBE_WATCH_MODIFIED:
                if (strcmp(ev->pod.node, w->node) == 0)
                        r = store_upsert(w, &ev->pod);
                else
                        store_remove(w, ev->pod.uid);
                if (r < 0)
                        return r;
                break;
        case KUBE_WATCH_DELETED:
                store_remove(w, ev->pod.uid);
                break;
        case KUBE_WATCH_BOOKMARK:
                w->stats.bookmarks++;
                break;
        case KUBE_WATCH_ERROR:
                if (ev->status.code == 410)
                        w->gone = true;
                else
                        w->watch_error = true;
                snprintf(w->stats.last_error, sizeof(w->stats.last_error), "watch pods: ERROR event %d %s: %s",
                         ev->status.code, ev->status.reason, ev->status.message);
                return -ECANCELED;      /* the server ends the stream after an ERROR; so do we */
        default:
                return -EINVAL;
        }
        memcpy(w->stats.resource_version, ev->resource_version, sizeof(w->stats.resource_version));
        w->stats.events++;
        w->watch_events++;
        return 0;
}

static int on_watch_data(void *userdata, const char *data, size_t size) {
        PodWatch *w = userdata;
        succeeded(w);
        int r = kube_line_buffer_feed(&w->lines, data, size, on_watch_line, w);
        if (r == -EMSGSIZE || r == -ENOMEM) {
                snprintf(w->stats.last_error, sizeof(w->stats.last_error), "watch pods: %s",
                         r == -EMSGSIZE ? "event larger than the limit" : "out of memory");
                w->bad_stream = true;
        }
        return r < 0 ? -1 : 0;
}

static void on_watch_done(void *userdata, const KubeResponse *resp) {
        PodWatch *w = userdata;
        w->call = NULL;
        kube_line_buffer_reset(&w->lines);
        uint64_t lasted = now(w) - MIN(now(w), w->watch_started_usec);

        if (w->gone || resp->status == 410) {
                /* The resourceVersion is too old: the pods must be listed again. */
                if (resp->status == 410)
                        describe_failure(w, "watch pods", resp);
                w->stats.relists_gone++;
                w->stats.resource_version[0] = '\0';
                w->gone_in_row++;
                if (w->gone_in_row > 1)
                        fail(w, POD_WATCH_LIST_DUE);
                else
                        schedule(w, POD_WATCH_LIST_DUE, 0);
                return;
        }
        if (w->bad_stream) {
                fail(w, POD_WATCH_LIST_DUE);
                return;
        }
        if (w->watch_error) {
                fail(w, POD_WATCH_WATCH_DUE);
                return;
        }
        if (resp->error == 0 && resp->status == 200) {
                /* The server ended the watch (timeoutSeconds): resume from the last version seen. */
                if (w->watch_events > 0 || lasted >= WATCH_MIN_HEALTHY_USEC) {
                        w->stats.failures_in_row = 0;
                        schedule(w, POD_WATCH_WATCH_DUE, 0);
                } else {
                        snprintf(w->stats.last_error, sizeof(w->stats.last_error), "watch pods: ended at once");
                        fail(w, POD_WATCH_WATCH_DUE);
                }
                return;
        }
        describe_failure(w, "watch pods", resp);
        w->stats.connected = resp->status > 0;
        fail(w, POD_WATCH_WATCH_DUE);
}

char *pod_watch_watch_path(const char *node, const char *resource_version, unsigned timeout_sec) {
        _cleanup_free_ char *rv = escape(resource_version);
        char *path;
        if (!rv || asprintf(&path,
                            "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s&watch=true&resourceVersion=%s"
                            "&allowWatchBookmarks=true&timeoutSeconds=%u",
                            node, rv, timeout_sec) < 0)
                return NULL;
        return path;
}

static void start_watch(PodWatch *w) {
        if (!w->stats.resource_version[0]) {
                start_list(w);
                return;
        }
        ColoError err = {};
        unsigned timeout = w->opts.watch_timeout_sec ? w->opts.watch_timeout_sec : 300 + (unsigned) (next_random(w) * 300);
        _cleanup_free_ char *path = pod_watch_watch_path(w->node, w->stats.resource_version, timeout);
        if (!path) {
                snprintf(w->stats.last_error, sizeof(w->stats.last_error), "watch pods: out of memory");
                fail(w, POD_WATCH_WATCH_DUE);
                return;
        }
        KubeRequest req = {
                .method = "GET", .path = path, .timeout_usec = timeout * USEC_PER_SEC + WATCH_GRACE_USEC,
                .on_data = on_watch_data, .on_done = on_watch_done, .userdata = w,
        };
        w->gone = w->bad_stream = w->watch_error = false;
        w->watch_events = 0;
        w->watch_started_usec = now(w);
        w->stats.state = POD_WATCH_WATCHING;
        w->stats.next_attempt_usec = 0;
        w->stats.watches++;
        if (kube_client_start(w->client, &req, &w->call, &err) < 0) {
                snprintf(w->stats.last_error, sizeof(w->stats.last_error), "watch pods: %s", colo_error_msg(&err));
                fail(w, POD_WATCH_WATCH_DUE);
        }
}

void pod_watch_dispatch(PodWatch *w) {
        if (w->call || w->stats.next_attempt_usec > now(w))
                return;
        if (w->stats.state == POD_WATCH_LIST_DUE)
                start_list(w);
        else if (w->stats.state == POD_WATCH_WATCH_DUE)
                start_watch(w);
}

uint64_t pod_watch_next_wakeup(const PodWatch *w) {
        if (w->call || (w->stats.state != POD_WATCH_LIST_DUE && w->stats.state != POD_WATCH_WATCH_DUE))
                return UINT64_MAX;
        return w->stats.next_attempt_usec;
}

static bool is_node_name(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 253)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
                        return false;
        return true;
}

int pod_watch_new(KubeClient *client, const PodWatchOptions *opts, PodWatchCallback cb, void *userdata, PodWatch **ret,
                  ColoError *err) {
        if (!client || !opts || !opts->node_name || !is_node_name(opts->node_name))
                return colo_error_setf_plain(err, EINVAL, "node name '%s' is not a lowercase DNS name",
                                             opts && opts->node_name ? opts->node_name : "");
        PodWatch *w = calloc(1, sizeof(*w));
        if (!w)
                return colo_error_set(err, ENOMEM, "pod watch");
        w->client = client;
        snprintf(w->node, sizeof(w->node), "%s", opts->node_name);
        w->opts = *opts;
        w->opts.node_name = w->node;
        if (!w->opts.backoff_initial_usec)
                w->opts.backoff_initial_usec = BACKOFF_INITIAL_USEC;
        if (!w->opts.backoff_max_usec)
                w->opts.backoff_max_usec = BACKOFF_MAX_USEC;
        w->opts.backoff_max_usec = MAX(w->opts.backoff_max_usec, w->opts.backoff_initial_usec);
        if (!w->opts.page_size)
                w->opts.page_size = PAGE_SIZE_DEFAULT;
        w->rng = opts->seed;
        if (!w->rng && getrandom(&w->rng, sizeof(w->rng), GRND_NONBLOCK) != sizeof(w->rng))
                w->rng = now_realtime_usec();
        w->rng |= 1;    /* xorshift state must not be 0 */
        w->cb = cb;
        w->userdata = userdata;
        w->stats.state = POD_WATCH_LIST_DUE;
        *ret = w;
        pod_watch_dispatch(w);
        return 0;
}

PodWatch *pod_watch_free(PodWatch *w) {
        if (!w)
                return NULL;
        if (w->call)
                kube_call_cancel(w->client, w->call);
        kube_line_buffer_reset(&w->lines);
        drop_pending(w);
        free(w->pods);
        free(w);
        return NULL;
}

const KubePod *pod_watch_pods(const PodWatch *w, size_t *ret_n) {
        *ret_n = w->n_pods;
        return w->pods;
}

const KubePod *pod_watch_find(const PodWatch *w, const char *uid) {
        ssize_t i = store_find(w->pods, w->n_pods, uid);
        return i >= 0 ? &w->pods[i] : NULL;
}

const PodWatchStats *pod_watch_stats(const PodWatch *w) {
        return &w->stats;
}
