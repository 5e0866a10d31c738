/* Numbers for people: see human.h. */
#include <stdio.h>

#include "util/human.h"
#include "util/macro.h"

const char *format_bytes_iec(uint64_t b, char *buf, size_t size) {
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
        double v = (double) b;
        size_t u = 0;
        while (v >= 1024.0 && u + 1 < ELEMENTSOF(units)) {
                v /= 1024.0;
                u++;
        }
        snprintf(buf, size, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
        return buf;
}
