/* The cached read path: files read every period are opened once per group and re-read with
 * pread() at offset 0, so a steady read costs one syscall per file and no path lookup. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cgroup/cgroup-internal.h"
#include "util/fileio.h"

/* --- read path --- */

static ssize_t pread_retry(int fd, void *buf, size_t size, off_t offset) {
        ssize_t k;
        do
                k = pread(fd, buf, size, offset);
        while (k < 0 && errno == EINTR);
        return k;
}

ssize_t cg_read_cached(CgGroup *g, CgFile f, char *buf, size_t size, ColoError *err) {
        const CgBackend *b = g->root->backend;
        CgSlot s = b->file_slot(g->root, f);
        const char *name = b->file_name(f);
        char p[PATH_MAX];
        if (g->file_fd[f] == -2)
                return -ENOENT;
        if (g->file_fd[f] == -1) {
                int dfd = cg_slot_fd(g, s);
                int fd = dfd >= 0 ? openat(dfd, name, O_RDONLY | O_CLOEXEC) : -1;
                if (fd < 0) {
                        if (dfd < 0 || errno == ENOENT) {
                                g->file_fd[f] = -2;
                                return -ENOENT;
                        }
                        cg_group_file_path(g, s, name, p, sizeof(p));
                        return colo_error_set(err, errno, "open '%s'", p);
                }
                g->file_fd[f] = fd;
        }
        /* Every CgFile is a single-record seq_file on cgroupfs (its show() prints the whole file),
         * or a plain file in a fake tree: a read that does not fill the buffer has reached the
         * end. Reading on for the 0 that confirms it would cost a second pread(), and cgroupfs
         * regenerates the whole file for a read at a non-zero offset (memory.stat is the
         * costliest file colo reads). Only a read that filled the buffer reads on, one byte, to
         * tell an exact fit (end of file) from a file too large for the buffer. */
        ssize_t k = pread_retry(g->file_fd[f], buf, size - 1, 0);
        if (k == (ssize_t) size - 1) {
                char extra;
                ssize_t more = pread_retry(g->file_fd[f], &extra, 1, k);
                if (more > 0) {
                        cg_group_file_path(g, s, name, p, sizeof(p));
                        return colo_error_setf_plain(err, EFBIG, "'%s' is larger than %zu bytes", p, size - 1);
                }
                if (more < 0)
                        k = more;
        }
        if (k < 0) {
                int e = errno;
                cg_group_file_path(g, s, name, p, sizeof(p));
                return colo_error_set(err, e, "read '%s'", p);
        }
        size_t len = (size_t) k;
        buf[len] = '\0';
        return (ssize_t) len;
}

int cg_group_read_usage_fields(CgGroup *g, unsigned fields, CgUsage *ret, ColoError *err) {
        CgUsage u = { .mem_limit = CG_UNLIMITED };
        if (fields & CG_USAGE_WORKING_SET)
                fields |= CG_USAGE_MEM_CURRENT;
        int r = g->root->backend->read_usage(g, fields, &u, err);
        if (r < 0)
                return r;
        if (fields & CG_USAGE_TASKS) {
                r = cg_count_tasks(g, &u.nr_tasks, err);
                if (r < 0)
                        return r;
        }
        *ret = u;
        return 0;
}

int cg_group_read_usage(CgGroup *g, CgUsage *ret, ColoError *err) {
        return cg_group_read_usage_fields(g, CG_USAGE_ALL, ret, err);
}

static int malformed(CgGroup *g, CgFile f, const char *what, ColoError *err) {
        char p[PATH_MAX];
        const CgBackend *b = g->root->backend;
        cg_group_file_path(g, b->file_slot(g->root, f), b->file_name(f), p, sizeof(p));
        return colo_error_setf_plain(err, EINVAL, "malformed %s in '%s'", what, p);
}

int cg_read_keys(CgGroup *g, CgFile f, const char *const *keys, uint64_t *const *values, size_t n, ColoError *err) {
        char buf[8192];
        ssize_t len = cg_read_cached(g, f, buf, sizeof(buf), err);
        if (len == -ENOENT)
                return 0;
        if (len < 0)
                return (int) len;
        for (size_t i = 0; i < n; i++)
                if (cg_parse_keyed_u64(buf, keys[i], values[i]) == -EINVAL)
                        return malformed(g, f, keys[i], err);
        return 0;
}

int cg_read_number(CgGroup *g, CgFile f, bool limit, uint64_t *ret, ColoError *err) {
        char buf[64];
        ssize_t len = cg_read_cached(g, f, buf, sizeof(buf), err);
        if (len == -ENOENT)
                return 0;
        if (len < 0)
                return (int) len;
        if ((limit ? cg_parse_limit(buf, ret) : parse_u64(buf, ret)) < 0)
                return malformed(g, f, "number", err);
        return 0;
}

int cg_read_group_pressure(CgGroup *g, CgFile f, CgPressure *ret, ColoError *err) {
        char buf[512];
        ssize_t len = cg_read_cached(g, f, buf, sizeof(buf), err);
        /* EOPNOTSUPP: the file exists but PSI is off for cgroups (psi=0, or cgroup1 without psi_v1). */
        if (len == -ENOENT || len == -EOPNOTSUPP)
                return 0;
        if (len < 0)
                return (int) len;
        if (cg_parse_pressure(buf, ret) < 0)
                return malformed(g, f, "pressure", err);
        return 0;
}

int cg_read_pressures(CgGroup *g, unsigned fields, CgUsage *u, ColoError *err) {
        int r;
        if ((fields & CG_USAGE_CPU_IO_PRESSURE) &&
            ((r = cg_read_group_pressure(g, CG_FILE_CPU_PRESSURE, &u->cpu_pressure, err)) < 0 ||
             (r = cg_read_group_pressure(g, CG_FILE_IO_PRESSURE, &u->io_pressure, err)) < 0))
                return r;
        if ((fields & CG_USAGE_MEM_PRESSURE) &&
            (r = cg_read_group_pressure(g, CG_FILE_MEM_PRESSURE, &u->mem_pressure, err)) < 0)
                return r;
        return 0;
}

int cg_read_memory_usage_and_limits(CgGroup *g, unsigned fields, CgUsage *u, ColoError *err) {
        int r;

        if (fields & CG_USAGE_MEM_CURRENT) {
                r = cg_read_number(g, CG_FILE_MEM_USAGE, false, &u->mem_usage, err);
                if (r < 0)
                        return r;
        }
        if (fields & CG_USAGE_MEM_LIMITS) {
                r = cg_read_number(g, CG_FILE_MEM_LIMIT, true, &u->mem_limit, err);
                if (r < 0)
                        return r;
                r = cg_read_keys(g, CG_FILE_MEM_OOM, (const char *[]) { "oom_kill" }, (uint64_t *[]) { &u->mem_oom_kills },
                                 1, err);
                if (r < 0)
                        return r;
        }
        return 0;
}
