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
#include "k8s/kubeclient.h"
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
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
