/* Unit tests of src/lib/k8s/pod-class: which pods are online or offline, in which tier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "k8s/pod-class.h"
#include "util/macro.h"

static void test_pod_class_resolves_each_marker(void **state) {
        (void) state;
        static const struct {
                PodClassInput in;
                WorkloadClass c;
                WorkloadTier t;
                PodClassSource source;
        } cases[] = {
                { { .class_annotation = "offline" }, CLASS_OFFLINE, TIER_BATCH, POD_CLASS_SOURCE_ANNOTATION },
                { { .class_annotation = "online" }, CLASS_ONLINE, TIER_NORMAL, POD_CLASS_SOURCE_ANNOTATION },
                { { .class_annotation = "offline", .tier_annotation = "best-effort" }, CLASS_OFFLINE, TIER_BEST_EFFORT,
                  POD_CLASS_SOURCE_ANNOTATION },
                { { .tier_annotation = "critical" }, CLASS_ONLINE, TIER_CRITICAL, POD_CLASS_SOURCE_TIER },
                { { .tier_annotation = "batch" }, CLASS_OFFLINE, TIER_BATCH, POD_CLASS_SOURCE_TIER },
                { { .koordinator_qos = "BE" }, CLASS_OFFLINE, TIER_BATCH, POD_CLASS_SOURCE_KOORDINATOR },
                { { .koordinator_qos = "LS" }, CLASS_ONLINE, TIER_NORMAL, POD_CLASS_SOURCE_KOORDINATOR },
                { { .koordinator_qos = "LSR" }, CLASS_ONLINE, TIER_CRITICAL, POD_CLASS_SOURCE_KOORDINATOR },
                { { .volcano_preemptable = "true" }, CLASS_OFFLINE, TIER_BATCH, POD_CLASS_SOURCE_VOLCANO },
                { { .volcano_preemptable = "false" }, CLASS_ONLINE, TIER_NORMAL, POD_CLASS_SOURCE_VOLCANO },
                { { .priority_class_name = "colo-offline" }, CLASS_OFFLINE, TIER_BATCH, POD_CLASS_SOURCE_PRIORITY_CLASS },
                { { .priority_class_name = "high" }, CLASS_ONLINE, TIER_NORMAL, POD_CLASS_SOURCE_DEFAULT },
                { { .has_priority = true, .priority = -1 }, CLASS_OFFLINE, TIER_BATCH, POD_CLASS_SOURCE_PRIORITY },
                { { .has_priority = true, .priority = 0 }, CLASS_ONLINE, TIER_NORMAL, POD_CLASS_SOURCE_PRIORITY },
                { { .has_priority = true, .priority = 1000000000 }, CLASS_ONLINE, TIER_NORMAL, POD_CLASS_SOURCE_PRIORITY },
                { { .has_priority = true, .priority = 2000001000 }, CLASS_ONLINE, TIER_CRITICAL, POD_CLASS_SOURCE_PRIORITY },
                { {}, CLASS_ONLINE, TIER_NORMAL, POD_CLASS_SOURCE_DEFAULT },
                /* An explicit marker beats the priority fallback. */
                { { .class_annotation = "online", .has_priority = true, .priority = -100 }, CLASS_ONLINE, TIER_NORMAL,
                  POD_CLASS_SOURCE_ANNOTATION },
                /* Agreeing markers: the tier comes from the one that names it. */
                { { .koordinator_qos = "LSE", .volcano_preemptable = "false" }, CLASS_ONLINE, TIER_CRITICAL,
                  POD_CLASS_SOURCE_KOORDINATOR },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                for (PodClassMode mode = POD_CLASS_STRICT; mode <= POD_CLASS_PRECEDENCE; mode++) {
                        PodClass pc = {};
                        ColoError err = {};
                        int r = pod_class_resolve(&cases[i].in, mode, &pc, &err);
                        if (r != 0 || pc.workload_class != cases[i].c || pc.tier != cases[i].t ||
                            pc.source != cases[i].source || pc.conflict)
                                fail_msg("case %zu mode %d: r=%d (%s) class=%d tier=%d source=%d", i, mode, r, err.msg,
                                         pc.workload_class, pc.tier, pc.source);
                }
        }
}

static void test_pod_class_strict_rejects_contradictions(void **state) {
        (void) state;
        static const struct {
                PodClassInput in;
                const char *needle;
        } cases[] = {
                { { .class_annotation = "offline", .koordinator_qos = "LS" }, "koordinator.sh/qosClass 'LS'" },
                { { .class_annotation = "online", .tier_annotation = "batch" }, "colo.io/tier 'batch'" },
                { { .class_annotation = "online", .priority_class_name = "colo-offline" }, "priorityClassName" },
                { { .volcano_preemptable = "true", .koordinator_qos = "LSE" }, "contradictory" },
                { { .class_annotation = "batchy" }, "'batchy' is not a class" },
                { { .tier_annotation = "gold" }, "'gold' is not a tier" },
                { { .koordinator_qos = "XX" }, "not a Koordinator QoS class" },
                { { .volcano_preemptable = "yes" }, "must be \"true\" or \"false\"" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                PodClass pc = { .workload_class = 42 };
                ColoError err = {};
                assert_int_equal(pod_class_resolve(&cases[i].in, POD_CLASS_STRICT, &pc, &err), -EINVAL);
                assert_int_equal(pc.workload_class, 42);
                if (!strstr(err.msg, cases[i].needle))
                        fail_msg("case %zu: message '%s' lacks '%s'", i, err.msg, cases[i].needle);
        }
}

static void test_pod_class_precedence_lets_colo_annotation_win(void **state) {
        (void) state;
        /* A running offline pod whose annotation was edited to online: it is online now. */
        PodClassInput in = { .class_annotation = "online", .priority_class_name = "colo-offline",
                             .koordinator_qos = "BE", .tier_annotation = "batch" };
        PodClass pc;
        assert_int_equal(pod_class_resolve(&in, POD_CLASS_PRECEDENCE, &pc, NULL), 0);
        assert_int_equal(pc.workload_class, CLASS_ONLINE);
        assert_int_equal(pc.tier, TIER_NORMAL);
        assert_true(pc.conflict);
        /* ... and back. */
        in.class_annotation = "offline";
        assert_int_equal(pod_class_resolve(&in, POD_CLASS_PRECEDENCE, &pc, NULL), 0);
        assert_int_equal(pc.workload_class, CLASS_OFFLINE);
        assert_int_equal(pc.tier, TIER_BATCH);
        assert_false(pc.conflict);
        /* Unknown foreign values are ignored at run time, unknown colo values are not. */
        PodClassInput foreign = { .koordinator_qos = "XX", .volcano_preemptable = "true" };
        assert_int_equal(pod_class_resolve(&foreign, POD_CLASS_PRECEDENCE, &pc, NULL), 0);
        assert_int_equal(pc.workload_class, CLASS_OFFLINE);
        PodClassInput bad = { .class_annotation = "Offline" };
        assert_int_equal(pod_class_resolve(&bad, POD_CLASS_PRECEDENCE, &pc, NULL), -EINVAL);
}

static json_t *load(const char *text) {
        json_error_t jerr;
        json_t *j = json_loads(text, 0, &jerr);
        if (!j)
                fail_msg("bad test JSON: %s", jerr.text);
        return j;
}

static void test_pod_class_reads_pod_json(void **state) {
        (void) state;
        static const struct {
                const char *pod;
                WorkloadClass c;
                PodClassSource source;
        } cases[] = {
                { "{\"metadata\":{\"annotations\":{\"colo.io/class\":\"offline\"}},\"spec\":{}}", CLASS_OFFLINE,
                  POD_CLASS_SOURCE_ANNOTATION },
                { "{\"metadata\":{\"labels\":{\"koordinator.sh/qosClass\":\"BE\"}},\"spec\":{\"priority\":0}}", CLASS_OFFLINE,
                  POD_CLASS_SOURCE_KOORDINATOR },
                { "{\"metadata\":{\"annotations\":{\"volcano.sh/preemptable\":\"true\"}}}", CLASS_OFFLINE,
                  POD_CLASS_SOURCE_VOLCANO },
                { "{\"metadata\":{\"labels\":{\"volcano.sh/preemptable\":\"true\"}}}", CLASS_OFFLINE, POD_CLASS_SOURCE_VOLCANO },
                { "{\"metadata\":{\"annotations\":null},\"spec\":{\"priorityClassName\":\"colo-offline\",\"priority\":-100}}",
                  CLASS_OFFLINE, POD_CLASS_SOURCE_PRIORITY_CLASS },
                { "{\"spec\":{\"priority\":-5}}", CLASS_OFFLINE, POD_CLASS_SOURCE_PRIORITY },
                { "{}", CLASS_ONLINE, POD_CLASS_SOURCE_DEFAULT },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                json_auto_t *pod = load(cases[i].pod);
                PodClass pc;
                ColoError err = {};
                if (pod_class_from_json(pod, POD_CLASS_STRICT, &pc, &err) != 0 || pc.workload_class != cases[i].c ||
                    pc.source != cases[i].source)
                        fail_msg("case %zu: %s", i, err.msg);
        }
}

static void test_pod_class_rejects_wrong_json_types(void **state) {
        (void) state;
        static const struct {
                const char *pod;
                const char *needle;
        } cases[] = {
                { "[]", "pod: not an object" },
                { "{\"metadata\":[]}", "metadata: not an object" },
                { "{\"metadata\":{\"annotations\":\"x\"}}", "metadata.annotations: not an object" },
                { "{\"metadata\":{\"annotations\":{\"colo.io/class\":1}}}", "not a string" },
                { "{\"metadata\":{\"labels\":{\"koordinator.sh/qosClass\":true}}}", "metadata.labels" },
                { "{\"spec\":{\"priority\":\"high\"}}", "spec.priority" },
                { "{\"spec\":{\"priority\":4294967296}}", "spec.priority" },
                { "{\"spec\":{\"priorityClassName\":7}}", "spec.priorityClassName" },
                { "{\"spec\":3}", "spec: not an object" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                json_auto_t *pod = load(cases[i].pod);
                PodClass pc;
                ColoError err = {};
                assert_int_equal(pod_class_from_json(pod, POD_CLASS_PRECEDENCE, &pc, &err), -EINVAL);
                if (!strstr(err.msg, cases[i].needle))
                        fail_msg("case %zu: message '%s' lacks '%s'", i, err.msg, cases[i].needle);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pod_class_resolves_each_marker),
                cmocka_unit_test(test_pod_class_strict_rejects_contradictions),
                cmocka_unit_test(test_pod_class_precedence_lets_colo_annotation_win),
                cmocka_unit_test(test_pod_class_reads_pod_json),
                cmocka_unit_test(test_pod_class_rejects_wrong_json_types),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
