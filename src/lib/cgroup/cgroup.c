/* The cgroup layer's common part: opening the managed root and groups, task membership, the
 * diffed write path with its failure reporting, and the cached read path. Everything reaches
 * files by directory fd and openat(); files read every period stay open and are re-read with
 * pread() at offset 0, so reading a group costs one syscall per file and no path lookups. The
 * hierarchy-specific knob mapping lives in cgroup-v1.c and cgroup-v2.c. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cgroup/cgroup-internal.h"
#include "util/fileio.h"

#define DEFAULT_PROC_ROOT "/proc"

/* Controller names as v2's cgroup.controllers spells them, indexed by CgController. */
static const char *const v2_controller_names[_CG_CTRL_MAX] = {
        [CG_CTRL_CPU] = "cpu",
        [CG_CTRL_CPUSET] = "cpuset",
        [CG_CTRL_MEMORY] = "memory",
        [CG_CTRL_IO] = "io",
};

void cg_knobs_init(CgKnobs *k) {
        *k = (CgKnobs) {
                .cpu_weight = CG_UNSET,
                .cpu_idle = CG_UNSET_INT,
                .cpu_quota_usec = CG_UNSET,
                .cpu_period_usec = CG_UNSET,
                .cpu_burst_usec = CG_UNSET,
                .mem_max = CG_UNSET,
                .mem_high = CG_UNSET,
                .mem_low = CG_UNSET,
                .mem_min = CG_UNSET,
                .mem_soft_limit = CG_UNSET,
                .io_weight = CG_UNSET,
                .oom_score_adj = CG_UNSET_INT,
                .cpu_qos_level = CG_UNSET_INT,
                .mem_qos_level = CG_UNSET_INT,
        };
}

uint64_t cg_weight_to_shares(uint64_t weight) {
        if (weight > 10000)
                weight = 10000;
        return CLAMP(weight * 1024 / 100, (uint64_t) 2, (uint64_t) 262144);
}

uint64_t cg_shares_to_weight(uint64_t shares) {
        if (shares > 262144)
                shares = 262144;
        return CLAMP((shares * 100 + 512) / 1024, (uint64_t) 1, (uint64_t) 10000);
}

uint64_t cg_io_weight_to_blkio_weight(uint64_t weight) {
        return CLAMP(weight, (uint64_t) 10, (uint64_t) 1000);
}

unsigned cg_parse_controllers(const char *text) {
        unsigned mask = 0;
        const char *p = text;
        while (*p) {
                p += strspn(p, " \t\n");
                size_t len = strcspn(p, " \t\n");
                for (CgController c = 0; c < _CG_CTRL_MAX; c++)
                        if (len == strlen(v2_controller_names[c]) && memcmp(p, v2_controller_names[c], len) == 0)
                                mask |= 1u << c;
                p += len;
        }
        return mask;
}

bool cg_slot_present(const CgRoot *root, CgSlot slot) {
        return root->h[slot].present;
}

int cg_slot_fd(const CgGroup *g, CgSlot slot) {
        const CgHierarchy *h = &g->root->h[slot];
        return h->present ? g->dfd[h->primary] : -1;
}

void cg_root_set_write_hook(CgRoot *root, CgWriteHook hook, void *userdata) {
        root->write_hook = hook;
        root->write_hook_userdata = userdata;
}

/* --- root --- */

CgRoot *cg_root_free(CgRoot *root) {
        if (!root)
                return NULL;
        for (CgSlot s = 0; s < _CG_SLOT_MAX; s++) {
                if (root->h[s].fd >= 0)
                        (void) close(root->h[s].fd);
                free(root->h[s].path);
        }
        if (root->proc_fd >= 0)
                (void) close(root->proc_fd);
        free(root->proc_root);
        free(root->description);
        free(root);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(CgRoot *, cg_root_free);

/* v1 cpuset children start with empty cpus and mems, and a task cannot join such a group:
 * copy the parent's values into a directory we just created. */
static int cpuset_init_from_parent(int parent_fd, int child_fd, const char *child_path, ColoError *err) {
        static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                char buf[1024];
                int r = read_small_file_at(parent_fd, files[i], buf, sizeof(buf), NULL);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return colo_error_set(err, r, "read parent's '%s' for '%s'", files[i], child_path);
                if (buf[0] == '\n' || buf[0] == '\0')
                        continue;
                /* O_CREAT only matters in a fake tree; on cgroupfs the file exists. */
                _cleanup_close_ int fd = openat(child_fd, files[i], O_WRONLY | O_TRUNC | O_CREAT | O_CLOEXEC, 0644);
                if (fd < 0 || write(fd, buf, strlen(buf)) < 0)
                        return colo_error_set(err, errno, "write '%s/%s'", child_path, files[i]);
        }
        return 0;
}

/* v2: makes the controllers colo needs (those the directory offers) available to its children.
 * Reads cgroup.controllers and cgroup.subtree_control; writes only the missing ones. */
static int v2_enable_controllers(int dirfd, const char *dir_path, ColoError *err) {
        char avail[512], enabled[512];
        int r = read_small_file_at(dirfd, "cgroup.controllers", avail, sizeof(avail), NULL);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return colo_error_set(err, r, "read '%s/cgroup.controllers'", dir_path);
        r = read_small_file_at(dirfd, "cgroup.subtree_control", enabled, sizeof(enabled), NULL);
        if (r < 0)
                return colo_error_set(err, r, "read '%s/cgroup.subtree_control'", dir_path);
        unsigned missing = cg_parse_controllers(avail) & ~cg_parse_controllers(enabled);
        if (!missing)
                return 0;
        /* One write for all: the kernel takes space-separated "+name" tokens. */
        char value[64] = "";
        size_t n = 0;
        for (CgController c = 0; c < _CG_CTRL_MAX; c++)
                if (missing & (1u << c))
                        n += (size_t) snprintf(value + n, sizeof(value) - n, "%s+%s", n ? " " : "", v2_controller_names[c]);
        _cleanup_close_ int fd = openat(dirfd, "cgroup.subtree_control", O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0 || write(fd, value, n) < 0)
                return colo_error_set(err, errno, "write '%s' to '%s/cgroup.subtree_control'", value, dir_path);
        return 0;
}

/* Opens rel (relative to startfd, whose path is start_path) component by component, creating
 * missing directories when create. enable_from: on v2, enable controllers in every directory
 * from this depth on before descending (-1: only, best effort, in parents of created dirs). */
static int open_walk(CgRoot *root, CgSlot slot, int startfd, const char *start_path, const char *rel, bool create,
                     int enable_from, int *ret_fd, ColoError *err) {
        bool v2 = root->mode == CG_MODE_V2;
        bool cpuset = false;
        if (root->mode == CG_MODE_V1)
                for (CgSlot t = 0; t < _CG_SLOT_MAX; t++)
                        cpuset = cpuset || (t == CG_SLOT_CPUSET && root->h[t].present && root->h[t].primary == slot);

        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s", start_path);
        _cleanup_close_ int cur = openat(startfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cur < 0)
                return colo_error_set(err, errno, "open '%s'", path);

        const char *p = rel;
        for (int depth = 0; *p; depth++) {
                size_t len = strcspn(p, "/");
                char name[256];
                if (len == 0 || len >= sizeof(name))
                        return colo_error_setf_plain(err, EINVAL, "invalid cgroup path component in '%s'", rel);
                memcpy(name, p, len);
                name[len] = '\0';
                p += len;
                p += strspn(p, "/");
                size_t pl = strlen(path);
                snprintf(path + pl, sizeof(path) - pl, "/%s", name);

                bool created = false;
                if (create) {
                        if (v2 && enable_from >= 0 && depth >= enable_from) {
                                path[pl] = '\0';
                                int r = v2_enable_controllers(cur, path, err);
                                if (r < 0)
                                        return r;
                                snprintf(path + pl, sizeof(path) - pl, "/%s", name);
                        }
                        if (mkdirat(cur, name, 0755) == 0)
                                created = true;
                        else if (errno != EEXIST)
                                return colo_error_set(err, errno, "mkdir '%s'", path);
                        if (created && v2 && enable_from < 0) {
                                path[pl] = '\0';
                                (void) v2_enable_controllers(cur, path, NULL);
                                snprintf(path + pl, sizeof(path) - pl, "/%s", name);
                        }
                }
                int next = openat(cur, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (next < 0)
                        return colo_error_set(err, errno, "open '%s'", path);
                if (created && cpuset) {
                        int r = cpuset_init_from_parent(cur, next, path, err);
                        if (r < 0) {
                                (void) close(next);
                                return r;
                        }
                }
                (void) close(cur);
                cur = next;
        }
        *ret_fd = TAKE_FD(cur);
        return 0;
}

static int root_build_description(CgRoot *root) {
        static const char *const names[_CG_SLOT_MAX] = { "cpu", "cpuacct", "cpuset", "memory", "blkio" };
        size_t cap = 64;
        for (CgSlot s = 0; s < _CG_SLOT_MAX; s++)
                cap += root->h[s].path ? strlen(root->h[s].path) + 16 : 0;
        char *d = malloc(cap);
        if (!d)
                return -ENOMEM;
        size_t n = (size_t) snprintf(d, cap, "cgroup %s%s", root->mode == CG_MODE_V2 ? "v2" : "v1",
                                     root->hybrid ? " (hybrid)" : "");
        for (CgSlot s = 0; s < _CG_SLOT_MAX; s++) {
                if (!root->h[s].present)
                        continue;
                if (root->mode == CG_MODE_V2) {
                        n += (size_t) snprintf(d + n, cap - n, ": %s", root->h[s].path);
                        break;
                }
                n += (size_t) snprintf(d + n, cap - n, " %s=%s", names[s], root->h[s].path);
        }
        root->description = d;
        return 0;
}

int cg_root_open(const CgRootOptions *opts, CgRoot **ret, ColoError *err) {
        CgRootOptions defaults = { .mode = CG_MODE_DETECT };
        if (!opts)
                opts = &defaults;
        _cleanup_(cg_root_freep) CgRoot *root = calloc(1, sizeof(*root));
        if (!root)
                return colo_error_set(err, ENOMEM, "allocate cgroup root");
        root->proc_fd = -1;
        for (CgSlot s = 0; s < _CG_SLOT_MAX; s++)
                root->h[s].fd = -1;
        root->report_successes = opts->report_successes;

        int r = cg_detect(root, opts, err);
        if (r < 0)
                return r;
        root->backend = root->mode == CG_MODE_V2 ? &cg_backend_v2 : &cg_backend_v1;

        root->proc_root = strdup(opts->proc_root ? opts->proc_root : DEFAULT_PROC_ROOT);
        if (!root->proc_root)
                return colo_error_set(err, ENOMEM, "allocate cgroup root");
        root->proc_fd = open(root->proc_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root->proc_fd < 0)
                return colo_error_set(err, errno, "open proc root '%s'", root->proc_root);

        for (CgSlot s = 0; s < _CG_SLOT_MAX; s++) {
                CgHierarchy *h = &root->h[s];
                if (!h->present || h->primary != s)
                        continue;
                char mount[PATH_MAX];
                snprintf(mount, sizeof(mount), "%.*s", (int) h->mount_len, h->path);
                _cleanup_close_ int mfd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (mfd < 0)
                        return colo_error_set(err, errno, "open '%s'", mount);
                const char *rel = h->path + h->mount_len;
                rel += strspn(rel, "/");
                r = open_walk(root, s, mfd, mount, rel, opts->create, -1, &h->fd, err);
                if (r < 0)
                        return colo_error_wrap(err, "open cgroup root '%s'", h->path);
        }

        if (root->mode == CG_MODE_V2) {
                char buf[512];
                r = read_small_file_at(root->h[CG_SLOT_CPU].fd, "cgroup.controllers", buf, sizeof(buf), NULL);
                /* A fake tree without cgroup.controllers offers everything. */
                root->v2_controllers = r >= 0 ? cg_parse_controllers(buf) : (1u << _CG_CTRL_MAX) - 1;
        }
        if (root_build_description(root) < 0)
                return colo_error_set(err, ENOMEM, "allocate cgroup root");
        *ret = TAKE_PTR(root);
        return 0;
}

CgMode cg_root_mode(const CgRoot *root) {
        return root->mode;
}

bool cg_root_is_hybrid(const CgRoot *root) {
        return root->hybrid;
}

bool cg_root_has_controller(const CgRoot *root, CgController c) {
        if (c < 0 || c >= _CG_CTRL_MAX)
                return false;
        if (root->mode == CG_MODE_V2)
                return root->v2_controllers & (1u << c);
        static const CgSlot slot_of[_CG_CTRL_MAX] = {
                [CG_CTRL_CPU] = CG_SLOT_CPU,
                [CG_CTRL_CPUSET] = CG_SLOT_CPUSET,
                [CG_CTRL_MEMORY] = CG_SLOT_MEMORY,
                [CG_CTRL_IO] = CG_SLOT_BLKIO,
        };
        return root->h[slot_of[c]].present;
}

const char *cg_root_describe(const CgRoot *root) {
        return root->description;
}

/* --- groups --- */

CgGroup *cg_group_free(CgGroup *g) {
        if (!g)
                return NULL;
        for (CgSlot s = 0; s < _CG_SLOT_MAX; s++)
                if (g->dfd[s] >= 0)
                        (void) close(g->dfd[s]);
        for (CgFile f = 0; f < _CG_FILE_MAX; f++)
                if (g->file_fd[f] >= 0)
                        (void) close(g->file_fd[f]);
        free(g->oom_pids);
        free(g->path);
        free(g);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(CgGroup *, cg_group_free);

int cg_group_open(CgRoot *root, const char *path, bool create, CgGroup **ret, ColoError *err) {
        if (!cg_path_is_valid(path))
                return colo_error_setf_plain(err, EINVAL, "invalid cgroup path '%s'", path ? path : "(null)");
        _cleanup_(cg_group_freep) CgGroup *g = calloc(1, sizeof(*g));
        if (!g)
                return colo_error_set(err, ENOMEM, "allocate cgroup '%s'", path);
        g->root = root;
        g->oom_value = CG_UNSET_INT;
        for (CgSlot s = 0; s < _CG_SLOT_MAX; s++)
                g->dfd[s] = -1;
        for (CgFile f = 0; f < _CG_FILE_MAX; f++)
                g->file_fd[f] = -1;
        g->path = strdup(path);
        if (!g->path)
                return colo_error_set(err, ENOMEM, "allocate cgroup '%s'", path);
        size_t len = strlen(g->path);
        while (len > 0 && g->path[len - 1] == '/')
                g->path[--len] = '\0';

        for (CgSlot s = 0; s < _CG_SLOT_MAX; s++) {
                CgHierarchy *h = &root->h[s];
                if (!h->present || h->primary != s)
                        continue;
                int r = open_walk(root, s, h->fd, h->path, g->path, create, 0, &g->dfd[s], err);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(g);
        return 0;
}

const char *cg_group_path(const CgGroup *g) {
        return g->path;
}

void cg_group_file_path(const CgGroup *g, CgSlot slot, const char *name, char *buf, size_t size) {
        const CgHierarchy *h = &g->root->h[slot];
        snprintf(buf, size, "%s%s%s/%s", h->path ? h->path : "?", g->path[0] ? "/" : "", g->path, name);
}

int cg_group_remove(CgRoot *root, const char *path, ColoError *err) {
        if (!cg_path_is_valid(path) || path[0] == '\0')
                return colo_error_setf_plain(err, EINVAL, "invalid cgroup path '%s' to remove", path ? path : "(null)");
        for (CgSlot s = 0; s < _CG_SLOT_MAX; s++) {
                CgHierarchy *h = &root->h[s];
                if (!h->present || h->primary != s)
                        continue;
                if (unlinkat(h->fd, path, AT_REMOVEDIR) < 0 && errno != ENOENT) {
                        int e = errno == ENOTEMPTY ? EBUSY : errno;
                        return colo_error_set(err, e, "rmdir '%s/%s'", h->path, path);
                }
        }
        return 0;
}

void strv_free(char **l) {
        if (!l)
                return;
        for (char **p = l; *p; p++)
                free(*p);
        free(l);
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The slot whose directory lists groups and tasks: cpu first, it is always mounted on v1. */
static CgSlot listing_slot(const CgRoot *root) {
        static const CgSlot order[] = { CG_SLOT_CPU, CG_SLOT_MEMORY, CG_SLOT_CPUACCT, CG_SLOT_CPUSET, CG_SLOT_BLKIO };
        for (size_t i = 0; i < ELEMENTSOF(order); i++)
                if (root->h[order[i]].present)
                        return root->h[order[i]].primary;
        return CG_SLOT_CPU;
}

int cg_group_list_children(CgRoot *root, const char *path, char ***ret, size_t *ret_n, ColoError *err) {
        if (!cg_path_is_valid(path))
                return colo_error_setf_plain(err, EINVAL, "invalid cgroup path '%s'", path ? path : "(null)");
        CgSlot s = listing_slot(root);
        int fd = openat(root->h[s].fd, path[0] ? path : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return colo_error_set(err, errno, "open '%s/%s'", root->h[s].path, path);
        DIR *d = fdopendir(fd);
        if (!d) {
                int e = errno;
                (void) close(fd);
                return colo_error_set(err, e, "open '%s/%s'", root->h[s].path, path);
        }
        char **l = NULL;
        size_t n = 0, cap = 0;
        int r = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                bool dir = de->d_type == DT_DIR;
                if (de->d_type == DT_UNKNOWN) {
                        struct stat st;
                        dir = fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
                }
                if (!dir)
                        continue;
                if (n + 2 > cap) {
                        cap = cap ? cap * 2 : 8;
                        char **nl = realloc(l, cap * sizeof(*l));
                        if (!nl) {
                                r = -ENOMEM;
                                break;
                        }
                        l = nl;
                }
                l[n] = strdup(de->d_name);
                if (!l[n]) {
                        r = -ENOMEM;
                        break;
                }
                l[++n] = NULL;
        }
        closedir(d);
        if (r == 0 && !l) {
                l = calloc(1, sizeof(*l));
                if (!l)
                        r = -ENOMEM;
        }
        if (r < 0) {
                if (l)
                        l[n] = NULL;
                strv_free(l);
                return colo_error_set(err, -r, "list '%s/%s'", root->h[s].path, path);
        }
        qsort(l, n, sizeof(*l), cmp_str);
        *ret = l;
        if (ret_n)
                *ret_n = n;
        return 0;
}

/* --- tasks --- */

int cg_parse_pids(const char *text, pid_t **pids, size_t *n, size_t *cap) {
        const char *p = text;
        while (*p) {
                if (*p == '\n') {
                        p++;
                        continue;
                }
                char *end;
                errno = 0;
                long v = strtol(p, &end, 10);
                if (errno || end == p || v <= 0 || v > INT32_MAX || (*end != '\n' && *end != '\0'))
                        return -EINVAL;
                if (*n == *cap) {
                        size_t nc = *cap ? *cap * 2 : 16;
                        pid_t *np = realloc(*pids, nc * sizeof(*np));
                        if (!np)
                                return -ENOMEM;
                        *pids = np;
                        *cap = nc;
                }
                (*pids)[(*n)++] = (pid_t) v;
                p = end;
        }
        return 0;
}

/* Reads all of fd from offset 0 into a malloc'd NUL-terminated buffer. */
static int pread_all(int fd, char **ret) {
        size_t cap = 4096, len = 0;
        char *buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (len + 1 >= cap) {
                        char *nb = realloc(buf, cap * 2);
                        if (!nb) {
                                free(buf);
                                return -ENOMEM;
                        }
                        buf = nb;
                        cap *= 2;
                }
                ssize_t k = pread(fd, buf + len, cap - 1 - len, (off_t) len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        int e = errno;
                        free(buf);
                        return -e;
                }
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        buf[len] = '\0';
        *ret = buf;
        return 0;
}

static int dir_has_subdirs(int dirfd) {
        struct stat st;
        if (fstat(dirfd, &st) < 0)
                return -errno;
        /* Directories on cgroupfs (kernfs) and tmpfs count each subdirectory's ".." link. */
        return st.st_nlink != 2;
}

static int for_each_subdir(int dir_fd, int (*fn)(int subfd, void *userdata), void *userdata) {
        int r = dir_has_subdirs(dir_fd);
        if (r <= 0)
                return r;
        int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        DIR *d = fdopendir(fd);
        if (!d) {
                (void) close(fd);
                return -ENOMEM;
        }
        struct dirent *de;
        r = 0;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' || (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
                        continue;
                int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
                if (sub < 0)
                        continue;       /* a plain file (DT_UNKNOWN) or a group removed meanwhile */
                r = fn(sub, userdata);
                (void) close(sub);
                if (r < 0)
                        break;
        }
        closedir(d);
        return r;
}

typedef struct PidCollector {
        pid_t **pids;
        size_t *n, *cap;
} PidCollector;

static int collect_pids_cb(int subfd, void *userdata) {
        PidCollector *pc = userdata;
        return cg_collect_pids(subfd, true, pc->pids, pc->n, pc->cap);
}

int cg_collect_pids(int dirfd, bool recursive, pid_t **pids, size_t *n, size_t *cap) {
        int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        _cleanup_free_ char *text = NULL;
        int r = pread_all(fd, &text);
        (void) close(fd);
        if (r < 0)
                return r;
        r = cg_parse_pids(text, pids, n, cap);
        if (r < 0 || !recursive)
                return r;
        PidCollector pc = { pids, n, cap };
        return for_each_subdir(dirfd, collect_pids_cb, &pc);
}

int cg_group_get_pids(CgGroup *g, pid_t **ret, size_t *ret_n, ColoError *err) {
        CgSlot s = listing_slot(g->root);
        pid_t *pids = NULL;
        size_t n = 0, cap = 0;
        int r = cg_collect_pids(g->dfd[s], false, &pids, &n, &cap);
        if (r < 0) {
                free(pids);
                char p[PATH_MAX];
                cg_group_file_path(g, s, "cgroup.procs", p, sizeof(p));
                return colo_error_set(err, r, "read '%s'", p);
        }
        *ret = pids;
        *ret_n = n;
        return 0;
}

static int count_lines(const char *text, size_t *n) {
        for (const char *p = text; *p; p++)
                if (*p == '\n')
                        (*n)++;
        return 0;
}

static int count_tasks_cb(int subfd, void *userdata) {
        size_t *n = userdata;
        int fd = openat(subfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        _cleanup_free_ char *text = NULL;
        int r = pread_all(fd, &text);
        (void) close(fd);
        if (r < 0)
                return r;
        count_lines(text, n);
        return for_each_subdir(subfd, count_tasks_cb, n);
}

int cg_count_tasks(CgGroup *g, size_t *ret, ColoError *err) {
        CgSlot s = listing_slot(g->root);
        size_t n = 0;
        char p[PATH_MAX];
        int r;
        if (g->root->mode == CG_MODE_V1) {
                /* v1 keeps a pid list per open file and rebuilds it only once it has been idle for a
                 * second, so a kept-open cgroup.procs re-read every period would never change:
                 * open it afresh each time. */
                r = count_tasks_cb(g->dfd[s], &n);
                if (r < 0) {
                        cg_group_file_path(g, s, "cgroup.procs", p, sizeof(p));
                        return colo_error_set(err, r, "count tasks from '%s'", p);
                }
                *ret = n;
                return 0;
        }
        if (g->file_fd[CG_FILE_PROCS] == -1) {
                g->file_fd[CG_FILE_PROCS] = openat(g->dfd[s], "cgroup.procs", O_RDONLY | O_CLOEXEC);
                if (g->file_fd[CG_FILE_PROCS] < 0) {
                        int e = errno;
                        g->file_fd[CG_FILE_PROCS] = e == ENOENT ? -2 : -1;
                        if (e != ENOENT) {
                                cg_group_file_path(g, s, "cgroup.procs", p, sizeof(p));
                                return colo_error_set(err, e, "open '%s'", p);
                        }
                }
        }
        if (g->file_fd[CG_FILE_PROCS] >= 0) {
                _cleanup_free_ char *text = NULL;
                r = pread_all(g->file_fd[CG_FILE_PROCS], &text);
                if (r < 0) {
                        cg_group_file_path(g, s, "cgroup.procs", p, sizeof(p));
                        return colo_error_set(err, r, "read '%s'", p);
                }
                count_lines(text, &n);
        }
        r = for_each_subdir(g->dfd[s], count_tasks_cb, &n);
        if (r < 0) {
                cg_group_file_path(g, s, "", p, sizeof(p));
                return colo_error_set(err, r, "count tasks below '%s'", p);
        }
        *ret = n;
        return 0;
}

static int cmp_pid(const void *a, const void *b) {
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;
        return (x > y) - (x < y);
}

static bool pid_in_sorted(const pid_t *pids, size_t n, pid_t pid) {
        return n > 0 && bsearch(&pid, pids, n, sizeof(pid), cmp_pid);
}

/* Writes oom_score_adj of one task through the seam. 0, -ESRCH when the task is gone, or -errno. */
static int write_oom_score_adj(CgRoot *root, pid_t pid, int32_t value, char *path, size_t path_size,
                               char *val, size_t val_size) {
        char name[64];
        snprintf(name, sizeof(name), "%d/oom_score_adj", (int) pid);
        snprintf(path, path_size, "%s/%s", root->proc_root, name);
        snprintf(val, val_size, "%d", (int) value);
        if (root->write_hook) {
                int r = root->write_hook(root->write_hook_userdata, path, val);
                if (r < 0)
                        return r;
        }
        _cleanup_close_ int fd = openat(root->proc_fd, name, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        if (write(fd, val, strlen(val)) < 0)
                return -errno;
        return 0;
}

int cg_group_attach(CgGroup *g, pid_t pid, ColoError *err) {
        if (pid <= 0)
                return colo_error_setf_plain(err, EINVAL, "invalid pid %d to attach to '%s'", (int) pid, g->path);
        char val[32];
        snprintf(val, sizeof(val), "%d", (int) pid);
        /* cpuset first: on v1 a task cannot enter a group whose cpuset is empty, so fail early. */
        static const CgSlot order[] = { CG_SLOT_CPUSET, CG_SLOT_CPU, CG_SLOT_CPUACCT, CG_SLOT_MEMORY, CG_SLOT_BLKIO };
        for (size_t i = 0; i < ELEMENTSOF(order); i++) {
                CgSlot s = order[i];
                if (!g->root->h[s].present || g->root->h[s].primary != s)
                        continue;
                int r = cg_write_raw(g, s, "cgroup.procs", val);
                if (r < 0) {
                        char p[PATH_MAX];
                        cg_group_file_path(g, s, "cgroup.procs", p, sizeof(p));
                        return colo_error_set(err, r, "attach pid %d: write '%s'", (int) pid, p);
                }
        }
        /* A task colo moves in gets the group's oom_score_adj at once, not at the next apply. */
        if (g->oom_value != CG_UNSET_INT) {
                char p[PATH_MAX], v[16];
                int r = write_oom_score_adj(g->root, pid, g->oom_value, p, sizeof(p), v, sizeof(v));
                if (r < 0 && r != -ESRCH)
                        return colo_error_set(err, r, "attach pid %d: write '%s' to '%s'", (int) pid, v, p);
        }
        return 0;
}

int cg_group_kill(CgGroup *g, int sig, ColoError *err) {
        CgSlot s = listing_slot(g->root);
        pid_t *pids = NULL;
        size_t n = 0, cap = 0;
        int r = cg_collect_pids(g->dfd[s], true, &pids, &n, &cap);
        if (r < 0) {
                free(pids);
                char p[PATH_MAX];
                cg_group_file_path(g, s, "cgroup.procs", p, sizeof(p));
                return colo_error_set(err, r, "kill: read '%s'", p);
        }
        /* v2's cgroup.kill also catches tasks forked while we iterate. */
        if (sig == SIGKILL && g->root->mode == CG_MODE_V2 && faccessat(g->dfd[s], "cgroup.kill", F_OK, 0) == 0) {
                r = cg_write_raw(g, s, "cgroup.kill", "1");
                if (r == 0) {
                        free(pids);
                        return (int) n;
                }
        }
        int signalled = 0;
        for (size_t i = 0; i < n; i++)
                if (kill(pids[i], sig) == 0)
                        signalled++;
                else if (errno != ESRCH) {
                        int e = errno;
                        free(pids);
                        return colo_error_set(err, e, "kill pid %d of '%s' with signal %d", (int) pids[i], g->path, sig);
                }
        free(pids);
        return signalled;
}

bool cg_group_has_file(CgGroup *g, CgController c, const char *name) {
        static const CgSlot slots[_CG_CTRL_MAX][2] = {
                [CG_CTRL_CPU] = { CG_SLOT_CPU, CG_SLOT_CPUACCT },
                [CG_CTRL_CPUSET] = { CG_SLOT_CPUSET, CG_SLOT_CPUSET },
                [CG_CTRL_MEMORY] = { CG_SLOT_MEMORY, CG_SLOT_MEMORY },
                [CG_CTRL_IO] = { CG_SLOT_BLKIO, CG_SLOT_BLKIO },
        };
        if (c < 0 || c >= _CG_CTRL_MAX || !name)
                return false;
        for (size_t i = 0; i < 2; i++) {
                int fd = cg_slot_fd(g, slots[c][i]);
                if (fd >= 0 && faccessat(fd, name, F_OK, 0) == 0)
                        return true;
        }
        return false;
}

/* --- write path --- */

int cg_write_raw(CgGroup *g, CgSlot slot, const char *name, const char *value) {
        int dfd = cg_slot_fd(g, slot);
        if (dfd < 0)
                return -ENOENT;
        CgRoot *root = g->root;
        if (root->write_hook) {
                char p[PATH_MAX];
                cg_group_file_path(g, slot, name, p, sizeof(p));
                int r = root->write_hook(root->write_hook_userdata, p, value);
                if (r < 0)
                        return r;
        }
        /* O_TRUNC: harmless on cgroupfs, and keeps a fake tree of plain files exact. */
        _cleanup_close_ int fd = openat(dfd, name, O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t len = strlen(value);
        ssize_t k = write(fd, value, len);
        if (k < 0)
                return -errno;
        if ((size_t) k != len)
                return -EIO;
        return 0;
}

static void report(CgApplyCtx *c, const char *path, const char *value, int r) {
        if (r < 0) {
                c->failures++;
                if (c->err && c->failures == 1)
                        (void) colo_error_set(c->err, r, "write '%s' to '%s'", value, path);
        }
        if (c->cb)
                c->cb(c->userdata, path, value, r);
}

int cg_apply_write(CgGroup *g, CgApplyCtx *c, CgSlot slot, const char *name, int opt, const char *value) {
        if (opt >= 0 && (g->absent & (1u << opt)))
                return 1;
        int r = cg_write_raw(g, slot, name, value);
        if (r == -ENOENT && opt >= 0) {
                g->absent |= 1u << opt;
                return 1;
        }
        if (r < 0 || g->root->report_successes) {
                char p[PATH_MAX];
                cg_group_file_path(g, slot, name, p, sizeof(p));
                report(c, p, value, r);
        }
        return r;
}

void cg_apply_oom_score_adj(CgGroup *g, CgApplyCtx *c, const CgKnobs *want, CgKnobs *last) {
        if (want->oom_score_adj == CG_UNSET_INT)
                return;
        CgSlot s = listing_slot(g->root);
        pid_t *pids = NULL;
        size_t n = 0, cap = 0;
        int r = cg_collect_pids(g->dfd[s], true, &pids, &n, &cap);
        if (r < 0) {
                free(pids);
                char p[PATH_MAX];
                cg_group_file_path(g, s, "cgroup.procs", p, sizeof(p));
                report(c, p, "(read for oom_score_adj)", r);
                last->oom_score_adj = CG_UNSET_INT;
                return;
        }
        if (n > 0)
                qsort(pids, n, sizeof(*pids), cmp_pid);
        bool same_value = g->oom_value == want->oom_score_adj;
        size_t kept = 0;
        int failed = 0;
        for (size_t i = 0; i < n; i++) {
                if (i > 0 && pids[i] == pids[i - 1])
                        continue;
                if (same_value && pid_in_sorted(g->oom_pids, g->n_oom_pids, pids[i])) {
                        pids[kept++] = pids[i];
                        continue;
                }
                char p[PATH_MAX], v[16];
                r = write_oom_score_adj(g->root, pids[i], want->oom_score_adj, p, sizeof(p), v, sizeof(v));
                if (r == -ESRCH) {
                        pids[kept++] = pids[i];         /* exited meanwhile: nothing to retry */
                        continue;
                }
                if (r < 0 || g->root->report_successes)
                        report(c, p, v, r);
                if (r < 0) {
                        failed++;
                        continue;       /* not remembered: retried next apply */
                }
                pids[kept++] = pids[i];
        }
        free(g->oom_pids);
        g->oom_pids = pids;
        g->n_oom_pids = kept;
        g->oom_value = want->oom_score_adj;
        last->oom_score_adj = failed ? CG_UNSET_INT : want->oom_score_adj;
}

/* --- validation and dispatch --- */

static bool cpuset_list_is_valid(const char *s, size_t size) {
        if (!memchr(s, '\0', size))
                return false;
        return strspn(s, "0123456789,-") == strlen(s);
}

static bool device_is_valid(const char *d, size_t size) {
        if (!memchr(d, '\0', size))
                return false;
        unsigned maj, min;
        int end = 0;
        return sscanf(d, "%u:%u%n", &maj, &min, &end) == 2 && d[end] == '\0' && d[0] >= '0' && d[0] <= '9';
}

static int validate_knobs(const CgGroup *g, const CgKnobs *k, ColoError *err) {
#define BAD(...) colo_error_setf_plain(err, EINVAL, "cgroup '%s': " __VA_ARGS__)
        if (k->cpu_weight != CG_UNSET && (k->cpu_weight < 1 || k->cpu_weight > 10000))
                return BAD("cpu weight %" PRIu64 " out of range 1..10000", g->path, k->cpu_weight);
        if (k->cpu_idle != CG_UNSET_INT && k->cpu_idle != 0 && k->cpu_idle != 1)
                return BAD("cpu.idle %d is not 0 or 1", g->path, (int) k->cpu_idle);
        if (k->cpu_quota_usec != CG_UNSET && k->cpu_quota_usec != CG_UNLIMITED &&
            (k->cpu_quota_usec < 1000 || k->cpu_quota_usec > UINT64_C(1) << 44))
                return BAD("cpu quota %" PRIu64 " us out of range (>= 1000)", g->path, k->cpu_quota_usec);
        if (k->cpu_period_usec != CG_UNSET && (k->cpu_period_usec < 1000 || k->cpu_period_usec > 1000000))
                return BAD("cpu period %" PRIu64 " us out of range 1000..1000000", g->path, k->cpu_period_usec);
        if (k->cpu_burst_usec != CG_UNSET && k->cpu_burst_usec > UINT64_C(1) << 44)
                return BAD("cpu burst %" PRIu64 " us out of range", g->path, k->cpu_burst_usec);
        if (!cpuset_list_is_valid(k->cpuset_cpus, sizeof(k->cpuset_cpus)))
                return BAD("invalid cpuset cpus '%.*s'", g->path, (int) sizeof(k->cpuset_cpus), k->cpuset_cpus);
        if (!cpuset_list_is_valid(k->cpuset_mems, sizeof(k->cpuset_mems)))
                return BAD("invalid cpuset mems '%.*s'", g->path, (int) sizeof(k->cpuset_mems), k->cpuset_mems);
        if (k->io_weight != CG_UNSET && (k->io_weight < 1 || k->io_weight > 10000))
                return BAD("io weight %" PRIu64 " out of range 1..10000", g->path, k->io_weight);
        if (k->n_io_limits > CG_IO_LIMITS_MAX)
                return BAD("%zu io limits, at most %d", g->path, k->n_io_limits, CG_IO_LIMITS_MAX);
        for (size_t i = 0; i < k->n_io_limits; i++)
                if (!device_is_valid(k->io_limits[i].device, sizeof(k->io_limits[i].device)))
                        return BAD("invalid io device '%.*s' (want MAJ:MIN)", g->path,
                                   (int) sizeof(k->io_limits[i].device), k->io_limits[i].device);
        if (k->oom_score_adj != CG_UNSET_INT && (k->oom_score_adj < -1000 || k->oom_score_adj > 1000))
                return BAD("oom_score_adj %d out of range -1000..1000", g->path, (int) k->oom_score_adj);
        if (k->cpu_qos_level != CG_UNSET_INT && (k->cpu_qos_level < -2 || k->cpu_qos_level > 2))
                return BAD("cpu.qos_level %d out of range -2..2", g->path, (int) k->cpu_qos_level);
        if (k->mem_qos_level != CG_UNSET_INT && (k->mem_qos_level < -2 || k->mem_qos_level > 2))
                return BAD("memory.qos_level %d out of range -2..2", g->path, (int) k->mem_qos_level);
#undef BAD
        return 0;
}

int cg_group_apply(CgGroup *g, const CgKnobs *want, CgKnobs *last, CgWriteCallback cb, void *userdata,
                   ColoError *err) {
        int r = validate_knobs(g, want, err);
        if (r < 0)
                return r;
        CgApplyCtx c = { .cb = cb, .userdata = userdata, .err = err };
        g->root->backend->apply(g, want, last, &c);
        cg_apply_oom_score_adj(g, &c, want, last);
        return c.failures;
}

/* --- read path --- */

ssize_t cg_read_cached(CgGroup *g, CgFile f, char *buf, size_t size, ColoError *err) {
        const CgBackend *b = g->root->backend;
        CgSlot s = b->file_slot(f);
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
        size_t len = 0;
        for (;;) {
                ssize_t k = pread(g->file_fd[f], buf + len, size - 1 - len, (off_t) len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        cg_group_file_path(g, s, name, p, sizeof(p));
                        return colo_error_set(err, errno, "read '%s'", p);
                }
                if (k == 0)
                        break;
                len += (size_t) k;
                if (len == size - 1) {
                        cg_group_file_path(g, s, name, p, sizeof(p));
                        return colo_error_setf_plain(err, EFBIG, "'%s' is larger than %zu bytes", p, size - 1);
                }
        }
        buf[len] = '\0';
        return (ssize_t) len;
}

int cg_group_read_usage(CgGroup *g, CgUsage *ret, ColoError *err) {
        CgUsage u = { .mem_limit = CG_UNLIMITED };
        int r = g->root->backend->read_usage(g, &u, err);
        if (r < 0)
                return r;
        r = cg_count_tasks(g, &u.nr_tasks, err);
        if (r < 0)
                return r;
        *ret = u;
        return 0;
}

/* --- knob helpers shared by the backends --- */

void cg_knob_u64(CgGroup *g, CgApplyCtx *c, CgSlot slot, const char *name, int opt, uint64_t want, uint64_t *last,
                 const char *value) {
        int r = cg_apply_write(g, c, slot, name, opt, value);
        if (r == 0)
                *last = want;
        else if (r < 0)
                *last = CG_UNSET;       /* differs from any wanted value: retried next apply */
}

void cg_knob_i32(CgGroup *g, CgApplyCtx *c, CgSlot slot, const char *name, int opt, int32_t want, int32_t *last) {
        char v[16];
        snprintf(v, sizeof(v), "%d", (int) want);
        int r = cg_apply_write(g, c, slot, name, opt, v);
        if (r == 0)
                *last = want;
        else if (r < 0)
                *last = CG_UNSET_INT;
}

void cg_knob_cpuset(CgGroup *g, CgApplyCtx *c, const CgKnobs *want, CgKnobs *last) {
        if (!cg_slot_present(g->root, CG_SLOT_CPUSET))
                return;
        if (want->cpuset_cpus[0] && strcmp(want->cpuset_cpus, last->cpuset_cpus) != 0) {
                if (cg_apply_write(g, c, CG_SLOT_CPUSET, "cpuset.cpus", -1, want->cpuset_cpus) == 0)
                        memcpy(last->cpuset_cpus, want->cpuset_cpus, sizeof(last->cpuset_cpus));
                else
                        last->cpuset_cpus[0] = '\0';
        }
        if (want->cpuset_mems[0] && strcmp(want->cpuset_mems, last->cpuset_mems) != 0) {
                if (cg_apply_write(g, c, CG_SLOT_CPUSET, "cpuset.mems", -1, want->cpuset_mems) == 0)
                        memcpy(last->cpuset_mems, want->cpuset_mems, sizeof(last->cpuset_mems));
                else
                        last->cpuset_mems[0] = '\0';
        }
}

/* cpu.idle and the weight: the kernel refuses a weight (EINVAL) while the group is idle, so
 * leaving idle comes first, and while the group is (or becomes) idle no weight is written; the
 * kernel keeps the old weight and restores it when idle is cleared, so *last stays accurate. */
void cg_knob_cpu_weight_idle(CgGroup *g, CgApplyCtx *c, const CgKnobs *want, CgKnobs *last, const char *weight_file,
                             uint64_t weight_value) {
        bool idle_differs = want->cpu_idle != CG_UNSET_INT && want->cpu_idle != last->cpu_idle;
        if (idle_differs)
                cg_knob_i32(g, c, CG_SLOT_CPU, "cpu.idle", CG_OPT_CPU_IDLE, want->cpu_idle, &last->cpu_idle);
        bool idle = want->cpu_idle == 1 && !(g->absent & (1u << CG_OPT_CPU_IDLE));
        if (want->cpu_weight != CG_UNSET && want->cpu_weight != last->cpu_weight && !idle) {
                char v[32];
                snprintf(v, sizeof(v), "%" PRIu64, weight_value);
                cg_knob_u64(g, c, CG_SLOT_CPU, weight_file, -1, want->cpu_weight, &last->cpu_weight, v);
        }
}

void cg_knob_qos(CgGroup *g, CgApplyCtx *c, const CgKnobs *want, CgKnobs *last) {
        if (want->cpu_qos_level != CG_UNSET_INT && want->cpu_qos_level != last->cpu_qos_level &&
            cg_slot_present(g->root, CG_SLOT_CPU))
                cg_knob_i32(g, c, CG_SLOT_CPU, "cpu.qos_level", CG_OPT_CPU_QOS, want->cpu_qos_level, &last->cpu_qos_level);
        if (want->mem_qos_level != CG_UNSET_INT && want->mem_qos_level != last->mem_qos_level &&
            cg_slot_present(g->root, CG_SLOT_MEMORY))
                cg_knob_i32(g, c, CG_SLOT_MEMORY, "memory.qos_level", CG_OPT_MEM_QOS, want->mem_qos_level,
                            &last->mem_qos_level);
}

/* Index of want->io_limits[i]'s device in last, made to match position i (devices rarely move,
 * so a moved or new device simply starts from "unknown"). */
CgIoLimit *cg_last_io_limit(CgKnobs *last, const CgIoLimit *want, size_t i) {
        CgIoLimit *l = &last->io_limits[i];
        if (i >= last->n_io_limits || strcmp(l->device, want->device) != 0) {
                *l = (CgIoLimit) { .rbps = CG_UNSET, .wbps = CG_UNSET, .riops = CG_UNSET, .wiops = CG_UNSET };
                memcpy(l->device, want->device, sizeof(l->device));
                if (last->n_io_limits <= i)
                        last->n_io_limits = i + 1;
        }
        return l;
}

bool cg_u64_differs(uint64_t want, uint64_t last) {
        return want != CG_UNSET && want != last;
}

static int malformed(CgGroup *g, CgFile f, const char *what, ColoError *err) {
        char p[PATH_MAX];
        const CgBackend *b = g->root->backend;
        cg_group_file_path(g, b->file_slot(f), b->file_name(f), p, sizeof(p));
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
