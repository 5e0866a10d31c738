/* Evictions against the fake API server answering as the real one does
 * (pkg/registry/core/pod/storage/eviction.go): a 409 is re-read, not taken for "gone", and the
 * eviction retried while the same pod is there; a replacement of the same name is never
 * evicted; a 429 is retried on the backoff schedule or after the server's retryAfterSeconds; an
 * evicted pod stays Terminating, listed and watched, until it is deleted; periodic bookmarks do
 * not disturb the pod set; the fake's refusals are shaped as the real server's Status objects. The
 * agent end to end counts a budget's refusal on /metrics and keeps a Terminating pod until it is
 * deleted. The evictor's clock is a fake one where a test asserts when a retry is
 * due, so nothing is timed. Needs neither root nor a cluster. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake-apiserver.h"
#include "k8s-node.h"
#include "kube/k8s-evict.h"
#include "kube/kubeclient.h"
#include "kube/pod-watch.h"
#include "util/fileio.h"
#include "util/macro.h"

#define NODE "node-a"
#define UID1 "11111111-1111-4111-8111-111111111111"
#define UID2 "22222222-2222-4222-8222-222222222222"
#define UID3 "33333333-3333-4333-8333-333333333333"
#define CID1 "containerd://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define EVICTION_PATH "/api/v1/namespaces/default/pods/batch/eviction"
#define POD_PATH "/api/v1/namespaces/default/pods/batch"

static const char *colo_bin;

/* --- helpers --- */

typedef struct Fixture {
        FakeApi *f;
        KubeClient *c;
        KubeEvictor *e;
        PodWatch *w;
        char answers[256];              /* what the evictor made of each answer: "recheck,retry,accept," */
} Fixture;

static int fixture_setup(void **state) {
        Fixture *t = calloc(1, sizeof(*t));
        assert_non_null(t);
        t->f = fake_api_start(NULL);
        assert_non_null(t->f);
        KubeConfig cfg = { .server = (char *) fake_api_url(t->f) };
        ColoError err = {};
        if (kube_client_new(&cfg, &t->c, &err) < 0)
                fail_msg("kube_client_new: %s", err.msg);
        *state = t;
        return 0;
}

static int fixture_teardown(void **state) {
        Fixture *t = *state;
        pod_watch_free(t->w);
        kube_evictor_free(t->e);
        kube_client_free(t->c);
        fake_api_stop(t->f);
        free(t);
        return 0;
}

#define FIXTURE_TEST(test) cmocka_unit_test_setup_teardown(test, fixture_setup, fixture_teardown)

static json_t *pod(const char *name, const char *uid, const char *cls) {
        bool offline = cls && strcmp(cls, "offline") == 0;
        FakePod p = {
                .name = name, .namespace_ = "default", .uid = uid, .node = NODE,
                .qos_class = offline ? "BestEffort" : "Burstable", .class_annotation = cls, .container_id = CID1,
                .offline_cpu_milli = offline ? 500 : 0, .offline_memory = offline ? 256 << 20 : 0,
        };
        return fake_pod_json(&p);
}

/* The pod as the agent last saw it. */
static KubePod stored_pod(FakeApi *f, const char *name) {
        json_t *j = fake_api_get_pod(f, "default", name);
        KubePod p;
        ColoError err = {};
        assert_non_null(j);
        assert_int_equal(kube_pod_from_json(j, &p, &err), 0);
        json_decref(j);
        return p;
}

static uint64_t fake_now_usec;

static uint64_t fake_clock(void) {
        return fake_now_usec;
}

static void on_answer(void *userdata, const KubeEviction *ev, KubeEvictAction action) {
        Fixture *t = userdata;
        size_t n = strlen(t->answers);
        (void) ev;
        snprintf(t->answers + n, sizeof(t->answers) - n, "%s,", kube_evict_action_to_string(action));
}

/* An evictor with grace_period_seconds (< 0: the pod's own), retries after 1 s, 2 s, 4 s, ...
 * and, with a fake clock, time that moves only when the test says. */
static void evictor_start(Fixture *t, int64_t grace_period_seconds, bool fake_time) {
        fake_now_usec = 1000 * USEC_PER_SEC;
        KubeEvictorOptions o = { .node_name = NODE, .grace_period_seconds = grace_period_seconds,
                                 .retry_initial_usec = fake_time ? USEC_PER_SEC : 20 * USEC_PER_MSEC,
                                 .retry_max_usec = fake_time ? 4 * USEC_PER_SEC : 100 * USEC_PER_MSEC,
                                 .now = fake_time ? fake_clock : NULL, .on_answer = on_answer, .userdata = t };
        ColoError err = {};
        assert_int_equal(kube_evictor_new(t->c, &o, &t->e, &err), 0);
}

typedef bool (*Condition)(Fixture *t, const void *userdata);

/* Drives the client, the evictor's retries and the watch until cond holds or timeout_ms passes. */
static bool drive(Fixture *t, Condition cond, const void *userdata, int timeout_ms) {
        uint64_t end = now_monotonic_usec() + (uint64_t) timeout_ms * USEC_PER_MSEC;
        for (;;) {
                if (cond && cond(t, userdata))
                        return true;
                if (now_monotonic_usec() >= end)
                        return false;
                (void) kube_client_wait(t->c, 10 * USEC_PER_MSEC);
                if (t->e)
                        kube_evictor_dispatch(t->e);
                if (t->w)
                        pod_watch_dispatch(t->w);
        }
}

typedef struct EvictionIs {
        const char *uid;
        KubeEvictionState state;
        unsigned blocked;
} EvictionIs;

static bool eviction_is(Fixture *t, const void *userdata) {
        const EvictionIs *x = userdata;
        const KubeEviction *ev = kube_evictor_find(t->e, x->uid);
        return ev && ev->state == x->state && ev->blocked >= x->blocked;
}

static bool evict_and_reach(Fixture *t, const KubePod *p, KubeEvictionState state) {
        ColoError err = {};
        assert_int_equal(kube_evictor_evict(t->e, p, "memory pressure", &err), 0);
        EvictionIs x = { .uid = p->uid, .state = state };
        return drive(t, eviction_is, &x, 5000);
}

static bool has_deletion_timestamp(FakeApi *f, const char *name) {
        json_t *p = fake_api_get_pod(f, "default", name);
        json_t *meta = json_object_get(p, "metadata");
        bool yes = json_is_string(json_object_get(meta, "deletionTimestamp")) &&
                   json_is_integer(json_object_get(meta, "deletionGracePeriodSeconds"));
        json_decref(p);
        return yes;
}

static const char *pod_uid(FakeApi *f, const char *name, char *buf, size_t size) {
        json_t *p = fake_api_get_pod(f, "default", name);
        snprintf(buf, size, "%s", json_string_value(json_object_get(json_object_get(p, "metadata"), "uid")) ?: "");
        json_decref(p);
        return buf;
}

/* Every eviction sent so far was preconditioned on uid. */
static void assert_evictions_preconditioned(FakeApi *f, const char *uid) {
        size_t n = fake_api_count_requests(f, "POST", EVICTION_PATH);
        assert_true(n > 0);
        for (size_t i = 0; i < n; i++) {
                FakeRequest r;
                assert_true(fake_api_get_request(f, "POST", EVICTION_PATH, i, &r));
                json_t *body = json_loads(r.body, 0, NULL);
                json_t *pre = json_object_get(json_object_get(body, "deleteOptions"), "preconditions");
                assert_string_equal(json_string_value(json_object_get(pre, "uid")), uid);
                json_decref(body);
                fake_request_free(&r);
        }
}

static long eviction_status(FakeApi *f, size_t i) {
        FakeRequest r;
        assert_true(fake_api_get_request(f, "POST", EVICTION_PATH, i, &r));
        fake_request_free(&r);
        return r.status;
}

/* --- 409 --- */

/* The budget's status update kept conflicting: the same pod is still there, so the eviction is
 * retried until the server takes it. */
static void test_conflict_with_the_same_uid_is_reread_and_retried(void **state) {
        Fixture *t = *state;
        fake_api_add_pod(t->f, pod("batch", UID2, "offline"));
        fake_api_refuse_evictions(t->f, FAKE_EVICT_PDB_CONFLICT, 2);
        evictor_start(t, 5, false);
        KubePod p = stored_pod(t->f, "batch");
        assert_true(evict_and_reach(t, &p, KUBE_EVICTION_ACCEPTED));

        assert_int_equal(fake_api_count_requests(t->f, "POST", EVICTION_PATH), 3);
        assert_int_equal(eviction_status(t->f, 0), 409);
        assert_int_equal(eviction_status(t->f, 1), 409);
        assert_int_equal(eviction_status(t->f, 2), 201);
        assert_int_equal(fake_api_count_requests(t->f, "GET", POD_PATH), 2);   /* read back after each 409 */
        assert_evictions_preconditioned(t->f, UID2);
        assert_true(has_deletion_timestamp(t->f, "batch"));
        assert_int_equal(fake_api_terminating_count(t->f), 1);
        assert_int_equal(kube_evictor_stats(t->e)->accepted, 1);
        assert_int_equal(kube_evictor_stats(t->e)->gone, 0);
        assert_int_equal(kube_evictor_stats(t->e)->conflicts, 2);
        assert_int_equal(kube_evictor_find(t->e, UID2)->conflicts, 2);
        assert_string_equal(t->answers, "recheck,retry,recheck,retry,accept,");
}

/* The pod was replaced by a new one of the same name: the UID precondition fails with 409, the
 * re-read shows another UID, and the eviction ends without touching the replacement. */
static void test_conflict_for_a_replaced_pod_spares_the_replacement(void **state) {
        Fixture *t = *state;
        fake_api_add_pod(t->f, pod("batch", UID2, "offline"));
        evictor_start(t, 5, false);
        KubePod old = stored_pod(t->f, "batch");
        fake_api_delete_pod(t->f, "default", "batch");
        fake_api_add_pod(t->f, pod("batch", UID3, "offline"));
        assert_true(evict_and_reach(t, &old, KUBE_EVICTION_GONE));

        assert_int_equal(fake_api_count_requests(t->f, "POST", EVICTION_PATH), 1);
        assert_int_equal(eviction_status(t->f, 0), 409);
        assert_int_equal(fake_api_count_requests(t->f, "GET", POD_PATH), 1);
        assert_evictions_preconditioned(t->f, UID2);
        char uid[64];
        assert_string_equal(pod_uid(t->f, "batch", uid, sizeof(uid)), UID3);
        assert_false(has_deletion_timestamp(t->f, "batch"));
        assert_int_equal(fake_api_terminating_count(t->f), 0);
        /* Nothing more is sent for it, however long the caller keeps driving. */
        drive(t, NULL, NULL, 200);
        assert_int_equal(fake_api_count_requests(t->f, "POST", EVICTION_PATH), 1);
        assert_int_equal(kube_evictor_stats(t->e)->accepted, 0);
        assert_true(kube_evictor_find(t->e, UID2)->replaced);
        assert_int_equal(kube_evictor_stats(t->e)->replaced, 1);
        assert_int_equal(kube_evictor_stats(t->e)->gone, 0);
        assert_string_equal(t->answers, "recheck,gone,");
}

/* --- 429 --- */

typedef struct PostsAre {
        size_t n;
} PostsAre;

static bool posts_are(Fixture *t, const void *userdata) {
        const PostsAre *x = userdata;
        return fake_api_count_requests(t->f, "POST", "/api/v1/namespaces/default/pods/") >= x->n;
}

/* A budget at 0 answers 429 without a retry-after: the schedule (1 s, then 2 s) applies, and
 * nothing is sent before the retry is due; a budget the disruption controller has not observed
 * yet answers retryAfterSeconds 10, which is honoured. Every refusal is counted. */
static void test_pdb_refusal_is_retried_on_the_clock_and_counted(void **state) {
        Fixture *t = *state;
        fake_api_add_pod(t->f, pod("batch", UID2, "offline"));
        fake_api_refuse_evictions(t->f, FAKE_EVICT_PDB_BLOCKED, 2);
        evictor_start(t, 5, true);
        KubePod p = stored_pod(t->f, "batch");
        ColoError err = {};
        uint64_t t0 = fake_now_usec;
        assert_int_equal(kube_evictor_evict(t->e, &p, "over capacity", &err), 0);
        EvictionIs blocked1 = { UID2, KUBE_EVICTION_PENDING, 1 };
        assert_true(drive(t, eviction_is, &blocked1, 5000));
        assert_int_equal(kube_evictor_next_wakeup(t->e), t0 + USEC_PER_SEC);
        drive(t, NULL, NULL, 100);              /* not due on the evictor's clock: nothing sent */
        assert_int_equal(fake_api_count_requests(t->f, "POST", EVICTION_PATH), 1);

        fake_now_usec += USEC_PER_SEC;
        EvictionIs blocked2 = { UID2, KUBE_EVICTION_PENDING, 2 };
        assert_true(drive(t, eviction_is, &blocked2, 5000));
        assert_int_equal(kube_evictor_next_wakeup(t->e), fake_now_usec + 2 * USEC_PER_SEC);
        fake_now_usec += 2 * USEC_PER_SEC;
        EvictionIs accepted = { UID2, KUBE_EVICTION_ACCEPTED, 2 };
        assert_true(drive(t, eviction_is, &accepted, 5000));
        assert_int_equal(kube_evictor_find(t->e, UID2)->attempts, 3);
        assert_non_null(strstr(kube_evictor_stats(t->e)->last_error, "disruption budget"));

        /* retryAfterSeconds: 10 (and Retry-After: 10) wins over the 1 s of the schedule. */
        fake_api_add_pod(t->f, pod("batch2", UID3, "offline"));
        fake_api_refuse_evictions(t->f, FAKE_EVICT_PDB_PROCESSING, 1);
        KubePod p2 = stored_pod(t->f, "batch2");
        assert_int_equal(kube_evictor_evict(t->e, &p2, "over capacity", &err), 0);
        EvictionIs blocked3 = { UID3, KUBE_EVICTION_PENDING, 1 };
        assert_true(drive(t, eviction_is, &blocked3, 5000));
        assert_int_equal(kube_evictor_find(t->e, UID3)->next_attempt_usec, fake_now_usec + 10 * USEC_PER_SEC);
        fake_now_usec += 9 * USEC_PER_SEC;
        drive(t, NULL, NULL, 100);
        PostsAre five = { 5 };
        assert_false(posts_are(t, &five));      /* still 3 for batch and 1 for batch2 */
        fake_now_usec += USEC_PER_SEC;
        EvictionIs accepted2 = { UID3, KUBE_EVICTION_ACCEPTED, 1 };
        assert_true(drive(t, eviction_is, &accepted2, 5000));
        assert_int_equal(kube_evictor_stats(t->e)->blocked, 3);
        assert_int_equal(kube_evictor_stats(t->e)->accepted, 2);
        assert_string_equal(t->answers, "blocked,blocked,accept,blocked,accept,");
}

/* --- Terminating and bookmarks, as the pod watch sees them --- */

static void watch_start(Fixture *t) {
        PodWatchOptions o = { .node_name = NODE, .backoff_initial_usec = 20 * USEC_PER_MSEC,
                              .backoff_max_usec = 200 * USEC_PER_MSEC, .seed = 42 };
        ColoError err = {};
        if (pod_watch_new(t->c, &o, NULL, NULL, &t->w, &err) < 0)
                fail_msg("pod_watch_new: %s", err.msg);
}

typedef struct PodIs {
        const char *uid;
        bool present, deleting;
        size_t n_pods;
} PodIs;

static bool pod_is(Fixture *t, const void *userdata) {
        const PodIs *x = userdata;
        size_t n;
        (void) pod_watch_pods(t->w, &n);
        const KubePod *p = pod_watch_find(t->w, x->uid);
        return pod_watch_stats(t->w)->state == POD_WATCH_WATCHING && n == x->n_pods && (p != NULL) == x->present &&
               (!p || p->deleting == x->deleting) && fake_api_open_watches(t->f) > 0;
}

typedef struct Relisted {
        uint64_t lists;
        const PodIs *then;
} Relisted;

static bool relisted_and(Fixture *t, const void *userdata) {
        const Relisted *x = userdata;
        return pod_watch_stats(t->w)->lists > x->lists && pod_is(t, x->then);
}

/* An evicted pod is Terminating for its grace period (the pod's own 30 s here): still listed and
 * watched, marked deleting, its eviction accepted; it leaves the pod set only when deleted. */
static void test_terminating_pod_stays_in_the_pod_set_until_deleted(void **state) {
        Fixture *t = *state;
        fake_api_add_pod(t->f, pod("web", UID1, "online"));
        fake_api_add_pod(t->f, pod("batch", UID2, "offline"));
        evictor_start(t, -1, false);
        watch_start(t);
        PodIs both = { .uid = UID2, .present = true, .n_pods = 2 };
        assert_true(drive(t, pod_is, &both, 5000));
        KubePod p = stored_pod(t->f, "batch");
        assert_true(evict_and_reach(t, &p, KUBE_EVICTION_ACCEPTED));

        PodIs terminating = { .uid = UID2, .present = true, .deleting = true, .n_pods = 2 };
        assert_true(drive(t, pod_is, &terminating, 5000));
        json_t *j = fake_api_get_pod(t->f, "default", "batch");
        assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "metadata"), "deletionGracePeriodSeconds")), 30);
        json_decref(j);
        drive(t, NULL, NULL, 300);              /* the grace period is far from over */
        assert_true(pod_is(t, &terminating));
        assert_int_equal(kube_evictor_find(t->e, UID2)->state, KUBE_EVICTION_ACCEPTED);
        /* A relist (history compacted) still brings it, Terminating. */
        fake_api_compact(t->f);
        fake_api_expire_watches(t->f);
        Relisted relisted = { .lists = pod_watch_stats(t->w)->lists, .then = &terminating };
        assert_true(drive(t, relisted_and, &relisted, 5000));

        assert_true(fake_api_finish_termination(t->f, "default", "batch"));
        PodIs gone = { .uid = UID2, .present = false, .n_pods = 1 };
        assert_true(drive(t, pod_is, &gone, 5000));
        assert_int_equal(fake_api_terminating_count(t->f), 0);
}

typedef struct BookmarksAre {
        uint64_t n;
        size_t n_pods;
} BookmarksAre;

static bool bookmarks_are(Fixture *t, const void *userdata) {
        const BookmarksAre *x = userdata;
        size_t n;
        (void) pod_watch_pods(t->w, &n);
        return pod_watch_stats(t->w)->bookmarks >= x->n && n == x->n_pods;
}

/* Periodic bookmarks move the watch's resourceVersion and nothing else: no pod added, dropped
 * or changed, no relist; a real change between them still arrives. */
static void test_periodic_bookmarks_leave_the_pod_set_alone(void **state) {
        Fixture *t = *state;
        fake_api_add_pod(t->f, pod("web", UID1, "online"));
        fake_api_add_pod(t->f, pod("batch", UID2, "offline"));
        watch_start(t);
        PodIs both = { .uid = UID2, .present = true, .n_pods = 2 };
        assert_true(drive(t, pod_is, &both, 5000));
        fake_api_set_bookmark_interval(t->f, 30);
        BookmarksAre some = { 5, 2 };
        assert_true(drive(t, bookmarks_are, &some, 10000));
        const PodWatchStats *s = pod_watch_stats(t->w);
        assert_int_equal(s->lists, 1);
        assert_int_equal(s->relists_gone, 0);
        assert_int_equal(pod_watch_find(t->w, UID2)->cls.workload_class, CLASS_OFFLINE);
        assert_false(pod_watch_find(t->w, UID2)->deleting);

        fake_api_add_pod(t->f, pod("late", UID3, "offline"));
        BookmarksAre more = { s->bookmarks + 3, 3 };
        assert_true(drive(t, bookmarks_are, &more, 10000));
        assert_non_null(pod_watch_find(t->w, UID3));
        assert_int_equal(pod_watch_stats(t->w)->lists, 1);
        char want[64];
        snprintf(want, sizeof(want), "%llu", (unsigned long long) fake_api_resource_version(t->f));
        assert_string_equal(pod_watch_stats(t->w)->resource_version, want);
        fake_api_set_bookmark_interval(t->f, 0);
}

/* The bookmark objects real servers send: a zero v1.Pod with only the resourceVersion set, as Go
 * marshals it before Kubernetes 1.34 (creationTimestamp null) and since (omitted). */
static void test_bookmark_shapes_of_real_servers(void **state) {
        (void) state;
        static const char *const lines[] = {
                "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
                "\"3845\",\"creationTimestamp\":null},\"spec\":{\"containers\":null},\"status\":{}}}",
                "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
                "\"3845\"},\"spec\":{\"containers\":null},\"status\":{}}}",
                "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
                "\"3845\"}}}",
        };
        for (size_t i = 0; i < ELEMENTSOF(lines); i++) {
                KubeWatchEvent *ev = calloc(1, sizeof(*ev));
                ColoError err = {};
                assert_non_null(ev);
                assert_int_equal(kube_watch_event_parse(lines[i], strlen(lines[i]), ev, &err), 0);
                assert_int_equal(ev->type, KUBE_WATCH_BOOKMARK);
                assert_string_equal(ev->resource_version, "3845");
                free(ev);
        }
}


/* --- the fake's answers, as the real server shapes them --- */

typedef struct Raw {
        bool done;
        long status;
        int64_t retry_after_sec;
        json_t *body;
} Raw;

static void on_raw(void *userdata, const KubeResponse *resp) {
        Raw *x = userdata;
        x->done = true;
        x->status = resp->status;
        x->retry_after_sec = resp->retry_after_sec;
        x->body = json_loadb(resp->body, resp->body_size, 0, NULL);
}

static bool raw_done(Fixture *t, const void *userdata) {
        (void) t;
        return ((const Raw *) userdata)->done;
}

/* POSTs an eviction of default/batch preconditioned on uid and waits for the answer. */
static Raw post_eviction(Fixture *t, const char *uid) {
        char body[512];
        snprintf(body, sizeof(body), "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"batch\","
                 "\"namespace\":\"default\"},\"deleteOptions\":{\"preconditions\":{\"uid\":\"%s\"}}}", uid);
        Raw x = {};
        KubeRequest req = { .method = "POST", .path = EVICTION_PATH, .content_type = "application/json", .body = body,
                            .body_size = strlen(body), .timeout_usec = 5 * USEC_PER_SEC, .on_done = on_raw, .userdata = &x };
        ColoError err = {};
        assert_int_equal(kube_client_start(t->c, &req, NULL, &err), 0);
        assert_true(drive(t, raw_done, &x, 5000));
        return x;
}

static const char *str_at(const json_t *o, const char *a, const char *b) {
        const json_t *v = json_object_get(o, a);
        return json_string_value(b ? json_object_get(v, b) : v) ?: "";
}

/* Each refusal is a metav1.Status as the apimachinery constructors build it: kind, apiVersion,
 * empty metadata, status Failure, message, reason (none for the multiple-budget 500), details
 * and code; retryAfterSeconds comes with a Retry-After header. A refusal is only asked of a
 * running pod: the UID precondition then answers for the replaced pod. */
static void test_refusals_are_shaped_as_the_real_servers(void **state) {
        Fixture *t = *state;
        fake_api_add_pod(t->f, pod("batch", UID2, "offline"));
        static const struct {
                FakeEvictRefusal why;
                long code;
                const char *reason, *details_kind, *message_part;
                int64_t retry_after;
        } cases[] = {
                { FAKE_EVICT_PDB_BLOCKED, 429, "TooManyRequests", "", "disruption budget", -1 },
                { FAKE_EVICT_PDB_PROCESSING, 429, "TooManyRequests", "", "disruption budget", 10 },
                { FAKE_EVICT_PDB_CONFLICT, 409, "Conflict", "poddisruptionbudgets", "the object has been modified", -1 },
                { FAKE_EVICT_MULTIPLE_PDBS, 500, "", "", "more than one PodDisruptionBudget", -1 },
                { FAKE_EVICT_INTERNAL_ERROR, 500, "InternalError", "", "Internal error occurred", -1 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                fake_api_refuse_evictions(t->f, cases[i].why, 1);
                Raw x = post_eviction(t, UID2);
                assert_int_equal(x.status, cases[i].code);
                assert_int_equal(x.retry_after_sec, cases[i].retry_after);
                assert_string_equal(str_at(x.body, "kind", NULL), "Status");
                assert_string_equal(str_at(x.body, "apiVersion", NULL), "v1");
                assert_true(json_is_object(json_object_get(x.body, "metadata")));
                assert_string_equal(str_at(x.body, "status", NULL), "Failure");
                assert_string_equal(str_at(x.body, "reason", NULL), cases[i].reason);
                assert_non_null(strstr(str_at(x.body, "message", NULL), cases[i].message_part));
                assert_string_equal(str_at(x.body, "details", "kind"), cases[i].details_kind);
                assert_int_equal(json_integer_value(json_object_get(x.body, "code")), cases[i].code);
                if (cases[i].retry_after > 0)
                        assert_int_equal(json_integer_value(json_object_get(json_object_get(x.body, "details"),
                                                                            "retryAfterSeconds")), cases[i].retry_after);
                json_decref(x.body);
        }
        assert_int_equal(fake_api_terminating_count(t->f), 0);

        Raw x = post_eviction(t, UID3);         /* not this pod's UID */
        assert_int_equal(x.status, 409);
        assert_string_equal(str_at(x.body, "reason", NULL), "Conflict");
        assert_string_equal(str_at(x.body, "details", "kind"), "pods");
        assert_string_equal(str_at(x.body, "details", "name"), "batch");
        assert_non_null(strstr(str_at(x.body, "message", NULL), "Precondition failed: UID in precondition: " UID3
                                                                 ", UID in object meta: " UID2));
        json_decref(x.body);
        x = post_eviction(t, UID2);
        assert_int_equal(x.status, 201);
        assert_string_equal(str_at(x.body, "status", NULL), "Success");
        json_decref(x.body);
        assert_true(fake_api_finish_termination(t->f, "default", "batch"));
        x = post_eviction(t, UID2);
        assert_int_equal(x.status, 404);
        assert_string_equal(str_at(x.body, "reason", NULL), "NotFound");
        assert_string_equal(str_at(x.body, "message", NULL), "pods \"batch\" not found");
        json_decref(x.body);
}

/* --- `colo agent` end to end --- */

typedef struct Scrape {
        bool done;
        long status;
        char *body;
} Scrape;

static void on_scraped(void *userdata, const KubeResponse *resp) {
        Scrape *x = userdata;
        x->done = true;
        x->status = resp->error ? 0 : resp->status;
        x->body = strdup(resp->body);
}

/* The agent's /metrics page, fetched with the API client (it is an HTTP client); NULL on failure. */
static char *scrape_metrics(int port) {
        char url[64];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
        KubeConfig cfg = { .server = url };
        KubeClient *c = NULL;
        ColoError err = {};
        Scrape x = {};
        KubeRequest req = { .method = "GET", .path = "/metrics", .timeout_usec = 5 * USEC_PER_SEC, .on_done = on_scraped,
                            .userdata = &x };
        if (kube_client_new(&cfg, &c, &err) < 0 || kube_client_start(c, &req, NULL, &err) < 0) {
                kube_client_free(c);
                return NULL;
        }
        for (int i = 0; i < 600 && !x.done; i++)
                (void) kube_client_wait(c, 10 * USEC_PER_MSEC);
        kube_client_free(c);
        if (x.status != 200) {
                free(x.body);
                return NULL;
        }
        return x.body;
}

/* The value of one series on a metrics page, -1 if absent. */
static double metric_value(const char *page, const char *series) {
        char needle[256];
        snprintf(needle, sizeof(needle), "\n%s ", series);
        const char *at = page ? strstr(page, needle) : NULL;
        return at ? strtod(at + strlen(needle), NULL) : -1;
}

/* The state of the workload named uid in the agent's status file, "" if it is not listed. */
static const char *status_state(const K8sNode *n, const char *uid, char *buf, size_t size) {
        char *text = k8s_node_read(n, "state/status.json");
        json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
        json_t *w;
        size_t i;
        buf[0] = '\0';
        json_array_foreach(json_object_get(doc, "workloads"), i, w) {
                const char *name = json_string_value(json_object_get(w, "name"));
                if (name && strcmp(name, uid) == 0)
                        snprintf(buf, size, "%s", json_string_value(json_object_get(w, "state")) ?: "?");
        }
        json_decref(doc);
        free(text);
        return buf;
}

typedef struct StatusIs {
        const K8sNode *n;
        const char *uid, *state;        /* state "": not listed */
} StatusIs;

static bool status_is(FakeApi *f, void *userdata) {
        (void) f;
        const StatusIs *x = userdata;
        char state[32];
        return strcmp(status_state(x->n, x->uid, state, sizeof(state)), x->state) == 0;
}

static bool terminating(FakeApi *f, void *userdata) {
        return has_deletion_timestamp(f, userdata);
}

/* The fake records a request after answering it, so a pod can be Terminating before the POST
 * that made it so is on record: wait for both. */
static bool terminating_after_two_posts(FakeApi *f, void *userdata) {
        char path[128];
        snprintf(path, sizeof(path), "/api/v1/namespaces/default/pods/%s/eviction", (const char *) userdata);
        return terminating(f, userdata) && fake_api_count_requests(f, "POST", path) >= 2;
}

static size_t list_requests(FakeApi *f) {
        size_t n = 0;
        FakeRequest r;
        for (size_t i = 0; fake_api_get_request(f, "GET", "/api/v1/pods", i, &r); i++) {
                n += strstr(r.query, "watch=true") == NULL;
                fake_request_free(&r);
        }
        return n;
}

static json_t *node_pod(const char *name, const char *uid, const char *cls, const char *tier, const char *qos,
                        int64_t cpu_milli) {
        FakePod p = {
                .name = name, .namespace_ = "default", .uid = uid, .node = NODE, .qos_class = qos,
                .class_annotation = cls, .tier_annotation = tier, .container_id = CID1,
                .offline_cpu_milli = cpu_milli, .offline_memory = cpu_milli > 0 ? 64 << 20 : 0,
        };
        return fake_pod_json(&p);
}

/* The agent evicts an over-committing best-effort pod; a budget refuses once: the refusal is
 * counted on /metrics and logged, the eviction goes through on the retry, and the pod, Terminating
 * for its 60 s grace period, stays in the agent's pods (evicted) until it is deleted, while
 * bookmarks arrive every 50 ms without a relist. */
static void test_agent_records_refusals_and_keeps_terminating_pods(void **state) {
        (void) state;
        if (!colo_bin)
                skip();
        K8sNode n;
        k8s_node_init(&n, NODE, "2", "24Gi");
        k8s_node_add_pod_cgroup(&n, "burstable", UID1);
        k8s_node_add_pod_cgroup(&n, "besteffort", UID2);
        k8s_node_add_pod_cgroup(&n, "besteffort", UID3);
        fake_api_add_pod(n.api, node_pod("web", UID1, "online", NULL, "Burstable", 0));
        fake_api_add_pod(n.api, node_pod("batch", UID2, "offline", "batch", "BestEffort", 500));
        fake_api_set_bookmark_interval(n.api, 50);
        int port = k8s_node_free_port();
        k8s_node_start_agent(&n, colo_bin, NODE, "  evict_grace_period: 60s\n", port);

#define EXPECT(cond)                                              \
        do {                                                      \
                if (!(cond)) {                                    \
                        k8s_node_dump_log(&n);                    \
                        k8s_node_done(&n);                        \
                        fail_msg("%s", #cond);                    \
                }                                                 \
        } while (0)

        StatusIs batch_running = { &n, UID2, "running" };
        EXPECT(fake_api_wait_for(n.api, status_is, &batch_running, 10000));
        fake_api_refuse_evictions(n.api, FAKE_EVICT_PDB_BLOCKED, 1);
        fake_api_add_pod(n.api, node_pod("be-job", UID3, "offline", "best-effort", "BestEffort", 1000000));
        /* Refused, then accepted on the retry after the evictor's first delay (5 s). */
        EXPECT(fake_api_wait_for(n.api, terminating_after_two_posts, (void *) "be-job", 30000));
        const char *path = "/api/v1/namespaces/default/pods/be-job/eviction";
        EXPECT(fake_api_count_requests(n.api, "POST", path) == 2);
        FakeRequest r;
        EXPECT(fake_api_get_request(n.api, "POST", path, 0, &r));
        fake_request_free(&r);
        EXPECT(r.status == 429);
        EXPECT(fake_api_get_request(n.api, "POST", path, 1, &r));
        fake_request_free(&r);
        EXPECT(r.status == 201);

        char *page = scrape_metrics(port);
        EXPECT(page != NULL);
        double blocked = metric_value(page, "colo_k8s_eviction_answers_total{result=\"blocked\"}");
        double accepted = metric_value(page, "colo_k8s_eviction_answers_total{result=\"accepted\"}");
        double conflicts = metric_value(page, "colo_k8s_eviction_answers_total{result=\"conflict\"}");
        free(page);
        EXPECT(blocked == 1 && accepted == 1 && conflicts == 0);
        char *log = k8s_node_read(&n, "agent.log");
        bool logged = log && strstr(log, "evict-blocked") && strstr(log, "disruption budget") && strstr(log, UID3);
        free(log);
        EXPECT(logged);

        /* Terminating: still one of the agent's pods, evicted, for as long as it lasts. */
        StatusIs evicted = { &n, UID3, "evicted" };
        EXPECT(fake_api_wait_for(n.api, status_is, &evicted, 10000));
        usleep(1000 * 1000);                    /* five periods */
        EXPECT(status_is(n.api, &evicted));
        EXPECT(status_is(n.api, &batch_running));
        EXPECT(fake_api_count_requests(n.api, "POST", "/api/v1/namespaces/default/pods/batch/") == 0);
        EXPECT(fake_api_count_requests(n.api, "POST", "/api/v1/namespaces/default/pods/web/") == 0);
        EXPECT(list_requests(n.api) == 1);     /* bookmarks all along, never a relist */

        EXPECT(fake_api_finish_termination(n.api, "default", "be-job"));
        StatusIs gone = { &n, UID3, "" };
        EXPECT(fake_api_wait_for(n.api, status_is, &gone, 10000));
        EXPECT(status_is(n.api, &batch_running));
        if (getenv("COLO_TEST_VERBOSE"))
                k8s_node_dump_log(&n);
        k8s_node_stop_agent(&n);
#undef EXPECT
        k8s_node_done(&n);
}

int main(int argc, char **argv) {
        colo_bin = argc > 1 ? argv[1] : NULL;
        const struct CMUnitTest tests[] = {
                FIXTURE_TEST(test_conflict_with_the_same_uid_is_reread_and_retried),
                FIXTURE_TEST(test_conflict_for_a_replaced_pod_spares_the_replacement),
                FIXTURE_TEST(test_pdb_refusal_is_retried_on_the_clock_and_counted),
                FIXTURE_TEST(test_terminating_pod_stays_in_the_pod_set_until_deleted),
                FIXTURE_TEST(test_periodic_bookmarks_leave_the_pod_set_alone),
                cmocka_unit_test(test_bookmark_shapes_of_real_servers),
                FIXTURE_TEST(test_refusals_are_shaped_as_the_real_servers),
                cmocka_unit_test(test_agent_records_refusals_and_keeps_terminating_pods),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
