/* File I/O helpers used by the thin I/O layers (cgroup, collect, checkpoint). */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "util/fileio.h"

static const char *file_type_name(mode_t mode) {
        switch (mode & S_IFMT) {
        case S_IFIFO: return "a FIFO";
        case S_IFCHR: return "a character device";
        case S_IFBLK: return "a block device";
        case S_IFSOCK: return "a socket";
        case S_IFDIR: return "a directory";
        case S_IFLNK: return "a symbolic link";
        default: return "not a regular file";
        }
}

int open_regular_file(const char *path, int flags, ColoError *err) {
        /* O_NONBLOCK: opening a FIFO without a writer (or some devices) would block for good. */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | flags);
        if (fd < 0 && errno == ELOOP && (flags & O_NOFOLLOW))
                return colo_error_setf_plain(err, ELOOP, "'%s' is a symbolic link, not a regular file", path);
        if (fd < 0)
                return colo_error_set(err, errno, "open '%s'", path);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return colo_error_set(err, errno, "stat '%s'", path);
        if (!S_ISREG(st.st_mode))
                return colo_error_setf_plain(err, S_ISDIR(st.st_mode) ? EISDIR : EINVAL, "'%s' is %s, not a regular file",
                                             path, file_type_name(st.st_mode));
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
                return colo_error_set(err, errno, "open '%s'", path);
        return TAKE_FD(fd);
}

int read_full_file(const char *path, size_t max_size, char **ret, size_t *ret_size, ColoError *err) {
        return read_full_file_flags(path, 0, max_size, ret, ret_size, err);
}

int read_full_file_flags(const char *path, int flags, size_t max_size, char **ret, size_t *ret_size, ColoError *err) {
        _cleanup_close_ int fd = open_regular_file(path, flags, err);
        if (fd < 0)
                return fd;
        size_t cap = 4096, len = 0;
        _cleanup_free_ char *buf = malloc(cap + 1);
        if (!buf)
                return colo_error_set(err, ENOMEM, "read '%s'", path);
        for (;;) {
                if (len == cap) {
                        if (cap >= max_size)
                                return colo_error_setf_plain(err, EFBIG, "'%s' is larger than %zu bytes", path, max_size);
                        cap = MIN(cap * 2, max_size);
                        char *n = realloc(buf, cap + 1);
                        if (!n)
                                return colo_error_set(err, ENOMEM, "read '%s'", path);
                        buf = n;
                }
                ssize_t k = read(fd, buf + len, cap - len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return colo_error_set(err, errno, "read '%s'", path);
                }
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        buf[len] = '\0';
        if (ret_size)
                *ret_size = len;
        *ret = TAKE_PTR(buf);
        return 0;
}

int read_small_file_at(int dirfd, const char *name, char *buf, size_t size, ColoError *err) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return colo_error_set(err, errno, "open '%s'", name);
        ssize_t k = read(fd, buf, size - 1);
        if (k < 0)
                return colo_error_set(err, errno, "read '%s'", name);
        buf[k] = '\0';
        return (int) k;
}

int write_small_file_at(int dirfd, const char *name, const char *value, ColoError *err) {
        _cleanup_close_ int fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return colo_error_set(err, errno, "open '%s'", name);
        size_t len = strlen(value);
        ssize_t k = write(fd, value, len);
        if (k < 0)
                return colo_error_set(err, errno, "write '%s' to '%s'", value, name);
        if ((size_t) k != len)
                return colo_error_setf_plain(err, EIO, "short write of '%s' to '%s'", value, name);
        return 0;
}

/* The directory of path into dir ("/" for "/x", "." for "x"); returns the file name within path,
 * or NULL when path does not fit in dir. */
static const char *parent_dir(const char *path, char *dir, size_t size) {
        const char *slash = strrchr(path, '/');
        size_t n = !slash ? 1 : slash == path ? 1 : (size_t) (slash - path);
        if (n >= size)
                return NULL;
        if (!slash)
                memcpy(dir, ".", 2);
        else {
                memcpy(dir, path, n);
                dir[n] = '\0';
        }
        return slash ? slash + 1 : path;
}

int write_file_atomic(const char *path, const void *data, size_t size, int mode, ColoError *err) {
        char tmp[PATH_MAX];
        if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int) getpid()) >= (int) sizeof(tmp))
                return colo_error_setf_plain(err, ENAMETOOLONG, "path '%s' too long", path);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0)
                return colo_error_set(err, errno, "create '%s'", tmp);
        const char *p = data;
        size_t left = size;
        while (left > 0) {
                ssize_t k = write(fd, p, left);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        int e = k < 0 ? errno : EIO;
                        (void) close(fd);
                        (void) unlink(tmp);
                        return colo_error_set(err, e, "write '%s'", tmp);
                }
                p += k;
                left -= (size_t) k;
        }
        if (fsync(fd) < 0) {
                int e = errno;
                (void) close(fd);
                (void) unlink(tmp);
                return colo_error_set(err, e, "fsync '%s'", tmp);
        }
        if (close(fd) < 0) {
                int e = errno;
                (void) unlink(tmp);
                return colo_error_set(err, e, "close '%s'", tmp);
        }
        if (rename(tmp, path) < 0) {
                int e = errno;
                (void) unlink(tmp);
                return colo_error_set(err, e, "rename '%s' to '%s'", tmp, path);
        }
        /* Make the rename itself durable. */
        char dir[PATH_MAX];
        (void) parent_dir(path, dir, sizeof(dir));      /* path fitted in tmp, so it fits here */
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync(dfd) < 0)
                return colo_error_set(err, errno, "fsync directory '%s'", dir);
        return 0;
}

/* The pid of "<base>.tmp.<pid>", or 0 when name is not one of base's temporary files. */
static pid_t temp_file_pid(const char *name, const char *base) {
        size_t n = strlen(base);
        if (strncmp(name, base, n) != 0 || strncmp(name + n, ".tmp.", 5) != 0)
                return 0;
        const char *digits = name + n + 5;
        if (digits[0] == '\0' || digits[0] == '0' || strspn(digits, "0123456789") != strlen(digits))
                return 0;
        uint64_t pid;
        if (parse_u64(digits, &pid) < 0 || pid > INT_MAX)
                return 0;
        return (pid_t) pid;
}

int remove_stale_temp_files(const char *path, ColoError *err) {
        char dir[PATH_MAX];
        const char *base = parent_dir(path, dir, sizeof(dir));
        if (!base)
                return colo_error_setf_plain(err, ENAMETOOLONG, "path '%s' too long", path);
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return colo_error_set(err, errno, "open directory '%s'", dir);
        DIR *d = fdopendir(TAKE_FD(dfd));
        if (!d)
                return colo_error_set(err, errno, "open directory '%s'", dir);
        int removed = 0, r = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                pid_t pid = temp_file_pid(de->d_name, base);
                if (pid == 0 || pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH)
                        continue;       /* EPERM: alive, someone else's */
                if (unlinkat(dirfd(d), de->d_name, 0) == 0)
                        removed++;
                else if (errno != ENOENT && r == 0)
                        r = colo_error_set(err, errno, "remove '%s/%s'", dir, de->d_name);
        }
        closedir(d);
        return r < 0 ? r : removed;
}

static const char *skip_trailing_newline_end(const char *s) {
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
                n--;
        return s + n;
}

int parse_u64(const char *s, uint64_t *ret) {
        if (!s || *s == '\0' || *s == '-' || *s == ' ' || *s == '+')
                return -EINVAL;
        errno = 0;
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno)
                return -errno;
        if (end == s || end != skip_trailing_newline_end(s))
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_i64(const char *s, int64_t *ret) {
        if (!s || *s == '\0' || *s == ' ')
                return -EINVAL;
        errno = 0;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (errno)
                return -errno;
        if (end == s || end != skip_trailing_newline_end(s))
                return -EINVAL;
        *ret = v;
        return 0;
}

int parse_double(const char *s, double *ret) {
        if (!s || *s == '\0' || *s == ' ')
                return -EINVAL;
        errno = 0;
        char *end;
        double v = strtod(s, &end);
        if (errno)
                return -errno;
        if (end == s || end != skip_trailing_newline_end(s) || !isfinite(v))
                return -EINVAL;
        *ret = v;
        return 0;
}

static uint64_t now_usec(clockid_t clock) {
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / NSEC_PER_USEC;
}

uint64_t now_monotonic_usec(void) {
        return now_usec(CLOCK_MONOTONIC);
}

uint64_t now_realtime_usec(void) {
        return now_usec(CLOCK_REALTIME);
}
