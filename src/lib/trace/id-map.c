/* Interning of VM and machine ids: an open-addressing hash table (FNV-1a, linear probing, kept
 * at most half full) over an array of names, so an id's index is its order of first appearance.
 * One lookup per trace row, no allocation for ids already seen. */
#include <stdlib.h>
#include <string.h>

#include "trace/trace-internal.h"

static uint32_t hash_id(const char *s) {
        uint32_t h = 2166136261u;
        for (; *s; s++)
                h = (h ^ (uint8_t) *s) * 16777619u;
        return h;
}

static int grow_slots(IdMap *m) {
        size_t n = m->n_slots ? m->n_slots * 2 : 64;
        if (n > UINT32_MAX)
                return -ENOMEM;
        uint32_t *slots = calloc(n, sizeof(*slots));
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_names; i++) {
                size_t j = hash_id(m->names[i]) & (n - 1);
                while (slots[j])
                        j = (j + 1) & (n - 1);
                slots[j] = (uint32_t) (i + 1);
        }
        free(m->slots);
        m->slots = slots;
        m->n_slots = n;
        return 0;
}

int id_map_lookup(const IdMap *m, const char *id, size_t *ret_index) {
        if (m->n_slots == 0)
                return -ENOENT;
        for (size_t j = hash_id(id) & (m->n_slots - 1); m->slots[j]; j = (j + 1) & (m->n_slots - 1))
                if (strcmp(m->names[m->slots[j] - 1], id) == 0) {
                        *ret_index = m->slots[j] - 1;
                        return 0;
                }
        return -ENOENT;
}

int id_map_intern(IdMap *m, const char *id, size_t *ret_index) {
        uint32_t h = hash_id(id);
        if (id_map_lookup(m, id, ret_index) == 0)
                return 0;

        if ((m->n_names + 1) * 2 > m->n_slots && grow_slots(m) < 0)
                return -ENOMEM;
        if (m->n_names == m->names_cap) {
                size_t cap = m->names_cap ? m->names_cap * 2 : 64;
                char **names = realloc(m->names, cap * sizeof(*names));
                if (!names)
                        return -ENOMEM;
                m->names = names;
                m->names_cap = cap;
        }
        char *copy = strdup(id);
        if (!copy)
                return -ENOMEM;
        size_t j = h & (m->n_slots - 1);
        while (m->slots[j])
                j = (j + 1) & (m->n_slots - 1);
        m->names[m->n_names] = copy;
        m->slots[j] = (uint32_t) (m->n_names + 1);
        *ret_index = m->n_names++;
        return 1;
}

void id_map_done(IdMap *m) {
        for (size_t i = 0; i < m->n_names; i++)
                free(m->names[i]);
        free(m->names);
        free(m->slots);
        *m = (IdMap) {};
}
