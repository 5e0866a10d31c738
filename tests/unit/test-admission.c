/* Unit tests of src/lib/admission (the mutating webhook's decision) on complete AdmissionReview
 * documents, and HTTP-level tests of the server wrapper and of `colo webhook` on 127.0.0.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>

#include "admission/admission.h"
#include "httpd/https-server.h"
#include "k8s/resource-quantity.h"
#include "k8s-test-util.h"

/* Runs a fixture through admission_review() and returns the parsed AdmissionReview response. */
static json_t *review_fixture(const char *name, const AdmissionConfig *cfg, AdmissionOutcome *out) {
        size_t size;
        _cleanup_free_ char *body = fixture_text(name, &size);
        _cleanup_free_ char *resp = NULL;
        size_t resp_size = 0;
        ColoError err = {};
        AdmissionOutcome o;
        if (admission_review(cfg, body, size, &resp, &resp_size, &o, &err) != 0)
                fail_msg("%s: %s", name, err.msg);
        assert_int_equal(resp_size, strlen(resp));
        if (out)
                *out = o;
        json_error_t jerr;
        json_t *j = json_loads(resp, 0, &jerr);
        assert_non_null(j);
        return j;
}

static json_t *decoded_patch(const json_t *review) {
        const json_t *response = json_object_get(review, "response");
        const char *b64 = json_string_value(json_object_get(response, "patch"));
        if (!b64)
                return NULL;
        assert_string_equal(json_string_value(json_object_get(response, "patchType")), "JSONPatch");
        _cleanup_free_ char *text = base64_decode(b64, NULL);
        assert_non_null(text);
        json_error_t jerr;
        json_t *patch = json_loads(text, 0, &jerr);
        assert_non_null(patch);
        return patch;
}

static void test_admission_offline_pod_matches_golden_patch(void **state) {
        (void) state;
        AdmissionConfig cfg = ADMISSION_CONFIG_DEFAULT;
        AdmissionOutcome out;
        json_auto_t *review = review_fixture("admission-offline-pod.json", &cfg, &out);
        const json_t *response = json_object_get(review, "response");

        assert_string_equal(json_string_value(json_object_get(review, "apiVersion")), "admission.k8s.io/v1");
        assert_string_equal(json_string_value(json_object_get(review, "kind")), "AdmissionReview");
        assert_string_equal(json_string_value(json_object_get(response, "uid")), "705ab4f5-6393-11e8-b7cc-42010a800002");
        assert_true(json_is_true(json_object_get(response, "allowed")));
        assert_null(json_object_get(response, "status"));
        assert_true(out.allowed);
        assert_int_equal(out.workload_class, CLASS_OFFLINE);
        assert_string_equal(out.pod, "batch/train-7f9c");

        json_auto_t *patch = decoded_patch(review);
        json_auto_t *golden = fixture_json("admission-offline-pod.patch.json");
        if (!json_equal(patch, golden)) {
                _cleanup_free_ char *got = json_dumps(patch, JSON_INDENT(2));
                fail_msg("patch differs from the golden file:\n%s", got);
        }
        assert_int_equal(out.patch_ops, json_array_size(golden));
}

static void test_admission_is_idempotent(void **state) {
        (void) state;
        AdmissionConfig cfg = ADMISSION_CONFIG_DEFAULT;
        static const char *const fixtures[] = { "admission-offline-pod.json", "admission-koordinator-be.json",
                                                "admission-rubik-preemptable.json", "admission-online-pod.json" };
        for (size_t f = 0; f < ELEMENTSOF(fixtures); f++) {
                json_auto_t *review = fixture_json(fixtures[f]);
                json_t *pod = json_object_get(json_object_get(review, "request"), "object");
                /* Apply the webhook's patch, as the API server does, then ask again: twice. */
                for (int round = 0; round < 3; round++) {
                        json_auto_t *patch = NULL;
                        AdmissionOutcome out = {};
                        assert_int_equal(admission_mutate_pod(&cfg, pod, &patch, &out), 0);
                        if (round > 0 && json_array_size(patch) != 0) {
                                _cleanup_free_ char *text = json_dumps(patch, 0);
                                fail_msg("%s: round %d still patches: %s", fixtures[f], round, text);
                        }
                        assert_int_equal(json_patch_apply(pod, patch), 0);
                }
        }
        /* Extreme but valid quantities convert to values the second pass accepts (a fuzzer found
         * 1E of memory, which overflows in millis, rejected on the second pass). */
        static const char *const extremes[][2] = { { "0.0001", "1E" }, { "7999999999999999m", "7Ei" }, { "1n", "0.5" } };
        for (size_t i = 0; i < ELEMENTSOF(extremes); i++) {
                json_auto_t *review = fixture_json("admission-offline-pod.json");
                json_t *pod = json_object_get(json_object_get(review, "request"), "object");
                json_t *c0 = json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0);
                json_object_set_new(json_object_get(c0, "resources"), "requests",
                                    json_pack("{s:s, s:s}", "cpu", extremes[i][0], "memory", extremes[i][1]));
                json_object_del(json_object_get(c0, "resources"), "limits");
                json_auto_t *patch = NULL, *again = NULL;
                AdmissionOutcome out = {};
                if (admission_mutate_pod(&cfg, pod, &patch, &out) != 0)
                        fail_msg("extreme %zu: %s", i, out.message);
                assert_int_equal(json_patch_apply(pod, patch), 0);
                assert_int_equal(admission_mutate_pod(&cfg, pod, &again, &out), 0);
                assert_int_equal(json_array_size(again), 0);
        }

        /* The stored form of an already converted pod gets no patch at all. */
        AdmissionOutcome out;
        json_auto_t *done = review_fixture("admission-offline-mutated.json", &cfg, &out);
        const json_t *response = json_object_get(done, "response");
        assert_true(json_is_true(json_object_get(response, "allowed")));
        assert_null(json_object_get(response, "patch"));
        assert_null(json_object_get(response, "patchType"));
        assert_int_equal(out.patch_ops, 0);
        assert_int_equal(out.workload_class, CLASS_OFFLINE);
}

/* Equal JSON, except that two strings holding the same quantity are equal: the API server
 * re-reads the pod a patch made, so the quantities colo wrote come back canonical
 * ("1000000000" as "1G"). */
static bool json_equal_as_reread(const json_t *a, const json_t *b) {
        if (json_is_string(a) && json_is_string(b)) {
                int64_t x, y;
                return strcmp(json_string_value(a), json_string_value(b)) == 0 ||
                       (quantity_parse_scaled(json_string_value(a), 3, &x) >= 0 &&
                        quantity_parse_scaled(json_string_value(b), 3, &y) >= 0 && x == y);
        }
        if (json_is_object(a) && json_is_object(b)) {
                const char *key;
                const json_t *v;
                if (json_object_size(a) != json_object_size(b))
                        return false;
                json_object_foreach((json_t *) a, key, v)
                        if (!json_equal_as_reread(v, json_object_get(b, key)))
                                return false;
                return true;
        }
        if (json_is_array(a) && json_is_array(b)) {
                if (json_array_size(a) != json_array_size(b))
                        return false;
                for (size_t i = 0; i < json_array_size(a); i++)
                        if (!json_equal_as_reread(json_array_get(a, i), json_array_get(b, i)))
                                return false;
                return true;
        }
        return json_equal((json_t *) a, (json_t *) b);
}

static void test_admission_applied_patch_gives_converted_pod(void **state) {
        (void) state;
        AdmissionConfig cfg = ADMISSION_CONFIG_DEFAULT;
        json_auto_t *review = fixture_json("admission-offline-pod.json");
        json_t *pod = json_object_get(json_object_get(review, "request"), "object");
        json_auto_t *patch = NULL;
        AdmissionOutcome out = {};
        assert_int_equal(admission_mutate_pod(&cfg, pod, &patch, &out), 0);
        assert_int_equal(json_patch_apply(pod, patch), 0);
        json_auto_t *expected = fixture_json("admission-offline-mutated.json");
        const json_t *want = json_object_get(json_object_get(expected, "request"), "object");
        if (!json_equal_as_reread(pod, want)) {
                _cleanup_free_ char *got = json_dumps(pod, JSON_INDENT(2));
                fail_msg("patched pod differs from admission-offline-mutated.json:\n%s", got);
        }
}

/* colo ran, then a sidecar injector and a VPA-like webhook added cpu/memory; colo is reinvoked. */
static void test_admission_reinvocation_converts_what_later_webhooks_added(void **state) {
        (void) state;
        AdmissionConfig cfg = ADMISSION_CONFIG_DEFAULT;
        json_auto_t *review = fixture_json("admission-offline-mutated.json");
        json_t *pod = json_object_get(json_object_get(review, "request"), "object");
        json_t *containers = json_object_get(json_object_get(pod, "spec"), "containers");
        json_object_set_new(json_object_get(json_object_get(json_array_get(containers, 0), "resources"), "requests"), "cpu",
                            json_string("2"));
        json_array_append_new(containers, json_pack("{s:s, s:s, s:{s:{s:s, s:s}}}", "name", "istio-proxy", "image",
                                                    "proxyv2:1.20", "resources", "requests", "cpu", "100m", "memory",
                                                    "128Mi"));
        json_auto_t *patch = NULL;
        AdmissionOutcome out = {};
        if (admission_mutate_pod(&cfg, pod, &patch, &out) != 0)
                fail_msg("%s", out.message);
        assert_int_equal(json_patch_apply(pod, patch), 0);

        const json_t *train = json_object_get(json_array_get(containers, 0), "resources");
        assert_string_equal(json_string_value(json_object_get(json_object_get(train, "requests"), "colo.io/offline-cpu")), "2000");
        assert_string_equal(json_string_value(json_object_get(json_object_get(train, "requests"), "colo.io/offline-memory")),
                            "268435456");
        assert_null(json_object_get(json_object_get(train, "requests"), "cpu"));
        const json_t *proxy = json_object_get(json_array_get(containers, 3), "resources");
        assert_string_equal(json_string_value(json_object_get(json_object_get(proxy, "limits"), "colo.io/offline-cpu")), "100");

        const char *kept = json_string_value(json_object_get(json_object_get(json_object_get(pod, "metadata"), "annotations"),
                                                             ADMISSION_ORIGINAL_RESOURCES_ANNOTATION));
        json_auto_t *originals = json_loads(kept, 0, NULL);
        json_auto_t *expected = json_loads(
                "{\"containers\":{\"train\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"512Mi\"},\"requests\":{\"cpu\":\"2\","
                "\"memory\":\"256Mi\"}},\"uploader\":{\"limits\":{\"cpu\":\"1500m\",\"memory\":\"1e9\"},\"requests\":{"
                "\"cpu\":\"1500m\",\"memory\":\"1G\"}},\"istio-proxy\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"128Mi\"}}},"
                "\"initContainers\":{\"fetch\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"64Mi\"},\"requests\":{\"cpu\":\"100m\","
                "\"memory\":\"64Mi\"}}}}", 0, NULL);
        assert_true(json_equal(originals, expected));

        json_auto_t *again = NULL;
        assert_int_equal(admission_mutate_pod(&cfg, pod, &again, &out), 0);
        assert_int_equal(json_array_size(again), 0);
}

static void test_admission_online_and_compatible_pods(void **state) {
        (void) state;
        AdmissionConfig cfg = ADMISSION_CONFIG_DEFAULT;
        AdmissionOutcome out;
        json_auto_t *online = review_fixture("admission-online-pod.json", &cfg, &out);
        assert_true(json_is_true(json_object_get(json_object_get(online, "response"), "allowed")));
        assert_null(json_object_get(json_object_get(online, "response"), "patch"));
        assert_int_equal(out.workload_class, CLASS_ONLINE);

        json_auto_t *koord = review_fixture("admission-koordinator-be.json", &cfg, &out);
        json_auto_t *patch = decoded_patch(koord);
        assert_int_equal(out.workload_class, CLASS_OFFLINE);
        /* No annotations at all: the whole map is added. */
        bool found = false;
        size_t i;
        const json_t *op;
        json_array_foreach(patch, i, op) if (strcmp(json_string_value(json_object_get(op, "path")), "/metadata/annotations") == 0) {
                found = json_is_string(json_object_get(json_object_get(op, "value"), ADMISSION_ORIGINAL_RESOURCES_ANNOTATION));
        }
        assert_true(found);

        json_auto_t *rubik = review_fixture("admission-rubik-preemptable.json", &cfg, &out);
        json_auto_t *rpatch = decoded_patch(rubik);
        assert_int_equal(out.workload_class, CLASS_OFFLINE);
        /* requests.cpu 300m alone becomes 300 in both requests and limits. */
        const json_t *res = json_object_get(json_array_get(rpatch, 0), "value");
        assert_string_equal(json_string_value(json_object_get(json_object_get(res, "requests"), "colo.io/offline-cpu")), "300");
        assert_string_equal(json_string_value(json_object_get(json_object_get(res, "limits"), "colo.io/offline-cpu")), "300");
        assert_null(json_object_get(json_object_get(res, "requests"), "colo.io/offline-memory"));
}

static void test_admission_rejects_contradictory_pods(void **state) {
        (void) state;
        AdmissionConfig cfg = ADMISSION_CONFIG_DEFAULT;
        static const struct {
                const char *fixture;
                int code;
                const char *needle;
        } cases[] = {
                { "admission-reject-contradictory.json", 422, "koordinator.sh/qosClass 'LS'" },
                { "admission-reject-unknown-class.json", 422, "'batchy' is not a class" },
                { "admission-reject-invalid-tier.json", 422, "'gold' is not a tier" },
                { "admission-reject-priority-class.json", 422, "spec.priorityClassName 'business-critical'" },
                { "admission-reject-inconsistent-colo.json", 422, "differ; set them equal" },
                { "admission-reject-bad-quantity.json", 400, "'1.2.3' is not a Kubernetes quantity" },
                { "admission-reject-non-pod.json", 400, "not apps/v1 Deployment" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                AdmissionOutcome out;
                json_auto_t *review = review_fixture(cases[i].fixture, &cfg, &out);
                const json_t *response = json_object_get(review, "response");
                const json_t *status = json_object_get(response, "status");
                assert_true(json_is_false(json_object_get(response, "allowed")));
                assert_null(json_object_get(response, "patch"));
                assert_non_null(json_string_value(json_object_get(response, "uid")));
                assert_int_equal(json_integer_value(json_object_get(status, "code")), cases[i].code);
                assert_string_equal(json_string_value(json_object_get(status, "status")), "Failure");
                const char *msg = json_string_value(json_object_get(status, "message"));
                if (!msg || !strstr(msg, cases[i].needle))
                        fail_msg("%s: message '%s' lacks '%s'", cases[i].fixture, msg, cases[i].needle);
                assert_false(out.allowed);
                assert_int_equal(out.code, cases[i].code);
        }
}

/* Variants of the offline pod built in place: each must be rejected with its message. */
static void test_admission_rejects_pod_variants(void **state) {
        (void) state;
        AdmissionConfig cfg = ADMISSION_CONFIG_DEFAULT;
        static const struct {
                const char *path;               /* container 0 resources, or a spec field */
                const char *json;
                const char *needle;
        } cases[] = {
                { "requests", "{\"cpu\":\"1\",\"colo.io/offline-cpu\":\"1000\"}", "sets both cpu/memory and colo.io" },
                { "requests", "{\"colo.io/gpu\":\"1\"}", "unknown resource 'colo.io/gpu'" },
                { "resources", "{\"requests\":{\"colo.io/offline-cpu\":\"1500m\"},\"limits\":{\"colo.io/offline-cpu\":\"1500m\"}}",
                  "must be a whole number" },
                { "resources", "{\"requests\":{\"colo.io/offline-memory\":\"1Gi\"}}", "needs resources.limits" },
                { "requests", "{\"cpu\":\"2\"}", "exceeds resources.limits" },       /* limit is 1 */
                { "requests", "{\"cpu\":\"-1\"}", "negative or too large" },
                { "requests", "{\"memory\":\"99999999999999999999Ki\"}", "negative or too large" },
                { "requests", "{\"memory\":1.5}", "must be a quantity string" },
                { "requests", "[]", "must be an object" },
                { "resources", "\"big\"", "resources: must be an object" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                json_auto_t *review = fixture_json("admission-offline-pod.json");
                json_t *pod = json_object_get(json_object_get(review, "request"), "object");
                json_t *c0 = json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0);
                json_error_t jerr;
                json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, &jerr);
                assert_non_null(v);
                if (strcmp(cases[i].path, "resources") == 0)
                        json_object_set_new(c0, "resources", v);
                else
                        json_object_set_new(json_object_get(c0, "resources"), cases[i].path, v);
                json_auto_t *patch = NULL;
                AdmissionOutcome out = {};
                assert_int_equal(admission_mutate_pod(&cfg, pod, &patch, &out), -EINVAL);
                assert_null(patch);
                assert_false(out.allowed);
                assert_true(out.code == 400 || out.code == 422);
                if (!strstr(out.message, cases[i].needle))
                        fail_msg("case %zu: message '%s' lacks '%s'", i, out.message, cases[i].needle);
        }
}

static void test_admission_online_pod_cannot_use_oversold_capacity(void **state) {
        (void) state;
        AdmissionConfig cfg = ADMISSION_CONFIG_DEFAULT;
        json_auto_t *review = fixture_json("admission-online-pod.json");
        json_t *pod = json_object_get(json_object_get(review, "request"), "object");
        json_t *c0 = json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0);
        json_object_set_new(json_object_get(json_object_get(c0, "resources"), "limits"), "colo.io/offline-cpu",
                            json_string("100"));
        json_auto_t *patch = NULL;
        AdmissionOutcome out = {};
        assert_int_equal(admission_mutate_pod(&cfg, pod, &patch, &out), -EINVAL);
        assert_int_equal(out.code, 422);
        assert_non_null(strstr(out.message, "an online pod cannot use colo.io/offline-*"));
}

static void test_admission_replaces_cluster_default_priority_class(void **state) {
        (void) state;
        static const char *const replaceable[] = { "business-critical", NULL };
        AdmissionConfig cfg = ADMISSION_CONFIG_DEFAULT;
        cfg.replaceable_priority_classes = replaceable;
        cfg.offline_preemption_policy = NULL;
        cfg.offline_priority = -7;
        AdmissionOutcome out;
        json_auto_t *review = review_fixture("admission-reject-priority-class.json", &cfg, &out);
        assert_true(out.allowed);
        json_auto_t *patch = decoded_patch(review);
        bool class_replaced = false, priority_set = false, preemption_touched = false;
        size_t i;
        const json_t *op;
        json_array_foreach(patch, i, op) {
                const char *path = json_string_value(json_object_get(op, "path"));
                const json_t *value = json_object_get(op, "value");
                if (strcmp(path, "/spec/priorityClassName") == 0)
                        class_replaced = strcmp(json_string_value(json_object_get(op, "op")), "replace") == 0 &&
                                         strcmp(json_string_value(value), "colo-offline") == 0;
                if (strcmp(path, "/spec/priority") == 0)
                        priority_set = json_integer_value(value) == -7;
                if (strcmp(path, "/spec/preemptionPolicy") == 0)
                        preemption_touched = true;
        }
        assert_true(class_replaced);
        assert_true(priority_set);
        assert_false(preemption_touched);
}

static void test_admission_allows_other_operations_untouched(void **state) {
        (void) state;
        AdmissionConfig cfg = ADMISSION_CONFIG_DEFAULT;
        static const char *const ops[] = { "UPDATE", "DELETE", "CONNECT" };
        for (size_t i = 0; i < ELEMENTSOF(ops); i++) {
                json_auto_t *review = fixture_json("admission-offline-pod.json");
                json_object_set_new(json_object_get(review, "request"), "operation", json_string(ops[i]));
                _cleanup_free_ char *body = json_dumps(review, 0);
                _cleanup_free_ char *resp = NULL;
                size_t n;
                AdmissionOutcome out;
                assert_int_equal(admission_review(&cfg, body, strlen(body), &resp, &n, &out, NULL), 0);
                assert_true(out.allowed);
                assert_int_equal(out.patch_ops, 0);
                assert_null(strstr(resp, "\"patch\""));
        }
}

static int review_body(const char *body, size_t size, char **ret_out, size_t *ret_size, ColoError *err,
                       void *userdata) {
        return admission_review(userdata, body, size, ret_out, ret_size, NULL, err);
}

static void test_admission_malformed_reviews_are_errors(void **state) {
        (void) state;
        AdmissionConfig cfg = ADMISSION_CONFIG_DEFAULT;
        static const RejectedFixture cases[] = {
                { "admission-malformed-not-json.json", "request body is not JSON" },
                { "admission-malformed-missing-uid.json", "request.uid" },
                { "admission-malformed-wrong-types.json", "request.uid" },
                { "admission-malformed-v1beta1.json", "apiVersion must be admission.k8s.io/v1" },
                { "admission-malformed-huge-number.json", "request body is not JSON" },
        };
        expect_fixtures_rejected(cases, ELEMENTSOF(cases), review_body, &cfg);
        static const char *const bodies[] = { "", "[]", "null", "{\"apiVersion\":\"admission.k8s.io/v1\"}",
                                              "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}",
                                              "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"\"}}",
                                              "{\"apiVersion\":1,\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"a\"}}" };
        expect_bodies_rejected(bodies, ELEMENTSOF(bodies), review_body, &cfg);
        /* A review with a uid but no object is answered, not dropped. */
        const char *no_object = "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u1\","
                                "\"kind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":\"Pod\"},\"operation\":\"CREATE\"}}";
        _cleanup_free_ char *resp = NULL;
        size_t n;
        AdmissionOutcome out;
        assert_int_equal(admission_review(&cfg, no_object, strlen(no_object), &resp, &n, &out, NULL), 0);
        assert_false(out.allowed);
        assert_int_equal(out.code, 400);
        assert_non_null(strstr(resp, "\"uid\":\"u1\""));
        /* Oversized bodies are refused before parsing. */
        ColoError err = {};
        char *none = NULL;
        assert_int_equal(admission_review(&cfg, "{}", ADMISSION_REVIEW_MAX_SIZE + 1, &none, &n, NULL, &err), -EMSGSIZE);
}

static void test_admission_base64_matches_rfc4648(void **state) {
        (void) state;
        static const struct {
                const char *in, *out;
        } cases[] = { { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
                      { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" } };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = admission_base64_encode(cases[i].in, strlen(cases[i].in));
                assert_string_equal(s, cases[i].out);
        }
        /* A patch is longer than a PEM or MIME line: the field takes one unbroken line. */
        char in[300];
        memset(in, 'x', sizeof(in));
        _cleanup_free_ char *s = admission_base64_encode(in, sizeof(in));
        assert_int_equal(strlen(s), 400);
        assert_null(strchr(s, '\n'));
        assert_string_equal(s + 396, "eHh4");
}

/* ---- HTTP ---------------------------------------------------------------------------------- */

/* The same routing as `colo webhook`, over the library server. */
static void webhook_handler(const HttpRequest *req, HttpReply *reply, void *userdata) {
        ColoError err = {};
        if (strcmp(req->method, "POST") != 0)
                return http_reply_error(reply, 405, "use POST");
        if (admission_review(userdata, req->body, req->body_size, &reply->body, &reply->body_size, NULL, &err) < 0)
                http_reply_error(reply, 400, err.msg);
}

static void check_http_webhook(const char *base, const char *ca_file, size_t max_body) {
        CURL *curl = curl_easy_init();
        char url[128];
        snprintf(url, sizeof(url), "%s/mutate", base);
        size_t size;
        _cleanup_free_ char *body = fixture_text("admission-offline-pod.json", &size);
        HttpResult r;
        for (int i = 0; i < 3; i++) {
                assert_int_equal(http_request(curl, url, body, size, ca_file, &r), 0);
                assert_int_equal(r.status, 200);
                if (i > 0)
                        assert_int_equal(r.connects, 0);        /* keep-alive: the connection is reused */
                json_auto_t *review = json_loads(r.body, 0, NULL);
                json_auto_t *patch = decoded_patch(review);
                json_auto_t *golden = fixture_json("admission-offline-pod.patch.json");
                assert_true(json_equal(patch, golden));
                free(r.body);
        }
        _cleanup_free_ char *bad = fixture_text("admission-malformed-missing-uid.json", &size);
        assert_int_equal(http_request(curl, url, bad, size, ca_file, &r), 0);
        assert_int_equal(r.status, 400);
        assert_non_null(strstr(r.body, "request.uid"));
        free(r.body);

        expect_oversized_refused(curl, url, max_body, ca_file);
        curl_easy_cleanup(curl);
}

/* The servers' configuration outlives each test: a failed assertion jumps out of the test
 * without stopping its server, whose threads must not be left pointing into a dead frame. */
static const AdmissionConfig http_webhook_config = ADMISSION_CONFIG_DEFAULT;

static void test_http_webhook_plain(void **state) {
        (void) state;
        HttpsServerOptions o = { .bind_address = "127.0.0.1", .max_body_size = 64 << 10, .connection_timeout_sec = 5,
                                 .threads = 2, .handler = webhook_handler,
                                 .userdata = (void *) &http_webhook_config };
        _cleanup_(https_server_stopp) HttpsServer *s = NULL;
        ColoError err = {};
        assert_int_equal(https_server_start(&o, &s, &err), 0);
        char base[64];
        snprintf(base, sizeof(base), "http://127.0.0.1:%u", https_server_port(s));
        check_http_webhook(base, NULL, o.max_body_size);
}

static void test_http_webhook_tls(void **state) {
        (void) state;
        char dir[] = "/tmp/colo-test-k8s-tls-XXXXXX";
        assert_non_null(mkdtemp(dir));
        int r = make_self_signed_cert(dir);
        if (r == -ENOENT) {
                rmdir(dir);
                print_message("openssl not found: skipping the TLS case\n");
                skip();
        }
        assert_int_equal(r, 0);
        char cert[128], key[128];
        snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
        snprintf(key, sizeof(key), "%s/key.pem", dir);

        HttpsServerOptions o = { .bind_address = "127.0.0.1", .cert_file = cert, .key_file = key,
                                 .max_body_size = 64 << 10, .connection_timeout_sec = 5, .threads = 2,
                                 .handler = webhook_handler, .userdata = (void *) &http_webhook_config };
        HttpsServer *s = NULL;
        ColoError err = {};
        assert_int_equal(https_server_start(&o, &s, &err), 0);
        char base[64];
        snprintf(base, sizeof(base), "https://127.0.0.1:%u", https_server_port(s));
        check_http_webhook(base, cert, o.max_body_size);

        /* A plain-HTTP client gets no answer from the TLS port. */
        CURL *curl = curl_easy_init();
        char url[96];
        snprintf(url, sizeof(url), "http://127.0.0.1:%u/mutate", https_server_port(s));
        HttpResult res;
        assert_true(http_request(curl, url, "{}", 2, NULL, &res) < 0 || res.status != 200);
        free(res.body);
        curl_easy_cleanup(curl);
        https_server_stop(s);

        /* A key that does not parse is an error at start-up, not at the first handshake. */
        FILE *f = fopen(key, "w");
        fputs("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n", f);
        fclose(f);
        s = NULL;
        assert_true(https_server_start(&o, &s, &err) < 0);
        assert_null(s);
        unlink(cert);
        unlink(key);
        rmdir(dir);
}

static void test_http_server_rejects_bad_options(void **state) {
        (void) state;
        AdmissionConfig cfg = ADMISSION_CONFIG_DEFAULT;
        HttpsServerOptions o = { .bind_address = "localhost", .max_body_size = 1024, .threads = 1,
                                 .handler = webhook_handler, .userdata = &cfg };
        HttpsServer *s = NULL;
        ColoError err = {};
        assert_int_equal(https_server_start(&o, &s, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "not a numeric IP address"));
        o.bind_address = "127.0.0.1";
        o.cert_file = "/nonexistent/cert.pem";
        assert_int_equal(https_server_start(&o, &s, &err), -EINVAL);
        o.key_file = "/nonexistent/key.pem";
        assert_int_equal(https_server_start(&o, &s, &err), -ENOENT);
        assert_non_null(strstr(err.msg, "TLS certificate"));
        assert_null(s);

        char addr[64];
        uint16_t port;
        assert_int_equal(https_listen_parse("0.0.0.0:8443", addr, sizeof(addr), &port), 0);
        assert_string_equal(addr, "0.0.0.0");
        assert_int_equal(port, 8443);
        assert_int_equal(https_listen_parse("[::1]:9", addr, sizeof(addr), &port), 0);
        assert_string_equal(addr, "::1");
        assert_int_equal(https_listen_parse(":80", addr, sizeof(addr), &port), 0);
        assert_string_equal(addr, "0.0.0.0");
        assert_int_equal(https_listen_parse("::1:9", addr, sizeof(addr), &port), -EINVAL);
        assert_int_equal(https_listen_parse("1.2.3.4", addr, sizeof(addr), &port), -EINVAL);
        assert_int_equal(https_listen_parse("1.2.3.4:70000", addr, sizeof(addr), &port), -EINVAL);
}

/* The real `colo webhook` binary, started by the test in plain HTTP mode. */
static void test_colo_webhook_binary(void **state) {
        (void) state;
        LocalServer l;                  /* args point at l.listen; each attempt fills it */
        char *args[] = { "webhook", "--insecure-http", "--listen", l.listen, "--max-body", "65536", NULL };
        pid_t pid = start_colo_on_free_port(args, &l);
        if (pid == 0) {
                print_message("COLO_BIN unset or not built: skipping the colo webhook binary case\n");
                skip();
        }
        assert_true(pid > 0);
        check_http_webhook(l.base, NULL, 65536);
        CURL *curl = curl_easy_init();
        char url[96];
        snprintf(url, sizeof(url), "%s/other", l.base);
        expect_http_status(curl, url, "{}", 2, 404);
        snprintf(url, sizeof(url), "%s/mutate", l.base);
        expect_http_status(curl, url, NULL, 0, 405);
        curl_easy_cleanup(curl);
        assert_int_equal(stop_colo(pid), 0);
}

/* A child that exits before it answers (here: an unknown option; in a race, a port another test
 * took) is reaped and reported as -ECHILD after every attempt, never left for the teardown to kill. */
static void test_colo_exiting_before_answering_is_reported(void **state) {
        (void) state;
        LocalServer l;
        char *args[] = { "webhook", "--insecure-http", "--listen", l.listen, "--no-such-option", NULL };
        pid_t pid = start_colo_on_free_port(args, &l);
        if (pid == 0)
                skip();
        assert_int_equal(pid, -ECHILD);
        assert_int_equal(colo_child, 0);
}

int main(void) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_admission_offline_pod_matches_golden_patch),
                cmocka_unit_test(test_admission_is_idempotent),
                cmocka_unit_test(test_admission_applied_patch_gives_converted_pod),
                cmocka_unit_test(test_admission_reinvocation_converts_what_later_webhooks_added),
                cmocka_unit_test(test_admission_online_and_compatible_pods),
                cmocka_unit_test(test_admission_rejects_contradictory_pods),
                cmocka_unit_test(test_admission_rejects_pod_variants),
                cmocka_unit_test(test_admission_online_pod_cannot_use_oversold_capacity),
                cmocka_unit_test(test_admission_replaces_cluster_default_priority_class),
                cmocka_unit_test(test_admission_allows_other_operations_untouched),
                cmocka_unit_test(test_admission_malformed_reviews_are_errors),
                cmocka_unit_test(test_admission_base64_matches_rfc4648),
                cmocka_unit_test(test_http_webhook_plain),
                cmocka_unit_test(test_http_webhook_tls),
                cmocka_unit_test(test_http_server_rejects_bad_options),
                cmocka_unit_test_teardown(test_colo_webhook_binary, teardown_colo_child),
                cmocka_unit_test_teardown(test_colo_exiting_before_answering_is_reported, teardown_colo_child),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        curl_global_cleanup();
        return r;
}
