/* Unit tests of src/lib/k8s/pod-limits: an offline pod's own limits from colo.io/original-resources
 * and its spec, as kubelet would compute the pod's limits, the knobs that enforce them, and the
 * cgroup v1 quota ordering against the offline parent. Pods are written as the API server sends
 * them after the webhook ran: cpu/memory moved to colo.io/offline-*, the annotation compact JSON
 * with sorted keys (json_dumps JSON_COMPACT | JSON_SORT_KEYS in admission.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "k8s/pod-limits.h"
#include "util/macro.h"

#define GI (INT64_C(1) << 30)
#define MI (INT64_C(1) << 20)

/* A converted container: only colo.io/offline-* left in its resources. */
#define OFFLINE_RES "\"resources\":{\"limits\":{\"colo.io/offline-cpu\":\"500\",\"colo.io/offline-memory\":\"268435456\"}," \
                    "\"requests\":{\"colo.io/offline-cpu\":\"500\",\"colo.io/offline-memory\":\"268435456\"}}"

/* A pod with the given annotation value (a JSON string literal's content, NULL: none) and spec. */
static json_t *pod(const char *annotation, const char *spec) {
        char text[8192];
        json_t *ann = annotation ? json_string(annotation) : NULL;
        char *ann_text = ann ? json_dumps(ann, JSON_ENCODE_ANY) : NULL;
        snprintf(text, sizeof(text),
                 "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"job\",\"namespace\":\"batch\","
                 "\"uid\":\"11111111-1111-4111-8111-111111111111\",\"annotations\":{\"colo.io/class\":\"offline\"%s%s}},"
                 "\"spec\":%s}",
                 ann_text ? ",\"colo.io/original-resources\":" : "", ann_text ? ann_text : "", spec);
        free(ann_text);
        json_decref(ann);
        json_error_t jerr;
        json_t *j = json_loads(text, 0, &jerr);
        if (!j)
                fail_msg("bad test pod: %s: %s", jerr.text, text);
        return j;
}

static void test_limits_follow_kubelet_pod_arithmetic(void **state) {
        (void) state;
        static const struct {
                const char *what, *annotation, *spec;
                int64_t cpu_milli, memory;
        } cases[] = {
                { "one container with limits",
                  "{\"containers\":{\"app\":{\"limits\":{\"cpu\":\"2\",\"memory\":\"1Gi\"},\"requests\":{\"cpu\":\"1\","
                  "\"memory\":\"512Mi\"}}},\"initContainers\":{}}",
                  "{\"containers\":[{\"name\":\"app\"," OFFLINE_RES "}]}", 2000, GI },
                { "app containers add up",
                  "{\"containers\":{\"app\":{\"limits\":{\"cpu\":\"1500m\",\"memory\":\"1Gi\"}},\"log\":{\"limits\":"
                  "{\"cpu\":\"250m\",\"memory\":\"64Mi\"}}},\"initContainers\":{}}",
                  "{\"containers\":[{\"name\":\"app\"," OFFLINE_RES "},{\"name\":\"log\"," OFFLINE_RES "}]}", 1750,
                  GI + 64 * MI },
                { "a larger init container wins",
                  "{\"containers\":{\"app\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"256Mi\"}}},\"initContainers\":"
                  "{\"unpack\":{\"limits\":{\"cpu\":\"3\",\"memory\":\"128Mi\"}}}}",
                  "{\"containers\":[{\"name\":\"app\"," OFFLINE_RES "}],\"initContainers\":[{\"name\":\"unpack\","
                  OFFLINE_RES "}]}", 3000, 256 * MI },
                { "requests only: no limit of either kind",
                  "{\"containers\":{\"app\":{\"requests\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}},\"initContainers\":{}}",
                  "{\"containers\":[{\"name\":\"app\"," OFFLINE_RES "}]}", 0, 0 },
                { "memory limit only",
                  "{\"containers\":{\"app\":{\"limits\":{\"memory\":\"2Gi\"}}},\"initContainers\":{}}",
                  "{\"containers\":[{\"name\":\"app\"," OFFLINE_RES "}]}", 0, 2 * GI },
                { "a container the annotation does not name has no limit",
                  "{\"containers\":{\"app\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}},\"initContainers\":{}}",
                  "{\"containers\":[{\"name\":\"app\"," OFFLINE_RES "},{\"name\":\"bare\",\"resources\":{}}]}", 0, 0 },
                { "an init container without a limit lifts the pod's",
                  "{\"containers\":{\"app\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}},\"initContainers\":{}}",
                  "{\"containers\":[{\"name\":\"app\"," OFFLINE_RES "}],\"initContainers\":[{\"name\":\"init\","
                  "\"resources\":{}}]}", 0, 0 },
                { "a sidecar (restartable init container) adds up; a later init container runs next to it",
                  "{\"containers\":{\"app\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}},\"initContainers\":"
                  "{\"migrate\":{\"limits\":{\"cpu\":\"2\",\"memory\":\"128Mi\"}},\"proxy\":{\"limits\":{\"cpu\":\"500m\","
                  "\"memory\":\"64Mi\"}}}}",
                  "{\"containers\":[{\"name\":\"app\"," OFFLINE_RES "}],\"initContainers\":[{\"name\":\"proxy\","
                  "\"restartPolicy\":\"Always\"," OFFLINE_RES "},{\"name\":\"migrate\"," OFFLINE_RES "}]}", 2500,
                  GI + 64 * MI },
                { "no annotation: the spec's limits (the webhook did not run)", NULL,
                  "{\"containers\":[{\"name\":\"app\",\"resources\":{\"limits\":{\"cpu\":\"500m\",\"memory\":\"300Mi\"},"
                  "\"requests\":{\"cpu\":\"500m\",\"memory\":\"300Mi\"}}}]}", 500, 300 * MI },
                { "no annotation, no resources: no limits", NULL,
                  "{\"containers\":[{\"name\":\"app\",\"resources\":{}}]}", 0, 0 },
                { "a zero limit counts as none, as in kubelet",
                  "{\"containers\":{\"app\":{\"limits\":{\"cpu\":\"0\",\"memory\":\"1Gi\"}}},\"initContainers\":{}}",
                  "{\"containers\":[{\"name\":\"app\"," OFFLINE_RES "}]}", 0, GI },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                json_t *p = pod(cases[i].annotation, cases[i].spec);
                PodLimits lim = { -1, -1 };
                ColoError err = {};
                if (pod_limits_from_pod(p, &lim, &err) < 0)
                        fail_msg("%s: %s", cases[i].what, err.msg);
                if (lim.cpu_milli != cases[i].cpu_milli || lim.memory != cases[i].memory)
                        fail_msg("%s: got %lld m, %lld bytes", cases[i].what, (long long) lim.cpu_milli,
                                 (long long) lim.memory);
                json_decref(p);
        }
}

static void test_malformed_annotation_is_refused_naming_the_field(void **state) {
        (void) state;
        static const char spec[] = "{\"containers\":[{\"name\":\"app\"," OFFLINE_RES "}]}";
        static const struct {
                const char *annotation;
                int r;
                const char *needle;
        } cases[] = {
                { "{\"containers\":{\"app\":{\"limits\":{\"cpu\":\"1x\"}}}}", -EINVAL, "containers.app.limits.cpu: '1x' is not a quantity" },
                { "{\"containers\":{\"app\":{\"requests\":{\"memory\":\"lots\"}}}}", -EINVAL, "containers.app.requests.memory" },
                { "{\"containers\":{\"app\":{\"limits\":{\"cpu\":2}}}}", -EINVAL, "containers.app.limits.cpu: not a quantity string" },
                { "{\"containers\":{\"app\":{\"limits\":{\"cpu\":\"-1\"}}}}", -ERANGE, "containers.app.limits.cpu" },
                { "{\"containers\":{\"app\":{\"limits\":{\"cpu\":\"5000000\"}}}}", -ERANGE, "out of range" },
                { "{\"containers\":{\"app\":{\"limits\":{\"memory\":\"2Ei\"}}}}", -ERANGE, "containers.app.limits.memory" },
                { "{\"containers\":{\"app\":{\"limits\":{\"memory\":\"99999999999999999999999\"}}}}", -ERANGE, "limits.memory" },
                { "{\"containers\":{\"app\":{\"limits\":[\"cpu\"]}}}", -EINVAL, "containers.app.limits: not an object" },
                { "{\"containers\":{\"app\":{\"limits\":{\"nvidia.com/gpu\":\"1\"}}}}", -EINVAL, "unexpected resource" },
                { "{\"containers\":{\"app\":{\"limit\":{\"cpu\":\"1\"}}}}", -EINVAL, "containers.app: unexpected key 'limit'" },
                { "{\"containers\":{\"app\":\"1\"}}", -EINVAL, "containers.app: not an object" },
                { "{\"containers\":[]}", -EINVAL, "containers: not an object" },
                { "{\"pods\":{}}", -EINVAL, "unexpected key 'pods'" },
                { "[]", -EINVAL, "not a JSON object" },
                { "{\"containers\":{\"app\":{}}", -EINVAL, "not JSON" },
                { "{\"containers\":{\"app\":{},\"app\":{}}}", -EINVAL, "not JSON" },
                { "{\"containers\":{\"other\":{\"limits\":{\"cpu\":\"1\"}}}}", -EINVAL, "containers.other: the pod has no such container" },
                { "{\"initContainers\":{\"app\":{\"limits\":{\"cpu\":\"1\"}}}}", -EINVAL, "initContainers.app: the pod has no such container" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                json_t *p = pod(cases[i].annotation, spec);
                PodLimits lim = { 7, 7 };
                ColoError err = {};
                int r = pod_limits_from_pod(p, &lim, &err);
                if (r != cases[i].r || !strstr(err.msg, cases[i].needle))
                        fail_msg("%s: r=%d '%s' lacks '%s'", cases[i].annotation, r, err.msg, cases[i].needle);
                assert_non_null(strstr(err.msg, "colo.io/original-resources"));
                assert_int_equal(lim.cpu_milli, 7);     /* untouched */
                json_decref(p);
        }
}

static void test_annotation_that_is_not_a_string_or_too_long_is_refused(void **state) {
        (void) state;
        json_t *p = pod(NULL, "{\"containers\":[{\"name\":\"app\"}]}");
        json_object_set_new(json_object_get(json_object_get(p, "metadata"), "annotations"), "colo.io/original-resources",
                            json_integer(1));
        PodLimits lim;
        ColoError err = {};
        assert_int_equal(pod_limits_from_pod(p, &lim, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "not a string"));
        json_decref(p);

        size_t n = POD_LIMITS_ANNOTATION_MAX + 1;
        char *big = malloc(n);
        assert_non_null(big);
        memset(big, ' ', n);
        PodOriginalResources *o = malloc(sizeof(*o));
        assert_non_null(o);
        assert_int_equal(pod_limits_parse_annotation(big, n, o, &err), -E2BIG);
        free(o);
        free(big);
}

static void test_summed_limits_out_of_range_are_refused(void **state) {
        (void) state;
        json_t *p = pod("{\"containers\":{\"a\":{\"limits\":{\"cpu\":\"4194304\"}},\"b\":{\"limits\":{\"cpu\":\"4194304\"}}}}",
                        "{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]}");
        PodLimits lim;
        ColoError err = {};
        assert_int_equal(pod_limits_from_pod(p, &lim, &err), -ERANGE);
        assert_non_null(strstr(err.msg, "summed"));
        json_decref(p);
}

static void test_knobs_cap_at_defaults_where_limits_are_missing(void **state) {
        (void) state;
        const PodLimitDefaults d = { .cpu_milli = 2000, .memory = 4 * GI, .pids_max = 4096 };
        static const struct {
                PodLimits lim;
                bool malformed;
                uint64_t quota, mem_max, mem_high;
        } cases[] = {
                { { 1500, GI }, false, 150000, GI, 966365184 },         /* 0.9 GiB, page-aligned down */
                { { 0, 0 }, false, 200000, 4 * GI, 3865468928 },
                { { 250, 0 }, false, 25000, 4 * GI, 3865468928 },
                { { 0, 100 * MI }, false, 200000, 100 * MI, 94371840 },
                { { 5, GI }, false, 1000, GI, 966365184 },              /* 5m: kubelet's minimum quota, 1 ms */
                { { 1000, 4096 }, false, 100000, 4096, 4096 },          /* no room below one page */
                { { 1, 1 }, true, 200000, 4 * GI, 3865468928 },         /* malformed: defaults for everything */
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                CgKnobs k;
                cg_knobs_init(&k);
                k.cpu_idle = 0;
                pod_limits_knobs(cases[i].malformed ? NULL : &cases[i].lim, &d, &k);
                assert_int_equal(k.cpu_period_usec, 100000);
                assert_int_equal(k.cpu_quota_usec, cases[i].quota);
                assert_int_equal(k.mem_max, cases[i].mem_max);
                assert_int_equal(k.mem_high, cases[i].mem_high);
                assert_int_equal(k.pids_max, 4096);
                assert_int_equal(k.cpu_idle, 0);                         /* other knobs untouched */
                assert_true(k.cpu_weight == CG_UNSET);
        }
}

static void test_v1_quota_is_clamped_to_the_offline_parent(void **state) {
        (void) state;
        static const struct {
                uint64_t pod_quota, parent_quota, parent_period, want;
        } cases[] = {
                { 200000, 100000, 100000, 100000 },     /* 2 cores under a 1-core parent */
                { 50000, 100000, 100000, 50000 },
                { 200000, 30000, 50000, 60000 },        /* 0.6 cores at another period */
                { 200000, CG_UNLIMITED, 100000, 200000 },
                { 200000, CG_UNSET, CG_UNSET, 200000 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                CgKnobs p, parent;
                cg_knobs_init(&p);
                cg_knobs_init(&parent);
                p.cpu_quota_usec = cases[i].pod_quota;
                p.cpu_period_usec = 100000;
                parent.cpu_quota_usec = cases[i].parent_quota;
                parent.cpu_period_usec = cases[i].parent_period;
                pod_limits_clamp_quota_v1(&p, &parent);
                assert_int_equal(p.cpu_quota_usec, cases[i].want);
        }
        CgKnobs p;
        cg_knobs_init(&p);
        p.cpu_quota_usec = 200000;
        p.cpu_period_usec = 100000;
        pod_limits_clamp_quota_v1(&p, NULL);
        assert_int_equal(p.cpu_quota_usec, 200000);
}

static void test_parent_quota_drop_is_detected(void **state) {
        (void) state;
        static const struct {
                uint64_t want_q, want_p, last_q, last_p;
                bool drops;
        } cases[] = {
                { 50000, 100000, 100000, 100000, true },
                { 150000, 100000, 100000, 100000, false },
                { 100000, 100000, 100000, 100000, false },
                { 50000, 50000, 100000, 100000, false },        /* same ratio */
                { 50000, 100000, CG_UNLIMITED, 100000, true },
                { 50000, 100000, CG_UNSET, CG_UNSET, true },    /* unknown: pods go first */
                { CG_UNLIMITED, 100000, 100000, 100000, false },
                { CG_UNSET, CG_UNSET, 100000, 100000, false },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                CgKnobs w, l;
                cg_knobs_init(&w);
                cg_knobs_init(&l);
                w.cpu_quota_usec = cases[i].want_q;
                w.cpu_period_usec = cases[i].want_p;
                l.cpu_quota_usec = cases[i].last_q;
                l.cpu_period_usec = cases[i].last_p;
                if (pod_limits_parent_quota_drops(&w, &l) != cases[i].drops)
                        fail_msg("case %zu", i);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_limits_follow_kubelet_pod_arithmetic),
                cmocka_unit_test(test_malformed_annotation_is_refused_naming_the_field),
                cmocka_unit_test(test_annotation_that_is_not_a_string_or_too_long_is_refused),
                cmocka_unit_test(test_summed_limits_out_of_range_are_refused),
                cmocka_unit_test(test_knobs_cap_at_defaults_where_limits_are_missing),
                cmocka_unit_test(test_v1_quota_is_clamped_to_the_offline_parent),
                cmocka_unit_test(test_parent_quota_drop_is_detected),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
