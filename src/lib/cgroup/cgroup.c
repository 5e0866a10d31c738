/* The cgroup layer's common part: opening the managed root and groups (creating them with v1
 * cpuset initialisation and v2 controller delegation), listing and removing groups, and the pure
 * unit conversions. Everything reaches files by directory fd and openat(). Tasks live in
 * cgroup-tasks.c, writes in cgroup-apply.c, reads in cgroup-read.c, and the hierarchy-specific
 * knob mapping in cgroup-v1.c and cgroup-v2.c. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
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
        [CG_CTRL_PIDS] = "pids",
};

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
                if (root->h[s].parent_fd >= 0)
                        (void) close(root->h[s].parent_fd);
                free(root->h[s].parent_path);
                free(root->h[s].path);
        }
        if (root->proc_fd >= 0)
                (void) close(root->proc_fd);
        free(root->proc_root);
        free(root->description);
        free(root->top_prefix);
        free(root);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(CgRoot *, cg_root_free);

/* v1 cpuset children start with empty cpus and mems, and a task cannot join such a group:
 * copy the parent's values into a directory we just created (or found empty). */
static int cpuset_init_from_parent(CgRoot *root, int parent_fd, int child_fd, const char *child_path,
                                   ColoError *err) {
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
                char p[PATH_MAX];
                snprintf(p, sizeof(p), "%s/%s", child_path, files[i]);
                r = cg_seam_write(root, child_fd, p, files[i], buf, O_CREAT);
                if (r < 0)
                        return colo_error_set(err, r, "write '%s'", p);
        }
        return 0;
}

/* A v1 cpuset group made by someone else (or by a crashed colo before initialising it). */
static bool cpuset_is_empty(int dirfd) {
        char buf[16];
        int r = read_small_file_at(dirfd, "cpuset.cpus", buf, sizeof(buf), NULL);
        return r >= 0 && (buf[0] == '\0' || buf[0] == '\n');
}

/* v2: makes the controllers colo needs (those the directory offers) available to its children.
 * Reads cgroup.controllers and cgroup.subtree_control; writes only the missing ones. */
static int v2_enable_controllers(CgRoot *root, int dirfd, const char *dir_path, ColoError *err) {
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
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/cgroup.subtree_control", dir_path);
        r = cg_seam_write(root, dirfd, p, "cgroup.subtree_control", value, 0);
        if (r < 0)
                return colo_error_set(err, r, "write '%s' to '%s'", value, p);
        return 0;
}

/* Opens rel (relative to startfd, whose path is start_path) component by component, creating
 * missing directories when create. enable_from: on v2, enable controllers in every directory
 * from this depth on before descending (-1: only, best effort, in parents of created dirs). */
int cg_open_walk(CgRoot *root, CgSlot slot, int startfd, const char *start_path, const char *rel, bool create,
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
                if (create && root->dry_record && faccessat(cur, name, F_OK, 0) < 0 && errno == ENOENT) {
                        /* Dry run: the mkdir is recorded, and the group opens without directories. */
                        root->dry_record(root->dry_record_userdata, path, "(no directory)", "(mkdir)");
                        *ret_fd = -1;
                        return 1;
                }
                if (create) {
                        if (v2 && enable_from >= 0 && depth >= enable_from) {
                                path[pl] = '\0';
                                int r = v2_enable_controllers(root, cur, path, err);
                                if (r < 0)
                                        return r;
                                snprintf(path + pl, sizeof(path) - pl, "/%s", name);
                        }
                        if (root->dry_record)
                                ;       /* it exists (checked above) */
                        else if (mkdirat(cur, name, 0755) == 0)
                                created = true;
                        else if (errno != EEXIST)
                                return colo_error_set(err, errno, "mkdir '%s'", path);
                        if (created && v2 && enable_from < 0) {
                                path[pl] = '\0';
                                (void) v2_enable_controllers(root, cur, path, NULL);
                                snprintf(path + pl, sizeof(path) - pl, "/%s", name);
                        }
                }
                int next = openat(cur, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (next < 0)
                        return colo_error_set(err, errno, "open '%s'", path);
                if (create && cpuset && (created || cpuset_is_empty(next))) {
                        int r = cpuset_init_from_parent(root, cur, next, path, err);
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
        static const char *const names[_CG_SLOT_MAX] = { "cpu", "cpuacct", "cpuset", "memory", "blkio", "pids", "unified" };
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
                root->h[s].fd = root->h[s].parent_fd = -1;
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
                r = cg_open_walk(root, s, mfd, mount, rel, opts->create, -1, &h->fd,
                              s == CG_SLOT_UNIFIED ? NULL : err);
                if (r < 0 && s == CG_SLOT_UNIFIED) {
                        h->present = false;     /* no PSI mirror: per-group pressure stays unknown */
                        continue;
                }
                if (r < 0)
                        return colo_error_wrap(err, "open cgroup root '%s'", h->path);
        }

        if (root->mode == CG_MODE_V2) {
                char buf[512];
                r = read_small_file_at(root->h[CG_SLOT_CPU].fd, "cgroup.controllers", buf, sizeof(buf), NULL);
                /* A fake tree without cgroup.controllers offers everything. */
                root->v2_controllers = r >= 0 ? cg_parse_controllers(buf) : (1u << _CG_CTRL_MAX) - 1;
        }
        r = cg_top_open(root, opts, err);
        if (r < 0)
                return r;
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

/* The hierarchy holding controller c (on v2 the one unified directory). */
static CgSlot controller_slot(const CgRoot *root, CgController c) {
        static const CgSlot slot_of[_CG_CTRL_MAX] = {
                [CG_CTRL_CPU] = CG_SLOT_CPU,
                [CG_CTRL_CPUSET] = CG_SLOT_CPUSET,
                [CG_CTRL_MEMORY] = CG_SLOT_MEMORY,
                [CG_CTRL_IO] = CG_SLOT_BLKIO,
                [CG_CTRL_PIDS] = CG_SLOT_PIDS,
        };
        return root->mode == CG_MODE_V2 ? CG_SLOT_CPU : slot_of[c];
}

bool cg_root_has_controller(const CgRoot *root, CgController c) {
        if (c < 0 || c >= _CG_CTRL_MAX)
                return false;
        if (root->mode == CG_MODE_V2)
                return root->v2_controllers & (1u << c);
        return root->h[controller_slot(root, c)].present;
}

const char *cg_root_path(const CgRoot *root, CgController c) {
        if (c < 0 || c >= _CG_CTRL_MAX)
                return NULL;
        return root->h[controller_slot(root, c)].path;
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
        free(g->fs_path);
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
                bool mirror = root->mode == CG_MODE_V1 && s == CG_SLOT_UNIFIED;
                CgWhere w;
                if (cg_locate(root, s, g->path, &w) < 0)
                        return colo_error_setf_plain(err, ENAMETOOLONG, "cgroup path '%s' too long", path);
                if (!g->fs_path && !(g->fs_path = strdup(w.rel)))
                        return colo_error_set(err, ENOMEM, "allocate cgroup '%s'", path);
                g->at_top = w.at_top;
                int r = cg_open_walk(root, s, w.fd, w.base, w.rel, create, 0, &g->dfd[s], mirror ? NULL : err);
                if (r < 0 && !mirror)
                        return r;
                if (r > 0 && !mirror)
                        g->dry_created = true;
        }
        *ret = TAKE_PTR(g);
        return 0;
}

/* Removes the directories of path that cg_group_create() made (created[s]), newest first. */
static void create_rollback(CgRoot *root, const char *path, const bool created[_CG_SLOT_MAX]) {
        CgWhere w;
        for (int s = _CG_SLOT_MAX - 1; s >= 0; s--)
                if (created[s] && cg_locate(root, (CgSlot) s, path, &w) == 0)
                        (void) unlinkat(w.fd, w.rel, AT_REMOVEDIR);
}

int cg_group_create(CgRoot *root, const char *path, CgGroup **ret, ColoError *err) {
        if (!cg_path_is_valid(path) || path[0] == '\0')
                return colo_error_setf_plain(err, EINVAL, "invalid cgroup path '%s' to create", path ? path : "(null)");
        if (root->dry_record)
                return cg_group_open(root, path, true, ret, err);       /* the mkdirs are recorded */
        bool created[_CG_SLOT_MAX] = {};
        for (CgSlot s = 0; s < _CG_SLOT_MAX; s++) {
                CgHierarchy *h = &root->h[s];
                if (!h->present || h->primary != s)
                        continue;
                bool mirror = root->mode == CG_MODE_V1 && s == CG_SLOT_UNIFIED;
                CgWhere w;
                if (cg_locate(root, s, path, &w) < 0)
                        errno = ENAMETOOLONG;
                else if (mkdirat(w.fd, w.rel, 0755) == 0) {
                        created[s] = true;
                        continue;
                }
                if (mirror)
                        continue;       /* the PSI mirror is best effort, as in cg_group_open() */
                int e = errno;
                create_rollback(root, path, created);
                return colo_error_set(err, e, "mkdir '%s/%s'", w.base, w.rel);
        }
        /* Now every directory is ours: open them (v2 controllers, v1 cpuset values) as usual. */
        int r = cg_group_open(root, path, true, ret, err);
        if (r < 0)
                create_rollback(root, path, created);
        return r;
}

int cg_root_lock_below(CgRoot *root, const char *name, bool wait, ColoError *err) {
        CgSlot s = cg_listing_slot(root);
        const char *base = root->h[s].path;
        if (strchr(name, '/') || !cg_path_is_valid(name))
                return colo_error_setf_plain(err, EINVAL, "invalid lock name '%s'", name);
        /* 0700: flock() needs only an open fd, so a lock others can open is a lock others can hold. */
        if (mkdirat(root->h[s].fd, name, 0700) < 0 && errno != EEXIST)
                return colo_error_set(err, errno, "mkdir '%s/%s'", base, name);
        _cleanup_close_ int fd = openat(root->h[s].fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return colo_error_set(err, errno, "open '%s/%s'", base, name);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return colo_error_set(err, errno, "stat '%s/%s'", base, name);
        if (st.st_uid != geteuid())
                return colo_error_setf_plain(err, EPERM, "'%s/%s' is owned by uid %u, not by us", base, name,
                                             (unsigned) st.st_uid);
        if ((st.st_mode & 077) && fchmod(fd, 0700) < 0)
                return colo_error_set(err, errno, "chmod '%s/%s'", base, name);
        while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0)
                if (errno != EINTR)
                        return errno == EWOULDBLOCK && !wait
                                       ? colo_error_setf_plain(err, EWOULDBLOCK, "'%s/%s' is held by another process",
                                                               base, name)
                                       : colo_error_set(err, errno, "lock '%s/%s'", base, name);
        return TAKE_FD(fd);
}

const char *cg_group_path(const CgGroup *g) {
        return g->path;
}

void cg_group_file_path(const CgGroup *g, CgSlot slot, const char *name, char *buf, size_t size) {
        const CgHierarchy *h = &g->root->h[slot];
        if (h->present && h->primary != slot)
                h = &g->root->h[h->primary];    /* v2: one directory for every slot */
        const char *base = g->at_top && h->parent_path ? h->parent_path : h->path ? h->path : "?";
        const char *rel = g->fs_path ? g->fs_path : g->path;
        snprintf(buf, size, "%s%s%s/%s", base, rel[0] ? "/" : "", rel, name);
}

int cg_group_remove(CgRoot *root, const char *path, ColoError *err) {
        if (!cg_path_is_valid(path) || path[0] == '\0')
                return colo_error_setf_plain(err, EINVAL, "invalid cgroup path '%s' to remove", path ? path : "(null)");
        for (CgSlot s = 0; s < _CG_SLOT_MAX; s++) {
                CgHierarchy *h = &root->h[s];
                if (!h->present || h->primary != s)
                        continue;
                CgWhere w;
                if (cg_locate(root, s, path, &w) < 0)
                        return colo_error_setf_plain(err, ENAMETOOLONG, "cgroup path '%s' too long", path);
                int r = cg_remove_empty_tree_at(w.fd, w.rel, 0);        /* the group only: a child is in use */
                if (r < 0)
                        return colo_error_set(err, r == -ENOTEMPTY ? EBUSY : -r, "rmdir '%s/%s'", w.base, w.rel);
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
CgSlot cg_listing_slot(const CgRoot *root) {
        static const CgSlot order[] = { CG_SLOT_CPU, CG_SLOT_MEMORY, CG_SLOT_CPUACCT, CG_SLOT_CPUSET, CG_SLOT_BLKIO };
        for (size_t i = 0; i < ELEMENTSOF(order); i++)
                if (root->h[order[i]].present)
                        return root->h[order[i]].primary;
        return CG_SLOT_CPU;
}

int cg_group_list_children(CgRoot *root, const char *path, char ***ret, size_t *ret_n, ColoError *err) {
        if (!cg_path_is_valid(path))
                return colo_error_setf_plain(err, EINVAL, "invalid cgroup path '%s'", path ? path : "(null)");
        CgSlot s = cg_listing_slot(root);
        CgWhere w;
        if (cg_locate(root, s, path, &w) < 0)
                return colo_error_setf_plain(err, ENAMETOOLONG, "cgroup path '%s' too long", path);
        int fd = openat(w.fd, w.rel[0] ? w.rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return colo_error_set(err, errno, "open '%s/%s'", w.base, w.rel);
        DIR *d = fdopendir(fd);
        if (!d) {
                int e = errno;
                (void) close(fd);
                return colo_error_set(err, e, "open '%s/%s'", w.base, w.rel);
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
                return colo_error_set(err, -r, "list '%s/%s'", w.base, w.rel);
        }
        qsort(l, n, sizeof(*l), cmp_str);
        *ret = l;
        if (ret_n)
                *ret_n = n;
        return 0;
}
