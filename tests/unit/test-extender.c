/* Unit tests of src/lib/extender (with k8s/node-annotation and extender-node-source) on complete
 * ExtenderArgs documents, and HTTP-level tests of `colo extender` on 127.0.0.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "extender/extender-node-source.h"
#include "extender/extender.h"
#include "extender/go-json-key.h"
#include "httpd/https-server.h"
#include "k8s/node-annotation.h"
#include "k8s-test-util.h"

/* The fixtures' annotations were updated at 12:00:00; the stale one a day earlier. */
#define NOW_USEC (UINT64_C(1714565100) * USEC_PER_SEC)          /* 2024-05-01T12:05:00Z */

static json_t *handle_fixture(const char *name, ExtenderVerb verb, const ExtenderNodeSet *set, uint64_t now,
                              ExtenderStats *stats) {
        ExtenderConfig cfg = EXTENDER_CONFIG_DEFAULT;
        size_t size;
        _cleanup_free_ char *body = fixture_text(name, &size);
        _cleanup_free_ char *out = NULL;
        size_t out_size;
        ColoError err = {};
        if (extender_handle(&cfg, verb, set, body, size, now, &out, &out_size, stats, &err) != 0)
                fail_msg("%s: %s", name, err.msg);
        assert_int_equal(out_size, strlen(out));
        json_t *j = json_loads(out, 0, NULL);
        assert_non_null(j);
        return j;
}

static void expect_golden(json_t *got, const char *golden_name) {
        json_auto_t *golden = fixture_json(golden_name);
        if (!json_equal(got, golden)) {
                _cleanup_free_ char *text = json_dumps(got, JSON_INDENT(2));
                fail_msg("differs from %s:\n%s", golden_name, text);
        }
}

static void test_node_usage_round_trips(void **state) {
        (void) state;
        NodeUsage u = { .cpu_capacity_milli = 8000, .mem_capacity = INT64_C(33554432000), .cpu_usage_milli = 2100,
                        .cpu_peak_milli = 3500, .mem_usage = INT64_C(9663676416), .mem_peak = INT64_C(12884901888),
                        .offline_cpu_milli = 3000, .offline_memory = INT64_C(8589934592),
                        .offline_cpu_requested_milli = 1500, .offline_memory_requested = INT64_C(4294967296),
                        .updated_usec = UINT64_C(1714564800) * USEC_PER_SEC };
        _cleanup_free_ char *text = NULL;
        ColoError err = {};
        assert_int_equal(node_usage_format(&u, &text, &err), 0);
        assert_non_null(strstr(text, "\"updated\":\"2024-05-01T12:00:00Z\""));
        assert_non_null(strstr(text, "\"cpuPeakMilli\":3500"));
        /* Byte for byte what the agents in the fleet write (and the extenders there read). */
        assert_string_equal(text, "{\"cpuCapacityMilli\":8000,\"memCapacity\":33554432000,\"cpuUsageMilli\":2100,"
                                  "\"cpuPeakMilli\":3500,\"memUsage\":9663676416,\"memPeak\":12884901888,"
                                  "\"offlineCpuMilli\":3000,\"offlineMemory\":8589934592,"
                                  "\"offlineCpuRequestedMilli\":1500,\"offlineMemoryRequested\":4294967296,"
                                  "\"updated\":\"2024-05-01T12:00:00Z\"}");
        NodeUsage back;
        assert_int_equal(node_usage_parse(text, strlen(text), &back, &err), 0);
        assert_memory_equal(&u, &back, sizeof(u));

        NodeUsage neg = u;
        neg.mem_peak = -1;
        char *none = NULL;
        assert_int_equal(node_usage_format(&neg, &none, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "memPeak"));
        assert_null(none);
}

static void test_node_usage_rejects_bad_annotations(void **state) {
        (void) state;
        static const struct {
                const char *text;
                const char *needle;
        } cases[] = {
                { "", "not JSON" },
                { "[]", "not a JSON object" },
                { "{\"cpuCapacityMilli\":1}", "missing \"memCapacity\"" },
                { "{\"cpuCapacityMilli\":1,\"memCapacity\":1,\"cpuUsageMilli\":1,\"cpuPeakMilli\":-5,\"memUsage\":1,"
                  "\"memPeak\":1,\"offlineCpuMilli\":1,\"offlineMemory\":1,\"updated\":\"2024-05-01T12:00:00Z\"}",
                  "\"cpuPeakMilli\" is not a non-negative integer" },
                { "{\"cpuCapacityMilli\":1,\"memCapacity\":1,\"cpuUsageMilli\":1,\"cpuPeakMilli\":1.5,\"memUsage\":1,"
                  "\"memPeak\":1,\"offlineCpuMilli\":1,\"offlineMemory\":1,\"updated\":\"2024-05-01T12:00:00Z\"}",
                  "\"cpuPeakMilli\"" },
                { "{\"cpuCapacityMilli\":1,\"memCapacity\":1,\"cpuUsageMilli\":1,\"cpuPeakMilli\":1,\"memUsage\":1,"
                  "\"memPeak\":1,\"offlineCpuMilli\":1,\"offlineMemory\":1,\"updated\":\"yesterday\"}",
                  "'yesterday' is not RFC 3339" },
                { "{\"cpuCapacityMilli\":1,\"memCapacity\":1,\"cpuUsageMilli\":1,\"cpuPeakMilli\":1,\"memUsage\":1,"
                  "\"memPeak\":1,\"offlineCpuMilli\":1,\"offlineMemory\":1}",
                  "\"updated\" missing" },
                { "{\"cpuCapacityMilli\":1,\"cpuCapacityMilli\":2}", "duplicate key \"cpuCapacityMilli\"" },
                { "{\"cpuCapacityMilli\":{\"a\":1}}", "\"cpuCapacityMilli\" is not a non-negative integer" },
                { "{\"cpuCapacityMilli\":1e3}", "\"cpuCapacityMilli\" is not a non-negative integer" },
                { "{\"cpuCapacityMilli\":99999999999999999999}", "\"cpuCapacityMilli\" is not a non-negative integer" },
                { "{\"cpuCapacityMilli\":1,\"memCapacity\":1,\"cpuUsageMilli\":1,\"cpuPeakMilli\":1,\"memUsage\":1,"
                  "\"memPeak\":1,\"offlineCpuMilli\":1,\"offlineMemory\":1,\"updated\":7}",
                  "\"updated\" missing or not a string" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                NodeUsage u = { .cpu_peak_milli = 77 };
                ColoError err = {};
                assert_int_equal(node_usage_parse(cases[i].text, strlen(cases[i].text), &u, &err), -EINVAL);
                assert_int_equal(u.cpu_peak_milli, 77);
                if (!strstr(err.msg, cases[i].needle))
                        fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].needle);
        }
        char big[NODE_USAGE_ANNOTATION_MAX + 2];
        memset(big, ' ', sizeof(big));
        NodeUsage u;
        assert_int_equal(node_usage_parse(big, sizeof(big), &u, NULL), -EINVAL);
}

static void test_rfc3339_parses_offsets_and_fractions(void **state) {
        (void) state;
        static const struct {
                const char *text;
                uint64_t usec;
        } ok[] = {
                { "2024-05-01T12:00:00Z", UINT64_C(1714564800000000) },
                { "2024-05-01T12:00:00.25Z", UINT64_C(1714564800250000) },
                { "2024-05-01T14:00:00+02:00", UINT64_C(1714564800000000) },
                { "2024-05-01t07:30:00-04:30", UINT64_C(1714564800000000) },
                { "1970-01-01T00:00:00Z", 0 },
        };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                uint64_t v = 1;
                assert_int_equal(rfc3339_parse(ok[i].text, &v), 0);
                assert_int_equal(v, ok[i].usec);
        }
        static const char *const bad[] = { "", "2024-05-01", "2024-05-01T12:00:00", "2024-13-01T00:00:00Z",
                                           "2024-02-31T00:00:00Z", "2024-05-01T12:00:00ZZ", "2024-05-01T12:00:00+2",
                                           "1969-12-31T23:59:59Z", "2024-05-01T24:00:00Z", "2024-05-01T12:00:00." };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                uint64_t v;
                if (rfc3339_parse(bad[i], &v) != -EINVAL)
                        fail_msg("'%s' accepted", bad[i]);
        }
        char buf[64];
        assert_true(rfc3339_format(UINT64_C(1714564800999999), buf, sizeof(buf)) > 0);
        assert_string_equal(buf, "2024-05-01T12:00:00Z");
}

static void test_extender_filters_online_pod_on_predicted_peak(void **state) {
        (void) state;
        ExtenderStats stats;
        json_auto_t *r = handle_fixture("extender-args-online.json", EXTENDER_FILTER, NULL, NOW_USEC, &stats);
        expect_golden(r, "extender-filter-online.golden.json");
        assert_false(stats.offline);
        assert_int_equal(stats.candidates, 5);
        assert_int_equal(stats.passed, 3);
        assert_int_equal(stats.without_data, 2);
        assert_string_equal(stats.pod, "shop/api-6c9d");
}

static void test_extender_filters_offline_pod_on_current_budget(void **state) {
        (void) state;
        ExtenderStats stats;
        json_auto_t *r = handle_fixture("extender-args-offline.json", EXTENDER_FILTER, NULL, NOW_USEC, &stats);
        expect_golden(r, "extender-filter-offline.golden.json");
        assert_true(stats.offline);
}

static void test_extender_prioritizes(void **state) {
        (void) state;
        json_auto_t *online = handle_fixture("extender-args-online.json", EXTENDER_PRIORITIZE, NULL, NOW_USEC, NULL);
        expect_golden(online, "extender-prioritize-online.golden.json");
        json_auto_t *offline = handle_fixture("extender-args-offline.json", EXTENDER_PRIORITIZE, NULL, NOW_USEC, NULL);
        expect_golden(offline, "extender-prioritize-offline.golden.json");
        size_t i;
        const json_t *hp;
        json_array_foreach(offline, i, hp) {
                json_int_t score = json_integer_value(json_object_get(hp, "Score"));
                assert_true(score >= 0 && score <= EXTENDER_MAX_PRIORITY);
        }
}

static void test_extender_fails_open_when_data_is_stale(void **state) {
        (void) state;
        /* A day later every annotation is stale: all nodes pass and nobody gets a bonus. */
        uint64_t later = NOW_USEC + 86400 * USEC_PER_SEC;
        ExtenderStats stats;
        json_auto_t *r = handle_fixture("extender-args-online.json", EXTENDER_FILTER, NULL, later, &stats);
        assert_int_equal(json_array_size(json_object_get(json_object_get(r, "Nodes"), "items")), 5);
        assert_int_equal(json_object_size(json_object_get(r, "FailedAndUnresolvableNodes")), 0);
        assert_int_equal(stats.without_data, 5);
        json_auto_t *p = handle_fixture("extender-args-offline.json", EXTENDER_PRIORITIZE, NULL, later, NULL);
        size_t i;
        const json_t *hp;
        json_array_foreach(p, i, hp) assert_int_equal(json_integer_value(json_object_get(hp, "Score")), 0);
}

static ExtenderNodeSet *fixture_node_set(void) {
        _cleanup_free_ char *path = fixture_path("extender-nodes.json");
        ExtenderNodeSet *set = NULL;
        ColoError err = {};
        if (extender_nodes_load_file(path, &set, &err) < 0)
                fail_msg("%s", err.msg);
        return set;
}

static void test_extender_serves_nodenames_from_node_set(void **state) {
        (void) state;
        _cleanup_(extender_node_set_unrefp) ExtenderNodeSet *set = fixture_node_set();
        assert_int_equal(extender_node_set_size(set), 5);
        const ExtenderNode *b = extender_node_set_find(set, "node-b");
        assert_non_null(b);
        assert_int_equal(b->alloc_cpu_milli, 4000);
        assert_int_equal(b->alloc_offline_cpu_milli, 3000);
        assert_true(b->has_usage);
        assert_int_equal(b->usage.cpu_peak_milli, 3000);
        assert_null(extender_node_set_find(set, "node-z"));

        json_auto_t *r = handle_fixture("extender-args-nodenames.json", EXTENDER_FILTER, set, NOW_USEC, NULL);
        expect_golden(r, "extender-filter-nodenames.golden.json");
        json_auto_t *p = handle_fixture("extender-args-nodenames.json", EXTENDER_PRIORITIZE, set, NOW_USEC, NULL);
        assert_int_equal(json_array_size(p), 6);
        assert_string_equal(json_string_value(json_object_get(json_array_get(p, 0), "Host")), "node-a");
        assert_int_equal(json_integer_value(json_object_get(json_array_get(p, 0), "Score")), 5);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(p, 5), "Score")), 0);   /* unknown */
}

static void test_extender_without_node_data_reports_error(void **state) {
        (void) state;
        json_auto_t *r = handle_fixture("extender-args-nodenames.json", EXTENDER_FILTER, NULL, NOW_USEC, NULL);
        const char *error = json_string_value(json_object_get(r, "Error"));
        assert_non_null(error);
        assert_non_null(strstr(error, "nodeCacheCapable: false"));
        assert_null(json_object_get(r, "NodeNames"));

        ExtenderConfig cfg = EXTENDER_CONFIG_DEFAULT;
        size_t size;
        _cleanup_free_ char *body = fixture_text("extender-args-nodenames.json", &size);
        char *out = NULL;
        size_t n;
        ColoError err = {};
        assert_int_equal(extender_handle(&cfg, EXTENDER_PRIORITIZE, NULL, body, size, NOW_USEC, &out, &n, NULL, &err),
                         -EINVAL);
        assert_null(out);
        assert_non_null(strstr(err.msg, "nodeCacheCapable"));
}

/* bytes.EqualFold, as encoding/json applies it to untagged fields. */
static void test_go_json_key_matches_like_encoding_json(void **state) {
        (void) state;
        static const struct {
                const char *key, *field;
                bool match;
        } cases[] = {
                { "NodeNames", "NodeNames", true },  { "nodenames", "NodeNames", true },
                { "NODENAMES", "NodeNames", true },  { "nOdEnAmEs", "NodeNames", true },
                { "NodeName\xc5\xbf", "NodeNames", true },        /* U+017F long s */
                { "\xe2\x84\xaaind", "Kind", true },              /* U+212A Kelvin sign */
                { "NodeName", "NodeNames", false },  { "NodeNamess", "NodeNames", false },
                { "Node_Names", "NodeNames", false }, { "", "Pod", false },
                { "P\xc3\xb3" "d", "Pod", false },     { "\xc5\xbfod", "Pod", false },
                { "Pod\xe2\x84", "Pod", false },    { "Po\xe2\x84\xaa", "Pok", true },
                { "Po@", "Po`", false },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                if (go_json_key_matches((const unsigned char *) cases[i].key, strlen(cases[i].key), cases[i].field) !=
                    cases[i].match)
                        fail_msg("case %zu: '%s' vs field %s", i, cases[i].key, cases[i].field);
}

/* Copy of text with the first from replaced by to. */
static char *replace_once(const char *text, const char *from, const char *to) {
        const char *at = strstr(text, from);
        char *out = NULL;
        if (!at)
                print_error("'%s' not in the fixture\n", from);
        if (!at || asprintf(&out, "%.*s%s%s", (int) (at - text), text, to, at + strlen(from)) < 0)
                abort();
        return out;
}

/* Runs body through both verbs and compares the answers with the golden files. */
static void expect_answers(const char *body, const ExtenderNodeSet *set, const char *filter_golden,
                           const char *prioritize_golden) {
        ExtenderConfig cfg = EXTENDER_CONFIG_DEFAULT;
        for (ExtenderVerb verb = EXTENDER_FILTER; verb < _EXTENDER_VERB_MAX; verb++) {
                const char *golden = verb == EXTENDER_FILTER ? filter_golden : prioritize_golden;
                _cleanup_free_ char *out = NULL;
                size_t out_size;
                ColoError err = {};
                if (extender_handle(&cfg, verb, set, body, strlen(body), NOW_USEC, &out, &out_size, NULL, &err) != 0)
                        fail_msg("%s: %s", golden, err.msg);
                json_auto_t *got = json_loads(out, 0, NULL);
                assert_non_null(got);
                expect_golden(got, golden);
        }
}

/* Requests as kube-scheduler's encoding/json writes them ("Pod", "Nodes", "NodeNames", the unused
 * list null) get the same answers as a Go extender would give for any case of those keys, with
 * the unused list null or absent. */
static void test_extender_reads_args_as_go_does(void **state) {
        (void) state;
        _cleanup_(extender_node_set_unrefp) ExtenderNodeSet *set = fixture_node_set();
        static const struct {
                const char *fixture, *from, *to;
                bool by_name;
                const char *filter, *prioritize;
        } cases[] = {
                { "extender-args-online.json", "\"Pod\"", "\"Pod\"", false, "extender-filter-online.golden.json",
                  "extender-prioritize-online.golden.json" },
                { "extender-args-offline.json", "\"Pod\"", "\"Pod\"", false, "extender-filter-offline.golden.json",
                  "extender-prioritize-offline.golden.json" },
                { "extender-args-nodenames.json", "\"Pod\"", "\"Pod\"", true, "extender-filter-nodenames.golden.json",
                  "extender-prioritize-nodenames.golden.json" },
                { "extender-args-offline-nodenames.json", "\"Pod\"", "\"Pod\"", true,
                  "extender-filter-offline-nodenames.golden.json", "extender-prioritize-offline-nodenames.golden.json" },
                /* other cases of the keys */
                { "extender-args-online.json", "\"Pod\"", "\"pod\"", false, "extender-filter-online.golden.json",
                  "extender-prioritize-online.golden.json" },
                { "extender-args-online.json", "\"Nodes\"", "\"nODES\"", false, "extender-filter-online.golden.json",
                  "extender-prioritize-online.golden.json" },
                { "extender-args-nodenames.json", "\"NodeNames\"", "\"NODENAMES\"", true,
                  "extender-filter-nodenames.golden.json", "extender-prioritize-nodenames.golden.json" },
                { "extender-args-nodenames.json", "\"NodeNames\"", "\"nodenames\"", true,
                  "extender-filter-nodenames.golden.json", "extender-prioritize-nodenames.golden.json" },
                /* U+017F LATIN SMALL LETTER LONG S folds to 's' in Go's key matching */
                { "extender-args-offline-nodenames.json", "\"NodeNames\"", "\"NodeName\xc5\xbf\"", true,
                  "extender-filter-offline-nodenames.golden.json", "extender-prioritize-offline-nodenames.golden.json" },
                /* the unused list absent instead of null */
                { "extender-args-online.json", ",\n  \"NodeNames\": null", "", false, "extender-filter-online.golden.json",
                  "extender-prioritize-online.golden.json" },
                { "extender-args-nodenames.json", "\"Nodes\": null,", "", true, "extender-filter-nodenames.golden.json",
                  "extender-prioritize-nodenames.golden.json" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *text = fixture_text(cases[i].fixture, NULL);
                _cleanup_free_ char *body = replace_once(text, cases[i].from, cases[i].to);
                expect_answers(body, cases[i].by_name ? set : NULL, cases[i].filter, cases[i].prioritize);
        }
}

typedef struct HandleCall {
        const ExtenderConfig *cfg;
        ExtenderVerb verb;
} HandleCall;

static int handle_body(const char *body, size_t size, char **ret_out, size_t *ret_size, ColoError *err,
                       void *userdata) {
        const HandleCall *call = userdata;
        return extender_handle(call->cfg, call->verb, NULL, body, size, NOW_USEC, ret_out, ret_size, NULL, err);
}

static void test_extender_rejects_malformed_args(void **state) {
        (void) state;
        ExtenderConfig cfg = EXTENDER_CONFIG_DEFAULT;
        static const RejectedFixture cases[] = {
                { "extender-malformed-not-json.json", "not JSON" },
                { "extender-malformed-no-pod.json", "ExtenderArgs.Pod: missing" },
                { "extender-malformed-wrong-types.json", "ExtenderArgs.Nodes: not a NodeList" },
                { "extender-malformed-nameless-node.json", "ExtenderArgs.Nodes.items[0]: node without metadata.name" },
        };
        for (ExtenderVerb verb = EXTENDER_FILTER; verb < _EXTENDER_VERB_MAX; verb++)
                expect_fixtures_rejected(cases, ELEMENTSOF(cases), handle_body, &(HandleCall) { &cfg, verb });
        static const char *const bodies[] = {
                "[]", "{}", "{\"Pod\":{}}", "{\"Pod\":{\"spec\":{\"containers\":[]}}}",
                "{\"Pod\":{\"spec\":{\"containers\":[]}},\"NodeNames\":[1]}",
                "{\"Pod\":{\"spec\":{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"lots\"}}}]}},\"Nodes\":{\"items\":[]}}",
                "{\"Pod\":{\"spec\":{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"-1\"}}}]}},\"Nodes\":{\"items\":[]}}",
                "{\"Pod\":{\"metadata\":{\"annotations\":{\"colo.io/class\":\"maybe\"}},\"spec\":{\"containers\":[]}},\"Nodes\":{}}",
                "{\"Pod\":{\"spec\":{\"containers\":[]}},\"Nodes\":{\"items\":[]},\"Nodes\":{\"items\":[]}}",
                "{\"Pod\":{\"spec\":{\"containers\":[]},\"spec\":{}},\"NodeNames\":[]}",
                "{\"Pod\":{\"spec\":{\"containers\":[]}},\"NodeNames\":[[\"n\"]]}",
                "{\"Pod\":{\"spec\":{\"containers\":[]}},\"Nodes\":{\"items\":[[]]}}",
                "{\"Pod\":{\"spec\":{\"containers\":[]}},\"Nodes\":[]}",
                "{\"Pod\":[],\"NodeNames\":[]}",
                "{\"Pod\":{\"spec\":{\"containers\":[]}},\"NodeNames\":[]}{}",
                "{\"Pod\":{\"spec\":{\"containers\":[]}},\"Nodes\":{\"items\":[],\"items\":[]}}",
                "{\"Pod\":{\"spec\":{\"containers\":[]}},\"Nodes\":{\"items\":[{\"metadata\":{\"name\":\"a\"}\v}]}}",
                "{\"Pod\":{\"spec\":{\"containers\":[]}},\"NodeNames\":[\"\xc0\x96\"]}",
                "{\"Pod\":{\"spec\":{\"containers\":[]}},\"NodeNames\":[\"\xed\xa0\x80\"]}",
                "{\"Pod\":{\"spec\":{\"containers\":[]}},\"NodeNames\":[\"\xf4\x90\x80\x80\"]}",
                "{\"Pod\":{\"spec\":{\"containers\":[]}},\"NodeNames\":[\"\xe2\x82\"]}",
                "{\"Pod\":{\"spec\":{\"containers\":[]}},\"Nodes\":{\"items\":[{\"metadata\":{\"name\":\"a\",\"annotations\":{},\"annotations\":{}}}]}}",
                "{\"Pod\":{\"spec\":{\"containers\":[]}},\"Nodes\":{\"items\":[{\"metadata\":{\"name\":\"a\",\"name\":\"b\"}}]}}",
                /* Both lists null or absent; a key no Go field folds to; Pod twice under case folding
                 * (a Go reader would keep the last, colo refuses the ambiguity). */
                "{\"Pod\":{\"spec\":{\"containers\":[]}},\"Nodes\":null,\"NodeNames\":null}",
                "{\"Pod\":{\"spec\":{\"containers\":[]}},\"Node_Names\":[]}",
                "{\"Pod\":{\"spec\":{\"containers\":[]}},\"pod\":{\"spec\":{\"containers\":[]}},\"NodeNames\":[]}",
                "{\"Pod\":null,\"NodeNames\":[]}",
        };
        expect_bodies_rejected(bodies, ELEMENTSOF(bodies), handle_body, &(HandleCall) { &cfg, EXTENDER_FILTER });
        cfg.max_request_size = 16;
        char *out = NULL;
        size_t n;
        const char *small = "{\"Pod\":{},\"Nodes\":{\"items\":[]}}";
        assert_int_equal(extender_handle(&cfg, EXTENDER_FILTER, NULL, small, strlen(small), NOW_USEC, &out, &n, NULL, NULL),
                         -EMSGSIZE);
        _cleanup_free_ char *e = extender_error_body("bad \"args\"", &n);
        assert_string_equal(e, "{\"Error\":\"bad \\\"args\\\"\"}");
}

static void test_extender_empty_and_tolerant_nodes(void **state) {
        (void) state;
        ExtenderConfig cfg = EXTENDER_CONFIG_DEFAULT;
        /* Multi-byte UTF-8 in names is echoed as it came (é, €, U+10348). */
        const char *utf8 = "{\"pod\":{\"spec\":{\"containers\":[]}},\"nodes\":{\"items\":["
                           "{\"metadata\":{\"name\":\"n\xc3\xa9\xe2\x82\xac\xf0\x90\x8d\x88\"}}]}}";
        _cleanup_free_ char *echo = NULL;
        size_t echo_size;
        assert_int_equal(extender_handle(&cfg, EXTENDER_FILTER, NULL, utf8, strlen(utf8), NOW_USEC, &echo, &echo_size,
                                         NULL, NULL), 0);
        assert_non_null(strstr(echo, "n\xc3\xa9\xe2\x82\xac\xf0\x90\x8d\x88"));
        /* No candidates, an annotation that does not parse, quantities that do not parse: all pass. */
        const char *body = "{\"pod\":{\"spec\":{\"containers\":[{\"name\":\"a\"}]}},\"nodes\":{\"items\":["
                           "{\"metadata\":{\"name\":\"n1\",\"annotations\":{\"colo.io/node-usage\":\"{broken\"}},"
                           "\"status\":{\"allocatable\":{\"cpu\":\"many\"}}},"
                           "{\"metadata\":{\"name\":\"n2\"}}]}}";
        _cleanup_free_ char *out = NULL;
        size_t n;
        ExtenderStats stats;
        assert_int_equal(extender_handle(&cfg, EXTENDER_FILTER, NULL, body, strlen(body), NOW_USEC, &out, &n, &stats, NULL), 0);
        assert_int_equal(stats.passed, 2);
        assert_int_equal(stats.without_data, 2);
        const char *empty = "{\"pod\":{\"spec\":{\"containers\":[]}},\"nodes\":{\"items\":null}}";
        _cleanup_free_ char *out2 = NULL;
        assert_int_equal(extender_handle(&cfg, EXTENDER_PRIORITIZE, NULL, empty, strlen(empty), NOW_USEC, &out2, &n, NULL, NULL), 0);
        assert_string_equal(out2, "[]");
}

static void test_extender_node_set_and_cache(void **state) {
        (void) state;
        static const struct {
                const char *text;
                const char *needle;
        } bad[] = {
                { "{\"items\":[{\"metadata\":{\"name\":\"a\"}},{\"metadata\":{\"name\":\"a\"}}]}", "'a' listed twice" },
                { "{\"items\":[{\"metadata\":{}}]}", "items[0]: node without metadata.name" },
                { "{\"items\":[{\"metadata\":{\"name\":3}}]}", "metadata.name: not a string" },
                { "{\"items\":[1]}", "items[0]: not a Node object" },
                { "{\"items\":{}}", "items is not an array" },
                { "\"nodes\"", "not an object or array" },
                { "{\"items\":[", "not JSON" },
                { "", "not JSON" },
        };
        ExtenderNodeSet *set = NULL;
        ColoError err = {};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(extender_node_set_parse(bad[i].text, strlen(bad[i].text), &set, &err), -EINVAL);
                if (!strstr(err.msg, bad[i].needle))
                        fail_msg("'%s': '%s' lacks '%s'", bad[i].text, err.msg, bad[i].needle);
                assert_null(set);
        }
        /* A bare array of Nodes, capacity when allocatable is absent, and an empty list. */
        const char *array = "[{\"metadata\":{\"name\":\"b\"},\"status\":{\"capacity\":{\"cpu\":\"2\",\"memory\":\"1Gi\"}}},"
                            "{\"metadata\":{\"name\":\"a\"},\"status\":{\"allocatable\":{\"cpu\":3},\"capacity\":{\"cpu\":\"8\"}}}]";
        assert_int_equal(extender_node_set_parse(array, strlen(array), &set, &err), 0);
        assert_int_equal(extender_node_set_size(set), 2);
        assert_int_equal(extender_node_set_find(set, "b")->alloc_cpu_milli, 2000);
        assert_int_equal(extender_node_set_find(set, "b")->alloc_memory, 1 << 30);
        assert_int_equal(extender_node_set_find(set, "a")->alloc_cpu_milli, 3000);
        assert_int_equal(extender_node_set_find(set, "a")->alloc_memory, -1);
        set = extender_node_set_unref(set);
        const char *empty = "{\"kind\":\"NodeList\",\"items\":[]}";
        assert_int_equal(extender_node_set_parse(empty, strlen(empty), &set, &err), 0);
        assert_int_equal(extender_node_set_size(set), 0);
        set = extender_node_set_unref(set);

        ExtenderNodeCache *cache = NULL;
        assert_int_equal(extender_node_cache_new(&cache), 0);
        assert_null(extender_node_cache_acquire(cache));
        ExtenderNodeSet *first = fixture_node_set();
        extender_node_cache_replace(cache, first);
        ExtenderNodeSet *held = extender_node_cache_acquire(cache);
        assert_ptr_equal(held, first);
        extender_node_set_unref(first);
        extender_node_cache_replace(cache, NULL);
        /* The reader's reference keeps the old set alive after it was replaced. */
        assert_non_null(extender_node_set_find(held, "node-a"));
        extender_node_set_unref(held);
        assert_null(extender_node_cache_acquire(cache));
        extender_node_cache_free(cache);

        _cleanup_free_ char *missing = fixture_path("no-such-file.json");
        assert_int_equal(extender_nodes_load_file(missing, &set, &err), -ENOENT);
        _cleanup_free_ char *not_list = fixture_path("admission-online-pod.json");
        assert_int_equal(extender_nodes_load_file(not_list, &set, &err), -EINVAL);
}

/* ---- the node source against a fake API server ---------------------------------------------- */

static void fake_api(const HttpRequest *req, HttpReply *reply, void *userdata) {
        (void) userdata;
        if (strcmp(req->path, "/api/v1/nodes") != 0)
                return http_reply_error(reply, 404, "not found");
        reply->body = fixture_text("extender-nodes.json", &reply->body_size);
}

static void fake_api_forbidden(const HttpRequest *req, HttpReply *reply, void *userdata) {
        (void) req;
        (void) userdata;
        http_reply_error(reply, 403, "nodes is forbidden: User \"system:serviceaccount:colo:x\" cannot list");
}

static void test_extender_lists_nodes_from_api_server(void **state) {
        (void) state;
        HttpsServerOptions o = { .bind_address = "127.0.0.1", .max_body_size = 1024, .connection_timeout_sec = 5,
                                 .threads = 1, .handler = fake_api };
        _cleanup_(https_server_stopp) HttpsServer *s = NULL;
        ColoError err = {};
        assert_int_equal(https_server_start(&o, &s, &err), 0);
        char url[64];
        snprintf(url, sizeof(url), "http://127.0.0.1:%u", https_server_port(s));

        char dir[] = "/tmp/colo-test-k8s-token-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char token[128];
        snprintf(token, sizeof(token), "%s/token", dir);
        FILE *f = fopen(token, "w");
        fputs("eyJhbGciOiJSUzI1NiJ9.test\n", f);
        fclose(f);

        KubeConfig api = { .server = url, .token_file = token, .source = "test" };
        _cleanup_(extender_node_set_unrefp) ExtenderNodeSet *set = NULL;
        assert_int_equal(extender_nodes_list_api(&api, 5, &set, &err), 0);
        assert_int_equal(extender_node_set_size(set), 5);

        _cleanup_(https_server_stopp) HttpsServer *denied = NULL;
        o.handler = fake_api_forbidden;
        assert_int_equal(https_server_start(&o, &denied, &err), 0);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u", https_server_port(denied));
        ExtenderNodeSet *none = NULL;
        assert_int_equal(extender_nodes_list_api(&api, 5, &none, &err), -EACCES);
        assert_non_null(strstr(err.msg, "HTTP 403"));
        assert_null(none);

        /* What an in-cluster configuration cannot have is refused, not half-used. */
        api.insecure_skip_tls_verify = true;
        assert_int_equal(extender_nodes_list_api(&api, 5, &none, &err), -EOPNOTSUPP);
        api.insecure_skip_tls_verify = false;

        /* The node source reads the in-cluster configuration as the agent does: outside a pod
         * there is none, inside it names the service's address (IPv6 bracketed) and account. */
        char ca[128];
        snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
        f = fopen(ca, "w");
        fputs("-----BEGIN CERTIFICATE-----\n", f);
        fclose(f);
        KubeInClusterOptions in_pod = { .dir = dir };
        KubeConfig *kc = NULL;
        unsetenv("KUBERNETES_SERVICE_HOST");
        assert_int_equal(kube_config_from_cluster(&in_pod, &kc, &err), -ENXIO);
        setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
        setenv("KUBERNETES_SERVICE_PORT", "443", 1);
        assert_int_equal(kube_config_from_cluster(&in_pod, &kc, &err), 0);
        assert_string_equal(kc->server, "https://[fd00::1]:443");
        assert_string_equal(kc->token_file, token);
        assert_string_equal(kc->ca_file, ca);
        kc = kube_config_free(kc);
        unsetenv("KUBERNETES_SERVICE_HOST");
        unsetenv("KUBERNETES_SERVICE_PORT");

        api.token_file = "/nonexistent/token";
        assert_int_equal(extender_nodes_list_api(&api, 5, &none, &err), -ENOENT);
        unlink(ca);
        unlink(token);
        rmdir(dir);
}

/* ---- `colo extender` over HTTP ------------------------------------------------------------- */

/* Writes a fixture with its fresh time stamps moved to now, since the binary uses the real clock. */
static void write_fresh_fixture(const char *name, const char *path, char **ret_text, size_t *ret_size) {
        size_t size;
        char *text = fixture_text(name, &size);
        char now[32];
        assert_true(rfc3339_format(now_realtime_usec(), now, sizeof(now)) == 20);
        replace_all_same_length(text, "2024-05-01T12:00:00Z", now);
        if (path) {
                FILE *f = fopen(path, "w");
                assert_non_null(f);
                assert_int_equal(fwrite(text, 1, size, f), size);
                assert_int_equal(fclose(f), 0);
        }
        *ret_text = text;
        *ret_size = size;
}

static void test_colo_extender_binary(void **state) {
        (void) state;
        if (!getenv("COLO_BIN") || access(getenv("COLO_BIN"), X_OK) < 0) {
                print_message("COLO_BIN unset or not built: skipping the colo extender binary case\n");
                skip();
        }
        char dir[] = "/tmp/colo-test-k8s-extender-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char nodes_path[128], source[160];
        snprintf(nodes_path, sizeof(nodes_path), "%s/nodes.json", dir);
        snprintf(source, sizeof(source), "file:%s", nodes_path);
        _cleanup_free_ char *nodes = NULL, *online = NULL, *names = NULL, *offline = NULL;
        size_t nodes_size, online_size, names_size, offline_size;
        write_fresh_fixture("extender-nodes.json", nodes_path, &nodes, &nodes_size);
        write_fresh_fixture("extender-args-online.json", NULL, &online, &online_size);
        write_fresh_fixture("extender-args-nodenames.json", NULL, &names, &names_size);
        write_fresh_fixture("extender-args-offline.json", NULL, &offline, &offline_size);

        LocalServer l;                  /* args point at l.listen; each attempt fills it */
        char *args[] = { "extender", "--listen", l.listen, "--node-source", source, "--max-body", "1048576", NULL };
        pid_t pid = start_colo_on_free_port(args, &l);
        unlink(nodes_path);             /* loaded at start-up; a vanished file keeps the last set */
        rmdir(dir);
        assert_true(pid > 0);

        CURL *curl = curl_easy_init();
        char url[128];
        HttpResult r;
        size_t size;
        /* Full nodes: the same decisions as the library. */
        snprintf(url, sizeof(url), "%s/filter", l.base);
        for (int i = 0; i < 2; i++) {
                assert_int_equal(http_request(curl, url, online, online_size, NULL, &r), 0);
                assert_int_equal(r.status, 200);
                if (i > 0)
                        assert_int_equal(r.connects, 0);
                json_auto_t *j = json_loads(r.body, 0, NULL);
                assert_non_null(json_object_get(json_object_get(j, "FailedAndUnresolvableNodes"), "node-b"));
                free(r.body);
        }
        /* Node names, answered from the file the extender loaded. */
        assert_int_equal(http_request(curl, url, names, names_size, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        json_auto_t *filtered = json_loads(r.body, 0, NULL);
        assert_int_equal(json_array_size(json_object_get(filtered, "NodeNames")), 4);
        assert_string_equal(json_string_value(json_object_get(filtered, "Error")), "");
        free(r.body);

        snprintf(url, sizeof(url), "%s/prioritize", l.base);
        assert_int_equal(http_request(curl, url, offline, offline_size, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        json_auto_t *scores = json_loads(r.body, 0, NULL);
        assert_int_equal(json_integer_value(json_object_get(json_array_get(scores, 1), "Score")), 10);
        free(r.body);

        _cleanup_free_ char *bad = fixture_text("extender-malformed-not-json.json", &size);
        assert_int_equal(http_request(curl, url, bad, size, NULL, &r), 0);
        assert_int_equal(r.status, 400);
        json_auto_t *err = json_loads(r.body, 0, NULL);
        assert_non_null(strstr(json_string_value(json_object_get(err, "Error")), "not JSON"));
        free(r.body);

        expect_oversized_refused(curl, url, 1 << 20, NULL);

        snprintf(url, sizeof(url), "%s/bind", l.base);
        expect_http_status(curl, url, "{}", 2, 404);
        curl_easy_cleanup(curl);
        assert_int_equal(stop_colo(pid), 0);
}

int main(void) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_node_usage_round_trips),
                cmocka_unit_test(test_node_usage_rejects_bad_annotations),
                cmocka_unit_test(test_rfc3339_parses_offsets_and_fractions),
                cmocka_unit_test(test_extender_filters_online_pod_on_predicted_peak),
                cmocka_unit_test(test_extender_filters_offline_pod_on_current_budget),
                cmocka_unit_test(test_extender_prioritizes),
                cmocka_unit_test(test_extender_fails_open_when_data_is_stale),
                cmocka_unit_test(test_extender_serves_nodenames_from_node_set),
                cmocka_unit_test(test_extender_without_node_data_reports_error),
                cmocka_unit_test(test_go_json_key_matches_like_encoding_json),
                cmocka_unit_test(test_extender_reads_args_as_go_does),
                cmocka_unit_test(test_extender_rejects_malformed_args),
                cmocka_unit_test(test_extender_empty_and_tolerant_nodes),
                cmocka_unit_test(test_extender_node_set_and_cache),
                cmocka_unit_test(test_extender_lists_nodes_from_api_server),
                cmocka_unit_test_teardown(test_colo_extender_binary, teardown_colo_child),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        curl_global_cleanup();
        return r;
}
