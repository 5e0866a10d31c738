/* Fuzz target of the scheduler extender and the node-usage annotation. Beyond "no crash, no
 * leak" it checks the protocol's promises: a filter answer splits the candidates (every node
 * passes or fails, once); a prioritize answer scores every candidate within 0..10; the answers
 * are the same whether nodes come in full or by name from a node set built from them; and an
 * accepted annotation re-encodes to itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <yajl/yajl_parse.h>

#include "extender/extender.h"
#include "extender/go-json-key.h"
#include "k8s/node-annotation.h"
#include "util/macro.h"

#define CHECK(cond)                                                                     \
        do {                                                                            \
                if (!(cond)) {                                                          \
                        fprintf(stderr, "fuzz-extender: check failed: %s\n", #cond);    \
                        abort();                                                        \
                }                                                                       \
        } while (0)

#define NOW_USEC (UINT64_C(1714565100) * USEC_PER_SEC)

static void check_annotation(const uint8_t *data, size_t size) {
        NodeUsage u, back;
        if (node_usage_parse((const char *) data, size, &u, NULL) < 0)
                return;
        _cleanup_free_ char *text = NULL;
        u.updated_usec -= u.updated_usec % USEC_PER_SEC;       /* published with whole seconds */
        CHECK(node_usage_format(&u, &text, NULL) == 0);
        CHECK(node_usage_parse(text, strlen(text), &back, NULL) == 0);
        CHECK(memcmp(&u, &back, sizeof(u)) == 0);
}

/* The member of ExtenderArgs a Go reader stores in field: the key that folds to the field's name
 * (an accepted request has at most one). */
static const json_t *args_member(const json_t *args, const char *field) {
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *) args, key, v)
                if (go_json_key_matches((const unsigned char *) key, strlen(key), field))
                        return v;
        return NULL;
}

/* Whether text is one well-formed JSON document (yajl without callbacks: syntax only). */
static bool well_formed_json(const char *text, size_t size) {
        yajl_handle h = yajl_alloc(NULL, NULL, NULL);
        CHECK(h);
        bool ok = yajl_parse(h, (const unsigned char *) text, size) == yajl_status_ok &&
                  yajl_complete_parse(h) == yajl_status_ok;
        yajl_free(h);
        return ok;
}

static json_t *run(ExtenderVerb verb, const ExtenderNodeSet *set, const char *body, size_t size) {
        ExtenderConfig cfg = EXTENDER_CONFIG_DEFAULT;
        _cleanup_free_ char *out = NULL;
        size_t n;
        ColoError err = {};
        if (extender_handle(&cfg, verb, set, body, size, NOW_USEC, &out, &n, NULL, &err) < 0) {
                CHECK(!out && err.msg[0]);
                return NULL;
        }
        /* Well-formed JSON, always. A filter answer echoes the sender's Node objects byte for byte,
         * numbers included, and JSON puts no bound on those (kube-scheduler's Go decoder refuses
         * one too large for its field, as it would in the Node it sent): so the syntax is checked
         * with yajl, which converts no number, and the answer's meaning with jansson where its
         * integers can hold the numbers. */
        CHECK(well_formed_json(out, n));
        return json_loads(out, 0, NULL);
}

static void check_filter(const json_t *args, const json_t *result, bool by_name) {
        if (json_string_length(json_object_get(result, "Error")) > 0)
                return;
        /* The answer carries Go's field names, the list not used null. */
        CHECK(json_is_null(json_object_get(result, by_name ? "Nodes" : "NodeNames")));
        const json_t *passed = by_name ? json_object_get(result, "NodeNames")
                                       : json_object_get(json_object_get(result, "Nodes"), "items");
        const json_t *failed = json_object_get(result, "FailedNodes");
        const json_t *unresolvable = json_object_get(result, "FailedAndUnresolvableNodes");
        size_t candidates = by_name ? json_array_size(args_member(args, "NodeNames"))
                                    : json_array_size(json_object_get(args_member(args, "Nodes"), "items"));
        /* Duplicate names collapse in the failure maps, so the split is checked as "at most". */
        CHECK(json_array_size(passed) + json_object_size(failed) + json_object_size(unresolvable) <= candidates);
        CHECK(json_array_size(passed) <= candidates);
}

static void check_scores(const json_t *result, size_t candidates) {
        CHECK(json_is_array(result) && json_array_size(result) == candidates);
        size_t i;
        const json_t *hp;
        json_array_foreach(result, i, hp) {
                json_int_t s = json_integer_value(json_object_get(hp, "Score"));
                CHECK(json_is_string(json_object_get(hp, "Host")));
                CHECK(s >= 0 && s <= EXTENDER_MAX_PRIORITY);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        check_annotation(data, size);
        /* Duplicates of keys the extender does not read are accepted there; here the last one wins. */
        json_auto_t *args = json_loadb((const char *) data, size, 0, NULL);
        json_auto_t *filtered = run(EXTENDER_FILTER, NULL, (const char *) data, size);
        json_auto_t *scored = run(EXTENDER_PRIORITIZE, NULL, (const char *) data, size);
        /* The answers' meaning is checked against the request as jansson reads it: not for a
         * request whose numbers exceed jansson's integers (yajl's reader never converts those). */
        if (!args)
                return 0;
        const json_t *nodes = args_member(args, "Nodes");
        bool by_name = !nodes || json_is_null(nodes);
        if (filtered)
                check_filter(args, filtered, by_name);
        if (scored)
                check_scores(scored, json_array_size(json_object_get(nodes, "items")));

        /* The same candidates by name, from a node set: the same scores. */
        if (!scored || by_name)
                return 0;
        _cleanup_(extender_node_set_unrefp) ExtenderNodeSet *set = NULL;
        _cleanup_free_ char *list = json_dumps(nodes, JSON_COMPACT);
        CHECK(list);
        if (extender_node_set_parse(list, strlen(list), &set, NULL) < 0)
                return 0;               /* duplicate names */
        json_auto_t *names = json_array();
        size_t i;
        const json_t *node;
        json_array_foreach(json_object_get(nodes, "items"), i, node)
                json_array_append(names, json_object_get(json_object_get(node, "metadata"), "name"));
        json_auto_t *by_name_args = json_pack("{s:O, s:n, s:O}", "Pod", args_member(args, "Pod"), "Nodes", "NodeNames", names);
        _cleanup_free_ char *body = json_dumps(by_name_args, JSON_COMPACT);
        CHECK(body);
        json_auto_t *scored_by_name = run(EXTENDER_PRIORITIZE, set, body, strlen(body));
        CHECK(scored_by_name && json_equal(scored, scored_by_name));
        return 0;
}
