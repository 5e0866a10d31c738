/* Streaming reader of ExtenderArgs and NodeList documents with yajl. kube-scheduler sends up to
 * thousands of candidate nodes per call; a DOM of them (jansson) costs more than every decision
 * the extender makes, so this reader keeps only what the decisions use: each node's name, its
 * colo.io/node-usage annotation, the allocatable quantities colo reads, and the byte range of the
 * Node object (echoed verbatim in a filter result). The pod is small and is parsed as a tree by
 * the caller, from its byte range. Byte offsets come from yajl_get_bytes_consumed() inside the
 * callbacks, which yajl advances token by token when a document is parsed in one call; every range
 * is checked to start with '{' and end with '}' before it is used. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "k8s/extender-internal.h"
#include "k8s/go-json-key.h"
#include "k8s/node-annotation.h"
#include "k8s/resource-quantity.h"
#include "util/macro.h"
#include "util/utf8.h"

#define MAX_FRAMES 16                   /* deeper nesting is skipped, never tracked */
/* The keys colo reads, recognised once per key event so that the path checks compare integers. */
typedef enum Key {
        KEY_POD,
        KEY_NODES,
        KEY_NODENAMES,
        KEY_ITEMS,
        KEY_METADATA,
        KEY_STATUS,
        KEY_NAME,
        KEY_ANNOTATIONS,
        KEY_NODE_USAGE,
        KEY_ALLOCATABLE,
        KEY_CAPACITY,
        KEY_CPU,
        KEY_MEMORY,
        KEY_OFFLINE_CPU,
        KEY_OFFLINE_MEMORY,
        _KEY_MAX,
        KEY_OTHER = -1,
} Key;

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

typedef struct Frame {
        bool is_map;
        Key key;                        /* maps: the current key, KEY_OTHER for keys colo ignores */
        uint32_t seen;                  /* maps: the keys colo reads that this one has had */
        size_t index;                   /* arrays: index of the current element */
} Frame;

enum { RES_CPU, RES_MEMORY, RES_OFFLINE_CPU, RES_OFFLINE_MEMORY, _RES_MAX };

typedef struct NodeBuild {
        size_t name_off, name_len;      /* in the arena; name_len 0: none yet */
        size_t usage_off, usage_len;
        bool has_usage_text;
        bool has_alloc_map;
        int64_t alloc[_RES_MAX], cap[_RES_MAX];
} NodeBuild;

typedef struct Parser {
        yajl_handle h;
        const char *text;
        size_t size;
        ColoError *err;
        bool failed;
        bool args;                      /* ExtenderArgs; else NodeList */
        unsigned depth;
        Frame frames[MAX_FRAMES];
        /* ExtenderArgs */
        bool seen_items, in_pod;
        size_t pod_start, pod_end;
        unsigned items_depth;           /* depth inside the items array; 0 = unknown yet */
        bool has_nodes, has_names;
        /* the current item */
        bool in_item;
        size_t item_start;
        NodeBuild b;
        /* full Nodes */
        size_t n, cap;
        ExtenderNode *nodes;
        size_t *start, *end;
        size_t *name_offs;              /* arena offsets, fixed up into pointers at the end */
        size_t *usage_offs, *usage_lens;
        /* names only */
        size_t n_names, cap_names;
        size_t *names_offs;
        char *arena;
        size_t arena_len, arena_cap;
} Parser;

static int fail(Parser *p, const char *fmt, ...) _printf_(2, 3);
static int fail(Parser *p, const char *fmt, ...) {
        if (!p->failed && p->err) {
                char msg[COLO_ERROR_MSG_MAX];
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(msg, sizeof(msg), fmt, ap);
                va_end(ap);
                colo_error_setf_plain(p->err, EINVAL, "%s", msg);
        }
        p->failed = true;
        return 0;                       /* stops yajl */
}

static int oom(Parser *p) {
        if (!p->failed && p->err)
                colo_error_set(p->err, ENOMEM, "reading nodes");
        p->failed = true;
        return 0;
}

static size_t offset(const Parser *p) {
        return yajl_get_bytes_consumed(p->h);
}

static bool arena_reserve(Parser *p, size_t more) {
        if (p->arena_len + more <= p->arena_cap)
                return true;
        size_t want = MAX(p->arena_cap * 2, p->arena_len + more + 4096);
        char *a = realloc(p->arena, want);
        if (!a)
                return false;
        p->arena = a;
        p->arena_cap = want;
        return true;
}

/* Copies s into the arena (NUL-terminated); returns its offset or (size_t) -1. */
static size_t arena_add(Parser *p, const unsigned char *s, size_t len) {
        if (!arena_reserve(p, len + 1))
                return (size_t) -1;
        size_t off = p->arena_len;
        memcpy(p->arena + off, s, len);
        p->arena[off + len] = '\0';
        p->arena_len += len + 1;
        return off;
}

static bool grow_nodes(Parser *p) {
        if (p->n < p->cap)
                return true;
        size_t want = MAX(p->cap * 2, (size_t) 64);
        ExtenderNode *nodes = realloc(p->nodes, want * sizeof(*nodes));
        if (nodes)
                p->nodes = nodes;
        size_t *arrays[5] = { p->start, p->end, p->name_offs, p->usage_offs, p->usage_lens };
        for (size_t i = 0; i < 5; i++) {
                size_t *a = realloc(arrays[i], want * sizeof(size_t));
                if (a)
                        arrays[i] = a;
                else
                        nodes = NULL;
        }
        p->start = arrays[0], p->end = arrays[1], p->name_offs = arrays[2], p->usage_offs = arrays[3],
        p->usage_lens = arrays[4];
        if (!nodes)
                return false;
        p->cap = want;
        return true;
}

static bool grow_names(Parser *p, size_t want) {
        if (want <= p->cap_names)
                return true;
        want = MAX(want, p->cap_names * 2);
        size_t *a = realloc(p->names_offs, want * sizeof(size_t));
        if (!a)
                return false;
        p->names_offs = a;
        p->cap_names = want;
        return true;
}

static bool key_is(const Frame *f, Key key) {
        return f->is_map && f->key == key;
}

/* True when the container at frame index i is the items array of the node list. */
static bool is_items_array(const Parser *p, unsigned i) {
        if (p->frames[i].is_map)
                return false;
        if (p->args)
                return i == 2 && key_is(&p->frames[0], KEY_NODES) && key_is(&p->frames[1], KEY_ITEMS);
        return (i == 1 && key_is(&p->frames[0], KEY_ITEMS)) || (i == 0);
}

/* The frame index of the current item's own map, when inside one. */
static unsigned item_frame(const Parser *p) {
        return p->args ? 3 : p->frames[0].is_map ? 2 : 1;
}

/* A scalar (string or number text) at the current position inside an item. */
static int item_scalar(Parser *p, const unsigned char *s, size_t len, bool is_string) {
        unsigned f = item_frame(p);
        const Frame *fr = p->frames;
        /* metadata.name */
        if (p->depth == f + 2 && key_is(&fr[f], KEY_METADATA) && key_is(&fr[f + 1], KEY_NAME)) {
                if (!is_string)
                        return fail(p, "node metadata.name: not a string");
                size_t off = arena_add(p, s, len);
                if (off == (size_t) -1)
                        return oom(p);
                p->b.name_off = off;
                p->b.name_len = len;
                return 1;
        }
        /* metadata.annotations["colo.io/node-usage"] */
        if (p->depth == f + 3 && key_is(&fr[f], KEY_METADATA) && key_is(&fr[f + 1], KEY_ANNOTATIONS) &&
            key_is(&fr[f + 2], KEY_NODE_USAGE) && is_string) {
                size_t off = arena_add(p, s, len);
                if (off == (size_t) -1)
                        return oom(p);
                p->b.usage_off = off;
                p->b.usage_len = len;
                p->b.has_usage_text = true;
                return 1;
        }
        /* status.allocatable / status.capacity quantities */
        if (p->depth == f + 3 && key_is(&fr[f], KEY_STATUS) &&
            (key_is(&fr[f + 1], KEY_ALLOCATABLE) || key_is(&fr[f + 1], KEY_CAPACITY))) {
                int r = fr[f + 2].key == KEY_CPU            ? RES_CPU
                        : fr[f + 2].key == KEY_MEMORY       ? RES_MEMORY
                        : fr[f + 2].key == KEY_OFFLINE_CPU  ? RES_OFFLINE_CPU
                        : fr[f + 2].key == KEY_OFFLINE_MEMORY ? RES_OFFLINE_MEMORY
                                                            : -1;
                if (r < 0)
                        return 1;
                /* cpu in millicores; colo.io/offline-cpu counts millicores as an integer quantity */
                char q[64];
                int64_t v = -1;
                if (len < sizeof(q)) {
                        memcpy(q, s, len);
                        q[len] = '\0';
                        if (quantity_parse_scaled(q, r == RES_CPU ? 3 : 0, &v) < 0)
                                v = -1;
                }
                if (key_is(&fr[f + 1], KEY_ALLOCATABLE))
                        p->b.alloc[r] = v;
                else
                        p->b.cap[r] = v;
        }
        return 1;
}

static void begin_item(Parser *p) {
        p->in_item = true;
        p->item_start = offset(p) - 1;
        p->b = (NodeBuild) {};
        for (int r = 0; r < _RES_MAX; r++)
                p->b.alloc[r] = p->b.cap[r] = -1;
}

static int end_item(Parser *p, size_t index) {
        p->in_item = false;
        if (p->b.name_len == 0)
                return fail(p, "%sitems[%zu]: node without metadata.name", p->args ? "ExtenderArgs.Nodes." : "", index);
        size_t end = offset(p);
        if (p->text[p->item_start] != '{' || p->text[end - 1] != '}')
                return fail(p, "%sitems[%zu]: cannot delimit the node object", p->args ? "ExtenderArgs.Nodes." : "", index);
        if (!grow_nodes(p))
                return oom(p);
        const int64_t *q = p->b.has_alloc_map ? p->b.alloc : p->b.cap;
        p->nodes[p->n] = (ExtenderNode) { .alloc_cpu_milli = q[RES_CPU], .alloc_memory = q[RES_MEMORY],
                                          .alloc_offline_cpu_milli = q[RES_OFFLINE_CPU],
                                          .alloc_offline_memory = q[RES_OFFLINE_MEMORY] };
        p->start[p->n] = p->item_start;
        p->end[p->n] = end;
        p->name_offs[p->n] = p->b.name_off;
        p->usage_offs[p->n] = p->b.has_usage_text ? p->b.usage_off : (size_t) -1;
        p->usage_lens[p->n] = p->b.usage_len;
        p->n++;
        return 1;
}

/* Bookkeeping after a complete value at the current depth: the parent array moves on. */
static void value_done(Parser *p) {
        if (p->depth > 0 && p->depth <= MAX_FRAMES && !p->frames[p->depth - 1].is_map)
                p->frames[p->depth - 1].index++;
}

static int check_top_level(Parser *p) {
        if (p->depth == 0)
                return fail(p, p->args ? "ExtenderArgs: not a JSON object" : "NodeList: not an object or array");
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
                        return fail(p, "ExtenderArgs.Pod: not an object");
                if (!is_null && key_is(top, KEY_NODES))
                        return fail(p, "ExtenderArgs.Nodes: not a NodeList");
                if (!is_null && key_is(top, KEY_NODENAMES))
                        return fail(p, "ExtenderArgs.NodeNames: not an array");
        } else if (p->args && p->depth == 2 && key_is(&p->frames[0], KEY_NODENAMES) && !p->frames[1].is_map) {
                if (!is_string || len == 0)
                        return fail(p, "ExtenderArgs.NodeNames[%zu]: not a node name", p->frames[1].index);
                if (!grow_names(p, p->n_names + 1))
                        return oom(p);
                size_t off = arena_add(p, s, len);
                if (off == (size_t) -1)
                        return oom(p);
                p->names_offs[p->n_names++] = off;
        } else if (p->depth <= MAX_FRAMES && is_items_array(p, p->depth - 1) && !is_null)
                return fail(p, "%sitems[%zu]: not a Node object", p->args ? "ExtenderArgs.Nodes." : "", p->frames[p->depth - 1].index);
        else if (p->args && p->depth == 2 && key_is(&p->frames[0], KEY_NODES) && key_is(&p->frames[1], KEY_ITEMS) &&
                 !is_null)
                return fail(p, "ExtenderArgs.Nodes: not a NodeList");
        else if (!p->args && p->depth == 1 && key_is(&p->frames[0], KEY_ITEMS) && !is_null)
                return fail(p, "NodeList: items is not an array");
        else if (p->in_item && p->depth <= MAX_FRAMES && !is_null && !item_scalar(p, s, len, is_string))
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
                return fail(p, "ExtenderArgs: not a JSON object");
        if (p->depth >= 1 && p->depth <= MAX_FRAMES) {
                const Frame *parent = &p->frames[p->depth - 1];
                if (p->args && p->depth == 1) {
                        if (key_is(parent, KEY_POD)) {
                                if (!is_map)
                                        return fail(p, "ExtenderArgs.Pod: not an object");
                                p->in_pod = true;
                                p->pod_start = offset(p) - 1;
                        } else if (key_is(parent, KEY_NODES)) {
                                if (!is_map)
                                        return fail(p, "ExtenderArgs.Nodes: not a NodeList");
                                p->has_nodes = true;
                        } else if (key_is(parent, KEY_NODENAMES)) {
                                if (is_map)
                                        return fail(p, "ExtenderArgs.NodeNames: not an array");
                                p->has_names = true;
                                /* The names fit in what is left of the text: one allocation each. */
                                size_t rest = p->size - offset(p);
                                if (!arena_reserve(p, rest + 1) || !grow_names(p, rest / 8 + 1))
                                        return oom(p);
                        }
                } else if (p->args && p->depth == 2 && key_is(&p->frames[0], KEY_NODES) && key_is(parent, KEY_ITEMS) &&
                           is_map)
                        return fail(p, "ExtenderArgs.Nodes: not a NodeList");
                else if (!p->args && p->depth == 1 && key_is(parent, KEY_ITEMS) && is_map)
                        return fail(p, "NodeList: items is not an array");
                else if (is_items_array(p, p->depth - 1)) {
                        if (!is_map)
                                return fail(p, "%sitems[%zu]: not a Node object", p->args ? "ExtenderArgs.Nodes." : "", parent->index);
                        begin_item(p);
                } else if (p->in_item && is_map && p->depth == item_frame(p) + 2 && key_is(&p->frames[item_frame(p)], KEY_STATUS) &&
                           key_is(parent, KEY_ALLOCATABLE))
                        p->b.has_alloc_map = true;
                else if (p->args && p->depth == 2 && key_is(&p->frames[0], KEY_NODENAMES))
                        return fail(p, "ExtenderArgs.NodeNames[%zu]: not a node name", parent->index);
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
                p->pod_end = offset(p);
                if (p->text[p->pod_start] != '{' || p->text[p->pod_end - 1] != '}')
                        return fail(p, "ExtenderArgs.Pod: cannot delimit the object");
        }
        if (p->in_item && p->depth == item_frame(p) && !end_item(p, p->frames[p->depth - 1].index))
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
                return fail(p, "duplicate key \"%s\"", key_names[f->key].text);
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

static void parser_done(Parser *p) {
        if (p->h)
                yajl_free(p->h);
        free(p->nodes);
        free(p->start);
        free(p->end);
        free(p->name_offs);
        free(p->usage_offs);
        free(p->usage_lens);
        free(p->names_offs);
        free(p->arena);
}

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

/* Moves the results out of the parser, turning arena offsets into pointers: the full Nodes, or
 * the names when names is true. */
static int take_list(Parser *p, bool names, NodeListView *ret, ColoError *err) {
        size_t n = names ? p->n_names : p->n;
        const char **v = malloc(MAX(n, (size_t) 1) * sizeof(char *));
        if (!v)
                return colo_error_set(err, ENOMEM, "reading nodes");
        for (size_t i = 0; i < n; i++)
                v[i] = p->arena + (names ? p->names_offs[i] : p->name_offs[i]);
        if (names) {
                *ret = (NodeListView) { .n = n, .names = v, .arena = TAKE_PTR(p->arena) };
                return 0;
        }
        if (!grow_nodes(p)) {
                free(v);
                return colo_error_set(err, ENOMEM, "reading nodes");
        }
        for (size_t i = 0; i < n; i++) {
                p->nodes[i].name = v[i];
                if (p->usage_offs[i] != (size_t) -1)
                        p->nodes[i].has_usage = node_usage_parse(p->arena + p->usage_offs[i], p->usage_lens[i],
                                                                 &p->nodes[i].usage, NULL) >= 0;
        }
        *ret = (NodeListView) { .n = n, .names = v, .nodes = TAKE_PTR(p->nodes), .start = TAKE_PTR(p->start),
                                .end = TAKE_PTR(p->end), .arena = TAKE_PTR(p->arena) };
        return 0;
}

void node_list_view_done(NodeListView *v) {
        free(v->names);
        free(v->nodes);
        free(v->start);
        free(v->end);
        free(v->arena);
        *v = (NodeListView) {};
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
                r = take_list(&p, v.has_names, &v.list, err);
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
                r = take_list(&p, false, ret, err);
        parser_done(&p);
        return r;
}
