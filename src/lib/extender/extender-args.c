/* Streaming reader of ExtenderArgs and NodeList documents with yajl. kube-scheduler sends up to
 * thousands of candidate nodes per call; a DOM of them (jansson) costs more than every decision
 * the extender makes, so this reader keeps only what the decisions use: each node's name, its
 * colo.io/node-usage annotation, the allocatable quantities colo reads, and the byte range of the
 * Node object (echoed verbatim in a filter result). The pod is small and is parsed as a tree by
 * the caller, from its byte range. Byte offsets come from yajl_get_bytes_consumed() inside the
 * callbacks, which yajl advances token by token when a document is parsed in one call; every range
 * is checked to start with '{' and end with '}' before it is used. This file follows the document's
 * structure; extender-args-node.c keeps what each Node yields. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "extender/extender-args-parser.h"
#include "extender/go-json-key.h"
#include "k8s/node-annotation.h"
#include "util/macro.h"
#include "util/utf8.h"

static const struct {
        const char *text;
        size_t len;
} key_names[_KEY_MAX] = {
#define K(id, s) [id] = { s, sizeof(s) - 1 }
        K(KEY_POD, "Pod"),              /* ExtenderArgs members: matched by go_json_key_matches() */
        K(KEY_NODES, "Nodes"),
        K(KEY_NODENAMES, "NodeNames"),
        K(KEY_ITEMS, "items"),
        K(KEY_METADATA, "metadata"),
        K(KEY_STATUS, "status"),
        K(KEY_NAME, "name"),
        K(KEY_ANNOTATIONS, "annotations"),
        K(KEY_NODE_USAGE, NODE_USAGE_ANNOTATION),
        K(KEY_ALLOCATABLE, "allocatable"),
        K(KEY_CAPACITY, "capacity"),
        K(KEY_CPU, "cpu"),
        K(KEY_MEMORY, "memory"),
        K(KEY_OFFLINE_CPU, NODE_OFFLINE_CPU_RESOURCE),
        K(KEY_OFFLINE_MEMORY, NODE_OFFLINE_MEMORY_RESOURCE),
#undef K
};

/* ExtenderArgs (k8s.io/kube-scheduler/extender/v1) has no json tags: kube-scheduler's encoding/json
 * writes "Pod", "Nodes", "NodeNames" (the unused one null), and a Go reader takes any case of them. */
static Key args_key_lookup(const unsigned char *key, size_t len) {
        for (int i = KEY_POD; i <= KEY_NODENAMES; i++)
                if (go_json_key_matches(key, len, key_names[i].text))
                        return (Key) i;
        return KEY_OTHER;
}

/* Keys below ExtenderArgs: json tags of Kubernetes API types, matched exactly as the API does. */
static Key key_lookup(const unsigned char *key, size_t len) {
        for (int i = KEY_ITEMS; i < _KEY_MAX; i++)
                if (key_names[i].len == len && memcmp(key_names[i].text, key, len) == 0)
                        return (Key) i;
        return KEY_OTHER;
}

/* Bookkeeping after a complete value at the current depth: the parent array moves on. */
static void value_done(Parser *p) {
        if (p->depth > 0 && p->depth <= MAX_FRAMES && !p->frames[p->depth - 1].is_map)
                p->frames[p->depth - 1].index++;
}

static int check_top_level(Parser *p) {
        if (p->depth == 0)
                return parser_fail(p, p->args ? "ExtenderArgs: not a JSON object" : "NodeList: not an object or array");
        return 1;
}

/* A scalar value (string, number, bool, null) event. */
static int on_scalar(Parser *p, const unsigned char *s, size_t len, bool is_string, bool is_null) {
        if (!check_top_level(p))
                return 0;
        if (p->args && p->depth == 1) {
                /* Top-level members that are not containers: null counts as absent. */
                const Frame *top = &p->frames[0];
                if (!is_null && key_is(top, KEY_POD))
                        return parser_fail(p, "ExtenderArgs.Pod: not an object");
                if (!is_null && key_is(top, KEY_NODES))
                        return parser_fail(p, "ExtenderArgs.Nodes: not a NodeList");
                if (!is_null && key_is(top, KEY_NODENAMES))
                        return parser_fail(p, "ExtenderArgs.NodeNames: not an array");
        } else if (p->args && p->depth == 2 && key_is(&p->frames[0], KEY_NODENAMES) && !p->frames[1].is_map) {
                if (!is_string || len == 0)
                        return parser_fail(p, "ExtenderArgs.NodeNames[%zu]: not a node name", p->frames[1].index);
                if (!parser_grow_names(p, p->n_names + 1))
                        return parser_oom(p);
                size_t off = parser_arena_add(p, s, len);
                if (off == (size_t) -1)
                        return parser_oom(p);
                p->names_offs[p->n_names++] = off;
        } else if (p->depth <= MAX_FRAMES && is_items_array(p, p->depth - 1) && !is_null)
                return parser_fail(p, "%sitems[%zu]: not a Node object", p->args ? "ExtenderArgs.Nodes." : "", p->frames[p->depth - 1].index);
        else if (p->args && p->depth == 2 && key_is(&p->frames[0], KEY_NODES) && key_is(&p->frames[1], KEY_ITEMS) &&
                 !is_null)
                return parser_fail(p, "ExtenderArgs.Nodes: not a NodeList");
        else if (!p->args && p->depth == 1 && key_is(&p->frames[0], KEY_ITEMS) && !is_null)
                return parser_fail(p, "NodeList: items is not an array");
        else if (p->in_item && p->depth <= MAX_FRAMES && !is_null && !parser_item_scalar(p, s, len, is_string))
                return 0;
        value_done(p);
        return 1;
}

static int on_null(void *ctx) {
        return on_scalar(ctx, NULL, 0, false, true);
}

static int on_boolean(void *ctx, int v) {
        (void) v;
        return on_scalar(ctx, NULL, 0, false, false);
}

static int on_number(void *ctx, const char *s, size_t len) {
        return on_scalar(ctx, (const unsigned char *) s, len, false, false);
}

static int on_string(void *ctx, const unsigned char *s, size_t len) {
        return on_scalar(ctx, s, len, true, false);
}

static int open_container(Parser *p, bool is_map) {
        if (p->args && p->depth == 0 && !is_map)
                return parser_fail(p, "ExtenderArgs: not a JSON object");
        if (p->depth >= 1 && p->depth <= MAX_FRAMES) {
                const Frame *parent = &p->frames[p->depth - 1];
                if (p->args && p->depth == 1) {
                        if (key_is(parent, KEY_POD)) {
                                if (!is_map)
                                        return parser_fail(p, "ExtenderArgs.Pod: not an object");
                                p->in_pod = true;
                                p->pod_start = parser_offset(p) - 1;
                        } else if (key_is(parent, KEY_NODES)) {
                                if (!is_map)
                                        return parser_fail(p, "ExtenderArgs.Nodes: not a NodeList");
                                p->has_nodes = true;
                        } else if (key_is(parent, KEY_NODENAMES)) {
                                if (is_map)
                                        return parser_fail(p, "ExtenderArgs.NodeNames: not an array");
                                p->has_names = true;
                                /* The names fit in what is left of the text: one allocation each. */
                                size_t rest = p->size - parser_offset(p);
                                if (!parser_arena_reserve(p, rest + 1) || !parser_grow_names(p, rest / 8 + 1))
                                        return parser_oom(p);
                        }
                } else if (p->args && p->depth == 2 && key_is(&p->frames[0], KEY_NODES) && key_is(parent, KEY_ITEMS) &&
                           is_map)
                        return parser_fail(p, "ExtenderArgs.Nodes: not a NodeList");
                else if (!p->args && p->depth == 1 && key_is(parent, KEY_ITEMS) && is_map)
                        return parser_fail(p, "NodeList: items is not an array");
                else if (is_items_array(p, p->depth - 1)) {
                        if (!is_map)
                                return parser_fail(p, "%sitems[%zu]: not a Node object", p->args ? "ExtenderArgs.Nodes." : "", parent->index);
                        parser_begin_item(p);
                } else if (p->in_item && is_map && p->depth == item_frame(p) + 2 && key_is(&p->frames[item_frame(p)], KEY_STATUS) &&
                           key_is(parent, KEY_ALLOCATABLE))
                        p->b.has_alloc_map = true;
                else if (p->args && p->depth == 2 && key_is(&p->frames[0], KEY_NODENAMES))
                        return parser_fail(p, "ExtenderArgs.NodeNames[%zu]: not a node name", parent->index);
        }
        if (p->depth < MAX_FRAMES)
                p->frames[p->depth] = (Frame) { .is_map = is_map, .key = KEY_OTHER };
        p->depth++;
        return 1;
}

static int close_container(Parser *p) {
        p->depth--;
        if (p->args && p->depth == 1 && p->in_pod) {
                p->in_pod = false;
                p->pod_end = parser_offset(p);
                if (p->text[p->pod_start] != '{' || p->text[p->pod_end - 1] != '}')
                        return parser_fail(p, "ExtenderArgs.Pod: cannot delimit the object");
        }
        if (p->in_item && p->depth == item_frame(p) && !parser_end_item(p, p->frames[p->depth - 1].index))
                return 0;
        value_done(p);
        return 1;
}

static int on_start_map(void *ctx) {
        return open_container(ctx, true);
}

static int on_end_map(void *ctx) {
        return close_container(ctx);
}

static int on_start_array(void *ctx) {
        return open_container(ctx, false);
}

static int on_end_array(void *ctx) {
        return close_container(ctx);
}

static int on_map_key(void *ctx, const unsigned char *key, size_t len) {
        Parser *p = ctx;
        if (p->depth == 0 || p->depth > MAX_FRAMES)
                return 1;
        Frame *f = &p->frames[p->depth - 1];
        f->key = p->args && p->depth == 1 ? args_key_lookup(key, len) : key_lookup(key, len);
        if (f->key == KEY_OTHER)
                return 1;
        /* A repeated key colo reads would make the document mean two things (the pod's tree is built
         * with duplicates refused, the rest is streamed), so it is refused wherever it appears. */
        if (f->seen & (1u << f->key))
                return parser_fail(p, "duplicate key \"%s\"", key_names[f->key].text);
        f->seen |= 1u << f->key;
        if (!p->args && p->depth == 1 && f->key == KEY_ITEMS)
                p->seen_items = true;
        return 1;
}

static const yajl_callbacks callbacks = {
        .yajl_null = on_null,
        .yajl_boolean = on_boolean,
        .yajl_number = on_number,
        .yajl_string = on_string,
        .yajl_start_map = on_start_map,
        .yajl_map_key = on_map_key,
        .yajl_end_map = on_end_map,
        .yajl_start_array = on_start_array,
        .yajl_end_array = on_end_array,
};

static int run(Parser *p, const char *text, size_t size, ColoError *err) {
        /* yajl takes \v and \f for whitespace, JSON does not; a Node echoed with them would make the
         * answer invalid JSON for kube-scheduler. Raw, they are invalid anywhere in JSON text. */
        if (memchr(text, '\v', size) || memchr(text, '\f', size))
                return colo_error_setf_plain(err, EINVAL, "%s is not JSON: control character outside a string",
                                             p->args ? "request body" : "NodeList");
        if (!utf8_is_valid(text, size))
                return colo_error_setf_plain(err, EINVAL, "%s is not JSON: invalid UTF-8",
                                             p->args ? "request body" : "NodeList");
        p->text = text;
        p->size = size;
        p->err = err;
        p->h = yajl_alloc(&callbacks, NULL, p);
        if (!p->h)
                return colo_error_set(err, ENOMEM, "JSON parser");
        yajl_status s = yajl_parse(p->h, (const unsigned char *) text, size);
        if (s == yajl_status_ok)
                s = yajl_complete_parse(p->h);
        if (p->failed)
                return err ? -err->code : -EINVAL;
        if (s != yajl_status_ok) {
                unsigned char *e = yajl_get_error(p->h, 0, (const unsigned char *) text, size);
                size_t n = e ? strcspn((const char *) e, "\n") : 0;
                colo_error_setf_plain(err, EINVAL, "%s is not JSON: %.*s (byte %zu)",
                                      p->args ? "request body" : "NodeList", (int) n, e ? (const char *) e : "",
                                      yajl_get_bytes_consumed(p->h));
                if (e)
                        yajl_free_error(p->h, e);
                return -EINVAL;
        }
        if (p->depth != 0)
                return colo_error_setf_plain(err, EINVAL, "incomplete JSON document");
        return 0;
}

int extender_args_parse(const char *text, size_t size, ExtenderArgsView *ret, ColoError *err) {
        Parser p = { .args = true };
        int r = run(&p, text, size, err);
        if (r >= 0 && !p.has_nodes && !p.has_names)
                r = colo_error_setf_plain(err, EINVAL, "ExtenderArgs has neither Nodes nor NodeNames (both absent or null)");
        if (r >= 0 && p.pod_end == 0)
                r = colo_error_setf_plain(err, EINVAL, "ExtenderArgs.Pod: missing or not an object");
        /* Full nodes win; names given as well are ignored (kube-scheduler sends one or the other). */
        ExtenderArgsView v = { .pod_start = p.pod_start, .pod_end = p.pod_end, .has_nodes = p.has_nodes,
                               .has_names = p.has_names && !p.has_nodes };
        if (r >= 0)
                r = parser_take_list(&p, v.has_names, &v.list, err);
        parser_done(&p);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}

int node_list_parse(const char *text, size_t size, NodeListView *ret, ColoError *err) {
        Parser p = { .args = false };
        int r = run(&p, text, size, err);
        if (r >= 0 && p.frames[0].is_map && !p.seen_items)
                r = colo_error_setf_plain(err, EINVAL, "NodeList: no items");
        if (r >= 0)
                r = parser_take_list(&p, false, ret, err);
        parser_done(&p);
        return r;
}
