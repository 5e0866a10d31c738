/* The node agent's Kubernetes side against the fake API server on 127.0.0.1: the client (plain
 * and TLS with a token or client certificate), pod list + watch (pages, bookmarks, 410 Gone as
 * event and as status, reconnect with backoff while unreachable, resume after the server ends a
 * watch), node status publishing with hysteresis and decay, evictions with their Event, and
 * `colo agent` in Kubernetes mode end to end on a fake cgroupfs. Needs neither root nor a
 * cluster; every test stops by itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake-apiserver.h"
#include "k8s/k8s-evict.h"
#include "k8s/kubeclient.h"
#include "k8s/node-status.h"
#include "k8s/pod-watch.h"
#include "util/fileio.h"
#include "util/macro.h"

#define NODE "node-a"
#define UID1 "11111111-1111-4111-8111-111111111111"
#define UID2 "22222222-2222-4222-8222-222222222222"
#define UID3 "33333333-3333-4333-8333-333333333333"
#define UID4 "44444444-4444-4444-8444-444444444444"
#define CID1 "containerd://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const char *colo_bin;

/* --- helpers --- */

static KubeClient *client_for(FakeApi *f) {
        KubeConfig cfg = { .server = (char *) fake_api_url(f) };
        KubeClient *c = NULL;
        ColoError err = {};
        if (kube_client_new(&cfg, &c, &err) < 0)
                fail_msg("kube_client_new: %s", err.msg);
        return c;
}

static json_t *pod(const char *name, const char *uid, const char *node, const char *cls) {
        FakePod p = {
                .name = name, .namespace_ = "default", .uid = uid, .node = node,
                .qos_class = cls && strcmp(cls, "offline") == 0 ? "BestEffort" : "Burstable",
                .class_annotation = cls, .container_id = CID1,
                .offline_cpu_milli = cls && strcmp(cls, "offline") == 0 ? 500 : 0,
                .offline_memory = cls && strcmp(cls, "offline") == 0 ? 256 << 20 : 0,
        };
        return fake_pod_json(&p);
}

typedef bool (*Condition)(void *userdata);

/* Drives client and watch until cond holds or timeout_ms passes. */
static bool drive(KubeClient *c, PodWatch *w, Condition cond, void *userdata, int timeout_ms) {
        uint64_t end = now_monotonic_usec() + (uint64_t) timeout_ms * USEC_PER_MSEC;
        for (;;) {
                if (cond && cond(userdata))
                        return true;
                if (now_monotonic_usec() >= end)
                        return false;
                (void) kube_client_wait(c, 10 * USEC_PER_MSEC);
                if (w)
                        pod_watch_dispatch(w);
        }
}

typedef struct WatchCtx {
        PodWatch *w;
        size_t want_pods;
        uint64_t want_lists, want_watches, want_relists, want_bookmarks;
        const char *uid;
        WorkloadClass want_class;
} WatchCtx;

static bool has_n_pods(void *userdata) {
        WatchCtx *x = userdata;
        size_t n;
        (void) pod_watch_pods(x->w, &n);
        return pod_watch_stats(x->w)->synced && n == x->want_pods &&
               pod_watch_stats(x->w)->state == POD_WATCH_WATCHING;
}

static bool watch_counters_reached(void *userdata) {
        WatchCtx *x = userdata;
        const PodWatchStats *s = pod_watch_stats(x->w);
        size_t n;
        (void) pod_watch_pods(x->w, &n);
        return s->lists >= x->want_lists && s->watches >= x->want_watches && s->relists_gone >= x->want_relists &&
               s->bookmarks >= x->want_bookmarks && n == x->want_pods && s->state == POD_WATCH_WATCHING;
}

static bool pod_has_class(void *userdata) {
        WatchCtx *x = userdata;
        const KubePod *p = pod_watch_find(x->w, x->uid);
        return p && p->cls.workload_class == x->want_class;
}

typedef struct OpenCtx {
        FakeApi *f;
        PodWatch *w;
        size_t n;
} OpenCtx;

static bool watch_open(void *userdata) {
        OpenCtx *o = userdata;
        return fake_api_open_watches(o->f) >= o->n && pod_watch_stats(o->w)->state == POD_WATCH_WATCHING;
}

/* Drives until the server has the watch open, so what a test does next reaches it. */
static void wait_watching(FakeApi *f, KubeClient *c, PodWatch *w) {
        OpenCtx o = { f, w, 1 };
        assert_true(drive(c, w, watch_open, &o, 5000));
}

static PodWatch *watch_new(KubeClient *c, unsigned timeout_sec) {
        PodWatchOptions o = {
                .node_name = NODE, .backoff_initial_usec = 20 * USEC_PER_MSEC, .backoff_max_usec = 200 * USEC_PER_MSEC,
                .seed = 42, .watch_timeout_sec = timeout_sec,
        };
        PodWatch *w = NULL;
        ColoError err = {};
        if (pod_watch_new(c, &o, NULL, NULL, &w, &err) < 0)
                fail_msg("pod_watch_new: %s", err.msg);
        return w;
}

static bool query_has(const FakeRequest *r, const char *kv) {
        return strstr(r->query, kv) != NULL;
}

/* --- pod list and watch --- */

static void test_list_then_watch_follows_this_node(void **state) {
        (void) state;
        FakeApi *f = fake_api_start(NULL);
        assert_non_null(f);
        fake_api_add_pod(f, pod("web", UID1, NODE, "online"));
        fake_api_add_pod(f, pod("batch", UID2, NODE, "offline"));
        fake_api_add_pod(f, pod("elsewhere", UID3, "node-b", "offline"));
        KubeClient *c = client_for(f);
        PodWatch *w = watch_new(c, 0);
        WatchCtx x = { .w = w, .want_pods = 2 };
        assert_true(drive(c, w, has_n_pods, &x, 5000));

        const KubePod *batch = pod_watch_find(w, UID2);
        assert_non_null(batch);
        assert_int_equal(batch->cls.workload_class, CLASS_OFFLINE);
        assert_int_equal(batch->qos, KUBE_QOS_BEST_EFFORT);
        assert_int_equal(batch->offline_cpu_request_milli, 500);
        assert_int_equal(batch->offline_memory_request, 256 << 20);
        assert_int_equal(batch->n_containers, 1);
        assert_int_equal(batch->containers[0].runtime, KUBE_RUNTIME_CONTAINERD);
        assert_null(pod_watch_find(w, UID3));
        wait_watching(f, c, w);

        FakeRequest r;
        assert_true(fake_api_get_request(f, "GET", "/api/v1/pods", 0, &r));
        assert_true(query_has(&r, "fieldSelector=spec.nodeName=" NODE));
        assert_true(query_has(&r, "limit="));
        assert_false(query_has(&r, "watch=true"));
        fake_request_free(&r);
        assert_true(fake_api_get_request(f, "GET", "/api/v1/pods", 1, &r));
        assert_true(query_has(&r, "watch=true"));
        assert_true(query_has(&r, "allowWatchBookmarks=true"));
        char rv[64];
        snprintf(rv, sizeof(rv), "resourceVersion=%s", pod_watch_stats(w)->resource_version);
        assert_true(query_has(&r, rv));
        fake_request_free(&r);

        /* Changes arrive through the watch. */
        fake_api_add_pod(f, pod("cache", UID4, NODE, NULL));
        x.want_pods = 3;
        assert_true(drive(c, w, has_n_pods, &x, 5000));
        /* Re-classification both ways by editing the annotation. */
        fake_api_annotate_pod(f, "default", "batch", "colo.io/class", "online");
        x.uid = UID2;
        x.want_class = CLASS_ONLINE;
        assert_true(drive(c, w, pod_has_class, &x, 5000));
        fake_api_annotate_pod(f, "default", "batch", "colo.io/class", "offline");
        x.want_class = CLASS_OFFLINE;
        assert_true(drive(c, w, pod_has_class, &x, 5000));
        fake_api_delete_pod(f, "default", "web");
        x.want_pods = 2;
        assert_true(drive(c, w, has_n_pods, &x, 5000));
        assert_null(pod_watch_find(w, UID1));
        /* Pods of other nodes never enter the store. */
        fake_api_add_pod(f, pod("other", "55555555-5555-4555-8555-555555555555", "node-b", NULL));
        drive(c, w, NULL, NULL, 200);
        size_t n;
        (void) pod_watch_pods(w, &n);
        assert_int_equal(n, 2);
        assert_int_equal(pod_watch_stats(w)->lists, 1);

        pod_watch_free(w);
        kube_client_free(c);
        fake_api_stop(f);
}

static void test_list_pages_with_continue(void **state) {
        (void) state;
        FakeApi *f = fake_api_start(NULL);
        fake_api_set_page_size(f, 1);
        fake_api_add_pod(f, pod("a", UID1, NODE, NULL));
        fake_api_add_pod(f, pod("b", UID2, NODE, NULL));
        fake_api_add_pod(f, pod("c", UID3, NODE, NULL));
        KubeClient *c = client_for(f);
        PodWatch *w = watch_new(c, 0);
        WatchCtx x = { .w = w, .want_pods = 3 };
        assert_true(drive(c, w, has_n_pods, &x, 5000));
        assert_int_equal(pod_watch_stats(w)->lists, 1);
        FakeRequest r;
        assert_true(fake_api_get_request(f, "GET", "/api/v1/pods", 1, &r));
        assert_true(query_has(&r, "continue="));
        fake_request_free(&r);
        pod_watch_free(w);
        kube_client_free(c);
        fake_api_stop(f);
}

static void test_bookmarks_advance_the_resource_version(void **state) {
        (void) state;
        FakeApi *f = fake_api_start(NULL);
        fake_api_add_pod(f, pod("a", UID1, NODE, NULL));
        KubeClient *c = client_for(f);
        PodWatch *w = watch_new(c, 0);
        WatchCtx x = { .w = w, .want_pods = 1 };
        assert_true(drive(c, w, has_n_pods, &x, 5000));
        wait_watching(f, c, w);
        /* Other nodes' changes move the version without an event for us. */
        fake_api_add_pod(f, pod("b", UID2, "node-b", NULL));
        fake_api_send_bookmark(f);
        x.want_bookmarks = 1;
        x.want_lists = 1;
        x.want_watches = 1;
        assert_true(drive(c, w, watch_counters_reached, &x, 5000));
        char want[64];
        snprintf(want, sizeof(want), "%llu", (unsigned long long) fake_api_resource_version(f));
        assert_string_equal(pod_watch_stats(w)->resource_version, want);
        pod_watch_free(w);
        kube_client_free(c);
        fake_api_stop(f);
}

static void test_gone_event_relists(void **state) {
        (void) state;
        FakeApi *f = fake_api_start(NULL);
        fake_api_add_pod(f, pod("a", UID1, NODE, NULL));
        fake_api_add_pod(f, pod("b", UID2, NODE, NULL));
        KubeClient *c = client_for(f);
        PodWatch *w = watch_new(c, 0);
        WatchCtx x = { .w = w, .want_pods = 2 };
        assert_true(drive(c, w, has_n_pods, &x, 5000));

        /* A deletion the watch never sees, then the history is compacted and the watch expired. */
        fake_api_set_unreachable(f, true);
        drive(c, w, NULL, NULL, 100);
        fake_api_delete_pod(f, "default", "a");
        fake_api_add_pod(f, pod("c", UID3, NODE, NULL));
        fake_api_compact(f);
        fake_api_set_unreachable(f, false);
        /* The watch resumes from a version that is gone: ERROR 410, then a new list. */
        x = (WatchCtx) { .w = w, .want_pods = 2, .want_lists = 2, .want_relists = 1 };
        assert_true(drive(c, w, watch_counters_reached, &x, 5000));
        assert_null(pod_watch_find(w, UID1));
        assert_non_null(pod_watch_find(w, UID3));

        /* An ERROR 410 on an open watch has the same effect. */
        wait_watching(f, c, w);
        fake_api_compact(f);
        fake_api_expire_watches(f);
        x.want_lists = 3;
        x.want_relists = 2;
        assert_true(drive(c, w, watch_counters_reached, &x, 5000));
        pod_watch_free(w);
        kube_client_free(c);
        fake_api_stop(f);
}

static void test_gone_status_relists(void **state) {
        (void) state;
        FakeApi *f = fake_api_start(NULL);
        fake_api_set_watch_gone_as_http(f, true);
        fake_api_add_pod(f, pod("a", UID1, NODE, NULL));
        KubeClient *c = client_for(f);
        PodWatch *w = watch_new(c, 0);
        WatchCtx x = { .w = w, .want_pods = 1 };
        assert_true(drive(c, w, has_n_pods, &x, 5000));
        fake_api_add_pod(f, pod("b", UID2, NODE, NULL));
        x.want_pods = 2;
        assert_true(drive(c, w, has_n_pods, &x, 5000));
        fake_api_compact(f);
        fake_api_set_unreachable(f, true);      /* drop the watch; it comes back with an old version */
        fake_api_add_pod(f, pod("c", UID3, NODE, NULL));
        fake_api_compact(f);
        fake_api_set_unreachable(f, false);
        x = (WatchCtx) { .w = w, .want_pods = 3, .want_lists = 2, .want_relists = 1 };
        assert_true(drive(c, w, watch_counters_reached, &x, 5000));
        assert_true(fake_api_count_requests(f, "GET", "/api/v1/pods") >= 4);
        pod_watch_free(w);
        kube_client_free(c);
        fake_api_stop(f);
}

static bool watch_failing(void *userdata) {
        WatchCtx *x = userdata;
        return pod_watch_stats(x->w)->failures_in_row >= 3;
}

static void test_reconnect_with_backoff_keeps_the_pods(void **state) {
        (void) state;
        FakeApi *f = fake_api_start(NULL);
        fake_api_add_pod(f, pod("a", UID1, NODE, "offline"));
        KubeClient *c = client_for(f);
        PodWatch *w = watch_new(c, 0);
        WatchCtx x = { .w = w, .want_pods = 1 };
        assert_true(drive(c, w, has_n_pods, &x, 5000));

        fake_api_set_unreachable(f, true);
        size_t before = fake_api_count_requests(f, "GET", "/api/v1/pods");
        assert_true(drive(c, w, watch_failing, &x, 5000));
        const PodWatchStats *s = pod_watch_stats(w);
        assert_false(s->connected);
        assert_true(s->state == POD_WATCH_WATCH_DUE || s->state == POD_WATCH_WATCHING);
        assert_true(pod_watch_next_wakeup(w) != UINT64_MAX || s->state == POD_WATCH_WATCHING);
        assert_non_null(strstr(s->last_error, "watch pods"));
        /* The pods of the last list stay, with their class. */
        const KubePod *p = pod_watch_find(w, UID1);
        assert_non_null(p);
        assert_int_equal(p->cls.workload_class, CLASS_OFFLINE);
        /* Backoff: over 600 ms with a 20..200 ms backoff, far fewer attempts than a tight loop. */
        drive(c, w, NULL, NULL, 600);
        assert_true(pod_watch_stats(w)->failures_in_row >= 4);
        assert_true(pod_watch_stats(w)->failures_in_row <= 20);
        assert_int_equal(fake_api_count_requests(f, "GET", "/api/v1/pods"), before);    /* none got through */

        /* Back: the watch resumes from its version, no relist, and catches up. */
        fake_api_add_pod(f, pod("b", UID2, NODE, NULL));
        fake_api_set_unreachable(f, false);
        x = (WatchCtx) { .w = w, .want_pods = 2, .want_lists = 1 };
        assert_true(drive(c, w, watch_counters_reached, &x, 5000));
        assert_int_equal(pod_watch_stats(w)->lists, 1);
        assert_true(pod_watch_stats(w)->connected);
        assert_int_equal(pod_watch_stats(w)->failures_in_row, 0);
        pod_watch_free(w);
        kube_client_free(c);
        fake_api_stop(f);
}

static void test_dropped_stream_resumes(void **state) {
        (void) state;
        FakeApi *f = fake_api_start(NULL);
        fake_api_add_pod(f, pod("a", UID1, NODE, NULL));
        KubeClient *c = client_for(f);
        PodWatch *w = watch_new(c, 0);
        WatchCtx x = { .w = w, .want_pods = 1 };
        assert_true(drive(c, w, has_n_pods, &x, 5000));
        wait_watching(f, c, w);
        fake_api_drop_connections(f);
        fake_api_add_pod(f, pod("b", UID2, NODE, NULL));
        x = (WatchCtx) { .w = w, .want_pods = 2, .want_lists = 1, .want_watches = 2 };
        assert_true(drive(c, w, watch_counters_reached, &x, 5000));
        assert_int_equal(pod_watch_stats(w)->lists, 1);
        pod_watch_free(w);
        kube_client_free(c);
        fake_api_stop(f);
}

static void test_watch_ended_by_server_resumes_without_relist(void **state) {
        (void) state;
        FakeApi *f = fake_api_start(NULL);
        fake_api_add_pod(f, pod("a", UID1, NODE, NULL));
        KubeClient *c = client_for(f);
        PodWatch *w = watch_new(c, 1);          /* timeoutSeconds=1 */
        WatchCtx x = { .w = w, .want_pods = 1, .want_lists = 1, .want_watches = 3 };
        assert_true(drive(c, w, watch_counters_reached, &x, 8000));
        assert_int_equal(pod_watch_stats(w)->lists, 1);
        FakeRequest r;
        assert_true(fake_api_get_request(f, "GET", "/api/v1/pods", 2, &r));
        assert_true(query_has(&r, "timeoutSeconds=1"));
        fake_request_free(&r);
        pod_watch_free(w);
        kube_client_free(c);
        fake_api_stop(f);
}

static void test_failed_list_is_retried(void **state) {
        (void) state;
        FakeApi *f = fake_api_start(NULL);
        fake_api_add_pod(f, pod("a", UID1, NODE, NULL));
        fake_api_fail_lists(f, 2);
        KubeClient *c = client_for(f);
        PodWatch *w = watch_new(c, 0);
        WatchCtx x = { .w = w, .want_pods = 1 };
        assert_true(drive(c, w, has_n_pods, &x, 5000));
        assert_true(pod_watch_stats(w)->failures >= 2);
        assert_non_null(strstr(pod_watch_stats(w)->last_error, "etcdserver"));
        pod_watch_free(w);
        kube_client_free(c);
        fake_api_stop(f);
}

static void test_backoff_grows_and_is_capped(void **state) {
        (void) state;
        uint64_t ms = USEC_PER_MSEC;
        assert_int_equal(pod_watch_backoff_usec(500 * ms, 30000 * ms, 1, 0.0), 250 * ms);
        assert_int_equal(pod_watch_backoff_usec(500 * ms, 30000 * ms, 1, 0.999999), 499999);
        assert_int_equal(pod_watch_backoff_usec(500 * ms, 30000 * ms, 2, 0.0), 500 * ms);
        assert_int_equal(pod_watch_backoff_usec(500 * ms, 30000 * ms, 4, 0.0), 2000 * ms);
        assert_int_equal(pod_watch_backoff_usec(500 * ms, 30000 * ms, 40, 0.0), 15000 * ms);
        assert_true(pod_watch_backoff_usec(500 * ms, 30000 * ms, 1000, 0.5) <= 30000 * ms);
}

/* --- node status --- */

static uint64_t fake_now_usec;

static uint64_t fake_clock(void) {
        return fake_now_usec;
}

typedef struct PublisherCtx {
        NodePublisher *p;
        uint64_t status, annotation, failures;
} PublisherCtx;

static bool publisher_reached(void *userdata) {
        PublisherCtx *x = userdata;
        const NodePublisherStats *s = node_publisher_stats(x->p);
        return s->status_patches >= x->status && s->annotation_patches >= x->annotation && s->failures >= x->failures;
}

static NodeUsage usage_with_budget(int64_t cpu_milli, int64_t memory) {
        return (NodeUsage) {
                .cpu_capacity_milli = 8000, .mem_capacity = 32LL << 30, .cpu_usage_milli = 2000, .cpu_peak_milli = 3000,
                .mem_usage = 8LL << 30, .mem_peak = 12LL << 30, .offline_cpu_milli = cpu_milli, .offline_memory = memory,
                .updated_usec = now_realtime_usec(),
        };
}

static const char *node_quantity(FakeApi *f, const char *section, const char *resource, char *buf, size_t size) {
        json_t *node = fake_api_get_node(f, NODE);
        const char *v = json_string_value(json_object_get(json_object_get(json_object_get(node, "status"), section), resource));
        snprintf(buf, size, "%s", v ? v : "(none)");
        json_decref(node);
        return buf;
}

/* Updates, then drives until the publisher has made want_status status patches (a test that expects
 * no new patch passes the current count), then a little longer so an unexpected patch would show. */
static void publish(KubeClient *c, NodePublisher *p, PublisherCtx *x, const NodeUsage *u, uint64_t data_usec,
                    uint64_t want_status) {
        node_publisher_update(p, u, data_usec);
        x->status = want_status;
        (void) drive(c, NULL, publisher_reached, x, 3000);
        drive(c, NULL, NULL, NULL, 50);         /* anything extra would show now */
}

static void test_node_status_hysteresis_interval_and_decay(void **state) {
        (void) state;
        FakeApi *f = fake_api_start(NULL);
        fake_api_add_node(f, NODE, "8", "32Gi");
        KubeClient *c = client_for(f);
        NodePublisherConfig cfg = { .threshold = 0.1, .interval_usec = 300 * USEC_PER_SEC,
                                    .stale_after_usec = 30 * USEC_PER_SEC };
        NodePublisher *p = NULL;
        ColoError err = {};
        assert_int_equal(node_publisher_new(c, NODE, &cfg, fake_clock, &p, &err), 0);
        PublisherCtx x = { .p = p, .annotation = 1 };
        char q[64];

        fake_now_usec = 1000 * USEC_PER_SEC;
        NodeUsage u = usage_with_budget(3000, 8LL << 30);
        publish(c, p, &x, &u, fake_now_usec, 1);
        assert_int_equal(node_publisher_stats(p)->status_patches, 1);
        assert_string_equal(node_quantity(f, "capacity", "colo.io/offline-cpu", q, sizeof(q)), "3000");
        assert_string_equal(node_quantity(f, "allocatable", "colo.io/offline-cpu", q, sizeof(q)), "3000");
        assert_string_equal(node_quantity(f, "allocatable", "colo.io/offline-memory", q, sizeof(q)), "8589934592");
        assert_string_equal(node_quantity(f, "allocatable", "cpu", q, sizeof(q)), "8");        /* kubelet's, untouched */
        FakeRequest r;
        assert_true(fake_api_get_request(f, "PATCH", "/api/v1/nodes/" NODE "/status", 0, &r));
        assert_string_equal(r.content_type, "application/merge-patch+json");
        assert_int_equal(r.status, 200);
        fake_request_free(&r);

        /* The annotation carries the same budget, usage and peak, for the extender. */
        json_t *node = fake_api_get_node(f, NODE);
        const char *ann = json_string_value(json_object_get(json_object_get(json_object_get(node, "metadata"), "annotations"),
                                                            NODE_USAGE_ANNOTATION));
        assert_non_null(ann);
        NodeUsage back;
        assert_int_equal(node_usage_parse(ann, strlen(ann), &back, &err), 0);
        assert_int_equal(back.offline_cpu_milli, 3000);
        assert_int_equal(back.cpu_peak_milli, 3000);
        assert_int_equal(back.mem_peak, 12LL << 30);
        json_decref(node);

        /* +6.7%: below the threshold, nothing is sent. */
        fake_now_usec += 20 * USEC_PER_SEC;
        u = usage_with_budget(3200, 8LL << 30);
        publish(c, p, &x, &u, fake_now_usec, 1);
        assert_int_equal(node_publisher_stats(p)->status_patches, 1);
        /* +13%: patched. */
        u = usage_with_budget(3400, 8LL << 30);
        publish(c, p, &x, &u, fake_now_usec, 2);
        assert_int_equal(node_publisher_stats(p)->status_patches, 2);
        assert_string_equal(node_quantity(f, "capacity", "colo.io/offline-cpu", q, sizeof(q)), "3400");
        /* An increase right after a patch waits the minimum spacing ... */
        fake_now_usec += USEC_PER_SEC;
        u = usage_with_budget(4000, 8LL << 30);
        publish(c, p, &x, &u, fake_now_usec, 2);
        assert_int_equal(node_publisher_stats(p)->status_patches, 2);
        /* ... a decrease does not. */
        u = usage_with_budget(3000, 8LL << 30);
        publish(c, p, &x, &u, fake_now_usec, 3);
        assert_int_equal(node_publisher_stats(p)->status_patches, 3);
        assert_string_equal(node_quantity(f, "capacity", "colo.io/offline-cpu", q, sizeof(q)), "3000");
        /* A small change still goes out once the interval has passed. */
        fake_now_usec += 301 * USEC_PER_SEC;
        u = usage_with_budget(3050, 8LL << 30);
        publish(c, p, &x, &u, fake_now_usec, 4);
        assert_int_equal(node_publisher_stats(p)->status_patches, 4);
        assert_string_equal(node_quantity(f, "capacity", "colo.io/offline-cpu", q, sizeof(q)), "3050");

        /* Stale data: the budget decays linearly to 0 over one more stale_after. */
        uint64_t data = fake_now_usec;
        fake_now_usec = data + 45 * USEC_PER_SEC;               /* 1.5 x stale_after: half */
        publish(c, p, &x, &u, data, 5);
        assert_true(node_publisher_stats(p)->decaying);
        assert_string_equal(node_quantity(f, "capacity", "colo.io/offline-cpu", q, sizeof(q)), "1525");
        assert_string_equal(node_quantity(f, "capacity", "colo.io/offline-memory", q, sizeof(q)), "4294967296");
        fake_now_usec = data + 60 * USEC_PER_SEC;               /* 2 x stale_after: nothing */
        publish(c, p, &x, &u, data, 6);
        assert_string_equal(node_quantity(f, "capacity", "colo.io/offline-cpu", q, sizeof(q)), "0");
        assert_string_equal(node_quantity(f, "capacity", "colo.io/offline-memory", q, sizeof(q)), "0");
        assert_int_equal(node_publisher_stats(p)->advertised.cpu_milli, 0);
        /* Fresh data again: back up (after the minimum spacing). */
        fake_now_usec += 11 * USEC_PER_SEC;
        publish(c, p, &x, &u, fake_now_usec, 7);
        assert_string_equal(node_quantity(f, "capacity", "colo.io/offline-cpu", q, sizeof(q)), "3050");
        assert_false(node_publisher_stats(p)->decaying);

        node_publisher_free(p);
        kube_client_free(c);
        fake_api_stop(f);
}

static void test_node_status_retries_when_unreachable(void **state) {
        (void) state;
        FakeApi *f = fake_api_start(NULL);
        fake_api_add_node(f, NODE, "8", "32Gi");
        KubeClient *c = client_for(f);
        NodePublisherConfig cfg = { .threshold = 0.1, .interval_usec = 300 * USEC_PER_SEC,
                                    .stale_after_usec = 30 * USEC_PER_SEC };
        NodePublisher *p = NULL;
        ColoError err = {};
        assert_int_equal(node_publisher_new(c, NODE, &cfg, fake_clock, &p, &err), 0);
        fake_now_usec = 5000 * USEC_PER_SEC;
        fake_api_set_unreachable(f, true);
        NodeUsage u = usage_with_budget(2000, 4LL << 30);
        node_publisher_update(p, &u, fake_now_usec);
        PublisherCtx x = { .p = p, .failures = 2 };
        assert_true(drive(c, NULL, publisher_reached, &x, 5000));
        assert_false(node_publisher_stats(p)->have_advertised);
        assert_non_null(strstr(node_publisher_stats(p)->last_error, "patch node"));
        /* Not retried before the delay ... */
        node_publisher_update(p, &u, fake_now_usec);
        drive(c, NULL, NULL, NULL, 100);
        assert_int_equal(node_publisher_stats(p)->failures, 2);
        /* ... then, with the server back, published. */
        fake_api_set_unreachable(f, false);
        fake_now_usec += 2 * USEC_PER_SEC;
        node_publisher_update(p, &u, fake_now_usec);
        x = (PublisherCtx) { .p = p, .status = 1, .annotation = 1 };
        assert_true(drive(c, NULL, publisher_reached, &x, 5000));
        assert_int_equal(node_publisher_stats(p)->advertised.cpu_milli, 2000);
        node_publisher_free(p);
        kube_client_free(c);
        fake_api_stop(f);
}

static void test_node_status_rules(void **state) {
        (void) state;
        NodeCapacity b = { 4000, 8000 };
        uint64_t s = 30 * USEC_PER_SEC;
        assert_int_equal(node_status_decay(b, 0, s).cpu_milli, 4000);
        assert_int_equal(node_status_decay(b, s, s).cpu_milli, 4000);
        assert_int_equal(node_status_decay(b, s + s / 4, s).cpu_milli, 3000);
        assert_int_equal(node_status_decay(b, s + s / 2, s).memory, 4000);
        assert_int_equal(node_status_decay(b, 2 * s, s).cpu_milli, 0);
        assert_int_equal(node_status_decay(b, 10 * s, s).memory, 0);

        NodeStatusHysteresis h = {};
        int64_t v[2] = { 1000, 1000 };
        uint64_t i = 300 * USEC_PER_SEC, t = 1000 * USEC_PER_SEC;
        assert_true(node_status_due(&h, v, 2, t, 0.1, i));             /* never published */
        h = (NodeStatusHysteresis) { .published = true, .values = { 1000, 1000 }, .at_usec = t };
        assert_false(node_status_due(&h, v, 2, t + 20 * USEC_PER_SEC, 0.1, i));
        v[1] = 1099;
        assert_false(node_status_due(&h, v, 2, t + 20 * USEC_PER_SEC, 0.1, i));
        v[1] = 1100;
        assert_true(node_status_due(&h, v, 2, t + 20 * USEC_PER_SEC, 0.1, i));
        assert_false(node_status_due(&h, v, 2, t + 5 * USEC_PER_SEC, 0.1, i)); /* increase: spacing */
        v[1] = 900;
        assert_true(node_status_due(&h, v, 2, t + 1, 0.1, i));          /* decrease: at once */
        v[1] = 1001;
        assert_true(node_status_due(&h, v, 2, t + i, 0.1, i));          /* interval */
        assert_true(node_status_due(&h, v, 2, t + 20 * USEC_PER_SEC, 0.0, i)); /* threshold 0: any change */
        v[1] = 0;
        assert_true(node_status_due(&h, v, 2, t + 1, 0.5, i));          /* reaching 0 */

        OfflineHolding pods[] = {
                { .tier = TIER_BATCH, .cpu_milli = 2000, .memory = 4 },
                { .tier = TIER_BEST_EFFORT, .cpu_milli = 500, .memory = 1 },
                { .tier = TIER_BEST_EFFORT, .cpu_milli = 1000, .memory = 1 },
                { .tier = TIER_BATCH, .cpu_milli = 100, .memory = 1 },
        };
        size_t idx = 99;
        assert_int_equal(node_status_pick_overcommit(pods, 4, (NodeCapacity) { 3600, 7 }, &idx), -ENOENT);
        assert_int_equal(node_status_pick_overcommit(pods, 4, (NodeCapacity) { 3000, 7 }, &idx), 0);
        assert_int_equal(idx, 2);       /* best-effort first, the largest CPU holder */
        pods[2].being_evicted = true;   /* released: now 2600 held */
        assert_int_equal(node_status_pick_overcommit(pods, 4, (NodeCapacity) { 2600, 7 }, &idx), -ENOENT);
        assert_int_equal(node_status_pick_overcommit(pods, 4, (NodeCapacity) { 2500, 7 }, &idx), 0);
        assert_int_equal(idx, 1);
        pods[1].being_evicted = true;
        assert_int_equal(node_status_pick_overcommit(pods, 4, (NodeCapacity) { 2500, 3 }, &idx), 0);
        assert_int_equal(idx, 0);       /* memory over: the batch pod holding most memory */
}

/* --- evictions --- */

typedef struct EvictCtx {
        KubeEvictor *e;
        const char *uid;
        KubeEvictionState state;
        bool event;
} EvictCtx;

static bool eviction_reached(void *userdata) {
        EvictCtx *x = userdata;
        const KubeEviction *ev = kube_evictor_find(x->e, x->uid);
        return ev && ev->state == x->state && ev->event_posted == x->event;
}

static bool drive_evictor(KubeClient *c, KubeEvictor *e, EvictCtx *x, int timeout_ms) {
        uint64_t end = now_monotonic_usec() + (uint64_t) timeout_ms * USEC_PER_MSEC;
        while (!eviction_reached(x)) {
                if (now_monotonic_usec() >= end)
                        return false;
                (void) kube_client_wait(c, 10 * USEC_PER_MSEC);
                kube_evictor_dispatch(e);
        }
        return true;
}

static KubePod stored_pod(FakeApi *f, const char *name) {
        json_t *j = fake_api_get_pod(f, "default", name);
        KubePod p;
        ColoError err = {};
        assert_non_null(j);
        assert_int_equal(kube_pod_from_json(j, &p, &err), 0);
        json_decref(j);
        return p;
}

static KubeEvictor *evictor_for(KubeClient *c) {
        KubeEvictorOptions o = { .node_name = NODE, .grace_period_seconds = -1, .retry_initial_usec = 30 * USEC_PER_MSEC,
                                 .retry_max_usec = 100 * USEC_PER_MSEC };
        KubeEvictor *e = NULL;
        ColoError err = {};
        assert_int_equal(kube_evictor_new(c, &o, &e, &err), 0);
        return e;
}

static void test_eviction_records_an_event(void **state) {
        (void) state;
        FakeApi *f = fake_api_start(NULL);
        fake_api_add_pod(f, pod("batch", UID2, NODE, "offline"));
        KubeClient *c = client_for(f);
        KubeEvictor *e = evictor_for(c);
        KubePod p = stored_pod(f, "batch");
        ColoError err = {};
        assert_int_equal(kube_evictor_evict(e, &p, "memory pressure: online PSI 42%", &err), 0);
        assert_int_equal(kube_evictor_evict(e, &p, "again", &err), -EALREADY);
        EvictCtx x = { .e = e, .uid = UID2, .state = KUBE_EVICTION_ACCEPTED, .event = true };
        assert_true(drive_evictor(c, e, &x, 5000));
        assert_null(fake_api_get_pod(f, "default", "batch"));

        FakeRequest r;
        assert_true(fake_api_get_request(f, "POST", "/api/v1/namespaces/default/pods/batch/eviction", 0, &r));
        json_t *body = json_loads(r.body, 0, NULL);
        assert_string_equal(json_string_value(json_object_get(body, "apiVersion")), "policy/v1");
        assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(body, "deleteOptions"),
                                                                              "preconditions"), "uid")), UID2);
        json_decref(body);
        fake_request_free(&r);

        assert_int_equal(fake_api_count_requests(f, "POST", "/api/v1/namespaces/default/events"), 1);
        assert_true(fake_api_get_request(f, "POST", "/api/v1/namespaces/default/events", 0, &r));
        assert_int_equal(r.status, 201);
        body = json_loads(r.body, 0, NULL);
        json_t *inv = json_object_get(body, "involvedObject");
        assert_string_equal(json_string_value(json_object_get(inv, "kind")), "Pod");
        assert_string_equal(json_string_value(json_object_get(inv, "uid")), UID2);
        assert_string_equal(json_string_value(json_object_get(body, "reason")), EVICT_EVENT_REASON);
        assert_string_equal(json_string_value(json_object_get(body, "type")), "Warning");
        assert_non_null(strstr(json_string_value(json_object_get(body, "message")), "online PSI 42%"));
        assert_string_equal(json_string_value(json_object_get(json_object_get(body, "source"), "host")), NODE);
        json_decref(body);
        fake_request_free(&r);
        assert_int_equal(kube_evictor_stats(e)->events_posted, 1);
        kube_evictor_free(e);
        kube_client_free(c);
        fake_api_stop(f);
}

static void test_eviction_never_for_online_pods(void **state) {
        (void) state;
        FakeApi *f = fake_api_start(NULL);
        fake_api_add_pod(f, pod("web", UID1, NODE, "online"));
        fake_api_add_pod(f, pod("plain", UID3, NODE, NULL));           /* no marker: online */
        KubeClient *c = client_for(f);
        KubeEvictor *e = evictor_for(c);
        KubePod web = stored_pod(f, "web"), plain = stored_pod(f, "plain");
        ColoError err = {};
        assert_int_equal(kube_evictor_evict(e, &web, "x", &err), -EPERM);
        assert_non_null(strstr(err.msg, "not offline"));
        assert_int_equal(kube_evictor_evict(e, &plain, "x", &err), -EPERM);
        /* A caller that mislabels the pod does not get past the pod's own markers either:
         * an invalid colo.io/class value keeps the pod online. */
        fake_api_annotate_pod(f, "default", "web", "colo.io/class", "offline-ish");
        web = stored_pod(f, "web");
        assert_int_equal(kube_evictor_evict(e, &web, "x", &err), -EPERM);
        drive(c, NULL, NULL, NULL, 100);
        assert_int_equal(fake_api_count_requests(f, "POST", NULL), 0);
        assert_int_equal(kube_evictor_count(e), 0);
        kube_evictor_free(e);
        kube_client_free(c);
        fake_api_stop(f);
}

static void test_eviction_blocked_by_pdb_is_retried(void **state) {
        (void) state;
        FakeApi *f = fake_api_start(NULL);
        fake_api_add_pod(f, pod("batch", UID2, NODE, "offline"));
        fake_api_fail_evictions(f, 429, 2);
        KubeClient *c = client_for(f);
        KubeEvictor *e = evictor_for(c);
        KubePod p = stored_pod(f, "batch");
        ColoError err = {};
        assert_int_equal(kube_evictor_evict(e, &p, "over capacity", &err), 0);
        EvictCtx x = { .e = e, .uid = UID2, .state = KUBE_EVICTION_ACCEPTED, .event = true };
        assert_true(drive_evictor(c, e, &x, 5000));
        const KubeEviction *ev = kube_evictor_find(e, UID2);
        assert_int_equal(ev->blocked, 2);
        assert_int_equal(ev->attempts, 3);
        assert_int_equal(kube_evictor_stats(e)->blocked, 2);
        assert_non_null(strstr(kube_evictor_stats(e)->last_error, "disruption budget"));
        assert_int_equal(fake_api_count_requests(f, "POST", "/api/v1/namespaces/default/events"), 1);
        kube_evictor_free(e);
        kube_client_free(c);
        fake_api_stop(f);
}

static void test_eviction_of_a_gone_pod(void **state) {
        (void) state;
        FakeApi *f = fake_api_start(NULL);
        fake_api_add_pod(f, pod("batch", UID2, NODE, "offline"));
        KubeClient *c = client_for(f);
        KubeEvictor *e = evictor_for(c);
        KubePod p = stored_pod(f, "batch");
        fake_api_delete_pod(f, "default", "batch");
        ColoError err = {};
        assert_int_equal(kube_evictor_evict(e, &p, "x", &err), 0);
        EvictCtx x = { .e = e, .uid = UID2, .state = KUBE_EVICTION_GONE, .event = false };
        assert_true(drive_evictor(c, e, &x, 5000));
        assert_int_equal(fake_api_count_requests(f, "POST", "/api/v1/namespaces/default/events"), 0);
        kube_evictor_cancel(e, UID2);
        assert_null(kube_evictor_find(e, UID2));
        kube_evictor_free(e);
        kube_client_free(c);
        fake_api_stop(f);
}

int main(int argc, char **argv) {
        colo_bin = argc > 1 ? argv[1] : NULL;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_list_then_watch_follows_this_node),
                cmocka_unit_test(test_list_pages_with_continue),
                cmocka_unit_test(test_bookmarks_advance_the_resource_version),
                cmocka_unit_test(test_gone_event_relists),
                cmocka_unit_test(test_gone_status_relists),
                cmocka_unit_test(test_reconnect_with_backoff_keeps_the_pods),
                cmocka_unit_test(test_dropped_stream_resumes),
                cmocka_unit_test(test_watch_ended_by_server_resumes_without_relist),
                cmocka_unit_test(test_failed_list_is_retried),
                cmocka_unit_test(test_backoff_grows_and_is_capped),
                cmocka_unit_test(test_node_status_hysteresis_interval_and_decay),
                cmocka_unit_test(test_node_status_retries_when_unreachable),
                cmocka_unit_test(test_node_status_rules),
                cmocka_unit_test(test_eviction_records_an_event),
                cmocka_unit_test(test_eviction_never_for_online_pods),
                cmocka_unit_test(test_eviction_blocked_by_pdb_is_retried),
                cmocka_unit_test(test_eviction_of_a_gone_pod),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
