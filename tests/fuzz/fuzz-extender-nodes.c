/* Fuzz target of the extender's node list reader, over raw bytes: the `colo extender --nodes`
 * file and the API server's NodeList reply (fuzz-extender sees node lists only as jansson
 * re-encoded them). Beyond "no crash, no leak": an accepted set finds every node it read, by its
 * own name, with quantities that are known (>= 0) or unknown (-1); and every Node that jansson
 * reads from the same text, by name, is in it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "extender/extender-internal.h"
#include "extender/extender.h"

#define CHECK(cond)                                                                          \
        do {                                                                                 \
                if (!(cond)) {                                                               \
                        fprintf(stderr, "fuzz-extender-nodes: check failed: %s\n", #cond);   \
                        abort();                                                             \
                }                                                                            \
        } while (0)

static void check_node(const ExtenderNode *n) {
        CHECK(n->name && n->name[0]);
        CHECK(n->alloc_cpu_milli >= -1 && n->alloc_memory >= -1);
        CHECK(n->alloc_offline_cpu_milli >= -1 && n->alloc_offline_memory >= -1);
}

/* The Nodes of a NodeList object or a bare array, as jansson reads them. */
static const json_t *items_of(const json_t *doc) {
        return json_is_array(doc) ? doc : json_object_get(doc, "items");
}

static void check_against_jansson(const uint8_t *data, size_t size, const ExtenderNodeSet *set) {
        json_auto_t *doc = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES, NULL);
        size_t i;
        const json_t *item;
        json_array_foreach(items_of(doc), i, item) {
                const json_t *name = json_object_get(json_object_get(item, "metadata"), "name");
                const char *s = json_string_value(name);
                if (!s || strlen(s) != json_string_length(name))
                        continue;       /* an embedded NUL: not a name jansson's C string can carry */
                const ExtenderNode *n = extender_node_set_find(set, s);
                CHECK(n && strcmp(n->name, s) == 0);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        NodeListView view = {};
        ColoError err = {};
        int rv = node_list_parse((const char *) data, size, &view, &err);
        if (rv < 0)
                CHECK(err.code > 0 && err.msg[0]);

        ExtenderNodeSet *set = NULL;
        colo_error_clear(&err);
        int r = extender_node_set_parse((const char *) data, size, &set, &err);
        if (r < 0) {
                CHECK(!set && err.code > 0 && err.msg[0]);
                node_list_view_done(&view);
                return 0;
        }
        CHECK(rv == 0 && extender_node_set_size(set) == view.n);
        for (size_t i = 0; i < view.n; i++) {
                const ExtenderNode *n = extender_node_set_find(set, view.names[i]);
                CHECK(n && strcmp(n->name, view.names[i]) == 0);
                check_node(n);
        }
        check_against_jansson(data, size, set);
        node_list_view_done(&view);
        extender_node_set_unref(set);
        return 0;
}
