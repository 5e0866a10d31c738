/* Node sets for the extender's name-only mode: a NodeList indexed by name (open addressing),
 * immutable once built so request threads share one by reference count, and the cache the
 * refresher swaps a new set into while requests hold the old one. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "extender/extender-internal.h"
#include "extender/extender.h"
#include "util/macro.h"

struct ExtenderNodeSet {
        unsigned refs;
        NodeListView list;
        uint32_t *slots;                /* open addressing: node index + 1, 0 = empty */
        size_t mask;                    /* slots - 1, a power of two minus one */
};

/* FNV-1a: node names are short DNS names; this spreads them well enough for linear probing. */
static uint64_t name_hash(const char *s) {
        uint64_t h = 1469598103934665603u;
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 1099511628211u;
        return h;
}

ExtenderNodeSet *extender_node_set_unref(ExtenderNodeSet *s) {
        if (!s || __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) > 0)
                return NULL;
        node_list_view_done(&s->list);
        free(s->slots);
        free(s);
        return NULL;
}

ExtenderNodeSet *extender_node_set_ref(ExtenderNodeSet *s) {
        if (s)
                __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
        return s;
}

int extender_node_set_parse(const char *text, size_t size, ExtenderNodeSet **ret, ColoError *err) {
        _cleanup_(extender_node_set_unrefp) ExtenderNodeSet *s = calloc(1, sizeof(*s));
        if (!s)
                return colo_error_set(err, ENOMEM, "node set");
        s->refs = 1;
        int r = node_list_parse(text, size, &s->list, err);
        if (r < 0)
                return r;
        if (s->list.n >= UINT32_MAX / 4)
                return colo_error_setf_plain(err, E2BIG, "NodeList: %zu nodes", s->list.n);
        /* The byte ranges refer to text, which the set does not keep. */
        free(s->list.start);
        free(s->list.end);
        s->list.start = s->list.end = NULL;
        size_t slots = 16;
        while (slots < 2 * s->list.n)
                slots *= 2;
        s->slots = calloc(slots, sizeof(uint32_t));
        if (!s->slots)
                return colo_error_set(err, ENOMEM, "node set");
        s->mask = slots - 1;
        for (size_t i = 0; i < s->list.n; i++) {
                const char *name = s->list.nodes[i].name;
                size_t k = name_hash(name) & s->mask;
                for (; s->slots[k]; k = (k + 1) & s->mask)
                        if (strcmp(s->list.nodes[s->slots[k] - 1].name, name) == 0)
                                return colo_error_setf_plain(err, EINVAL, "NodeList: node '%s' listed twice", name);
                s->slots[k] = (uint32_t) i + 1;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

size_t extender_node_set_size(const ExtenderNodeSet *s) {
        return s ? s->list.n : 0;
}

const ExtenderNode *extender_node_set_find(const ExtenderNodeSet *s, const char *name) {
        if (!s)
                return NULL;
        for (size_t k = name_hash(name) & s->mask; s->slots[k]; k = (k + 1) & s->mask) {
                const ExtenderNode *n = &s->list.nodes[s->slots[k] - 1];
                if (strcmp(n->name, name) == 0)
                        return n;
        }
        return NULL;
}

struct ExtenderNodeCache {
        pthread_mutex_t lock;
        ExtenderNodeSet *current;
};

int extender_node_cache_new(ExtenderNodeCache **ret) {
        ExtenderNodeCache *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        pthread_mutex_init(&c->lock, NULL);
        *ret = c;
        return 0;
}

ExtenderNodeCache *extender_node_cache_free(ExtenderNodeCache *c) {
        if (!c)
                return NULL;
        extender_node_set_unref(c->current);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
}

void extender_node_cache_replace(ExtenderNodeCache *c, ExtenderNodeSet *s) {
        extender_node_set_ref(s);
        pthread_mutex_lock(&c->lock);
        ExtenderNodeSet *old = c->current;
        c->current = s;
        pthread_mutex_unlock(&c->lock);
        extender_node_set_unref(old);
}

ExtenderNodeSet *extender_node_cache_acquire(ExtenderNodeCache *c) {
        pthread_mutex_lock(&c->lock);
        ExtenderNodeSet *s = extender_node_set_ref(c->current);
        pthread_mutex_unlock(&c->lock);
        return s;
}
