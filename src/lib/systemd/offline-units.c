/* Names, paths and properties of the offline slice and scope (offline-units.h): string work only. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "systemd/offline-units.h"

static bool prefix_char_ok(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == ':' || c == '_' ||
               c == '.';
}

int unit_escape_prefix(const char *s, char *buf, size_t size) {
        static const char hex[] = "0123456789abcdef";
        if (!s || !*s)
                return -EINVAL;
        size_t n = 0;
        for (size_t i = 0; s[i]; i++) {
                unsigned char c = (unsigned char) s[i];
                bool plain = prefix_char_ok((char) c) && !(i == 0 && c == '.');
                size_t need = plain ? 1 : 4;
                if (n + need >= size)
                        return -ENOBUFS;
                if (plain) {
                        buf[n++] = (char) c;
                        continue;
                }
                buf[n++] = '\\';
                buf[n++] = 'x';
                buf[n++] = hex[c >> 4];
                buf[n++] = hex[c & 15];
        }
        buf[n] = '\0';
        return (int) n;
}

int offline_units_for_subtree(const char *subtree, OfflineUnits *ret) {
        if (!subtree)
                return -EINVAL;
        size_t end = strlen(subtree);
        while (end > 0 && subtree[end - 1] == '/')
                end--;
        size_t start = end;
        while (start > 0 && subtree[start - 1] != '/')
                start--;
        if (end == start || end - start >= UNIT_NAME_MAX)
                return end == start ? -EINVAL : -ENAMETOOLONG;
        char base[UNIT_NAME_MAX], esc[UNIT_NAME_MAX];
        snprintf(base, sizeof(base), "%.*s", (int) (end - start), subtree + start);
        int r = unit_escape_prefix(base, esc, sizeof(esc));
        if (r < 0)
                return r == -ENOBUFS ? -ENAMETOOLONG : r;
        OfflineUnits u;
        if (snprintf(u.slice, sizeof(u.slice), "%s.offline.slice", esc) >= (int) sizeof(u.slice) ||
            snprintf(u.scope, sizeof(u.scope), "%s.offline.scope", esc) >= (int) sizeof(u.scope))
                return -ENAMETOOLONG;
        snprintf(u.dir, sizeof(u.dir), "/%s/%s", u.slice, u.scope);
        *ret = u;
        return 0;
}

size_t offline_units_slice_props(const OfflineUnits *u, TransientProp props[static TRANSIENT_PROPS_MAX]) {
        (void) u;
        size_t n = 0;
        props[n++] = (TransientProp) { .name = "Description", .type = 's',
                                       .str = "colo offline work, idle next to the whole machine" };
        props[n++] = (TransientProp) { .name = "CPUWeight", .type = 't', .value = UNIT_CPU_WEIGHT_IDLE };
        return n;
}

size_t offline_units_scope_props(const OfflineUnits *u, pid_t holder, TransientProp props[static TRANSIENT_PROPS_MAX]) {
        size_t n = 0;
        props[n++] = (TransientProp) { .name = "Description", .type = 's', .str = "colo offline work (delegated)" };
        props[n++] = (TransientProp) { .name = "Slice", .type = 's', .str = u->slice };
        props[n++] = (TransientProp) { .name = "Delegate", .type = 'b', .value = 1 };
        props[n++] = (TransientProp) { .name = "PIDs", .type = 'u', .value = (uint64_t) holder };
        props[n++] = (TransientProp) { .name = "CollectMode", .type = 's', .str = "inactive-or-failed" };
        return n;
}
