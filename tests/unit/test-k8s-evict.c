/* What the evictor makes of each answer of the Eviction API and when it tries again
 * (kube_eviction_decide(), kube_eviction_backoff_usec()), table first; and the Status fields it
 * reads (details.retryAfterSeconds, details.kind) from bodies shaped as the API server writes
 * them. No network: the evictor against a fake API server is tests/integration/test-k8s-evict.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kube/k8s-evict.h"
#include "util/macro.h"

#define UID_A "11111111-1111-4111-8111-111111111111"
#define UID_B "22222222-2222-4222-8222-222222222222"
#define SEC USEC_PER_SEC
#define NOW (1000 * SEC)

static const KubeEvictRetryPolicy policy = { .initial_usec = 5 * SEC, .max_usec = 60 * SEC,
                                             .retry_after_max_usec = 300 * SEC };

static void test_backoff_doubles_is_capped_and_honours_retry_after(void **state) {
        (void) state;
        static const struct {
                unsigned n;
                int64_t retry_after_sec;
                uint64_t want_usec;
        } cases[] = {
                { 1, 0, 5 * SEC },      { 2, 0, 10 * SEC },     { 3, 0, 20 * SEC },  { 4, 0, 40 * SEC },
                { 5, 0, 60 * SEC },     { 40, 0, 60 * SEC },    { 1000, 0, 60 * SEC },
                { 1, 10, 10 * SEC },    /* the server's word wins over the schedule, shorter or longer */
                { 6, 1, 1 * SEC },      { 1, 120, 120 * SEC },
                { 1, 3600, 300 * SEC }, /* but a server cannot park the eviction for an hour */
                { 3, -5, 20 * SEC },    /* nonsense is ignored */
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t got = kube_eviction_backoff_usec(&policy, cases[i].n, cases[i].retry_after_sec);
                if (got != cases[i].want_usec)
                        fail_msg("case %zu: retry %u, retry-after %lld: %llu, want %llu", i, cases[i].n,
                                 (long long) cases[i].retry_after_sec, (unsigned long long) got,
                                 (unsigned long long) cases[i].want_usec);
        }
}

static void test_decide_on_every_answer(void **state) {
        (void) state;
        static const struct {
                const char *what;
                KubeEvictAnswer a;
                unsigned attempts;
                KubeEvictAction want;
                uint64_t want_next;     /* checked for BLOCKED, RETRY and RECHECK */
        } cases[] = {
                { "201 Created", { .status = 201 }, 1, KUBE_EVICT_ACCEPT, 0 },
                { "200 OK (policy/v1beta1)", { .status = 200 }, 1, KUBE_EVICT_ACCEPT, 0 },
                { "404: the pod is gone", { .status = 404 }, 1, KUBE_EVICT_GONE, 0 },
                { "409: look again, at once", { .status = 409 }, 3, KUBE_EVICT_RECHECK, NOW },
                { "409 with a retry-after: still look at once", { .status = 409, .retry_after_sec = 10 }, 1,
                  KUBE_EVICT_RECHECK, NOW },
                { "429, budget at 0: the schedule", { .status = 429 }, 1, KUBE_EVICT_BLOCKED, NOW + 5 * SEC },
                { "429, third time", { .status = 429 }, 3, KUBE_EVICT_BLOCKED, NOW + 20 * SEC },
                { "429, budget not observed yet: retryAfterSeconds 10", { .status = 429, .retry_after_sec = 10 }, 4,
                  KUBE_EVICT_BLOCKED, NOW + 10 * SEC },
                { "500: more than one budget", { .status = 500 }, 2, KUBE_EVICT_RETRY, NOW + 10 * SEC },
                { "503", { .status = 503 }, 1, KUBE_EVICT_RETRY, NOW + 5 * SEC },
                { "403 (RBAC)", { .status = 403 }, 1, KUBE_EVICT_RETRY, NOW + 5 * SEC },
                { "connection refused", { .error = -ECONNREFUSED }, 2, KUBE_EVICT_RETRY, NOW + 10 * SEC },
                { "timeout after a 201 was on its way", { .status = 201, .error = -ETIMEDOUT }, 1, KUBE_EVICT_RETRY,
                  NOW + 5 * SEC },
                { "no response", { .status = 0 }, 1, KUBE_EVICT_RETRY, NOW + 5 * SEC },
                { "attempts 0 counts as the first", { .status = 429 }, 0, KUBE_EVICT_BLOCKED, NOW + 5 * SEC },

                /* The re-read after a 409. */
                { "re-read: same UID, retry", { .recheck = true, .status = 200, .uid_seen = UID_A, .uid_wanted = UID_A }, 2,
                  KUBE_EVICT_RETRY, NOW + 10 * SEC },
                { "re-read: same UID, a GET retry-after does not count",
                  { .recheck = true, .status = 200, .retry_after_sec = 100, .uid_seen = UID_A, .uid_wanted = UID_A }, 1,
                  KUBE_EVICT_RETRY, NOW + 5 * SEC },
                { "re-read: another UID, the pod was replaced",
                  { .recheck = true, .status = 200, .uid_seen = UID_B, .uid_wanted = UID_A }, 1, KUBE_EVICT_GONE, 0 },
                { "re-read: 404", { .recheck = true, .status = 404, .uid_wanted = UID_A }, 1, KUBE_EVICT_GONE, 0 },
                { "re-read: no uid in the body", { .recheck = true, .status = 200, .uid_wanted = UID_A }, 1,
                  KUBE_EVICT_RETRY, NOW + 5 * SEC },
                { "re-read: server error", { .recheck = true, .status = 500, .uid_wanted = UID_A }, 3, KUBE_EVICT_RETRY,
                  NOW + 20 * SEC },
                { "re-read: 429 with retry-after", { .recheck = true, .status = 429, .retry_after_sec = 2, .uid_wanted = UID_A },
                  1, KUBE_EVICT_RETRY, NOW + 2 * SEC },
                { "re-read: network down", { .recheck = true, .error = -ECONNRESET, .uid_wanted = UID_A }, 1,
                  KUBE_EVICT_RETRY, NOW + 5 * SEC },
                { "re-read: 404 but the transfer failed", { .recheck = true, .status = 404, .error = -EIO, .uid_wanted = UID_A },
                  1, KUBE_EVICT_RETRY, NOW + 5 * SEC },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                KubeEvictDecision d = kube_eviction_decide(&cases[i].a, &policy, cases[i].attempts, NOW);
                if (d.action != cases[i].want)
                        fail_msg("%s: %s, want %s", cases[i].what, kube_evict_action_to_string(d.action),
                                 kube_evict_action_to_string(cases[i].want));
                bool timed = d.action == KUBE_EVICT_BLOCKED || d.action == KUBE_EVICT_RETRY ||
                             d.action == KUBE_EVICT_RECHECK;
                if (timed && d.next_attempt_usec != cases[i].want_next)
                        fail_msg("%s: next attempt at +%lld us, want +%lld us", cases[i].what,
                                 (long long) (d.next_attempt_usec - NOW), (long long) (cases[i].want_next - NOW));
        }
}

static void test_action_names(void **state) {
        (void) state;
        for (int a = 0; a < _KUBE_EVICT_ACTION_MAX; a++)
                assert_non_null(kube_evict_action_to_string((KubeEvictAction) a));
        assert_null(kube_evict_action_to_string(_KUBE_EVICT_ACTION_MAX));
}

/* Bodies as errors.NewTooManyRequests() and errors.NewConflict() build them, marshalled with the
 * metav1.Status json tags (details and its fields omitempty). */
static void test_status_details_the_evictor_reads(void **state) {
        (void) state;
        static const struct {
                const char *body;
                int code, retry_after;
                const char *reason, *kind;
        } cases[] = {
                { "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"Cannot "
                  "evict pod as it would violate the pod's disruption budget.\",\"reason\":\"TooManyRequests\",\"details\":{"
                  "\"causes\":[{\"reason\":\"DisruptionBudget\",\"message\":\"The disruption budget web-pdb needs 2 healthy "
                  "pods and has 2 currently\"}]},\"code\":429}",
                  429, 0, "TooManyRequests", "" },
                { "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"Cannot "
                  "evict pod as it would violate the pod's disruption budget.\",\"reason\":\"TooManyRequests\",\"details\":{"
                  "\"causes\":[{\"reason\":\"DisruptionBudget\",\"message\":\"The disruption budget web-pdb is still being "
                  "processed by the server.\"}],\"retryAfterSeconds\":10},\"code\":429}",
                  429, 10, "TooManyRequests", "" },
                { "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"Operation "
                  "cannot be fulfilled on pods \\\"batch\\\": StorageError: invalid object, Code: 4, Key: /registry/pods/"
                  "default/batch, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: " UID_A
                  ", UID in object meta: " UID_B "\",\"reason\":\"Conflict\",\"details\":{\"name\":\"batch\",\"kind\":\"pods\"},"
                  "\"code\":409}",
                  409, 0, "Conflict", "pods" },
                { "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"x\","
                  "\"reason\":\"TooManyRequests\",\"details\":{\"retryAfterSeconds\":-3},\"code\":429}",
                  429, 0, "TooManyRequests", "" },
                { "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"x\","
                  "\"reason\":\"TooManyRequests\",\"details\":{\"retryAfterSeconds\":\"10\"},\"code\":429}",
                  429, 0, "TooManyRequests", "" },
                { "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"This pod "
                  "has more than one PodDisruptionBudget, which the eviction subresource does not support.\",\"code\":500}",
                  500, 0, "", "" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                KubeStatus st;
                assert_int_equal(kube_status_parse(cases[i].body, strlen(cases[i].body), &st), 0);
                assert_int_equal(st.code, cases[i].code);
                assert_int_equal(st.retry_after_seconds, cases[i].retry_after);
                assert_string_equal(st.reason, cases[i].reason);
                assert_string_equal(st.details_kind, cases[i].kind);
        }
}

/* The body carries the UID precondition, so a same-named replacement is never evicted. */
static void test_eviction_body_is_preconditioned_on_the_uid(void **state) {
        (void) state;
        KubeEviction ev = { .uid = UID_A, .namespace_ = "default", .name = "batch" };
        char *body = NULL;
        ColoError err = {};
        assert_int_equal(kube_eviction_body(&ev, 7, &body, &err), 0);
        assert_string_equal(body, "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"batch\","
                                  "\"namespace\":\"default\"},\"deleteOptions\":{\"preconditions\":{\"uid\":\"" UID_A "\"},"
                                  "\"gracePeriodSeconds\":7}}");
        free(body);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_backoff_doubles_is_capped_and_honours_retry_after),
                cmocka_unit_test(test_decide_on_every_answer),
                cmocka_unit_test(test_action_names),
                cmocka_unit_test(test_status_details_the_evictor_reads),
                cmocka_unit_test(test_eviction_body_is_preconditioned_on_the_uid),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
