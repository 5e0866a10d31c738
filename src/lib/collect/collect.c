/* Node collector: MemTotal/MemAvailable from meminfo, usable CPUs from the online CPU list (and
 * the affinity mask on the real system), host PSI through the cgroup layer's reader. The pure
 * parsers sit first; collect_node() is the thin I/O wrapper. */
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "collect/collect.h"
#include "util/fileio.h"

/* Parses "<Key>:   <N> kB" lines; returns 0 and sets *ret (bytes) when key is present. */
static int meminfo_value(const char *text, const char *key, uint64_t *ret) {
        size_t klen = strlen(key);
        for (const char *line = text; line && *line;) {
                const char *eol = strchrnul(line, '\n');
                if ((size_t) (eol - line) > klen && memcmp(line, key, klen) == 0 && line[klen] == ':') {
                        const char *p = line + klen + 1;
                        while (p < eol && *p == ' ')
                                p++;
                        char num[32];
                        size_t n = strspn(p, "0123456789");
                        if (n == 0 || n >= sizeof(num) || p + n > eol)
                                return -EINVAL;
                        memcpy(num, p, n);
                        num[n] = '\0';
                        uint64_t v;
                        if (parse_u64(num, &v) < 0)
                                return -EINVAL;
                        const char *unit = p + n;
                        if ((size_t) (eol - unit) >= 3 && memcmp(unit, " kB", 3) == 0) {
                                if (v > UINT64_MAX / 1024)
                                        return -EINVAL;
                                v *= 1024;
                        } else if (unit != eol)
                                return -EINVAL;
                        *ret = v;
                        return 0;
                }
                line = *eol ? eol + 1 : NULL;
        }
        return -ENOENT;
}

int collect_parse_meminfo(const char *text, uint64_t *ret_total, uint64_t *ret_available) {
        uint64_t total, avail;
        int r = meminfo_value(text, "MemTotal", &total);
        if (r < 0)
                return -EINVAL;
        r = meminfo_value(text, "MemAvailable", &avail);
        if (r == -EINVAL)
                return r;
        if (r == -ENOENT) {
                /* Kernels before 3.14 have no MemAvailable: approximate it. */
                uint64_t free_ = 0, buffers = 0, cached = 0;
                if (meminfo_value(text, "MemFree", &free_) < 0)
                        return -EINVAL;
                if (meminfo_value(text, "Buffers", &buffers) == -EINVAL ||
                    meminfo_value(text, "Cached", &cached) == -EINVAL)
                        return -EINVAL;
                avail = free_ + buffers + cached;
        }
        *ret_total = total;
        *ret_available = MIN(avail, total);
        return 0;
}

static int parse_cpu_number(const char **p, unsigned *ret) {
        const char *s = *p;
        unsigned long v = 0;
        size_t n = 0;
        while (s[n] >= '0' && s[n] <= '9') {
                v = v * 10 + (unsigned long) (s[n] - '0');
                if (v > 1u << 20)               /* far beyond any kernel's NR_CPUS */
                        return -EINVAL;
                n++;
        }
        if (n == 0)
                return -EINVAL;
        *ret = (unsigned) v;
        *p = s + n;
        return 0;
}

int collect_parse_cpu_list(const char *text, unsigned *ret_count) {
        const char *p = text;
        unsigned count = 0;
        while (*p && *p != '\n') {
                unsigned lo, hi;
                if (parse_cpu_number(&p, &lo) < 0)
                        return -EINVAL;
                hi = lo;
                if (*p == '-') {
                        p++;
                        if (parse_cpu_number(&p, &hi) < 0 || hi < lo)
                                return -EINVAL;
                }
                count += hi - lo + 1;
                if (*p == ',') {
                        p++;
                        if (*p == '\0' || *p == '\n')
                                return -EINVAL;
                } else if (*p != '\0' && *p != '\n')
                        return -EINVAL;
        }
        if (*p == '\n' && p[1] != '\0')
                return -EINVAL;
        *ret_count = count;
        return 0;
}

double collect_cpu_cores(const CollectCpuSample *prev, const CollectCpuSample *now) {
        if (now->wall_usec <= prev->wall_usec || now->usage_usec < prev->usage_usec)
                return 0.0;
        return (double) (now->usage_usec - prev->usage_usec) / (double) (now->wall_usec - prev->wall_usec);
}

int collect_node(const char *proc_root, const char *sys_root, CollectNode *ret, ColoError *err) {
        bool real_sys = !sys_root;
        proc_root = proc_root ? proc_root : "/proc";
        sys_root = sys_root ? sys_root : "/sys";
        CollectNode n = {};
        char path[PATH_MAX], buf[8192];

        snprintf(path, sizeof(path), "%s/meminfo", proc_root);
        int r = read_small_file_at(AT_FDCWD, path, buf, sizeof(buf), err);
        if (r < 0)
                return r;
        if (collect_parse_meminfo(buf, &n.mem_total, &n.mem_available) < 0)
                return colo_error_setf_plain(err, EINVAL, "no valid MemTotal/MemAvailable in '%s'", path);

        snprintf(path, sizeof(path), "%s/devices/system/cpu/online", sys_root);
        r = read_small_file_at(AT_FDCWD, path, buf, sizeof(buf), NULL);
        if (r >= 0 && collect_parse_cpu_list(buf, &n.n_cpus) < 0)
                return colo_error_setf_plain(err, EINVAL, "malformed CPU list in '%s'", path);
        if (real_sys || r < 0) {
                cpu_set_t set;
                if (sched_getaffinity(0, sizeof(set), &set) == 0) {
                        unsigned affine = (unsigned) CPU_COUNT(&set);
                        n.n_cpus = n.n_cpus ? MIN(n.n_cpus, affine) : affine;
                } else if (r < 0)
                        return colo_error_set(err, errno, "no usable CPU count: '%s' unreadable and sched_getaffinity",
                                              path);
        }

        r = cg_read_host_pressure(proc_root, &n.cpu_pressure, &n.mem_pressure, &n.io_pressure, err);
        if (r < 0)
                return r;
        *ret = n;
        return 0;
}
