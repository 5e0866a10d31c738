/* What the streaming reader keeps of each candidate Node: its name, its colo.io/node-usage
 * annotation and the allocatable quantities colo reads, stored in one arena and growing arrays
 * while yajl's events arrive (extender-args.c), then handed out as a NodeListView. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extender/extender-args-parser.h"
#include "k8s/node-annotation.h"
#include "k8s/resource-quantity.h"
#include "util/macro.h"

int parser_fail(Parser *p, const char *fmt, ...) {
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

int parser_oom(Parser *p) {
        if (!p->failed && p->err)
                colo_error_set(p->err, ENOMEM, "reading nodes");
        p->failed = true;
        return 0;
}

bool parser_arena_reserve(Parser *p, size_t more) {
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
size_t parser_arena_add(Parser *p, const unsigned char *s, size_t len) {
        if (!parser_arena_reserve(p, len + 1))
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

bool parser_grow_names(Parser *p, size_t want) {
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

/* A scalar (string or number text) at the current position inside an item. */
int parser_item_scalar(Parser *p, const unsigned char *s, size_t len, bool is_string) {
        unsigned f = item_frame(p);
        const Frame *fr = p->frames;
        /* metadata.name */
        if (p->depth == f + 2 && key_is(&fr[f], KEY_METADATA) && key_is(&fr[f + 1], KEY_NAME)) {
                if (!is_string)
                        return parser_fail(p, "node metadata.name: not a string");
                size_t off = parser_arena_add(p, s, len);
                if (off == (size_t) -1)
                        return parser_oom(p);
                p->b.name_off = off;
                p->b.name_len = len;
                return 1;
        }
        /* metadata.annotations["colo.io/node-usage"] */
        if (p->depth == f + 3 && key_is(&fr[f], KEY_METADATA) && key_is(&fr[f + 1], KEY_ANNOTATIONS) &&
            key_is(&fr[f + 2], KEY_NODE_USAGE) && is_string) {
                size_t off = parser_arena_add(p, s, len);
                if (off == (size_t) -1)
                        return parser_oom(p);
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

void parser_begin_item(Parser *p) {
        p->in_item = true;
        p->item_start = parser_offset(p) - 1;
        p->b = (NodeBuild) {};
        for (int r = 0; r < _RES_MAX; r++)
                p->b.alloc[r] = p->b.cap[r] = -1;
}

int parser_end_item(Parser *p, size_t index) {
        p->in_item = false;
        if (p->b.name_len == 0)
                return parser_fail(p, "%sitems[%zu]: node without metadata.name", p->args ? "ExtenderArgs.Nodes." : "", index);
        size_t end = parser_offset(p);
        if (p->text[p->item_start] != '{' || p->text[end - 1] != '}')
                return parser_fail(p, "%sitems[%zu]: cannot delimit the node object", p->args ? "ExtenderArgs.Nodes." : "", index);
        if (!grow_nodes(p))
                return parser_oom(p);
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

void parser_done(Parser *p) {
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

/* Moves the results out of the parser, turning arena offsets into pointers: the full Nodes, or
 * the names when names is true. */
int parser_take_list(Parser *p, bool names, NodeListView *ret, ColoError *err) {
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
