/* Pure parsers for the cgroupfs and procfs text formats colo reads every period: flat keyed files
 * ("key value" lines: cpu.stat, memory.stat, memory.events, memory.oom_control), limits ("max",
 * "-1" or bytes) and pressure stall information. No I/O here, so all of it is fuzzed; host PSI
 * reading sits at the end as the one thin I/O wrapper. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "cgroup/cgroup-internal.h"
#include "util/fileio.h"

/* v1 reports "no limit" as PAGE_COUNTER_MAX pages in bytes (0x7ffffffffffff000 on 4 KiB pages),
 * not -1; anything from 2^62 up is treated as unlimited. */
#define V1_UNLIMITED_FLOOR (UINT64_C(1) << 62)

int cg_parse_keyed_u64(const char *text, const char *key, uint64_t *ret) {
        size_t klen = strlen(key);
        const char *line = text;
        while (line && *line) {
                const char *eol = strchrnul(line, '\n');
                if ((size_t) (eol - line) > klen && memcmp(line, key, klen) == 0 && line[klen] == ' ') {
                        char num[32];
                        size_t len = (size_t) (eol - line) - klen - 1;
                        if (len == 0 || len >= sizeof(num))
                                return -EINVAL;
                        memcpy(num, line + klen + 1, len);
                        num[len] = '\0';
                        uint64_t v;
                        if (parse_u64(num, &v) < 0)
                                return -EINVAL;
                        *ret = v;
                        return 0;
                }
                line = *eol ? eol + 1 : NULL;
        }
        return -ENOENT;
}

int cg_parse_limit(const char *text, uint64_t *ret) {
        if (strcmp(text, "max") == 0 || strcmp(text, "max\n") == 0 || strcmp(text, "-1") == 0 ||
            strcmp(text, "-1\n") == 0) {
                *ret = CG_UNLIMITED;
                return 0;
        }
        uint64_t v;
        if (parse_u64(text, &v) < 0)
                return -EINVAL;
        *ret = v >= V1_UNLIMITED_FLOOR ? CG_UNLIMITED : v;
        return 0;
}

/* Parses "avg10=X avg60=Y avg300=Z total=T" after the "some"/"full" word. */
static int parse_pressure_line(const char *s, size_t len, double avg[3], uint64_t *total) {
        static const char *const keys[] = { "avg10=", "avg60=", "avg300=", "total=" };
        const char *p = s, *end = s + len;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                while (p < end && *p == ' ')
                        p++;
                size_t kl = strlen(keys[i]);
                if ((size_t) (end - p) <= kl || memcmp(p, keys[i], kl) != 0)
                        return -EINVAL;
                p += kl;
                const char *q = p;
                while (q < end && *q != ' ')
                        q++;
                char num[32];
                if (q == p || (size_t) (q - p) >= sizeof(num))
                        return -EINVAL;
                memcpy(num, p, (size_t) (q - p));
                num[q - p] = '\0';
                if (i < 3) {
                        if (parse_double(num, &avg[i]) < 0 || avg[i] < 0 || avg[i] > 100)
                                return -EINVAL;
                } else if (parse_u64(num, total) < 0)
                        return -EINVAL;
                p = q;
        }
        while (p < end && *p == ' ')
                p++;
        return p == end ? 0 : -EINVAL;
}

int cg_parse_pressure(const char *text, CgPressure *ret) {
        CgPressure out = {};
        bool have_some = false, have_full = false;
        const char *line = text;
        while (line && *line) {
                const char *eol = strchrnul(line, '\n');
                size_t len = (size_t) (eol - line);
                if (len > 5 && memcmp(line, "some ", 5) == 0 && !have_some) {
                        double avg[3];
                        if (parse_pressure_line(line + 5, len - 5, avg, &out.some_total_usec) < 0)
                                return -EINVAL;
                        out.some_avg10 = avg[0], out.some_avg60 = avg[1], out.some_avg300 = avg[2];
                        have_some = true;
                } else if (len > 5 && memcmp(line, "full ", 5) == 0 && !have_full) {
                        double avg[3];
                        if (parse_pressure_line(line + 5, len - 5, avg, &out.full_total_usec) < 0)
                                return -EINVAL;
                        out.full_avg10 = avg[0], out.full_avg60 = avg[1], out.full_avg300 = avg[2];
                        have_full = true;
                } else if (len > 0)
                        return -EINVAL;
                line = *eol ? eol + 1 : NULL;
        }
        if (!have_some)
                return -EINVAL;
        out.valid = true;
        *ret = out;
        return 0;
}

static uint64_t *throttle_setting(CgIoLimit *l, CgV1Throttle setting) {
        uint64_t *const fields[_CG_V1_THROTTLE_MAX] = { &l->rbps, &l->wbps, &l->riops, &l->wiops };
        return fields[setting];
}

static CgIoLimit *limit_of_device(CgKnobs *acc, const char *device) {
        for (size_t i = 0; i < acc->n_io_limits; i++)
                if (strcmp(acc->io_limits[i].device, device) == 0)
                        return &acc->io_limits[i];
        if (acc->n_io_limits >= CG_IO_LIMITS_MAX)
                return NULL;
        CgIoLimit *l = &acc->io_limits[acc->n_io_limits++];
        *l = (CgIoLimit) { .rbps = CG_UNSET, .wbps = CG_UNSET, .riops = CG_UNSET, .wiops = CG_UNSET,
                           .latency_usec = CG_UNSET };
        snprintf(l->device, sizeof(l->device), "%s", device);
        return l;
}

int cg_parse_v1_throttle_rules(const char *text, CgV1Throttle setting, CgKnobs *acc) {
        if (setting < 0 || setting >= _CG_V1_THROTTLE_MAX)
                return -EINVAL;
        for (const char *line = text; line && *line;) {
                const char *eol = strchrnul(line, '\n');
                char device[32], value[32];
                unsigned major, minor;
                int used = 0;
                size_t len = (size_t) (eol - line);
                char copy[80];
                if (len >= sizeof(copy))
                        return -EINVAL;
                memcpy(copy, line, len);
                copy[len] = '\0';
                uint64_t v;
                if (sscanf(copy, "%u:%u %31s%n", &major, &minor, value, &used) != 3 || (size_t) used != len ||
                    parse_u64(value, &v) < 0 || v == 0)
                        return -EINVAL;
                snprintf(device, sizeof(device), "%u:%u", major, minor);
                CgIoLimit *l = limit_of_device(acc, device);
                if (!l)
                        return -E2BIG;
                uint64_t *cur = throttle_setting(l, setting);
                *cur = *cur == CG_UNSET || *cur == CG_UNLIMITED ? v : MIN(*cur, v);
                line = *eol ? eol + 1 : NULL;
        }
        return 0;
}

/* Reads one host pressure file; ENOENT/EOPNOTSUPP (kernel without PSI, or psi=0) leave it !valid. */
static int read_host_one(const char *proc_root, const char *res, CgPressure *ret, ColoError *err) {
        if (!ret)
                return 0;
        *ret = (CgPressure) {};
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/pressure/%s", proc_root, res);
        char buf[512];
        int r = read_small_file_at(AT_FDCWD, path, buf, sizeof(buf), NULL);
        if (r == -ENOENT || r == -EOPNOTSUPP)
                return 0;
        if (r < 0)
                return colo_error_set(err, r, "read '%s'", path);
        if (cg_parse_pressure(buf, ret) < 0)
                return colo_error_setf_plain(err, EINVAL, "malformed pressure file '%s'", path);
        return 0;
}

int cg_read_host_pressure(const char *proc_root, CgPressure *cpu, CgPressure *mem, CgPressure *io, ColoError *err) {
        if (!proc_root)
                proc_root = "/proc";
        int r = read_host_one(proc_root, "cpu", cpu, err);
        if (r >= 0)
                r = read_host_one(proc_root, "memory", mem, err);
        if (r >= 0)
                r = read_host_one(proc_root, "io", io, err);
        return r;
}
