/* The pure half of the block device module: device numbers, scheduler and io.cost.qos text, and
 * the decision whether a weight holds. Unit tested and fuzzed; no I/O. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blockdev/blockdev.h"

static bool parse_decimal(const char **p, unsigned long max, unsigned long *ret) {
        const char *s = *p;
        unsigned long v = 0;
        if (*s < '0' || *s > '9')
                return false;
        for (; *s >= '0' && *s <= '9'; s++) {
                v = v * 10 + (unsigned long) (*s - '0');
                if (v > max)
                        return false;
        }
        *p = s;
        *ret = v;
        return true;
}

bool blockdev_devnum_is_valid(const char *s) {
        unsigned long maj, min;
        if (!s || !parse_decimal(&s, 4095, &maj) || *s++ != ':' || !parse_decimal(&s, (1UL << 20) - 1, &min))
                return false;
        return *s == '\0';
}

int blockdev_parse_scheduler(const char *text, char *ret_active, size_t size, bool *ret_has_bfq) {
        if (!text || size == 0)
                return -EINVAL;
        bool has_bfq = false, found = false;
        const char *p = text;
        ret_active[0] = '\0';
        while (*p) {
                p += strspn(p, " \t\n");
                size_t n = strcspn(p, " \t\n");
                if (n == 0)
                        break;
                bool active = n >= 2 && p[0] == '[' && p[n - 1] == ']';
                const char *name = active ? p + 1 : p;
                size_t len = active ? n - 2 : n;
                if (len == 3 && memcmp(name, "bfq", 3) == 0)
                        has_bfq = true;
                if (active || (!found && !strchr(text, '['))) {
                        if (found || len == 0 || len >= size)
                                return -EINVAL;
                        memcpy(ret_active, name, len);
                        ret_active[len] = '\0';
                        found = true;
                }
                p += n;
        }
        if (!found)
                return -EINVAL;
        *ret_has_bfq = has_bfq;
        return 0;
}

bool blockdev_iocost_enabled(const char *io_cost_qos, const char *devnum) {
        size_t dn = devnum ? strlen(devnum) : 0;
        for (const char *line = io_cost_qos; line && *line && dn;) {
                size_t n = strcspn(line, "\n");
                if (n > dn && memcmp(line, devnum, dn) == 0 && line[dn] == ' ') {
                        for (const char *q = line + dn; q < line + n;) {
                                q += strspn(q, " ");
                                size_t k = strcspn(q, " \n");
                                if (k == 8 && memcmp(q, "enable=1", 8) == 0)
                                        return true;
                                q += k ? k : 1;
                        }
                        return false;
                }
                line += n;
                if (*line == '\n')
                        line++;
        }
        return false;
}

IoWeightSupport blockdev_weight_support(bool v2, const char *disk, const char *active, bool has_bfq, bool iocost,
                                        char *why, size_t why_size, char *fix, size_t fix_size) {
        why[0] = fix[0] = '\0';
        if (strcmp(active, "bfq") == 0 || (!v2 && strcmp(active, "cfq") == 0) || (v2 && iocost))
                return IO_WEIGHT_HONOURED;
        if (v2)
                snprintf(why, why_size, "'%s' uses the '%s' scheduler and iocost is not enabled for it in the root's "
                         "io.cost.qos, so io.weight and io.bfq.weight have no effect there", disk, active);
        else
                snprintf(why, why_size, "'%s' uses the '%s' scheduler, which ignores blkio weights (only CFQ and BFQ "
                         "honour them)", disk, active);
        if (has_bfq)
                snprintf(fix, fix_size, "select BFQ (echo bfq > /sys/block/%s/queue/scheduler, or a udev rule)%s, or "
                         "rely on the throttles (isolation.offline_io_max)", disk,
                         v2 ? " or enable iocost (echo 'MAJ:MIN enable=1' > /sys/fs/cgroup/io.cost.qos)" : "");
        else
                snprintf(fix, fix_size, "BFQ is not available: load it (modprobe bfq) and select it for '%s'%s, or "
                         "rely on the throttles (isolation.offline_io_max)", disk,
                         v2 ? ", or enable iocost in the root's io.cost.qos" : "");
        return IO_WEIGHT_IGNORED;
}
