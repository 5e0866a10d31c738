/* Shared by the streaming reader's two files: the parser state (extender-args.c handles yajl's
 * events, extender-args-node.c keeps what colo reads of each Node). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_parse.h>

#include "extender/extender-internal.h"
#include "util/macro.h"

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

static inline size_t parser_offset(const Parser *p) {
        return yajl_get_bytes_consumed(p->h);
}

static inline bool key_is(const Frame *f, Key key) {
        return f->is_map && f->key == key;
}

/* True when the container at frame index i is the items array of the node list. */
static inline bool is_items_array(const Parser *p, unsigned i) {
        if (p->frames[i].is_map)
                return false;
        if (p->args)
                return i == 2 && key_is(&p->frames[0], KEY_NODES) && key_is(&p->frames[1], KEY_ITEMS);
        return (i == 1 && key_is(&p->frames[0], KEY_ITEMS)) || (i == 0);
}

/* The frame index of the current item's own map, when inside one. */
static inline unsigned item_frame(const Parser *p) {
        return p->args ? 3 : p->frames[0].is_map ? 2 : 1;
}

/* Records the first error (EINVAL, the message formatted) and stops the parse: returns 0. */
int parser_fail(Parser *p, const char *fmt, ...) _printf_(2, 3);
/* Records ENOMEM and stops the parse: returns 0. */
int parser_oom(Parser *p);
bool parser_arena_reserve(Parser *p, size_t more);
/* Copies s into the arena (NUL-terminated); returns its offset or (size_t) -1. */
size_t parser_arena_add(Parser *p, const unsigned char *s, size_t len);
bool parser_grow_names(Parser *p, size_t want);
/* A scalar (string or number text) at the current position inside a Node item. */
int parser_item_scalar(Parser *p, const unsigned char *s, size_t len, bool is_string);
void parser_begin_item(Parser *p);
int parser_end_item(Parser *p, size_t index);
void parser_done(Parser *p);
/* Moves the results out of the parser: the full Nodes, or the names when names is true. */
int parser_take_list(Parser *p, bool names, NodeListView *ret, ColoError *err);
