/* The node agent's Kubernetes side against the fake API server on 127.0.0.1: the client (plain
 * and TLS with a token or client certificate), pod list + watch (pages, bookmarks, 410 Gone as
 * event and as status, reconnect with backoff while unreachable, resume after the server ends a
 * watch), node status publishing with hysteresis and decay, evictions with their Event, and
 * `colo agent` in Kubernetes mode end to end on a fake cgroupfs. Needs neither root nor a
 * cluster; every test stops by itself. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake-apiserver.h"
#include "k8s-node.h"
#include "kube/k8s-evict.h"
#include "kube/kubeclient.h"
#include "kube/node-status.h"
#include "kube/pod-watch.h"
#include "util/fileio.h"
#include "util/macro.h"

#define NODE "node-a"
#define UID1 "11111111-1111-4111-8111-111111111111"
#define UID2 "22222222-2222-4222-8222-222222222222"
#define UID3 "33333333-3333-4333-8333-333333333333"
#define UID4 "44444444-4444-4444-8444-444444444444"
#define CID1 "containerd://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static const char *colo_bin;
static const char *scrape_script, *dashboard_json; /* argv[2], argv[3]: tests/integration/prometheus-scrape.sh, the dashboard */
extern char **environ;

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

/* How much longer than on a real machine a wait may take: COLO_TEST_TIMEOUT_SCALE (the VM of
 * tests/vm sets it, its CPUs are emulated), else 1. Scales upper bounds only, so a test that
 * passes does not take longer. */
static uint64_t timeout_scale(void) {
        const char *s = getenv("COLO_TEST_TIMEOUT_SCALE");
        long v = s ? strtol(s, NULL, 10) : 1;
        return v >= 1 && v <= 100 ? (uint64_t) v : 1;
}

/* Drives client and watch until cond holds or timeout_ms passes (an upper bound, times the
 * scale), or, without cond, for exactly timeout_ms. */
static bool drive(KubeClient *c, PodWatch *w, Condition cond, void *userdata, int timeout_ms) {
        uint64_t end = now_monotonic_usec() + (uint64_t) timeout_ms * USEC_PER_MSEC * (cond ? timeout_scale() : 1);
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

/* The fake API server of a test, and the client and the watch, evictor or node publisher the test
 * starts on it: fixture_setup() starts the server, fixture_teardown() frees whatever was started. */
typedef struct Fixture {
        FakeApi *f;
        KubeClient *c;
        PodWatch *w;
        KubeEvictor *e;
        NodePublisher *p;
} Fixture;

static int fixture_setup(void **state) {
        Fixture *t = calloc(1, sizeof(*t));
        assert_non_null(t);
        t->f = fake_api_start(NULL);
        assert_non_null(t->f);
        *state = t;
        return 0;
}

static int fixture_teardown(void **state) {
        Fixture *t = *state;
        pod_watch_free(t->w);
        kube_evictor_free(t->e);
        node_publisher_free(t->p);
        kube_client_free(t->c);
        fake_api_stop(t->f);
        free(t);
        return 0;
}

#define FIXTURE_TEST(test) cmocka_unit_test_setup_teardown(test, fixture_setup, fixture_teardown)

/* Starts the client and a pod watch on the fake server, which has the pods the test added so far. */
static void watch_start(Fixture *t, unsigned timeout_sec) {
        t->c = client_for(t->f);
        t->w = watch_new(t->c, timeout_sec);
}

/* watch_start(), then drives until the first list has brought want_pods pods and the watch runs. */
static WatchCtx watch_synced(Fixture *t, unsigned timeout_sec, size_t want_pods) {
        watch_start(t, timeout_sec);
        WatchCtx x = { .w = t->w, .want_pods = want_pods };
        assert_true(drive(t->c, t->w, has_n_pods, &x, 5000));
        return x;
}

static bool query_has(const FakeRequest *r, const char *kv) {
        return strstr(r->query, kv) != NULL;
}

/* --- pod list and watch --- */

static void test_list_then_watch_follows_this_node(void **state) {
        Fixture *t = *state;
        fake_api_add_pod(t->f, pod("web", UID1, NODE, "online"));
        fake_api_add_pod(t->f, pod("batch", UID2, NODE, "offline"));
        fake_api_add_pod(t->f, pod("elsewhere", UID3, "node-b", "offline"));
        WatchCtx x = watch_synced(t, 0, 2);

        const KubePod *batch = pod_watch_find(t->w, UID2);
        assert_non_null(batch);
        assert_int_equal(batch->cls.workload_class, CLASS_OFFLINE);
        assert_int_equal(batch->qos, KUBE_QOS_BEST_EFFORT);
        assert_int_equal(batch->offline_cpu_request_milli, 500);
        assert_int_equal(batch->offline_memory_request, 256 << 20);
        assert_null(pod_watch_find(t->w, UID3));
        wait_watching(t->f, t->c, t->w);

        FakeRequest r;
        assert_true(fake_api_get_request(t->f, "GET", "/api/v1/pods", 0, &r));
        assert_true(query_has(&r, "fieldSelector=spec.nodeName=" NODE));
        assert_true(query_has(&r, "limit="));
        assert_false(query_has(&r, "watch=true"));
        fake_request_free(&r);
        assert_true(fake_api_get_request(t->f, "GET", "/api/v1/pods", 1, &r));
        assert_true(query_has(&r, "watch=true"));
        assert_true(query_has(&r, "allowWatchBookmarks=true"));
        char rv[64];
        snprintf(rv, sizeof(rv), "resourceVersion=%s", pod_watch_stats(t->w)->resource_version);
        assert_true(query_has(&r, rv));
        fake_request_free(&r);

        /* Changes arrive through the watch. */
        fake_api_add_pod(t->f, pod("cache", UID4, NODE, NULL));
        x.want_pods = 3;
        assert_true(drive(t->c, t->w, has_n_pods, &x, 5000));
        /* Re-classification both ways by editing the annotation. */
        fake_api_annotate_pod(t->f, "default", "batch", "colo.io/class", "online");
        x.uid = UID2;
        x.want_class = CLASS_ONLINE;
        assert_true(drive(t->c, t->w, pod_has_class, &x, 5000));
        fake_api_annotate_pod(t->f, "default", "batch", "colo.io/class", "offline");
        x.want_class = CLASS_OFFLINE;
        assert_true(drive(t->c, t->w, pod_has_class, &x, 5000));
        fake_api_delete_pod(t->f, "default", "web");
        x.want_pods = 2;
        assert_true(drive(t->c, t->w, has_n_pods, &x, 5000));
        assert_null(pod_watch_find(t->w, UID1));
        /* Pods of other nodes never enter the store. */
        fake_api_add_pod(t->f, pod("other", "55555555-5555-4555-8555-555555555555", "node-b", NULL));
        drive(t->c, t->w, NULL, NULL, 200);
        size_t n;
        (void) pod_watch_pods(t->w, &n);
        assert_int_equal(n, 2);
        assert_int_equal(pod_watch_stats(t->w)->lists, 1);

}

/* The pods the fake serves are real-shaped (canonical quantities, the service-account volume, a
 * container still being created without a containerID): colo reads them as the API server writes. */
static void test_real_shaped_pods_are_read(void **state) {
        (void) state;
        FakePod started = { .name = "train", .namespace_ = "batch", .uid = "11111111-2222-4333-8444-555555555555",
                            .node = NODE, .qos_class = "BestEffort", .class_annotation = "offline",
                            .priority_class = "colo-offline", .offline_cpu_milli = 2000, .offline_memory = 1000000000,
                            .container_id = CID1 };
        FakePod creating = started;
        creating.container_id = NULL;
        creating.phase = "Pending";
        json_t *j = fake_pod_json(&started);
        json_t *res = json_object_get(json_array_get(json_object_get(json_object_get(j, "spec"), "containers"), 0),
                                      "resources");
        assert_string_equal(json_string_value(json_object_get(json_object_get(res, "requests"), "colo.io/offline-cpu")), "2k");
        KubePod p;
        ColoError err = {};
        assert_int_equal(kube_pod_from_json(j, &p, &err), 0);
        assert_int_equal(p.offline_cpu_request_milli, 2000);
        assert_int_equal(p.offline_memory_request, 1000000000);
        assert_int_equal(p.cls.workload_class, CLASS_OFFLINE);
        json_decref(j);
        j = fake_pod_json(&creating);
        assert_int_equal(kube_pod_from_json(j, &p, &err), 0);
        assert_string_equal(p.phase, "Pending");
        json_decref(j);
}

static void test_list_pages_with_continue(void **state) {
        Fixture *t = *state;
        fake_api_set_page_size(t->f, 1);
        fake_api_add_pod(t->f, pod("a", UID1, NODE, NULL));
        fake_api_add_pod(t->f, pod("b", UID2, NODE, NULL));
        fake_api_add_pod(t->f, pod("c", UID3, NODE, NULL));
        (void) watch_synced(t, 0, 3);
        assert_int_equal(pod_watch_stats(t->w)->lists, 1);
        FakeRequest r;
        assert_true(fake_api_get_request(t->f, "GET", "/api/v1/pods", 1, &r));
        assert_true(query_has(&r, "continue="));
        fake_request_free(&r);
}

static void test_bookmarks_advance_the_resource_version(void **state) {
        Fixture *t = *state;
        fake_api_add_pod(t->f, pod("a", UID1, NODE, NULL));
        WatchCtx x = watch_synced(t, 0, 1);
        wait_watching(t->f, t->c, t->w);
        /* Other nodes' changes move the version without an event for us. */
        fake_api_add_pod(t->f, pod("b", UID2, "node-b", NULL));
        fake_api_send_bookmark(t->f);
        x.want_bookmarks = 1;
        x.want_lists = 1;
        x.want_watches = 1;
        assert_true(drive(t->c, t->w, watch_counters_reached, &x, 5000));
        char want[64];
        snprintf(want, sizeof(want), "%llu", (unsigned long long) fake_api_resource_version(t->f));
        assert_string_equal(pod_watch_stats(t->w)->resource_version, want);
}

static void test_gone_event_relists(void **state) {
        Fixture *t = *state;
        fake_api_add_pod(t->f, pod("a", UID1, NODE, NULL));
        fake_api_add_pod(t->f, pod("b", UID2, NODE, NULL));
        WatchCtx x = watch_synced(t, 0, 2);

        /* A deletion the watch never sees, then the history is compacted and the watch expired. */
        fake_api_set_unreachable(t->f, true);
        drive(t->c, t->w, NULL, NULL, 100);
        fake_api_delete_pod(t->f, "default", "a");
        fake_api_add_pod(t->f, pod("c", UID3, NODE, NULL));
        fake_api_compact(t->f);
        fake_api_set_unreachable(t->f, false);
        /* The watch resumes from a version that is gone: ERROR 410, then a new list. */
        x = (WatchCtx) { .w = t->w, .want_pods = 2, .want_lists = 2, .want_relists = 1 };
        assert_true(drive(t->c, t->w, watch_counters_reached, &x, 5000));
        assert_null(pod_watch_find(t->w, UID1));
        assert_non_null(pod_watch_find(t->w, UID3));

        /* An ERROR 410 on an open watch has the same effect. */
        wait_watching(t->f, t->c, t->w);
        fake_api_compact(t->f);
        fake_api_expire_watches(t->f);
        x.want_lists = 3;
        x.want_relists = 2;
        assert_true(drive(t->c, t->w, watch_counters_reached, &x, 5000));
}

static void test_gone_status_relists(void **state) {
        Fixture *t = *state;
        fake_api_set_watch_gone_as_http(t->f, true);
        fake_api_add_pod(t->f, pod("a", UID1, NODE, NULL));
        WatchCtx x = watch_synced(t, 0, 1);
        fake_api_add_pod(t->f, pod("b", UID2, NODE, NULL));
        x.want_pods = 2;
        assert_true(drive(t->c, t->w, has_n_pods, &x, 5000));
        fake_api_compact(t->f);
        fake_api_set_unreachable(t->f, true);      /* drop the watch; it comes back with an old version */
        fake_api_add_pod(t->f, pod("c", UID3, NODE, NULL));
        fake_api_compact(t->f);
        fake_api_set_unreachable(t->f, false);
        x = (WatchCtx) { .w = t->w, .want_pods = 3, .want_lists = 2, .want_relists = 1 };
        assert_true(drive(t->c, t->w, watch_counters_reached, &x, 5000));
        assert_true(fake_api_count_requests(t->f, "GET", "/api/v1/pods") >= 4);
}

static bool watch_failing(void *userdata) {
        WatchCtx *x = userdata;
        return pod_watch_stats(x->w)->failures_in_row >= 3;
}

static void test_reconnect_with_backoff_keeps_the_pods(void **state) {
        Fixture *t = *state;
        fake_api_add_pod(t->f, pod("a", UID1, NODE, "offline"));
        WatchCtx x = watch_synced(t, 0, 1);

        fake_api_set_unreachable(t->f, true);
        size_t before = fake_api_count_requests(t->f, "GET", "/api/v1/pods");
        assert_true(drive(t->c, t->w, watch_failing, &x, 5000));
        const PodWatchStats *s = pod_watch_stats(t->w);
        assert_false(s->connected);
        assert_true(s->state == POD_WATCH_WATCH_DUE || s->state == POD_WATCH_WATCHING);
        assert_true(pod_watch_next_wakeup(t->w) != UINT64_MAX || s->state == POD_WATCH_WATCHING);
        assert_non_null(strstr(s->last_error, "watch pods"));
        /* The pods of the last list stay, with their class. */
        const KubePod *p = pod_watch_find(t->w, UID1);
        assert_non_null(p);
        assert_int_equal(p->cls.workload_class, CLASS_OFFLINE);
        /* Backoff: over 600 ms with a 20..200 ms backoff, far fewer attempts than a tight loop. */
        drive(t->c, t->w, NULL, NULL, 600);
        assert_true(pod_watch_stats(t->w)->failures_in_row >= 4);
        assert_true(pod_watch_stats(t->w)->failures_in_row <= 20);
        assert_int_equal(fake_api_count_requests(t->f, "GET", "/api/v1/pods"), before);    /* none got through */

        /* Back: the watch resumes from its version, no relist, and catches up. */
        fake_api_add_pod(t->f, pod("b", UID2, NODE, NULL));
        fake_api_set_unreachable(t->f, false);
        x = (WatchCtx) { .w = t->w, .want_pods = 2, .want_lists = 1 };
        assert_true(drive(t->c, t->w, watch_counters_reached, &x, 5000));
        assert_int_equal(pod_watch_stats(t->w)->lists, 1);
        assert_true(pod_watch_stats(t->w)->connected);
        assert_int_equal(pod_watch_stats(t->w)->failures_in_row, 0);
}

static void test_dropped_stream_resumes(void **state) {
        Fixture *t = *state;
        fake_api_add_pod(t->f, pod("a", UID1, NODE, NULL));
        WatchCtx x = watch_synced(t, 0, 1);
        wait_watching(t->f, t->c, t->w);
        fake_api_drop_connections(t->f);
        fake_api_add_pod(t->f, pod("b", UID2, NODE, NULL));
        x = (WatchCtx) { .w = t->w, .want_pods = 2, .want_lists = 1, .want_watches = 2 };
        assert_true(drive(t->c, t->w, watch_counters_reached, &x, 5000));
        assert_int_equal(pod_watch_stats(t->w)->lists, 1);
}

static void test_watch_ended_by_server_resumes_without_relist(void **state) {
        Fixture *t = *state;
        fake_api_add_pod(t->f, pod("a", UID1, NODE, NULL));
        watch_start(t, 1);          /* timeoutSeconds=1 */
        WatchCtx x = { .w = t->w, .want_pods = 1, .want_lists = 1, .want_watches = 3 };
        assert_true(drive(t->c, t->w, watch_counters_reached, &x, 8000));
        assert_int_equal(pod_watch_stats(t->w)->lists, 1);
        FakeRequest r;
        assert_true(fake_api_get_request(t->f, "GET", "/api/v1/pods", 2, &r));
        assert_true(query_has(&r, "timeoutSeconds=1"));
        fake_request_free(&r);
}

static void test_failed_list_is_retried(void **state) {
        Fixture *t = *state;
        fake_api_add_pod(t->f, pod("a", UID1, NODE, NULL));
        fake_api_fail_lists(t->f, 2);
        (void) watch_synced(t, 0, 1);
        assert_true(pod_watch_stats(t->w)->failures >= 2);
        assert_non_null(strstr(pod_watch_stats(t->w)->last_error, "etcdserver"));
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

typedef struct VerifyCtx {
        NodePublisher *p;
        uint64_t before;
} VerifyCtx;

static bool verified(void *userdata) {
        VerifyCtx *v = userdata;
        return node_publisher_stats(v->p)->verifications > v->before;
}

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
static void publish_held(KubeClient *c, NodePublisher *p, PublisherCtx *x, const NodeUsage *u, uint64_t data_usec,
                         NodeCapacity held, uint64_t want_status) {
        node_publisher_update(p, u, data_usec, held);
        x->status = want_status;
        (void) drive(c, NULL, publisher_reached, x, 3000);
        drive(c, NULL, NULL, NULL, 50);         /* anything extra would show now */
}

static void publish(KubeClient *c, NodePublisher *p, PublisherCtx *x, const NodeUsage *u, uint64_t data_usec,
                    uint64_t want_status) {
        publish_held(c, p, x, u, data_usec, (NodeCapacity) {}, want_status);
}

/* Starts the client and a node publisher (threshold 10%, interval 300 s, stale after 30 s, the fake
 * clock) for NODE, which the fake server gets with 8 CPUs and 32Gi. */
static void publisher_start(Fixture *t) {
        fake_api_add_node(t->f, NODE, "8", "32Gi");
        t->c = client_for(t->f);
        NodePublisherConfig cfg = { .threshold = 0.1, .interval_usec = 300 * USEC_PER_SEC,
                                    .stale_after_usec = 30 * USEC_PER_SEC };
        ColoError err = {};
        assert_int_equal(node_publisher_new(t->c, NODE, &cfg, fake_clock, &t->p, &err), 0);
}

static void test_node_status_hysteresis_interval_and_decay(void **state) {
        Fixture *t = *state;
        publisher_start(t);
        ColoError err = {};
        PublisherCtx x = { .p = t->p, .annotation = 1 };
        char q[64];

        fake_now_usec = 1000 * USEC_PER_SEC;
        NodeUsage u = usage_with_budget(3000, 8LL << 30);
        publish(t->c, t->p, &x, &u, fake_now_usec, 1);
        assert_int_equal(node_publisher_stats(t->p)->status_patches, 1);
        /* colo sends "3000"; the API server stores quantities canonical. */
        assert_string_equal(node_quantity(t->f, "capacity", "colo.io/offline-cpu", q, sizeof(q)), "3k");
        assert_string_equal(node_quantity(t->f, "allocatable", "colo.io/offline-cpu", q, sizeof(q)), "3k");
        assert_string_equal(node_quantity(t->f, "allocatable", "colo.io/offline-memory", q, sizeof(q)), "8589934592");
        assert_string_equal(node_quantity(t->f, "allocatable", "cpu", q, sizeof(q)), "8");        /* kubelet's, untouched */
        FakeRequest r;
        assert_true(fake_api_get_request(t->f, "PATCH", "/api/v1/nodes/" NODE "/status", 0, &r));
        assert_string_equal(r.content_type, "application/merge-patch+json");
        assert_int_equal(r.status, 200);
        fake_request_free(&r);

        /* The annotation carries the same budget, usage and peak, for the extender. */
        json_t *node = fake_api_get_node(t->f, NODE);
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
        publish(t->c, t->p, &x, &u, fake_now_usec, 1);
        assert_int_equal(node_publisher_stats(t->p)->status_patches, 1);
        /* +13%: patched. */
        u = usage_with_budget(3400, 8LL << 30);
        publish(t->c, t->p, &x, &u, fake_now_usec, 2);
        assert_int_equal(node_publisher_stats(t->p)->status_patches, 2);
        assert_string_equal(node_quantity(t->f, "capacity", "colo.io/offline-cpu", q, sizeof(q)), "3400");
        /* An increase right after a patch waits the minimum spacing ... */
        fake_now_usec += USEC_PER_SEC;
        u = usage_with_budget(4000, 8LL << 30);
        publish(t->c, t->p, &x, &u, fake_now_usec, 2);
        assert_int_equal(node_publisher_stats(t->p)->status_patches, 2);
        /* ... a decrease of the threshold or more does not ... */
        u = usage_with_budget(3000, 8LL << 30);
        publish(t->c, t->p, &x, &u, fake_now_usec, 3);
        assert_int_equal(node_publisher_stats(t->p)->status_patches, 3);
        assert_string_equal(node_quantity(t->f, "capacity", "colo.io/offline-cpu", q, sizeof(q)), "3k");
        /* ... and a smaller one goes out after the spacing (hysteresis only upward). */
        u = usage_with_budget(2950, 8LL << 30);
        publish(t->c, t->p, &x, &u, fake_now_usec, 3);
        assert_int_equal(node_publisher_stats(t->p)->status_patches, 3);
        fake_now_usec += 11 * USEC_PER_SEC;
        publish(t->c, t->p, &x, &u, fake_now_usec, 4);
        assert_string_equal(node_quantity(t->f, "capacity", "colo.io/offline-cpu", q, sizeof(q)), "2950");
        /* A small change still goes out once the interval has passed. */
        fake_now_usec += 301 * USEC_PER_SEC;
        u = usage_with_budget(3050, 8LL << 30);
        publish(t->c, t->p, &x, &u, fake_now_usec, 5);
        assert_int_equal(node_publisher_stats(t->p)->status_patches, 5);
        assert_string_equal(node_quantity(t->f, "capacity", "colo.io/offline-cpu", q, sizeof(q)), "3050");

        /* Stale data: the budget decays linearly to 0 over one more stale_after. */
        uint64_t data = fake_now_usec;
        fake_now_usec = data + 45 * USEC_PER_SEC;               /* 1.5 x stale_after: half */
        publish(t->c, t->p, &x, &u, data, 6);
        assert_true(node_publisher_stats(t->p)->decaying);
        assert_string_equal(node_quantity(t->f, "capacity", "colo.io/offline-cpu", q, sizeof(q)), "1525");
        assert_string_equal(node_quantity(t->f, "capacity", "colo.io/offline-memory", q, sizeof(q)), "4294967296");
        fake_now_usec = data + 60 * USEC_PER_SEC;               /* 2 x stale_after: nothing */
        publish(t->c, t->p, &x, &u, data, 7);
        assert_string_equal(node_quantity(t->f, "capacity", "colo.io/offline-cpu", q, sizeof(q)), "0");
        assert_string_equal(node_quantity(t->f, "capacity", "colo.io/offline-memory", q, sizeof(q)), "0");
        assert_int_equal(node_publisher_stats(t->p)->advertised.cpu_milli, 0);
        /* Fresh data again: back up (after the minimum spacing). */
        fake_now_usec += 11 * USEC_PER_SEC;
        publish(t->c, t->p, &x, &u, fake_now_usec, 8);
        assert_string_equal(node_quantity(t->f, "capacity", "colo.io/offline-cpu", q, sizeof(q)), "3050");
        assert_false(node_publisher_stats(t->p)->decaying);

        /* Never below what running offline pods request: the budget shrinks, they stay covered. */
        u = usage_with_budget(1000, 8LL << 30);
        publish_held(t->c, t->p, &x, &u, fake_now_usec, (NodeCapacity) { 2500, 1LL << 30 }, 9);
        assert_string_equal(node_quantity(t->f, "capacity", "colo.io/offline-cpu", q, sizeof(q)), "2500");
        assert_int_equal(node_publisher_stats(t->p)->budget.cpu_milli, 1000);
        /* Decay cannot take it below them either. */
        fake_now_usec += 100 * USEC_PER_SEC;
        publish_held(t->c, t->p, &x, &u, fake_now_usec - 100 * USEC_PER_SEC, (NodeCapacity) { 2500, 1LL << 30 }, 10);
        assert_string_equal(node_quantity(t->f, "capacity", "colo.io/offline-cpu", q, sizeof(q)), "2500");
        assert_string_equal(node_quantity(t->f, "capacity", "colo.io/offline-memory", q, sizeof(q)), "1073741824");
        assert_int_equal(node_publisher_stats(t->p)->budget.cpu_milli, 0);

        /* The kubelet re-registers the node and drops the resources: read back, patched again. */
        fake_api_reset_node_resources(t->f, NODE);
        fake_now_usec += 61 * USEC_PER_SEC;
        u = usage_with_budget(2500, 1LL << 30);
        VerifyCtx vc = { t->p, node_publisher_stats(t->p)->verifications };
        node_publisher_update(t->p, &u, fake_now_usec, (NodeCapacity) {});
        assert_true(drive(t->c, NULL, verified, &vc, 3000));
        uint64_t before = node_publisher_stats(t->p)->status_patches;
        publish(t->c, t->p, &x, &u, fake_now_usec, before + 1);
        assert_int_equal(node_publisher_stats(t->p)->resets_detected, 1);
        assert_string_equal(node_quantity(t->f, "allocatable", "colo.io/offline-cpu", q, sizeof(q)), "2500");

}

static void test_node_status_retries_when_unreachable(void **state) {
        Fixture *t = *state;
        publisher_start(t);
        fake_now_usec = 5000 * USEC_PER_SEC;
        fake_api_set_unreachable(t->f, true);
        NodeUsage u = usage_with_budget(2000, 4LL << 30);
        node_publisher_update(t->p, &u, fake_now_usec, (NodeCapacity) {});
        PublisherCtx x = { .p = t->p, .failures = 2 };
        assert_true(drive(t->c, NULL, publisher_reached, &x, 5000));
        assert_false(node_publisher_stats(t->p)->have_advertised);
        assert_non_null(strstr(node_publisher_stats(t->p)->last_error, "patch node"));
        /* Not retried before the delay ... */
        node_publisher_update(t->p, &u, fake_now_usec, (NodeCapacity) {});
        drive(t->c, NULL, NULL, NULL, 100);
        assert_int_equal(node_publisher_stats(t->p)->failures, 2);
        /* ... then, with the server back, published. */
        fake_api_set_unreachable(t->f, false);
        fake_now_usec += 2 * USEC_PER_SEC;
        node_publisher_update(t->p, &u, fake_now_usec, (NodeCapacity) {});
        x = (PublisherCtx) { .p = t->p, .status = 1, .annotation = 1 };
        assert_true(drive(t->c, NULL, publisher_reached, &x, 5000));
        assert_int_equal(node_publisher_stats(t->p)->advertised.cpu_milli, 2000);
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
        uint64_t end = now_monotonic_usec() + (uint64_t) timeout_ms * USEC_PER_MSEC * timeout_scale();
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

/* Starts the client and an evictor on the fake server; returns the stored pod name as the agent sees it. */
static KubePod evictor_start(Fixture *t, const char *name) {
        t->c = client_for(t->f);
        t->e = evictor_for(t->c);
        return stored_pod(t->f, name);
}

static void test_eviction_records_an_event(void **state) {
        Fixture *t = *state;
        fake_api_add_pod(t->f, pod("batch", UID2, NODE, "offline"));
        KubePod p = evictor_start(t, "batch");
        ColoError err = {};
        assert_int_equal(kube_evictor_evict(t->e, &p, "memory pressure: online PSI 42%", &err), 0);
        assert_int_equal(kube_evictor_evict(t->e, &p, "again", &err), -EALREADY);
        EvictCtx x = { .e = t->e, .uid = UID2, .state = KUBE_EVICTION_ACCEPTED, .event = true };
        assert_true(drive_evictor(t->c, t->e, &x, 5000));
        assert_int_equal(fake_api_terminating_count(t->f), 1);  /* for its grace period */

        FakeRequest r;
        assert_true(fake_api_get_request(t->f, "POST", "/api/v1/namespaces/default/pods/batch/eviction", 0, &r));
        json_t *body = json_loads(r.body, 0, NULL);
        assert_string_equal(json_string_value(json_object_get(body, "apiVersion")), "policy/v1");
        assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(body, "deleteOptions"),
                                                                              "preconditions"), "uid")), UID2);
        json_decref(body);
        fake_request_free(&r);

        assert_int_equal(fake_api_count_requests(t->f, "POST", "/api/v1/namespaces/default/events"), 1);
        assert_true(fake_api_get_request(t->f, "POST", "/api/v1/namespaces/default/events", 0, &r));
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
        assert_int_equal(kube_evictor_stats(t->e)->events_posted, 1);
}

static void test_eviction_never_for_online_pods(void **state) {
        Fixture *t = *state;
        fake_api_add_pod(t->f, pod("web", UID1, NODE, "online"));
        fake_api_add_pod(t->f, pod("plain", UID3, NODE, NULL));           /* no marker: online */
        KubePod web = evictor_start(t, "web"), plain = stored_pod(t->f, "plain");
        ColoError err = {};
        assert_int_equal(kube_evictor_evict(t->e, &web, "x", &err), -EPERM);
        assert_non_null(strstr(err.msg, "not offline"));
        assert_int_equal(kube_evictor_evict(t->e, &plain, "x", &err), -EPERM);
        /* A caller that mislabels the pod does not get past the pod's own markers either:
         * an invalid colo.io/class value keeps the pod online. */
        fake_api_annotate_pod(t->f, "default", "web", "colo.io/class", "offline-ish");
        web = stored_pod(t->f, "web");
        assert_int_equal(kube_evictor_evict(t->e, &web, "x", &err), -EPERM);
        drive(t->c, NULL, NULL, NULL, 100);
        assert_int_equal(fake_api_count_requests(t->f, "POST", NULL), 0);
        assert_int_equal(kube_evictor_count(t->e), 0);
}

static void test_eviction_blocked_by_pdb_is_retried(void **state) {
        Fixture *t = *state;
        fake_api_add_pod(t->f, pod("batch", UID2, NODE, "offline"));
        fake_api_fail_evictions(t->f, 429, 2);
        KubePod p = evictor_start(t, "batch");
        ColoError err = {};
        assert_int_equal(kube_evictor_evict(t->e, &p, "over capacity", &err), 0);
        EvictCtx x = { .e = t->e, .uid = UID2, .state = KUBE_EVICTION_ACCEPTED, .event = true };
        assert_true(drive_evictor(t->c, t->e, &x, 5000));
        const KubeEviction *ev = kube_evictor_find(t->e, UID2);
        assert_int_equal(ev->blocked, 2);
        assert_int_equal(ev->attempts, 3);
        assert_int_equal(kube_evictor_stats(t->e)->blocked, 2);
        assert_non_null(strstr(kube_evictor_stats(t->e)->last_error, "disruption budget"));
        assert_int_equal(fake_api_count_requests(t->f, "POST", "/api/v1/namespaces/default/events"), 1);
}

static void test_eviction_of_a_gone_pod(void **state) {
        Fixture *t = *state;
        fake_api_add_pod(t->f, pod("batch", UID2, NODE, "offline"));
        KubePod p = evictor_start(t, "batch");
        fake_api_delete_pod(t->f, "default", "batch");
        ColoError err = {};
        assert_int_equal(kube_evictor_evict(t->e, &p, "x", &err), 0);
        EvictCtx x = { .e = t->e, .uid = UID2, .state = KUBE_EVICTION_GONE, .event = false };
        assert_true(drive_evictor(t->c, t->e, &x, 5000));
        assert_int_equal(fake_api_count_requests(t->f, "POST", "/api/v1/namespaces/default/events"), 0);
        kube_evictor_cancel(t->e, UID2);
        assert_null(kube_evictor_find(t->e, UID2));
}

/* --- `colo agent` in Kubernetes mode, end to end --- */

/* The end-to-end node (directory, fake API server, agent) of k8s-node.h, shared with test-k8s-evict. */
typedef K8sNode Node;

static void write_at(const char *dir, const char *rel, const char *content) {
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", dir, rel);
        for (char *c = strchr(p + strlen(dir) + 1, '/'); c; c = strchr(c + 1, '/')) {
                *c = '\0';
                (void) mkdir(p, 0755);
                *c = '/';
        }
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

static char *read_at(const char *dir, const char *rel) {
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", dir, rel);
        char *text = NULL;
        size_t size;
        if (read_full_file(p, 1 << 20, &text, &size, NULL) < 0)
                return NULL;
        return text;
}

/* A cgroup v2 directory as the kernel shows it, with every knob colo may write still empty, so
 * a test sees exactly what was written. */
static void fake_cgroup(const char *dir, const char *path, uint64_t cpu_usec) {
        static const char *const knobs[] = { "cpu.max", "cpu.weight", "cpu.idle", "memory.low", "memory.min",
                                             "memory.high", "memory.swap.max" };
        char rel[512], v[256];
        snprintf(v, sizeof(v), "usage_usec %llu\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\n"
                               "throttled_usec 0\n", (unsigned long long) cpu_usec);
#define W(file, content) (snprintf(rel, sizeof(rel), "fs/%s/%s", path, file), write_at(dir, rel, content))
        W("cpu.stat", v);
        W("memory.current", "104857600\n");
        W("memory.max", "max\n");
        W("memory.stat", "anon 104857600\nfile 0\ninactive_file 0\n");
        W("memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
        W("cgroup.procs", "");
        W("cgroup.controllers", "cpuset cpu io memory pids\n");
        W("cgroup.subtree_control", "cpuset cpu io memory pids\n");
        for (size_t i = 0; i < ELEMENTSOF(knobs); i++)
                W(knobs[i], "");
#undef W
}

static bool file_is(const Node *n, const char *rel, const char *want) {
        _cleanup_free_ char *text = read_at(n->dir, rel);
        return text && strcmp(text, want) == 0;
}

static bool file_starts_with(const Node *n, const char *rel, const char *want) {
        _cleanup_free_ char *text = read_at(n->dir, rel);
        return text && strncmp(text, want, strlen(want)) == 0;
}

typedef struct FileCond {
        const Node *n;
        const char *rel, *want;
        bool prefix;
} FileCond;

static bool file_cond(FakeApi *f, void *userdata) {
        FileCond *c = userdata;
        (void) f;
        return c->prefix ? file_starts_with(c->n, c->rel, c->want) : file_is(c->n, c->rel, c->want);
}

static bool file_nonempty(FakeApi *f, void *userdata) {
        FileCond *c = userdata;
        (void) f;
        _cleanup_free_ char *text = read_at(c->n->dir, c->rel);
        return text && text[0];
}

static bool wait_file(const Node *n, const char *rel, const char *want, bool prefix) {
        FileCond c = { n, rel, want, prefix };
        return fake_api_wait_for(n->api, file_cond, &c, 10000);
}

static bool node_advertised(FakeApi *f, void *userdata) {
        (void) userdata;
        json_t *node = fake_api_get_node(f, NODE);
        json_t *alloc = json_object_get(json_object_get(node, "status"), "allocatable");
        const char *cpu = json_string_value(json_object_get(alloc, "colo.io/offline-cpu"));
        bool ok = cpu && atoll(cpu) > 0 && json_object_get(alloc, "colo.io/offline-memory");
        json_decref(node);
        return ok;
}

typedef struct CountCond {
        const char *method, *prefix;
        size_t n;
} CountCond;

static bool count_cond(FakeApi *f, void *userdata) {
        CountCond *c = userdata;
        return fake_api_count_requests(f, c->method, c->prefix) >= c->n;
}

static bool pod_gone(FakeApi *f, void *userdata) {
        json_t *p = fake_api_get_pod(f, "default", userdata);
        json_decref(p);
        return !p;
}

static void dump_agent_log(const Node *n) {
        _cleanup_free_ char *log = read_at(n->dir, "agent.log");
        fprintf(stderr, "--- agent log ---\n%s--- end ---\n", log ? log : "(none)");
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st, (void) flag, (void) ftw;
        return remove(p);
}

static void stop_agent(Node *n) {
        if (n->agent <= 0)
                return;
        kill(n->agent, SIGTERM);
        int status = 0;
        for (int i = 0; i < 500 && waitpid(n->agent, &status, WNOHANG) == 0; i++)
                usleep(10000);
        if (waitpid(n->agent, &status, WNOHANG) == 0) {
                kill(n->agent, SIGKILL);
                waitpid(n->agent, &status, 0);
                fail_msg("the agent did not exit on SIGTERM");
        }
        n->agent = 0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                dump_agent_log(n);
                fail_msg("the agent exited with status %d", status);
        }
}

static json_t *pod_with(const char *name, const char *uid, const char *cls, const char *tier, const char *qos,
                        int64_t cpu_milli) {
        FakePod p = {
                .name = name, .namespace_ = "default", .uid = uid, .node = NODE, .qos_class = qos,
                .class_annotation = cls, .tier_annotation = tier, .container_id = CID1,
                .offline_cpu_milli = cpu_milli, .offline_memory = cpu_milli > 0 ? 64 << 20 : 0,
        };
        return fake_pod_json(&p);
}

/* Starts the Kubernetes-mode agent against a fresh fake API server and a scratch kubelet tree
 * (cgroupfs driver, cgroup v2) with three pods, two with cgroups. metrics_port 0: no metrics. */
static void start_k8s_node(Node *n, int metrics_port) {
        k8s_node_init(n, NODE, "2", "24Gi");
        k8s_node_add_pod_cgroup(n, "burstable", UID1);
        k8s_node_add_pod_cgroup(n, "besteffort", UID2);
        k8s_node_add_pod_cgroup(n, "besteffort", UID3);
        fake_api_add_pod(n->api, pod_with("web", UID1, "online", NULL, "Burstable", 0));
        fake_api_add_pod(n->api, pod_with("batch", UID2, "offline", "batch", "BestEffort", 500));
        fake_api_add_pod(n->api, pod_with("late", UID4, "offline", "batch", "BestEffort", 100));     /* no cgroup yet */
        k8s_node_start_agent(n, colo_bin, NODE, "  evict_grace_period: 1s\n", metrics_port);
}

static void test_agent_in_kubernetes_mode(void **state) {
        (void) state;
        if (!colo_bin)
                skip();
        Node n = {};
        start_k8s_node(&n, 0);

#define EXPECT(cond)                                              \
        do {                                                      \
                if (!(cond)) {                                    \
                        dump_agent_log(&n);                       \
                        stop_agent(&n);                           \
                        fail_msg("%s", #cond);                    \
                }                                                 \
        } while (0)

        /* The offline parent gets the budget; kubelet's own knobs stay untouched. */
        EXPECT(fake_api_wait_for(n.api, file_nonempty, (void *) (FileCond[]) { { &n, "fs/kubepods/besteffort/cpu.max" } },
                                 10000));
        _cleanup_free_ char *quota = read_at(n.dir, "fs/kubepods/besteffort/cpu.max");
        EXPECT(quota && strstr(quota, " 100000"));
        EXPECT(file_is(&n, "fs/kubepods/besteffort/cpu.weight", ""));
        EXPECT(file_is(&n, "fs/kubepods/cpu.weight", ""));
        EXPECT(file_is(&n, "fs/kubepods/cpu.max", ""));
        EXPECT(file_is(&n, "fs/kubepods/burstable/cpu.weight", ""));
        EXPECT(wait_file(&n, "fs/kubepods/besteffort/pod" UID2 "/cpu.weight", "100", false));    /* batch tier */
        EXPECT(file_is(&n, "fs/kubepods/burstable/pod" UID1 "/cpu.weight", ""));                 /* kubelet's */
        EXPECT(wait_file(&n, "fs/kubepods/burstable/pod" UID1 "/memory.low", "max", false));     /* protected */
        EXPECT(file_starts_with(&n, "fs/kubepods/besteffort/pod" UID2 "/memory.low", "0"));
        /* The advertised capacity and the annotation reach the Node. */
        EXPECT(fake_api_wait_for(n.api, node_advertised, NULL, 10000));
        FakeRequest r;
        EXPECT(fake_api_get_request(n.api, "PATCH", "/api/v1/nodes/" NODE "/status", 0, &r));
        EXPECT(strcmp(r.content_type, "application/merge-patch+json") == 0 && r.status == 200);
        fake_request_free(&r);
        CountCond ann = { "PATCH", "/api/v1/nodes/" NODE, 2 };
        EXPECT(fake_api_wait_for(n.api, count_cond, &ann, 10000));

        /* A best-effort pod asking for far more than is advertised is evicted, lowest tier first,
         * with an Event; the batch pod and the online pod stay. */
        fake_api_add_pod(n.api, pod_with("be-job", UID3, "offline", "best-effort", "BestEffort", 1000000));
        EXPECT(fake_api_wait_for(n.api, pod_gone, (void *) "be-job", 15000));
        CountCond ev = { "POST", "/api/v1/namespaces/default/events", 1 };
        EXPECT(fake_api_wait_for(n.api, count_cond, &ev, 10000));
        EXPECT(fake_api_get_request(n.api, "POST", "/api/v1/namespaces/default/events", 0, &r));
        EXPECT(strstr(r.body, "ColoEvicted") && strstr(r.body, UID3) && strstr(r.body, "lowest tier first"));
        fake_request_free(&r);
        EXPECT(fake_api_count_requests(n.api, "POST", "/api/v1/namespaces/default/pods/web/") == 0);
        EXPECT(fake_api_count_requests(n.api, "POST", "/api/v1/namespaces/default/pods/batch/") == 0);
        json_t *still = fake_api_get_pod(n.api, "default", "batch");
        EXPECT(still != NULL);
        json_decref(still);

        /* The API server goes away: the agent keeps enforcing with the pods it knows. The cgroup
         * of "late" (known from the list) appears meanwhile and gets its offline knobs. */
        fake_api_set_unreachable(n.api, true);
        usleep(500 * 1000);
        fake_cgroup(n.dir, "kubepods/besteffort/pod" UID4, 0);
        EXPECT(wait_file(&n, "fs/kubepods/besteffort/pod" UID4 "/cpu.weight", "100", false));
        _cleanup_free_ char *st1 = read_at(n.dir, "state/status.json");
        _cleanup_free_ char *st2 = NULL;
        /* Still ticking: the status file changes (within 600 ms, times the scale in the VM). */
        for (uint64_t waited = 0; waited < 600 * timeout_scale(); waited += 100) {
                usleep(100 * 1000);
                free(st2);
                st2 = read_at(n.dir, "state/status.json");
                if (waited >= 500 && st1 && st2 && strcmp(st1, st2) != 0)
                        break;
        }
        EXPECT(st1 && st2 && strcmp(st1, st2) != 0);
        EXPECT(strstr(st2, UID4));

        /* Back: re-classifying a pod by its annotation changes its treatment (both ways). */
        fake_api_set_unreachable(n.api, false);
        fake_api_annotate_pod(n.api, "default", "batch", "colo.io/class", "online");
        EXPECT(wait_file(&n, "fs/kubepods/besteffort/pod" UID2 "/memory.low", "max", true));
        fake_api_annotate_pod(n.api, "default", "batch", "colo.io/class", "offline");
        EXPECT(wait_file(&n, "fs/kubepods/besteffort/pod" UID2 "/memory.low", "0", true));

        stop_agent(&n);
        if (getenv("COLO_TEST_VERBOSE"))
                dump_agent_log(&n);
        _cleanup_free_ char *log = read_at(n.dir, "agent.log");
        EXPECT(log && strstr(log, "unreachable") && strstr(log, "re-classified"));
#undef EXPECT
        fake_api_stop(n.api);
        nftw(n.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The Kubernetes-mode agent, scraped by a real Prometheus: the same checks as in standalone mode
 * (tests/integration/prometheus-scrape.sh), with the pods as workloads, named by their UIDs. */
static void test_agent_in_kubernetes_mode_scraped_by_prometheus(void **state) {
        (void) state;
        if (!colo_bin || !scrape_script || !dashboard_json)
                skip();
        Node n = {};
        int port = k8s_node_free_port();
        start_k8s_node(&n, port);
        if (!fake_api_wait_for(n.api, node_advertised, NULL, 10000)) {
                dump_agent_log(&n);
                stop_agent(&n);
                fail_msg("the agent did not advertise the node's capacity");
        }
        char port_text[16];
        snprintf(port_text, sizeof(port_text), "%d", port);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                execl(scrape_script, scrape_script, port_text, dashboard_json, "online/normal/" UID1,
                      "offline/batch/" UID2, (char *) NULL);
                _exit(127);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        stop_agent(&n);
        fake_api_stop(n.api);
        nftw(n.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* --- TLS, client certificates and tokens --- */

typedef struct Sync {
        bool done;
        long status;
        int error;
        char message[256];
} Sync;

static void on_sync_done(void *userdata, const KubeResponse *resp) {
        Sync *x = userdata;
        x->done = true;
        x->status = resp->status;
        x->error = resp->error;
        snprintf(x->message, sizeof(x->message), "%s", resp->message);
}

static bool sync_done(void *userdata) {
        return ((Sync *) userdata)->done;
}

/* One GET of the pod list with cfg, driven to completion. */
static Sync get_pods(const KubeConfig *cfg) {
        KubeClient *c = NULL;
        ColoError err = {};
        Sync x = {};
        if (kube_client_new(cfg, &c, &err) < 0)
                fail_msg("kube_client_new: %s", err.msg);
        KubeRequest req = { .method = "GET", .path = "/api/v1/pods?fieldSelector=spec.nodeName%3D" NODE,
                            .timeout_usec = 5 * USEC_PER_SEC * timeout_scale(), .on_done = on_sync_done, .userdata = &x };
        if (kube_client_start(c, &req, NULL, &err) < 0)
                fail_msg("kube_client_start: %s", err.msg);
        assert_true(drive(c, NULL, sync_done, &x, 8000));
        kube_client_free(c);
        return x;
}

static char *tls_dir;

/* Removes the certificates' directory of make_certificates(). */
static void remove_certificates(void) {
        if (!tls_dir)
                return;
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tls_dir);
        (void) system(cmd);
        free(tls_dir);
        tls_dir = NULL;
}

/* A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl(1). */
static bool make_certificates(void) {
        tls_dir = strdup("/tmp/colo-test-k8s-tls-XXXXXX");
        if (!mkdtemp(tls_dir))
                return false;
        char cmd[4096];
        snprintf(cmd, sizeof(cmd),
                 "(cd %s && printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > srv.ext && "
                 "printf 'extendedKeyUsage=clientAuth\\n' > cli.ext && "
                 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt "
                 "-subj /CN=colo-test-ca -days 2 && "
                 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other.key "
                 "-out other.crt -subj /CN=colo-other-ca -days 2 && "
                 "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key -out srv.csr "
                 "-subj /CN=127.0.0.1 && "
                 "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 2 "
                 "-extfile srv.ext && "
                 "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout cli.key -out cli.csr "
                 "-subj /CN=colo-agent && "
                 "openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out cli.crt -days 2 "
                 "-extfile cli.ext) >/dev/null 2>&1",
                 tls_dir);
        if (system(cmd) == 0)
                return true;
        remove_certificates();
        return false;
}

/* Each TLS test makes its own certificates (openssl and base64 present) and removes them: none
 * depends on another having run first. */
static bool have_certificate_tools(void) {
        return system("command -v openssl >/dev/null 2>&1 && command -v base64 >/dev/null 2>&1") == 0;
}

static char *tls_file(const char *name) {
        char *t = read_at(tls_dir, name);
        if (!t)
                fail_msg("no %s/%s", tls_dir, name);
        return t;
}

static char *b64(const char *text) {
        char cmd[512], path[256];
        snprintf(path, sizeof(path), "%s/b64.in", tls_dir);
        write_at(tls_dir, "b64.in", text);
        snprintf(cmd, sizeof(cmd), "base64 -w0 < %s > %s/b64.out", path, tls_dir);
        if (system(cmd) != 0)
                fail_msg("base64 failed");
        return tls_file("b64.out");
}

static void test_tls_kubeconfig_with_client_certificate(void **state) {
        (void) state;
        if (!have_certificate_tools() || !make_certificates())
                skip();
        _cleanup_free_ char *ca = tls_file("ca.crt"), *other = tls_file("other.crt"), *srv_crt = tls_file("srv.crt"),
                            *srv_key = tls_file("srv.key"), *cli_crt = tls_file("cli.crt"), *cli_key = tls_file("cli.key");
        FakeApiOptions o = { .tls_cert_pem = srv_crt, .tls_key_pem = srv_key, .client_ca_pem = ca, .token = "tls-token" };
        FakeApi *f = fake_api_start(&o);
        assert_non_null(f);
        fake_api_add_pod(f, pod("a", UID1, NODE, NULL));
        _cleanup_free_ char *ca64 = b64(ca), *other64 = b64(other), *crt64 = b64(cli_crt), *key64 = b64(cli_key);

        static const char tmpl[] =
                "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                "clusters:\n- name: k\n  cluster:\n    server: %s\n    certificate-authority-data: %s\n%s"
                "contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
                "users:\n- name: u\n  user:\n    client-certificate-data: %s\n    client-key-data: %s\n    token: %s\n";
        struct {
                const char *ca, *extra, *token;
                bool with_cert;
                long status;
                int error;
        } cases[] = {
                { ca64, "", "tls-token", true, 200, 0 },                        /* everything right */
                { other64, "", "tls-token", true, 0, -EPROTO },                 /* a CA that did not sign the server */
                { other64, "    insecure-skip-tls-verify: true\n", "tls-token", true, 200, 0 },
                { ca64, "", "wrong-token", true, 401, 0 },
                { ca64, "", "tls-token", false, 0, 0 },                         /* no client certificate: refused */
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char text[16384];
                snprintf(text, sizeof(text), tmpl, fake_api_url(f), cases[i].ca, cases[i].extra,
                         cases[i].with_cert ? crt64 : "", cases[i].with_cert ? key64 : "", cases[i].token);
                if (!cases[i].with_cert) {      /* drop the two certificate lines */
                        char *p = strstr(text, "    client-certificate-data");
                        char *q = strstr(text, "    token:");
                        memmove(p, q, strlen(q) + 1);
                }
                KubeConfig *cfg = NULL;
                ColoError err = {};
                if (kube_config_parse_kubeconfig(text, strlen(text), "/tmp/kc", NULL, &cfg, &err) < 0)
                        fail_msg("case %zu: %s", i, err.msg);
                Sync x = get_pods(cfg);
                kube_config_free(cfg);
                if (!cases[i].with_cert) {
                        /* The server asks for a certificate: the handshake fails or the server says 401. */
                        if (!(x.error < 0 || x.status == 401))
                                fail_msg("case %zu: expected a refusal, got %ld / %d", i, x.status, x.error);
                        continue;
                }
                if (x.status != cases[i].status || x.error != cases[i].error)
                        fail_msg("case %zu: got HTTP %ld error %d (%s)", i, x.status, x.error, x.message);
        }
        fake_api_stop(f);
        remove_certificates();
}

static void test_in_cluster_token_is_reread(void **state) {
        (void) state;
        if (!have_certificate_tools() || !make_certificates())
                skip();
        _cleanup_free_ char *ca = tls_file("ca.crt"), *srv_crt = tls_file("srv.crt"), *srv_key = tls_file("srv.key");
        FakeApiOptions o = { .tls_cert_pem = srv_crt, .tls_key_pem = srv_key, .token = "rotated-token" };
        FakeApi *f = fake_api_start(&o);
        assert_non_null(f);
        char sa[256], port[16];
        snprintf(sa, sizeof(sa), "%s/sa", tls_dir);
        (void) mkdir(sa, 0755);
        write_at(sa, "ca.crt", ca);
        write_at(sa, "namespace", "colo-system\n");
        write_at(sa, "token", "old-token\n");
        snprintf(port, sizeof(port), "%u", fake_api_port(f));
        KubeInClusterOptions io = { .dir = sa, .host = "127.0.0.1", .port = port };
        KubeConfig *cfg = NULL;
        ColoError err = {};
        assert_int_equal(kube_config_from_cluster(&io, &cfg, &err), 0);
        Sync x = get_pods(cfg);
        assert_int_equal(x.status, 401);        /* the old token */
        write_at(sa, "token", "rotated-token\n");       /* the kubelet rotates the projected token */
        x = get_pods(cfg);
        assert_int_equal(x.status, 200);
        kube_config_free(cfg);
        fake_api_stop(f);
        remove_certificates();
}

int main(int argc, char **argv) {
        colo_bin = argc > 1 ? argv[1] : NULL;
        scrape_script = argc > 3 ? argv[2] : NULL;
        dashboard_json = argc > 3 ? argv[3] : NULL;
        const struct CMUnitTest tests[] = {
                FIXTURE_TEST(test_list_then_watch_follows_this_node),
                cmocka_unit_test(test_real_shaped_pods_are_read),
                FIXTURE_TEST(test_list_pages_with_continue),
                FIXTURE_TEST(test_bookmarks_advance_the_resource_version),
                FIXTURE_TEST(test_gone_event_relists),
                FIXTURE_TEST(test_gone_status_relists),
                FIXTURE_TEST(test_reconnect_with_backoff_keeps_the_pods),
                FIXTURE_TEST(test_dropped_stream_resumes),
                FIXTURE_TEST(test_watch_ended_by_server_resumes_without_relist),
                FIXTURE_TEST(test_failed_list_is_retried),
                cmocka_unit_test(test_backoff_grows_and_is_capped),
                FIXTURE_TEST(test_node_status_hysteresis_interval_and_decay),
                FIXTURE_TEST(test_node_status_retries_when_unreachable),
                FIXTURE_TEST(test_eviction_records_an_event),
                FIXTURE_TEST(test_eviction_never_for_online_pods),
                FIXTURE_TEST(test_eviction_blocked_by_pdb_is_retried),
                FIXTURE_TEST(test_eviction_of_a_gone_pod),
                cmocka_unit_test(test_agent_in_kubernetes_mode),
                cmocka_unit_test(test_agent_in_kubernetes_mode_scraped_by_prometheus),
                cmocka_unit_test(test_tls_kubeconfig_with_client_certificate),
                cmocka_unit_test(test_in_cluster_token_is_reread),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
